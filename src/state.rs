//! Shared server state: the current [`Snapshot`] (swapped atomically on reload), the tile cache,
//! the feedback store (which outlives reloads), the configuration and the background
//! precompute's progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use rayon::prelude::*;

use crate::cache::{CacheKey, CachedTile, TileCache};
use crate::config::Config;
use crate::coverage::{self, CoverageId, ProfileId};
use crate::feedback;
use crate::geom::{self, TileKey};
use crate::snapshot::{self, Snapshot};
use crate::tiles::basemap::BASEMAP_SOURCE;
use crate::tiles::{self, CategoryFilter, Datum, TileParams};

/// Tile set id of the facility tiles.
pub const FACILITIES_SOURCE: &str = "facilities";

/// A vector tile set, with its variant (the facility filter and datum).
#[derive(Debug, Clone)]
pub enum VectorTileSet {
    Facilities {
        filter: CategoryFilter,
        datum: Datum,
    },
    Basemap,
}

impl VectorTileSet {
    /// The query string that selects this variant (`?categories=a,b&crs=gcj02`; empty for the
    /// default), as written in tile URLs and cache keys.
    pub fn query_string(&self, snapshot: &Snapshot) -> String {
        let mut params = Vec::new();
        if let VectorTileSet::Facilities { filter, datum } = self {
            if let Some(ids) = filter.categories() {
                let taxonomy = &snapshot.dataset.taxonomy;
                let names: Vec<&str> = ids
                    .iter()
                    .map(|&id| taxonomy.category(id).id.as_str())
                    .collect();
                params.push(format!("categories={}", names.join(",")));
            }
            if *datum != Datum::Wgs84 {
                params.push(format!("crs={}", datum.as_str()));
            }
        }
        if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        }
    }

    pub fn source_id(&self) -> &'static str {
        match self {
            VectorTileSet::Facilities { .. } => FACILITIES_SOURCE,
            VectorTileSet::Basemap => BASEMAP_SOURCE,
        }
    }

    /// The cache key of one tile of this set in `snapshot`.
    pub fn cache_key(&self, snapshot: &Snapshot, tile: TileKey) -> CacheKey {
        let variant = format!("{}{}", self.source_id(), self.query_string(snapshot));
        CacheKey {
            version: snapshot.version,
            variant: variant.into(),
            tile,
        }
    }
}

/// What a coverage tile holds: a PNG heatmap or MVT isochrone bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageFormat {
    Png,
    Mvt,
}

impl CoverageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            CoverageFormat::Png => "png",
            CoverageFormat::Mvt => "mvt",
        }
    }
}

pub struct AppState {
    pub config: Arc<Config>,
    pub snapshot: ArcSwap<Snapshot>,
    pub cache: TileCache,
    pub tile_params: TileParams,
    pub precompute: Arc<Progress>,
    /// Residents' reports; the same store across snapshot reloads.
    pub feedback: feedback::Store,
    /// Serialises reloads; the version counter of the next snapshot.
    reload_lock: tokio::sync::Mutex<()>,
    next_version: AtomicU64,
}

/// Progress of the background precompute, for `/health`.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: AtomicUsize,
    pub done: AtomicUsize,
    pub finished: AtomicBool,
    pub elapsed_ms: AtomicU64,
}

/// Why the server state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Snapshot(#[from] snapshot::Error),
    #[error(transparent)]
    Feedback(#[from] feedback::Error),
}

impl AppState {
    /// Opens the feedback store and builds the first snapshot (blocking), and the state around
    /// them.
    pub fn load(config: Config) -> Result<Arc<AppState>, Error> {
        Self::load_with(config, false)
    }

    /// [`AppState::load`]; `force` accepts data that fails the `[data]` guards.
    pub fn load_with(config: Config, force: bool) -> Result<Arc<AppState>, Error> {
        let feedback = feedback::Store::open(
            &config.resolve(&config.feedback.path),
            feedback::StoreOptions {
                synchronous: config.feedback.synchronous,
            },
        )?;
        let snapshot = snapshot::build_with(
            &config,
            1,
            snapshot::BuildOptions {
                force,
                previous_facilities: None,
            },
        )?;
        Ok(Arc::new(AppState {
            feedback,
            tile_params: config.tiles.clone(),
            cache: TileCache::new(config.cache.max_bytes),
            config: Arc::new(config),
            snapshot: ArcSwap::from_pointee(snapshot),
            precompute: Arc::default(),
            reload_lock: tokio::sync::Mutex::new(()),
            next_version: AtomicU64::new(2),
        }))
    }

    /// Fetches a vector tile from the cache, rendering it on a miss. Blocking: call from a
    /// blocking thread.
    pub fn vector_tile(
        &self,
        snapshot: &Snapshot,
        tile: TileKey,
        set: &VectorTileSet,
    ) -> Result<Arc<CachedTile>, Arc<tiles::EncodeError>> {
        self.cache.get_or_render(set.cache_key(snapshot, tile), || {
            let bytes = match set {
                VectorTileSet::Facilities { filter, datum } => {
                    let points = snapshot.facility_points(*datum);
                    tiles::render(&snapshot.dataset, points, tile, filter, &self.tile_params)?.bytes
                }
                VectorTileSet::Basemap => snapshot.basemap.render(tile, &self.tile_params)?,
            };
            Ok(CachedTile::new(bytes, true))
        })
    }

    /// The cache key of a coverage tile: `coverage/{id}/{profile}.{png|mvt}`.
    pub fn coverage_tile_key(
        snapshot: &Snapshot,
        id: CoverageId,
        profile: ProfileId,
        format: CoverageFormat,
        tile: TileKey,
    ) -> CacheKey {
        let coverage = &snapshot.coverage;
        let variant = format!(
            "coverage/{}/{}.{}",
            coverage.id_name(id),
            coverage.profile(profile).id,
            format.extension()
        );
        CacheKey {
            version: snapshot.version,
            variant: variant.into(),
            tile,
        }
    }

    /// Fetches a coverage tile from the cache, rendering it on a miss. Blocking: call from a
    /// blocking thread.
    pub fn coverage_tile(
        &self,
        snapshot: &Snapshot,
        id: CoverageId,
        profile: ProfileId,
        format: CoverageFormat,
        tile: TileKey,
    ) -> Result<Arc<CachedTile>, Arc<coverage::Error>> {
        let key = Self::coverage_tile_key(snapshot, id, profile, format, tile);
        self.cache.get_or_render(key, || {
            let coverage = &snapshot.coverage;
            Ok(match format {
                CoverageFormat::Png => CachedTile::new(
                    coverage::raster::render_png(coverage, id, profile, tile)?,
                    false,
                ),
                CoverageFormat::Mvt => CachedTile::new(
                    coverage::bands::render_mvt(
                        coverage,
                        id,
                        profile,
                        tile,
                        self.tile_params.extent,
                        self.tile_params.buffer,
                    )?,
                    true,
                ),
            })
        })
    }

    /// Renders the configured zoom range of the current snapshot into the cache, on the rayon
    /// pool. Blocking; run it on its own thread. Requests are served meanwhile (a tile not yet
    /// precomputed is rendered on demand).
    pub fn precompute(&self) {
        let started = std::time::Instant::now();
        let snapshot = self.snapshot.load_full();
        let (minzoom, maxzoom) = (
            self.config.cache.precompute_minzoom,
            self.config.cache.precompute_maxzoom,
        );
        let keys = tiles_covering(snapshot.dataset.bounds, minzoom, maxzoom);
        let coverage = &snapshot.coverage;
        let coverage_keys = if coverage.grid.n_cells() > 0 {
            let coverage_maxzoom = self.config.coverage.precompute_maxzoom;
            tiles_covering(coverage.shown_bounds(), minzoom, coverage_maxzoom)
        } else {
            Vec::new()
        };
        self.precompute.finished.store(false, Ordering::SeqCst);
        self.precompute.done.store(0, Ordering::SeqCst);
        self.precompute
            .total
            .store(keys.len() + coverage_keys.len(), Ordering::SeqCst);
        keys.par_iter().for_each(|&tile| {
            for set in [
                VectorTileSet::Facilities {
                    filter: CategoryFilter::all(),
                    datum: Datum::Wgs84,
                },
                VectorTileSet::Basemap,
            ] {
                if let Err(e) = self.vector_tile(&snapshot, tile, &set) {
                    tracing::error!(%tile, error = %e, "precompute failed for tile");
                }
            }
            self.precompute.done.fetch_add(1, Ordering::Relaxed);
        });
        // Coverage tiles of the default profile, every id, both formats.
        let coverage_ids = coverage.ids();
        let profile = coverage.params.default_profile;
        coverage_keys.par_iter().for_each(|&tile| {
            for (_, id) in &coverage_ids {
                for format in [CoverageFormat::Png, CoverageFormat::Mvt] {
                    if let Err(e) = self.coverage_tile(&snapshot, *id, profile, format, tile) {
                        tracing::error!(%tile, error = %e, "coverage precompute failed for tile");
                    }
                }
            }
            self.precompute.done.fetch_add(1, Ordering::Relaxed);
        });
        let elapsed_ms = started.elapsed().as_millis() as u64;
        self.precompute
            .elapsed_ms
            .store(elapsed_ms, Ordering::SeqCst);
        self.precompute.finished.store(true, Ordering::SeqCst);
        tracing::info!(
            n_tiles = keys.len(),
            n_coverage_tiles = coverage_keys.len() * coverage_ids.len() * 2,
            elapsed_ms,
            version = snapshot.version,
            "precompute finished"
        );
    }

    /// Rebuilds the snapshot from the configured files and swaps it in. On failure (unreadable
    /// files, or data failing the `[data]` guards against the serving data, unless `force`) the
    /// current snapshot stays in service and the error is returned. Returns the new version.
    pub async fn reload(self: &Arc<Self>, force: bool) -> Result<u64, snapshot::Error> {
        let _guard = self.reload_lock.lock().await;
        let version = self.next_version.fetch_add(1, Ordering::SeqCst);
        let config = self.config.clone();
        let options = snapshot::BuildOptions {
            force,
            previous_facilities: Some(self.snapshot.load().dataset.facilities().len()),
        };
        let built =
            tokio::task::spawn_blocking(move || snapshot::build_with(&config, version, options))
                .await
                .expect("snapshot build does not panic")?;
        self.snapshot.store(Arc::new(built));
        let state = self.clone();
        std::thread::spawn(move || state.precompute());
        Ok(version)
    }
}

/// Every tile from `minzoom` to `maxzoom` that intersects `bounds` (`[west, south, east, north]`).
pub fn tiles_covering(bounds: [f64; 4], minzoom: u8, maxzoom: u8) -> Vec<TileKey> {
    let [west, south, east, north] = bounds;
    let top_left = geom::lonlat_to_merc(west, north);
    let bottom_right = geom::lonlat_to_merc(east, south);
    let mut keys = Vec::new();
    for z in minzoom..=maxzoom {
        let a = TileKey::containing(top_left, z);
        let b = TileKey::containing(bottom_right, z);
        for y in a.y..=b.y {
            for x in a.x..=b.x {
                keys.push(TileKey { z, x, y });
            }
        }
    }
    keys
}
