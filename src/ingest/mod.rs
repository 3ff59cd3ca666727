//! Ingest: FlatGeobuf files named in the config → facilities, roads, areas and residents, plus an
//! [`IngestReport`] of what was read and what was skipped.
//!
//! Only this module reads data files. A file that cannot be used at all (missing, not FlatGeobuf,
//! truncated, wrong CRS, a required column absent) is an [`Error`] naming the file and the fix.
//! Individual bad features are a value, not an error: they are skipped (no or invalid geometry)
//! or put in the fallback category (unknown category) and counted in the report.

mod fgb;
pub mod formats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use geo::{Geometry, InteriorPoint};

use crate::area::{AnalysisArea, AreaSource};
use crate::config::{Config, FieldMap};
use crate::dataset::{Area, Facility, Residential, Road};
use crate::geom;
use crate::taxonomy::Taxonomy;
use formats::{Column, LayerReader, Prop, ReadOptions};

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
    #[error("{path}: the {format} format cannot be read by this build")]
    UnsupportedFormat { path: PathBuf, format: &'static str },
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
    pub n_read: usize,
    pub n_loaded: usize,
    /// Reason → number of features skipped for it.
    pub skipped: BTreeMap<String, usize>,
    /// Raw category value → number of facilities put in the fallback category because of it.
    pub unknown_categories: BTreeMap<String, usize>,
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
        *self.skipped.entry(reason).or_default() += 1;
    }

    pub fn n_skipped(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// What ingesting all configured files did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
}

impl std::fmt::Display for IngestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for file in &self.files {
            writeln!(
                f,
                "{} ({}): {} features read, {} loaded, {} skipped",
                file.path.display(),
                file.layer,
                file.n_read,
                file.n_loaded,
                file.n_skipped()
            )?;
            for (reason, n) in &file.skipped {
                writeln!(f, "  skipped {n}: {reason}")?;
            }
            for (value, n) in &file.unknown_categories {
                let value = if value.is_empty() { "(empty)" } else { value };
                writeln!(
                    f,
                    "  {n} with unknown category `{value}` put in the fallback category"
                )?;
            }
        }
        Ok(())
    }
}

/// Everything read from the configured files.
pub struct Layers {
    pub facilities: Vec<Facility>,
    pub roads: Vec<Road>,
    pub areas: Vec<Area>,
    pub residents: Vec<Residential>,
    /// The configured analysis area (`[area]`), when one is configured.
    pub area: Option<AnalysisArea>,
}

/// Reads every file the config names.
pub fn read_all(config: &Config, taxonomy: &Taxonomy) -> Result<(Layers, IngestReport), Error> {
    let mut report = IngestReport::default();
    let data = &config.data;
    let (facilities, r) =
        read_facilities(&config.resolve(&data.facilities), &data.fields, taxonomy)?;
    report.files.push(r);
    let mut layers = Layers {
        facilities,
        roads: Vec::new(),
        areas: Vec::new(),
        residents: Vec::new(),
        area: None,
    };
    if let Some(path) = &data.roads {
        let (roads, r) = read_roads(&config.resolve(path))?;
        layers.roads = roads;
        report.files.push(r);
    }
    if let Some(path) = &data.subdistricts {
        let (areas, r) = read_areas(&config.resolve(path))?;
        layers.areas = areas;
        report.files.push(r);
    }
    if let Some(path) = &data.residents {
        let (residents, r) = read_residents(&config.resolve(path))?;
        layers.residents = residents;
        report.files.push(r);
    }
    let margin_m = region_margin_m(config, taxonomy);
    if let Some(bbox) = config.area.bbox() {
        layers.area = Some(AnalysisArea::from_bbox(AreaSource::Bbox, bbox, margin_m));
    } else if let Some(path) = config.area.boundary() {
        let path = config.resolve(path);
        let (outline, r) = read_outline(&path)?;
        report.files.push(r);
        layers.area = AnalysisArea::from_outline(AreaSource::Boundary(path), outline, margin_m);
    }
    Ok((layers, report))
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

/// Reads facilities: points as they are, polygons (parks) reduced to an interior point.
pub fn read_facilities(
    path: &Path,
    fields: &FieldMap,
    taxonomy: &Taxonomy,
) -> Result<(Vec<Facility>, FileReport), Error> {
    let columns = [
        Column {
            name: &fields.id,
            required: true,
        },
        Column {
            name: &fields.name,
            required: true,
        },
        Column {
            name: &fields.category,
            required: true,
        },
        Column {
            name: &fields.name_en,
            required: false,
        },
        Column {
            name: &fields.address,
            required: false,
        },
        Column {
            name: &fields.subdistrict,
            required: false,
        },
    ];
    let file = LayerReader::open(path, &ReadOptions::default(), &columns)?;
    let mut report = FileReport::new(path, "facilities");
    let mut facilities = Vec::new();
    let mut seen_ids = std::collections::HashSet::new();
    file.for_each(|feature_idx, geometry, props| {
        report.n_read += 1;
        let (lon, lat) = match geometry.and_then(|g| representative_lonlat(&g)) {
            Ok(p) => p,
            Err(reason) => return report.skip(feature_idx, reason),
        };
        let mut props = props.into_iter();
        let mut next_text = || props.next().flatten().and_then(Prop::into_text);
        let (Some(raw_id), name, raw_category) = (next_text(), next_text(), next_text()) else {
            report.skip(feature_idx, format!("no `{}`", fields.id));
            return;
        };
        // Unnamed places are real (a pocket park, a bus stop): kept, with an empty name.
        let name = name.unwrap_or_default();
        let id = stable_feature_id(&raw_id);
        if !seen_ids.insert(id) {
            report.skip(feature_idx, format!("duplicate `{}`", fields.id));
            return;
        }
        let raw_category = raw_category.unwrap_or_default();
        let category = taxonomy.classify(&raw_category).unwrap_or_else(|| {
            *report
                .unknown_categories
                .entry(raw_category.clone())
                .or_default() += 1;
            taxonomy.fallback()
        });
        let (name_en, address, subdistrict) = (next_text(), next_text(), next_text());
        facilities.push(Facility {
            id,
            source_id: raw_id,
            name,
            name_en,
            category,
            address,
            subdistrict,
            lon,
            lat,
            merc: geom::lonlat_to_merc(lon, lat),
        });
    })?;
    report.n_loaded = facilities.len();
    if facilities.is_empty() && report.n_read > 0 {
        return Err(Error::NothingUsable {
            path: path.to_owned(),
            kind: "facilities",
            n_read: report.n_read,
        });
    }
    Ok((facilities, report))
}

/// Reads the street network: LineStrings (MultiLineStrings are split) with a highway class.
pub fn read_roads(path: &Path) -> Result<(Vec<Road>, FileReport), Error> {
    let columns = [
        Column {
            name: "highway",
            required: true,
        },
        Column {
            name: "name",
            required: false,
        },
    ];
    let file = LayerReader::open(path, &ReadOptions::default(), &columns)?;
    let mut report = FileReport::new(path, "roads");
    let mut roads = Vec::new();
    file.for_each(|feature_idx, geometry, props| {
        report.n_read += 1;
        let lines = match geometry {
            Ok(Geometry::LineString(l)) => vec![l],
            Ok(Geometry::MultiLineString(ml)) => ml.0,
            Ok(_) => return report.skip(feature_idx, "not a line"),
            Err(reason) => return report.skip(feature_idx, reason),
        };
        let mut props = props.into_iter();
        let highway = props
            .next()
            .flatten()
            .and_then(Prop::into_text)
            .unwrap_or_default();
        let name = props.next().flatten().and_then(Prop::into_text);
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
    let columns = [
        Column {
            name: "name",
            required: true,
        },
        Column {
            name: "name_en",
            required: false,
        },
    ];
    let file = LayerReader::open(path, &ReadOptions::default(), &columns)?;
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
    let columns = [
        Column {
            name: "population",
            required: true,
        },
        Column {
            name: "name",
            required: false,
        },
        Column {
            name: "subdistrict",
            required: false,
        },
    ];
    let file = LayerReader::open(path, &ReadOptions::default(), &columns)?;
    let mut report = FileReport::new(path, "residents");
    let mut residents = Vec::new();
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
