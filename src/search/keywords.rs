//! Category keywords: the taxonomy's keywords, labels and ids → which categories a query term
//! names (买菜 → market, 看病 → medical, "pharmacy" → pharmacy).
//!
//! The words come from the configuration (`[[categories]]` `keywords`, `label_zh`,
//! `label_en`, `id`), never from code. A term names a category when it is one of its phrases
//! (a Chinese phrase, a word of an English phrase, or the full pinyin of a Chinese phrase, or its
//! initials when the phrase has three or more characters); a term that only starts a phrase
//! names it more weakly. Phrases also split query terms that run a place and a category
//! together (华阳幼儿园 → 华阳 + 幼儿园), or that match nothing as a whole.

use super::tokenize::{self, PinyinMatch, Script};
use crate::taxonomy::{CategoryId, Taxonomy};

/// One configured phrase of one category.
#[derive(Debug, Clone)]
pub struct Phrase {
    pub category: CategoryId,
    /// As written in the configuration, for suggestions.
    pub display: String,
    /// Normalised tokens.
    pub tokens: Vec<tokenize::Token>,
    /// The tokens concatenated.
    pub compact: String,
    /// Pinyin readings of each character of `compact` when the phrase is all Han.
    readings: Option<Vec<Vec<String>>>,
}

/// Every phrase of every category.
#[derive(Debug, Clone)]
pub struct Keywords {
    phrases: Vec<Phrase>,
    n_categories: usize,
}

impl Keywords {
    pub fn new(taxonomy: &Taxonomy) -> Keywords {
        let mut phrases = Vec::new();
        for (id, category) in taxonomy.categories() {
            let texts = category.keywords.iter().chain([
                &category.label_zh,
                &category.label_en,
                &category.id,
            ]);
            for text in texts {
                let tokens = tokenize::tokens(text);
                if tokens.is_empty() {
                    continue;
                }
                let compact: String = tokens.iter().map(|t| t.text.as_str()).collect();
                let all_han = tokens.iter().all(|t| t.script == Script::Han);
                phrases.push(Phrase {
                    category: id,
                    display: text.trim().to_owned(),
                    readings: all_han.then(|| tokenize::readings_of(&compact)),
                    tokens,
                    compact,
                });
            }
        }
        Keywords {
            phrases,
            n_categories: taxonomy.len(),
        }
    }

    pub fn phrases(&self) -> &[Phrase] {
        &self.phrases
    }

    /// The level (0 = none, 2 = partial, 3 = strong) at which `term` names each category,
    /// indexed by category.
    pub fn levels(&self, term: &tokenize::Token) -> Vec<u8> {
        let mut levels = vec![0u8; self.n_categories];
        for phrase in &self.phrases {
            let level = phrase_level(phrase, term);
            let slot = &mut levels[phrase.category.0 as usize];
            *slot = (*slot).max(level);
        }
        levels
    }

    /// Splits a Han term that ends with a category phrase into the rest and the phrase
    /// (华阳幼儿园 → [华阳, 幼儿园]): a place and a kind of facility, the commonest way to run
    /// words together. `None` when it does not end with a phrase shorter than itself.
    pub fn split_suffix(&self, term: &str) -> Option<[String; 2]> {
        let longest = self
            .phrases
            .iter()
            .filter(|p| {
                p.readings.is_some() && p.compact.len() < term.len() && term.ends_with(&p.compact)
            })
            .max_by_key(|p| (p.compact.len(), std::cmp::Reverse(&p.compact)))?;
        let rest = &term[..term.len() - longest.compact.len()];
        Some([rest.to_owned(), longest.compact.clone()])
    }

    /// Splits a Han term around the longest phrase it contains (仙霞菜市场旁 → [仙霞, 菜市场,
    /// 旁]); `None` when it contains no phrase other than itself.
    pub fn split(&self, term: &str) -> Option<Vec<String>> {
        let longest = self
            .phrases
            .iter()
            .filter(|p| p.readings.is_some() && p.compact != term && term.contains(&p.compact))
            .max_by_key(|p| (p.compact.chars().count(), std::cmp::Reverse(&p.compact)))?;
        let at = term.find(&longest.compact)?;
        let (before, rest) = term.split_at(at);
        let after = &rest[longest.compact.len()..];
        Some(
            [before, longest.compact.as_str(), after]
                .into_iter()
                .filter(|piece| !piece.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn memory_bytes(&self) -> usize {
        self.phrases
            .iter()
            .map(|p| {
                std::mem::size_of::<Phrase>()
                    + p.display.capacity()
                    + p.compact.capacity()
                    + p.tokens
                        .iter()
                        .map(|t| 32 + t.text.capacity())
                        .sum::<usize>()
                    + p.readings.as_ref().map_or(0, |rs| {
                        rs.iter()
                            .map(|r| 24 + r.iter().map(|s| 24 + s.capacity()).sum::<usize>())
                            .sum()
                    })
            })
            .sum()
    }
}

fn phrase_level(phrase: &Phrase, term: &tokenize::Token) -> u8 {
    let text = term.text.as_str();
    match term.script {
        Script::Han => {
            if phrase.readings.is_none() {
                0
            } else if phrase.compact == text {
                3
            } else if text.chars().count() >= 2 && phrase.compact.starts_with(text) {
                2
            } else {
                0
            }
        }
        Script::Word => {
            let mut level = 0;
            for word in phrase.tokens.iter().filter(|t| t.script == Script::Word) {
                if word.text == text {
                    level = 3;
                } else if text.len() >= 3 && word.text.starts_with(text) {
                    level = level.max(2);
                }
            }
            if let Some(readings) = &phrase.readings
                && text.len() >= 2
                && text.bytes().all(|b| b.is_ascii_lowercase())
                && let Some(hit) = tokenize::match_pinyin(text, readings)
                && hit.whole
            {
                let n_chars = readings.len();
                let pinyin_level = match hit.kind {
                    PinyinMatch::Full => 3,
                    PinyinMatch::Initials if n_chars >= 3 => 3,
                    PinyinMatch::Initials => 0,
                };
                level = level.max(pinyin_level);
            }
            level
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn keywords() -> (Keywords, Taxonomy) {
        let taxonomy = Config::embedded().unwrap().taxonomy().unwrap();
        (Keywords::new(&taxonomy), taxonomy)
    }

    /// The categories `term` names at `level`, by id, sorted.
    fn check(term: &str, level: u8, expected: &[&str]) {
        let (keywords, taxonomy) = keywords();
        let token = &tokenize::tokens(term)[0];
        let levels = keywords.levels(token);
        let mut got: Vec<&str> = taxonomy
            .categories()
            .filter(|(id, _)| levels[id.0 as usize] == level)
            .map(|(_, c)| c.id.as_str())
            .collect();
        got.sort();
        assert_eq!(got, expected, "categories {term:?} names at level {level}");
    }

    #[test]
    fn configured_keywords_name_categories() {
        // 买菜 is configured for both.
        check("买菜", 3, &["market", "supermarket"]);
        check("看病", 3, &["medical"]);
        check("卫生", 3, &["medical"]);
        check("pharmacy", 3, &["pharmacy"]);
        check("PHARMACY", 3, &["pharmacy"]);
        check("school", 3, &["education"]);
        check("market", 3, &["market"]);
        check("幼儿园", 3, &["kindergarten"]);
        check("youeryuan", 3, &["kindergarten"]);
        check("yey", 3, &["kindergarten"]);
        check("maicai", 3, &["market", "supermarket"]);
        check("kanbing", 3, &["medical"]);
        // Starting a phrase is a weaker match.
        check("pharm", 2, &["pharmacy"]);
        check("菜市", 3, &["market"]);
        check("社区服", 2, &["community_service"]);
        check("幼儿园旁边", 3, &[]);
    }

    #[test]
    fn run_together_terms_split_around_phrases() {
        let (keywords, _) = keywords();
        assert_eq!(
            keywords.split("华阳幼儿园"),
            Some(vec!["华阳".to_owned(), "幼儿园".to_owned()])
        );
        assert_eq!(
            keywords.split("仙霞菜市场旁"),
            Some(vec![
                "仙霞".to_owned(),
                "菜市场".to_owned(),
                "旁".to_owned()
            ])
        );
        assert_eq!(keywords.split("幼儿园"), None);
        assert_eq!(keywords.split("华阳"), None);
        assert_eq!(
            keywords.split_suffix("华阳幼儿园"),
            Some(["华阳".to_owned(), "幼儿园".to_owned()])
        );
        assert_eq!(
            keywords.split_suffix("长宁区图书馆"),
            Some(["长宁区".to_owned(), "图书馆".to_owned()])
        );
        assert_eq!(keywords.split_suffix("幼儿园"), None);
        assert_eq!(keywords.split_suffix("社区卫生服务中心"), None);
    }
}
