//! Reading FlatGeobuf files feature by feature, with the checks every layer shares: the file
//! opens, is FlatGeobuf, is in WGS84, has the columns asked for. Gives each feature's geometry
//! (as `geo` types) and the requested attributes, in feature order.
//!
//! The features' bytes are read in turn, a chunk at a time, and decoded side by side on rayon's
//! threads (a million-feature file is mostly decoding: geometry, attribute values, text).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use flatgeobuf::{
    ColumnType, FallibleStreamingIterator, FgbReader, GeometryType, size_prefixed_root_as_feature,
    size_prefixed_root_as_header,
};
use geozero::error::GeozeroError;

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
        let not_fgb = |e: flatgeobuf::Error| Error::NotFlatGeobuf {
            path: path.to_owned(),
            message: describe_fgb_error(&e),
        };
        // The header is verified here, and each feature as it is decoded (side by side, see
        // `for_each_mapped`), instead of every feature in turn by the reader.
        // SAFETY: opening reads no field of the header; it is verified just below, before any is.
        let reader = unsafe { FgbReader::open_unchecked(BufReader::new(file)) }.map_err(not_fgb)?;
        let header = size_prefixed_root_as_header(reader.header()._tab.buf())
            .map_err(|e| not_fgb(e.into()))?;
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

    /// How many features the header announces (`None`: not stated), to reserve room for:
    /// never more than the file could hold (a feature takes well over 32 bytes), whatever a
    /// damaged header says.
    pub fn announced_features(&self) -> Option<usize> {
        let most = std::fs::metadata(&self.path).ok()?.len() / 32;
        let announced = self.reader.header().features_count();
        usize::try_from(announced.min(most)).ok().filter(|&n| n > 0)
    }

    /// Calls `visit` for every feature with its index, its geometry (or the reason it has none
    /// usable) and the wanted attributes. A structural error in the file stops the read.
    pub fn for_each(
        self,
        mut visit: impl FnMut(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>),
    ) -> Result<(), Error> {
        self.for_each_mapped(
            |_, geometry, props| (geometry, props),
            |feature_idx, (geometry, props)| visit(feature_idx, geometry, props),
        )
    }

    /// Like [`FgbFile::for_each`], with each feature decoded and passed through `map` on rayon's
    /// threads: the file is read in chunks of [`CHUNK`] features, each chunk's features decoded
    /// side by side, and `visit` given every feature's result in feature order. Errors are those
    /// of the reading in turn: the first feature (by index) with unreadable attributes, else the
    /// first structural error.
    pub fn for_each_mapped<T: Send>(
        self,
        map: impl Fn(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>) -> T + Sync,
        mut visit: impl FnMut(usize, T),
    ) -> Result<(), Error> {
        use rayon::prelude::*;
        let FgbFile {
            path,
            reader,
            column_idx,
        } = self;
        let announced = reader.header().features_count();
        // The header outlives the reader (the features are decoded after it moved on).
        let header_buf = reader.header()._tab.buf().to_vec();
        let mut features = reader.select_all_seq().map_err(|e| Error::NotFlatGeobuf {
            path: path.clone(),
            message: describe_fgb_error(&e),
        })?;
        let header =
            size_prefixed_root_as_header(&header_buf).map_err(|e| Error::NotFlatGeobuf {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let layout = Layout {
            geometry_type: header.geometry_type(),
            header,
            slot_of_column: slot_of_column(&column_idx, header.columns().map_or(0, |c| c.len())),
            n_slots: column_idx.len(),
        };
        // One chunk's features, back to back, and where each ends.
        let mut bytes: Vec<u8> = Vec::new();
        let mut ends: Vec<usize> = Vec::with_capacity(CHUNK);
        let mut feature_idx = 0usize;
        loop {
            bytes.clear();
            ends.clear();
            let mut stopped = None;
            while ends.len() < CHUNK {
                match features.next() {
                    Ok(Some(feature)) => {
                        bytes.extend_from_slice(feature.fbs_feature()._tab.buf());
                        ends.push(bytes.len());
                    }
                    Ok(None) => break,
                    Err(e) => {
                        stopped = Some(Error::Corrupt {
                            path: path.clone(),
                            feature_idx: feature_idx + ends.len(),
                            message: describe_fgb_error(&e),
                        });
                        break;
                    }
                }
            }
            let first = feature_idx;
            let n = ends.len();
            let results: Vec<Result<T, String>> = (0..n)
                .into_par_iter()
                .map(|k| {
                    let start = if k == 0 { 0 } else { ends[k - 1] };
                    let (geometry, props) = decode(&bytes[start..ends[k]], &layout)?;
                    Ok(map(first + k, geometry, props))
                })
                .collect();
            for (k, result) in results.into_iter().enumerate() {
                match result {
                    Ok(value) => visit(first + k, value),
                    Err(message) => {
                        return Err(Error::Corrupt {
                            path,
                            feature_idx: first + k,
                            message,
                        });
                    }
                }
            }
            feature_idx += n;
            if let Some(error) = stopped {
                return Err(error);
            }
            if n < CHUNK {
                break;
            }
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

/// Features read in turn before they are decoded side by side: enough to spread over the
/// threads, few enough that a chunk's bytes and results stay small (a few MB).
pub const CHUNK: usize = 4096;

/// What decoding a feature needs from the header.
struct Layout<'h> {
    geometry_type: GeometryType,
    header: flatgeobuf::Header<'h>,
    /// File column index → the slot of the wanted column it fills (the first asking for it).
    slot_of_column: Vec<Option<usize>>,
    n_slots: usize,
}

fn slot_of_column(column_idx: &[Option<usize>], n_columns: usize) -> Vec<Option<usize>> {
    (0..n_columns)
        .map(|idx| column_idx.iter().position(|c| *c == Some(idx)))
        .collect()
}

/// A feature's geometry (or why it has none usable) and its wanted attributes.
type Decoded = (Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>);

/// One feature's geometry and wanted attributes from its bytes (size prefix included, as
/// verified by the reader). `Err`: the attributes are unreadable, which stops the read.
fn decode(bytes: &[u8], layout: &Layout<'_>) -> Result<Decoded, String> {
    let feature = size_prefixed_root_as_feature(bytes).map_err(|e| e.to_string())?;
    let geometry = read_geometry(&feature, layout.geometry_type);
    let props = read_props(&feature, layout)?;
    Ok((geometry, props))
}

fn read_geometry(
    feature: &flatgeobuf::Feature<'_>,
    geometry_type: GeometryType,
) -> Result<geo::Geometry<f64>, String> {
    let Some(geometry) = feature.geometry() else {
        return Err("no geometry".into());
    };
    // Malformed coordinate arrays inside a structurally valid feature are caught here rather
    // than trusted: the geometry decoder indexes into them.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut writer = geozero::geo_types::GeoWriter::new();
        geometry.process(&mut writer, geometry_type)?;
        writer
            .take_geometry()
            .ok_or(GeozeroError::Geometry("Missing Geometry".to_string()))
    }));
    match decoded {
        Ok(Ok(geometry)) => Ok(geometry),
        Ok(Err(e)) => Err(format!("unreadable geometry: {e}")),
        Err(_) => Err("malformed geometry".into()),
    }
}

/// The wanted attributes of one feature. Every attribute is walked, wanted or not, so a file
/// with a broken value anywhere is refused the same way whichever columns are asked for (the
/// layout is FlatGeobuf's: per value a little-endian u16 column index, then the value, text
/// with a u32 length).
fn read_props(
    feature: &flatgeobuf::Feature<'_>,
    layout: &Layout<'_>,
) -> Result<Vec<Option<Prop>>, String> {
    let mut values: Vec<Option<Prop>> = vec![None; layout.n_slots];
    let Some(columns) = layout.header.columns() else {
        return Ok(values);
    };
    let Some(properties) = feature.properties() else {
        return Ok(values);
    };
    let walked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<(), GeozeroError> {
            let bytes = properties.bytes();
            let len = properties.len();
            let le2 = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
            let arr4 = |o: usize| -> [u8; 4] { bytes[o..o + 4].try_into().unwrap_or([0; 4]) };
            let arr8 = |o: usize| -> [u8; 8] { bytes[o..o + 8].try_into().unwrap_or([0; 8]) };
            let text = |o: usize, n: usize| {
                std::str::from_utf8(&bytes[o..o + n])
                    .map_err(|_| GeozeroError::Property("Invalid UTF-8 encoding".to_string()))
            };
            let mut offset = 0;
            // As the reference reader: `offset + 1 < len`, since some writers leave a trailing
            // byte after a last Binary column.
            while offset + 1 < len {
                let column_idx = usize::from(le2(offset));
                offset += 2;
                if column_idx >= columns.len() {
                    return Err(GeozeroError::GeometryFormat);
                }
                let slot = layout.slot_of_column[column_idx];
                let value = match columns.get(column_idx).type_() {
                    ColumnType::Int => {
                        offset += 4;
                        Some(Prop::Int(i64::from(i32::from_le_bytes(arr4(offset - 4)))))
                    }
                    ColumnType::UInt => {
                        offset += 4;
                        Some(Prop::Int(i64::from(u32::from_le_bytes(arr4(offset - 4)))))
                    }
                    ColumnType::Long => {
                        offset += 8;
                        Some(Prop::Int(i64::from_le_bytes(arr8(offset - 8))))
                    }
                    ColumnType::ULong => {
                        offset += 8;
                        Some(Prop::UInt(u64::from_le_bytes(arr8(offset - 8))))
                    }
                    ColumnType::Double => {
                        offset += 8;
                        Some(Prop::Float(f64::from_le_bytes(arr8(offset - 8))))
                    }
                    ColumnType::Float => {
                        offset += 4;
                        Some(Prop::Float(f64::from(f32::from_le_bytes(arr4(offset - 4)))))
                    }
                    ColumnType::Short => {
                        offset += 2;
                        Some(Prop::Int(i64::from(le2(offset - 2) as i16)))
                    }
                    ColumnType::UShort => {
                        offset += 2;
                        Some(Prop::Int(i64::from(le2(offset - 2))))
                    }
                    ColumnType::Byte => {
                        offset += 1;
                        Some(Prop::Int(i64::from(bytes[offset - 1] as i8)))
                    }
                    ColumnType::UByte => {
                        offset += 1;
                        Some(Prop::Int(i64::from(bytes[offset - 1])))
                    }
                    ColumnType::Bool => {
                        offset += 1;
                        Some(Prop::Bool(bytes[offset - 1] != 0))
                    }
                    ColumnType::String | ColumnType::Json | ColumnType::DateTime => {
                        let n = u32::from_le_bytes(arr4(offset)) as usize;
                        offset += 4;
                        let value = text(offset, n)?;
                        offset += n;
                        slot.map(|_| Prop::Text(value.to_owned()))
                    }
                    ColumnType::Binary => {
                        let n = u32::from_le_bytes(arr4(offset)) as usize;
                        offset += 4;
                        let _ = &bytes[offset..offset + n];
                        offset += n;
                        None
                    }
                    // Unknown types are passed over without a value, as the reference does.
                    _ => continue,
                };
                if let Some(slot) = slot {
                    values[slot] = value;
                }
            }
            Ok(())
        },
    ));
    match walked {
        Ok(Ok(())) => Ok(values),
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
