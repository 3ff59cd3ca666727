//! Reading any supported file format feature by feature: a path and [`ReadOptions`] → a
//! [`LayerReader`] that gives each feature's geometry (as `geo` types, in the file's own
//! coordinates) and the attributes asked for, by column name.
//!
//! The format comes from the file extension unless set. Every format answers the same questions
//! (which columns exist, what is feature N called in a message) so the layer readers in `ingest`
//! never name a format.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::Error;
use super::delimited::DelimitedFile;
use super::fgb::FgbFile;
pub use super::fgb::{Column, Prop};
use super::geojson_file::GeoJsonFile;
use super::gpkg::GpkgFile;
use super::shp::ShapefileFile;

/// A data file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `.fgb`
    FlatGeobuf,
    /// `.geojson`, `.json`: a FeatureCollection.
    GeoJson,
    /// `.geojsonl`, `.geojsons`, `.ndjson`: one Feature per line (RFC 8142 or newline-delimited).
    GeoJsonSeq,
    /// `.csv`: comma-separated, points from lon/lat columns or one `"lng,lat"` column.
    Csv,
    /// `.tsv`: tab-separated, as CSV.
    Tsv,
    /// `.shp` with its `.dbf` (and `.cpg` for the text encoding).
    Shapefile,
    /// `.gpkg`
    GeoPackage,
    /// `.osm.pbf`: an OpenStreetMap extract.
    OsmPbf,
}

impl Format {
    /// The format a file extension stands for.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "fgb" => Some(Format::FlatGeobuf),
            "geojson" | "json" => Some(Format::GeoJson),
            "geojsonl" | "geojsons" | "geojsonseq" | "ndjson" | "jsonl" => Some(Format::GeoJsonSeq),
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "shp" => Some(Format::Shapefile),
            "gpkg" => Some(Format::GeoPackage),
            "pbf" => Some(Format::OsmPbf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::FlatGeobuf => "flatgeobuf",
            Format::GeoJson => "geojson",
            Format::GeoJsonSeq => "geojsonseq",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Shapefile => "shapefile",
            Format::GeoPackage => "geopackage",
            Format::OsmPbf => "osmpbf",
        }
    }

    /// Extensions recognised, for messages.
    pub const KNOWN_EXTENSIONS: &'static str =
        ".fgb, .geojson/.json, .geojsonl/.ndjson, .csv, .tsv, .shp, .gpkg, .osm.pbf";
}

/// How to read one file, beyond what its extension says.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Overrides the format guessed from the extension.
    pub format: Option<Format>,
    /// Text encoding (`utf-8`, `gbk`, …) of CSV/TSV files and Shapefile `.dbf`s; `None`: from
    /// the `.cpg` beside a Shapefile, else detected (UTF-8 with or without BOM, else GBK).
    pub encoding: Option<String>,
    /// CSV/TSV: the longitude and latitude columns; `None`: found by common names.
    pub lon_column: Option<String>,
    pub lat_column: Option<String>,
    /// CSV/TSV: one column holding `"lng,lat"`; `None`: found by common names when there are
    /// no lon/lat columns.
    pub location_column: Option<String>,
    /// GeoPackage: the table to read; `None`: the only feature table.
    pub layer: Option<String>,
}

/// An opened data file, ready to be read once.
pub struct LayerReader {
    path: PathBuf,
    inner: Inner,
}

enum Inner {
    FlatGeobuf(FgbFile),
    Delimited(DelimitedFile),
    GeoJson(GeoJsonFile),
    Shapefile(Box<ShapefileFile>),
    GeoPackage(GpkgFile),
    /// An OpenStreetMap extract, imported in memory (`osm::layer`).
    Osm(crate::osm::layer::OsmLayer),
}

/// Whether an EPSG code names longitude/latitude on WGS84, or on CGCS2000 (EPSG:4490, China's
/// national datum, which agrees with WGS84 to a few centimetres: Chinese government data comes
/// in it).
pub(super) fn is_geographic_wgs84(epsg: i64) -> bool {
    matches!(epsg, 4326 | 4490)
}

/// How messages name the features of one file: "line 17" (the line a text editor shows, where a
/// record starts), "feature 16" (0-based, as `ogrinfo` counts). Cheap to clone; stays valid while
/// and after the file is read, and names a feature exactly once the read has reached it (a CSV
/// record spanning several lines moves the line numbers of those after it).
#[derive(Clone)]
pub struct FeatureNames {
    label: &'static str,
    numbering: Arc<Numbering>,
}

struct Numbering {
    /// The number of feature 0, until told otherwise.
    base: u64,
    /// The offset (number − index) last recorded, to record only changes.
    current: AtomicU64,
    /// (feature index, offset) from which on the number is index + offset, in index order.
    shifts: Mutex<Vec<(usize, u64)>>,
}

impl FeatureNames {
    /// Numbers from `base`: feature `i` is `base + i` unless a reader records otherwise.
    pub(super) fn shifted(label: &'static str, base: u64) -> FeatureNames {
        FeatureNames {
            label,
            numbering: Arc::new(Numbering {
                base,
                current: AtomicU64::new(base),
                shifts: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Records that feature `feature_idx` is number `number`; readers call this in index order.
    pub(super) fn record(&self, feature_idx: usize, number: u64) {
        let offset = number.saturating_sub(feature_idx as u64);
        if self.numbering.current.swap(offset, Ordering::Relaxed) != offset {
            let mut shifts = self
                .numbering
                .shifts
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            shifts.push((feature_idx, offset));
        }
    }

    /// The number a user sees for feature `feature_idx` (0-based).
    pub fn number(&self, feature_idx: usize) -> u64 {
        let shifts = self
            .numbering
            .shifts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n_before = shifts.partition_point(|(idx, _)| *idx <= feature_idx);
        let offset = match n_before {
            0 => self.numbering.base,
            n => shifts[n - 1].1,
        };
        feature_idx as u64 + offset
    }

    /// "line 17", "feature 16", …
    pub fn describe(&self, feature_idx: usize) -> String {
        format!("{} {}", self.label, self.number(feature_idx))
    }
}

impl LayerReader {
    /// Opens `path`, checks it is readable in its format and that the required `columns` exist.
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        columns: &[Column<'_>],
    ) -> Result<LayerReader, Error> {
        let format = match options.format.or_else(|| Format::from_path(path)) {
            Some(format) => format,
            None => {
                return Err(Error::UnknownFormat {
                    path: path.to_owned(),
                    known: Format::KNOWN_EXTENSIONS,
                });
            }
        };
        let inner = match format {
            Format::FlatGeobuf => Inner::FlatGeobuf(FgbFile::open(path, columns)?),
            Format::Csv => Inner::Delimited(DelimitedFile::open(path, b',', options, columns)?),
            Format::Tsv => Inner::Delimited(DelimitedFile::open(path, b'\t', options, columns)?),
            Format::GeoJson => Inner::GeoJson(GeoJsonFile::open(path, false, options, columns)?),
            Format::GeoJsonSeq => Inner::GeoJson(GeoJsonFile::open(path, true, options, columns)?),
            Format::GeoPackage => Inner::GeoPackage(GpkgFile::open(path, options, columns)?),
            Format::Shapefile => {
                Inner::Shapefile(Box::new(ShapefileFile::open(path, options, columns)?))
            }
            Format::OsmPbf => Inner::Osm(crate::osm::layer::OsmLayer::open(path, columns)?),
        };
        Ok(LayerReader {
            path: path.to_owned(),
            inner,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many features the file says it holds, when its format says (FlatGeobuf does).
    pub fn announced_features(&self) -> Option<usize> {
        match &self.inner {
            Inner::FlatGeobuf(file) => file.announced_features(),
            _ => None,
        }
    }

    /// How a message names feature `feature_idx` (0-based): "feature 12", "line 14", …; see
    /// [`FeatureNames`] for naming features while [`LayerReader::for_each`] runs.
    pub fn describe_feature(&self, feature_idx: usize) -> String {
        self.feature_names().describe(feature_idx)
    }

    /// A handle naming this file's features in messages, usable during and after the read.
    pub fn feature_names(&self) -> FeatureNames {
        match &self.inner {
            Inner::FlatGeobuf(_) | Inner::Osm(_) => FeatureNames::shifted("feature", 0),
            Inner::Delimited(file) => file.names().clone(),
            Inner::GeoJson(file) => file.names().clone(),
            Inner::Shapefile(file) => file.names().clone(),
            Inner::GeoPackage(file) => file.names().clone(),
        }
    }

    /// Calls `visit` for every feature with its index, its geometry (or the reason it has none
    /// usable) and the wanted attributes in the order of the columns asked for. A structural
    /// error in the file stops the read.
    pub fn for_each(
        self,
        visit: impl FnMut(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>),
    ) -> Result<(), Error> {
        match self.inner {
            Inner::FlatGeobuf(file) => file.for_each(visit),
            Inner::Delimited(file) => file.for_each(visit),
            Inner::GeoJson(file) => file.for_each(visit),
            Inner::Shapefile(file) => file.for_each(visit),
            Inner::GeoPackage(file) => file.for_each(visit),
            Inner::Osm(layer) => {
                layer.for_each(visit);
                Ok(())
            }
        }
    }

    /// Like [`LayerReader::for_each`], with the per-feature work `map` done on rayon's threads,
    /// a chunk of features at a time: `visit` is given every feature's result in feature order,
    /// so whatever it counts comes out as when read in turn. `map` must not depend on the order
    /// it is called in. A FlatGeobuf file's features are decoded side by side too; the other
    /// formats are decoded in turn.
    pub fn for_each_mapped<T: Send>(
        self,
        map: impl Fn(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>) -> T + Sync,
        mut visit: impl FnMut(usize, T),
    ) -> Result<(), Error> {
        use rayon::prelude::*;
        if let Inner::FlatGeobuf(file) = self.inner {
            return file.for_each_mapped(map, visit);
        }
        type Raw = (usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>);
        let mut chunk: Vec<Raw> = Vec::with_capacity(super::fgb::CHUNK);
        let mut flush = |chunk: &mut Vec<Raw>| {
            let results: Vec<(usize, T)> = chunk
                .par_drain(..)
                .map(|(feature_idx, geometry, props)| {
                    (feature_idx, map(feature_idx, geometry, props))
                })
                .collect();
            for (feature_idx, result) in results {
                visit(feature_idx, result);
            }
        };
        let read = self.for_each(|feature_idx, geometry, props| {
            chunk.push((feature_idx, geometry, props));
            if chunk.len() == super::fgb::CHUNK {
                flush(&mut chunk);
            }
        });
        // The features read before an error are visited, as when read in turn.
        flush(&mut chunk);
        read
    }
}

/// Reading a whole file back in tests, as a caller would.
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    /// One feature as the caller sees it.
    pub struct Feature {
        pub geometry: Result<geo::Geometry<f64>, String>,
        pub props: Vec<Option<Prop>>,
        /// How messages name it ("line 4", "feature 0").
        pub name: String,
    }

    /// Reads every feature of `path` with the (optional) `columns`.
    pub fn read_all(
        path: &Path,
        options: &ReadOptions,
        columns: &[&str],
    ) -> Result<Vec<Feature>, Error> {
        let columns: Vec<Column<'_>> = columns
            .iter()
            .map(|name| Column {
                name,
                required: false,
            })
            .collect();
        let reader = LayerReader::open(path, options, &columns)?;
        let names = reader.feature_names();
        let mut features = Vec::new();
        reader.for_each(|feature_idx, geometry, props| {
            assert_eq!(feature_idx, features.len(), "features come in index order");
            features.push(Feature {
                geometry,
                props,
                name: String::new(),
            });
        })?;
        for (feature_idx, feature) in features.iter_mut().enumerate() {
            feature.name = names.describe(feature_idx);
        }
        Ok(features)
    }

    /// The error opening or reading `path` gives, as a user reads it.
    pub fn read_error(path: &Path, options: &ReadOptions, columns: &[Column<'_>]) -> String {
        let outcome =
            LayerReader::open(path, options, columns).and_then(|r| r.for_each(|_, _, _| {}));
        match outcome {
            Ok(()) => panic!("{} was read without an error", path.display()),
            Err(e) => e.to_string(),
        }
    }

    pub fn point(geometry: &Result<geo::Geometry<f64>, String>) -> (f64, f64) {
        match geometry {
            Ok(geo::Geometry::Point(p)) => (p.x(), p.y()),
            other => panic!("expected a point, got {other:?}"),
        }
    }

    pub fn text(prop: &Option<Prop>) -> Option<&str> {
        match prop {
            Some(Prop::Text(s)) => Some(s),
            None => None,
            other => panic!("expected text, got {other:?}"),
        }
    }

    pub fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}
