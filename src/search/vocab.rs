//! The vocabulary: every distinct token of the indexed facility text, and the term → tokens
//! lookups over it.
//!
//! Takes the tokens of names, English names, addresses and subdistricts (see `tokenize`);
//! gives, for one query term, the tokens it matches and how well ([`TokenMatch`]). Matching
//! happens here, once per distinct token, never per facility: a city of a million facilities
//! has far fewer distinct tokens, and the per-facility work is reduced to table look-ups.
//!
//! Term forms:
//! - a run of Han characters matches every token containing it (substring);
//! - a word (Latin letters, digits) matches tokens it starts (prefix) and, from three
//!   characters on, tokens containing it;
//! - a word of ASCII letters also matches Han tokens by pinyin, full spellings or initials.
//!
//! Candidate tokens come from a character and character-pair index over the vocabulary, so
//! even pinyin terms verify only the tokens that share their first two characters' readings.

use std::collections::HashMap;

use super::tokenize::{self, PinyinMatch, Script};

/// Level bits of a [`TokenMatch`]: 3 = a strong match, 2 = a partial one (see `rank`).
pub const LEVEL_MASK: u8 = 0b11;
/// The term matched at the token's first character.
pub const AT_START: u8 = 0b100;
/// The term is the whole token.
pub const WHOLE: u8 = 0b1000;

/// How a term matches one token: a level in the low bits plus [`AT_START`] / [`WHOLE`].
pub type TokenMatch = u8;

/// Compressed rows: `items[start[i]..start[i + 1]]` is row `i`.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Csr {
    /// Builds rows from `(row, item)` pairs; items of a row keep their order, repeats within a
    /// row are dropped when adjacent.
    pub fn from_pairs(n_rows: usize, pairs: impl Iterator<Item = (u32, u32)> + Clone) -> Csr {
        let mut counts = vec![0u32; n_rows + 1];
        for (row, _) in pairs.clone() {
            counts[row as usize + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut items = vec![0u32; *counts.last().unwrap_or(&0) as usize];
        for (row, item) in pairs {
            let at = &mut fill[row as usize];
            items[*at as usize] = item;
            *at += 1;
        }
        let mut csr = Csr {
            start: counts,
            items,
        };
        csr.dedup_adjacent();
        csr
    }

    fn dedup_adjacent(&mut self) {
        let mut out_start = Vec::with_capacity(self.start.len());
        let mut write = 0usize;
        out_start.push(0);
        for row in 0..self.start.len() - 1 {
            let (lo, hi) = (self.start[row] as usize, self.start[row + 1] as usize);
            let mut prev: Option<u32> = None;
            for read in lo..hi {
                let item = self.items[read];
                if prev != Some(item) {
                    self.items[write] = item;
                    write += 1;
                    prev = Some(item);
                }
            }
            out_start.push(write as u32);
        }
        self.items.truncate(write);
        self.items.shrink_to_fit();
        self.start = out_start;
    }

    /// Wraps rows already laid out: `start` has one more entry than there are rows.
    pub fn from_parts(start: Vec<u32>, items: Vec<u32>) -> Csr {
        debug_assert_eq!(start.last().copied().unwrap_or(0) as usize, items.len());
        Csr { start, items }
    }

    pub fn row(&self, row: u32) -> &[u32] {
        let row = row as usize;
        &self.items[self.start[row] as usize..self.start[row + 1] as usize]
    }

    pub fn memory_bytes(&self) -> usize {
        (self.start.capacity() + self.items.capacity()) * 4
    }
}

/// Which facility field a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    Name = 0,
    NameEn = 1,
    Address = 2,
    Subdistrict = 3,
}

impl Field {
    pub fn from_bits(bits: u32) -> Field {
        match bits & 3 {
            0 => Field::Name,
            1 => Field::NameEn,
            2 => Field::Address,
            _ => Field::Subdistrict,
        }
    }
}

/// Collects tokens while the index is built.
#[derive(Default)]
pub struct VocabBuilder {
    /// Hashed with xxh3 (the index interns every token of a million facilities), looked up by
    /// `&str` so that a token seen before costs no allocation.
    ids: HashMap<Box<str>, u32, xxhash_rust::xxh3::Xxh3DefaultBuilder>,
    texts: Vec<Box<str>>,
    fields: Vec<u8>,
}

impl VocabBuilder {
    /// The id of `text`, adding it if new, and records that it occurs in `field`.
    pub fn intern(&mut self, text: &str, field: Field) -> u32 {
        let id = match self.ids.get(text) {
            Some(&id) => id,
            None => {
                let id = self.texts.len() as u32;
                self.ids.insert(text.into(), id);
                self.texts.push(text.into());
                self.fields.push(0);
                id
            }
        };
        self.fields[id as usize] |= 1 << field as u8;
        id
    }

    /// Number of distinct tokens so far.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// The vocabulary, tokens numbered in interning order.
    #[cfg(test)]
    pub fn finish(self) -> Vocabulary {
        let order: Vec<u32> = (0..self.texts.len() as u32).collect();
        self.finish_in_order(&order)
    }

    /// The vocabulary with the tokens renumbered: token `new` is the one interned as
    /// `order[new]` (a permutation).
    pub fn finish_in_order(self, order: &[u32]) -> Vocabulary {
        let VocabBuilder {
            ids, texts, fields, ..
        } = self;
        drop(ids);
        let texts: Vec<Box<str>> = {
            let mut slots: Vec<Option<Box<str>>> = texts.into_iter().map(Some).collect();
            order
                .iter()
                .map(|&old| slots[old as usize].take().unwrap_or_default())
                .collect()
        };
        let fields = order.iter().map(|&old| fields[old as usize]).collect();
        Vocabulary::new(texts, fields)
    }
}

/// Distinct characters of the vocabulary with their pinyin readings.
struct CharTable {
    index: HashMap<char, u32>,
    readings: Vec<Box<[Box<str>]>>,
    /// Bit `i` set when a reading starts with `a` + i.
    first_letters: Vec<u32>,
    /// Characters with a reading starting with `a` + i.
    by_first_letter: [Vec<u32>; 26],
}

/// Every distinct token, and indexes over them.
pub struct Vocabulary {
    arena: String,
    text_start: Vec<u32>,
    /// Bit `f` set when the token occurs in [`Field`] `f`; bit 7 for Han tokens.
    flags: Vec<u8>,
    chars: CharTable,
    /// Token → its characters (ids in `chars`), in order.
    token_chars: Csr,
    /// Character → tokens containing it.
    char_tokens: Csr,
    /// (first char, second char) → pair id.
    pair_ids: HashMap<u64, u32>,
    /// Pair id → its second character.
    pair_second: Vec<u32>,
    /// Pair id → tokens containing it.
    pair_tokens: Csr,
    /// Character → pair ids it starts.
    successors: Csr,
    /// Word tokens sorted by text, for prefix look-ups.
    words_sorted: Vec<u32>,
}

const HAN_FLAG: u8 = 0x80;

fn pair_key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

impl Vocabulary {
    fn new(texts: Vec<Box<str>>, fields: Vec<u8>) -> Vocabulary {
        let mut arena = String::with_capacity(texts.iter().map(|t| t.len()).sum());
        let mut text_start = Vec::with_capacity(texts.len() + 1);
        let mut flags = fields;
        let mut char_index: HashMap<char, u32> = HashMap::new();
        let mut char_list: Vec<char> = Vec::new();
        let mut char_pairs: Vec<(u32, u32)> = Vec::new();
        let mut pair_ids: HashMap<u64, u32> = HashMap::new();
        let mut pair_list: Vec<(u32, u32)> = Vec::new();
        let mut pair_pairs: Vec<(u32, u32)> = Vec::new();
        let mut token_char_start: Vec<u32> = Vec::with_capacity(texts.len() + 1);
        let mut token_char_items: Vec<u32> = Vec::new();
        token_char_start.push(0);
        for (tok, text) in texts.iter().enumerate() {
            let tok = tok as u32;
            text_start.push(arena.len() as u32);
            arena.push_str(text);
            if text.chars().next().is_some_and(tokenize::is_han) {
                flags[tok as usize] |= HAN_FLAG;
            }
            let mut prev: Option<u32> = None;
            let mut seen_chars: Vec<u32> = Vec::new();
            let mut seen_pairs: Vec<u32> = Vec::new();
            for c in text.chars() {
                let next_id = char_list.len() as u32;
                let cid = *char_index.entry(c).or_insert_with(|| {
                    char_list.push(c);
                    next_id
                });
                token_char_items.push(cid);
                if !seen_chars.contains(&cid) {
                    seen_chars.push(cid);
                    char_pairs.push((cid, tok));
                }
                if let Some(p) = prev {
                    let next_pair = pair_list.len() as u32;
                    let pid = *pair_ids.entry(pair_key(p, cid)).or_insert_with(|| {
                        pair_list.push((p, cid));
                        next_pair
                    });
                    if !seen_pairs.contains(&pid) {
                        seen_pairs.push(pid);
                        pair_pairs.push((pid, tok));
                    }
                }
                prev = Some(cid);
            }
            token_char_start.push(token_char_items.len() as u32);
        }
        text_start.push(arena.len() as u32);
        let readings: Vec<Box<[Box<str>]>> = char_list
            .iter()
            .map(|&c| {
                if tokenize::is_han(c) {
                    tokenize::readings(c)
                        .into_iter()
                        .map(String::into_boxed_str)
                        .collect()
                } else {
                    Box::default()
                }
            })
            .collect();
        let mut by_first_letter: [Vec<u32>; 26] = Default::default();
        let mut first_letters: Vec<u32> = Vec::with_capacity(readings.len());
        for (cid, rs) in readings.iter().enumerate() {
            let mut mask = 0u32;
            for letter in rs.iter().filter_map(|r| r.bytes().next()) {
                if letter.is_ascii_lowercase() {
                    mask |= 1 << (letter - b'a');
                }
            }
            for (i, list) in by_first_letter.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    list.push(cid as u32);
                }
            }
            first_letters.push(mask);
        }
        let char_tokens = Csr::from_pairs(char_list.len(), sorted(char_pairs).into_iter());
        let pair_tokens = Csr::from_pairs(pair_list.len(), sorted(pair_pairs).into_iter());
        let successors = Csr::from_pairs(
            char_list.len(),
            pair_list
                .iter()
                .enumerate()
                .map(|(pid, &(first, _))| (first, pid as u32)),
        );
        let pair_second = pair_list.iter().map(|&(_, second)| second).collect();
        let mut words_sorted: Vec<u32> = (0..texts.len() as u32)
            .filter(|&t| flags[t as usize] & HAN_FLAG == 0)
            .collect();
        words_sorted.sort_by(|&a, &b| texts[a as usize].cmp(&texts[b as usize]));
        Vocabulary {
            arena,
            text_start,
            flags,
            chars: CharTable {
                index: char_index,
                readings,
                first_letters,
                by_first_letter,
            },
            token_chars: Csr::from_parts(token_char_start, token_char_items),
            char_tokens,
            pair_ids,
            pair_second,
            pair_tokens,
            successors,
            words_sorted,
        }
    }

    pub fn len(&self) -> usize {
        self.flags.len()
    }

    pub fn text(&self, tok: u32) -> &str {
        &self.arena
            [self.text_start[tok as usize] as usize..self.text_start[tok as usize + 1] as usize]
    }

    pub fn is_han(&self, tok: u32) -> bool {
        self.flags[tok as usize] & HAN_FLAG != 0
    }

    /// Does the token occur in `field` of some facility?
    pub fn occurs_in(&self, tok: u32, field: Field) -> bool {
        self.flags[tok as usize] & (1 << field as u8) != 0
    }

    /// The pinyin readings of each character of `text` (none for characters outside the
    /// vocabulary or without pinyin).
    pub fn readings_of<'a>(&'a self, text: &str) -> Vec<&'a [Box<str>]> {
        text.chars()
            .map(|c| {
                self.chars
                    .index
                    .get(&c)
                    .map_or(&[][..], |&cid| &self.chars.readings[cid as usize][..])
            })
            .collect()
    }

    /// How `term` matches every token (indexed by token; 0 = not at all), and the tokens it
    /// matches, ascending.
    pub fn match_term(&self, term: &tokenize::Token) -> (Vec<TokenMatch>, Vec<u32>) {
        let mut by_token: Vec<TokenMatch> = Vec::new();
        let mut tokens: Vec<u32> = Vec::new();
        let mut add = |tok: u32, m: TokenMatch| {
            if by_token.is_empty() {
                by_token = vec![0; self.len()];
            }
            let slot = &mut by_token[tok as usize];
            if *slot == 0 {
                tokens.push(tok);
            }
            let level = (*slot & LEVEL_MASK).max(m & LEVEL_MASK);
            *slot = level | ((*slot | m) & (AT_START | WHOLE));
        };
        let text = term.text.as_str();
        let n_chars = text.chars().count();
        match term.script {
            Script::Han => {
                for &tok in self.substring_candidates(text) {
                    if let Some(m) = self.substring_match(tok, text, 3) {
                        add(tok, m);
                    }
                }
            }
            Script::Word => {
                if n_chars <= 2 {
                    for tok in self.word_prefix_range(text) {
                        let whole = self.text(tok) == text;
                        add(tok, 3 | AT_START | if whole { WHOLE } else { 0 });
                    }
                } else {
                    for &tok in self.substring_candidates(text) {
                        if self.is_han(tok) {
                            continue;
                        }
                        // A word's start is a strong match; its middle a partial one.
                        if let Some(m) = self.substring_match(tok, text, 2) {
                            let m = if m & AT_START != 0 {
                                (m & !LEVEL_MASK) | 3
                            } else {
                                m
                            };
                            add(tok, m);
                        }
                    }
                }
                let pinyin_term = text.replace('ü', "v");
                if n_chars >= 2 && pinyin_term.bytes().all(|b| b.is_ascii_lowercase()) {
                    let mut scratch: Vec<&[Box<str>]> = Vec::new();
                    for tok in self.pinyin_candidates(&pinyin_term) {
                        if let Some(m) = self.pinyin_match(tok, &pinyin_term, &mut scratch) {
                            add(tok, m);
                        }
                    }
                }
            }
        }
        tokens.sort_unstable();
        (by_token, tokens)
    }

    /// `term` inside token `tok`: `level` plus where.
    fn substring_match(&self, tok: u32, term: &str, level: u8) -> Option<TokenMatch> {
        let text = self.text(tok);
        let at = text.find(term)?;
        let mut m = level;
        if at == 0 {
            m |= AT_START;
        }
        if text.len() == term.len() {
            m |= WHOLE;
        }
        Some(m)
    }

    /// Tokens that may contain `term`: those with its rarest character pair (or its only
    /// character). A superset; callers verify.
    fn substring_candidates(&self, term: &str) -> &[u32] {
        let ids: Option<Vec<u32>> = term
            .chars()
            .map(|c| self.chars.index.get(&c).copied())
            .collect();
        let Some(ids) = ids else {
            return &[];
        };
        match ids.as_slice() {
            [] => &[],
            [only] => self.char_tokens.row(*only),
            _ => {
                let mut best: &[u32] = &[];
                for (i, w) in ids.windows(2).enumerate() {
                    let Some(&pid) = self.pair_ids.get(&pair_key(w[0], w[1])) else {
                        return &[];
                    };
                    let row = self.pair_tokens.row(pid);
                    if i == 0 || row.len() < best.len() {
                        best = row;
                    }
                }
                best
            }
        }
    }

    /// Word tokens starting with `prefix`.
    fn word_prefix_range<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = u32> + 'a {
        let lo = self
            .words_sorted
            .partition_point(|&t| self.text(t) < prefix);
        self.words_sorted[lo..]
            .iter()
            .copied()
            .take_while(move |&t| self.text(t).starts_with(prefix))
    }

    /// Han tokens that may match the pinyin `term` (ASCII lowercase): those containing a
    /// character whose reading the whole term starts, or a character pair whose readings fit
    /// the term's start, in full spelling or as initials. A superset; callers verify.
    fn pinyin_candidates(&self, term: &str) -> Vec<u32> {
        let t = term.as_bytes();
        let Some(&first) = t.first() else {
            return Vec::new();
        };
        let mut single_chars: Vec<u32> = Vec::new();
        let mut pairs: Vec<u32> = Vec::new();
        for &c1 in &self.chars.by_first_letter[(first - b'a') as usize] {
            let r1s = &self.chars.readings[c1 as usize];
            let mut pair_tested = false;
            for r1 in r1s.iter() {
                let r1 = r1.as_bytes();
                // One character holds the whole term: a complete syllable, or a beginning of
                // one long enough to mean something (not "zh" or "sh").
                if r1.starts_with(t) && (r1.len() == t.len() || t.len() >= 3) {
                    single_chars.push(c1);
                }
                if t.len() > r1.len() && t.starts_with(r1) {
                    let rest = &t[r1.len()..];
                    for &pid in self.successors.row(c1) {
                        let c2 = self.pair_second[pid as usize];
                        let fits = self.chars.readings[c2 as usize].iter().any(|r2| {
                            let r2 = r2.as_bytes();
                            r2.starts_with(rest) || rest.starts_with(r2)
                        });
                        if fits {
                            pairs.push(pid);
                        }
                    }
                }
                if !pair_tested && t.len() >= 2 {
                    pair_tested = true;
                    for &pid in self.successors.row(c1) {
                        let c2 = self.pair_second[pid as usize];
                        let fits = self.chars.readings[c2 as usize]
                            .iter()
                            .any(|r2| r2.as_bytes().first() == Some(&t[1]));
                        if fits {
                            pairs.push(pid);
                        }
                    }
                }
            }
        }
        let mut toks: Vec<u32> = single_chars
            .iter()
            .flat_map(|&c| self.char_tokens.row(c))
            .chain(pairs.iter().flat_map(|&p| self.pair_tokens.row(p)))
            .copied()
            .filter(|&tok| self.is_han(tok))
            .collect();
        toks.sort_unstable();
        toks.dedup();
        toks
    }

    /// How the pinyin `term` matches token `tok`. Only starts whose character can begin the
    /// term (by its first letter) are tried. `scratch` is reused between calls to hold the
    /// token's readings.
    fn pinyin_match<'a>(
        &'a self,
        tok: u32,
        term: &str,
        scratch: &mut Vec<&'a [Box<str>]>,
    ) -> Option<TokenMatch> {
        let first_bit = 1u32 << (term.as_bytes()[0] - b'a');
        let chars = self.token_chars.row(tok);
        let can_start = |cid: u32| self.chars.first_letters[cid as usize] & first_bit != 0;
        if !chars.iter().any(|&cid| can_start(cid)) {
            return None;
        }
        scratch.clear();
        scratch.extend(
            chars
                .iter()
                .map(|&cid| &self.chars.readings[cid as usize][..]),
        );
        let rank = |h: &tokenize::PinyinHit| (h.kind, h.complete, h.at_start, h.whole);
        let hit = chars
            .iter()
            .enumerate()
            .filter(|&(_, &cid)| can_start(cid))
            .filter_map(|(start, _)| tokenize::match_pinyin_at(term, scratch, start))
            .max_by(|a, b| rank(a).cmp(&rank(b)))?;
        let level = match hit.kind {
            PinyinMatch::Full if hit.complete => 3,
            _ => 2,
        };
        let mut m = level;
        if hit.at_start {
            m |= AT_START;
        }
        if hit.whole {
            m |= WHOLE;
        }
        Some(m)
    }

    pub fn memory_bytes(&self) -> usize {
        let map_entry = |key: usize, value: usize| key + value + 8;
        self.arena.capacity()
            + self.text_start.capacity() * 4
            + self.flags.capacity()
            + self.chars.index.capacity() * map_entry(4, 4)
            + self.chars.first_letters.capacity() * 4
            + self
                .chars
                .readings
                .iter()
                .map(|rs| 16 + rs.iter().map(|r| 16 + r.len()).sum::<usize>())
                .sum::<usize>()
            + self
                .chars
                .by_first_letter
                .iter()
                .map(|v| v.capacity() * 4)
                .sum::<usize>()
            + self.token_chars.memory_bytes()
            + self.char_tokens.memory_bytes()
            + self.pair_ids.capacity() * map_entry(8, 4)
            + self.pair_second.capacity() * 4
            + self.pair_tokens.memory_bytes()
            + self.successors.memory_bytes()
            + self.words_sorted.capacity() * 4
    }
}

fn sorted(mut pairs: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(entries: &[(&str, Field)]) -> Vocabulary {
        let mut b = VocabBuilder::default();
        for (text, field) in entries {
            for t in tokenize::tokens(text) {
                b.intern(&t.text, *field);
            }
        }
        b.finish()
    }

    /// The tokens `term` matches, as `(text, level, at_start, whole)`, sorted by text.
    fn check(v: &Vocabulary, term: &str, expected: &[(&str, u8, bool, bool)]) {
        let term = &tokenize::tokens(term)[0];
        let (by_token, tokens) = v.match_term(term);
        let mut got: Vec<(String, u8, bool, bool)> = tokens
            .into_iter()
            .map(|tok| (tok, by_token[tok as usize]))
            .map(|(tok, m)| {
                (
                    v.text(tok).to_owned(),
                    m & LEVEL_MASK,
                    m & AT_START != 0,
                    m & WHOLE != 0,
                )
            })
            .collect();
        got.sort();
        let mut expected: Vec<(String, u8, bool, bool)> = expected
            .iter()
            .map(|&(t, l, s, w)| (t.to_owned(), l, s, w))
            .collect();
        expected.sort();
        assert_eq!(got, expected, "matches of {:?}", term.text);
    }

    fn sample() -> Vocabulary {
        vocab(&[
            ("华阳社区卫生服务中心", Field::Name),
            ("长宁区华阳路幼儿园", Field::Name),
            ("幼儿园", Field::Name),
            ("全家便利店(仙霞路店)", Field::Name),
            ("FamilyMart (Xianxia Road)", Field::NameEn),
            ("Yifeng Pharmacy", Field::NameEn),
            ("仙霞路350号", Field::Address),
        ])
    }

    #[test]
    fn han_terms_match_substrings() {
        let v = sample();
        check(&v, "卫生", &[("华阳社区卫生服务中心", 3, false, false)]);
        check(
            &v,
            "幼儿园",
            &[
                ("长宁区华阳路幼儿园", 3, false, false),
                ("幼儿园", 3, true, true),
            ],
        );
        check(
            &v,
            "仙霞路",
            &[("仙霞路店", 3, true, false), ("仙霞路", 3, true, true)],
        );
        check(&v, "卫", &[("华阳社区卫生服务中心", 3, false, false)]);
        check(&v, "医院", &[]);
        check(&v, "龘", &[]);
    }

    #[test]
    fn words_match_by_prefix_and_substring() {
        let v = sample();
        check(&v, "pharm", &[("pharmacy", 3, true, false)]);
        check(&v, "PHARMACY", &[("pharmacy", 3, true, true)]);
        check(&v, "mart", &[("familymart", 2, false, false)]);
        check(&v, "35", &[("350", 3, true, false)]);
        check(&v, "ro", &[("road", 3, true, false)]);
        check(&v, "ar", &[]);
    }

    #[test]
    fn pinyin_terms_match_han_tokens() {
        let v = sample();
        check(
            &v,
            "youeryuan",
            &[
                ("长宁区华阳路幼儿园", 3, false, false),
                ("幼儿园", 3, true, true),
            ],
        );
        check(
            &v,
            "yey",
            &[
                ("长宁区华阳路幼儿园", 2, false, false),
                ("幼儿园", 2, true, true),
            ],
        );
        // "xianxia" is both a word of the English name and the pinyin of 仙霞.
        check(
            &v,
            "xianxia",
            &[
                ("xianxia", 3, true, true),
                ("仙霞路店", 3, true, false),
                ("仙霞路", 3, true, false),
            ],
        );
        check(&v, "changning", &[("长宁区华阳路幼儿园", 3, true, false)]);
        check(&v, "weish", &[("华阳社区卫生服务中心", 2, false, false)]);
    }
}
