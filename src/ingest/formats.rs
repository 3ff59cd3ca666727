//! Reading any supported file format feature by feature: a path and [`ReadOptions`] → a
//! [`LayerReader`] that gives each feature's geometry (as `geo` types, in the file's own
//! coordinates) and the attributes asked for, by column name.
//!
//! The format comes from the file extension unless set. Every format answers the same questions
//! (which columns exist, what is feature N called in a message) so the layer readers in `ingest`
//! never name a format.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Error;
use super::fgb::FgbFile;
pub use super::fgb::{Column, Prop};

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
    /// An OpenStreetMap extract, imported in memory (`osm::layer`).
    Osm(crate::osm::layer::OsmLayer),
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
            Format::OsmPbf => Inner::Osm(crate::osm::layer::OsmLayer::open(path, columns)?),
            other => {
                return Err(Error::UnsupportedFormat {
                    path: path.to_owned(),
                    format: other.as_str(),
                });
            }
        };
        Ok(LayerReader {
            path: path.to_owned(),
            inner,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How a message names feature `feature_idx` (0-based): "feature 12", "line 14", …
    pub fn describe_feature(&self, feature_idx: usize) -> String {
        match self.inner {
            Inner::FlatGeobuf(_) | Inner::Osm(_) => format!("feature {feature_idx}"),
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
            Inner::Osm(layer) => {
                layer.for_each(visit);
                Ok(())
            }
        }
    }
}
