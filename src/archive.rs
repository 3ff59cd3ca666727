//! Tile archives served in place of rendering: `[tiles.archives]` (source id → `.pmtiles` or
//! `.mbtiles` file, as `lifecircle export` writes them) → [`Archives`], which give a tile's
//! stored bytes by address.
//!
//! An archive holds one variant of its source: every category, in the datum it was exported in
//! (its metadata's `lifecircle.datum`), within its zoom range and bounds. Requests for anything
//! else (a category filter, another datum, a tile beyond its zooms or area) are rendered as
//! before. PMTiles are memory-mapped (the `pmtiles` crate's reader); MBTiles are read through
//! one read-only SQLite connection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pmtiles::{AsyncPmTilesReader, MmapBackend, TileCoord};

use crate::config::Config;
use crate::geom::{self, TileKey};

/// The tile sources an archive can stand in for.
pub const SOURCES: &[&str] = &["facilities", "basemap"];

/// The file format of an archive, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Pmtiles,
    Mbtiles,
}

impl ArchiveKind {
    pub fn of(path: &Path) -> Option<ArchiveKind> {
        match path.extension()?.to_str()? {
            "pmtiles" => Some(ArchiveKind::Pmtiles),
            "mbtiles" => Some(ArchiveKind::Mbtiles),
            _ => None,
        }
    }
}

/// Why an archive cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tile archive {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("reading tile {tile} from {path}: {message}")]
    Read {
        path: PathBuf,
        tile: TileKey,
        message: String,
    },
}

enum Reader {
    Pmtiles(AsyncPmTilesReader<MmapBackend>),
    Mbtiles(Mutex<rusqlite::Connection>),
}

/// One open archive.
pub struct Archive {
    pub path: PathBuf,
    /// The archive's TileJSON-shaped metadata.
    pub metadata: serde_json::Value,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// `[west, south, east, north]`.
    pub bounds: [f64; 4],
    reader: Reader,
}

impl Archive {
    /// Opens `path` and reads its header and metadata. Blocking.
    pub fn open(path: &Path) -> Result<Archive, Error> {
        let fail = |message: String| Error::Open {
            path: path.to_owned(),
            message,
        };
        match ArchiveKind::of(path) {
            Some(ArchiveKind::Pmtiles) => {
                // The reader's constructor is async (it reads through tokio); a runtime of its
                // own keeps this callable from any thread.
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| fail(e.to_string()))?;
                let (reader, metadata) = runtime
                    .block_on(async {
                        let reader = AsyncPmTilesReader::new_with_path(path).await?;
                        let metadata = reader.get_metadata().await?;
                        Ok::<_, pmtiles::PmtError>((reader, metadata))
                    })
                    .map_err(|e| fail(format!("not a readable PMTiles v3 archive: {e}")))?;
                let header = reader.get_header();
                let metadata = serde_json::from_str(&metadata)
                    .map_err(|e| fail(format!("metadata is not JSON: {e}")))?;
                Ok(Archive {
                    path: path.to_owned(),
                    metadata,
                    minzoom: header.min_zoom,
                    maxzoom: header.max_zoom,
                    bounds: [
                        header.min_longitude,
                        header.min_latitude,
                        header.max_longitude,
                        header.max_latitude,
                    ],
                    reader: Reader::Pmtiles(reader),
                })
            }
            Some(ArchiveKind::Mbtiles) => {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map_err(|e| fail(e.to_string()))?;
                let rows: BTreeMap<String, String> = conn
                    .prepare("SELECT name, value FROM metadata")
                    .and_then(|mut s| {
                        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<Result<_, _>>()
                    })
                    .map_err(|e| fail(format!("not an MBTiles archive: {e}")))?;
                let number = |key: &str| {
                    rows.get(key)
                        .and_then(|v| v.trim().parse::<u8>().ok())
                        .ok_or_else(|| fail(format!("metadata `{key}` missing or not a zoom")))
                };
                let bounds: Vec<f64> = rows
                    .get("bounds")
                    .map(|b| b.split(',').filter_map(|v| v.trim().parse().ok()).collect())
                    .unwrap_or_default();
                let bounds = <[f64; 4]>::try_from(bounds.as_slice())
                    .unwrap_or([-180.0, -85.0511, 180.0, 85.0511]);
                let mut metadata = rows
                    .get("json")
                    .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
                    .filter(serde_json::Value::is_object)
                    .unwrap_or_else(|| serde_json::json!({}));
                for (key, value) in &rows {
                    if key != "json" {
                        metadata[key] = value.clone().into();
                    }
                }
                Ok(Archive {
                    path: path.to_owned(),
                    metadata,
                    minzoom: number("minzoom")?,
                    maxzoom: number("maxzoom")?,
                    bounds,
                    reader: Reader::Mbtiles(Mutex::new(conn)),
                })
            }
            None => Err(fail("not a .pmtiles or .mbtiles file".into())),
        }
    }

    /// The datum the archive's positions are in (`lifecircle.datum` of its metadata; WGS84
    /// when it does not say).
    pub fn datum(&self) -> &str {
        self.metadata["lifecircle"]["datum"]
            .as_str()
            .unwrap_or("wgs84")
    }

    /// Does the archive answer for `tile`: within its zoom range and meeting its bounds?
    pub fn covers(&self, tile: TileKey) -> bool {
        if !(self.minzoom..=self.maxzoom).contains(&tile.z) {
            return false;
        }
        let [west, south, east, north] = self.bounds;
        let a = TileKey::containing(geom::lonlat_to_merc(west, north), tile.z);
        let b = TileKey::containing(geom::lonlat_to_merc(east, south), tile.z);
        (a.x..=b.x).contains(&tile.x) && (a.y..=b.y).contains(&tile.y)
    }

    /// The tile's stored bytes (gzip for vector tiles), `None` for a tile the archive lacks
    /// (empty). SQLite reads run on the blocking pool.
    pub async fn tile(self: &Arc<Self>, tile: TileKey) -> Result<Option<Vec<u8>>, Error> {
        match &self.reader {
            Reader::Pmtiles(reader) => {
                let coord = TileCoord::new(tile.z, tile.x, tile.y)
                    .map_err(|e| self.read_error(tile, e.to_string()))?;
                let bytes = reader
                    .get_tile(coord)
                    .await
                    .map_err(|e| self.read_error(tile, e.to_string()))?;
                Ok(bytes.map(|b| b.to_vec()))
            }
            Reader::Mbtiles(_) => {
                let this = self.clone();
                tokio::task::spawn_blocking(move || this.mbtiles_tile(tile))
                    .await
                    .map_err(|e| self.read_error(tile, e.to_string()))?
            }
        }
    }

    fn read_error(&self, tile: TileKey, message: String) -> Error {
        Error::Read {
            path: self.path.clone(),
            tile,
            message,
        }
    }

    fn mbtiles_tile(&self, tile: TileKey) -> Result<Option<Vec<u8>>, Error> {
        let fail = |message: String| self.read_error(tile, message);
        match &self.reader {
            Reader::Pmtiles(_) => unreachable!("called for MBTiles archives only"),
            Reader::Mbtiles(conn) => {
                let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let row = (1u32 << tile.z) - 1 - tile.y;
                let mut statement = conn
                    .prepare_cached(
                        "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                    )
                    .map_err(|e| fail(e.to_string()))?;
                let mut rows = statement
                    .query((tile.z, tile.x, row))
                    .map_err(|e| fail(e.to_string()))?;
                match rows.next().map_err(|e| fail(e.to_string()))? {
                    Some(row) => Ok(Some(row.get(0).map_err(|e| fail(e.to_string()))?)),
                    None => Ok(None),
                }
            }
        }
    }
}

/// The configured archives, by tile source id.
#[derive(Default)]
pub struct Archives(BTreeMap<String, Arc<Archive>>);

impl Archives {
    /// Opens every archive of `[tiles.archives]`. Blocking.
    pub fn open(config: &Config) -> Result<Archives, Error> {
        let mut archives = BTreeMap::new();
        for (source, path) in &config.tiles.archives {
            let archive = Archive::open(&config.resolve(path))?;
            tracing::info!(
                source,
                path = %archive.path.display(),
                minzoom = archive.minzoom,
                maxzoom = archive.maxzoom,
                "serving tiles from an archive"
            );
            archives.insert(source.clone(), Arc::new(archive));
        }
        Ok(Archives(archives))
    }

    pub fn get(&self, source: &str) -> Option<&Arc<Archive>> {
        self.0.get(source)
    }
}
