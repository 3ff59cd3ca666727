//! Reading FlatGeobuf files feature by feature, with the checks every layer shares: the file
//! opens, is FlatGeobuf, is in WGS84, has the columns asked for. Gives each feature's geometry
//! (as `geo` types) and the requested attributes.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use flatgeobuf::{FallibleStreamingIterator, FgbFeature, FgbReader};
use geozero::{ColumnValue, FeatureProperties, PropertyProcessor, ToGeo};

use super::Error;

/// One attribute value, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Text(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
}

impl Prop {
    /// The value as text, or `None` for blank text.
    pub fn into_text(self) -> Option<String> {
        let text = match self {
            Prop::Text(s) => s,
            Prop::Int(v) => v.to_string(),
            Prop::UInt(v) => v.to_string(),
            Prop::Float(v) => v.to_string(),
            Prop::Bool(v) => v.to_string(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            None
        } else if trimmed.len() == text.len() {
            Some(text)
        } else {
            Some(trimmed.to_owned())
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Prop::Int(v) => Some(*v as f64),
            Prop::UInt(v) => Some(*v as f64),
            Prop::Float(v) => Some(*v),
            Prop::Text(s) => s.trim().parse().ok(),
            Prop::Bool(_) => None,
        }
    }
}

/// A FlatGeobuf file opened for reading, with the column positions of the wanted attributes.
pub struct FgbFile {
    pub path: PathBuf,
    reader: FgbReader<BufReader<File>>,
    /// For each wanted column (in the order asked), its index in the file, if present.
    column_idx: Vec<Option<usize>>,
}

/// Column requirement: a name, and whether its absence is an error.
pub struct Column<'a> {
    pub name: &'a str,
    pub required: bool,
}

impl FgbFile {
    /// Opens `path`, checks the magic bytes, the header and the CRS, and finds `columns`.
    pub fn open(path: &Path, columns: &[Column<'_>]) -> Result<FgbFile, Error> {
        let file = File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let reader = FgbReader::open(BufReader::new(file)).map_err(|e| Error::NotFlatGeobuf {
            path: path.to_owned(),
            message: describe_fgb_error(&e),
        })?;
        let header = reader.header();
        if let Some(crs) = header.crs() {
            let code = crs.code();
            let org = crs.org().unwrap_or("EPSG");
            // Code 0 means "not stated"; CRS:84 is WGS84 with lon/lat order, as is EPSG:4326 here.
            let is_wgs84 =
                code == 0 || code == 4326 || (org.eq_ignore_ascii_case("CRS") && code == 84);
            if !is_wgs84 {
                return Err(Error::Crs {
                    path: path.to_owned(),
                    found: format!("{org}:{code}"),
                });
            }
        }
        let names: Vec<String> = header
            .columns()
            .map(|cols| cols.iter().map(|c| c.name().to_owned()).collect())
            .unwrap_or_default();
        let mut column_idx = Vec::with_capacity(columns.len());
        for col in columns {
            let idx = names.iter().position(|n| n == col.name);
            if idx.is_none() && col.required {
                return Err(Error::MissingColumn {
                    path: path.to_owned(),
                    column: col.name.to_owned(),
                    available: names.join(", "),
                });
            }
            column_idx.push(idx);
        }
        Ok(FgbFile {
            path: path.to_owned(),
            reader,
            column_idx,
        })
    }

    /// Calls `visit` for every feature with its index, its geometry (or the reason it has none
    /// usable) and the wanted attributes. A structural error in the file stops the read.
    pub fn for_each(
        self,
        mut visit: impl FnMut(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>),
    ) -> Result<(), Error> {
        let FgbFile {
            path,
            reader,
            column_idx,
        } = self;
        let announced = reader.header().features_count();
        let mut features = reader.select_all_seq().map_err(|e| Error::NotFlatGeobuf {
            path: path.clone(),
            message: describe_fgb_error(&e),
        })?;
        let mut feature_idx = 0usize;
        loop {
            let feature = match features.next() {
                Ok(Some(feature)) => feature,
                Ok(None) => break,
                Err(e) => {
                    return Err(Error::Corrupt {
                        path,
                        feature_idx,
                        message: describe_fgb_error(&e),
                    });
                }
            };
            let geometry = read_geometry(feature);
            let props = read_props(feature, &column_idx).map_err(|message| Error::Corrupt {
                path: path.clone(),
                feature_idx,
                message,
            })?;
            visit(feature_idx, geometry, props);
            feature_idx += 1;
        }
        // A file cut short can end cleanly between features; the header says how many to expect.
        if announced > 0 && feature_idx as u64 != announced {
            return Err(Error::Corrupt {
                path,
                feature_idx,
                message: format!(
                    "the header announces {announced} features but the file ends after {feature_idx} (truncated?)"
                ),
            });
        }
        Ok(())
    }
}

fn read_geometry(feature: &FgbFeature) -> Result<geo::Geometry<f64>, String> {
    if feature.geometry().is_none() {
        return Err("no geometry".into());
    }
    // Malformed coordinate arrays inside a structurally valid feature are caught here rather
    // than trusted: the geometry decoder indexes into them.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| feature.to_geo())) {
        Ok(Ok(geometry)) => Ok(geometry),
        Ok(Err(e)) => Err(format!("unreadable geometry: {e}")),
        Err(_) => Err("malformed geometry".into()),
    }
}

fn read_props(
    feature: &FgbFeature,
    column_idx: &[Option<usize>],
) -> Result<Vec<Option<Prop>>, String> {
    struct Collector<'a> {
        column_idx: &'a [Option<usize>],
        values: Vec<Option<Prop>>,
    }
    impl PropertyProcessor for Collector<'_> {
        fn property(
            &mut self,
            idx: usize,
            _name: &str,
            value: &ColumnValue<'_>,
        ) -> geozero::error::Result<bool> {
            if let Some(slot) = self.column_idx.iter().position(|c| *c == Some(idx)) {
                self.values[slot] = match value {
                    ColumnValue::Byte(v) => Some(Prop::Int(i64::from(*v))),
                    ColumnValue::UByte(v) => Some(Prop::Int(i64::from(*v))),
                    ColumnValue::Short(v) => Some(Prop::Int(i64::from(*v))),
                    ColumnValue::UShort(v) => Some(Prop::Int(i64::from(*v))),
                    ColumnValue::Int(v) => Some(Prop::Int(i64::from(*v))),
                    ColumnValue::UInt(v) => Some(Prop::Int(i64::from(*v))),
                    ColumnValue::Long(v) => Some(Prop::Int(*v)),
                    ColumnValue::ULong(v) => Some(Prop::UInt(*v)),
                    ColumnValue::Float(v) => Some(Prop::Float(f64::from(*v))),
                    ColumnValue::Double(v) => Some(Prop::Float(*v)),
                    ColumnValue::Bool(v) => Some(Prop::Bool(*v)),
                    ColumnValue::String(s) | ColumnValue::Json(s) | ColumnValue::DateTime(s) => {
                        Some(Prop::Text((*s).to_owned()))
                    }
                    ColumnValue::Binary(_) => None,
                };
            }
            Ok(false)
        }
    }
    let mut collector = Collector {
        column_idx,
        values: vec![None; column_idx.len()],
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        feature.process_properties(&mut collector)
    })) {
        Ok(Ok(_)) => Ok(collector.values),
        Ok(Err(e)) => Err(format!("unreadable attributes: {e}")),
        Err(_) => Err("malformed attributes".into()),
    }
}

fn describe_fgb_error(e: &flatgeobuf::Error) -> String {
    match e {
        flatgeobuf::Error::MissingMagicBytes => {
            "not a FlatGeobuf file (magic bytes missing)".into()
        }
        flatgeobuf::Error::IO(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "file ends early (truncated?)".into()
        }
        other => other.to_string(),
    }
}
