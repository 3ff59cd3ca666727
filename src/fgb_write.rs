//! FlatGeobuf output: a path, a geometry type, columns and a description → one WGS84 FlatGeobuf
//! file with a spatial index, written under a temporary name and renamed into place so a reader
//! never sees half a file. Used by `generate` (the sample) and `osm` (`import osm`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geo::Geometry;
use geozero::{ColumnValue, PropertyProcessor};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot encode {} as FlatGeobuf: {message}", path.display())]
    Encode { path: PathBuf, message: String },
}

/// One output file being written: features go to the FlatGeobuf writer (which spools them to a
/// temporary file), the index and the final file are produced by [`FgbLayer::finish`].
pub struct FgbLayer<'a> {
    path: PathBuf,
    fgb: FgbWriter<'a>,
    n_columns: usize,
    count: usize,
}

impl<'a> FgbLayer<'a> {
    /// Starts `path` with `(name, type, nullable)` columns; `description` goes in the header.
    pub fn create(
        path: &Path,
        geometry_type: GeometryType,
        columns: &[(&str, ColumnType, bool)],
        description: &'a str,
    ) -> Result<FgbLayer<'a>, Error> {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("layer");
        let options = FgbWriterOptions {
            write_index: true,
            // A layer of `GeometryType::Unknown` (facilities mixing points and polygons) keeps
            // each feature's own type.
            detect_type: false,
            promote_to_multi: false,
            crs: FgbCrs {
                org: Some("EPSG"),
                code: 4326,
                name: Some("WGS 84"),
                ..Default::default()
            },
            description: Some(description),
            ..Default::default()
        };
        let mut fgb =
            FgbWriter::create_with_options(name, geometry_type, options).map_err(|e| {
                Error::Encode {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                }
            })?;
        for &(col, ty, nullable) in columns {
            fgb.add_column(col, ty, |_, c| c.nullable = nullable);
        }
        Ok(FgbLayer {
            path: path.to_path_buf(),
            fgb,
            n_columns: columns.len(),
            count: 0,
        })
    }

    /// Adds a feature; `values` are in column order, `None` leaves the property out (null).
    pub fn add(
        &mut self,
        geom: Geometry<f64>,
        values: &[Option<ColumnValue>],
    ) -> Result<(), Error> {
        debug_assert_eq!(values.len(), self.n_columns);
        let mut failed = None;
        let result = self.fgb.add_feature_geom(geom, |feat| {
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v
                    && let Err(e) = feat.property(i, "", v)
                {
                    failed.get_or_insert(e);
                }
            }
        });
        if let Some(e) = failed.map(Err).unwrap_or(result).err() {
            return Err(Error::Encode {
                path: self.path.clone(),
                message: e.to_string(),
            });
        }
        self.count += 1;
        Ok(())
    }

    /// Sorts, indexes and writes the file (to a temporary name, then renamed into place);
    /// gives the path written and the number of features.
    pub fn finish(self) -> Result<(PathBuf, usize), Error> {
        let tmp = self.path.with_extension("fgb.part");
        let write_err = |error| Error::Write {
            path: self.path.clone(),
            error,
        };
        let result = (|| {
            let file = File::create(&tmp).map_err(write_err)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            self.fgb.write(&mut out).map_err(|e| Error::Encode {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
            out.flush().map_err(write_err)?;
            drop(out);
            std::fs::rename(&tmp, &self.path).map_err(write_err)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map(|()| (self.path, self.count))
    }
}
