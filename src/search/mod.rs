//! Search: a [`Dataset`] → [`SearchIndex`]; a [`SearchQuery`] → ranked [`SearchResults`];
//! a typed prefix → [`Suggestion`]s.
//!
//! The index is built with each snapshot and never changes. It holds its own document order
//! (the facilities numbered cell by cell on a ground-metre grid, `grid`), the vocabulary of
//! distinct tokens of names, English names, addresses and subdistricts (`vocab`), each
//! facility's token list, each token's facility list (sorted by document, so restricting it
//! to a radius is two binary searches per grid row the circle spans; both lists flat, `compact`),
//! each facility's category and position in document order, the taxonomy's keywords
//! (`keywords`) and the completion keys (`suggest`).
//!
//! A query is answered in three steps: every term is resolved against the vocabulary and the
//! keywords once; candidates come either from the postings of the most selective term or
//! category, restricted to the grid rows of the search area, or from a scan of those rows,
//! whichever is estimated cheaper; each candidate is checked against every filter and term
//! (table look-ups) and then the place: the box, and the radius (on unit vectors computed from
//! the dataset's lon/lat, exact, settled by `geom::haversine_m` at the boundary), and the hits
//! are ranked (`rank`). Reported distances are haversine. A keyword within a radius therefore
//! touches only the facilities near the point or the ones carrying the keyword, never the whole
//! city.
//!
//! Pure: no IO, no clock in the answers, no globals.

mod compact;
mod grid;
mod keywords;
mod query;
mod rank;
mod suggest;
pub mod tokenize;
mod vocab;

use std::ops::Range;

use crate::attributes::{Status, StatusSet};
use crate::dataset::{Dataset, Facility};
use crate::geom;
use compact::{DocTokens, Postings};
use grid::Grid;
use keywords::Keywords;
use rank::{FIELD_SHIFT, Hit, Ranking, TermMatch};
use vocab::{Field, VocabBuilder, Vocabulary};

pub use query::{
    SearchLimits, SearchQuery, SearchText, SuggestQuery, SuggestText, parse_search, parse_suggest,
};
pub use rank::{NameBonus, NameMatch};
pub use suggest::{Suggestion, SuggestionKind};

/// Why a search request is not valid. Every message names the parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("`{name}` {message}")]
    Invalid { name: &'static str, message: String },
    #[error("`category`: {message}")]
    UnknownCategory { message: String },
}

/// One ranked result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Index of the facility in the dataset.
    pub facility_idx: u32,
    /// Straight-line ground distance from `near` (haversine), metres.
    pub distance_m: Option<f64>,
    /// How well the terms matched, 0 to 1 (1: every term names the facility); `None` for a
    /// query without terms.
    pub relevance: Option<f64>,
    pub name_match: NameMatch,
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    /// The requested page of hits, best first.
    pub hits: Vec<SearchHit>,
    /// Number of facilities matching, over all pages.
    pub total: usize,
    /// The terms searched for, after normalisation and splitting.
    pub terms: Vec<String>,
}

/// Figures about a built index.
#[derive(Debug, Clone, Copy)]
pub struct IndexStats {
    pub n_docs: usize,
    pub n_tokens: usize,
    pub n_postings: usize,
    /// Heap bytes held by the index (vectors by capacity, hash tables estimated).
    pub memory_bytes: usize,
}

/// The search index of one dataset version. Immutable. Every search is given the dataset it was
/// built from, for the facilities it answers with.
pub struct SearchIndex {
    /// Per document (grid order): dataset index, position, category. The positions are a copy
    /// (16 bytes a facility) because candidates are tested in document order: read from the
    /// dataset, which keeps facilities in id order, each would be a cache miss.
    doc_facility: Vec<u32>,
    doc_lonlat: Vec<(f64, f64)>,
    doc_category: Vec<u8>,
    /// Document → its tokens, each tagged with its field above [`FIELD_SHIFT`] when read.
    doc_tokens: DocTokens,
    /// Token → documents holding it, ascending.
    postings: Postings,
    /// Category → its documents, ascending: those of the category and those whose functions
    /// add it.
    category_docs: Postings,
    /// Documents of facilities with attributes, ascending, and theirs (parallel): most
    /// facilities have none (existing, their own category only), so this stays small.
    attr_docs: Vec<u32>,
    attr: Vec<DocAttributes>,
    /// One bit per document: whether it is in `attr_docs`, so the many without attributes skip
    /// the binary search.
    attr_bits: Vec<u64>,
    grid: Grid,
    vocab: Vocabulary,
    keywords: Keywords,
    suggester: suggest::Suggester,
    stats: IndexStats,
}

/// First radius of the nearest-first search without a radius, metres; it doubles until enough
/// facilities are found.
const KNN_START_RADIUS_M: f64 = 400.0;

/// Facilities tokenised per batch while building (bounds the temporary memory); the batch is
/// tokenised on the rayon pool in chunks while the previous one is interned.
const BUILD_BATCH: usize = 65_536;
const TOKENIZE_CHUNK: usize = 2048;

impl SearchIndex {
    /// Indexes every facility of `dataset` (and its taxonomy's keywords). Blocking; uses the
    /// rayon pool for tokenising.
    pub fn build(dataset: &Dataset) -> SearchIndex {
        let facilities = dataset.facilities();
        let points: Vec<(f64, f64)> = facilities.iter().map(|f| (f.lon, f.lat)).collect();
        let (grid, order) = Grid::build(&points);
        let doc_lonlat: Vec<(f64, f64)> = order.iter().map(|&idx| points[idx as usize]).collect();
        drop(points);
        let (vocab, doc_tokens, postings) = index_texts(facilities, &order);
        let taxonomy = &dataset.taxonomy;
        let doc_category: Vec<u8> = order
            .iter()
            .map(|&idx| facilities[idx as usize].category.0)
            .collect();
        let mut category_lists: Vec<Vec<u32>> = vec![Vec::new(); taxonomy.len()];
        for (doc, &category) in doc_category.iter().enumerate() {
            category_lists[category as usize].push(doc as u32);
        }
        let mut attributed: Vec<(u32, DocAttributes)> = order
            .iter()
            .enumerate()
            .filter_map(|(doc, &idx)| {
                let a = dataset.attributes(idx)?;
                Some((
                    doc as u32,
                    DocAttributes {
                        status: a.status,
                        serves: a.serves.iter().map(|c| c.0).collect(),
                    },
                ))
            })
            .collect();
        attributed.sort_by_key(|(doc, _)| *doc);
        for (doc, a) in &attributed {
            for &c in &a.serves {
                category_lists[c as usize].push(*doc);
            }
        }
        let mut category_docs = Postings::with_capacity(category_lists.len());
        for docs in &mut category_lists {
            docs.sort_unstable();
            docs.dedup();
            category_docs.push_list(docs);
            *docs = Vec::new();
        }
        category_docs.finish();
        let (attr_docs, attr): (Vec<u32>, Vec<DocAttributes>) = attributed.into_iter().unzip();
        let mut attr_bits = vec![0u64; order.len().div_ceil(64)];
        for &doc in &attr_docs {
            attr_bits[doc as usize / 64] |= 1 << (doc % 64);
        }
        let keywords = Keywords::new(taxonomy);
        let suggester = suggest::Suggester::build(
            &vocab,
            |tok| postings.len(tok) as u32,
            &keywords,
            |category| category_docs.len(u32::from(category.0)) as u32,
        );
        let mut index = SearchIndex {
            doc_facility: order,
            doc_lonlat,
            doc_category,
            attr_docs,
            attr,
            attr_bits,
            doc_tokens,
            postings,
            category_docs,
            grid,
            vocab,
            keywords,
            suggester,
            stats: IndexStats {
                n_docs: 0,
                n_tokens: 0,
                n_postings: 0,
                memory_bytes: 0,
            },
        };
        index.stats = index.measure();
        index
    }

    /// Size figures, measured when the index was built.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    fn measure(&self) -> IndexStats {
        let memory_bytes = self.doc_facility.capacity() * 4
            + self.doc_lonlat.capacity() * 16
            + self.doc_category.capacity()
            + self.doc_tokens.memory_bytes()
            + self.postings.memory_bytes()
            + self.category_docs.memory_bytes()
            + self.attr_docs.capacity() * 4
            + self.attr_bits.capacity() * 8
            + self
                .attr
                .iter()
                .map(|a| std::mem::size_of::<DocAttributes>() + a.serves.capacity())
                .sum::<usize>()
            + self.grid.memory_bytes()
            + self.vocab.memory_bytes()
            + self.keywords.memory_bytes()
            + self.suggester.memory_bytes();
        IndexStats {
            n_docs: self.doc_facility.len(),
            n_tokens: self.vocab.len(),
            n_postings: self.postings.n_items(),
            memory_bytes,
        }
    }

    /// Completions of `query.text`, best first.
    pub fn suggest(&self, query: &SuggestQuery) -> Vec<&Suggestion> {
        self.suggester.suggest(&query.text, query.limit)
    }

    /// Answers `query`. `dataset` is the one the index was built from.
    pub fn search(&self, dataset: &Dataset, query: &SearchQuery) -> SearchResults {
        let facilities = dataset.facilities();
        debug_assert_eq!(facilities.len(), self.doc_facility.len());
        let mut raw_terms: Vec<tokenize::Token> = Vec::new();
        for token in tokenize::tokens(&query.text) {
            if !raw_terms.contains(&token) {
                raw_terms.push(token);
            }
        }
        let query_compact: String = raw_terms.iter().map(|t| t.text.as_str()).collect();
        let terms = self.resolve_terms(raw_terms);
        let term_texts: Vec<String> = terms.iter().map(|t| t.text.clone()).collect();
        let empty = |terms: Vec<String>| SearchResults {
            hits: Vec::new(),
            total: 0,
            terms,
        };
        if terms.iter().any(TermMatch::is_empty) {
            return empty(term_texts);
        }
        let category_mask: Option<Vec<bool>> = (!query.categories.is_empty()).then(|| {
            let mut mask = vec![false; self.category_docs.n_lists()];
            for c in &query.categories {
                if let Some(slot) = mask.get_mut(c.0 as usize) {
                    *slot = true;
                }
            }
            mask
        });
        let near = query.near.map(|center| Near::new(center, query.radius_m));
        let filter = Filter {
            terms: &terms,
            categories: category_mask.as_deref(),
            bbox: query.bbox,
            near: near.as_ref(),
            query_compact: &query_compact,
            statuses: query.statuses,
        };
        let mut hits: Vec<Hit> = Vec::new();
        let mut tagged: Vec<u32> = Vec::new();
        let total;
        if terms.is_empty()
            && query.near.is_some()
            && query.radius_m.is_none()
            && query.bbox.is_none()
        {
            // Nearest first with no radius: widen a circle until it holds a page.
            let center = query.near.unwrap_or_default();
            let wanted = query.offset.saturating_add(query.limit);
            let mut radius_m = KNN_START_RADIUS_M;
            loop {
                let rect = grid::radius_rect(center, radius_m);
                hits.clear();
                let near = Near::new(center, Some(radius_m));
                let circle = Filter {
                    near: Some(&near),
                    ..filter
                };
                for range in self.grid.ranges(rect) {
                    for doc in range.clone() {
                        self.consider(doc, &circle, &mut hits, &mut tagged);
                    }
                }
                if hits.len() >= wanted || self.grid.covered_by(rect) {
                    break;
                }
                radius_m *= 2.0;
            }
            total = match &category_mask {
                None => self.doc_facility.len(),
                Some(_) => query
                    .categories
                    .iter()
                    .filter(|c| (c.0 as usize) < self.category_docs.n_lists())
                    .map(|c| self.category_docs.len(u32::from(c.0)))
                    .sum(),
            };
        } else {
            let mut area: Option<[f64; 4]> = query.bbox;
            if let (Some(center), Some(radius_m)) = (query.near, query.radius_m) {
                let circle = grid::radius_rect(center, radius_m);
                area = match area {
                    None => Some(circle),
                    Some(bbox) => match grid::intersect(bbox, circle) {
                        Some(both) => Some(both),
                        None => return empty(term_texts),
                    },
                };
            }
            let ranges = match area {
                Some(rect) => self.grid.ranges(rect),
                None => std::iter::once(0..self.doc_facility.len() as u32).collect(),
            };
            self.collect(&ranges, &filter, query, &mut hits, &mut tagged);
            total = hits.len();
        }
        let ranking = match query.near {
            Some(center) if !terms.is_empty() => {
                let n_terms = terms.len() as u32;
                for hit in &mut hits {
                    let distance_m = geom::haversine_m(center, position(facilities, hit));
                    let bonus_m = query
                        .name_bonus
                        .metres(hit.name_match, hit.name_hits == n_terms);
                    hit.rank_m = distance_m - bonus_m;
                }
                Ranking::ByDistance
            }
            _ => Ranking::ByName,
        };
        rank::page(&mut hits, query.offset, query.limit, ranking);
        let max_score = 3 * terms.len() as u32;
        SearchResults {
            hits: hits
                .into_iter()
                .map(|h| SearchHit {
                    facility_idx: h.facility_idx,
                    distance_m: query
                        .near
                        .map(|center| geom::haversine_m(center, position(facilities, &h))),
                    relevance: (max_score > 0).then(|| f64::from(h.score) / f64::from(max_score)),
                    name_match: h.name_match,
                })
                .collect(),
            total,
            terms: term_texts,
        }
    }

    /// Resolves query terms. A Han term ending with a category phrase is split into the rest
    /// and the phrase (华阳幼儿园 → 华阳 + 幼儿园), so that it finds 长宁区华阳第一幼儿园 too
    /// (a facility named exactly 华阳幼儿园 still comes first, as an exact name match); a Han
    /// term that matches nothing is split around the phrases it contains.
    fn resolve_terms(&self, raw: Vec<tokenize::Token>) -> Vec<TermMatch> {
        let han = |text: String| tokenize::Token {
            text,
            script: tokenize::Script::Han,
        };
        let mut out: Vec<TermMatch> = Vec::new();
        let mut pending: Vec<tokenize::Token> = raw.into_iter().rev().collect();
        while let Some(token) = pending.pop() {
            if token.script == tokenize::Script::Han
                && let Some([rest, phrase]) = self.keywords.split_suffix(&token.text)
            {
                pending.push(han(phrase));
                pending.push(han(rest));
                continue;
            }
            let (by_token, tokens) = self.vocab.match_term(&token);
            let category_level = self.keywords.levels(&token);
            let term = TermMatch::new(token.text.clone(), by_token, tokens, category_level);
            if term.is_empty()
                && token.script == tokenize::Script::Han
                && let Some(pieces) = self.keywords.split(&token.text)
            {
                pending.extend(pieces.into_iter().rev().map(han));
                continue;
            }
            if !out.iter().any(|t| t.text == term.text) {
                out.push(term);
            }
        }
        out
    }

    /// Finds every hit in `ranges`, from postings or by a scan, whichever looks cheaper.
    fn collect(
        &self,
        ranges: &[Range<u32>],
        filter: &Filter,
        query: &SearchQuery,
        hits: &mut Vec<Hit>,
        tagged: &mut Vec<u32>,
    ) {
        let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else {
            return;
        };
        let n_docs = self.doc_facility.len().max(1) as f64;
        let n_in_ranges: u64 = ranges.iter().map(|r| u64::from(r.end - r.start)).sum();
        // Share of all documents in the ranges, and in the band from the first range to the
        // last (the part of a posting list `restrict` walks).
        let share = n_in_ranges as f64 / n_docs;
        let band_share = f64::from(last.end - first.start) / n_docs;
        let per_candidate = 1.0 + filter.terms.len() as f64;
        // Cost units: checking one candidate against one term ≈ 1.
        let list_cost = |lists: &[DocList]| {
            let mut cost = 0.0;
            for &list in lists {
                let len = self.list_len(list) as f64;
                cost +=
                    2.0 * (len + 2.0).log2() + len * band_share * 0.5 + len * share * per_candidate;
            }
            cost
        };
        let mut best_cost = n_in_ranges as f64 * per_candidate;
        let mut source: Option<Vec<DocList>> = None;
        for term in filter.terms {
            let lists: Vec<DocList> = term
                .tokens
                .iter()
                .map(|&tok| DocList::Token(tok))
                .chain(
                    term.category_level
                        .iter()
                        .enumerate()
                        .filter(|&(_, &level)| level > 0)
                        .map(|(c, _)| DocList::Category(c as u8)),
                )
                .collect();
            let cost = list_cost(&lists);
            if cost < best_cost {
                best_cost = cost;
                source = Some(lists);
            }
        }
        if !query.categories.is_empty() {
            let lists: Vec<DocList> = query
                .categories
                .iter()
                .filter(|c| (c.0 as usize) < self.category_docs.n_lists())
                .map(|c| DocList::Category(c.0))
                .collect();
            let cost = list_cost(&lists);
            if cost < best_cost {
                source = Some(lists);
            }
        }
        match source {
            None => {
                for range in ranges {
                    for doc in range.clone() {
                        self.consider(doc, filter, hits, tagged);
                    }
                }
            }
            Some(lists) => {
                let mut candidates: Vec<u32> = Vec::new();
                for &list in &lists {
                    self.restrict(list, ranges, &mut candidates);
                }
                if lists.len() > 1 {
                    candidates.sort_unstable();
                    candidates.dedup();
                }
                for &doc in &candidates {
                    self.consider(doc, filter, hits, tagged);
                }
            }
        }
    }

    /// Number of documents in `list`.
    fn list_len(&self, list: DocList) -> usize {
        match list {
            DocList::Token(tok) => self.postings.len(tok),
            DocList::Category(c) => self.category_docs.len(u32::from(c)),
        }
    }

    /// Appends the documents of `list` that fall in `ranges` (ascending, disjoint, non-empty).
    fn restrict(&self, list: DocList, ranges: &[Range<u32>], out: &mut Vec<u32>) {
        match list {
            DocList::Token(tok) => self.postings.restrict(tok, ranges, out),
            DocList::Category(c) => self.category_docs.restrict(u32::from(c), ranges, out),
        }
    }

    /// Checks document `doc` against every filter and term; pushes a hit when it passes.
    /// `tagged` holds the document's tokens while it is checked.
    #[inline]
    fn consider(&self, doc: u32, filter: &Filter, hits: &mut Vec<Hit>, tagged: &mut Vec<u32>) {
        let d = doc as usize;
        let category = self.doc_category[d];
        let attributes = if self.attr_bits[d / 64] >> (d % 64) & 1 == 1 {
            self.attr_docs
                .binary_search(&doc)
                .ok()
                .map(|at| &self.attr[at])
        } else {
            None
        };
        let status = attributes.map_or(Status::Existing, |a| a.status);
        if !filter.statuses.contains(status) {
            return;
        }
        let serves = attributes.map_or(&[][..], |a| a.serves.as_slice());
        if let Some(mask) = filter.categories
            && !mask[category as usize]
            && !serves.iter().any(|&c| mask[c as usize])
        {
            return;
        }
        // Text before place: the tokens rule out most candidates before any distance is taken.
        tagged.clear();
        if !filter.terms.is_empty() {
            self.doc_tokens.row_into(doc, FIELD_SHIFT, tagged);
        }
        let tagged = tagged.as_slice();
        let mut score = 0u32;
        for term in filter.terms {
            // A facility is found by the words of every category it serves.
            let level = std::iter::once(category)
                .chain(serves.iter().copied())
                .map(|c| term.level(c, tagged))
                .max()
                .unwrap_or(0);
            if level == 0 {
                return;
            }
            score += u32::from(level);
        }
        let facility_idx = self.doc_facility[d];
        let mut closeness = 0.0;
        if filter.bbox.is_some() || filter.near.is_some() {
            let (lon, lat) = self.doc_lonlat[d];
            if let Some([west, south, east, north]) = filter.bbox
                && !(lon >= west && lon <= east && lat >= south && lat <= north)
            {
                return;
            }
            if let Some(near) = filter.near {
                match near.within((lon, lat)) {
                    Some(chord2) => closeness = chord2,
                    None => return,
                }
            }
        }
        let name_hits = filter.terms.iter().filter(|t| t.in_name(tagged)).count() as u32;
        let name_match = match filter.terms.first() {
            Some(first) => self.name_match(first, tagged, filter.query_compact),
            None => NameMatch::None,
        };
        hits.push(Hit {
            facility_idx,
            name_match,
            score,
            name_hits,
            closeness,
            rank_m: 0.0,
        });
    }

    /// Does the whole query equal or start the facility's name (or English name), in
    /// characters, words or pinyin? Only looked at when the first term starts the name.
    fn name_match(&self, first: &TermMatch, tagged: &[u32], query_compact: &str) -> NameMatch {
        let mut best = NameMatch::None;
        for field in [Field::Name, Field::NameEn] {
            if !first.starts_field(tagged, field) {
                continue;
            }
            let name: String = tagged
                .iter()
                .filter(|&&t| Field::from_bits(t >> FIELD_SHIFT) == field)
                .map(|&t| self.vocab.text(t & rank::TOKEN_MASK))
                .collect();
            // An unnamed facility (empty name) is found by its category, never as a name match.
            if name.is_empty() {
                continue;
            }
            let found = if name == query_compact {
                NameMatch::Exact
            } else if name.starts_with(query_compact) {
                NameMatch::Prefix
            } else if query_compact.bytes().all(|b| b.is_ascii_lowercase()) {
                let readings = self.vocab.readings_of(&name);
                match tokenize::match_pinyin_at(query_compact, &readings, 0) {
                    Some(hit) if hit.whole => NameMatch::Exact,
                    Some(_) => NameMatch::Prefix,
                    None => NameMatch::None,
                }
            } else {
                NameMatch::None
            };
            best = best.max(found);
        }
        best
    }
}

/// What a candidate must satisfy.
#[derive(Clone, Copy)]
struct Filter<'a> {
    terms: &'a [TermMatch],
    /// Allowed categories, indexed by category; `None` allows all.
    categories: Option<&'a [bool]>,
    bbox: Option<[f64; 4]>,
    near: Option<&'a Near>,
    query_compact: &'a str,
    statuses: StatusSet,
}

/// A list of documents candidates may come from.
#[derive(Debug, Clone, Copy)]
enum DocList {
    /// The documents holding a token.
    Token(u32),
    /// The documents of a category, or whose functions add it.
    Category(u8),
}

/// Where a hit's facility is, `(lon, lat)`.
fn position(facilities: &[Facility], hit: &Hit) -> (f64, f64) {
    let facility = &facilities[hit.facility_idx as usize];
    (facility.lon, facility.lat)
}

/// What the index keeps of a facility's attributes.
#[derive(Debug, Clone)]
struct DocAttributes {
    status: Status,
    /// Categories its functions add (ids).
    serves: Vec<u8>,
}

/// The unit vector of a lon/lat position on the sphere.
fn unit_vector((lon, lat): (f64, f64)) -> [f64; 3] {
    let (lon, lat) = (lon.to_radians(), lat.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// Distance tests from one centre. The squared chord between unit vectors grows with the
/// great-circle distance, so it orders hits and tests the radius exactly with a few
/// multiplications; positions within a hair of the radius are settled with haversine, the
/// distance the server reports. A position well outside the circle's bounding box is turned
/// away before its unit vector is computed.
struct Near {
    center: (f64, f64),
    unit: [f64; 3],
    /// Squared chord of the radius, and the radius in metres.
    limit: Option<(f64, f64)>,
    /// The circle's bounding box (`grid::radius_rect`) grown by a hundredth of its size on
    /// every side: whatever lies outside is farther than the radius by far more than the
    /// chord test's tolerance, so turning it away here changes no answer.
    bounds: Option<[f64; 4]>,
}

impl Near {
    fn new(center: (f64, f64), radius_m: Option<f64>) -> Near {
        let limit = radius_m.map(|r| {
            let half_angle = (r / geom::EARTH_RADIUS_M / 2.0).min(std::f64::consts::FRAC_PI_2);
            ((2.0 * half_angle.sin()).powi(2), r)
        });
        let bounds = radius_m.map(|r| {
            let [west, south, east, north] = grid::radius_rect(center, r);
            let margin_lon = (east - west) * 0.01 + 1e-9;
            let margin_lat = (north - south) * 0.01 + 1e-9;
            [
                west - margin_lon,
                south - margin_lat,
                east + margin_lon,
                north + margin_lat,
            ]
        });
        Near {
            center,
            unit: unit_vector(center),
            limit,
            bounds,
        }
    }

    /// The squared chord to a position, or `None` when it lies beyond the radius.
    #[inline]
    fn within(&self, lonlat: (f64, f64)) -> Option<f64> {
        let (lon, lat) = lonlat;
        // Written to let a NaN through, as the chord test does.
        if let Some([west, south, east, north]) = self.bounds
            && (lon < west || lon > east || lat < south || lat > north)
        {
            return None;
        }
        let unit = unit_vector(lonlat);
        let chord2 = (unit[0] - self.unit[0]).powi(2)
            + (unit[1] - self.unit[1]).powi(2)
            + (unit[2] - self.unit[2]).powi(2);
        if let Some((limit2, radius_m)) = self.limit {
            if chord2 > limit2 * (1.0 + 1e-9) {
                return None;
            }
            if chord2 >= limit2 * (1.0 - 1e-9) && geom::haversine_m(self.center, lonlat) > radius_m
            {
                return None;
            }
        }
        Some(chord2)
    }
}

/// Tokenises the facilities' texts in document order (`order[doc]` is the facility of `doc`)
/// and indexes them: the vocabulary with tokens numbered by how many documents hold them (the
/// commonest first, so that they take one byte in the compact lists), each document's tokens
/// and each token's documents.
fn index_texts(facilities: &[Facility], order: &[u32]) -> (Vocabulary, DocTokens, Postings) {
    use rayon::prelude::*;
    let tokenize = |docs: &[u32]| -> Vec<TokenBatch> {
        docs.par_chunks(TOKENIZE_CHUNK)
            .map(|chunk| TokenBatch::of(facilities, chunk))
            .collect()
    };
    // Each document's tokens as interned (tagged with the field), deduplicated in the row.
    let mut builder = VocabBuilder::default();
    let mut row_start: Vec<u32> = Vec::with_capacity(order.len() + 1);
    let mut rows: Vec<u32> = Vec::new();
    row_start.push(0);
    let mut batches = order.chunks(BUILD_BATCH);
    let mut pending = batches.next().map(tokenize).unwrap_or_default();
    loop {
        let next = batches.next();
        let ((), upcoming) = rayon::join(
            || {
                for batch in &pending {
                    batch.intern(&mut builder, &mut rows, &mut row_start);
                }
            },
            || next.map(tokenize),
        );
        match upcoming {
            Some(batch) => pending = batch,
            None => break,
        }
    }
    drop(pending);
    let row = |doc: usize| &rows[row_start[doc] as usize..row_start[doc + 1] as usize];
    // How many documents hold each token, and the numbering by that count.
    let n_tokens = builder.len();
    let mut doc_count = vec![0u32; n_tokens];
    let mut last_doc = vec![u32::MAX; n_tokens];
    for doc in 0..order.len() {
        for &t in row(doc) {
            let tok = (t & rank::TOKEN_MASK) as usize;
            if last_doc[tok] != doc as u32 {
                last_doc[tok] = doc as u32;
                doc_count[tok] += 1;
            }
        }
    }
    drop(last_doc);
    let mut by_rank: Vec<u32> = (0..n_tokens as u32).collect();
    by_rank.sort_by_key(|&tok| (std::cmp::Reverse(doc_count[tok as usize]), tok));
    let mut new_id = vec![0u32; n_tokens];
    for (rank, &tok) in by_rank.iter().enumerate() {
        new_id[tok as usize] = rank as u32;
    }
    let (postings, doc_tokens) = rayon::join(
        || {
            // Token → documents, by counting: each token's slot is its count.
            let mut start = vec![0u32; n_tokens + 1];
            for (rank, &tok) in by_rank.iter().enumerate() {
                start[rank + 1] = start[rank] + doc_count[tok as usize];
            }
            let mut fill = start.clone();
            let mut docs = vec![0u32; start[n_tokens] as usize];
            for doc in 0..order.len() {
                for &t in row(doc) {
                    let tok = new_id[(t & rank::TOKEN_MASK) as usize] as usize;
                    let at = fill[tok] as usize;
                    if at > start[tok] as usize && docs[at - 1] == doc as u32 {
                        continue;
                    }
                    docs[at] = doc as u32;
                    fill[tok] += 1;
                }
            }
            let mut postings = Postings::with_capacity(n_tokens);
            for tok in 0..n_tokens {
                postings.push_list(&docs[start[tok] as usize..start[tok + 1] as usize]);
            }
            postings.finish();
            postings
        },
        || {
            let mut doc_tokens = DocTokens::with_capacity(order.len());
            for doc in 0..order.len() {
                doc_tokens.push_row(
                    row(doc)
                        .iter()
                        .map(|&t| (new_id[(t & rank::TOKEN_MASK) as usize], t >> FIELD_SHIFT)),
                );
            }
            doc_tokens.shrink_to_fit();
            doc_tokens
        },
    );
    (builder.finish_in_order(&by_rank), doc_tokens, postings)
}

/// The tokens of a run of documents: their texts end to end, each token's end in `text` with
/// its field, and each document's end in `tokens`.
#[derive(Default)]
struct TokenBatch {
    text: String,
    tokens: Vec<(u32, Field)>,
    doc_ends: Vec<u32>,
}

impl TokenBatch {
    /// Tokenises the searchable fields of the facilities `docs`, name first (as `tokenize::
    /// tokens` would, without a `String` per token).
    fn of(facilities: &[Facility], docs: &[u32]) -> TokenBatch {
        let mut batch = TokenBatch::default();
        let mut normalized = String::new();
        for &idx in docs {
            let f = &facilities[idx as usize];
            let fields = [
                (Field::Name, Some(f.name())),
                (Field::NameEn, f.name_en()),
                (Field::Address, f.address()),
                (Field::Subdistrict, f.subdistrict()),
            ];
            for (field, text) in fields {
                let Some(text) = text else { continue };
                normalized.clear();
                tokenize::normalize_into(text, &mut normalized);
                tokenize::split_spans(&normalized, |token, _| {
                    batch.text.push_str(token);
                    batch.tokens.push((batch.text.len() as u32, field));
                });
            }
            batch.doc_ends.push(batch.tokens.len() as u32);
        }
        batch
    }

    /// Interns the batch's tokens and appends its documents' rows: token ids tagged with the
    /// field, each (token, field) once per document, in order of occurrence.
    fn intern(&self, builder: &mut VocabBuilder, rows: &mut Vec<u32>, row_start: &mut Vec<u32>) {
        let (mut token, mut text_at) = (0usize, 0usize);
        for &doc_end in &self.doc_ends {
            let first = rows.len();
            while token < doc_end as usize {
                let (end, field) = self.tokens[token];
                let text = &self.text[text_at..end as usize];
                text_at = end as usize;
                token += 1;
                let tagged = builder.intern(text, field) | (field as u32) << FIELD_SHIFT;
                if !rows[first..].contains(&tagged) {
                    rows.push(tagged);
                }
            }
            row_start.push(rows.len() as u32);
        }
    }
}

#[cfg(test)]
mod tests;
