//! Ranking: how well each query term matches a facility, and the order of the hits.
//!
//! A term's match with a facility has a *level*: 3 when the term names the facility (found in
//! its name or English name, written in characters, a word or full pinyin; or naming its
//! category by a configured keyword), 2 for a partial match (pinyin initials or an unfinished
//! syllable, the middle of an English word, the start of a category keyword), 1 when the term
//! is only in the address or subdistrict. Levels are coarse on purpose: among equally good
//! matches the nearer facility should win, so distance decides within a level.
//!
//! Two orders ([`Ranking`]):
//! - **By distance** (terms and `near`): relevance (the sum of the terms' levels) first, then
//!   the ground distance from `near` less a bounded name bonus ([`NameBonus`]: the whole query
//!   is the name, starts it, or every term is in it), then the number of terms in the name, then
//!   facility id. A category word (幼儿园) thus finds the nearest kindergarten, or a facility
//!   named by the word nearby, never one merely named 幼儿园 kilometres away.
//! - **By name** (no `near`, or no terms): exact name hits, then name-prefix hits (the whole
//!   query starts the name, in characters, English or pinyin); then relevance; then distance
//!   from `near` when given; then the number of terms found in the name (so a facility named by
//!   the query comes before one only in the category it names); then facility id.
//!
//! Equal hits always come out in one order.

use std::cmp::Ordering;

use super::vocab::{AT_START, Field, LEVEL_MASK, TokenMatch};

/// Whether the whole query matched the facility's name exactly or as its beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    None = 0,
    Prefix = 1,
    Exact = 2,
}

/// One query term, resolved against the vocabulary and the category keywords.
pub struct TermMatch {
    /// The term as normalised text.
    pub text: String,
    /// Per vocabulary token: how the term matches it (0 = not at all). Empty when the term
    /// matches no token.
    by_token: Vec<TokenMatch>,
    /// The tokens the term matches.
    pub tokens: Vec<u32>,
    /// Per category: the level at which the term names it.
    pub category_level: Vec<u8>,
}

impl TermMatch {
    /// `by_token` and `tokens` as given by the vocabulary's `match_term`.
    pub fn new(
        text: String,
        by_token: Vec<TokenMatch>,
        tokens: Vec<u32>,
        category_level: Vec<u8>,
    ) -> TermMatch {
        TermMatch {
            text,
            by_token,
            tokens,
            category_level,
        }
    }

    /// Does the term match nothing at all?
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.category_level.iter().all(|&l| l == 0)
    }

    /// How the term matches token `tok`.
    #[inline]
    pub fn token(&self, tok: u32) -> TokenMatch {
        self.by_token.get(tok as usize).copied().unwrap_or(0)
    }

    /// The level of this term for a facility of `category` whose tokens are `tagged` (token
    /// ids with their field in the top two bits); 0 when it does not match.
    #[inline]
    pub fn level(&self, category: u8, tagged: &[u32]) -> u8 {
        let mut best = self.category_level[category as usize];
        if best == 3 || self.by_token.is_empty() {
            return best;
        }
        for &t in tagged {
            let m = self.by_token[(t & TOKEN_MASK) as usize];
            if m == 0 {
                continue;
            }
            let level = match Field::from_bits(t >> FIELD_SHIFT) {
                Field::Name | Field::NameEn => m & LEVEL_MASK,
                Field::Address | Field::Subdistrict => 1,
            };
            best = best.max(level);
            if best == 3 {
                break;
            }
        }
        best
    }

    /// Is the term in the name or English name among `tagged`?
    pub fn in_name(&self, tagged: &[u32]) -> bool {
        !self.by_token.is_empty()
            && tagged.iter().any(|&t| {
                matches!(
                    Field::from_bits(t >> FIELD_SHIFT),
                    Field::Name | Field::NameEn
                ) && self.by_token[(t & TOKEN_MASK) as usize] != 0
            })
    }

    /// Does the term start the first token of `field` among `tagged`?
    pub fn starts_field(&self, tagged: &[u32], field: Field) -> bool {
        tagged
            .iter()
            .find(|&&t| Field::from_bits(t >> FIELD_SHIFT) == field)
            .is_some_and(|&t| self.token(t & TOKEN_MASK) & AT_START != 0)
    }
}

/// How many ground metres a name match is worth when ranking by distance: a hit counts as that
/// much nearer. The configured `search.name_bonus_*_m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NameBonus {
    /// The whole query is the name (or English name).
    pub exact_m: f64,
    /// The whole query starts the name.
    pub prefix_m: f64,
    /// Every term is in the name.
    pub contains_m: f64,
}

impl Default for NameBonus {
    fn default() -> NameBonus {
        NameBonus {
            exact_m: 500.0,
            prefix_m: 250.0,
            contains_m: 100.0,
        }
    }
}

impl NameBonus {
    pub fn from_config(config: &crate::config::SearchConfig) -> NameBonus {
        NameBonus {
            exact_m: config.name_bonus_exact_m,
            prefix_m: config.name_bonus_prefix_m,
            contains_m: config.name_bonus_contains_m,
        }
    }

    /// The bonus of a hit: the best of what its name match earns.
    pub fn metres(&self, name_match: NameMatch, all_terms_in_name: bool) -> f64 {
        let by_match = match name_match {
            NameMatch::Exact => self.exact_m,
            NameMatch::Prefix => self.prefix_m,
            NameMatch::None => 0.0,
        };
        let by_terms = if all_terms_in_name {
            self.contains_m
        } else {
            0.0
        };
        by_match.max(by_terms)
    }
}

/// Field bits sit above the token id in a document's token list.
pub const FIELD_SHIFT: u32 = 30;
pub const TOKEN_MASK: u32 = (1 << FIELD_SHIFT) - 1;

/// One matching facility, before paging.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Index in the dataset, which is sorted by facility id.
    pub facility_idx: u32,
    pub name_match: NameMatch,
    /// Sum of the terms' levels.
    pub score: u32,
    /// Number of terms found in the name or English name.
    pub name_hits: u32,
    /// A quantity that grows with the ground distance from `near` (the squared chord); 0
    /// when there is no `near`.
    pub closeness: f64,
    /// Ranking by distance: ground metres from `near` less the name bonus; 0 otherwise.
    pub rank_m: f64,
}

/// Which order hits are ranked in (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    ByName,
    ByDistance,
}

impl Ranking {
    fn order(self) -> fn(&Hit, &Hit) -> Ordering {
        match self {
            Ranking::ByName => order_by_name,
            Ranking::ByDistance => order_by_distance,
        }
    }
}

/// Ranking by distance: best first.
pub fn order_by_distance(a: &Hit, b: &Hit) -> Ordering {
    b.score
        .cmp(&a.score)
        .then(a.rank_m.total_cmp(&b.rank_m))
        .then(b.name_hits.cmp(&a.name_hits))
        .then(a.facility_idx.cmp(&b.facility_idx))
}

/// Ranking by name: best first.
pub fn order_by_name(a: &Hit, b: &Hit) -> Ordering {
    b.name_match
        .cmp(&a.name_match)
        .then(b.score.cmp(&a.score))
        .then(a.closeness.total_cmp(&b.closeness))
        .then(b.name_hits.cmp(&a.name_hits))
        .then(a.facility_idx.cmp(&b.facility_idx))
}

/// Keeps hits `offset..offset + limit` of the ranking order, sorted, in `hits`.
pub fn page(hits: &mut Vec<Hit>, offset: usize, limit: usize, ranking: Ranking) {
    let order = ranking.order();
    let end = offset.saturating_add(limit);
    if end == 0 || hits.is_empty() {
        hits.clear();
        return;
    }
    if hits.len() > end {
        hits.select_nth_unstable_by(end - 1, order);
        hits.truncate(end);
    }
    hits.sort_unstable_by(order);
    let start = offset.min(hits.len());
    hits.drain(..start);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(facility_idx: u32, name_match: NameMatch, score: u32, closeness: f64) -> Hit {
        Hit {
            facility_idx,
            name_match,
            score,
            name_hits: facility_idx % 2,
            closeness,
            rank_m: closeness,
        }
    }

    #[test]
    fn order_is_name_match_then_score_then_distance_then_id() {
        let mut hits = vec![
            hit(1, NameMatch::None, 6, 100.0),
            hit(2, NameMatch::Prefix, 3, 900.0),
            hit(3, NameMatch::None, 6, 50.0),
            hit(4, NameMatch::Exact, 3, 2000.0),
            hit(5, NameMatch::None, 3, 10.0),
            hit(6, NameMatch::None, 6, 50.0),
            hit(7, NameMatch::None, 6, 50.0),
        ];
        page(&mut hits, 0, 10, Ranking::ByName);
        let ids: Vec<u32> = hits.iter().map(|h| h.facility_idx).collect();
        // 3 and 7 (a name hit each) tie on distance with 6 (none).
        assert_eq!(ids, vec![4, 2, 3, 7, 6, 1, 5]);
    }

    #[test]
    fn by_distance_is_score_then_distance_less_bonus_then_id() {
        let bonus = NameBonus::default();
        let with_bonus = |mut h: Hit, all_in_name: bool| {
            h.rank_m = h.closeness - bonus.metres(h.name_match, all_in_name);
            h
        };
        let mut hits = vec![
            // An exact name match 3 km away.
            with_bonus(hit(1, NameMatch::Exact, 3, 3000.0), true),
            // The same category 400 m away, name not matching.
            with_bonus(hit(2, NameMatch::None, 3, 400.0), false),
            // An exact match 800 m away: 300 m after its bonus.
            with_bonus(hit(3, NameMatch::Exact, 3, 800.0), true),
            // A weaker match, next door.
            with_bonus(hit(4, NameMatch::None, 1, 10.0), false),
            // Every term in the name, 450 m away: 350 m.
            with_bonus(hit(5, NameMatch::None, 3, 450.0), true),
        ];
        page(&mut hits, 0, 10, Ranking::ByDistance);
        let ids: Vec<u32> = hits.iter().map(|h| h.facility_idx).collect();
        assert_eq!(ids, vec![3, 5, 2, 1, 4]);
    }

    #[test]
    fn paging_is_a_window_of_the_full_order() {
        let all: Vec<Hit> = (0..50)
            .map(|i| hit(i, NameMatch::None, i % 3, f64::from((i * 37) % 11)))
            .collect();
        for ranking in [Ranking::ByName, Ranking::ByDistance] {
            let mut full = all.clone();
            page(&mut full, 0, 50, ranking);
            check_window(&all, &full, ranking);
        }
    }

    fn check_window(all: &[Hit], full: &[Hit], ranking: Ranking) {
        for (offset, limit) in [(0, 5), (5, 5), (45, 10), (60, 5), (0, 0)] {
            let mut window = all.to_vec();
            page(&mut window, offset, limit, ranking);
            let expected: Vec<u32> = full
                .iter()
                .skip(offset)
                .take(limit)
                .map(|h| h.facility_idx)
                .collect();
            let got: Vec<u32> = window.iter().map(|h| h.facility_idx).collect();
            assert_eq!(got, expected, "offset {offset}, limit {limit}");
        }
    }
}
