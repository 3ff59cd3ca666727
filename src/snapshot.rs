//! Snapshot: config + data files → one immutable, versioned [`Snapshot`] of everything derived
//! from them (dataset, and the indexes and fields built on it).
//!
//! A snapshot is built off the async executor, validated, then swapped in atomically (see
//! `state`). Requests take one snapshot and answer from it alone, so a reload never mixes data
//! versions in one answer; a failed build leaves the old snapshot serving.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::attributes::{Scenario, StatusSet};
use crate::config::Config;
use crate::coverage::{self, Coverage, CoverageParams};
use crate::dataset::Dataset;
use crate::ingest::{self, IngestReport};
use crate::search::SearchIndex;
use crate::tiles::basemap::Basemap;
use crate::tiles::{Datum, FacilityPoints, TileParams};

/// Everything derived from one version of the data.
pub struct Snapshot {
    /// Increases by one with every successful (re)load; part of every cache key.
    pub version: u64,
    pub dataset: Arc<Dataset>,
    /// Facility positions indexed for tiles, per datum and status set (bits of
    /// [`StatusSet`]): the default (WGS84, existing only) is built with the snapshot, the others
    /// on first use; see [`Snapshot::facility_points_with`].
    facility_points: [[OnceLock<FacilityPoints>; 16]; 2],
    tile_params: TileParams,
    /// Context layers projected and indexed for basemap tiles.
    pub basemap: Arc<Basemap>,
    /// Walking-distance fields and composite scores for the coverage heatmaps and statistics.
    pub coverage: Arc<Coverage>,
    /// The coverage of the `built` and `planned` scenarios, built when first asked (see
    /// [`Snapshot::scenario_coverage`]).
    scenarios: [OnceLock<Result<Arc<Coverage>, coverage::Error>>; 2],
    /// Keyword and place search over `dataset`.
    pub search: Arc<SearchIndex>,
    pub report: IngestReport,
    pub loaded_at: SystemTime,
    /// `[[baselines]]`, loaded beside the data (see `evaluation`).
    pub baselines: Vec<crate::evaluation::Baseline>,
    /// `evaluation.moved_distance_m`.
    pub moved_distance_m: f64,
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error(transparent)]
    Ingest(#[from] ingest::Error),
    #[error(transparent)]
    Coverage(#[from] coverage::Error),
    #[error(transparent)]
    Refused(#[from] ingest::Refused),
    #[error(transparent)]
    Baseline(#[from] crate::evaluation::Error),
}

/// How a build may replace the serving data.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Skip the `[data]` guards (`--force`, `?force=true`).
    pub force: bool,
    /// The facility count of the data now served (a reload), for `data.max_facility_drop`.
    pub previous_facilities: Option<usize>,
}

/// Reads the data the config names and derives everything from it, refusing data that fails the
/// `[data]` guards (see [`ingest::check_guards`]). Blocking: call it from a blocking thread.
pub fn build(config: &Config, version: u64) -> Result<Snapshot, Error> {
    build_with(config, version, BuildOptions::default())
}

/// [`build`] with the guard options of a reload or a forced start.
pub fn build_with(config: &Config, version: u64, options: BuildOptions) -> Result<Snapshot, Error> {
    let started = std::time::Instant::now();
    let taxonomy = Arc::new(config.taxonomy()?);
    let (layers, report) = ingest::read_all(config, &taxonomy)?;
    log_stage("ingest", started);
    let guard = ingest::check_guards(
        config,
        &report,
        layers.facilities.len(),
        options.previous_facilities,
    );
    match guard {
        Err(refused) if !options.force => return Err(refused.into()),
        Err(refused) => tracing::warn!(%refused, "data accepted because forced"),
        Ok(()) => {}
    }
    let dataset = layers.into_dataset(taxonomy);
    let dataset = Arc::new(dataset);
    log_stage("dataset", started);
    let baselines = crate::evaluation::load(config, &dataset.taxonomy)?;
    let tile_params = config.tiles.clone();
    // The stages read the dataset only and none needs another's result: build them side by side
    // (coverage spreads over every core by itself; the search index and tile index take one).
    let coverage_params = CoverageParams::from(&config.coverage);
    let ((basemap, points), (coverage, search)) = rayon::join(
        || {
            rayon::join(
                || timed("basemap", || Basemap::new(&dataset, &config.basemap.roads)),
                || {
                    timed("tile index", || {
                        FacilityPoints::new(
                            &dataset,
                            Datum::Wgs84,
                            &tile_params,
                            StatusSet::EXISTING,
                        )
                    })
                },
            )
        },
        || {
            rayon::join(
                || Coverage::build(&dataset, &coverage_params),
                || {
                    let started = std::time::Instant::now();
                    (SearchIndex::build(&dataset), started.elapsed())
                },
            )
        },
    );
    let basemap = Arc::new(basemap);
    let facility_points: [[OnceLock<FacilityPoints>; 16]; 2] = Default::default();
    let _ = facility_points[0][StatusSet::EXISTING.bits() as usize].set(points);
    let coverage = Arc::new(coverage?);
    tracing::info!(
        mode = coverage.mode.as_str(),
        n_cells = coverage.grid.n_cells(),
        n_edges = coverage.info.n_edges,
        heap_mb = coverage.info.heap_bytes as f64 / 1e6,
        elapsed_ms = coverage.info.elapsed_ms,
        "coverage built"
    );
    let (search, search_elapsed) = search;
    let search = Arc::new(search);
    let search_stats = search.stats();
    tracing::info!(
        n_tokens = search_stats.n_tokens,
        memory_bytes = search_stats.memory_bytes,
        elapsed_ms = search_elapsed.as_millis() as u64,
        "search index built"
    );
    tracing::info!(
        version,
        n_facilities = dataset.facilities().len(),
        n_roads = dataset.roads.len(),
        n_areas = dataset.areas.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "snapshot built"
    );
    log_stage("built", started);
    Ok(Snapshot {
        version,
        dataset,
        facility_points,
        tile_params,
        basemap,
        coverage,
        scenarios: Default::default(),
        search,
        report,
        loaded_at: SystemTime::now(),
        baselines,
        moved_distance_m: config.evaluation.moved_distance_m,
    })
}

/// Runs one stage of the build and logs how long it took.
fn timed<T>(stage: &'static str, build: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let built = build();
    tracing::info!(
        stage,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "snapshot stage"
    );
    built
}

/// Logs the time since the build `started` and the process's resident memory (now and its
/// peak) once a stage is done: where a city-scale start spends its time and memory.
fn log_stage(stage: &'static str, started: std::time::Instant) {
    let (rss_mb, hwm_mb) = resident_memory_mb().unwrap_or((0, 0));
    tracing::info!(
        stage,
        since_start_ms = started.elapsed().as_millis() as u64,
        rss_mb,
        hwm_mb,
        "snapshot stage done"
    );
}

/// `(VmRSS, VmHWM)` of this process in MB, where the system tells (Linux).
pub fn resident_memory_mb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let value = status.lines().find_map(|l| l.strip_prefix(name))?;
        let kb: u64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb / 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

impl Snapshot {
    /// Positions of the existing facilities in `datum`, indexed for tiles: what residents
    /// see by default. Blocking on first use of a datum: call from a blocking thread.
    pub fn facility_points(&self, datum: Datum) -> &FacilityPoints {
        self.facility_points_with(datum, StatusSet::EXISTING)
    }

    /// Positions of the facilities whose status is in `statuses`, in `datum`, with their own
    /// cluster pyramid (so cluster counts count only those). Built on first use (blocking); a
    /// set that adds nothing the data holds shares the default's.
    pub fn facility_points_with(&self, datum: Datum, statuses: StatusSet) -> &FacilityPoints {
        let statuses = self.effective_statuses(statuses);
        let slot = match datum {
            Datum::Wgs84 => 0,
            Datum::Gcj02 => 1,
        };
        self.facility_points[slot][statuses.bits() as usize]
            .get_or_init(|| FacilityPoints::new(&self.dataset, datum, &self.tile_params, statuses))
    }

    /// The coverage of `scenario`: the snapshot's own for `existing`, and for a scenario that
    /// adds no facility the data holds; otherwise built on first use (blocking, seconds at city
    /// scale: call from a blocking thread) and kept for the life of the snapshot, one field set
    /// per scenario in use.
    pub fn scenario_coverage(&self, scenario: Scenario) -> Result<Arc<Coverage>, coverage::Error> {
        let slot = match scenario {
            Scenario::Existing => return Ok(self.coverage.clone()),
            _ if !self.dataset.has_other_than_existing(scenario.statuses()) => {
                return Ok(self.coverage.clone());
            }
            Scenario::Built => 0,
            Scenario::Planned => 1,
        };
        self.scenarios[slot]
            .get_or_init(|| {
                let built =
                    Coverage::build_for(&self.dataset, &self.coverage.params, scenario.statuses())?;
                tracing::info!(
                    scenario = scenario.as_str(),
                    heap_mb = built.info.heap_bytes as f64 / 1e6,
                    elapsed_ms = built.info.elapsed_ms,
                    "scenario coverage built"
                );
                Ok(Arc::new(built))
            })
            .clone()
    }

    /// `statuses`, or the default when the data holds no facility of the statuses it adds.
    pub fn effective_statuses(&self, statuses: StatusSet) -> StatusSet {
        if statuses.contains(crate::attributes::Status::Existing)
            && !self.dataset.has_other_than_existing(statuses)
        {
            StatusSet::EXISTING
        } else {
            statuses
        }
    }
}
