//! Shared server state: the current [`Snapshot`] (swapped atomically on reload), the tile cache,
//! the feedback store (which outlives reloads), the configuration and the background
//! precompute's progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use rayon::prelude::*;

use crate::analysis_cache::{Analyses, RenderLimit};
use crate::attributes::{Scenario, StatusSet};
use crate::cache::{CacheKey, CachedTile, TileCache};
use crate::config::Config;
use crate::coverage::{self, CoverageId, ProfileId};
use crate::feedback;
use crate::geom::{self, TileKey};
use crate::http::server::ConnectionStats;
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
        /// The statuses shown (default: existing only).
        statuses: StatusSet,
    },
    Basemap,
}

impl VectorTileSet {
    /// The query string that selects this variant (`?categories=a,b&crs=gcj02`; empty for the
    /// default), as written in tile URLs and cache keys.
    pub fn query_string(&self, snapshot: &Snapshot) -> String {
        let mut params = Vec::new();
        if let VectorTileSet::Facilities {
            filter,
            datum,
            statuses,
        } = self
        {
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
            let statuses = snapshot.effective_statuses(*statuses);
            if statuses != StatusSet::EXISTING {
                params.push(format!("status={}", statuses.list()));
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

    /// Renders one tile of this set as the server sends it (raw bytes, gzip, ETag), refusing a
    /// tile over the `tiles.max_tile_bytes` budget. Pure: `lifecircle export` writes archives
    /// from it, so archived and served tiles are the same bytes.
    pub fn render(
        &self,
        snapshot: &Snapshot,
        tile: TileKey,
        params: &TileParams,
    ) -> Result<CachedTile, TileError> {
        let bytes = match self {
            VectorTileSet::Facilities {
                filter,
                datum,
                statuses,
            } => {
                let points = snapshot.facility_points_with(*datum, *statuses);
                tiles::render(&snapshot.dataset, points, tile, filter, params)?.bytes
            }
            VectorTileSet::Basemap => snapshot.basemap.render(tile, params)?,
        };
        check_budget(
            bytes.len(),
            params,
            || format!("{}{}", self.source_id(), self.query_string(snapshot)),
            tile,
        )?;
        Ok(CachedTile::new(bytes, true))
    }

    /// The cache key of one tile of this set in `snapshot`.
    pub fn cache_key(&self, snapshot: &Snapshot, tile: TileKey) -> CacheKey {
        let query = self.query_string(snapshot);
        // The default variants are shared, so a request for one allocates no key text.
        static DEFAULT_VARIANTS: std::sync::LazyLock<[Arc<str>; 2]> =
            std::sync::LazyLock::new(|| [Arc::from(FACILITIES_SOURCE), Arc::from(BASEMAP_SOURCE)]);
        let variant = match (self, query.is_empty()) {
            (VectorTileSet::Facilities { .. }, true) => DEFAULT_VARIANTS[0].clone(),
            (VectorTileSet::Basemap, true) => DEFAULT_VARIANTS[1].clone(),
            _ => format!("{}{query}", self.source_id()).into(),
        };
        CacheKey {
            version: snapshot.version,
            variant,
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

/// Why a tile could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    #[error(transparent)]
    Encode(#[from] tiles::EncodeError),
    #[error(transparent)]
    Coverage(#[from] coverage::Error),
    /// A tile still over the size budget at its sparsest: never written or served.
    #[error(
        "tile {tile} of `{set}` is {bytes} bytes, over the budget of {limit} bytes \
         (tiles.max_tile_bytes) even at its sparsest; simplify or thin that data, or raise the budget"
    )]
    OverBudget {
        set: String,
        tile: TileKey,
        bytes: usize,
        limit: usize,
    },
}

/// Refuses a tile of `bytes` (uncompressed) over `params.max_tile_bytes`; `set` names its tile
/// set for the message.
fn check_budget(
    bytes: usize,
    params: &TileParams,
    set: impl FnOnce() -> String,
    tile: TileKey,
) -> Result<(), TileError> {
    if bytes > params.max_tile_bytes {
        return Err(TileError::OverBudget {
            set: set(),
            tile,
            bytes,
            limit: params.max_tile_bytes,
        });
    }
    Ok(())
}

/// Renders one coverage tile of `snapshot` as the server sends it (a PNG heatmap is never
/// gzipped; band tiles are), refusing a tile over the budget. Pure, like
/// [`VectorTileSet::render`].
pub fn render_coverage_tile(
    snapshot: &Snapshot,
    scenario: Scenario,
    id: CoverageId,
    profile: ProfileId,
    format: CoverageFormat,
    tile: TileKey,
    params: &TileParams,
) -> Result<CachedTile, TileError> {
    let coverage = &*snapshot.scenario_coverage(scenario)?;
    let bytes = match format {
        CoverageFormat::Png => coverage::raster::render_png(coverage, id, profile, tile)?,
        CoverageFormat::Mvt => {
            coverage::bands::render_mvt(coverage, id, profile, tile, params.extent, params.buffer)?
        }
    };
    check_budget(
        bytes.len(),
        params,
        || {
            format!(
                "coverage/{}/{}.{}",
                coverage.id_name(id),
                coverage.profile(profile).id,
                format.extension()
            )
        },
        tile,
    )?;
    Ok(CachedTile::new(bytes, format == CoverageFormat::Mvt))
}

pub struct AppState {
    pub config: Arc<Config>,
    pub snapshot: ArcSwap<Snapshot>,
    pub cache: TileCache,
    pub tile_params: TileParams,
    pub precompute: Arc<Progress>,
    /// Residents' reports; the same store across snapshot reloads.
    pub feedback: feedback::Store,
    /// Tile sources served from archives (`[tiles.archives]`) instead of rendered.
    pub archives: crate::archive::Archives,
    /// Cached statistics, gaps and suggestions, and the limit on computing them.
    pub analyses: Analyses,
    /// The limit on tile renders for requests (cache misses).
    pub renders: RenderLimit,
    /// Requests being answered; background precompute pauses while there are any.
    pub requests_in_flight: Arc<AtomicUsize>,
    /// Connection counts of the server, for `/metrics`.
    pub connections: Arc<ConnectionStats>,
    /// The last reload's outcome, for `/ready`.
    pub last_reload: std::sync::Mutex<Option<ReloadOutcome>>,
    /// Serialises reloads.
    reload_lock: tokio::sync::Mutex<()>,
}

/// What the last `POST /admin/reload` did.
#[derive(Debug, Clone)]
pub struct ReloadOutcome {
    pub at: std::time::SystemTime,
    /// The new data version, or why the data was not reloaded.
    pub result: Result<u64, String>,
    pub elapsed_ms: u64,
}

/// Where the background precompute is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrecomputeState {
    /// Not started (yet).
    Idle,
    Running,
    Finished,
    /// Stopped by a newer reload or by shutdown.
    Cancelled,
}

impl PrecomputeState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrecomputeState::Idle => "idle",
            PrecomputeState::Running => "running",
            PrecomputeState::Finished => "finished",
            PrecomputeState::Cancelled => "cancelled",
        }
    }
}

/// Progress of the background precompute, for `/health`, `/ready` and `/metrics`.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: AtomicUsize,
    pub done: AtomicUsize,
    pub finished: AtomicBool,
    pub elapsed_ms: AtomicU64,
    /// The data version being (or last) precomputed.
    pub version: AtomicU64,
    /// [`PrecomputeState`] as a number (see [`Progress::state`]).
    state: std::sync::atomic::AtomicU8,
    /// The running precompute's stop flag; a newer run or shutdown sets it.
    cancel: std::sync::Mutex<Arc<AtomicBool>>,
}

impl Progress {
    pub fn state(&self) -> PrecomputeState {
        match self.state.load(Ordering::SeqCst) {
            1 => PrecomputeState::Running,
            2 => PrecomputeState::Finished,
            3 => PrecomputeState::Cancelled,
            _ => PrecomputeState::Idle,
        }
    }

    fn set_state(&self, state: PrecomputeState) {
        let n = match state {
            PrecomputeState::Idle => 0,
            PrecomputeState::Running => 1,
            PrecomputeState::Finished => 2,
            PrecomputeState::Cancelled => 3,
        };
        self.state.store(n, Ordering::SeqCst);
    }

    /// Stops the running precompute (if any) and gives the flag of a new run.
    fn start_run(&self) -> Arc<AtomicBool> {
        let fresh = Arc::new(AtomicBool::new(false));
        let mut current = self
            .cancel
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        current.store(true, Ordering::SeqCst);
        *current = fresh.clone();
        fresh
    }

    /// Stops the running precompute, if any.
    pub fn cancel(&self) {
        self.cancel
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .store(true, Ordering::SeqCst);
    }
}

/// Why the server state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Snapshot(#[from] snapshot::Error),
    #[error(transparent)]
    Feedback(#[from] feedback::Error),
    #[error(transparent)]
    Archive(#[from] crate::archive::Error),
}

impl AppState {
    /// Opens the feedback store and builds the first snapshot (blocking), and the state around
    /// them.
    pub fn load(config: Config) -> Result<Arc<AppState>, Error> {
        Self::load_with(config, false)
    }

    /// [`AppState::load`]; `force` accepts data that fails the `[data]` guards.
    pub fn load_with(config: Config, force: bool) -> Result<Arc<AppState>, Error> {
        let feedback = feedback::Store::from_config(&config.feedback, |path| config.resolve(path))?;
        let snapshot = snapshot::build_with(
            &config,
            1,
            snapshot::BuildOptions {
                force,
                previous_facilities: None,
            },
        )?;
        let archives = crate::archive::Archives::open(&config)?;
        let server = &config.server;
        Ok(Arc::new(AppState {
            feedback,
            archives,
            tile_params: config.tiles.clone(),
            cache: TileCache::new(config.cache.max_bytes),
            analyses: Analyses::new(
                config.cache.analysis_max_bytes,
                server.max_concurrent_analyses,
            ),
            renders: RenderLimit::new(server.max_concurrent_renders, server.max_queued_renders),
            requests_in_flight: Arc::default(),
            connections: Arc::default(),
            last_reload: std::sync::Mutex::new(None),
            config: Arc::new(config),
            snapshot: ArcSwap::from_pointee(snapshot),
            precompute: Arc::default(),
            reload_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// Fetches a vector tile from the cache, rendering it on a miss. Blocking: call from a
    /// blocking thread.
    pub fn vector_tile(
        &self,
        snapshot: &Snapshot,
        tile: TileKey,
        set: &VectorTileSet,
    ) -> Result<Arc<CachedTile>, Arc<TileError>> {
        self.cache.get_or_render(set.cache_key(snapshot, tile), || {
            set.render(snapshot, tile, &self.tile_params)
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
        Self::scenario_tile_key(snapshot, Scenario::Existing, id, profile, format, tile)
    }

    /// The cache key of a coverage tile of `scenario`: `coverage/{id}/{profile}.{png|mvt}`,
    /// with `?scenario=` for any but `existing`.
    pub fn scenario_tile_key(
        snapshot: &Snapshot,
        scenario: Scenario,
        id: CoverageId,
        profile: ProfileId,
        format: CoverageFormat,
        tile: TileKey,
    ) -> CacheKey {
        let coverage = &snapshot.coverage;
        let mut variant = format!(
            "coverage/{}/{}.{}",
            coverage.id_name(id),
            coverage.profile(profile).id,
            format.extension()
        );
        if scenario != Scenario::Existing {
            variant.push_str(&format!("?scenario={}", scenario.as_str()));
        }
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
    ) -> Result<Arc<CachedTile>, Arc<TileError>> {
        self.scenario_tile(snapshot, Scenario::Existing, id, profile, format, tile)
    }

    /// [`AppState::coverage_tile`] of `scenario` (its coverage built on first use).
    pub fn scenario_tile(
        &self,
        snapshot: &Snapshot,
        scenario: Scenario,
        id: CoverageId,
        profile: ProfileId,
        format: CoverageFormat,
        tile: TileKey,
    ) -> Result<Arc<CachedTile>, Arc<TileError>> {
        let key = Self::scenario_tile_key(snapshot, scenario, id, profile, format, tile);
        self.cache.get_or_render(key, || {
            render_coverage_tile(
                snapshot,
                scenario,
                id,
                profile,
                format,
                tile,
                &self.tile_params,
            )
        })
    }

    /// Renders the configured zoom range of the current snapshot into the cache. Blocking; run
    /// it on its own thread. It runs on `cache.precompute_threads` threads at low priority and
    /// pauses while requests are being answered (a tile not yet precomputed is rendered on
    /// demand). Starting it stops a precompute still running for older data; [`Progress::cancel`]
    /// (reload, shutdown) stops it between two tiles.
    pub fn precompute(&self) {
        let cancel = self.precompute.start_run();
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
        let progress = &self.precompute;
        progress.finished.store(false, Ordering::SeqCst);
        progress.done.store(0, Ordering::SeqCst);
        progress.elapsed_ms.store(0, Ordering::SeqCst);
        progress.version.store(snapshot.version, Ordering::SeqCst);
        progress
            .total
            .store(keys.len() + coverage_keys.len(), Ordering::SeqCst);
        progress.set_state(PrecomputeState::Running);
        let pool = match rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.cache.precompute_threads)
            .thread_name(|i| format!("precompute-{i}"))
            .start_handler(|_| lower_thread_priority())
            .build()
        {
            Ok(pool) => pool,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the precompute threads; tiles render on demand");
                progress.set_state(PrecomputeState::Cancelled);
                return;
            }
        };
        // Waits while requests are answered; false once the run is cancelled.
        let may_go_on = || loop {
            if cancel.load(Ordering::Relaxed) {
                return false;
            }
            if self.requests_in_flight.load(Ordering::Relaxed) == 0 {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        let tile_done = || {
            if !cancel.load(Ordering::Relaxed) {
                progress.done.fetch_add(1, Ordering::Relaxed);
            }
        };
        let coverage_ids = coverage.ids();
        let profile = coverage.params.default_profile;
        pool.install(|| {
            keys.par_iter().for_each(|&tile| {
                for set in [
                    VectorTileSet::Facilities {
                        filter: CategoryFilter::all(),
                        datum: Datum::Wgs84,
                        statuses: StatusSet::EXISTING,
                    },
                    VectorTileSet::Basemap,
                ] {
                    if !may_go_on() {
                        return;
                    }
                    if let Err(e) = self.vector_tile(&snapshot, tile, &set) {
                        tracing::error!(%tile, error = %e, "precompute failed for tile");
                    }
                }
                tile_done();
            });
            // Coverage tiles of the default profile, every id, both formats.
            coverage_keys.par_iter().for_each(|&tile| {
                for (_, id) in &coverage_ids {
                    for format in [CoverageFormat::Png, CoverageFormat::Mvt] {
                        if !may_go_on() {
                            return;
                        }
                        if let Err(e) = self.coverage_tile(&snapshot, *id, profile, format, tile)
                        {
                            tracing::error!(%tile, error = %e, "coverage precompute failed for tile");
                        }
                    }
                }
                tile_done();
            });
        });
        if cancel.load(Ordering::Relaxed) {
            tracing::info!(
                version = snapshot.version,
                done = progress.done.load(Ordering::Relaxed),
                "precompute cancelled"
            );
            // A newer run owns the progress now; only a run stopped by shutdown reports.
            if progress.version.load(Ordering::SeqCst) == snapshot.version {
                progress.set_state(PrecomputeState::Cancelled);
            }
            return;
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        progress.elapsed_ms.store(elapsed_ms, Ordering::SeqCst);
        progress.finished.store(true, Ordering::SeqCst);
        progress.set_state(PrecomputeState::Finished);
        tracing::info!(
            n_tiles = keys.len(),
            n_coverage_tiles = coverage_keys.len() * coverage_ids.len() * 2,
            elapsed_ms,
            version = snapshot.version,
            "precompute finished"
        );
    }

    /// Starts [`AppState::precompute`] on its own thread.
    pub fn spawn_precompute(self: &Arc<Self>) -> std::io::Result<()> {
        // Announced before the thread is scheduled, so `/ready` right after a reload already
        // names the new version's run.
        let progress = &self.precompute;
        progress.finished.store(false, Ordering::SeqCst);
        progress.done.store(0, Ordering::SeqCst);
        progress
            .version
            .store(self.snapshot.load().version, Ordering::SeqCst);
        progress.set_state(PrecomputeState::Running);
        let state = self.clone();
        std::thread::Builder::new()
            .name("precompute".into())
            .spawn(move || state.precompute())
            .map(drop)
            .inspect_err(|_| self.precompute.set_state(PrecomputeState::Idle))
    }

    /// Rebuilds the snapshot from the configured files and swaps it in. On failure (unreadable
    /// files, or data failing the `[data]` guards against the serving data, unless `force`) the
    /// current snapshot stays in service and the error is returned. Returns the new version.
    pub async fn reload(self: &Arc<Self>, force: bool) -> Result<u64, snapshot::Error> {
        let _guard = self.reload_lock.lock().await;
        let started = std::time::Instant::now();
        // Only a snapshot that built takes a version number.
        let version = self.snapshot.load().version + 1;
        let config = self.config.clone();
        let options = snapshot::BuildOptions {
            force,
            previous_facilities: Some(self.snapshot.load().dataset.facilities().len()),
        };
        let built =
            tokio::task::spawn_blocking(move || snapshot::build_with(&config, version, options))
                .await
                .expect("snapshot build does not panic");
        self.record_reload(started, built.as_ref().map(|_| version));
        self.snapshot.store(Arc::new(built?));
        self.precompute.cancel();
        if let Err(e) = self.spawn_precompute() {
            tracing::error!(error = %e, "cannot start the precompute thread; tiles render on demand");
        }
        Ok(version)
    }

    fn record_reload<E: std::fmt::Display>(
        &self,
        started: std::time::Instant,
        result: Result<u64, &E>,
    ) {
        let outcome = ReloadOutcome {
            at: std::time::SystemTime::now(),
            result: result.map_err(ToString::to_string),
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        *self
            .last_reload
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outcome);
    }

    /// Stops background work for shutdown: the precompute stops between two tiles.
    pub fn shut_down(&self) {
        self.precompute.cancel();
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

/// Lowers the calling thread's scheduling priority (Linux: per-thread nice 10), so background
/// rendering gives way to the threads answering requests.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority has no memory-safety preconditions; on Linux, PRIO_PROCESS with
        // who = 0 applies to the calling thread only.
        let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
        if result != 0 {
            tracing::debug!("cannot lower the precompute threads' priority");
        }
    }
}
