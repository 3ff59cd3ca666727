//! Evaluation against a baseline: `[[baselines]]` (named sets of facility files, read like
//! `[[data.sources]]`) → [`Baseline`]s loaded beside the current data; a baseline and the
//! current [`Dataset`] → a [`Diff`]: the facilities added, removed, moved (farther than
//! `evaluation.moved_distance_m`) and changed in category or status, matched by their stable id
//! (`source:source_id`), with counts per category and subdistrict.
//!
//! The coverage change from baseline to now is the baseline's facilities served over today's
//! streets and residents (the same grid), compared by `coverage::stats`; the HTTP layer builds
//! it once per snapshot and baseline when first asked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use geo::Contains;

use crate::attributes::{Attributes, Status};
use crate::config::{BaselineConfig, Config};
use crate::coverage::{self, Coverage, CoverageParams};
use crate::dataset::{Dataset, Facility};
use crate::geom;
use crate::ingest::{self, IdScheme, SourceSpec};
use crate::taxonomy::{CategoryId, Taxonomy};

/// One facility of a baseline.
#[derive(Debug, Clone)]
pub struct BaselineFacility {
    /// `source:source_id`.
    pub key: String,
    pub facility: Facility,
    pub status: Status,
    /// Its attributes then (functions, so the baseline's coverage counts what they served).
    pub attributes: Attributes,
}

/// A named baseline, loaded.
pub struct Baseline {
    pub name: String,
    pub as_of: Option<String>,
    pub facilities: Vec<BaselineFacility>,
    /// `source:source_id` → index into `facilities`.
    by_key: HashMap<String, usize>,
    /// The baseline's facilities over today's context layers, for its coverage (first use).
    coverage: OnceLock<Result<Arc<Coverage>, coverage::Error>>,
}

/// Why a baseline could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("baseline `{name}`: {source}")]
    Ingest {
        name: String,
        #[source]
        source: ingest::Error,
    },
}

/// Reads every configured baseline. A file that cannot be read is an error naming it; rows are
/// read as the current sources' are (skips counted, not fatal).
pub fn load(config: &Config, taxonomy: &Taxonomy) -> Result<Vec<Baseline>, Error> {
    config
        .baselines
        .iter()
        .map(|b| load_one(config, b, taxonomy))
        .collect()
}

fn load_one(config: &Config, b: &BaselineConfig, taxonomy: &Taxonomy) -> Result<Baseline, Error> {
    let mut facilities = Vec::new();
    let mut seen = HashSet::new();
    let mut unmatched = BTreeMap::new();
    for (idx, source) in b.sources.iter().enumerate() {
        let name = source.source_name();
        let path = config.resolve(&source.file);
        let options = source.file_options();
        let spec = SourceSpec {
            idx: idx as u16,
            name: &name,
            path: &path,
            options: &options,
            ids: IdScheme::Qualified,
            required: source.fields.keys().cloned().collect(),
        };
        let (read, _report, _names) =
            ingest::sources::read_source(&spec, taxonomy, &mut seen, &mut unmatched).map_err(
                |source| Error::Ingest {
                    name: b.name.clone(),
                    source,
                },
            )?;
        facilities.extend(read.into_iter().map(|f| BaselineFacility {
            key: format!("{name}:{}", f.facility.source_id()),
            status: f.attributes.status,
            attributes: f.attributes,
            facility: f.facility,
        }));
    }
    let by_key = facilities
        .iter()
        .enumerate()
        .map(|(idx, f)| (f.key.clone(), idx))
        .collect();
    Ok(Baseline {
        name: b.name.trim().to_owned(),
        as_of: b.as_of.as_ref().map(|d| d.text.clone()),
        facilities,
        by_key,
        coverage: OnceLock::new(),
    })
}

impl Baseline {
    /// The coverage of the baseline's existing facilities over today's streets, subdistricts
    /// and residents (the same grid as `current`'s). Built on first use (blocking).
    pub fn coverage(
        &self,
        current: &Dataset,
        params: &CoverageParams,
    ) -> Result<Arc<Coverage>, coverage::Error> {
        self.coverage
            .get_or_init(|| {
                let facilities: Vec<Facility> =
                    self.facilities.iter().map(|f| f.facility.clone()).collect();
                let statuses: HashMap<u64, Attributes> = self
                    .facilities
                    .iter()
                    .filter(|f| !f.attributes.is_empty())
                    .map(|f| (f.facility.id, f.attributes.clone()))
                    .collect();
                let dataset = Dataset::new(
                    current.taxonomy.clone(),
                    facilities,
                    current.roads.clone(),
                    current.areas.clone(),
                    current.residents.clone(),
                )
                .with_attributes(statuses)
                .with_area(current.area.clone());
                Coverage::build(&dataset, params).map(Arc::new)
            })
            .clone()
    }
}

/// What changed for one facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    Added,
    Removed,
    Moved,
    Category,
    Status,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::Added,
        ChangeKind::Removed,
        ChangeKind::Moved,
        ChangeKind::Category,
        ChangeKind::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Moved => "moved",
            ChangeKind::Category => "category_changed",
            ChangeKind::Status => "status_changed",
        }
    }
}

/// One change (a facility moved and recategorised gives two).
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ChangeKind,
    /// `source:source_id`.
    pub key: String,
    /// The facility's id now (`None`: removed).
    pub id: Option<u64>,
    pub name: String,
    /// Category now (removed: then).
    pub category: CategoryId,
    pub category_before: Option<CategoryId>,
    pub status: Status,
    pub status_before: Option<Status>,
    /// Position now (removed: then).
    pub lon: f64,
    pub lat: f64,
    /// Ground metres between then and now (matched facilities).
    pub distance_m: Option<f64>,
    /// Subdistrict index (of `Dataset::areas`) holding the position, if any.
    pub area: Option<u16>,
}

/// Counts of one (subdistrict, category) cell of the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Existing facilities then and now.
    pub stock_before: u64,
    pub stock_now: u64,
    pub by_kind: [u64; 5],
}

/// A baseline compared with the current data.
#[derive(Debug, Clone)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// `(area or None, category)` → counts.
    pub summary: BTreeMap<(Option<u16>, CategoryId), Counts>,
    pub n_before: usize,
    pub n_now: usize,
    pub moved_distance_m: f64,
}

/// Compares `baseline` with `current`: matches by `source:source_id` (every id a merged
/// facility is listed under).
pub fn diff(baseline: &Baseline, current: &Dataset, moved_distance_m: f64) -> Diff {
    let area_of = |lon: f64, lat: f64| -> Option<u16> {
        let p = geo::Point::new(lon, lat);
        current
            .areas
            .iter()
            .position(|a| a.polygon.contains(&p))
            .and_then(|i| u16::try_from(i).ok())
    };
    let mut changes = Vec::new();
    let mut summary: BTreeMap<(Option<u16>, CategoryId), Counts> = BTreeMap::new();
    let mut matched_now: HashSet<u64> = HashSet::new();
    for then in &baseline.facilities {
        let b = &then.facility;
        let Some(now) = current.facility_by_source_key(&then.key) else {
            let area = area_of(b.lon, b.lat);
            changes.push(Change {
                kind: ChangeKind::Removed,
                key: then.key.clone(),
                id: None,
                name: b.name().to_string(),
                category: b.category,
                category_before: Some(b.category),
                status: then.status,
                status_before: Some(then.status),
                lon: b.lon,
                lat: b.lat,
                distance_m: None,
                area,
            });
            continue;
        };
        // A facility merged from two baseline rows is compared once.
        if !matched_now.insert(now.id) {
            continue;
        }
        let idx = current.index_of(now.id).unwrap_or_default();
        let status = current.status(idx);
        let distance_m = geom::haversine_m((b.lon, b.lat), (now.lon, now.lat));
        let area = area_of(now.lon, now.lat);
        let base = Change {
            kind: ChangeKind::Moved,
            key: then.key.clone(),
            id: Some(now.id),
            name: current.display_name(now).to_owned(),
            category: now.category,
            category_before: Some(b.category),
            status,
            status_before: Some(then.status),
            lon: now.lon,
            lat: now.lat,
            distance_m: Some(distance_m),
            area,
        };
        if distance_m > moved_distance_m {
            changes.push(base.clone());
        }
        if now.category != b.category {
            changes.push(Change {
                kind: ChangeKind::Category,
                ..base.clone()
            });
        }
        if status != then.status {
            changes.push(Change {
                kind: ChangeKind::Status,
                ..base
            });
        }
    }
    for (idx, now) in current.facilities().iter().enumerate() {
        if matched_now.contains(&now.id)
            || current
                .source_keys(now)
                .iter()
                .any(|k| baseline.by_key.contains_key(k))
        {
            continue;
        }
        changes.push(Change {
            kind: ChangeKind::Added,
            key: current
                .source_keys(now)
                .into_iter()
                .next()
                .unwrap_or_default(),
            id: Some(now.id),
            name: current.display_name(now).to_owned(),
            category: now.category,
            category_before: None,
            status: current.status(idx as u32),
            status_before: None,
            lon: now.lon,
            lat: now.lat,
            distance_m: None,
            area: area_of(now.lon, now.lat),
        });
    }
    changes.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    for c in &changes {
        let slot = ChangeKind::ALL
            .iter()
            .position(|k| *k == c.kind)
            .unwrap_or(0);
        summary.entry((c.area, c.category)).or_default().by_kind[slot] += 1;
    }
    for then in baseline
        .facilities
        .iter()
        .filter(|f| f.status == Status::Existing)
    {
        let key = (
            area_of(then.facility.lon, then.facility.lat),
            then.facility.category,
        );
        summary.entry(key).or_default().stock_before += 1;
    }
    for (idx, now) in current.facilities().iter().enumerate() {
        if current.status(idx as u32) == Status::Existing {
            let key = (area_of(now.lon, now.lat), now.category);
            summary.entry(key).or_default().stock_now += 1;
        }
    }
    Diff {
        changes,
        summary,
        n_before: baseline.facilities.len(),
        n_now: current.facilities().len(),
        moved_distance_m,
    }
}

impl crate::analysis_cache::Weigh for Diff {
    fn heap_bytes(&self) -> usize {
        self.changes
            .iter()
            .map(|c| std::mem::size_of::<Change>() + c.key.len() + c.name.len())
            .sum::<usize>()
            + self.summary.len() * (std::mem::size_of::<Counts>() + 32)
    }
}
