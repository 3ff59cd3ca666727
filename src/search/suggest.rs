//! Prefix completions for a search box: typed prefix → category phrases and name tokens that
//! start with it, written in characters, full pinyin or pinyin initials.
//!
//! Built once per index from the vocabulary (name and English-name tokens, with how many
//! facilities carry them) and the taxonomy's phrases. Answering is a binary search in one
//! sorted key list plus a scan of the matching range; the one-character prefixes, whose ranges
//! can be long, are answered from lists precomputed at build time. Fast enough for every
//! keystroke.

use std::collections::HashMap;

use super::keywords::Keywords;
use super::tokenize::{self, Script};
use super::vocab::{Field, Vocabulary};
use crate::taxonomy::CategoryId;

/// What a suggestion stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestionKind {
    /// A category keyword or label: searching it finds the category.
    Category,
    /// A word or run of characters of facility names.
    Name,
}

/// One completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub text: String,
    pub kind: SuggestionKind,
    /// The category a [`SuggestionKind::Category`] suggestion names.
    pub category: Option<CategoryId>,
    /// Facilities of that category, or facilities whose name holds the text.
    pub n_facilities: u32,
}

/// Ranges longer than this for a one-character prefix are answered from the precomputed list.
const LONG_RANGE: usize = 2048;
/// Length of the precomputed lists.
const TOP_PER_CHAR: usize = 32;

pub struct Suggester {
    /// Entries in rank order: categories first, then by facility count, then by text.
    entries: Vec<Suggestion>,
    key_arena: String,
    /// (key start, key end, entry), sorted by key then entry.
    keys: Vec<(u32, u32, u32)>,
    top_by_first_char: HashMap<char, Vec<u32>>,
}

impl Suggester {
    /// `n_facilities_of_token[tok]` is the number of facilities holding token `tok`;
    /// `n_facilities_of_category[c]` the number in category `c`.
    pub fn build(
        vocab: &Vocabulary,
        n_facilities_of_token: impl Fn(u32) -> u32,
        keywords: &Keywords,
        n_facilities_of_category: impl Fn(CategoryId) -> u32,
    ) -> Suggester {
        // Text → (entry, position of its phrase in the configuration).
        let mut by_text: HashMap<String, (Suggestion, usize)> = HashMap::new();
        for (position, phrase) in keywords.phrases().iter().enumerate() {
            let entry = Suggestion {
                text: phrase.display.clone(),
                kind: SuggestionKind::Category,
                category: Some(phrase.category),
                n_facilities: n_facilities_of_category(phrase.category),
            };
            let key = phrase.compact.clone();
            // A phrase shared by two categories suggests the larger one.
            match by_text.get(&key) {
                Some((prev, _)) if prev.n_facilities >= entry.n_facilities => {}
                _ => {
                    by_text.insert(key, (entry, position));
                }
            }
        }
        for tok in 0..vocab.len() as u32 {
            if !(vocab.occurs_in(tok, Field::Name) || vocab.occurs_in(tok, Field::NameEn)) {
                continue;
            }
            let text = vocab.text(tok);
            if text.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            by_text.entry(text.to_owned()).or_insert_with(|| {
                let entry = Suggestion {
                    text: text.to_owned(),
                    kind: SuggestionKind::Name,
                    category: None,
                    n_facilities: n_facilities_of_token(tok),
                };
                (entry, usize::MAX)
            });
        }
        // Rank: categories first (keywords before labels, as configured), then by facility
        // count, then by text.
        let mut entries: Vec<(String, Suggestion, usize)> =
            by_text.into_iter().map(|(k, (s, p))| (k, s, p)).collect();
        entries.sort_by(|(_, a, pa), (_, b, pb)| {
            (a.kind != SuggestionKind::Category)
                .cmp(&(b.kind != SuggestionKind::Category))
                .then(b.n_facilities.cmp(&a.n_facilities))
                .then(pa.cmp(pb))
                .then_with(|| a.text.cmp(&b.text))
        });
        let mut key_arena = String::new();
        let mut keys: Vec<(u32, u32, u32)> = Vec::new();
        for (idx, (compact, _, _)) in entries.iter().enumerate() {
            let mut forms = vec![compact.clone()];
            if compact.chars().all(tokenize::is_han) {
                forms.push(tokenize::full_pinyin(compact));
                if compact.chars().count() >= 2 {
                    forms.push(tokenize::initials(compact));
                }
            }
            forms.sort();
            forms.dedup();
            for form in forms {
                let start = key_arena.len() as u32;
                key_arena.push_str(&form);
                keys.push((start, key_arena.len() as u32, idx as u32));
            }
        }
        let key_text = |k: &(u32, u32, u32)| &key_arena[k.0 as usize..k.1 as usize];
        keys.sort_by(|a, b| key_text(a).cmp(key_text(b)).then(a.2.cmp(&b.2)));
        let mut top_by_first_char: HashMap<char, Vec<u32>> = HashMap::new();
        for key in &keys {
            if let Some(c) = key_text(key).chars().next() {
                top_by_first_char.entry(c).or_default().push(key.2);
            }
        }
        for list in top_by_first_char.values_mut() {
            list.sort_unstable();
            list.dedup();
            list.truncate(TOP_PER_CHAR);
            list.shrink_to_fit();
        }
        Suggester {
            entries: entries.into_iter().map(|(_, s, _)| s).collect(),
            key_arena,
            keys,
            top_by_first_char,
        }
    }

    fn key(&self, idx: usize) -> &str {
        let (start, end, _) = self.keys[idx];
        &self.key_arena[start as usize..end as usize]
    }

    /// Up to `limit` completions of `typed`, best first.
    pub fn suggest(&self, typed: &str, limit: usize) -> Vec<&Suggestion> {
        let tokens = tokenize::tokens(typed);
        // Completions are of the last thing typed; a query of several terms completes its
        // last one.
        let Some(last) = tokens.last() else {
            return Vec::new();
        };
        let prefix = if last.script == Script::Word {
            last.text.replace('ü', "v")
        } else {
            last.text.clone()
        };
        let lo = self
            .keys
            .partition_point(|k| &self.key_arena[k.0 as usize..k.1 as usize] < prefix.as_str());
        let mut hi = lo;
        while hi < self.keys.len() && self.key(hi).starts_with(&prefix) {
            hi += 1;
            if hi - lo > LONG_RANGE && prefix.chars().count() == 1 {
                break;
            }
        }
        let mut found: Vec<u32> = if hi - lo > LONG_RANGE {
            let first = prefix.chars().next().unwrap_or_default();
            self.top_by_first_char
                .get(&first)
                .cloned()
                .unwrap_or_default()
        } else {
            self.keys[lo..hi].iter().map(|k| k.2).collect()
        };
        found.sort_unstable();
        found.dedup();
        // One suggestion per category: its best-ranked phrase.
        let mut categories_seen: Vec<CategoryId> = Vec::new();
        found
            .into_iter()
            .map(|idx| &self.entries[idx as usize])
            .filter(|s| match s.category {
                Some(c) if categories_seen.contains(&c) => false,
                Some(c) => {
                    categories_seen.push(c);
                    true
                }
                None => true,
            })
            .take(limit)
            .collect()
    }

    pub fn memory_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| std::mem::size_of::<Suggestion>() + e.text.capacity())
            .sum::<usize>()
            + self.key_arena.capacity()
            + self.keys.capacity() * 12
            + self
                .top_by_first_char
                .values()
                .map(|v| 4 + 24 + 8 + v.capacity() * 4)
                .sum::<usize>()
    }
}
