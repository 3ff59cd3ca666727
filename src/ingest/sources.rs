//! Facility sources: one configured file (`[[data.sources]]` entry, or the single-file form) →
//! facilities in WGS84, classified by the taxonomy's rules, each with its origin; then, over all
//! sources, the cross-source duplicates merged.
//!
//! **Identity.** The single-file form keeps the ids it always had: the source id itself when it
//! is a number, else a stable hash of it ([`super::stable_feature_id`]). A `[[data.sources]]`
//! facility's id is a stable hash of `"{source name}:{source id}"` ([`source_feature_id`]), so ids
//! from different sources never collide and survive restarts and reloads. A row without a source
//! id gets one from its content ([`content_source_id`]) rather than being dropped.
//!
//! **Duplicates.** Facilities of different sources whose names are equal once normalised
//! ([`normalise_name`]) and that lie within `data.dedupe_distance_m` are one facility: the one
//! from the source listed first keeps its position and attributes and records the others' ids.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use super::formats::{Column, FeatureNames, LayerReader, Prop};
use super::{Error, FileReport, representative_lonlat, stable_feature_id};
use crate::attributes::{self, Attributes, Status};
use crate::config::FileOptions;
use crate::dataset::{Facility, FacilityOrigin, FacilityText};
use crate::geom;
use crate::geom::datum::Datum;
use crate::taxonomy::{RuleRef, Taxonomy};

/// The facility fields a source maps to its columns.
pub const FACILITY_FIELDS: [&str; 10] = [
    "id",
    "name",
    "name_en",
    "category",
    "address",
    "subdistrict",
    "floor_area",
    "functions",
    "status",
    "year",
];

/// How ids are made for one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdScheme {
    /// The single-file form: ids as they always were.
    Legacy,
    /// `[[data.sources]]`: a hash of source name and source id.
    Qualified,
}

/// One source to read.
pub struct SourceSpec<'a> {
    pub idx: u16,
    pub name: &'a str,
    pub path: &'a Path,
    pub options: &'a FileOptions,
    pub ids: IdScheme,
    /// Fields whose column must exist (the single-file form's id, name and category; a
    /// source's explicitly mapped fields).
    pub required: Vec<String>,
}

/// A facility read from a source, before region filtering and deduplication.
pub struct SourcedFacility {
    pub facility: Facility,
    pub origin: FacilityOrigin,
    /// Floor area, functions, status, year (empty for most real facilities).
    pub attributes: Attributes,
    /// Feature index in its file, for messages.
    pub feature_idx: usize,
}

/// Facilities read from the sources, in source and file order, kept as parallel lists (a
/// million facilities at city scale: no per-facility copy of what most do not have).
#[derive(Default)]
pub struct SourcedFacilities {
    pub facilities: Vec<Facility>,
    /// Per facility (same index), the row it came from.
    pub rows: Vec<SourceRow>,
    /// By facility id, the attributes of those with any.
    pub attributes: HashMap<u64, Attributes>,
    /// By facility id, `(source, source id)` of the same facility in later sources, merged in.
    pub also: HashMap<u64, Vec<(u16, String)>>,
}

/// Where a [`SourcedFacilities`] facility was read.
#[derive(Debug, Clone, Copy)]
pub struct SourceRow {
    pub source: u16,
    /// The rule that classified it (`None`: fallback category).
    pub rule: Option<RuleRef>,
    /// Feature index in its file, for messages.
    pub feature_idx: usize,
}

impl SourcedFacilities {
    pub fn len(&self) -> usize {
        self.facilities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.facilities.is_empty()
    }

    /// Adds another source's facilities after these.
    pub fn append(&mut self, mut other: SourcedFacilities) {
        if self.facilities.is_empty() {
            *self = other;
            return;
        }
        self.facilities.append(&mut other.facilities);
        self.rows.append(&mut other.rows);
        self.attributes.extend(other.attributes);
        self.also.extend(other.also);
    }

    /// Keeps the facilities `keep` says yes to (asked in order), dropping what the others had.
    pub fn retain(&mut self, mut keep: impl FnMut(&Facility, &SourceRow) -> bool) {
        let mut kept = 0;
        for idx in 0..self.facilities.len() {
            if keep(&self.facilities[idx], &self.rows[idx]) {
                self.facilities.swap(kept, idx);
                self.rows.swap(kept, idx);
                kept += 1;
            } else {
                let id = self.facilities[idx].id;
                self.attributes.remove(&id);
                self.also.remove(&id);
            }
        }
        self.facilities.truncate(kept);
        self.rows.truncate(kept);
    }

    /// The origin of facility `idx`.
    pub fn origin(&self, idx: usize) -> FacilityOrigin {
        let row = &self.rows[idx];
        FacilityOrigin {
            source: row.source,
            rule: row.rule,
            also: self
                .also
                .get(&self.facilities[idx].id)
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// One shared string per distinct value: the subdistrict names a million facilities repeat.
/// Rows are read on several threads, hence the lock (held for a lookup; a miss, rare, inserts).
#[derive(Default)]
struct Interner(std::sync::RwLock<HashSet<std::sync::Arc<str>>>);

impl Interner {
    fn intern(&self, text: &str) -> std::sync::Arc<str> {
        let read = self.0.read().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = read.get(text) {
            return shared.clone();
        }
        drop(read);
        let mut write = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = write.get(text) {
            return shared.clone();
        }
        let shared: std::sync::Arc<str> = text.into();
        write.insert(shared.clone());
        shared
    }
}

/// A raw value that matched no rule: which field held it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnmatchedValue {
    pub field: String,
    pub value: String,
}

/// Reads one source's facilities. Rows without geometry or at (0, 0) are counted skips; unnamed
/// rows are kept with an empty name. Also gives how the file names its features in messages.
pub fn read_source<S: std::hash::BuildHasher>(
    spec: &SourceSpec<'_>,
    taxonomy: &Taxonomy,
    seen_ids: &mut HashSet<u64, S>,
    unmatched: &mut BTreeMap<UnmatchedValue, usize>,
) -> Result<(Vec<SourcedFacility>, FileReport, FeatureNames), Error> {
    let (mut read, report, names) = read_source_rows(spec, taxonomy, seen_ids, unmatched)?;
    let origins: Vec<FacilityOrigin> = (0..read.len()).map(|idx| read.origin(idx)).collect();
    let out = read
        .facilities
        .into_iter()
        .zip(read.rows)
        .zip(origins)
        .map(|((facility, row), origin)| SourcedFacility {
            attributes: read.attributes.remove(&facility.id).unwrap_or_default(),
            origin,
            feature_idx: row.feature_idx,
            facility,
        })
        .collect();
    Ok((out, report, names))
}

/// What one row gives, worked out on any thread; [`RowRead::apply`] then counts it and keeps
/// the facility, row by row in file order, so the report is the same as when read in turn.
enum RowRead {
    Skipped {
        reason: String,
        source_id: String,
    },
    Read {
        facility: Facility,
        rule: Option<RuleRef>,
        attributes: Attributes,
        /// The value that put it in the fallback category, when no rule matched.
        unmatched: Option<UnmatchedValue>,
        notes: Vec<AttributeNote>,
    },
}

/// Something about a row's attributes the report counts.
enum AttributeNote {
    Unreadable(&'static str, String),
    UnknownStatus(String),
    Status(Status),
    UnmappedFunction(String),
}

impl AttributeNote {
    fn count(self, report: &mut FileReport) {
        match self {
            AttributeNote::Unreadable(field, value) => {
                report
                    .unreadable_attributes
                    .entry(field)
                    .or_insert_with(|| (0, value))
                    .0 += 1;
            }
            AttributeNote::UnknownStatus(value) => {
                *report.unknown_statuses.entry(value).or_default() += 1;
            }
            AttributeNote::Status(status) => *report.statuses.entry(status).or_default() += 1,
            AttributeNote::UnmappedFunction(function) => {
                *report.unmapped_functions.entry(function).or_default() += 1;
            }
        }
    }
}

/// [`read_source`] as parallel lists, for ingest.
pub(super) fn read_source_rows<S: std::hash::BuildHasher>(
    spec: &SourceSpec<'_>,
    taxonomy: &Taxonomy,
    seen_ids: &mut HashSet<u64, S>,
    unmatched: &mut BTreeMap<UnmatchedValue, usize>,
) -> Result<(SourcedFacilities, FileReport, FeatureNames), Error> {
    // Slot of every field read: the facility fields, then each field a rule reads.
    let mut slots: HashMap<&str, usize> = HashMap::new();
    let mut columns: Vec<Column<'_>> = Vec::new();
    let rule_fields = taxonomy.rules().fields().iter().map(String::as_str);
    for field in FACILITY_FIELDS.into_iter().chain(rule_fields) {
        if slots.contains_key(field) {
            continue;
        }
        let column = spec.options.column(field, field);
        if column.is_empty() {
            continue;
        }
        let slot = match columns.iter().position(|c| c.name == column) {
            Some(slot) => slot,
            None => {
                columns.push(Column {
                    name: column,
                    required: false,
                });
                columns.len() - 1
            }
        };
        if spec.required.iter().any(|r| r == field) {
            columns[slot].required = true;
        }
        slots.insert(field, slot);
    }
    let reader = LayerReader::open(spec.path, &spec.options.read_options(), &columns)?;
    let feature_names = reader.feature_names();
    let mut report = FileReport::new(spec.path, "facilities");
    report.source = Some(spec.name.to_owned());
    let datum = spec.options.datum;
    let mut out = SourcedFacilities::default();
    if let Some(n) = reader.announced_features() {
        out.facilities.reserve_exact(n);
        out.rows.reserve_exact(n);
        seen_ids.reserve(n);
    }
    let subdistricts = Interner::default();
    let slot = |field: &str| slots.get(field).copied();
    let (id_slot, name_slot) = (slot("id"), slot("name"));
    let (name_en_slot, address_slot, subdistrict_slot) =
        (slot("name_en"), slot("address"), slot("subdistrict"));
    let attribute_slots = [
        slot("floor_area"),
        slot("functions"),
        slot("status"),
        slot("year"),
    ];
    // The slot of each field the rules read, by the field's position among them.
    let rule_slots: Vec<Option<usize>> =
        taxonomy.rules().fields().iter().map(|f| slot(f)).collect();
    // The fields a row without a rule match is reported by, first present wins.
    let shown_fields: Vec<(&str, Option<usize>)> = std::iter::once("category")
        .chain(taxonomy.rules().fields().iter().map(String::as_str))
        .map(|f| (f, slot(f)))
        .collect();
    let read_row = |_feature_idx: usize,
                    geometry: Result<geo::Geometry<f64>, String>,
                    props: Vec<Option<Prop>>| {
        let texts: Vec<Option<String>> = props
            .into_iter()
            .map(|p| p.and_then(Prop::into_text))
            .collect();
        let text = |slot: Option<usize>| slot.and_then(|s| texts.get(s)?.as_deref());
        let given_id = text(id_slot).unwrap_or("");
        let (raw_lon, raw_lat) = match geometry.and_then(|g| representative_lonlat(&g)) {
            Ok(p) => p,
            Err(reason) => {
                return RowRead::Skipped {
                    reason,
                    source_id: given_id.to_owned(),
                };
            }
        };
        if raw_lon == 0.0 && raw_lat == 0.0 {
            return RowRead::Skipped {
                reason: SKIP_NULL_ISLAND.to_owned(),
                source_id: given_id.to_owned(),
            };
        }
        let (lon, lat) = datum.to_wgs84(raw_lon, raw_lat);
        let name = text(name_slot).unwrap_or_default();
        let content_id;
        let raw_id = match text(id_slot) {
            Some(id) => id,
            None => {
                content_id = content_source_id(raw_lon, raw_lat, &texts);
                &content_id
            }
        };
        let id = match spec.ids {
            IdScheme::Legacy => stable_feature_id(raw_id),
            IdScheme::Qualified => source_feature_id(spec.name, raw_id),
        };
        let (category, rule, unmatched) =
            match taxonomy.classify_fields(|idx| text(rule_slots[idx])) {
                Some((category, rule)) => (category, Some(rule), None),
                None => {
                    let shown = shown_fields
                        .iter()
                        .find_map(|&(f, slot)| text(slot).map(|v| (f, v)));
                    let key = match shown {
                        Some((f, v)) => UnmatchedValue {
                            field: spec.options.column(f, f).to_owned(),
                            value: v.to_owned(),
                        },
                        None => UnmatchedValue {
                            field: spec.options.column("category", "category").to_owned(),
                            value: String::new(),
                        },
                    };
                    (taxonomy.fallback(), None, Some(key))
                }
            };
        let [floor_area, functions, status, year] = attribute_slots.map(text);
        let (attributes, notes) = read_attributes(
            AttributeTexts {
                floor_area,
                functions,
                status,
                year,
            },
            category,
            taxonomy,
        );
        RowRead::Read {
            facility: Facility::new(
                id,
                category,
                (lon, lat),
                FacilityText {
                    source_id: raw_id,
                    name,
                    name_en: text(name_en_slot),
                    address: text(address_slot),
                },
                text(subdistrict_slot).map(|s| subdistricts.intern(s)),
            ),
            rule,
            attributes,
            unmatched,
            notes,
        }
    };
    reader.for_each_mapped(read_row, |feature_idx, row| {
        report.n_read += 1;
        let (facility, rule, attributes, unmatched_value, notes) = match row {
            RowRead::Skipped { reason, source_id } => {
                return report.skip_row(feature_idx, reason, &source_id);
            }
            RowRead::Read {
                facility,
                rule,
                attributes,
                unmatched,
                notes,
            } => (facility, rule, attributes, unmatched, notes),
        };
        // Checked here, in file order: the first row with an id keeps it.
        if !seen_ids.insert(facility.id) {
            return report.skip_row(feature_idx, SKIP_DUPLICATE_ID, facility.source_id());
        }
        if let Some(key) = unmatched_value {
            *report
                .unknown_categories
                .entry(key.value.clone())
                .or_default() += 1;
            *unmatched.entry(key).or_default() += 1;
            report.n_fallback += 1;
        }
        if facility.name().is_empty() {
            report.n_unnamed += 1;
        }
        for note in notes {
            note.count(&mut report);
        }
        if !attributes.is_empty() {
            out.attributes.insert(facility.id, attributes);
        }
        out.rows.push(SourceRow {
            source: spec.idx,
            rule,
            feature_idx,
        });
        out.facilities.push(facility);
    })?;
    report.n_loaded = out.len();
    if datum != Datum::Wgs84 {
        report.notes.push(format!(
            "coordinates converted from {} to WGS84",
            datum.as_str()
        ));
    }
    Ok((out, report, feature_names))
}

/// The raw attribute values of one row.
struct AttributeTexts<'a> {
    floor_area: Option<&'a str>,
    functions: Option<&'a str>,
    status: Option<&'a str>,
    year: Option<&'a str>,
}

/// Typed attributes of one row, with what the report counts about them: what cannot be read
/// is left out (an unknown status is taken as existing).
fn read_attributes(
    raw: AttributeTexts<'_>,
    primary: crate::taxonomy::CategoryId,
    taxonomy: &Taxonomy,
) -> (Attributes, Vec<AttributeNote>) {
    let mut out = Attributes::default();
    let mut notes = Vec::new();
    if let Some(text) = raw.floor_area.map(str::trim).filter(|t| !t.is_empty()) {
        match attributes::parse_floor_area(text) {
            Some(m2) => out.floor_area_m2 = Some(m2),
            None => notes.push(AttributeNote::Unreadable("floor_area", text.to_owned())),
        }
    }
    if let Some(text) = raw.year.map(str::trim).filter(|t| !t.is_empty()) {
        match attributes::parse_year(text) {
            Some(year) => out.year = Some(year),
            None => notes.push(AttributeNote::Unreadable("year", text.to_owned())),
        }
    }
    if let Some(text) = raw.status {
        let trimmed = text.trim();
        if !trimmed.is_empty() {
            out.status = Status::parse(trimmed).unwrap_or_else(|| {
                notes.push(AttributeNote::UnknownStatus(trimmed.to_owned()));
                Status::Existing
            });
        }
        notes.push(AttributeNote::Status(out.status));
    }
    if let Some(text) = raw.functions {
        out.functions = attributes::split_functions(text);
        for function in &out.functions {
            match taxonomy.function_category(function) {
                Some(category) if category != primary => {
                    if let Err(at) = out.serves.binary_search(&category) {
                        out.serves.insert(at, category);
                    }
                }
                Some(_) => {}
                None => notes.push(AttributeNote::UnmappedFunction(function.clone())),
            }
        }
    }
    (out, notes)
}

/// Skip reason of a row at (0, 0).
pub const SKIP_NULL_ISLAND: &str =
    "at (0, 0): the row has no real coordinates (failed geocoding?); fix or remove it";
/// Skip reason of a repeated id.
pub const SKIP_DUPLICATE_ID: &str =
    "duplicate id: an earlier row of the source has the same id; make ids unique";

/// The id of a `[[data.sources]]` facility: a stable 53-bit hash of `"{source}:{source_id}"`
/// (53 bits, so it is exact as a JavaScript number).
pub fn source_feature_id(source: &str, source_id: &str) -> u64 {
    let key = format!("{source}:{source_id}");
    xxhash_rust::xxh3::xxh3_64(key.as_bytes()) >> 11
}

/// A source id for a row that has none: `#` and 16 hex digits of a hash of its position (as
/// written, to 1e-7°) and every attribute read, so the same row gets the same id on every load.
pub fn content_source_id(lon: f64, lat: f64, texts: &[Option<String>]) -> String {
    let mut content = format!("{lon:.7},{lat:.7}");
    for text in texts {
        content.push('\u{1f}');
        content.push_str(text.as_deref().unwrap_or(""));
    }
    format!("#{:016x}", xxhash_rust::xxh3::xxh3_64(content.as_bytes()))
}

/// A name normalised for duplicate detection: full-width folded to half-width, lowercase,
/// without whitespace and brackets (`（新馆）` = `(新馆)` = `新馆`).
pub fn normalise_name(name: &str) -> String {
    name.chars()
        .map(crate::taxonomy::rules::half_width)
        .filter(|c| {
            !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']' | '【' | '】' | '〔' | '〕')
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// One cross-source merge, for `check`.
#[derive(Debug, Clone)]
pub struct Merge {
    /// `source:source_id` and name of the facility kept.
    pub kept: String,
    pub name: String,
    /// `source:source_id` of the one merged into it.
    pub merged: String,
    pub distance_m: f64,
}

/// Merges facilities of later sources into an earlier source's facility with the same
/// normalised name within `max_distance_m`. Facilities must be in source order.
pub fn merge_duplicates(
    sourced: &mut SourcedFacilities,
    source_names: &[String],
    max_distance_m: f64,
) -> Vec<Merge> {
    if max_distance_m <= 0.0 || source_names.len() < 2 {
        return Vec::new();
    }
    let n = sourced.len();
    // The facilities merged into another, in order.
    let mut merged: Vec<usize> = Vec::new();
    // Normalised name → the facilities kept so far with it, in order.
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    let mut merges = Vec::new();
    for candidate in 0..n {
        let facility = &sourced.facilities[candidate];
        let key = normalise_name(facility.name());
        if key.is_empty() {
            continue;
        }
        let (lon, lat) = (facility.lon, facility.lat);
        let source = sourced.rows[candidate].source;
        let target = by_name.get(&key).and_then(|idxs| {
            idxs.iter()
                .map(|&idx| {
                    let f = &sourced.facilities[idx];
                    (idx, geom::haversine_m((f.lon, f.lat), (lon, lat)))
                })
                .filter(|&(idx, d)| sourced.rows[idx].source < source && d <= max_distance_m)
                .min_by(|a, b| a.1.total_cmp(&b.1))
        });
        match target {
            Some((idx, distance_m)) => {
                let name_of = |s: u16| source_names[s as usize].as_str();
                let into = &sourced.facilities[idx];
                merges.push(Merge {
                    kept: format!("{}:{}", name_of(sourced.rows[idx].source), into.source_id()),
                    name: into.name().to_string(),
                    merged: format!("{}:{}", name_of(source), facility.source_id()),
                    distance_m,
                });
                let (into_id, candidate_id) = (into.id, facility.id);
                let mut listed = vec![(source, facility.source_id().to_owned())];
                listed.extend(sourced.also.remove(&candidate_id).unwrap_or_default());
                sourced.also.entry(into_id).or_default().extend(listed);
                merged.push(candidate);
            }
            None => by_name.entry(key).or_default().push(candidate),
        }
    }
    let (mut idx, mut next_merged) = (0, merged.iter().peekable());
    sourced.retain(|_, _| {
        let is_merged = next_merged.next_if_eq(&&idx).is_some();
        idx += 1;
        !is_merged
    });
    merges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::CategoryId;

    fn sourced(source: u16, source_id: &str, name: &str, lon: f64, lat: f64) -> SourcedFacility {
        SourcedFacility {
            facility: Facility::new(
                source_feature_id(&source.to_string(), source_id),
                CategoryId(0),
                (lon, lat),
                FacilityText {
                    source_id,
                    name,
                    name_en: None,
                    address: None,
                },
                None,
            ),
            origin: FacilityOrigin {
                source,
                ..FacilityOrigin::default()
            },
            attributes: Attributes::default(),
            feature_idx: 0,
        }
    }

    #[test]
    fn attributes_are_read_and_unreadable_values_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(
            &path,
            "id,name,category,lon,lat,status,functions,floor_area,year\n\
             1,甲中心,community_service,121.40,31.20,待定,\"助餐、停车场，阅览室\",约1000,近期\n\
             2,乙之家,elderly,121.41,31.20,在建,,\"1,200㎡\",2025年\n\
             3,丙站,elderly,121.42,31.20,,,,\n",
        )
        .unwrap();
        let config = crate::config::Config::embedded().unwrap();
        let taxonomy = config.taxonomy().unwrap();
        let options = config.data.fields.file_options(&path);
        let spec = SourceSpec {
            idx: 0,
            name: "f",
            path: &path,
            options: &options,
            ids: IdScheme::Qualified,
            required: Vec::new(),
        };
        let (read, report, _) =
            read_source(&spec, &taxonomy, &mut HashSet::new(), &mut BTreeMap::new()).unwrap();
        let by_id = |id: &str| {
            &read
                .iter()
                .find(|f| f.facility.source_id() == id)
                .unwrap()
                .attributes
        };
        let centre = by_id("1");
        assert_eq!(
            centre.status,
            Status::Existing,
            "unknown: taken as existing"
        );
        assert_eq!(centre.functions, ["助餐", "停车场", "阅览室"]);
        let serves: Vec<&str> = centre
            .serves
            .iter()
            .map(|&c| taxonomy.category(c).id.as_str())
            .collect();
        assert_eq!(serves, ["elderly", "culture"]);
        assert_eq!((centre.floor_area_m2, centre.year), (None, None));
        let home = by_id("2");
        assert_eq!(home.status, Status::UnderConstruction);
        assert_eq!((home.floor_area_m2, home.year), (Some(1200.0), Some(2025)));
        assert!(by_id("3").is_empty());
        assert_eq!(report.unknown_statuses.get("待定"), Some(&1));
        assert_eq!(report.unmapped_functions.get("停车场"), Some(&1));
        assert_eq!(
            report.unreadable_attributes["floor_area"],
            (1, "约1000".into())
        );
        assert_eq!(report.unreadable_attributes["year"], (1, "近期".into()));
        let shown = super::super::IngestReport {
            files: vec![report],
            ..Default::default()
        }
        .to_string();
        assert!(
            shown.contains("status \"待定\", not understood: taken as existing"),
            "{shown}"
        );
        assert!(shown.contains("\"停车场\" ×1"), "{shown}");
    }

    #[test]
    fn names_fold_width_case_spaces_and_brackets() {
        assert_eq!(
            normalise_name("长宁区 图书馆（新馆）"),
            normalise_name("长宁区图书馆(新馆)")
        );
        assert_eq!(normalise_name("ＡＢＣ Mart"), "abcmart");
        assert_ne!(normalise_name("天山公园"), normalise_name("中山公园"));
    }

    #[test]
    fn duplicates_merge_only_across_sources_and_within_the_distance() {
        let names = vec!["amap".to_owned(), "bureau".to_owned()];
        // 0.0002° of latitude is about 22 m; 0.001° about 111 m.
        let facilities = vec![
            sourced(0, "a1", "中山公园", 121.4185, 31.2235),
            sourced(0, "a2", "中山公园", 121.4185, 31.2237),
            sourced(1, "b1", "中山 公园", 121.4185, 31.2236),
            sourced(1, "b2", "天山公园", 121.4185, 31.2235),
            sourced(1, "b3", "中山公园", 121.4185, 31.2250),
        ];
        let mut sourced = SourcedFacilities::default();
        for f in facilities {
            sourced.rows.push(SourceRow {
                source: f.origin.source,
                rule: None,
                feature_idx: 0,
            });
            sourced.facilities.push(f.facility);
        }
        let merges = merge_duplicates(&mut sourced, &names, 30.0);
        let ids: Vec<&str> = sourced.facilities.iter().map(|f| f.source_id()).collect();
        assert_eq!(
            ids,
            ["a1", "a2", "b2", "b3"],
            "same-source twins stay apart"
        );
        assert_eq!(merges.len(), 1);
        assert_eq!(merges[0].merged, "bureau:b1");
        assert!(merges[0].kept.starts_with("amap:a"));
        let into = sourced
            .facilities
            .iter()
            .position(|f| format!("amap:{}", f.source_id()) == merges[0].kept)
            .unwrap();
        assert_eq!(sourced.origin(into).also, [(1, "b1".to_owned())]);
    }

    #[test]
    fn ids_are_stable_and_qualified() {
        assert_eq!(
            source_feature_id("osm", "n1"),
            source_feature_id("osm", "n1")
        );
        assert_ne!(
            source_feature_id("osm", "1"),
            source_feature_id("教育局", "1")
        );
        assert!(source_feature_id("osm", "n1") < 1 << 53);
        let row = [Some("药房".to_owned()), None];
        let id = content_source_id(121.4, 31.2, &row);
        assert_eq!(id, content_source_id(121.4, 31.2, &row));
        assert_ne!(id, content_source_id(121.4, 31.2000001, &row));
        assert!(id.starts_with('#') && id.len() == 17, "{id}");
    }

    #[test]
    fn suggested_rules_fit_the_value() {
        let suggest = |field: &str, value: &str| {
            super::super::suggest_rule(&UnmatchedValue {
                field: field.into(),
                value: value.into(),
            })
        };
        assert_eq!(
            suggest("type", "餐饮服务;中餐厅;火锅店|购物服务;便利店"),
            r#"{ category = "…", field = "type", segment = "火锅店" }"#
        );
        assert_eq!(
            suggest("typecode", "050117"),
            r#"{ category = "…", field = "typecode", code_prefix = "050117" }"#
        );
        assert_eq!(
            suggest("fclass", "restaurant"),
            r#"{ category = "…", field = "fclass", exact = "restaurant" }"#
        );
    }
}
