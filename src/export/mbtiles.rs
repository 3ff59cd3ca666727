//! One MBTiles 1.3 archive (SQLite): `metadata` name/value rows and a `tiles` table in the TMS
//! row order the specification uses, `tile_data` as the server sends the tile with gzip
//! (vector tiles) or as it is (PNG). Written in one transaction under a temporary name.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{ArchiveWriter, Error, io_error, part_path};
use crate::geom::TileKey;

pub struct Writer {
    path: PathBuf,
    conn: Connection,
}

impl Writer {
    pub fn create(path: &Path, metadata: &serde_json::Value) -> Result<Writer, Error> {
        let part = part_path(path);
        // A leftover from an interrupted export would be appended to.
        match std::fs::remove_file(&part) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(&part)(e)),
            _ => {}
        }
        let sqlite = |source| Error::Sqlite {
            path: part.clone(),
            source,
        };
        let conn = Connection::open(&part).map_err(sqlite)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 4096;
             CREATE TABLE metadata (name TEXT NOT NULL, value TEXT);
             CREATE UNIQUE INDEX metadata_name ON metadata (name);
             CREATE TABLE tiles (zoom_level INTEGER NOT NULL, tile_column INTEGER NOT NULL,
                                 tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL);
             CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);
             BEGIN;",
        )
        .map_err(sqlite)?;
        for (name, value) in metadata_rows(metadata) {
            conn.execute(
                "INSERT INTO metadata (name, value) VALUES (?1, ?2)",
                (name, value),
            )
            .map_err(sqlite)?;
        }
        Ok(Writer {
            path: path.to_owned(),
            conn,
        })
    }

    fn sqlite_error(&self, source: rusqlite::Error) -> Error {
        Error::Sqlite {
            path: part_path(&self.path),
            source,
        }
    }
}

/// The MBTiles 1.3 metadata rows of a TileJSON-shaped value: the plain fields as text, and
/// `vector_layers` with the rest under `json`.
fn metadata_rows(tilejson: &serde_json::Value) -> Vec<(&'static str, String)> {
    let text = |key: &str| match &tilejson[key] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let numbers = |key: &str| {
        tilejson[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let mut json = serde_json::Map::new();
    for key in ["vector_layers", "lifecircle"] {
        if let Some(value) = tilejson.get(key) {
            json.insert(key.into(), value.clone());
        }
    }
    vec![
        ("name", text("name")),
        ("description", text("description")),
        ("version", text("version")),
        ("attribution", text("attribution")),
        ("type", "overlay".into()),
        ("format", text("format")),
        ("minzoom", text("minzoom")),
        ("maxzoom", text("maxzoom")),
        ("bounds", numbers("bounds")),
        ("center", numbers("center")),
        ("json", serde_json::Value::Object(json).to_string()),
    ]
}

impl ArchiveWriter for Writer {
    fn add(&mut self, tile: TileKey, bytes: &[u8]) -> Result<(), Error> {
        // MBTiles rows count from the south (TMS).
        let row = (1u32 << tile.z) - 1 - tile.y;
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| self.sqlite_error(e))?;
        insert
            .execute((tile.z, tile.x, row, bytes))
            .map_err(|e| self.sqlite_error(e))?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<PathBuf, Error> {
        self.conn
            .execute_batch("COMMIT;")
            .map_err(|e| self.sqlite_error(e))?;
        let part = part_path(&self.path);
        self.conn.close().map_err(|(_, source)| Error::Sqlite {
            path: part.clone(),
            source,
        })?;
        std::fs::rename(&part, &self.path).map_err(io_error(&self.path))?;
        Ok(self.path)
    }
}
