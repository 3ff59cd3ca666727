//! One PMTiles v3 archive, written with the `pmtiles` crate: tiles arrive compressed as they
//! are stored (gzip for vector tiles, none for PNG), in tile-id order; identical tiles (the
//! empty sea of a heatmap, say) are stored once.

use std::fs::File;
use std::path::{Path, PathBuf};

use pmtiles::{Compression, PmTilesStreamWriter, PmTilesWriter, TileType};

use super::{ArchiveWriter, Error, TileFormat, io_error, part_path, tile_coord};
use crate::geom::TileKey;

pub struct Writer {
    path: PathBuf,
    inner: PmTilesStreamWriter<File>,
}

impl Writer {
    pub fn create(
        path: &Path,
        format: TileFormat,
        (minzoom, maxzoom): (u8, u8),
        [west, south, east, north]: [f64; 4],
        metadata: &serde_json::Value,
    ) -> Result<Writer, Error> {
        let part = part_path(path);
        let file = File::create(&part).map_err(io_error(&part))?;
        let builder = match format {
            TileFormat::Mvt => PmTilesWriter::new(TileType::Mvt).precompressed(Compression::Gzip),
            TileFormat::Png => PmTilesWriter::new(TileType::Png).precompressed(Compression::None),
        };
        let inner = builder
            .min_zoom(minzoom)
            .max_zoom(maxzoom)
            .bounds(west, south, east, north)
            .center((west + east) / 2.0, (south + north) / 2.0)
            .center_zoom(maxzoom.min(13))
            .metadata(metadata.to_string())
            .create(file)
            .map_err(|source| Error::Pmtiles {
                path: part.clone(),
                source,
            })?;
        Ok(Writer {
            path: path.to_owned(),
            inner,
        })
    }
}

impl ArchiveWriter for Writer {
    fn add(&mut self, tile: TileKey, bytes: &[u8]) -> Result<(), Error> {
        self.inner
            .add_tile(tile_coord(tile), bytes)
            .map_err(|source| Error::Pmtiles {
                path: self.path.clone(),
                source,
            })
    }

    fn finish(self: Box<Self>) -> Result<PathBuf, Error> {
        let part = part_path(&self.path);
        self.inner.finalize().map_err(|source| Error::Pmtiles {
            path: part.clone(),
            source,
        })?;
        std::fs::rename(&part, &self.path).map_err(io_error(&self.path))?;
        Ok(self.path)
    }
}
