//! Search: a [`Dataset`] → [`SearchIndex`]; a [`SearchQuery`] → ranked [`SearchResults`];
//! a typed prefix → [`Suggestion`]s.
//!
//! The index is built with each snapshot and never changes. It holds its own document order
//! (the facilities numbered cell by cell on a ground-metre grid, `grid`), the vocabulary of
//! distinct tokens of names, English names, addresses and subdistricts (`vocab`), each
//! facility's token list, each token's facility list (sorted by document, so restricting it
//! to a radius is two binary searches and a walk over the band of grid rows the circle spans),
//! the taxonomy's keywords (`keywords`) and the completion keys (`suggest`).
//!
//! A query is answered in three steps: every term is resolved against the vocabulary and the
//! keywords once; candidates come either from the postings of the most selective term or
//! category, restricted to the grid rows of the search area, or from a scan of those rows,
//! whichever is estimated cheaper; each candidate is checked against every filter and term
//! (table look-ups) and the radius (on unit vectors, exact, settled by `geom::haversine_m` at
//! the boundary), and the hits are ranked (`rank`). Reported distances are haversine. A keyword
//! within a radius therefore touches only the facilities near the point or the ones carrying
//! the keyword, never the whole city.
//!
//! Pure: no IO, no clock in the answers, no globals.

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
use grid::Grid;
use keywords::Keywords;
use rank::{FIELD_SHIFT, Hit, Ranking, TermMatch};
use vocab::{Csr, Field, VocabBuilder, Vocabulary};

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

/// The search index of one dataset version. Immutable.
pub struct SearchIndex {
    /// Per document (grid order): dataset index, position, category.
    doc_facility: Vec<u32>,
    doc_lonlat: Vec<(f64, f64)>,
    /// Unit vectors of the positions on the sphere, for fast exact radius tests.
    doc_unit: Vec<[f64; 3]>,
    doc_category: Vec<u8>,
    /// Document → its tokens, each tagged with its field above [`FIELD_SHIFT`].
    doc_tokens: Csr,
    /// Token → documents holding it, ascending.
    postings: Csr,
    /// Category → its documents, ascending: those of the category and those whose functions
    /// add it.
    category_docs: Vec<Vec<u32>>,
    /// Documents of facilities with attributes, ascending, and theirs (parallel): most
    /// facilities have none (existing, their own category only), so this stays small.
    attr_docs: Vec<u32>,
    attr: Vec<DocAttributes>,
    grid: Grid,
    vocab: Vocabulary,
    keywords: Keywords,
    suggester: suggest::Suggester,
    stats: IndexStats,
}

/// First radius of the nearest-first search without a radius, metres; it doubles until enough
/// facilities are found.
const KNN_START_RADIUS_M: f64 = 400.0;

/// Facilities tokenised per batch while building (bounds the temporary memory).
const BUILD_BATCH: usize = 65_536;

impl SearchIndex {
    /// Indexes every facility of `dataset` (and its taxonomy's keywords). Blocking; uses the
    /// rayon pool for tokenising.
    pub fn build(dataset: &Dataset) -> SearchIndex {
        use rayon::prelude::*;
        let facilities = dataset.facilities();
        let points: Vec<(f64, f64)> = facilities.iter().map(|f| (f.lon, f.lat)).collect();
        let (grid, order) = Grid::build(&points);
        let mut builder = VocabBuilder::default();
        let mut doc_token_start: Vec<u32> = Vec::with_capacity(order.len() + 1);
        let mut doc_token_items: Vec<u32> = Vec::new();
        doc_token_start.push(0);
        for batch in order.chunks(BUILD_BATCH) {
            let tokenized: Vec<Vec<(Field, String)>> = batch
                .par_iter()
                .map(|&idx| facility_tokens(&facilities[idx as usize]))
                .collect();
            for tokens in tokenized {
                let first = doc_token_items.len();
                for (field, text) in tokens {
                    let tagged = builder.intern(&text, field) | (field as u32) << FIELD_SHIFT;
                    if !doc_token_items[first..].contains(&tagged) {
                        doc_token_items.push(tagged);
                    }
                }
                doc_token_start.push(doc_token_items.len() as u32);
            }
        }
        let vocab = builder.finish();
        // Grown item by item: give back the spare capacity the index would hold for its life.
        doc_token_items.shrink_to_fit();
        let doc_tokens = Csr::from_parts(doc_token_start, doc_token_items);
        let postings = Csr::from_pairs(
            vocab.len(),
            (0..order.len() as u32).flat_map(|doc| {
                doc_tokens
                    .row(doc)
                    .iter()
                    .map(move |&t| (t & rank::TOKEN_MASK, doc))
            }),
        );
        let taxonomy = &dataset.taxonomy;
        let mut category_docs = vec![Vec::new(); taxonomy.len()];
        let doc_category: Vec<u8> = order
            .iter()
            .map(|&idx| facilities[idx as usize].category.0)
            .collect();
        for (doc, &category) in doc_category.iter().enumerate() {
            category_docs[category as usize].push(doc as u32);
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
                category_docs[c as usize].push(*doc);
            }
        }
        for docs in &mut category_docs {
            docs.sort_unstable();
            docs.dedup();
            docs.shrink_to_fit();
        }
        let (attr_docs, attr): (Vec<u32>, Vec<DocAttributes>) = attributed.into_iter().unzip();
        let keywords = Keywords::new(taxonomy);
        let suggester = suggest::Suggester::build(
            &vocab,
            |tok| postings.row(tok).len() as u32,
            &keywords,
            |category| category_docs[category.0 as usize].len() as u32,
        );
        let mut index = SearchIndex {
            doc_lonlat: order.iter().map(|&idx| points[idx as usize]).collect(),
            doc_unit: order
                .iter()
                .map(|&idx| unit_vector(points[idx as usize]))
                .collect(),
            doc_facility: order,
            doc_category,
            attr_docs,
            attr,
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
            + self.doc_unit.capacity() * 24
            + self.doc_category.capacity()
            + self.doc_tokens.memory_bytes()
            + self.postings.memory_bytes()
            + self
                .category_docs
                .iter()
                .map(|v| 24 + v.capacity() * 4)
                .sum::<usize>()
            + self.attr_docs.capacity() * 4
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

    /// Answers `query`.
    pub fn search(&self, query: &SearchQuery) -> SearchResults {
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
            let mut mask = vec![false; self.category_docs.len()];
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
                    for doc in range {
                        self.consider(doc, &circle, &mut hits);
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
                    .map(|c| self.category_docs.get(c.0 as usize).map_or(0, Vec::len))
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
            self.collect(&ranges, &filter, query, &mut hits);
            total = hits.len();
        }
        let ranking = match query.near {
            Some(center) if !terms.is_empty() => {
                let n_terms = terms.len() as u32;
                for hit in &mut hits {
                    let distance_m = geom::haversine_m(center, self.doc_lonlat[hit.doc as usize]);
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
                        .map(|center| geom::haversine_m(center, self.doc_lonlat[h.doc as usize])),
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
        let list_cost = |lists: &mut dyn Iterator<Item = usize>| {
            let mut cost = 0.0;
            for len in lists {
                let len = len as f64;
                cost +=
                    2.0 * (len + 2.0).log2() + len * band_share * 0.5 + len * share * per_candidate;
            }
            cost
        };
        let mut best_cost = n_in_ranges as f64 * per_candidate;
        let mut source: Option<Vec<&[u32]>> = None;
        for term in filter.terms {
            let lists: Vec<&[u32]> = term
                .tokens
                .iter()
                .map(|&tok| self.postings.row(tok))
                .chain(
                    term.category_level
                        .iter()
                        .enumerate()
                        .filter(|&(_, &level)| level > 0)
                        .map(|(c, _)| self.category_docs[c].as_slice()),
                )
                .collect();
            let cost = list_cost(&mut lists.iter().map(|l| l.len()));
            if cost < best_cost {
                best_cost = cost;
                source = Some(lists);
            }
        }
        if !query.categories.is_empty() {
            let lists: Vec<&[u32]> = query
                .categories
                .iter()
                .filter_map(|c| self.category_docs.get(c.0 as usize))
                .map(Vec::as_slice)
                .collect();
            let cost = list_cost(&mut lists.iter().map(|l| l.len()));
            if cost < best_cost {
                source = Some(lists);
            }
        }
        match source {
            None => {
                for range in ranges {
                    for doc in range.clone() {
                        self.consider(doc, filter, hits);
                    }
                }
            }
            Some(lists) => {
                let mut candidates: Vec<u32> = Vec::new();
                for list in &lists {
                    restrict(list, ranges, &mut candidates);
                }
                if lists.len() > 1 {
                    candidates.sort_unstable();
                    candidates.dedup();
                }
                for doc in candidates {
                    self.consider(doc, filter, hits);
                }
            }
        }
    }

    /// Checks document `doc` against every filter and term; pushes a hit when it passes.
    #[inline]
    fn consider(&self, doc: u32, filter: &Filter, hits: &mut Vec<Hit>) {
        let d = doc as usize;
        let category = self.doc_category[d];
        let attributes = self
            .attr_docs
            .binary_search(&doc)
            .ok()
            .map(|at| &self.attr[at]);
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
        let (lon, lat) = self.doc_lonlat[d];
        if let Some([west, south, east, north]) = filter.bbox
            && !(lon >= west && lon <= east && lat >= south && lat <= north)
        {
            return;
        }
        let tagged = self.doc_tokens.row(doc);
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
        let closeness = match filter.near {
            Some(near) => match near.within(&self.doc_unit[d], (lon, lat)) {
                Some(chord2) => chord2,
                None => return,
            },
            None => 0.0,
        };
        let name_hits = filter.terms.iter().filter(|t| t.in_name(tagged)).count() as u32;
        let name_match = match filter.terms.first() {
            Some(first) => self.name_match(first, tagged, filter.query_compact),
            None => NameMatch::None,
        };
        hits.push(Hit {
            doc,
            facility_idx: self.doc_facility[d],
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
/// distance the server reports.
struct Near {
    center: (f64, f64),
    unit: [f64; 3],
    /// Squared chord of the radius, and the radius in metres.
    limit: Option<(f64, f64)>,
}

impl Near {
    fn new(center: (f64, f64), radius_m: Option<f64>) -> Near {
        let limit = radius_m.map(|r| {
            let half_angle = (r / geom::EARTH_RADIUS_M / 2.0).min(std::f64::consts::FRAC_PI_2);
            ((2.0 * half_angle.sin()).powi(2), r)
        });
        Near {
            center,
            unit: unit_vector(center),
            limit,
        }
    }

    /// The squared chord to a position, or `None` when it lies beyond the radius.
    #[inline]
    fn within(&self, unit: &[f64; 3], lonlat: (f64, f64)) -> Option<f64> {
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

/// Appends the items of the ascending `list` that fall in `ranges` (ascending, disjoint,
/// non-empty): two binary searches bound the band the ranges span, then one walk.
fn restrict(list: &[u32], ranges: &[Range<u32>], out: &mut Vec<u32>) {
    let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else {
        return;
    };
    let lo = list.partition_point(|&d| d < first.start);
    let hi = lo + list[lo..].partition_point(|&d| d < last.end);
    let mut r = 0;
    for &d in &list[lo..hi] {
        // d < last.end, so this stops at a range.
        while d >= ranges[r].end {
            r += 1;
        }
        if d >= ranges[r].start {
            out.push(d);
        }
    }
}

/// The tokens of a facility's searchable fields, name first.
fn facility_tokens(f: &Facility) -> Vec<(Field, String)> {
    let mut out = Vec::new();
    let fields = [
        (Field::Name, Some(f.name())),
        (Field::NameEn, f.name_en()),
        (Field::Address, f.address()),
        (Field::Subdistrict, f.subdistrict()),
    ];
    for (field, text) in fields {
        if let Some(text) = text {
            out.extend(tokenize::tokens(text).into_iter().map(|t| (field, t.text)));
        }
    }
    out
}

#[cfg(test)]
mod tests;
