//! Snapshot profile: takes a config file; builds the snapshot's stages one after another (ingest,
//! dataset, basemap, tile index and cluster pyramid, coverage, search index) and prints, after
//! each, its wall time, its CPU time (user + system, every thread) and the process's resident
//! memory (`VmRSS`, and the peak `VmHWM`, from `/proc/self/status`), so the memory each stage's
//! structures hold is the step in `VmRSS`.
//!
//! ```sh
//! cargo run --release --example snapshot_profile -- city.toml
//! ```
//!
//! The server builds the stages side by side (`snapshot::build`); run in turn here, each figure
//! belongs to one stage. The allocator returns freed memory at once (`tune_allocator`), so a
//! temporary of a stage shows in the peak, not in the resident memory after it.

use std::sync::Arc;
use std::time::Instant;

use lifecircle::attributes::StatusSet;
use lifecircle::config::Config;
use lifecircle::coverage::{Coverage, CoverageParams};
use lifecircle::search::SearchIndex;
use lifecircle::tiles::basemap::Basemap;
use lifecircle::tiles::{Datum, FacilityPoints};

/// CPU seconds (user + system) the process has used so far, on every thread.
fn cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// `(VmRSS, VmHWM)` in MB.
fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    lifecircle::tune_allocator();
    let path = std::env::args()
        .nth(1)
        .expect("usage: snapshot_profile CONFIG.toml");
    let config = Config::load(Some(std::path::Path::new(&path))).expect("a valid config");
    let mut last_rss = memory_mb().0;
    let mut last_cpu = cpu_s();
    let mut stage = |name: &str, started: Instant| {
        let (rss, hwm) = memory_mb();
        let cpu = cpu_s();
        println!(
            "{name:<22} {:>6.2} s wall {:>6.2} s CPU   VmRSS {rss:>6.0} MB ({:>+5.0})   VmHWM {hwm:>6.0} MB",
            started.elapsed().as_secs_f64(),
            cpu - last_cpu,
            rss - last_rss
        );
        last_rss = rss;
        last_cpu = cpu;
    };
    let all = Instant::now();
    let t = Instant::now();
    let taxonomy = Arc::new(config.taxonomy().expect("taxonomy"));
    let (layers, _report) = lifecircle::ingest::read_all(&config, &taxonomy).expect("ingest");
    stage("ingest (layers)", t);
    let t = Instant::now();
    let dataset = layers.into_dataset(taxonomy);
    stage("dataset", t);
    let dataset = Arc::new(dataset);
    let t = Instant::now();
    let basemap = Basemap::new(&dataset, &config.basemap.roads);
    stage("basemap", t);
    let t = Instant::now();
    let points = FacilityPoints::new(&dataset, Datum::Wgs84, &config.tiles, StatusSet::EXISTING);
    stage("tile index + pyramid", t);
    let t = Instant::now();
    let coverage =
        Coverage::build(&dataset, &CoverageParams::from(&config.coverage)).expect("coverage");
    stage("coverage", t);
    let t = Instant::now();
    let search = SearchIndex::build(&dataset);
    stage("search index", t);
    println!(
        "total {:.2} s wall, {:.2} s CPU; {} facilities, {} roads; coverage heap {:.0} MB, search {:.0} MB",
        all.elapsed().as_secs_f64(),
        cpu_s(),
        dataset.facilities().len(),
        dataset.roads.len(),
        coverage.info.heap_bytes as f64 / 1e6,
        search.stats().memory_bytes as f64 / 1e6,
    );
    drop((basemap, points, coverage, search));
}
