//! Ingest: the data files named in the config (facility sources, roads, subdistricts, residents)
//! → facilities, roads, areas and residents in WGS84, plus an [`IngestReport`] of what was read,
//! skipped, merged and left unclassified.
//!
//! Only this module reads data files. A file that cannot be used at all (missing, unreadable,
//! truncated, wrong CRS, a required column absent) is an [`Error`] naming the file and the fix.
//! Individual bad features are a value, not an error: they are skipped with a counted reason (no
//! or invalid geometry, at (0, 0), outside the region, duplicate id) or put in the fallback
//! category (no rule matched). Unnamed facilities are kept. Coordinates are converted from each
//! file's datum to WGS84 as they are read. [`check_guards`] decides whether the result may
//! replace the serving data.

mod delimited;
mod fgb;
pub mod formats;
mod geojson_file;
mod gpkg;
mod shp;
pub mod sources;
mod text;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use geo::{Geometry, InteriorPoint};

use crate::area::{AnalysisArea, AreaSource};
use crate::config::{Config, FieldMap, FileOptions};
use crate::dataset::{Area, Facility, Origins, Residential, Road, SourceInfo};
use crate::geom;
use crate::taxonomy::Taxonomy;
use formats::{Column, LayerReader, Prop, ReadOptions};
pub use sources::{IdScheme, Merge, SourceSpec, UnmatchedValue};

/// Why a data file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unknown file format; name the format in the config or use one of {known}")]
    UnknownFormat { path: PathBuf, known: &'static str },
    #[error("{path} is not a readable FlatGeobuf file: {message}")]
    NotFlatGeobuf { path: PathBuf, message: String },
    #[error(
        "{path} is in {found}, expected WGS84 (EPSG:4326); reproject it, e.g. `ogr2ogr -t_srs EPSG:4326 out.fgb {path}`"
    )]
    Crs { path: PathBuf, found: String },
    #[error(
        "{path} has no column `{column}` (columns: {available}); set the field name under [data.fields] in the config"
    )]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    #[error("{path} is corrupt at feature {feature_idx}: {message}")]
    Corrupt {
        path: PathBuf,
        feature_idx: usize,
        message: String,
    },
    #[error("{path}: unknown text encoding `{name}`; use one of {examples}")]
    Encoding {
        path: PathBuf,
        name: String,
        examples: &'static str,
    },
    #[error("{path} is not a readable {format} file: {message}")]
    Unreadable {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error(
        "{path}: no coordinate columns found (columns: {available}); name them with lon_column and lat_column, or location_column for one \"lng,lat\" column"
    )]
    NoCoordinates { path: PathBuf, available: String },
    #[error(transparent)]
    Osm(#[from] crate::osm::Error),
    #[error("{path} holds no usable {kind}: {n_read} features read, all skipped")]
    NothingUsable {
        path: PathBuf,
        kind: &'static str,
        n_read: usize,
    },
}

/// What reading one file did.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub path: PathBuf,
    pub layer: &'static str,
    /// The facilities source's name (`None` for context layers).
    pub source: Option<String>,
    pub n_read: usize,
    pub n_loaded: usize,
    /// Reason → number of features skipped for it.
    pub skipped: BTreeMap<String, usize>,
    /// Reason → how a message names the first feature skipped for it ("feature 12", "line 14").
    pub first_skipped: BTreeMap<String, String>,
    /// Reason → feature index of the first skip, until described.
    first_skipped_idx: BTreeMap<String, usize>,
    /// Reason → the source id of the first row skipped for it, when it has one.
    first_skipped_id: BTreeMap<String, String>,
    /// Raw category value → number of facilities put in the fallback category because of it.
    pub unknown_categories: BTreeMap<String, usize>,
    /// Facilities no rule matched (put in the fallback category).
    pub n_fallback: usize,
    /// Facilities kept without a name.
    pub n_unnamed: usize,
    /// Other facts worth a line (datum conversion).
    pub notes: Vec<String>,
    /// Raw status value not understood → facilities with it (taken as `existing`).
    pub unknown_statuses: BTreeMap<String, usize>,
    /// Function values no category takes → facilities with it (kept, serve nothing more).
    pub unmapped_functions: BTreeMap<String, usize>,
    /// `floor_area` / `year` values that are not a number or a year: field → (count, first
    /// value); left out.
    pub unreadable_attributes: BTreeMap<&'static str, (usize, String)>,
    /// Facilities per status (those with a status column).
    pub statuses: BTreeMap<crate::attributes::Status, usize>,
}

impl FileReport {
    fn new(path: &Path, layer: &'static str) -> FileReport {
        FileReport {
            path: path.to_owned(),
            layer,
            ..FileReport::default()
        }
    }

    fn skip(&mut self, feature_idx: usize, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::debug!(path = %self.path.display(), feature_idx, %reason, "skipping feature");
        self.first_skipped_idx
            .entry(reason.clone())
            .or_insert(feature_idx);
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Names the first skipped feature of every reason the way the file's format does ("line
    /// 14" of a CSV file, "feature 12" of a FlatGeobuf file).
    fn describe_skips(&mut self, names: &formats::FeatureNames) {
        for (reason, idx) in std::mem::take(&mut self.first_skipped_idx) {
            let mut described = names.describe(idx);
            if let Some(id) = self.first_skipped_id.get(&reason) {
                described.push_str(&format!(", id `{id}`"));
            }
            self.first_skipped.insert(reason, described);
        }
    }

    /// Like `skip`, remembering the row's source id for the message.
    fn skip_row(&mut self, feature_idx: usize, reason: impl Into<String>, source_id: &str) {
        let reason = reason.into();
        if !self.first_skipped_id.contains_key(&reason) {
            self.first_skipped_id
                .insert(reason.clone(), source_id.to_owned());
        }
        self.skip(feature_idx, reason);
    }

    pub fn n_skipped(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// What ingesting all configured files did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    /// Facility rows read and skipped over all sources (the share the start/reload guard checks).
    pub n_facility_rows: usize,
    pub n_facility_skipped: usize,
    /// Facility rows outside a configured `[area]`: reported with the skips, but out of scope
    /// rather than bad, so not part of `n_facility_skipped`.
    pub n_facility_out_of_area: usize,
    /// Facilities merged into another source's (not skipped: they stay findable by their id).
    pub merges: Vec<Merge>,
    /// Raw values no rule matched, with how many facilities carried each.
    pub unmatched: BTreeMap<UnmatchedValue, usize>,
    /// The region facilities must lie in, as described to the user.
    pub region: String,
}

impl IngestReport {
    /// Skip reason → count over all facility sources.
    pub fn facility_skips(&self) -> BTreeMap<&str, usize> {
        let mut skips = BTreeMap::new();
        for file in self.files.iter().filter(|f| f.source.is_some()) {
            for (reason, n) in &file.skipped {
                *skips.entry(reason.as_str()).or_default() += n;
            }
        }
        skips
    }

    /// The values that fell into the fallback category, most frequent first.
    pub fn unmatched_by_frequency(&self) -> Vec<(&UnmatchedValue, usize)> {
        let mut values: Vec<_> = self.unmatched.iter().map(|(v, &n)| (v, n)).collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        values
    }
}

impl std::fmt::Display for IngestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for file in &self.files {
            let layer = match &file.source {
                Some(source) => format!("{}, source `{source}`", file.layer),
                None => file.layer.to_owned(),
            };
            writeln!(
                f,
                "{} ({layer}): {} features read, {} loaded, {} skipped",
                file.path.display(),
                file.n_read,
                file.n_loaded,
                file.n_skipped()
            )?;
            for note in &file.notes {
                writeln!(f, "  {note}")?;
            }
            for (reason, n) in &file.skipped {
                match file.first_skipped.get(reason) {
                    Some(first) => writeln!(f, "  skipped {n}: {reason} (first: {first})")?,
                    None => writeln!(f, "  skipped {n}: {reason}")?,
                }
            }
            if file.n_unnamed > 0 {
                writeln!(
                    f,
                    "  {} without a name, kept (labelled by their category)",
                    file.n_unnamed
                )?;
            }
            if file.n_fallback > 0 {
                writeln!(
                    f,
                    "  {} matched no category rule, put in the fallback category (values below)",
                    file.n_fallback
                )?;
            }
            if file
                .statuses
                .keys()
                .any(|s| *s != crate::attributes::Status::Existing)
            {
                let counts: Vec<String> = file
                    .statuses
                    .iter()
                    .map(|(s, n)| format!("{} {n}", s.as_str()))
                    .collect();
                writeln!(f, "  status: {}", counts.join(", "))?;
            }
            for (value, n) in &file.unknown_statuses {
                writeln!(
                    f,
                    "  {n} with status {value:?}, not understood: taken as existing (use existing, under_construction, planned, closed, or 已建/在建/规划/关闭)"
                )?;
            }
            for (field, (n, first)) in &file.unreadable_attributes {
                writeln!(
                    f,
                    "  {n} with an unreadable {field} (first: {first:?}), left out"
                )?;
            }
            if !file.unmapped_functions.is_empty() {
                let shown: Vec<String> = file
                    .unmapped_functions
                    .iter()
                    .take(MAX_UNMATCHED_SHOWN)
                    .map(|(v, n)| format!("{v:?} ×{n}"))
                    .collect();
                writeln!(
                    f,
                    "  functions no category takes (add them to a category's `functions` or [taxonomy.functions]): {}",
                    shown.join(", ")
                )?;
            }
        }
        if !self.region.is_empty() {
            writeln!(f, "region: {}", self.region)?;
        }
        if !self.merges.is_empty() {
            writeln!(
                f,
                "merged {} facilities listed by two sources:",
                self.merges.len()
            )?;
            for m in &self.merges {
                writeln!(
                    f,
                    "  {} into {} ({}, {:.0} m apart)",
                    m.merged, m.kept, m.name, m.distance_m
                )?;
            }
        }
        let unmatched = self.unmatched_by_frequency();
        if !unmatched.is_empty() {
            writeln!(
                f,
                "values no rule matched ({} distinct), most frequent first, with a rule that would catch each (add under [[category_rules]], choosing the category):",
                unmatched.len()
            )?;
            for (value, n) in unmatched.iter().take(MAX_UNMATCHED_SHOWN) {
                writeln!(
                    f,
                    "  {n:>6}  {} = {:?}  ->  {}",
                    value.field,
                    value.value,
                    suggest_rule(value)
                )?;
            }
            if unmatched.len() > MAX_UNMATCHED_SHOWN {
                writeln!(f, "  … and {} more", unmatched.len() - MAX_UNMATCHED_SHOWN)?;
            }
        }
        Ok(())
    }
}

/// Distinct unmatched values `check` lists.
const MAX_UNMATCHED_SHOWN: usize = 30;

/// A `[[category_rules]]` entry, as an inline table, that would catch `value`: a segment rule
/// on the deepest segment of a type path, a code prefix for a numeric code, else an exact value.
pub fn suggest_rule(value: &UnmatchedValue) -> String {
    let text = value.value.trim();
    let (kind, pattern) = if text.contains(';') || text.contains('|') {
        let first_path = text.split('|').next().unwrap_or(text);
        let deepest = first_path
            .split(';')
            .map(str::trim)
            .rfind(|s| !s.is_empty())
            .unwrap_or(first_path);
        ("segment", deepest)
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        ("code_prefix", text)
    } else {
        ("exact", text)
    };
    format!(
        "{{ category = \"…\", field = {:?}, {kind} = {:?} }}",
        value.field, pattern
    )
}

/// Everything read from the configured files.
pub struct Layers {
    pub facilities: Vec<Facility>,
    /// Per facility id, its attributes, for the facilities that have any.
    pub attributes: HashMap<u64, crate::attributes::Attributes>,
    /// Per facility id, its source and rule.
    pub origins: Origins,
    pub sources: Vec<SourceInfo>,
    pub roads: Vec<Road>,
    pub areas: Vec<Area>,
    pub residents: Vec<Residential>,
    /// The analysis area: configured (`[area]`), or derived from the subdistricts or the
    /// facilities' robust extent.
    pub area: Option<AnalysisArea>,
}

impl Layers {
    /// The dataset of these layers: facilities indexed, with their origins, attributes and the
    /// analysis area.
    pub fn into_dataset(self, taxonomy: std::sync::Arc<Taxonomy>) -> crate::dataset::Dataset {
        let dataset = crate::dataset::Dataset::new(
            taxonomy,
            self.facilities,
            self.roads,
            self.areas,
            self.residents,
        )
        .with_origins(self.sources, self.origins)
        .with_attributes(self.attributes);
        match self.area {
            Some(area) => dataset.with_area(area),
            None => dataset,
        }
    }
}

/// Reads every file the config names. Facilities outside the region (the analysis area plus
/// its margin) are skipped and counted, so they never stretch the extent.
pub fn read_all(config: &Config, taxonomy: &Taxonomy) -> Result<(Layers, IngestReport), Error> {
    let mut report = IngestReport::default();
    let data = &config.data;
    let margin_m = region_margin_m(config, taxonomy);

    let (specs, sources) = source_specs(config);
    let source_names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    // The facility sources and the context layers are independent files: read them side by
    // side. A facility error still wins over a context one, as when they were read in turn.
    let unmatched = &mut report.unmatched;
    let read_facilities = || -> Result<_, Error> {
        let mut seen_ids = HashSet::new();
        let mut sourced = sources::SourcedFacilities::default();
        let mut source_reports = Vec::new();
        let mut feature_names = Vec::new();
        for (spec, options) in &specs {
            let spec = SourceSpec {
                idx: spec.idx,
                name: &source_names[spec.idx as usize],
                path: &spec.path,
                options,
                ids: spec.ids,
                required: spec.required.clone(),
            };
            let (facilities, r, names) =
                sources::read_source_rows(&spec, taxonomy, &mut seen_ids, unmatched)?;
            sourced.append(facilities);
            source_reports.push(r);
            feature_names.push(names);
        }
        Ok((sourced, source_reports, feature_names))
    };
    let read_context = || -> Result<_, Error> {
        let mut context_reports = Vec::new();
        let (mut roads, mut areas, mut residents) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(options) = data.roads.file() {
            let (read, r) = read_roads_with(&config.resolve(&options.file), options)?;
            roads = read;
            context_reports.push(r);
        }
        if let Some(options) = data.subdistricts.file() {
            let (read, r) = read_areas_with(&config.resolve(&options.file), options)?;
            areas = read;
            context_reports.push(r);
        }
        if let Some(options) = data.residents.file() {
            let (read, r) = read_residents_with(&config.resolve(&options.file), options)?;
            residents = read;
            context_reports.push(r);
        }
        Ok((roads, areas, residents, context_reports))
    };
    let (facilities_read, context_read) = rayon::join(read_facilities, read_context);
    let (mut sourced, mut source_reports, feature_names) = facilities_read?;

    let n_rows: usize = source_reports.iter().map(|r| r.n_read).sum();
    if sourced.is_empty() && n_rows > 0 {
        // Nothing had a usable position at all: a wrong column or format, not a few bad rows.
        return Err(Error::NothingUsable {
            path: specs
                .first()
                .map(|(s, _)| s.path.clone())
                .unwrap_or_default(),
            kind: "facilities",
            n_read: n_rows,
        });
    }
    let (roads, areas, residents, mut context_reports) = context_read?;
    let mut layers = Layers {
        facilities: Vec::new(),
        attributes: HashMap::new(),
        origins: Origins::default(),
        sources,
        roads,
        areas,
        residents,
        area: None,
    };
    let area = if let Some(bbox) = config.area.bbox() {
        AnalysisArea::from_bbox(AreaSource::Bbox, bbox, margin_m)
    } else if let Some(boundary) = config.area.boundary() {
        let path = config.resolve(boundary);
        let (outline, r) = read_outline(&path)?;
        context_reports.push(r);
        AnalysisArea::from_outline(AreaSource::Boundary(path.clone()), outline, margin_m).ok_or(
            Error::NothingUsable {
                path,
                kind: "boundary polygons",
                n_read: 0,
            },
        )?
    } else {
        crate::area::derive(
            &layers.areas,
            sourced.facilities.iter().map(|f| (f.lon, f.lat)),
            margin_m,
        )
    };
    let [w, s, e, n] = area.bbox_grown(area.margin_m);
    report.region = format!(
        "{} plus {:.0} m: {w:.5},{s:.5},{e:.5},{n:.5}",
        area.source.describe(),
        area.margin_m
    );
    // An area the operator configured makes rows beyond it out of scope (a city-wide file served
    // for one district): counted and reported, but not a sign of bad data. Beyond an area derived
    // from the data itself, a row is an outlier (a wrong datum, swapped or zero coordinates) and
    // counts against `data.max_skipped_share`.
    let configured_area = matches!(area.source, AreaSource::Bbox | AreaSource::Boundary(_));
    let outside = if configured_area {
        format!(
            "outside the configured area ({}, plus {:.0} m)",
            area.source.describe(),
            area.margin_m
        )
    } else {
        format!(
            "outside the region ({}, plus {:.0} m): check the coordinates and the source's datum, or set [area]",
            area.source.describe(),
            area.margin_m
        )
    };
    let mut n_out_of_area = 0;
    sourced.retain(|f, row| {
        let keep = area.in_region(f.lon, f.lat);
        if !keep {
            let r = &mut source_reports[spec_position(&specs, row.source)];
            r.skip_row(row.feature_idx, outside.clone(), f.source_id());
            r.n_loaded -= 1;
            if configured_area {
                n_out_of_area += 1;
            }
        }
        keep
    });
    layers.area = Some(area);

    report.merges = sources::merge_duplicates(&mut sourced, &source_names, data.dedupe_distance_m);
    let mut origins = Origins::with_capacity(sourced.len());
    for (idx, f) in sourced.facilities.iter().enumerate() {
        origins.push(f.id, sourced.origin(idx));
    }
    layers.origins = origins;
    layers.attributes = std::mem::take(&mut sourced.attributes);
    layers.facilities = sourced.facilities;
    for (r, names) in source_reports.iter_mut().zip(&feature_names) {
        r.describe_skips(names);
        report.n_facility_rows += r.n_read;
        report.n_facility_skipped += r.n_skipped();
    }
    report.n_facility_skipped -= n_out_of_area;
    report.n_facility_out_of_area = n_out_of_area;
    report.files.extend(source_reports);
    report.files.extend(context_reports);
    // Facilities all outside the region is for the guards to refuse, with the reason.
    Ok((layers, report))
}

/// A facilities source as configured, resolved.
struct ResolvedSource {
    idx: u16,
    path: PathBuf,
    ids: IdScheme,
    required: Vec<String>,
}

/// The sources the config names (the single file, or `[[data.sources]]`), with their info.
fn source_specs(config: &Config) -> (Vec<(ResolvedSource, FileOptions)>, Vec<SourceInfo>) {
    let data = &config.data;
    let mut specs = Vec::new();
    let mut infos = Vec::new();
    if let Some(file) = &data.facilities {
        let options = data.fields.file_options(file);
        let path = config.resolve(file);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        infos.push(SourceInfo {
            name: name.split('.').next().unwrap_or(&name).to_owned(),
            provider: String::new(),
            as_of: None,
            path: path.clone(),
        });
        specs.push((
            ResolvedSource {
                idx: 0,
                path,
                ids: IdScheme::Legacy,
                required: vec!["id".into(), "name".into(), "category".into()],
            },
            options,
        ));
    }
    for source in &data.sources {
        let idx = infos.len() as u16;
        let path = config.resolve(&source.file);
        infos.push(SourceInfo {
            name: source.source_name(),
            provider: source.provider.clone(),
            as_of: source.as_of.clone(),
            path: path.clone(),
        });
        specs.push((
            ResolvedSource {
                idx,
                path,
                ids: IdScheme::Qualified,
                required: source.fields.keys().cloned().collect(),
            },
            source.file_options(),
        ));
    }
    (specs, infos)
}

fn spec_position(specs: &[(ResolvedSource, FileOptions)], source: u16) -> usize {
    specs
        .iter()
        .position(|(s, _)| s.idx == source)
        .unwrap_or_default()
}

/// Whether a start or reload may replace the serving data with this, by the `[data]` guards.
/// `previous`: the facility count now served (none at start).
pub fn check_guards(
    config: &Config,
    report: &IngestReport,
    n_facilities: usize,
    previous: Option<usize>,
) -> Result<(), Refused> {
    let data = &config.data;
    let mut reasons = Vec::new();
    if report.n_facility_rows > 0 {
        let share = report.n_facility_skipped as f64 / report.n_facility_rows as f64;
        if share > data.max_skipped_share {
            let top: Vec<String> = report
                .facility_skips()
                .into_iter()
                .map(|(reason, n)| format!("{n} × {reason}"))
                .collect();
            reasons.push(format!(
                "{} of {} facility rows ({:.1} %) were skipped, more than data.max_skipped_share ({:.1} %): {}",
                report.n_facility_skipped,
                report.n_facility_rows,
                share * 100.0,
                data.max_skipped_share * 100.0,
                top.join("; ")
            ));
        }
    }
    if let Some(previous) = previous.filter(|&p| p > 0) {
        let drop = 1.0 - n_facilities as f64 / previous as f64;
        if drop > data.max_facility_drop {
            reasons.push(format!(
                "the facility count would fall from {previous} to {n_facilities} ({:.1} %), more than data.max_facility_drop ({:.1} %)",
                -drop * 100.0,
                data.max_facility_drop * 100.0
            ));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Refused {
            reasons,
            n_rows: report.n_facility_rows,
            n_skipped: report.n_facility_skipped,
            n_facilities,
            previous,
        })
    }
}

/// The data was read but fails a `[data]` guard.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "data refused: {}; run `lifecircle check` for the details and fix the files, or force it (`serve --force`, POST /admin/reload?force=true)",
    reasons.join("; ")
)]
pub struct Refused {
    pub reasons: Vec<String>,
    pub n_rows: usize,
    pub n_skipped: usize,
    pub n_facilities: usize,
    pub previous: Option<usize>,
}

/// How far outside the analysis area a facility can still serve a place inside it: the largest
/// walking threshold at the fastest walking profile.
fn region_margin_m(config: &Config, taxonomy: &Taxonomy) -> f64 {
    let max_walk_min = taxonomy
        .categories()
        .map(|(_, c)| c.walk_min)
        .max()
        .unwrap_or(15);
    let max_speed = config
        .coverage
        .profiles
        .iter()
        .map(|p| p.speed_m_s)
        .fold(1.0, f64::max);
    f64::from(max_walk_min) * 60.0 * max_speed
}

/// Reads a boundary file: all its polygons together.
fn read_outline(path: &Path) -> Result<(geo::MultiPolygon<f64>, FileReport), Error> {
    let file = LayerReader::open(path, &ReadOptions::default(), &[])?;
    let mut report = FileReport::new(path, "area boundary");
    let mut polygons = Vec::new();
    file.for_each(|feature_idx, geometry, _| {
        report.n_read += 1;
        match geometry {
            Ok(Geometry::Polygon(p)) => polygons.push(p),
            Ok(Geometry::MultiPolygon(mp)) => polygons.extend(mp.0),
            Ok(_) => report.skip(feature_idx, "not a polygon"),
            Err(reason) => report.skip(feature_idx, reason),
        }
    })?;
    report.n_loaded = polygons.len();
    if polygons.is_empty() {
        return Err(Error::NothingUsable {
            path: path.to_owned(),
            kind: "boundary polygons",
            n_read: report.n_read,
        });
    }
    Ok((geo::MultiPolygon(polygons), report))
}

/// Reads one facilities file with the single-file field map (ids as in the single-file form),
/// without region filtering: for tools and tests that look at one file.
pub fn read_facilities(
    path: &Path,
    fields: &FieldMap,
    taxonomy: &Taxonomy,
) -> Result<(Vec<Facility>, FileReport), Error> {
    let options = fields.file_options(path);
    let name = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spec = SourceSpec {
        idx: 0,
        name: &name,
        path,
        options: &options,
        ids: IdScheme::Legacy,
        required: vec!["id".into(), "name".into(), "category".into()],
    };
    let (sourced, mut report, names) =
        sources::read_source(&spec, taxonomy, &mut HashSet::new(), &mut BTreeMap::new())?;
    report.describe_skips(&names);
    if sourced.is_empty() && report.n_read > 0 {
        return Err(Error::NothingUsable {
            path: path.to_owned(),
            kind: "facilities",
            n_read: report.n_read,
        });
    }
    Ok((sourced.into_iter().map(|f| f.facility).collect(), report))
}

/// Reads the street network: LineStrings (MultiLineStrings are split) with a highway class.
pub fn read_roads(path: &Path) -> Result<(Vec<Road>, FileReport), Error> {
    read_roads_with(path, &FileOptions::default())
}

/// [`read_roads`] with file options: format, datum, field map (`highway`, `name`).
pub fn read_roads_with(
    path: &Path,
    options: &FileOptions,
) -> Result<(Vec<Road>, FileReport), Error> {
    let columns = [
        Column {
            name: options.column("highway", "highway"),
            required: true,
        },
        Column {
            name: options.column("name", "name"),
            required: options.fields.contains_key("name"),
        },
    ];
    let datum = options.datum;
    let file = LayerReader::open(path, &options.read_options(), &columns)?;
    let mut report = FileReport::new(path, "roads");
    let mut roads = Vec::with_capacity(file.announced_features().unwrap_or(0));
    let mut shared: std::collections::HashSet<std::sync::Arc<str>> = Default::default();
    let mut share = |text: String| -> std::sync::Arc<str> {
        if let Some(known) = shared.get(text.as_str()) {
            return known.clone();
        }
        let new: std::sync::Arc<str> = text.into();
        shared.insert(new.clone());
        new
    };
    file.for_each(|feature_idx, geometry, props| {
        report.n_read += 1;
        let lines = match geometry {
            Ok(Geometry::LineString(l)) => vec![l],
            Ok(Geometry::MultiLineString(ml)) => ml.0,
            Ok(_) => return report.skip(feature_idx, "not a line"),
            Err(reason) => return report.skip(feature_idx, reason),
        };
        let mut props = props.into_iter();
        let highway = share(
            props
                .next()
                .flatten()
                .and_then(Prop::into_text)
                .unwrap_or_default(),
        );
        let name = props
            .next()
            .flatten()
            .and_then(Prop::into_text)
            .map(&mut share);
        for line in lines {
            let coords: Vec<(f64, f64)> = line.0.iter().map(|c| (c.x, c.y)).collect();
            if coords.len() < 2
                || !coords
                    .iter()
                    .all(|&(lon, lat)| geom::is_valid_lonlat(lon, lat))
            {
                report.skip(
                    feature_idx,
                    "line with fewer than two valid lon/lat vertices",
                );
                continue;
            }
            let coords = coords
                .into_iter()
                .map(|(lon, lat)| datum.to_wgs84(lon, lat))
                .collect();
            roads.push(Road {
                highway: highway.clone(),
                name: name.clone(),
                coords,
            });
        }
    })?;
    report.n_loaded = roads.len();
    Ok((roads, report))
}

/// Reads subdistrict (or any statistical area) polygons with their names.
pub fn read_areas(path: &Path) -> Result<(Vec<Area>, FileReport), Error> {
    read_areas_with(path, &FileOptions::default())
}

/// [`read_areas`] with file options: format, datum, field map (`name`, `name_en`).
pub fn read_areas_with(
    path: &Path,
    options: &FileOptions,
) -> Result<(Vec<Area>, FileReport), Error> {
    let columns = [
        Column {
            name: options.column("name", "name"),
            required: true,
        },
        Column {
            name: options.column("name_en", "name_en"),
            required: options.fields.contains_key("name_en"),
        },
    ];
    let datum = options.datum;
    let file = LayerReader::open(path, &options.read_options(), &columns)?;
    let mut report = FileReport::new(path, "subdistricts");
    let mut areas = Vec::new();
    file.for_each(|feature_idx, geometry, props| {
        report.n_read += 1;
        let polygon = match geometry {
            Ok(Geometry::Polygon(p)) => geo::MultiPolygon(vec![p]),
            Ok(Geometry::MultiPolygon(mp)) => mp,
            Ok(_) => return report.skip(feature_idx, "not a polygon"),
            Err(reason) => return report.skip(feature_idx, reason),
        };
        let valid = polygon.0.iter().all(|p| p.exterior().0.len() >= 4)
            && polygon
                .0
                .iter()
                .flat_map(|p| p.exterior().0.iter())
                .all(|c| geom::is_valid_lonlat(c.x, c.y));
        if polygon.0.is_empty() || !valid {
            return report.skip(feature_idx, "polygon without a valid lon/lat ring");
        }
        let polygon = if datum == crate::geom::datum::Datum::Wgs84 {
            polygon
        } else {
            use geo::MapCoords;
            polygon.map_coords(|c| {
                let (x, y) = datum.to_wgs84(c.x, c.y);
                geo::Coord { x, y }
            })
        };
        let mut props = props.into_iter();
        let Some(name) = props.next().flatten().and_then(Prop::into_text) else {
            return report.skip(feature_idx, "no `name`");
        };
        let name_en = props.next().flatten().and_then(Prop::into_text);
        areas.push(Area {
            name,
            name_en,
            polygon,
        });
    })?;
    report.n_loaded = areas.len();
    Ok((areas, report))
}

/// Reads residential points with their population.
pub fn read_residents(path: &Path) -> Result<(Vec<Residential>, FileReport), Error> {
    read_residents_with(path, &FileOptions::default())
}

/// [`read_residents`] with file options: format, datum, field map (`population`, `name`,
/// `subdistrict`).
pub fn read_residents_with(
    path: &Path,
    options: &FileOptions,
) -> Result<(Vec<Residential>, FileReport), Error> {
    let columns = [
        Column {
            name: options.column("population", "population"),
            required: true,
        },
        Column {
            name: options.column("name", "name"),
            required: options.fields.contains_key("name"),
        },
        Column {
            name: options.column("subdistrict", "subdistrict"),
            required: options.fields.contains_key("subdistrict"),
        },
    ];
    let datum = options.datum;
    let file = LayerReader::open(path, &options.read_options(), &columns)?;
    let mut report = FileReport::new(path, "residents");
    let mut residents = Vec::with_capacity(file.announced_features().unwrap_or(0));
    file.for_each(|feature_idx, geometry, props| {
        report.n_read += 1;
        let (lon, lat) = match geometry.and_then(|g| representative_lonlat(&g)) {
            Ok(p) => p,
            Err(reason) => return report.skip(feature_idx, reason),
        };
        let mut props = props.into_iter();
        let population = props.next().flatten().as_ref().and_then(Prop::as_f64);
        let Some(population) = population.filter(|p| p.is_finite() && *p >= 0.0) else {
            return report.skip(feature_idx, "no non-negative `population`");
        };
        let name = props.next().flatten().and_then(Prop::into_text);
        let subdistrict = props.next().flatten().and_then(Prop::into_text);
        let (lon, lat) = datum.to_wgs84(lon, lat);
        residents.push(Residential {
            name,
            population: population.round() as u32,
            subdistrict,
            lon,
            lat,
        });
    })?;
    report.n_loaded = residents.len();
    Ok((residents, report))
}

/// A point standing for the geometry: the point itself, or an interior point of a polygon.
fn representative_lonlat(geometry: &Geometry<f64>) -> Result<(f64, f64), String> {
    let point = match geometry {
        Geometry::Point(p) => Some(*p),
        Geometry::MultiPoint(mp) if mp.0.len() == 1 => Some(mp.0[0]),
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) => geometry.interior_point(),
        _ => return Err("geometry is neither a point nor a polygon".into()),
    };
    match point {
        Some(p) if geom::is_valid_lonlat(p.x(), p.y()) => Ok((p.x(), p.y())),
        Some(_) => Err("coordinates outside lon/lat range".into()),
        None => Err("empty geometry".into()),
    }
}

/// The MVT feature id for a source id: the number itself when it is one, otherwise a stable
/// 64-bit hash of the text, so ids survive restarts and reloads.
pub fn stable_feature_id(source_id: &str) -> u64 {
    source_id
        .parse::<u64>()
        .unwrap_or_else(|_| xxhash_rust::xxh3::xxh3_64(source_id.as_bytes()) >> 11)
}
