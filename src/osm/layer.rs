//! An `.osm.pbf` file read as one of the server's layers: the same import as `lifecircle import
//! osm` (whole file, default tag rules, `admin_level` 8), run in memory, and its facilities,
//! streets or subdistricts given feature by feature with the columns the import would write.
//!
//! Which layer a read wants comes from the columns it asks for (`highway`: streets; only `name`
//! and `name_en`, or none: subdistricts, also used as an area boundary; otherwise facilities).
//! The import is kept for the last file read, so a configuration naming one extract for
//! facilities and roads imports it once per change of the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use geo::{Coord, Geometry, LineString, Point};

use super::{ImportOptions, NoProgress, OsmData, Region, TagRules};
use crate::ingest::Error;
use crate::ingest::formats::{Column, Prop};

/// What an extract offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Facilities,
    Roads,
    Subdistricts,
}

impl Kind {
    fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Facilities => &["id", "name", "name_en", "category", "tags"],
            Kind::Roads => &["highway", "name", "id"],
            Kind::Subdistricts => &["name", "name_en"],
        }
    }

    fn wanted_by(columns: &[Column<'_>]) -> Kind {
        let named = |n: &str| columns.iter().any(|c| c.name == n);
        if named("highway") {
            Kind::Roads
        } else if columns
            .iter()
            .all(|c| c.name == "name" || c.name == "name_en")
        {
            Kind::Subdistricts
        } else {
            Kind::Facilities
        }
    }
}

/// One layer of an imported extract, ready to be read once.
pub struct OsmLayer {
    data: Arc<OsmData>,
    kind: Kind,
    /// Per column asked for: its index in the layer's columns, or `None` (absent, optional).
    columns: Vec<Option<usize>>,
}

struct Cached {
    path: PathBuf,
    modified: Option<SystemTime>,
    len: u64,
    data: Arc<OsmData>,
}

static LAST_IMPORT: Mutex<Option<Cached>> = Mutex::new(None);

impl OsmLayer {
    /// Imports `path` (or takes the import of an unchanged file from the last read) and
    /// checks the required `columns` exist in the layer they select.
    pub fn open(path: &Path, columns: &[Column<'_>]) -> Result<OsmLayer, Error> {
        let kind = Kind::wanted_by(columns);
        let available = kind.columns();
        let mut indexes = Vec::with_capacity(columns.len());
        for column in columns {
            let idx = available.iter().position(|c| *c == column.name);
            if idx.is_none() && column.required {
                return Err(Error::MissingColumn {
                    path: path.to_owned(),
                    column: column.name.to_owned(),
                    available: available.join(", "),
                });
            }
            indexes.push(idx);
        }
        Ok(OsmLayer {
            data: import_cached(path)?,
            kind,
            columns: indexes,
        })
    }

    /// Calls `visit` for every feature of the layer with its geometry and the asked columns.
    pub fn for_each(
        self,
        mut visit: impl FnMut(usize, Result<Geometry<f64>, String>, Vec<Option<Prop>>),
    ) {
        let text = |s: &str| Some(Prop::Text(s.to_owned()));
        let pick = |values: Vec<Option<Prop>>| -> Vec<Option<Prop>> {
            self.columns
                .iter()
                .map(|idx| idx.and_then(|i| values[i].clone()))
                .collect()
        };
        match self.kind {
            Kind::Facilities => {
                for (idx, f) in self.data.facilities.iter().enumerate() {
                    let values = vec![
                        text(&f.id),
                        text(&f.name),
                        f.name_en.as_deref().and_then(text),
                        text(&f.category),
                        text(&f.tags),
                    ];
                    visit(
                        idx,
                        Ok(Geometry::Point(Point::new(f.lon, f.lat))),
                        pick(values),
                    );
                }
            }
            Kind::Roads => {
                for (idx, r) in self.data.roads.iter().enumerate() {
                    let line =
                        LineString::new(r.coords.iter().map(|&(x, y)| Coord { x, y }).collect());
                    let values = vec![
                        text(&r.highway),
                        r.name.as_deref().and_then(text),
                        Some(Prop::Text(format!("osm:w{}", r.way_id))),
                    ];
                    visit(idx, Ok(Geometry::LineString(line)), pick(values));
                }
            }
            Kind::Subdistricts => {
                for (idx, a) in self.data.subdistricts.iter().enumerate() {
                    let values = vec![text(&a.name), a.name_en.as_deref().and_then(text)];
                    visit(
                        idx,
                        Ok(Geometry::MultiPolygon(a.polygon.clone())),
                        pick(values),
                    );
                }
            }
        }
    }
}

fn import_cached(path: &Path) -> Result<Arc<OsmData>, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let (modified, len) = (meta.modified().ok(), meta.len());
    let mut last = LAST_IMPORT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(cached) = last.as_ref()
        && cached.path == path
        && cached.modified == modified
        && modified.is_some()
        && cached.len == len
    {
        return Ok(Arc::clone(&cached.data));
    }
    let options = ImportOptions {
        region: Region::All,
        margin_m: 0.0,
        admin_level: "8".into(),
    };
    let started = std::time::Instant::now();
    let data = Arc::new(super::import(
        path,
        &options,
        &TagRules::all(),
        &NoProgress,
    )?);
    tracing::info!(
        path = %path.display(),
        n_facilities = data.facilities.len(),
        n_road_pieces = data.roads.len(),
        n_subdistricts = data.subdistricts.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "imported OpenStreetMap extract"
    );
    *last = Some(Cached {
        path: path.to_owned(),
        modified,
        len,
        data: Arc::clone(&data),
    });
    Ok(data)
}
