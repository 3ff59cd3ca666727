//! Tile archives: a [`Snapshot`] + [`ExportOptions`] (zoom range, area, formats, tile sets) →
//! PMTiles v3 and MBTiles files, one archive per tile set, for static hosting behind a CDN.
//!
//! Every tile is rendered by the same functions the server renders with
//! ([`VectorTileSet::render`], [`render_coverage_tile`]), so an archive holds exactly what the
//! server sends: vector tiles gzip-compressed with the server's own gzip bytes (PMTiles: the
//! archive's one tile compression; MBTiles: `tile_data`), heatmap PNGs as they are. Empty tiles,
//! which the server answers with 204, are left out; a tile over `tiles.max_tile_bytes` stops the
//! export with an error naming it. Tiles render in parallel (rayon) in batches and stream into
//! the writers in PMTiles tile-id order, so memory stays bounded whatever the pyramid's size.
//!
//! The tile sets: `facilities` (every category, WGS84; clusters count every category),
//! `facilities-gcj02` (on request), `basemap`, and per coverage id of the default walking
//! profile `coverage-{id}` (heatmap PNG) and `coverage-{id}-bands` (isochrone bands MVT).

mod mbtiles;
mod pmtiles_out;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;

use crate::attributes::{Scenario, StatusSet};
use crate::cache::CachedTile;
use crate::config::Config;
use crate::coverage::{CoverageId, bands};
use crate::geom::TileKey;
use crate::snapshot::Snapshot;
use crate::state::{
    CoverageFormat, TileError, VectorTileSet, render_coverage_tile, tiles_covering,
};
use crate::tilejson_doc::{self, TileJSON, TileSetDoc};
use crate::tiles::basemap;
use crate::tiles::{CategoryFilter, Datum, TileParams, profile};

/// An archive file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    Pmtiles,
    Mbtiles,
}

impl ArchiveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::Pmtiles => "pmtiles",
            ArchiveFormat::Mbtiles => "mbtiles",
        }
    }
}

/// Which kinds of tile set to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Facilities,
    Basemap,
    /// Heatmaps and bands of every coverage id, default profile.
    Coverage,
}

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub out_dir: PathBuf,
    pub formats: Vec<ArchiveFormat>,
    pub sources: Vec<SourceKind>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// `[west, south, east, north]` in WGS84; `None`: the analysis area (or the data's bounds
    /// when there is none).
    pub bbox: Option<[f64; 4]>,
    /// Also write the facility tiles in GCJ-02 (`facilities-gcj02`).
    pub gcj02: bool,
    /// Coverage ids to export (`all`, a group, a category); empty: every id.
    pub coverage_ids: Vec<String>,
}

/// One tile set of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tileset {
    Facilities(Datum),
    Basemap,
    Heatmap(CoverageId),
    Bands(CoverageId),
}

/// What a tile of a set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileFormat {
    Mvt,
    Png,
}

impl Tileset {
    /// The archive's file stem: `facilities`, `facilities-gcj02`, `basemap`, `coverage-{id}`,
    /// `coverage-{id}-bands`.
    pub fn name(&self, snapshot: &Snapshot) -> String {
        match self {
            Tileset::Facilities(Datum::Wgs84) => "facilities".into(),
            Tileset::Facilities(datum) => format!("facilities-{}", datum.as_str()),
            Tileset::Basemap => basemap::BASEMAP_SOURCE.into(),
            Tileset::Heatmap(id) => format!("coverage-{}", snapshot.coverage.id_name(*id)),
            Tileset::Bands(id) => format!("coverage-{}-bands", snapshot.coverage.id_name(*id)),
        }
    }

    pub fn format(&self) -> TileFormat {
        match self {
            Tileset::Heatmap(_) => TileFormat::Png,
            _ => TileFormat::Mvt,
        }
    }

    /// Renders one tile as the server would send it.
    pub fn render(
        &self,
        snapshot: &Snapshot,
        tile: TileKey,
        params: &TileParams,
    ) -> Result<CachedTile, TileError> {
        let profile = snapshot.coverage.params.default_profile;
        match *self {
            Tileset::Facilities(datum) => VectorTileSet::Facilities {
                filter: CategoryFilter::all(),
                datum,
                statuses: StatusSet::EXISTING,
            }
            .render(snapshot, tile, params),
            Tileset::Basemap => VectorTileSet::Basemap.render(snapshot, tile, params),
            Tileset::Heatmap(id) => render_coverage_tile(
                snapshot,
                Scenario::Existing,
                id,
                profile,
                CoverageFormat::Png,
                tile,
                params,
            ),
            Tileset::Bands(id) => render_coverage_tile(
                snapshot,
                Scenario::Existing,
                id,
                profile,
                CoverageFormat::Mvt,
                tile,
                params,
            ),
        }
    }

    /// The bytes an archive stores for a rendered, non-empty tile: vector tiles gzip-compressed
    /// (the server's gzip bytes; gzip at the same level when the server sends that tile
    /// uncompressed because gzip would not make it smaller), PNGs as they are.
    pub fn archived_bytes(&self, tile: &CachedTile) -> Vec<u8> {
        match self.format() {
            TileFormat::Png => tile.raw.to_vec(),
            TileFormat::Mvt => match &tile.gzip {
                Some(gzip) => gzip.to_vec(),
                None => crate::cache::gzip(&tile.raw).expect("gzip into memory does not fail"),
            },
        }
    }
}

/// The TileJSON-shaped metadata of one archive: name, description, version, attribution,
/// zooms, bounds, centre, format and (vector sets) `vector_layers`, and under `lifecircle` what
/// the set is, so a client reading the archive knows it carries no category filter.
pub fn metadata(
    tileset: Tileset,
    snapshot: &Snapshot,
    config: &Config,
    (minzoom, maxzoom): (u8, u8),
    bounds: [f64; 4],
) -> TileJSON {
    let coverage = &snapshot.coverage;
    let profile = coverage.profile(coverage.params.default_profile);
    let (name, description, layers) = match tileset {
        Tileset::Facilities(datum) => (
            format!("lifecircle facilities ({})", datum.as_str()),
            "Public-service facilities of the 15-minute community life circle, every category; clustered with counts at low zoom (clusters count every category: filter single facilities on `category`)".to_owned(),
            Some(profile::facility_vector_layers(&snapshot.dataset.taxonomy, minzoom, maxzoom)),
        ),
        Tileset::Basemap => (
            "lifecircle basemap".to_owned(),
            "Subdistrict areas, outlines and labels and the street network of the data".to_owned(),
            Some(basemap::vector_layers(minzoom, maxzoom)),
        ),
        Tileset::Heatmap(id) => (
            format!("lifecircle coverage: {}", coverage.id_name(id)),
            format!(
                "15-minute life circle heatmap of `{}`: walking minutes, {} ({} m/s), {} distances",
                coverage.id_name(id),
                profile.label_en,
                profile.speed_m_s,
                coverage.mode.as_str()
            ),
            None,
        ),
        Tileset::Bands(id) => (
            format!("lifecircle coverage bands: {}", coverage.id_name(id)),
            format!(
                "15-minute life circle isochrone bands of `{}`, {} ({} m/s), {} distances",
                coverage.id_name(id),
                profile.label_en,
                profile.speed_m_s,
                coverage.mode.as_str()
            ),
            Some(bands::vector_layers(minzoom, maxzoom)),
        ),
    };
    let [west, south, east, north] = bounds;
    let mut document = TileSetDoc {
        name,
        description,
        data_version: snapshot.version,
        attribution: &config.data.attribution,
        // An archive's host decides its tile URLs.
        tiles: Vec::new(),
        minzoom,
        maxzoom,
        bounds,
        center: ((west + east) / 2.0, (south + north) / 2.0, maxzoom.min(13)),
        vector_layers: layers,
    }
    .build();
    let format = match tileset.format() {
        TileFormat::Mvt => "pbf",
        TileFormat::Png => "png",
    };
    tilejson_doc::with_extra(&mut document, "format", format.into());
    let about = serde_json::json!({
        "tileset": tileset.name(snapshot),
        "datum": match tileset { Tileset::Facilities(d) => d.as_str(), _ => Datum::Wgs84.as_str() },
        "profile": profile.id,
        "category_filter": false,
    });
    tilejson_doc::with_extra(&mut document, "lifecircle", about);
    document
}

/// An archive's metadata as JSON: the TileJSON document without `tiles`, which an archive
/// cannot know (PMTiles readers and `pmtiles serve` add their own).
fn metadata_json(document: &TileJSON) -> serde_json::Value {
    let mut json = serde_json::to_value(document).unwrap_or_default();
    if let Some(fields) = json.as_object_mut() {
        fields.remove("tiles");
    }
    json
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing PMTiles archive {path}: {source}")]
    Pmtiles {
        path: PathBuf,
        source: pmtiles::PmtError,
    },
    #[error("writing MBTiles archive {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("tile set `{tileset}`: {source}")]
    Tile { tileset: String, source: TileError },
    #[error("{0}")]
    Options(String),
}

/// Reports progress, one tile set after another.
pub trait Progress: Sync {
    fn start_tileset(&self, name: &str, n_tiles: u64);
    fn advance(&self, n_tiles: u64);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn start_tileset(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// What one archive holds.
#[derive(Debug, Clone)]
pub struct ArchiveSummary {
    pub tileset: String,
    pub files: Vec<PathBuf>,
    /// Tiles in the pyramid over the area.
    pub n_tiles: u64,
    /// Of those, tiles with content (written); the rest are empty.
    pub n_written: u64,
    /// Bytes of tile data written (per format, the sum over tiles).
    pub tile_bytes: u64,
    pub elapsed: std::time::Duration,
}

/// Tiles rendered in parallel before they are handed to the writers; bounds memory.
const BATCH: usize = 2048;

/// The tile sets `options` asks for.
pub fn tilesets(snapshot: &Snapshot, options: &ExportOptions) -> Vec<Tileset> {
    let mut sets = Vec::new();
    for kind in &options.sources {
        match kind {
            SourceKind::Facilities => {
                sets.push(Tileset::Facilities(Datum::Wgs84));
                if options.gcj02 {
                    sets.push(Tileset::Facilities(Datum::Gcj02));
                }
            }
            SourceKind::Basemap => sets.push(Tileset::Basemap),
            SourceKind::Coverage if snapshot.coverage.grid.n_cells() > 0 => {
                for (name, id) in snapshot.coverage.ids() {
                    if !options.coverage_ids.is_empty() && !options.coverage_ids.contains(&name) {
                        continue;
                    }
                    sets.push(Tileset::Heatmap(id));
                    sets.push(Tileset::Bands(id));
                }
            }
            SourceKind::Coverage => {}
        }
    }
    sets
}

/// The area exported for `tileset` (WGS84 `[west, south, east, north]`): the requested box, or
/// the analysis area (the data's bounds when there is none; for coverage, what heatmaps show).
/// For GCJ-02 tiles, the box covering the area's corners in GCJ-02, where those tiles draw it.
pub fn area_bounds(snapshot: &Snapshot, options: &ExportOptions, tileset: Tileset) -> [f64; 4] {
    let coverage = &snapshot.coverage;
    let bounds = match (options.bbox, tileset) {
        (Some(bbox), _) => bbox,
        (None, Tileset::Heatmap(_) | Tileset::Bands(_)) => coverage.shown_bounds(),
        (None, _) if coverage.area().source == crate::area::AreaSource::Empty => {
            snapshot.dataset.bounds
        }
        (None, _) => coverage.area().bbox,
    };
    match tileset {
        Tileset::Facilities(datum @ Datum::Gcj02) => {
            let [w, s, e, n] = bounds;
            let corners =
                [(w, s), (w, n), (e, s), (e, n)].map(|(lon, lat)| datum.from_wgs84(lon, lat));
            let mut out = bounds;
            for (x, y) in corners {
                out = [out[0].min(x), out[1].min(y), out[2].max(x), out[3].max(y)];
            }
            out
        }
        _ => bounds,
    }
}

/// Writes one archive per tile set and format into `options.out_dir`.
pub fn export(
    snapshot: &Snapshot,
    config: &Config,
    options: &ExportOptions,
    progress: &dyn Progress,
) -> Result<Vec<ArchiveSummary>, Error> {
    if options.minzoom > options.maxzoom || options.maxzoom > 22 {
        return Err(Error::Options(format!(
            "zoom range {}..{} is not a range within 0..22; give --minzoom <= --maxzoom",
            options.minzoom, options.maxzoom
        )));
    }
    let known: Vec<String> = snapshot
        .coverage
        .ids()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    if let Some(unknown) = options.coverage_ids.iter().find(|id| !known.contains(id)) {
        return Err(Error::Options(format!(
            "unknown coverage id `{unknown}`; use one of: {}",
            known.join(", ")
        )));
    }
    if options.formats.is_empty() {
        return Err(Error::Options("no archive format chosen".into()));
    }
    std::fs::create_dir_all(&options.out_dir).map_err(|source| Error::Io {
        path: options.out_dir.clone(),
        source,
    })?;
    tilesets(snapshot, options)
        .into_iter()
        .map(|set| export_tileset(snapshot, config, options, set, progress))
        .collect()
}

/// The destination of one tile set in one format.
trait ArchiveWriter: Send {
    fn add(&mut self, tile: TileKey, bytes: &[u8]) -> Result<(), Error>;
    /// Writes the directories (PMTiles) or commits (MBTiles) and moves the file into place.
    fn finish(self: Box<Self>) -> Result<PathBuf, Error>;
}

fn export_tileset(
    snapshot: &Snapshot,
    config: &Config,
    options: &ExportOptions,
    tileset: Tileset,
    progress: &dyn Progress,
) -> Result<ArchiveSummary, Error> {
    let started = std::time::Instant::now();
    let name = tileset.name(snapshot);
    let paths: Vec<PathBuf> = options
        .formats
        .iter()
        .map(|format| {
            options
                .out_dir
                .join(format!("{name}.{}", format.extension()))
        })
        .collect();
    let written = write_tileset(snapshot, config, options, tileset, &name, &paths, progress);
    if written.is_err() {
        // Leave nothing half-written behind.
        for path in &paths {
            let _ = std::fs::remove_file(part_path(path));
        }
    }
    let (files, n_tiles, n_written, tile_bytes) = written?;
    Ok(ArchiveSummary {
        tileset: name,
        files,
        n_tiles,
        n_written,
        tile_bytes,
        elapsed: started.elapsed(),
    })
}

/// Renders and writes one tile set into `paths` (one per format): the files, tiles in the
/// pyramid, tiles written, bytes written.
fn write_tileset(
    snapshot: &Snapshot,
    config: &Config,
    options: &ExportOptions,
    tileset: Tileset,
    name: &str,
    paths: &[PathBuf],
    progress: &dyn Progress,
) -> Result<(Vec<PathBuf>, u64, u64, u64), Error> {
    let bounds = area_bounds(snapshot, options, tileset);
    let zooms = (options.minzoom, options.maxzoom);
    let meta = metadata_json(&metadata(tileset, snapshot, config, zooms, bounds));
    let mut writers: Vec<Box<dyn ArchiveWriter>> = Vec::new();
    for (format, path) in options.formats.iter().zip(paths) {
        writers.push(match format {
            ArchiveFormat::Pmtiles => Box::new(pmtiles_out::Writer::create(
                path,
                tileset.format(),
                zooms,
                bounds,
                &meta,
            )?),
            ArchiveFormat::Mbtiles => Box::new(mbtiles::Writer::create(path, &meta)?),
        });
    }
    // PMTiles tile-id order (zoom by zoom, along the Hilbert curve): the writer stores runs
    // contiguously and the directory needs no sort.
    let mut keys = tiles_covering(bounds, options.minzoom, options.maxzoom);
    keys.sort_by_key(|k| pmtiles::TileId::from(tile_coord(*k)).value());
    let n_tiles = keys.len() as u64;
    progress.start_tileset(name, n_tiles);
    let params = &config.tiles;
    let mut n_written = 0u64;
    let mut tile_bytes = 0u64;
    let render_error = |source| Error::Tile {
        tileset: name.to_owned(),
        source,
    };
    std::thread::scope(|scope| -> Result<(), Error> {
        // Renders the next batch while the writers take the last.
        let (tx, rx) = mpsc::sync_channel::<Result<(usize, Vec<(TileKey, Vec<u8>)>), TileError>>(1);
        let keys = &keys;
        scope.spawn(move || {
            for batch in keys.chunks(BATCH) {
                let rendered: Result<Vec<_>, TileError> = batch
                    .par_iter()
                    .map(|&key| {
                        let tile = tileset.render(snapshot, key, params)?;
                        Ok((!tile.is_empty()).then(|| (key, tileset.archived_bytes(&tile))))
                    })
                    .filter_map(Result::transpose)
                    .collect();
                let failed = rendered.is_err();
                if tx.send(rendered.map(|tiles| (batch.len(), tiles))).is_err() || failed {
                    return;
                }
            }
        });
        for batch in rx {
            let (n_rendered, tiles) = batch.map_err(render_error)?;
            for (key, bytes) in &tiles {
                for writer in &mut writers {
                    writer.add(*key, bytes)?;
                }
                n_written += 1;
                tile_bytes += bytes.len() as u64;
            }
            progress.advance(n_rendered as u64);
        }
        Ok(())
    })?;
    let files = writers
        .into_iter()
        .map(|w| w.finish())
        .collect::<Result<Vec<_>, _>>()?;
    Ok((files, n_tiles, n_written, tile_bytes))
}

fn tile_coord(key: TileKey) -> pmtiles::TileCoord {
    pmtiles::TileCoord::new(key.z, key.x, key.y).expect("tile keys are valid tile coordinates")
}

/// `path` with `.part` appended: archives are written under it and renamed into place, so a
/// failed export never leaves a half-written archive under the final name.
fn part_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}
