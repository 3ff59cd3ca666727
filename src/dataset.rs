//! Dataset: ingested layers + taxonomy → an immutable, indexed [`Dataset`].
//!
//! Facilities are sorted by id (so everything derived from them is deterministic whatever the
//! file order) and indexed by id (for `/features/{id}`) and by category (for coverage). Spatial
//! indexes live with the stage that needs them (`tiles::points`, `search`, `coverage`).
//!
//! Beside each facility the dataset keeps where it came from ([`FacilityOrigin`]: its source,
//! the rule that classified it, the ids other sources list it under), so `/features/{id}` can
//! answer `source:source_id` and an unnamed facility has a label.

use std::collections::HashMap;
use std::sync::Arc;

use crate::area::{self, AnalysisArea};
use crate::attributes::{Attributes, Status, StatusSet};
use crate::geom;
use crate::taxonomy::{CategoryId, RuleRef, Taxonomy};

/// One public-service facility, in WGS84.
///
/// A city holds a million of these for the life of a snapshot, so one is kept small: its four
/// texts (source id, name, English name, address) sit back to back in one boxed string, and the
/// subdistrict, which thousands share, is one shared string per distinct value. Build one from
/// its parts with [`Facility::new`]; read the texts through the accessors.
#[derive(Debug, Clone)]
pub struct Facility {
    /// Stable feature id (the source id, or a hash of it when it is not a number).
    pub id: u64,
    pub lon: f64,
    pub lat: f64,
    pub category: CategoryId,
    /// Source id, name, English name and address, back to back.
    text: Box<str>,
    /// Where the source id, the name and the English name end in `text`.
    ends: [u32; 3],
    subdistrict: Option<Arc<str>>,
}

/// The texts of a facility, as read: what [`Facility::new`] packs.
#[derive(Debug, Clone, Copy, Default)]
pub struct FacilityText<'a> {
    /// The id as written in the source file.
    pub source_id: &'a str,
    /// Empty when the source gives none.
    pub name: &'a str,
    pub name_en: Option<&'a str>,
    pub address: Option<&'a str>,
}

impl Facility {
    /// A facility of `category` at `(lon, lat)`. An empty English name or address counts as none.
    pub fn new(
        id: u64,
        category: CategoryId,
        (lon, lat): (f64, f64),
        text: FacilityText<'_>,
        subdistrict: Option<Arc<str>>,
    ) -> Facility {
        let parts = [
            text.source_id,
            text.name,
            text.name_en.unwrap_or(""),
            text.address.unwrap_or(""),
        ];
        let mut packed = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 3];
        for (i, part) in parts.iter().enumerate() {
            packed.push_str(part);
            if let Some(end) = ends.get_mut(i) {
                // Texts past 4 GB are not facility data; ingest caps fields far below.
                *end = u32::try_from(packed.len()).unwrap_or(u32::MAX);
            }
        }
        Facility {
            id,
            lon,
            lat,
            category,
            text: packed.into_boxed_str(),
            ends,
            subdistrict,
        }
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.text.len(), |&e| e as usize);
        &self.text[start..end]
    }

    /// The id as written in the source file.
    pub fn source_id(&self) -> &str {
        self.part(0)
    }

    /// The name; empty for an unnamed facility (see [`Dataset::label`]).
    pub fn name(&self) -> &str {
        self.part(1)
    }

    pub fn name_en(&self) -> Option<&str> {
        Some(self.part(2)).filter(|t| !t.is_empty())
    }

    pub fn address(&self) -> Option<&str> {
        Some(self.part(3)).filter(|t| !t.is_empty())
    }

    pub fn subdistrict(&self) -> Option<&str> {
        self.subdistrict.as_deref()
    }

    /// The subdistrict as the shared string, to share it further.
    pub fn subdistrict_shared(&self) -> Option<&Arc<str>> {
        self.subdistrict.as_ref()
    }

    /// The texts, to build a changed copy with [`Facility::new`].
    pub fn text(&self) -> FacilityText<'_> {
        FacilityText {
            source_id: self.source_id(),
            name: self.name(),
            name_en: self.name_en(),
            address: self.address(),
        }
    }
}

/// One facilities source (`[[data.sources]]`, or the single file).
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// The short id prefixing source ids (`osm`, `教育局`).
    pub name: String,
    pub provider: String,
    /// The date the data is current as of.
    pub as_of: Option<crate::config::AsOf>,
    pub path: std::path::PathBuf,
}

/// Where one facility came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FacilityOrigin {
    /// Index into [`Dataset::sources`].
    pub source: u16,
    /// The rule that classified it (`None`: fallback category).
    pub rule: Option<RuleRef>,
    /// `(source, source id)` of the same facility in later sources, merged into this one.
    pub also: Vec<(u16, String)>,
}

/// Where each facility came from, as ingest hands it to [`Dataset::with_origins`]: per facility
/// id, its source and the rule that classified it, and the `(source, source id)` of the same
/// facility in later sources. A flat list, not a map: a million entries are 16 bytes each.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// `(facility id, source, rule or NO_RULE)`.
    entries: Vec<(u64, u16, u32)>,
    /// `(facility id, source, source id)`, in the order listed.
    also: Vec<(u64, u16, String)>,
}

/// `origin_rules` entry of a facility no rule classified.
const NO_RULE: u32 = u32::MAX;

impl Origins {
    pub fn with_capacity(n: usize) -> Origins {
        Origins {
            entries: Vec::with_capacity(n),
            also: Vec::new(),
        }
    }

    /// Records facility `id`'s origin (a later record of the same id replaces it).
    pub fn push(&mut self, id: u64, origin: FacilityOrigin) {
        let rule = origin.rule.map_or(NO_RULE, |r| r.0);
        self.entries.push((id, origin.source, rule));
        self.also.extend(
            origin
                .also
                .into_iter()
                .map(|(source, source_id)| (id, source, source_id)),
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<HashMap<u64, FacilityOrigin>> for Origins {
    fn from(origins: HashMap<u64, FacilityOrigin>) -> Origins {
        let mut out = Origins::with_capacity(origins.len());
        for (id, origin) in origins {
            out.push(id, origin);
        }
        out
    }
}

/// One street segment of the walking network, lon/lat vertices.
///
/// The class and the name are shared strings: a city has a few classes and its streets are
/// drawn in many pieces, each repeating the street's name (the basemap shares them too).
#[derive(Debug, Clone)]
pub struct Road {
    /// OSM-style class: `primary`, `residential`, `footway`, `motorway`, …
    pub highway: Arc<str>,
    pub name: Option<Arc<str>>,
    pub coords: Vec<(f64, f64)>,
}

/// A statistical area (subdistrict), lon/lat polygon.
#[derive(Debug, Clone)]
pub struct Area {
    pub name: String,
    pub name_en: Option<String>,
    pub polygon: geo::MultiPolygon<f64>,
}

/// A residential compound with its population.
#[derive(Debug, Clone)]
pub struct Residential {
    pub name: Option<String>,
    pub population: u32,
    pub subdistrict: Option<String>,
    pub lon: f64,
    pub lat: f64,
}

/// The facilities and context layers of one data version, indexed. Immutable once built.
pub struct Dataset {
    pub taxonomy: Arc<Taxonomy>,
    /// Sorted by id, so a facility's index is found by binary search (no id map to hold).
    facilities: Vec<Facility>,
    by_category: Vec<Vec<u32>>,
    pub roads: Vec<Road>,
    pub areas: Vec<Area>,
    pub residents: Vec<Residential>,
    /// `[west, south, east, north]` of everything loaded.
    pub bounds: [f64; 4],
    /// The place the deployment is about: coverage and statistics cover it.
    pub area: AnalysisArea,
    /// The facilities' sources, in config order.
    pub sources: Vec<SourceInfo>,
    /// Per facility (same index), its source and the rule that classified it (`NO_RULE`: the
    /// fallback); empty when built without origins. Two flat arrays, 6 bytes a facility.
    origin_sources: Vec<u16>,
    origin_rules: Vec<u32>,
    /// `(facility index, source, source id)` of the facilities merged into another, by index:
    /// few facilities have any, so they are kept aside rather than a list per facility.
    also: Vec<(u32, u16, Box<str>)>,
    /// `(hash of source:source_id, facility index)` for the source ids a facility's id does not
    /// follow from (those merged in from later sources, and ids not made by ingest's schemes),
    /// sorted: a lookup checks the few facilities with the key's hash against the key itself.
    /// A facility's own source id needs no entry: its id is a function of it (see
    /// [`id_follows_key`]), so a lookup finds it by id. At city scale that is a million entries
    /// (16 MB) not held.
    by_source_key: Vec<(u64, u32)>,
    /// Per category, per source: number of facilities.
    source_counts: Vec<Vec<usize>>,
    /// Facility index → its attributes, for the few facilities that have any (sparse: most
    /// real facilities carry none, and then are `existing` and serve their category only).
    attributes: HashMap<u32, Attributes>,
    /// Facilities per status (all `existing` when no source maps a status).
    status_counts: [usize; 4],
}

impl Dataset {
    /// Indexes the layers, with the analysis area derived from them (see [`area::derive`]).
    /// Facilities must have unique ids (ingest guarantees it).
    pub fn new(
        taxonomy: Arc<Taxonomy>,
        mut facilities: Vec<Facility>,
        mut roads: Vec<Road>,
        areas: Vec<Area>,
        mut residents: Vec<Residential>,
    ) -> Dataset {
        sort_by_id(&mut facilities);
        // The layers were read item by item: give back their spare capacity, held for the
        // life of the snapshot otherwise (tens of MB at city scale).
        facilities.shrink_to_fit();
        roads.shrink_to_fit();
        residents.shrink_to_fit();
        let n_facilities = facilities.len();
        let mut by_category = vec![Vec::new(); taxonomy.len()];
        for (idx, f) in facilities.iter().enumerate() {
            by_category[f.category.0 as usize].push(idx as u32);
        }
        for members in &mut by_category {
            members.shrink_to_fit();
        }
        let bounds = compute_bounds(&facilities, &areas);
        let area = area::derive(
            &areas,
            facilities.iter().map(|f| (f.lon, f.lat)),
            default_margin_m(&taxonomy),
        );
        Dataset {
            taxonomy,
            facilities,
            by_category,
            roads,
            areas,
            residents,
            bounds,
            area,
            sources: Vec::new(),
            origin_sources: Vec::new(),
            origin_rules: Vec::new(),
            also: Vec::new(),
            by_source_key: Vec::new(),
            source_counts: Vec::new(),
            status_counts: [n_facilities, 0, 0, 0],
            attributes: HashMap::new(),
        }
    }

    /// The same data with the facilities' attributes (keyed by facility id; facilities without
    /// an entry have none).
    pub fn with_attributes(mut self, attributes: HashMap<u64, Attributes>) -> Dataset {
        let mut by_index = HashMap::with_capacity(attributes.len());
        by_index.extend(
            attributes
                .into_iter()
                .filter(|(_, a)| !a.is_empty())
                .filter_map(|(id, a)| Some((self.index_of(id)?, a))),
        );
        self.attributes = by_index;
        // Facilities without attributes are `existing`.
        let mut counts = [self.facilities.len(), 0, 0, 0];
        for a in self.attributes.values() {
            counts[Status::Existing as usize] -= 1;
            counts[a.status as usize] += 1;
        }
        self.status_counts = counts;
        self
    }

    /// The attributes of facility `idx`, when it has any.
    pub fn attributes(&self, idx: u32) -> Option<&Attributes> {
        self.attributes.get(&idx)
    }

    /// Every facility with attributes, by index (unordered).
    pub fn attributed(&self) -> impl Iterator<Item = (u32, &Attributes)> {
        self.attributes.iter().map(|(&idx, a)| (idx, a))
    }

    /// The status of facility `idx` (`existing` without attributes).
    pub fn status(&self, idx: u32) -> Status {
        self.attributes
            .get(&idx)
            .map_or(Status::Existing, |a| a.status)
    }

    /// How many facilities have `status`.
    pub fn status_count(&self, status: Status) -> usize {
        self.status_counts[status as usize]
    }

    /// Whether any facility of a status in `statuses` is not `existing`: when not, a view of
    /// `statuses` shows the same as the default (or nothing more than it).
    pub fn has_other_than_existing(&self, statuses: StatusSet) -> bool {
        statuses
            .iter()
            .any(|s| s != Status::Existing && self.status_count(s) > 0)
    }

    /// The categories facility `idx` serves: its own, then those its functions add.
    pub fn categories_served(&self, idx: u32) -> impl Iterator<Item = CategoryId> + '_ {
        let extra = self
            .attributes
            .get(&idx)
            .map_or(&[][..], |a| a.serves.as_slice());
        std::iter::once(self.facilities[idx as usize].category).chain(extra.iter().copied())
    }

    /// The facilities serving `category` whose status is in `statuses`: those of the category
    /// and those whose functions add it, in index order. Coverage reads this, never
    /// [`Dataset::facilities_of`], so functions and scenarios count.
    pub fn serving(&self, category: CategoryId, statuses: StatusSet) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .facilities_of(category)
            .iter()
            .copied()
            .filter(|&idx| statuses.contains(self.status(idx)))
            .collect();
        let before = out.len();
        out.extend(self.attributes.iter().filter_map(|(&idx, a)| {
            (statuses.contains(a.status) && a.serves.binary_search(&category).is_ok())
                .then_some(idx)
        }));
        if out.len() > before {
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    /// The same data with its sources and each facility's origin (keyed by facility id: an
    /// [`Origins`] list, or a map of [`FacilityOrigin`]s). A facility without one is taken as
    /// the first source's, classified by no rule.
    pub fn with_origins(
        mut self,
        sources: Vec<SourceInfo>,
        origins: impl Into<Origins>,
    ) -> Dataset {
        let Origins { mut entries, also } = origins.into();
        // Stable: of two records of one id the later wins, as in a map.
        if !entries.is_sorted_by_key(|e| e.0) {
            entries.sort_by_key(|e| e.0);
        }
        let n = self.facilities.len();
        let (mut origin_sources, mut origin_rules) = (vec![0u16; n], vec![NO_RULE; n]);
        let mut entries = entries.into_iter().peekable();
        for (idx, f) in self.facilities.iter().enumerate() {
            while let Some(&(id, source, rule)) = entries.peek() {
                if id > f.id {
                    break;
                }
                if id == f.id {
                    (origin_sources[idx], origin_rules[idx]) = (source, rule);
                }
                entries.next();
            }
        }
        let mut also: Vec<(u32, u16, Box<str>)> = also
            .into_iter()
            .filter_map(|(id, source, source_id)| {
                Some((self.index_of(id)?, source, source_id.into_boxed_str()))
            })
            .collect();
        // Stable: a facility's ids stay in the order listed.
        also.sort_by_key(|a| a.0);
        self.origin_sources = origin_sources;
        self.origin_rules = origin_rules;
        self.also = also;
        let mut by_source_key = Vec::with_capacity(self.also.len());
        for (idx, f) in self.facilities.iter().enumerate() {
            let source = self.origin_sources[idx];
            if let Some(info) = sources.get(source as usize)
                && !id_follows_key(f.id, &info.name, f.source_id())
            {
                by_source_key.push((source_key_hash(&info.name, f.source_id()), idx as u32));
            }
        }
        for &(idx, source, ref source_id) in &self.also {
            if let Some(info) = sources.get(source as usize) {
                by_source_key.push((source_key_hash(&info.name, source_id), idx));
            }
        }
        by_source_key.sort_unstable();
        by_source_key.shrink_to_fit();
        let mut source_counts = vec![vec![0; sources.len()]; self.taxonomy.len()];
        for (f, &source) in self.facilities.iter().zip(&self.origin_sources) {
            if let Some(n) = source_counts[f.category.0 as usize].get_mut(source as usize) {
                *n += 1;
            }
        }
        self.source_counts = source_counts;
        self.by_source_key = by_source_key;
        self.sources = sources;
        self
    }

    /// `(source, source id)` of the facilities merged into facility `idx`, in the order listed.
    fn also_of(&self, idx: u32) -> impl Iterator<Item = (u16, &str)> + '_ {
        let first = self.also.partition_point(|a| a.0 < idx);
        self.also[first..]
            .iter()
            .take_while(move |a| a.0 == idx)
            .map(|(_, source, id)| (*source, &**id))
    }

    /// Facilities of `category` per source (same order as [`Dataset::sources`]).
    pub fn source_counts(&self, category: CategoryId) -> &[usize] {
        self.source_counts
            .get(category.0 as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Where facility `idx` came from, when the dataset was built with origins.
    pub fn origin(&self, idx: u32) -> Option<FacilityOrigin> {
        Some(FacilityOrigin {
            source: self.origin_source(idx)?,
            rule: self.origin_rule(idx),
            also: self
                .also_of(idx)
                .map(|(source, id)| (source, id.to_owned()))
                .collect(),
        })
    }

    /// The source (index into [`Dataset::sources`]) of facility `idx`, when the dataset was
    /// built with origins.
    pub fn origin_source(&self, idx: u32) -> Option<u16> {
        self.origin_sources.get(idx as usize).copied()
    }

    /// The rule that classified facility `idx` (`None`: the fallback, or built without origins).
    pub fn origin_rule(&self, idx: u32) -> Option<RuleRef> {
        self.origin_rules
            .get(idx as usize)
            .filter(|&&r| r != NO_RULE)
            .map(|&r| RuleRef(r))
    }

    /// The facility listed as `source_id` by source `source` (the `osm:5551873822` form).
    /// When two facilities list the same key, the later one (by index) answers.
    pub fn facility_by_source_key(&self, key: &str) -> Option<&Facility> {
        // Facilities whose id follows from the key (their own source id, the common case).
        let by_id = self.sources.iter().flat_map(|info| {
            let source_id = key
                .strip_prefix(info.name.as_str())
                .and_then(|rest| rest.strip_prefix(':'));
            source_id
                .into_iter()
                .flat_map(|id| ids_from_key(&info.name, id))
                .filter_map(|id| self.index_of(id))
        });
        // The others, by the key's hash.
        let hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        let first = self.by_source_key.partition_point(|&(h, _)| h < hash);
        let by_hash = self.by_source_key[first..]
            .iter()
            .take_while(|&&(h, _)| h == hash)
            .map(|&(_, idx)| idx);
        by_id
            .chain(by_hash)
            .filter(|&idx| self.lists_source_key(idx, key))
            .max()
            .map(|idx| &self.facilities[idx as usize])
    }

    /// Whether facility `idx` is listed under `key` (`source:source_id`).
    fn lists_source_key(&self, idx: u32, key: &str) -> bool {
        let Some(source) = self.origin_source(idx) else {
            return false;
        };
        let own = (source, self.facilities[idx as usize].source_id());
        std::iter::once(own)
            .chain(self.also_of(idx))
            .any(|(s, id)| {
                self.sources.get(s as usize).is_some_and(|info| {
                    key.strip_prefix(info.name.as_str())
                        .and_then(|rest| rest.strip_prefix(':'))
                        == Some(id)
                })
            })
    }

    /// Index of a facility of this dataset (by its id).
    pub fn index_of(&self, id: u64) -> Option<u32> {
        self.facilities
            .binary_search_by_key(&id, |f| f.id)
            .ok()
            .map(|idx| idx as u32)
    }

    /// What an unnamed facility is called, `(zh, en)`: the label of the rule that classified it,
    /// else of its category (公园, 体育场地, …).
    pub fn label(&self, facility: &Facility) -> (&str, &str) {
        let rule = self
            .index_of(facility.id)
            .and_then(|idx| self.origin_rule(idx));
        self.taxonomy.label(facility.category, rule)
    }

    /// The facility's name, or its label when it has none (for lists and popups).
    pub fn display_name<'a>(&'a self, facility: &'a Facility) -> &'a str {
        if facility.name().is_empty() {
            self.label(facility).0
        } else {
            facility.name()
        }
    }

    /// The source (name, as-of date) of a facility, when known.
    pub fn source_of(&self, facility: &Facility) -> Option<&SourceInfo> {
        let idx = self.index_of(facility.id)?;
        self.sources.get(self.origin_source(idx)? as usize)
    }

    /// Every `source:source_id` a facility is listed under (its own first).
    pub fn source_keys(&self, facility: &Facility) -> Vec<String> {
        let Some(idx) = self.index_of(facility.id) else {
            return Vec::new();
        };
        let Some(source) = self.origin_source(idx) else {
            return Vec::new();
        };
        std::iter::once((source, facility.source_id()))
            .chain(self.also_of(idx))
            .filter_map(|(s, id)| {
                self.sources
                    .get(s as usize)
                    .map(|info| format!("{}:{id}", info.name))
            })
            .collect()
    }

    /// The same data with another analysis area (a configured one).
    pub fn with_area(mut self, area: AnalysisArea) -> Dataset {
        self.area = area;
        self
    }

    pub fn facilities(&self) -> &[Facility] {
        &self.facilities
    }

    pub fn facility(&self, idx: u32) -> &Facility {
        &self.facilities[idx as usize]
    }

    pub fn facility_by_id(&self, id: u64) -> Option<&Facility> {
        self.index_of(id).map(|idx| &self.facilities[idx as usize])
    }

    /// Indices of the facilities of one category, in id order.
    pub fn facilities_of(&self, category: CategoryId) -> &[u32] {
        &self.by_category[category.0 as usize]
    }

    /// `[lon, lat]` of the middle of the data.
    pub fn center(&self) -> [f64; 2] {
        let [west, south, east, north] = self.bounds;
        [(west + east) / 2.0, (south + north) / 2.0]
    }
}

/// The hash of `source_name:source_id` (the `osm:5551873822` form) without building the text:
/// the same as `xxh3_64` of the text.
fn source_key_hash(source_name: &str, source_id: &str) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(source_name.as_bytes());
    hasher.update(b":");
    hasher.update(source_id.as_bytes());
    hasher.digest()
}

/// Sorts facilities by id, stably, moving each once: the order is found on `(id, index)` pairs
/// (12 bytes a facility, not 72) and then applied in place, cycle by cycle. Input already in
/// id order (ingest's) is only checked.
fn sort_by_id(facilities: &mut [Facility]) {
    if facilities.is_sorted_by_key(|f| f.id) {
        return;
    }
    let mut keys: Vec<(u64, u32)> = facilities
        .iter()
        .enumerate()
        .map(|(idx, f)| (f.id, idx as u32))
        .collect();
    keys.sort_unstable();
    let mut order: Vec<u32> = keys.into_iter().map(|(_, idx)| idx).collect();
    apply_order(facilities, &mut order);
}

/// Puts `items[order[k]]` at `k` for every `k`, in place (`order` is a permutation; it is used
/// up as the marks of the positions done).
fn apply_order<T>(items: &mut [T], order: &mut [u32]) {
    const DONE: u32 = u32::MAX;
    for start in 0..items.len() {
        let mut k = start;
        while order[k] != DONE {
            let from = order[k] as usize;
            order[k] = DONE;
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

/// The ids ingest gives a facility listed as `source_id` by source `source_name`: the
/// single-file form's ([`crate::ingest::stable_feature_id`]) and a `[[data.sources]]` one's
/// ([`crate::ingest::sources::source_feature_id`], computed here without building the key).
fn ids_from_key(source_name: &str, source_id: &str) -> [u64; 2] {
    [
        crate::ingest::stable_feature_id(source_id),
        source_key_hash(source_name, source_id) >> 11,
    ]
}

/// Whether a facility's id is one [`ids_from_key`] gives for its own source id.
fn id_follows_key(id: u64, source_name: &str, source_id: &str) -> bool {
    ids_from_key(source_name, source_id).contains(&id)
}

/// How far outside the area a facility may lie and still serve it: the largest walking
/// threshold at 1 m/s. Ingest uses the configured walking speeds instead (see `ingest`).
fn default_margin_m(taxonomy: &Taxonomy) -> f64 {
    let max_walk_min = taxonomy
        .categories()
        .map(|(_, c)| c.walk_min)
        .max()
        .unwrap_or(15);
    f64::from(max_walk_min) * 60.0
}

fn compute_bounds(facilities: &[Facility], areas: &[Area]) -> [f64; 4] {
    let points = facilities
        .iter()
        .map(|f| (f.lon, f.lat))
        .chain(areas.iter().flat_map(|a| {
            a.polygon
                .0
                .iter()
                .flat_map(|p| p.exterior().0.iter().map(|c| (c.x, c.y)))
        }));
    let mut bounds = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for (lon, lat) in points {
        bounds = [
            bounds[0].min(lon),
            bounds[1].min(lat),
            bounds[2].max(lon),
            bounds[3].max(lat),
        ];
    }
    if bounds[0].is_finite() {
        bounds
    } else {
        [
            -180.0,
            -geom::MAX_MERCATOR_LAT,
            180.0,
            geom::MAX_MERCATOR_LAT,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_by_id_moves_every_facility_once_into_place() {
        let at = |id: u64| {
            Facility::new(
                id,
                CategoryId(0),
                (id as f64, 0.0),
                FacilityText {
                    source_id: &id.to_string(),
                    ..FacilityText::default()
                },
                None,
            )
        };
        // Cycles of several lengths, fixed points, and equal ids in input order.
        let ids = [9, 3, 7, 1, 5, 5, 2, 8, 0, 6, 4, 3];
        let mut facilities: Vec<Facility> = ids.iter().map(|&id| at(id)).collect();
        for (i, f) in facilities.iter_mut().enumerate() {
            f.lat = i as f64;
        }
        let mut expected: Vec<(u64, f64)> = facilities.iter().map(|f| (f.id, f.lat)).collect();
        expected.sort_by_key(|e| e.0);
        sort_by_id(&mut facilities);
        let got: Vec<(u64, f64)> = facilities.iter().map(|f| (f.id, f.lat)).collect();
        assert_eq!(got, expected);
        assert!(facilities.iter().all(|f| f.source_id() == f.id.to_string()));
    }

    #[test]
    fn source_keys_find_their_facility_whether_or_not_the_id_follows_from_the_key() {
        let taxonomy = Arc::new(
            crate::config::Config::embedded()
                .unwrap()
                .taxonomy()
                .unwrap(),
        );
        let at = |id: u64, source_id: &str| {
            Facility::new(
                id,
                CategoryId(0),
                (121.4, 31.2),
                FacilityText {
                    source_id,
                    name: "甲",
                    ..FacilityText::default()
                },
                None,
            )
        };
        let info = |name: &str| SourceInfo {
            name: name.into(),
            provider: String::new(),
            as_of: None,
            path: std::path::PathBuf::new(),
        };
        // A single-file id (the number itself), a `[[data.sources]]` id (a hash of the key), an
        // id made some other way, and a facility merged into the first.
        let qualified = crate::ingest::sources::source_feature_id("osm", "n7");
        let facilities = vec![at(42, "42"), at(qualified, "n7"), at(5, "x9")];
        let origins = HashMap::from([
            (
                42,
                FacilityOrigin {
                    source: 0,
                    rule: None,
                    also: vec![(1, "n8".into())],
                },
            ),
            (
                qualified,
                FacilityOrigin {
                    source: 1,
                    ..Default::default()
                },
            ),
            (
                5,
                FacilityOrigin {
                    source: 1,
                    ..Default::default()
                },
            ),
        ]);
        let dataset = Dataset::new(taxonomy, facilities, Vec::new(), Vec::new(), Vec::new())
            .with_origins(vec![info("pois"), info("osm")], origins);
        let found = |key: &str| dataset.facility_by_source_key(key).map(|f| f.id);
        assert_eq!(found("pois:42"), Some(42));
        assert_eq!(found("osm:n8"), Some(42));
        assert_eq!(found("osm:n7"), Some(qualified));
        assert_eq!(found("osm:x9"), Some(5));
        assert_eq!(found("osm:42"), None);
        assert_eq!(found("pois:n7"), None);
        assert_eq!(
            dataset.by_source_key.len(),
            2,
            "only the merged key and the odd id"
        );
        let idx = dataset.index_of(42).unwrap();
        assert_eq!(
            dataset.source_keys(dataset.facility(idx)),
            ["pois:42", "osm:n8"]
        );
        assert_eq!(
            dataset.origin(idx).map(|o| o.also),
            Some(vec![(1, "n8".to_owned())])
        );
    }
}
