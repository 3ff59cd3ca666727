//! The category taxonomy: config sections → [`Taxonomy`].
//!
//! Ids, Chinese and English labels, colours, the five "宜" groups, walking thresholds, search
//! keywords and the raw source values that map to each category. It is the single source of truth
//! for tiles, styles, coverage and search: no other module names a category.

use std::collections::HashMap;

use serde::Deserialize;

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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyOptions {
    /// Category given to facilities whose source category matches nothing.
    pub fallback: String,
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
            });
        }
        let fallback = *by_id
            .get(&options.fallback)
            .ok_or_else(|| Error::UnknownFallback(options.fallback.clone()))?;
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
        })
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

fn is_hex_color(color: &str) -> bool {
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
        };
        let options = TaxonomyOptions {
            fallback: "a".into(),
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
}
