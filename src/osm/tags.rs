//! What OpenStreetMap tags mean here: which ways pedestrians can walk ([`walkable`]), which tags
//! describe a facility ([`FACILITY_KEYS`], [`facility_tags`]), and the default tag rules that put
//! a facility in a taxonomy category ([`TagRules`]).
//!
//! Tags are read through a lookup `tag(key) -> Option<value>`, so the rules apply the same way to
//! nodes, ways and relations, whatever holds the tags.

use crate::taxonomy::Taxonomy;

/// A tag lookup: the value of `key`, if the element has it.
pub type Tags<'a> = dyn Fn(&str) -> Option<&'a str> + 'a;

/// `highway` values pedestrians may walk unless other tags forbid it.
const WALKABLE_HIGHWAYS: &[&str] = &[
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "footway",
    "steps",
    "path",
    "track",
    "cycleway",
    "bridleway",
    "corridor",
    "elevator",
    "road",
];

/// `highway` values walkable only with a sidewalk or explicit foot access.
const FAST_HIGHWAYS: &[&str] = &["motorway", "motorway_link", "trunk", "trunk_link"];

/// `foot` values that allow walking whatever `access` says.
const FOOT_ALLOWED: &[&str] = &["yes", "designated", "permissive"];

/// `sidewalk` (and `sidewalk:left|right|both`) values meaning a sidewalk is on the road itself.
/// `separate` means it is mapped as its own footway, which is walked instead.
const SIDEWALK_PRESENT: &[&str] = &["both", "left", "right", "yes"];

/// Whether a way with these tags belongs to the walking network.
///
/// - `highway` must be a walkable class; `motorway`, `trunk` and their links only with a sidewalk
///   (`sidewalk=both|left|right|yes`, `sidewalk:left|right|both=yes`) or `foot=yes|designated|
///   permissive`;
/// - `foot=no` (and `use_sidepath`, `private`) drops the way; `access=private|no` drops it unless
///   `foot` allows walking;
/// - areas (`area=yes`) are kept only for `pedestrian` and `footway` squares: their outline is
///   walked (a square is crossed along its edge, at most about π/2 times the straight line);
///   other highway areas (car parks, turning circles) are dropped;
/// - planned, closed and racing ways (`construction`, `proposed`, `raceway`, …) are not walkable
///   classes.
pub fn walkable(tag: &Tags<'_>) -> bool {
    let Some(highway) = tag("highway") else {
        return false;
    };
    let foot = tag("foot");
    if matches!(foot, Some("no" | "use_sidepath" | "private")) {
        return false;
    }
    let foot_allowed = foot.is_some_and(|f| FOOT_ALLOWED.contains(&f));
    if matches!(tag("access"), Some("private" | "no")) && !foot_allowed {
        return false;
    }
    if tag("area") == Some("yes") && !matches!(highway, "pedestrian" | "footway") {
        return false;
    }
    if FAST_HIGHWAYS.contains(&highway) {
        let sidewalk = tag("sidewalk").is_some_and(|s| SIDEWALK_PRESENT.contains(&s))
            || ["sidewalk:both", "sidewalk:left", "sidewalk:right"]
                .iter()
                .any(|k| tag(k) == Some("yes"));
        return sidewalk || foot_allowed;
    }
    WALKABLE_HIGHWAYS.contains(&highway)
}

/// Tag keys that describe what a facility is; kept in the facilities file's `tags` column.
pub const FACILITY_KEYS: &[&str] = &[
    "amenity",
    "shop",
    "leisure",
    "healthcare",
    "social_facility",
    "social_facility:for",
    "sport",
    "office",
    "public_transport",
    "railway",
    "station",
    "highway",
    "tourism",
    "school",
    "isced:level",
    "government",
    "access",
];

/// The element's facility tags as `key=value` segments joined by `;`, in [`FACILITY_KEYS`]
/// order. `highway` is kept only for bus stops (it is the road class otherwise).
pub fn facility_tags(tag: &Tags<'_>) -> String {
    let mut out = String::new();
    for &key in FACILITY_KEYS {
        let Some(value) = tag(key) else { continue };
        if key == "highway" && value != "bus_stop" {
            continue;
        }
        // OSM separates several values with `;` (`amenity=school;kindergarten`): one segment each.
        for value in value.split(';').map(str::trim).filter(|v| !v.is_empty()) {
            if !out.is_empty() {
                out.push(';');
            }
            out.push_str(key);
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// Classifies by the taxonomy's `[[category_rules]]` on the `tags` field (and `name` for name
/// rules): the rules that classify the imported file when the server reads it, so an override
/// that adds a tag rule changes what `import osm` keeps. Elements without facility tags are not
/// facilities; a leisure area tagged `access=private|no` (a private garden, a hotel pool) is
/// not a public facility.
pub struct TaxonomyRules<'a> {
    taxonomy: &'a Taxonomy,
}

impl<'a> TaxonomyRules<'a> {
    pub fn new(taxonomy: &'a Taxonomy) -> TaxonomyRules<'a> {
        TaxonomyRules { taxonomy }
    }
}

impl TagClassifier for TaxonomyRules<'_> {
    fn classify(&self, tag: &Tags<'_>) -> Option<&str> {
        let joined = facility_tags(tag);
        if joined.is_empty() {
            return None;
        }
        if tag("leisure").is_some() && matches!(tag("access"), Some("private" | "no")) {
            return None;
        }
        let field = |name: &str| match name {
            "tags" => Some(joined.as_str()),
            "name" => tag("name"),
            _ => None,
        };
        let (category, _) = self.taxonomy.classify_record(&field)?;
        (category != self.taxonomy.fallback()).then(|| self.taxonomy.category(category).id.as_str())
    }
}

/// One default rule: elements tagged `key=value` are in category `category`; with `public_only`
/// not when tagged `access=private|no` (private gardens, hotel pools).
struct Rule {
    key: &'static str,
    value: &'static str,
    category: &'static str,
    public_only: bool,
}

const fn rule(key: &'static str, value: &'static str, category: &'static str) -> Rule {
    Rule {
        key,
        value,
        category,
        public_only: false,
    }
}

const fn public(key: &'static str, value: &'static str, category: &'static str) -> Rule {
    Rule {
        key,
        value,
        category,
        public_only: true,
    }
}

/// The default OpenStreetMap tag → category rules, first match wins. Categories missing from the
/// taxonomy in use are skipped.
const DEFAULT_RULES: &[Rule] = &[
    rule("amenity", "kindergarten", "kindergarten"),
    rule("amenity", "childcare", "kindergarten"),
    rule("amenity", "school", "education"),
    rule("social_facility", "nursing_home", "elderly"),
    rule("social_facility", "assisted_living", "elderly"),
    rule("amenity", "nursing_home", "elderly"),
    rule("amenity", "pharmacy", "pharmacy"),
    rule("healthcare", "pharmacy", "pharmacy"),
    rule("amenity", "hospital", "medical"),
    rule("amenity", "clinic", "medical"),
    rule("amenity", "doctors", "medical"),
    rule("healthcare", "hospital", "medical"),
    rule("healthcare", "clinic", "medical"),
    rule("healthcare", "centre", "medical"),
    rule("healthcare", "doctor", "medical"),
    rule("amenity", "marketplace", "market"),
    rule("shop", "greengrocer", "market"),
    rule("shop", "supermarket", "supermarket"),
    rule("shop", "convenience", "supermarket"),
    public("leisure", "park", "park"),
    public("leisure", "garden", "park"),
    rule("leisure", "sports_centre", "sport"),
    rule("leisure", "fitness_centre", "sport"),
    rule("leisure", "fitness_station", "sport"),
    rule("leisure", "stadium", "sport"),
    public("leisure", "pitch", "sport"),
    public("leisure", "swimming_pool", "sport"),
    rule("amenity", "library", "culture"),
    rule("amenity", "community_centre", "culture"),
    rule("amenity", "arts_centre", "culture"),
    rule("amenity", "theatre", "culture"),
    rule("tourism", "museum", "culture"),
    rule("amenity", "townhall", "community_service"),
    rule("amenity", "social_centre", "community_service"),
    rule("amenity", "bank", "bank"),
    rule("amenity", "atm", "bank"),
    rule("amenity", "post_office", "bank"),
    rule("highway", "bus_stop", "transit"),
    rule("amenity", "bus_station", "transit"),
    rule("railway", "station", "transit"),
    rule("railway", "halt", "transit"),
    rule("railway", "tram_stop", "transit"),
    rule("public_transport", "station", "transit"),
];

/// Puts an element in a category from its tags.
pub trait TagClassifier: Sync {
    /// The category id (`"medical"`) of an element with these tags; `None`: not a facility.
    fn classify(&self, tag: &Tags<'_>) -> Option<&str>;
}

/// The default rules, or those of them whose category a taxonomy defines.
pub struct TagRules {
    rules: Vec<&'static Rule>,
}

impl TagRules {
    /// Every default rule (the categories of the built-in taxonomy).
    pub fn all() -> TagRules {
        TagRules {
            rules: DEFAULT_RULES.iter().collect(),
        }
    }

    /// The default rules naming a category of `taxonomy`.
    pub fn for_taxonomy(taxonomy: &Taxonomy) -> TagRules {
        let rules = DEFAULT_RULES
            .iter()
            .filter(|r| taxonomy.by_id(r.category).is_some())
            .collect();
        TagRules { rules }
    }
}

impl TagClassifier for TagRules {
    fn classify(&self, tag: &Tags<'_>) -> Option<&str> {
        let private = matches!(tag("access"), Some("private" | "no"));
        self.rules.iter().find_map(|r| {
            // OSM separates several values with `;` (`amenity=school;kindergarten`).
            let matches = tag(r.key).is_some_and(|v| v.split(';').any(|v| v.trim() == r.value));
            (matches && !(r.public_only && private)).then_some(r.category)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn walk(pairs: &[(&str, &str)]) -> bool {
        walkable(&lookup(pairs))
    }

    #[test]
    fn walkable_ways() {
        assert!(walk(&[("highway", "residential")]));
        assert!(walk(&[("highway", "footway")]));
        assert!(walk(&[("highway", "steps")]));
        assert!(walk(&[("highway", "cycleway")]));
        assert!(!walk(&[("highway", "cycleway"), ("foot", "no")]));
        assert!(!walk(&[("highway", "motorway")]));
        assert!(!walk(&[("highway", "trunk")]));
        assert!(!walk(&[("highway", "trunk"), ("sidewalk", "separate")]));
        assert!(!walk(&[("highway", "trunk"), ("sidewalk", "no")]));
        assert!(walk(&[("highway", "trunk"), ("sidewalk", "both")]));
        assert!(walk(&[("highway", "trunk_link"), ("sidewalk:left", "yes")]));
        assert!(walk(&[("highway", "motorway"), ("foot", "designated")]));
        assert!(!walk(&[("highway", "service"), ("access", "private")]));
        assert!(!walk(&[("highway", "service"), ("access", "no")]));
        assert!(walk(&[
            ("highway", "service"),
            ("access", "private"),
            ("foot", "yes")
        ]));
        assert!(walk(&[("highway", "service"), ("access", "destination")]));
        assert!(!walk(&[("highway", "construction")]));
        assert!(!walk(&[("highway", "proposed")]));
        assert!(!walk(&[("amenity", "school")]));
        assert!(walk(&[("highway", "pedestrian"), ("area", "yes")]));
        assert!(!walk(&[("highway", "service"), ("area", "yes")]));
    }

    #[test]
    fn taxonomy_rules_classify_like_the_built_in_tag_rules() {
        let taxonomy = Config::embedded().unwrap().taxonomy().unwrap();
        let by_taxonomy = TaxonomyRules::new(&taxonomy);
        let built_in = TagRules::for_taxonomy(&taxonomy);
        for rule in DEFAULT_RULES {
            let pairs = [(rule.key, rule.value)];
            assert_eq!(
                by_taxonomy.classify(&lookup(&pairs)),
                built_in.classify(&lookup(&pairs)),
                "{}={}",
                rule.key,
                rule.value
            );
        }
        let class =
            |pairs: &[(&str, &str)]| by_taxonomy.classify(&lookup(pairs)).map(str::to_owned);
        assert_eq!(class(&[("leisure", "garden"), ("access", "private")]), None);
        assert_eq!(class(&[("amenity", "restaurant")]), None);
        assert_eq!(class(&[("name", "天山公园")]), None, "no facility tags");
    }

    #[test]
    fn default_rules_classify_common_tags() {
        let taxonomy = Config::embedded().unwrap().taxonomy().unwrap();
        let rules = TagRules::for_taxonomy(&taxonomy);
        let class = |pairs: &[(&str, &str)]| rules.classify(&lookup(pairs)).map(str::to_owned);
        assert_eq!(class(&[("amenity", "clinic")]).as_deref(), Some("medical"));
        assert_eq!(
            class(&[("amenity", "school;kindergarten")]).as_deref(),
            Some("kindergarten")
        );
        assert_eq!(
            class(&[
                ("social_facility", "nursing_home"),
                ("amenity", "social_facility")
            ])
            .as_deref(),
            Some("elderly")
        );
        assert_eq!(class(&[("leisure", "park")]).as_deref(), Some("park"));
        assert_eq!(class(&[("leisure", "garden"), ("access", "private")]), None);
        assert_eq!(
            class(&[("highway", "bus_stop")]).as_deref(),
            Some("transit")
        );
        assert_eq!(class(&[("highway", "residential")]), None);
        assert_eq!(class(&[("amenity", "parking")]), None);
    }

    #[test]
    fn facility_tags_keep_the_describing_keys() {
        let tags = facility_tags(&lookup(&[
            ("name", "静安公园"),
            ("leisure", "park"),
            ("highway", "footway"),
            ("access", "yes"),
        ]));
        assert_eq!(tags, "leisure=park;access=yes");
        let tags = facility_tags(&lookup(&[
            ("highway", "bus_stop"),
            ("public_transport", "platform"),
        ]));
        assert_eq!(tags, "public_transport=platform;highway=bus_stop");
    }
}
