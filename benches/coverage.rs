//! Coverage benchmarks: building the walking-distance fields (every category, both modes), and
//! rendering heatmap tiles, band tiles, statistics and place reports from them; for the bundled
//! sample and (when generated) the city-scale set in `data/city`.
//!
//! cargo bench --bench coverage (LIFECIRCLE_LOG=lifecircle::coverage=debug for build phases)
//! City set: cargo run --release -p lifecircle-generate -- --preset shanghai --facilities 1000000 --out data/city

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use lifecircle::config::{Config, CoverageMode};
use lifecircle::coverage::{Coverage, CoverageId, CoverageParams, ProfileId, bands, raster, stats};
use lifecircle::dataset::Dataset;
use lifecircle::geom::{self, TileKey};

fn load(config: &Config) -> Arc<Dataset> {
    // Coverage off while loading: it is what is measured here.
    let mut config = config.clone();
    config.coverage.mode = CoverageMode::Euclidean;
    config.coverage.cell_m = 500.0;
    lifecircle::snapshot::build(&config, 1)
        .expect("data loads")
        .dataset
}

/// Peak resident memory of this process so far, MB (Linux).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn bench_dataset(c: &mut Criterion, label: &str, config: &Config, sample_size: usize) {
    let dataset = load(config);
    let mut group = c.benchmark_group(format!("coverage/{label}"));
    group.sample_size(sample_size);
    let mut built = None;
    for mode in [CoverageMode::Network, CoverageMode::Euclidean] {
        let mut params = CoverageParams::from(&config.coverage);
        params.mode = mode;
        let started = Instant::now();
        let coverage = Coverage::build(&dataset, &params).expect("coverage builds");
        eprintln!(
            "{label} {mode:?}: {} categories × {} cells ({} × {}), {} graph edges: built in {:.2} s, fields hold {:.1} MB, peak RSS {:.0} MB",
            dataset.taxonomy.len(),
            coverage.grid.n_cells(),
            coverage.grid.n_cols,
            coverage.grid.n_rows,
            coverage.info.n_edges,
            started.elapsed().as_secs_f64(),
            coverage.info.heap_bytes as f64 / 1e6,
            peak_rss_mb(),
        );
        group.bench_function(format!("build_{mode:?}").to_lowercase(), |b| {
            b.iter(|| Coverage::build(&dataset, &params).unwrap())
        });
        if mode == CoverageMode::Network {
            built = Some(coverage);
        }
    }
    let coverage = built.expect("network coverage built");
    let [lon, lat] = dataset.center();
    let tile = TileKey::containing(geom::lonlat_to_merc(lon, lat), 14);
    let taxonomy = coverage.taxonomy();
    let medical = CoverageId::Category(taxonomy.by_id("medical").expect("medical exists"));
    let profile = ProfileId(0);
    for (name, id) in [("medical", medical), ("all", CoverageId::All)] {
        group.bench_function(format!("png_z14_{name}"), |b| {
            b.iter(|| raster::render_png(&coverage, id, profile, tile).unwrap())
        });
        group.bench_function(format!("mvt_z14_{name}"), |b| {
            b.iter(|| bands::render_mvt(&coverage, id, profile, tile, 4096, 64).unwrap())
        });
    }
    let low = TileKey::containing(geom::lonlat_to_merc(lon, lat), 10);
    group.bench_function("mvt_z10_medical", |b| {
        b.iter(|| bands::render_mvt(&coverage, medical, profile, low, 4096, 64).unwrap())
    });
    group.bench_function("stats", |b| {
        b.iter(|| stats::stats(&coverage, &dataset, profile))
    });
    group.bench_function("at", |b| {
        b.iter(|| stats::at(&coverage, &dataset, lon, lat, profile).unwrap())
    });
    let kindergarten = taxonomy.by_id("kindergarten").expect("kindergarten exists");
    group.bench_function("suggest_k5_kindergarten", |b| {
        b.iter(|| stats::suggest(&coverage, &dataset, kindergarten, 5, profile).unwrap())
    });
    group.finish();
}

fn coverage_bench(c: &mut Criterion) {
    // LIFECIRCLE_LOG=lifecircle::coverage=debug shows the build phases.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIFECIRCLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let sample = Config::embedded().unwrap();
    bench_dataset(c, "sample", &sample, 20);
    if Path::new("data/city/facilities.fgb").exists() {
        let city = Config::from_toml_str(
            "[data]\nfacilities = \"data/city/facilities.fgb\"\nroads = \"data/city/roads.fgb\"\nsubdistricts = \"data/city/subdistricts.fgb\"\nresidents = \"data/city/residents.fgb\"\n",
            Path::new("."),
        )
        .unwrap();
        bench_dataset(c, "city", &city, 10);
    } else {
        eprintln!("data/city not generated; skipping the city-scale benchmark");
    }
}

criterion_group!(benches, coverage_bench);
criterion_main!(benches);
