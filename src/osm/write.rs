//! Writes an [`OsmData`] as the files the server reads, into one directory:
//!
//! | file | geometry | columns |
//! |---|---|---|
//! | `facilities.fgb` | Point | `id` (`osm:n123`), `name` (empty when unnamed), `name_en`?, `category` (taxonomy id), `tags` (`key=value;…`) |
//! | `roads.fgb` | LineString | `highway`, `name`?, `id` (`osm:w456`, the way a piece comes from) |
//! | `subdistricts.fgb` | MultiPolygon | `name`, `name_en`? (only when boundaries were found) |
//! | `area.fgb` | MultiPolygon | the `--boundary` polygons (only with a boundary) |
//! | `lifecircle.toml` | | a configuration serving them |
//!
//! Files are written to a temporary name and renamed into place, so a failed import leaves no
//! half-written file behind.

use std::path::{Path, PathBuf};

use flatgeobuf::{ColumnType, GeometryType};
use geo::{Coord, Geometry, LineString, MultiPolygon, Point};
use geozero::ColumnValue;

use super::{OsmData, Region};
use crate::fgb_write::FgbLayer;

/// Header description of every file written.
const DESCRIPTION: &str = "OpenStreetMap data (ODbL), imported by lifecircle";

/// Why the output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create output directory {}: {error}", path.display())]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Fgb(#[from] crate::fgb_write::Error),
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub files: Vec<PathBuf>,
    pub config: PathBuf,
}

/// Writes the files and `lifecircle.toml` into `out_dir` (created if missing). `source` names
/// the extract in the configuration's comments and attribution.
pub fn write_dir(
    data: &OsmData,
    region: &Region,
    source: &Path,
    out_dir: &Path,
) -> Result<Written, Error> {
    std::fs::create_dir_all(out_dir).map_err(|error| Error::CreateDir {
        path: out_dir.to_owned(),
        error,
    })?;
    let mut files = Vec::new();

    let path = out_dir.join("facilities.fgb");
    let mut layer = FgbLayer::create(
        &path,
        GeometryType::Point,
        &[
            ("id", ColumnType::String, false),
            ("name", ColumnType::String, false),
            ("name_en", ColumnType::String, true),
            ("category", ColumnType::String, false),
            ("tags", ColumnType::String, false),
        ],
        DESCRIPTION,
    )?;
    for f in &data.facilities {
        layer.add(
            Geometry::Point(Point::new(f.lon, f.lat)),
            &[
                Some(ColumnValue::String(&f.id)),
                Some(ColumnValue::String(&f.name)),
                f.name_en.as_deref().map(ColumnValue::String),
                Some(ColumnValue::String(&f.category)),
                Some(ColumnValue::String(&f.tags)),
            ],
        )?;
    }
    files.push(layer.finish()?.0);

    let path = out_dir.join("roads.fgb");
    let mut layer = FgbLayer::create(
        &path,
        GeometryType::LineString,
        &[
            ("highway", ColumnType::String, false),
            ("name", ColumnType::String, true),
            ("id", ColumnType::String, false),
        ],
        DESCRIPTION,
    )?;
    for r in &data.roads {
        let line = LineString::new(r.coords.iter().map(|&(x, y)| Coord { x, y }).collect());
        let id = format!("osm:w{}", r.way_id);
        layer.add(
            Geometry::LineString(line),
            &[
                Some(ColumnValue::String(&r.highway)),
                r.name.as_deref().map(ColumnValue::String),
                Some(ColumnValue::String(&id)),
            ],
        )?;
    }
    files.push(layer.finish()?.0);

    let subdistricts = if data.subdistricts.is_empty() {
        None
    } else {
        let path = out_dir.join("subdistricts.fgb");
        let mut layer = FgbLayer::create(
            &path,
            GeometryType::MultiPolygon,
            &[
                ("name", ColumnType::String, false),
                ("name_en", ColumnType::String, true),
            ],
            DESCRIPTION,
        )?;
        for a in &data.subdistricts {
            layer.add(
                Geometry::MultiPolygon(a.polygon.clone()),
                &[
                    Some(ColumnValue::String(&a.name)),
                    a.name_en.as_deref().map(ColumnValue::String),
                ],
            )?;
        }
        files.push(layer.finish()?.0);
        Some("subdistricts.fgb")
    };

    if let Region::Boundary(polygons) = region {
        files.push(write_area(polygons, &out_dir.join("area.fgb"))?);
    }

    let config = out_dir.join("lifecircle.toml");
    let text = config_text(region, subdistricts, source);
    write_atomically(&config, text.as_bytes())?;
    Ok(Written { files, config })
}

fn write_area(polygons: &MultiPolygon<f64>, path: &Path) -> Result<PathBuf, Error> {
    let mut layer = FgbLayer::create(path, GeometryType::MultiPolygon, &[], DESCRIPTION)?;
    layer.add(Geometry::MultiPolygon(polygons.clone()), &[])?;
    Ok(layer.finish()?.0)
}

/// The configuration serving the written files: merged over the built-in default like any
/// `--config` file, so it holds only what differs.
fn config_text(region: &Region, subdistricts: Option<&str>, source: &Path) -> String {
    let source_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut text = format!(
        "# Written by `lifecircle import osm` from {source_name}.\n\
         # Serve it with: lifecircle --config <this file> serve\n\
         # Everything not set here takes the built-in default (see the repository's lifecircle.toml).\n\
         \n\
         [data]\n\
         facilities = \"facilities.fgb\"\n\
         roads = \"roads.fgb\"\n\
         subdistricts = \"{}\"\n\
         # OpenStreetMap has no population: statistics weigh by area only. Add a residents file\n\
         # (points with a `population` column) here when you have one.\n\
         residents = \"\"\n\
         attribution = \"© OpenStreetMap contributors (ODbL)\"\n\
         \n\
         [area]\n",
        subdistricts.unwrap_or("")
    );
    match region {
        Region::All => text.push_str(
            "# The whole extract: the subdistricts, or the facilities' extent without them.\n",
        ),
        Region::Bbox([w, s, e, n]) => {
            text.push_str(&format!("bbox = [{w}, {s}, {e}, {n}]\n"));
        }
        Region::Boundary(_) => text.push_str("boundary = \"area.fgb\"\n"),
    }
    text.push_str(
        "\n[coverage]\n\
         # The import kept only walkable ways (motorways and trunk roads only where a sidewalk or\n\
         # foot access is tagged), so no street class is left out again.\n\
         exclude_highways = []\n",
    );
    text
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("part");
    let write_err = |error| Error::Write {
        path: path.to_owned(),
        error,
    };
    std::fs::write(&tmp, bytes).map_err(write_err)?;
    std::fs::rename(&tmp, path).map_err(write_err)
}
