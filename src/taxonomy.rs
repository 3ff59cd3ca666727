//! The category taxonomy: config sections → [`Taxonomy`].
//!
//! Ids, Chinese and English labels, colours, the five "宜" groups, walking thresholds, search
//! keywords and the raw source values that map to each category. It is the single source of truth
//! for tiles, styles, coverage and search: no other module names a category.
//!
//! [`Taxonomy::classify_record`] puts a source record into a category by the ordered rules of
//! `[[category_rules]]` and the categories' aliases (see [`rules`] for the matching order).

pub mod rules;

use std::collections::HashMap;

use serde::Deserialize;

pub use rules::{MatchKind, Rule, RuleConfig, RuleError, RuleRef, RuleSet};

/// Index of a category in its [`Taxonomy`]; cheap to copy and store per facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryId(pub u8);

/// Index of a group in its [`Taxonomy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u8);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryConfig {
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
    pub color: String,
    pub group: String,
    pub walk_min: u32,
    pub essential: bool,
    pub keywords: Vec<String>,
    pub aliases: Vec<String>,
    /// Function values (a facility's `functions` attribute) that make a facility of another
    /// category also serve this one (助餐 → elderly).
    #[serde(default)]
    pub functions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyOptions {
    /// Category given to facilities whose source category matches nothing.
    pub fallback: String,
    /// When an override file sets this, its `[[category_rules]]` replace the default's instead of
    /// being added after them (handled when the files are merged, see `config`).
    #[serde(default)]
    pub replace_default_rules: bool,
    /// More function → category mappings (`"四点半课堂" = "education"`), beside the categories'
    /// own `functions` lists; an override file adds to them key by key.
    #[serde(default)]
    pub functions: std::collections::BTreeMap<String, String>,
}

/// One "宜" group.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
}

/// One facility category.
#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
    /// `#rrggbb`.
    pub color: String,
    pub group: GroupId,
    /// Walking threshold of this category's life circle, minutes.
    pub walk_min: u32,
    pub essential: bool,
    pub keywords: Vec<String>,
    pub aliases: Vec<String>,
    /// Function values that make a facility also serve this category.
    pub functions: Vec<String>,
}

/// Why a taxonomy is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no categories are defined")]
    Empty,
    #[error("more than 255 categories are defined")]
    TooMany,
    #[error("{kind} id `{id}` is defined twice")]
    DuplicateId { kind: &'static str, id: String },
    #[error("{kind} id `{id}` is not a lowercase identifier (a-z, 0-9, _)")]
    BadId { kind: &'static str, id: String },
    #[error("category `{id}` has colour `{color}`; expected #rrggbb")]
    BadColor { id: String, color: String },
    #[error("category `{id}` names group `{group}`, which is not defined in [[groups]]")]
    UnknownGroup { id: String, group: String },
    #[error("category `{id}` has walk_min {walk_min}; expected 1 to 60 minutes")]
    BadWalk { id: String, walk_min: u32 },
    #[error("fallback category `{0}` is not defined in [[categories]]")]
    UnknownFallback(String),
    #[error("source value `{value}` is an alias of both `{first}` and `{second}`")]
    AmbiguousAlias {
        value: String,
        first: String,
        second: String,
    },
    #[error(
        "function `{function}` maps to category `{category}`, which is not defined in [[categories]] (taxonomy.functions)"
    )]
    UnknownFunctionCategory { function: String, category: String },
    #[error("function `{value}` is listed for both `{first}` and `{second}`")]
    AmbiguousFunction {
        value: String,
        first: String,
        second: String,
    },
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// The validated taxonomy.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    categories: Vec<Category>,
    groups: Vec<Group>,
    fallback: CategoryId,
    by_id: HashMap<String, CategoryId>,
    /// Source category values (ids and aliases, case-folded) → category.
    by_source_value: HashMap<String, CategoryId>,
    /// Ids and aliases (as `exact` rules on `category`), then `[[category_rules]]`.
    rules: RuleSet,
    /// Function values (folded) → the category they serve; longest first for containment.
    by_function: Vec<(String, CategoryId)>,
}

impl Taxonomy {
    pub fn from_config(
        groups: &[GroupConfig],
        categories: &[CategoryConfig],
        options: &TaxonomyOptions,
    ) -> Result<Taxonomy, Error> {
        if categories.is_empty() {
            return Err(Error::Empty);
        }
        if categories.len() > 255 {
            return Err(Error::TooMany);
        }
        let mut group_ids: HashMap<&str, GroupId> = HashMap::new();
        for (idx, g) in groups.iter().enumerate() {
            check_id("group", &g.id)?;
            if group_ids.insert(&g.id, GroupId(idx as u8)).is_some() {
                return Err(Error::DuplicateId {
                    kind: "group",
                    id: g.id.clone(),
                });
            }
        }
        let mut by_id = HashMap::new();
        let mut by_source_value: HashMap<String, CategoryId> = HashMap::new();
        let mut out = Vec::with_capacity(categories.len());
        for (idx, c) in categories.iter().enumerate() {
            let cat_id = CategoryId(idx as u8);
            check_id("category", &c.id)?;
            if by_id.insert(c.id.clone(), cat_id).is_some() {
                return Err(Error::DuplicateId {
                    kind: "category",
                    id: c.id.clone(),
                });
            }
            if !is_hex_color(&c.color) {
                return Err(Error::BadColor {
                    id: c.id.clone(),
                    color: c.color.clone(),
                });
            }
            let group = *group_ids
                .get(c.group.as_str())
                .ok_or_else(|| Error::UnknownGroup {
                    id: c.id.clone(),
                    group: c.group.clone(),
                })?;
            if !(1..=60).contains(&c.walk_min) {
                return Err(Error::BadWalk {
                    id: c.id.clone(),
                    walk_min: c.walk_min,
                });
            }
            for value in std::iter::once(&c.id).chain(&c.aliases) {
                let key = fold_source_value(value);
                if let Some(prev) = by_source_value.insert(key, cat_id)
                    && prev != cat_id
                {
                    return Err(Error::AmbiguousAlias {
                        value: value.clone(),
                        first: categories[prev.0 as usize].id.clone(),
                        second: c.id.clone(),
                    });
                }
            }
            out.push(Category {
                id: c.id.clone(),
                label_zh: c.label_zh.clone(),
                label_en: c.label_en.clone(),
                color: c.color.to_ascii_lowercase(),
                group,
                walk_min: c.walk_min,
                essential: c.essential,
                keywords: c.keywords.clone(),
                aliases: c.aliases.clone(),
                functions: c.functions.clone(),
            });
        }
        let mut by_function: Vec<(String, CategoryId)> = Vec::new();
        let configured = out.iter().enumerate().flat_map(|(idx, c)| {
            c.functions
                .iter()
                .map(move |f| (f.clone(), Ok(CategoryId(idx as u8))))
        });
        let extra = options
            .functions
            .iter()
            .map(|(f, c)| (f.clone(), by_id.get(c).copied().ok_or_else(|| c.clone())));
        for (function, category) in configured.chain(extra) {
            let category = category.map_err(|category| Error::UnknownFunctionCategory {
                function: function.clone(),
                category,
            })?;
            let key = fold_source_value(&function);
            if key.is_empty() {
                continue;
            }
            match by_function.iter().find(|(k, _)| *k == key) {
                Some((_, prev)) if *prev != category => {
                    return Err(Error::AmbiguousFunction {
                        value: function,
                        first: out[prev.0 as usize].id.clone(),
                        second: out[category.0 as usize].id.clone(),
                    });
                }
                Some(_) => {}
                None => by_function.push((key, category)),
            }
        }
        by_function.sort_by(|a, b| {
            b.0.chars()
                .count()
                .cmp(&a.0.chars().count())
                .then(a.0.cmp(&b.0))
        });
        let fallback = *by_id
            .get(&options.fallback)
            .ok_or_else(|| Error::UnknownFallback(options.fallback.clone()))?;
        let mut rules = RuleSet::default();
        for (idx, c) in out.iter().enumerate() {
            for value in std::iter::once(&c.id).chain(&c.aliases) {
                rules.add(rules::NewRule {
                    category: CategoryId(idx as u8),
                    field: "category",
                    kind: MatchKind::Exact,
                    pattern: value,
                    priority: 0,
                    label_zh: None,
                    label_en: None,
                    origin: rules::RuleOrigin::Alias,
                });
            }
        }
        let groups = groups
            .iter()
            .map(|g| Group {
                id: g.id.clone(),
                label_zh: g.label_zh.clone(),
                label_en: g.label_en.clone(),
            })
            .collect();
        Ok(Taxonomy {
            categories: out,
            groups,
            fallback,
            by_id,
            by_source_value,
            rules,
            by_function,
        })
    }

    /// The category a function value (`助餐`, `日间照料中心`) makes a facility also serve: a
    /// configured function equal to it, else the longest one it contains, else a category id or
    /// alias equal to it. `None`: no category takes it (`check` lists such values).
    pub fn function_category(&self, function: &str) -> Option<CategoryId> {
        let folded = fold_source_value(function);
        if folded.is_empty() {
            return None;
        }
        self.by_function
            .iter()
            .find(|(k, _)| *k == folded)
            .or_else(|| {
                self.by_function
                    .iter()
                    .find(|(k, _)| folded.contains(k.as_str()))
            })
            .map(|(_, c)| *c)
            .or_else(|| self.classify(function))
    }

    /// Adds the `[[category_rules]]` after the ids and aliases.
    pub fn with_rules(mut self, configs: &[RuleConfig]) -> Result<Taxonomy, Error> {
        let by_id = &self.by_id;
        self.rules
            .add_configs(configs, |id| by_id.get(id).copied())?;
        Ok(self)
    }

    /// Classifies one source record by the rules (most specific match wins, see [`rules`]);
    /// `field` answers a field's value by name. `None`: no rule matches (the caller uses
    /// [`Taxonomy::fallback`] and should count the value).
    pub fn classify_record<'v>(
        &self,
        field: &dyn Fn(&str) -> Option<&'v str>,
    ) -> Option<(CategoryId, RuleRef)> {
        let rule = self.rules.classify(field)?;
        Some((self.rules.rule(rule).category, rule))
    }

    /// [`Taxonomy::classify_record`] with the record's values asked by field position:
    /// `value(i)` is the value of the field `rules().fields()[i]`.
    pub fn classify_fields<'v>(
        &self,
        value: impl Fn(usize) -> Option<&'v str>,
    ) -> Option<(CategoryId, RuleRef)> {
        let rule = self.rules.classify_fields(value)?;
        Some((self.rules.rule(rule).category, rule))
    }

    /// The rules, for reports (which rule classified what).
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// What an unnamed facility of `category`, classified by `rule`, is called: the rule's label
    /// when it has one (`fclass = pitch` → 体育场地), else the category's. `(zh, en)`.
    pub fn label(&self, category: CategoryId, rule: Option<RuleRef>) -> (&str, &str) {
        let c = self.category(category);
        let rule = rule
            .map(|r| self.rules.rule(r))
            .filter(|r| r.category == category);
        (
            rule.and_then(|r| r.label_zh.as_deref())
                .unwrap_or(&c.label_zh),
            rule.and_then(|r| r.label_en.as_deref())
                .unwrap_or(&c.label_en),
        )
    }

    pub fn len(&self) -> usize {
        self.categories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    pub fn categories(&self) -> impl ExactSizeIterator<Item = (CategoryId, &Category)> {
        self.categories
            .iter()
            .enumerate()
            .map(|(idx, c)| (CategoryId(idx as u8), c))
    }

    pub fn groups(&self) -> impl ExactSizeIterator<Item = (GroupId, &Group)> {
        self.groups
            .iter()
            .enumerate()
            .map(|(idx, g)| (GroupId(idx as u8), g))
    }

    pub fn category(&self, id: CategoryId) -> &Category {
        &self.categories[id.0 as usize]
    }

    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.0 as usize]
    }

    /// Looks a category up by its public id (`"medical"`).
    pub fn by_id(&self, id: &str) -> Option<CategoryId> {
        self.by_id.get(id).copied()
    }

    /// Looks a group up by its public id (`"care"`).
    pub fn group_by_id(&self, id: &str) -> Option<GroupId> {
        self.groups
            .iter()
            .position(|g| g.id == id)
            .map(|idx| GroupId(idx as u8))
    }

    pub fn fallback(&self) -> CategoryId {
        self.fallback
    }

    /// Maps a raw category value from a data file (an id or an alias, any case, surrounding
    /// whitespace ignored) to a category; `None` when it matches nothing.
    pub fn classify(&self, source_value: &str) -> Option<CategoryId> {
        self.by_source_value
            .get(&fold_source_value(source_value))
            .copied()
    }

    /// Parses a comma-separated list of category ids; the error names the first unknown id and
    /// lists the valid ones.
    pub fn parse_list(&self, list: &str) -> Result<Vec<CategoryId>, String> {
        let mut ids = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = self.by_id(part).ok_or_else(|| {
                format!(
                    "unknown category `{part}`; known categories: {}",
                    self.id_list()
                )
            })?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// All category ids, comma-separated, for error messages.
    pub fn id_list(&self) -> String {
        self.categories
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn fold_source_value(value: &str) -> String {
    value.trim().to_lowercase()
}

fn check_id(kind: &'static str, id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::BadId {
            kind,
            id: id.to_owned(),
        })
    }
}

pub(crate) fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn default_taxonomy() -> Taxonomy {
        Config::embedded().unwrap().taxonomy().unwrap()
    }

    #[test]
    fn required_ids_exist() {
        let taxonomy = default_taxonomy();
        for id in [
            "education",
            "kindergarten",
            "medical",
            "pharmacy",
            "elderly",
            "market",
            "supermarket",
            "park",
            "sport",
            "culture",
            "community_service",
            "bank",
            "transit",
            "other",
        ] {
            assert!(taxonomy.by_id(id).is_some(), "missing category {id}");
        }
        assert_eq!(taxonomy.category(taxonomy.fallback()).id, "other");
    }

    #[test]
    fn colours_are_distinct() {
        let taxonomy = default_taxonomy();
        let mut colours: Vec<_> = taxonomy
            .categories()
            .map(|(_, c)| c.color.clone())
            .collect();
        colours.sort();
        colours.dedup();
        assert_eq!(colours.len(), taxonomy.len());
    }

    #[test]
    fn functions_map_to_the_categories_that_list_them() {
        let taxonomy = default_taxonomy();
        let id = |f: &str| {
            taxonomy
                .function_category(f)
                .map(|c| taxonomy.category(c).id.clone())
        };
        assert_eq!(id("助餐").as_deref(), Some("elderly"));
        assert_eq!(
            id("老年助餐点").as_deref(),
            Some("elderly"),
            "contains 助餐"
        );
        assert_eq!(id("卫生服务站").as_deref(), Some("medical"));
        assert_eq!(id("阅览室").as_deref(), Some("culture"));
        assert_eq!(id("pharmacy").as_deref(), Some("pharmacy"), "a category id");
        assert_eq!(id("停车场"), None);
    }

    #[test]
    fn classify_maps_ids_and_aliases() {
        let taxonomy = default_taxonomy();
        let medical = taxonomy.by_id("medical");
        assert_eq!(taxonomy.classify("medical"), medical);
        assert_eq!(taxonomy.classify(" 社区卫生服务中心 "), medical);
        assert_eq!(taxonomy.classify("Clinic"), medical);
        assert_eq!(taxonomy.classify("殡仪服务"), None);
    }

    #[test]
    fn parse_list_names_unknown_ids() {
        let taxonomy = default_taxonomy();
        assert_eq!(taxonomy.parse_list("park,medical,park").unwrap().len(), 2);
        let err = taxonomy.parse_list("park,zoo").unwrap_err();
        assert!(
            err.starts_with("unknown category `zoo`; known categories: education,"),
            "{err}"
        );
    }

    #[test]
    fn invalid_taxonomies_are_rejected() {
        let groups = vec![GroupConfig {
            id: "living".into(),
            label_zh: "宜居".into(),
            label_en: "Living".into(),
        }];
        let category = |id: &str, color: &str, group: &str| CategoryConfig {
            id: id.into(),
            label_zh: id.into(),
            label_en: id.into(),
            color: color.into(),
            group: group.into(),
            walk_min: 10,
            essential: true,
            keywords: vec![],
            aliases: vec!["shared".into()],
            functions: vec![],
        };
        let options = TaxonomyOptions {
            fallback: "a".into(),
            replace_default_rules: false,
            functions: Default::default(),
        };
        let check = |cats: Vec<CategoryConfig>| {
            Taxonomy::from_config(&groups, &cats, &options).unwrap_err()
        };
        assert!(matches!(
            check(vec![category("a", "red", "living")]),
            Error::BadColor { .. }
        ));
        assert!(matches!(
            check(vec![category("a", "#ff0000", "work")]),
            Error::UnknownGroup { .. }
        ));
        assert!(matches!(
            check(vec![category("A b", "#ff0000", "living")]),
            Error::BadId { .. }
        ));
        assert!(matches!(
            check(vec![
                category("a", "#ff0000", "living"),
                category("b", "#00ff00", "living")
            ]),
            Error::AmbiguousAlias { .. }
        ));
    }

    /// The category id and the rule's label for a record given as `(field, value)` pairs.
    fn classify_pairs(taxonomy: &Taxonomy, pairs: &[(&str, &str)]) -> Option<(String, String)> {
        let field = |name: &str| pairs.iter().find(|(f, _)| *f == name).map(|(_, v)| *v);
        let (category, rule) = taxonomy.classify_record(&field)?;
        Some((
            taxonomy.category(category).id.clone(),
            taxonomy.label(category, Some(rule)).0.to_owned(),
        ))
    }

    #[track_caller]
    fn check_rule(taxonomy: &Taxonomy, pairs: &[(&str, &str)], expected: Option<&str>) {
        let got = classify_pairs(taxonomy, pairs).map(|(id, _)| id);
        assert_eq!(got.as_deref(), expected, "{pairs:?}");
    }

    #[test]
    fn default_rules_classify_amap_osm_and_names() {
        let t = default_taxonomy();
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (
                &[("type", "医疗保健服务;医药保健销售店;药房")],
                Some("pharmacy"),
            ),
            (
                &[("type", "医疗保健服务;综合医院;三级甲等医院")],
                Some("medical"),
            ),
            (
                &[("type", "医疗保健服务;动物医疗场所;宠物诊所")],
                Some("other"),
            ),
            (
                &[("type", "科教文化服务;学校;幼儿园")],
                Some("kindergarten"),
            ),
            (&[("type", "科教文化服务;学校;小学")], Some("education")),
            (&[("type", "购物服务;超级市场;超市")], Some("supermarket")),
            (&[("type", "风景名胜;公园广场;公园")], Some("park")),
            (&[("type", "体育休闲服务;运动场馆;运动场所")], Some("sport")),
            (&[("type", "金融保险服务;银行;中国工商银行")], Some("bank")),
            (&[("type", "交通设施服务;地铁站;地铁站")], Some("transit")),
            (
                &[(
                    "type",
                    "餐饮服务;中餐厅;中餐厅|购物服务;便民商店/便利店;便民商店/便利店",
                )],
                Some("supermarket"),
            ),
            (&[("type", "餐饮服务;中餐厅;中餐厅")], None),
            (&[("typecode", "090601")], Some("pharmacy")),
            (&[("typecode", "090100")], Some("medical")),
            (&[("typecode", "141204")], Some("kindergarten")),
            (&[("fclass", "pitch")], Some("sport")),
            (&[("fclass", "nursing_home")], Some("elderly")),
            (&[("fclass", "restaurant")], None),
            (
                &[("tags", "amenity=clinic;healthcare=clinic")],
                Some("medical"),
            ),
            (
                &[(
                    "tags",
                    "amenity=social_facility;social_facility=nursing_home",
                )],
                Some("elderly"),
            ),
            (&[("tags", "leisure=park")], Some("park")),
            (&[("tags", "shop=supermarket")], Some("supermarket")),
            (&[("name", "虹桥路第一幼儿园")], Some("kindergarten")),
            (&[("name", "长宁区天山社区卫生服务中心")], Some("medical")),
            (
                &[("category", "小学"), ("name", "附属幼儿园")],
                Some("education"),
            ),
            (&[("category", "ＣＬＩＮＩＣ")], Some("medical")),
            (&[("category", ""), ("name", "")], None),
        ];
        for (pairs, expected) in cases {
            check_rule(&t, pairs, *expected);
        }
        assert_eq!(
            classify_pairs(&t, &[("fclass", "pitch")]).unwrap().1,
            "体育场地"
        );
        assert_eq!(
            classify_pairs(&t, &[("tags", "leisure=park")]).unwrap().1,
            "公园"
        );
        assert_eq!(
            classify_pairs(&t, &[("fclass", "sports_centre")])
                .unwrap()
                .1,
            "体育健身"
        );
    }

    #[test]
    fn every_category_has_rules() {
        let t = default_taxonomy();
        for (id, c) in t.categories() {
            let n_config_rules = (0..t.rules().len() as u32)
                .map(|r| t.rules().rule(RuleRef(r)))
                .filter(|r| r.category == id && r.origin != rules::RuleOrigin::Alias)
                .count();
            assert!(n_config_rules > 0, "category {} has no rules", c.id);
        }
    }

    #[test]
    fn most_specific_rule_wins() {
        let config = Config::from_toml_str(
            r#"
[[category_rules]]
category = "medical"
field = "code"
code_prefix = "09"

[[category_rules]]
category = "pharmacy"
field = "code"
code_prefix = "090601"

[[category_rules]]
category = "elderly"
field = "kind"
prefix = "养老"

[[category_rules]]
category = "kindergarten"
name_suffix = "幼儿园"
priority = 1
"#,
            std::path::Path::new("."),
        )
        .unwrap();
        let t = config.taxonomy().unwrap();
        check_rule(&t, &[("code", "090601")], Some("pharmacy"));
        check_rule(&t, &[("code", "0906")], Some("medical"));
        check_rule(
            &t,
            &[("code", "090601"), ("kind", "养老院")],
            Some("pharmacy"),
        );
        check_rule(&t, &[("kind", "养老服务站")], Some("elderly"));
        // Priority 1 lets the name beat the exact alias `小学`.
        check_rule(
            &t,
            &[("category", "小学"), ("name", "附属幼儿园")],
            Some("kindergarten"),
        );
    }

    #[test]
    fn override_rules_add_to_the_defaults_or_replace_them() {
        let added = r#"
[[category_rules]]
category = "pharmacy"
field = "type"
segment = "中药铺"

[[category_rules]]
category = "community_service"
field = "fclass"
exact = "community_centre"
"#;
        let t = Config::from_toml_str(added, std::path::Path::new("."))
            .unwrap()
            .taxonomy()
            .unwrap();
        check_rule(&t, &[("type", "购物服务;专卖店;中药铺")], Some("pharmacy"));
        check_rule(
            &t,
            &[("type", "科教文化服务;学校;幼儿园")],
            Some("kindergarten"),
        );
        // The later rule with the same field and pattern replaces the default's.
        check_rule(
            &t,
            &[("fclass", "community_centre")],
            Some("community_service"),
        );

        let replaced = format!("[taxonomy]\nreplace_default_rules = true\n{added}");
        let t = Config::from_toml_str(&replaced, std::path::Path::new("."))
            .unwrap()
            .taxonomy()
            .unwrap();
        check_rule(&t, &[("type", "购物服务;专卖店;中药铺")], Some("pharmacy"));
        check_rule(&t, &[("type", "科教文化服务;学校;幼儿园")], None);
        // Aliases are not rules of the file: they stay.
        check_rule(&t, &[("category", "幼儿园")], Some("kindergarten"));
    }

    #[test]
    fn bad_rules_name_the_entry() {
        let check = |toml: &str, fragment: &str| {
            let err = Config::from_toml_str(toml, std::path::Path::new("."))
                .unwrap_err()
                .to_string();
            assert!(err.contains(fragment), "{err:?} lacks {fragment:?}");
        };
        let first_added = Config::embedded().unwrap().category_rules.len();
        check(
            "[[category_rules]]\ncategory = \"zoo\"\nexact = \"zoo\"\n",
            &format!("category_rules[{first_added}] names category `zoo`"),
        );
        check(
            "[[category_rules]]\ncategory = \"park\"\nexact = \"a\"\nprefix = \"b\"\n",
            "needs exactly one of",
        );
        check(
            "[[category_rules]]\ncategory = \"park\"\nsegment = \" \"\n",
            "empty pattern",
        );
        check(
            "[[category_rules]]\ncategory = \"park\"\nsegmnt = \"x\"\n",
            "unknown field `segmnt`",
        );
    }
}
