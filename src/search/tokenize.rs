//! Text processing for search: raw text → normalised text → tokens, and pinyin for Han
//! characters. One filter per function, applied in this order by [`tokens`]:
//!
//! 1. [`normalize`]: width folding in the spirit of NFKC (full-width ASCII → ASCII, the
//!    ideographic space → a space), case folding, control characters → spaces, and combining
//!    marks, zero-width characters and variation selectors removed.
//! 2. [`split`]: runs of one script. Chinese has no spaces, so a run of Han characters is one
//!    token and search matches *substrings* of it; Latin letters and digits form word tokens;
//!    everything else (spaces, punctuation, symbols, emoji) separates tokens.
//! 3. [`readings`]: the toneless pinyin readings of a Han character (all of them, for
//!    characters with several), from the `pinyin` crate, with `ü` written `v` and `u`.
//!
//! The same functions process facility text when the index is built and the user's query when
//! it is answered, so both sides always agree.

use pinyin::ToPinyinMulti;

/// The script class of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// Han (CJK) ideographs: matched by substring and by pinyin.
    Han,
    /// Letters and digits of any other script: matched as words (prefix, or substring when
    /// long enough).
    Word,
}

/// One token of normalised text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub script: Script,
}

/// Folds width and case and drops characters that carry no searchable meaning. Never fails,
/// whatever the input (emoji, lone combining marks, control characters, private-use code
/// points all pass through or vanish).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// [`normalize`], appending to `out` (the index reuses one buffer for a million texts).
pub fn normalize_into(text: &str, out: &mut String) {
    for c in text.chars() {
        let c = fold_width(c);
        if is_ignorable(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            out.push(' ');
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// Full-width ASCII variants (U+FF01..U+FF5E) → ASCII; the ideographic space → a space.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Combining marks, zero-width characters, variation selectors and the byte-order mark.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// Is `c` a Han ideograph (CJK Unified Ideographs and extensions, compatibility ideographs)?
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2EBEF}'
        | '\u{30000}'..='\u{3134F}'
        | '\u{3007}')
}

fn script_of(c: char) -> Option<Script> {
    if is_han(c) {
        Some(Script::Han)
    } else if c.is_alphanumeric() {
        Some(Script::Word)
    } else {
        None
    }
}

/// Splits normalised text into runs of one script; separators are dropped.
pub fn split(normalized: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    split_spans(normalized, |text, script| {
        tokens.push(Token {
            text: text.to_owned(),
            script,
        })
    });
    tokens
}

/// [`split`] without a `String` per token: calls `emit` with each token's text (a slice of
/// `normalized`) and script, in order.
pub fn split_spans<'a>(normalized: &'a str, mut emit: impl FnMut(&'a str, Script)) {
    // The current run: its start (byte) and script.
    let mut current: Option<(usize, Script)> = None;
    for (at, c) in normalized.char_indices() {
        let script = script_of(c);
        match (current, script) {
            (Some((_, run)), Some(s)) if run == s => {}
            (_, Some(s)) => {
                if let Some((start, run)) = current {
                    emit(&normalized[start..at], run);
                }
                current = Some((at, s));
            }
            (_, None) => {
                if let Some((start, run)) = current.take() {
                    emit(&normalized[start..at], run);
                }
            }
        }
    }
    if let Some((start, run)) = current {
        emit(&normalized[start..], run);
    }
}

/// [`normalize`] then [`split`].
pub fn tokens(text: &str) -> Vec<Token> {
    split(&normalize(text))
}

/// The tokens of `text` concatenated without separators: the form exact and prefix name
/// matches compare (`"全家便利店(仙霞路店)"` → `"全家便利店仙霞路店"`).
pub fn compact(text: &str) -> String {
    tokens(text).into_iter().map(|t| t.text).collect()
}

/// Toneless pinyin readings of a Han character, deduplicated, most common first; empty when
/// the crate knows none. `ü` is written `v` (the input-method convention) and also `u`.
pub fn readings(c: char) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(multi) = c.to_pinyin_multi() else {
        return out;
    };
    for reading in multi {
        let plain = reading.plain();
        let variants = if plain.contains('ü') {
            vec![plain.replace('ü', "v"), plain.replace('ü', "u")]
        } else {
            vec![plain.to_owned()]
        };
        for v in variants {
            if v.bytes().all(|b| b.is_ascii_lowercase()) && !v.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// How a pinyin term matched a run of Han characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PinyinMatch {
    /// First letters of consecutive characters (`yey` → 幼儿园).
    Initials,
    /// Full spellings of consecutive characters, the last possibly incomplete
    /// (`youeryuan`, `youery` → 幼儿园).
    Full,
}

/// Where a pinyin term matched inside a token, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinyinHit {
    pub kind: PinyinMatch,
    /// The match starts at the token's first character.
    pub at_start: bool,
    /// The match covers every character of the token with complete syllables (or initials).
    pub whole: bool,
    /// The last syllable was typed in full (always true for initials).
    pub complete: bool,
}

/// Matches an ASCII-letter `term` against a run of characters given by their readings
/// (`chars[i]` lists the readings of character `i`; non-Han characters have none). Tries every
/// start position and both modes; returns the best hit (full spelling over initials, then a
/// match at the start, then a whole-token match).
pub fn match_pinyin<C, S>(term: &str, chars: &[C]) -> Option<PinyinHit>
where
    C: AsRef<[S]>,
    S: AsRef<str>,
{
    let rank = |h: &PinyinHit| (h.kind, h.complete, h.at_start, h.whole);
    (0..chars.len())
        .filter_map(|start| match_pinyin_at(term, chars, start))
        .max_by(|a, b| rank(a).cmp(&rank(b)))
}

/// Like [`match_pinyin`], for matches beginning at character `start` only.
pub fn match_pinyin_at<C, S>(term: &str, chars: &[C], start: usize) -> Option<PinyinHit>
where
    C: AsRef<[S]>,
    S: AsRef<str>,
{
    let term = term.as_bytes();
    if term.is_empty() || start >= chars.len() {
        return None;
    }
    if let Some((n_chars, complete)) = match_full_from(term, &chars[start..]) {
        return Some(PinyinHit {
            kind: PinyinMatch::Full,
            at_start: start == 0,
            whole: start == 0 && n_chars == chars.len() && complete,
            complete,
        });
    }
    let initials_fit = term.len() >= 2
        && start + term.len() <= chars.len()
        && term.iter().zip(&chars[start..]).all(|(&letter, readings)| {
            readings
                .as_ref()
                .iter()
                .any(|r| r.as_ref().as_bytes().first() == Some(&letter))
        });
    initials_fit.then_some(PinyinHit {
        kind: PinyinMatch::Initials,
        at_start: start == 0,
        whole: start == 0 && term.len() == chars.len(),
        complete: true,
    })
}

/// Full-spelling match of `term` from the first of `chars`: every character but the last
/// consumes one complete reading; the last consumes a complete reading or a prefix of one.
/// Returns the number of characters used and whether the last syllable was complete.
fn match_full_from<C, S>(term: &[u8], chars: &[C]) -> Option<(usize, bool)>
where
    C: AsRef<[S]>,
    S: AsRef<str>,
{
    // Depth-first over readings; terms are short (the query length limit) and characters have
    // at most a handful of readings, so the search is tiny.
    fn go<C, S>(term: &[u8], chars: &[C], used: usize) -> Option<(usize, bool)>
    where
        C: AsRef<[S]>,
        S: AsRef<str>,
    {
        let readings = chars.get(used)?;
        let mut best: Option<(usize, bool)> = None;
        for r in readings.as_ref() {
            let r = r.as_ref().as_bytes();
            if term.len() <= r.len() {
                if r.starts_with(term) {
                    let complete = term.len() == r.len();
                    if best.is_none_or(|b| complete && !b.1) {
                        best = Some((used + 1, complete));
                    }
                }
            } else if term.starts_with(r)
                && let Some(found) = go(&term[r.len()..], chars, used + 1)
                && best.is_none_or(|b| found.1 && !b.1)
            {
                best = Some(found);
            }
        }
        best
    }
    go(term, chars, 0)
}

/// Readings of every character of `text`; characters without pinyin get none.
pub fn readings_of(text: &str) -> Vec<Vec<String>> {
    text.chars().map(readings).collect()
}

/// Full pinyin of `text` (first reading of each Han character; other characters as they are).
pub fn full_pinyin(text: &str) -> String {
    text.chars()
        .map(|c| {
            readings(c)
                .into_iter()
                .next()
                .unwrap_or_else(|| c.to_string())
        })
        .collect()
}

/// Pinyin initials of `text` (first letter of each Han character's first reading; other
/// characters as they are).
pub fn initials(text: &str) -> String {
    text.chars()
        .map(|c| {
            readings(c)
                .first()
                .and_then(|r| r.chars().next())
                .unwrap_or(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_tokens(input: &str, expected: &[(&str, Script)]) {
        let got: Vec<(String, Script)> = tokens(input)
            .into_iter()
            .map(|t| (t.text, t.script))
            .collect();
        let expected: Vec<(String, Script)> = expected
            .iter()
            .map(|(t, s)| ((*t).to_owned(), *s))
            .collect();
        assert_eq!(got, expected, "tokens of {input:?}");
    }

    #[test]
    fn splits_by_script() {
        use Script::*;
        check_tokens(
            "全家便利店(仙霞路店)",
            &[("全家便利店", Han), ("仙霞路店", Han)],
        );
        check_tokens(
            "工商银行ATM(仙霞路)",
            &[("工商银行", Han), ("atm", Word), ("仙霞路", Han)],
        );
        check_tokens(
            "West Yan'an Road 350号",
            &[
                ("west", Word),
                ("yan", Word),
                ("an", Word),
                ("road", Word),
                ("350", Word),
                ("号", Han),
            ],
        );
    }

    #[test]
    fn full_width_latin_folds_to_half_width() {
        assert_eq!(normalize("ＡＴＭ　２４ｈ"), "atm 24h");
        assert_eq!(normalize("（仙霞路店）"), "(仙霞路店)");
        assert_eq!(tokens("ＰＨＡＲＭＡＣＹ"), tokens("pharmacy"));
    }

    #[test]
    fn odd_unicode_never_breaks() {
        // Emoji, combining marks, control characters, zero-width joiners, lone surrogates are
        // impossible in &str, but everything else must pass.
        assert_eq!(normalize("e\u{301}"), "e");
        assert_eq!(normalize("a\u{0}b\u{7}c"), "a b c");
        assert_eq!(compact("👨\u{200D}👩\u{200D}👧 幼儿园🏫"), "幼儿园");
        assert!(tokens("\u{FEFF}\u{FE0F}\u{E0100}").is_empty());
        assert!(tokens("🙂🙂🙂").is_empty());
        // Case folding that changes length (İ → i̇) stays valid UTF-8.
        assert_eq!(normalize("İ"), "i\u{307}");
        assert_eq!(compact("ǅungla"), "ǆungla");
    }

    #[test]
    fn compact_drops_separators() {
        assert_eq!(compact("全家便利店（仙霞路店）"), "全家便利店仙霞路店");
        assert_eq!(compact("Family Mart"), "familymart");
    }

    #[test]
    fn readings_include_heteronyms_and_v() {
        assert_eq!(readings('幼')[0], "you");
        let chang = readings('长');
        assert!(chang.contains(&"chang".to_owned()) && chang.contains(&"zhang".to_owned()));
        let lv = readings('绿');
        assert!(lv.contains(&"lv".to_owned()) && lv.contains(&"lu".to_owned()));
        assert!(readings('a').is_empty());
        assert!(readings('🙂').is_empty());
    }

    fn check_pinyin(term: &str, text: &str, expected: Option<(PinyinMatch, bool, bool)>) {
        let got = match_pinyin(term, &readings_of(text)).map(|h| (h.kind, h.at_start, h.whole));
        assert_eq!(got, expected, "{term:?} against {text:?}");
    }

    #[test]
    fn pinyin_full_spellings_and_initials() {
        use PinyinMatch::*;
        check_pinyin("youeryuan", "幼儿园", Some((Full, true, true)));
        check_pinyin("youery", "幼儿园", Some((Full, true, false)));
        check_pinyin("yey", "幼儿园", Some((Initials, true, true)));
        check_pinyin("youeryuan", "华阳路幼儿园", Some((Full, false, false)));
        check_pinyin("yey", "华阳路幼儿园", Some((Initials, false, false)));
        check_pinyin("huayang", "华阳路幼儿园", Some((Full, true, false)));
        check_pinyin("changning", "长宁", Some((Full, true, true)));
        check_pinyin("zhangning", "长宁", Some((Full, true, true)));
        check_pinyin("youeryuan", "华阳路", None);
        check_pinyin("yex", "幼儿园", None);
        // Mixing spellings and initials is not a match form.
        check_pinyin("yeyuan", "幼儿园", None);
    }
}
