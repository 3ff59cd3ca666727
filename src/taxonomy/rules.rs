//! Category rules: `[[category_rules]]` config + the categories' aliases → [`RuleSet`], which
//! classifies one source record (any of its fields, by name) into a category.
//!
//! A rule tests one field of a record in one way:
//!
//! | kind           | matches when the field's value …                                        |
//! |----------------|-------------------------------------------------------------------------|
//! | `exact`        | equals the pattern                                                       |
//! | `code_prefix`  | starts with the pattern (for numeric type codes: `090601`, `09`)          |
//! | `segment`      | has the pattern as one segment of a `;`- or `|`-separated path            |
//! | `prefix`       | starts with the pattern                                                  |
//! | `name_suffix`  | ends with the pattern (the field defaults to `name`)                      |
//! | `name_contains`| contains the pattern (the field defaults to `name`)                       |
//!
//! Values and patterns are compared folded: surrounding space trimmed, case and full-width ASCII
//! folded (`Ｐａｒｋ` = `park`). When several rules match, the **most specific wins**, decided
//! in this order:
//!
//! 1. the higher `priority` (default 0; lets a name rule beat an exact value, say);
//! 2. the kind, in the order of the table above (`exact` first, `name_contains` last);
//! 3. within `code_prefix` and `prefix`, `name_suffix` and `name_contains`, the longer pattern;
//!    within `segment`, the deeper segment (`医疗保健服务;综合医院;三级甲等医院`: a rule on
//!    `三级甲等医院` beats one on `综合医院`, which beats one on `医疗保健服务`);
//! 4. the earlier rule in configuration order.
//!
//! A category's id and its `aliases` are `exact` rules on the `category` field. Two rules with the
//! same field, kind and pattern: the later replaces the earlier, so an override file can move a
//! value to another category.
//!
//! Field names are whatever the record answers to: ingest resolves the field map's names
//! (`category`, `name`, …) to the source's columns and any other name to the column of that name;
//! `lifecircle import osm` answers `tags` with `key=value` segments joined by `;`.

use std::collections::HashMap;

use serde::Deserialize;

use super::CategoryId;

/// One `[[category_rules]]` entry as written in the config. Exactly one of the match keys is set;
/// each may be one pattern or a list of them (one rule per pattern).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The category id the rule assigns.
    pub category: String,
    /// The field tested; default `category` (`name` for the name rules).
    pub field: Option<String>,
    pub exact: Option<Patterns>,
    pub code_prefix: Option<Patterns>,
    pub segment: Option<Patterns>,
    pub prefix: Option<Patterns>,
    pub name_suffix: Option<Patterns>,
    pub name_contains: Option<Patterns>,
    /// Higher wins before specificity is looked at; default 0.
    #[serde(default)]
    pub priority: i32,
    /// What an unnamed facility matched by this rule is called (default: the category's label).
    pub label_zh: Option<String>,
    pub label_en: Option<String>,
}

/// One pattern or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Patterns {
    One(String),
    Many(Vec<String>),
}

impl Patterns {
    fn iter(&self) -> impl Iterator<Item = &String> {
        match self {
            Patterns::One(p) => std::slice::from_ref(p).iter(),
            Patterns::Many(ps) => ps.iter(),
        }
    }
}

/// How a rule tests its field, most specific first (the order decides between matching rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchKind {
    Exact,
    CodePrefix,
    Segment,
    Prefix,
    NameSuffix,
    NameContains,
}

impl MatchKind {
    pub fn key(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::CodePrefix => "code_prefix",
            MatchKind::Segment => "segment",
            MatchKind::Prefix => "prefix",
            MatchKind::NameSuffix => "name_suffix",
            MatchKind::NameContains => "name_contains",
        }
    }

    fn default_field(self) -> &'static str {
        match self {
            MatchKind::NameSuffix | MatchKind::NameContains => "name",
            _ => "category",
        }
    }
}

/// Index of a rule in its [`RuleSet`]: which rule classified a facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef(pub u32);

/// Where a rule was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOrigin {
    /// The category's id or one of its `aliases`.
    Alias,
    /// The `[[category_rules]]` entry at this index.
    Config(usize),
}

/// One validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub category: CategoryId,
    pub field: String,
    pub kind: MatchKind,
    /// The pattern as written.
    pub pattern: String,
    pub priority: i32,
    pub label_zh: Option<String>,
    pub label_en: Option<String>,
    pub origin: RuleOrigin,
    /// The folded pattern.
    folded: String,
}

impl Rule {
    /// The rule as a TOML fragment, for reports: `field = "type", segment = "药房"`.
    pub fn describe(&self) -> String {
        format!(
            "field = {:?}, {} = {:?}",
            self.field,
            self.kind.key(),
            self.pattern
        )
    }
}

/// Why a rule is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "category_rules[{idx}] names category `{category}`, which is not defined in [[categories]]"
    )]
    UnknownCategory { idx: usize, category: String },
    #[error(
        "category_rules[{idx}] (category `{category}`) needs exactly one of exact, code_prefix, segment, prefix, name_suffix, name_contains"
    )]
    MatchCount { idx: usize, category: String },
    #[error("category_rules[{idx}] (category `{category}`) has an empty pattern")]
    EmptyPattern { idx: usize, category: String },
}

/// Every rule, indexed for classification.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Every field some rule reads.
    fields: Vec<String>,
    /// Per field (same index as `fields`), its rules indexed: a record is classified once per
    /// facility, a million times at city scale, so a field's rules are found by position.
    by_field: Vec<FieldRules>,
}

/// The rules on one field, indexed.
#[derive(Debug, Clone, Default)]
struct FieldRules {
    /// Folded value → rule, for `exact`.
    exact: HashMap<String, RuleRef>,
    /// Folded pattern → rule, for `code_prefix` and `prefix` (looked up at every prefix length
    /// of the value, up to the longest pattern).
    code_prefix: HashMap<String, RuleRef>,
    prefix: HashMap<String, RuleRef>,
    /// Bytes of the longest `code_prefix` or `prefix` pattern.
    longest_prefix: usize,
    /// Folded segment → rule.
    segment: HashMap<String, RuleRef>,
    /// `name_suffix` and `name_contains` rules (scanned).
    scanned: Vec<RuleRef>,
}

/// A rule to add: (category, field, kind, pattern, priority, labels, origin).
pub(super) struct NewRule<'a> {
    pub category: CategoryId,
    pub field: &'a str,
    pub kind: MatchKind,
    pub pattern: &'a str,
    pub priority: i32,
    pub label_zh: Option<&'a str>,
    pub label_en: Option<&'a str>,
    pub origin: RuleOrigin,
}

impl RuleSet {
    /// Adds `configs` after the rules already held, resolving category ids with `category_of`.
    pub(super) fn add_configs(
        &mut self,
        configs: &[RuleConfig],
        category_of: impl Fn(&str) -> Option<CategoryId>,
    ) -> Result<(), RuleError> {
        for (idx, config) in configs.iter().enumerate() {
            let category =
                category_of(&config.category).ok_or_else(|| RuleError::UnknownCategory {
                    idx,
                    category: config.category.clone(),
                })?;
            let matches: Vec<(MatchKind, &Patterns)> = [
                (MatchKind::Exact, &config.exact),
                (MatchKind::CodePrefix, &config.code_prefix),
                (MatchKind::Segment, &config.segment),
                (MatchKind::Prefix, &config.prefix),
                (MatchKind::NameSuffix, &config.name_suffix),
                (MatchKind::NameContains, &config.name_contains),
            ]
            .into_iter()
            .filter_map(|(kind, patterns)| patterns.as_ref().map(|p| (kind, p)))
            .collect();
            let [(kind, patterns)] = matches[..] else {
                return Err(RuleError::MatchCount {
                    idx,
                    category: config.category.clone(),
                });
            };
            let field = config.field.as_deref().unwrap_or(kind.default_field());
            for pattern in patterns.iter() {
                if fold(pattern).is_empty() {
                    return Err(RuleError::EmptyPattern {
                        idx,
                        category: config.category.clone(),
                    });
                }
                self.add(NewRule {
                    category,
                    field,
                    kind,
                    pattern,
                    priority: config.priority,
                    label_zh: config.label_zh.as_deref(),
                    label_en: config.label_en.as_deref(),
                    origin: RuleOrigin::Config(idx),
                });
            }
        }
        Ok(())
    }

    /// Adds one rule; a rule with the same field, kind and pattern is replaced.
    pub(super) fn add(&mut self, new: NewRule<'_>) {
        let folded = fold(new.pattern);
        let rule_ref = RuleRef(self.rules.len() as u32);
        let field = new.field.to_owned();
        let field_idx = match self.fields.iter().position(|f| *f == field) {
            Some(idx) => idx,
            None => {
                self.fields.push(field.clone());
                self.by_field.push(FieldRules::default());
                self.fields.len() - 1
            }
        };
        let index = &mut self.by_field[field_idx];
        if matches!(new.kind, MatchKind::CodePrefix | MatchKind::Prefix) {
            index.longest_prefix = index.longest_prefix.max(folded.len());
        }
        let keyed = match new.kind {
            MatchKind::Exact => Some(&mut index.exact),
            MatchKind::CodePrefix => Some(&mut index.code_prefix),
            MatchKind::Prefix => Some(&mut index.prefix),
            MatchKind::Segment => Some(&mut index.segment),
            MatchKind::NameSuffix | MatchKind::NameContains => None,
        };
        match keyed {
            Some(keyed) => {
                keyed.insert(folded.clone(), rule_ref);
            }
            None => {
                let rules = &self.rules;
                index.scanned.retain(|r| {
                    let old = &rules[r.0 as usize];
                    !(old.kind == new.kind && old.folded == folded)
                });
                index.scanned.push(rule_ref);
            }
        }
        self.rules.push(Rule {
            category: new.category,
            field,
            kind: new.kind,
            pattern: new.pattern.to_owned(),
            priority: new.priority,
            label_zh: new.label_zh.map(str::to_owned),
            label_en: new.label_en.map(str::to_owned),
            origin: new.origin,
            folded,
        });
    }

    pub fn rule(&self, rule: RuleRef) -> &Rule {
        &self.rules[rule.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every field some rule reads, in the order first named.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The most specific rule matching the record (see the module doc), if any. `field` answers
    /// a field's value by name (`None`: the record has no such field, or it is blank).
    pub fn classify<'v>(&self, field: &dyn Fn(&str) -> Option<&'v str>) -> Option<RuleRef> {
        self.classify_fields(|idx| field(&self.fields[idx]))
    }

    /// [`RuleSet::classify`] with the record's values asked by field position: `value(i)` is
    /// the value of the field `fields()[i]`.
    pub fn classify_fields<'v>(&self, value: impl Fn(usize) -> Option<&'v str>) -> Option<RuleRef> {
        let mut best: Option<(Specificity, RuleRef)> = None;
        let mut consider = |rule_ref: RuleRef, depth: usize| {
            let rule = &self.rules[rule_ref.0 as usize];
            let candidate = Specificity {
                priority: rule.priority,
                kind: rule.kind,
                depth,
                order: rule_ref.0,
            };
            if best.as_ref().is_none_or(|(b, _)| candidate.beats(b)) {
                best = Some((candidate, rule_ref));
            }
        };
        for (idx, index) in self.by_field.iter().enumerate() {
            let Some(value) = value(idx).map(fold_borrowed).filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = value.as_ref();
            if let Some(&r) = index.exact.get(value) {
                consider(r, 0);
            }
            if !index.code_prefix.is_empty() || !index.prefix.is_empty() {
                for (end, _) in value
                    .char_indices()
                    .skip(1)
                    .chain(std::iter::once((value.len(), ' ')))
                    .take_while(|&(end, _)| end <= index.longest_prefix)
                {
                    for patterns in [&index.code_prefix, &index.prefix] {
                        if let Some(&r) = patterns.get(&value[..end]) {
                            consider(r, end);
                        }
                    }
                }
            }
            if !index.segment.is_empty() {
                for path in value.split('|') {
                    for (depth, segment) in path.split(';').enumerate() {
                        if let Some(&r) = index.segment.get(segment.trim()) {
                            consider(r, depth);
                        }
                    }
                }
            }
            for &r in &index.scanned {
                let rule = &self.rules[r.0 as usize];
                let hit = match rule.kind {
                    // The last byte first: most values end otherwise, and cheaper to tell.
                    MatchKind::NameSuffix => {
                        value.as_bytes().last() == rule.folded.as_bytes().last()
                            && value.ends_with(&rule.folded)
                    }
                    _ => value.contains(&rule.folded),
                };
                if hit {
                    consider(r, rule.folded.len());
                }
            }
        }
        best.map(|(_, r)| r)
    }
}

/// How specific a match is; see the module doc for the order.
struct Specificity {
    priority: i32,
    kind: MatchKind,
    /// Pattern length or segment depth: larger is more specific.
    depth: usize,
    order: u32,
}

impl Specificity {
    fn beats(&self, other: &Specificity) -> bool {
        (
            self.priority,
            std::cmp::Reverse(self.kind),
            self.depth,
            std::cmp::Reverse(self.order),
        ) > (
            other.priority,
            std::cmp::Reverse(other.kind),
            other.depth,
            std::cmp::Reverse(other.order),
        )
    }
}

/// Folds text for matching: trimmed, full-width ASCII and the ideographic space to half-width,
/// lowercase.
pub fn fold(text: &str) -> String {
    fold_borrowed(text).into_owned()
}

/// [`fold`], borrowing the trimmed text when folding leaves it as it is (lowercase ASCII and
/// Chinese, the common case), so classifying a record allocates nothing for it.
fn fold_borrowed(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
    if trimmed.chars().all(folds_to_itself) {
        return std::borrow::Cow::Borrowed(trimmed);
    }
    std::borrow::Cow::Owned(
        trimmed
            .chars()
            .map(half_width)
            .flat_map(char::to_lowercase)
            .collect(),
    )
}

/// Whether `c` is its own folded form, for the characters most values are made of: ASCII
/// other than capitals, and U+3001–U+9FFF (CJK punctuation, kana, unified ideographs), which
/// have no case and no half-width form.
fn folds_to_itself(c: char) -> bool {
    (c.is_ascii() && !c.is_ascii_uppercase()) || ('\u{3001}'..='\u{9FFF}').contains(&c)
}

/// The half-width form of a full-width ASCII character (U+FF01–FF5E) or the ideographic space.
pub fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_taken_as_folded_fold_to_themselves() {
        let slow = |c: char| -> String {
            std::iter::once(half_width(c))
                .flat_map(char::to_lowercase)
                .collect()
        };
        for c in (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| folds_to_itself(c))
        {
            assert_eq!(slow(c), c.to_string(), "U+{:04X}", c as u32);
        }
        for text in [
            "  Ｐａｒｋ\u{3000}",
            "中山公园",
            "社区卫生服务中心(Ａ座)",
            "bus_stop",
            " MiXeD 文字 ",
        ] {
            let expected: String = text
                .trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}')
                .chars()
                .map(half_width)
                .flat_map(char::to_lowercase)
                .collect();
            assert_eq!(fold(text), expected, "{text:?}");
        }
    }
}
