//! Service load (2SFCA) benchmarks: every category of the bundled sample, and a generated
//! district of 100,000 residential places and 20,000 facilities on a 10 km square of streets
//! every 100 m, in network and straight-line mode.
//!
//! cargo bench --bench service_load

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use lifecircle::attributes::Scenario;
use lifecircle::config::{CapacitySource, Config, CoverageMode, Decay};
use lifecircle::coverage::{Coverage, CoverageParams};
use lifecircle::dataset::Dataset;
use lifecircle::service_load::{self, Params};

#[path = "support/district.rs"]
mod support;
use support::district;

/// The 2SFCA of every category (but the fallback), as the server computes them.
fn all_categories(dataset: &Dataset, coverage: &Coverage) -> usize {
    let never = AtomicBool::new(false);
    let fallback = dataset.taxonomy.fallback();
    let mut n = 0;
    for (id, _) in dataset.taxonomy.categories() {
        if id == fallback {
            continue;
        }
        let params = Params {
            decay: Decay::Gaussian,
            capacity: CapacitySource::FloorArea,
            threshold_m: coverage.threshold_m(id, coverage.params.default_profile),
        };
        let load = service_load::compute(dataset, coverage, id, Scenario::Existing, params, &never)
            .expect("computes");
        n += load.facilities.len();
    }
    n
}

fn bench_case(c: &mut Criterion, label: &str, dataset: &Dataset, config: &Config) {
    let mut group = c.benchmark_group(format!("service_load/{label}"));
    group.sample_size(10);
    for mode in [CoverageMode::Network, CoverageMode::Euclidean] {
        let mut params = CoverageParams::from(&config.coverage);
        params.mode = mode;
        params.cell_m = params.cell_m.max(100.0);
        let coverage = Coverage::build(dataset, &params).expect("coverage builds");
        let started = Instant::now();
        let n = all_categories(dataset, &coverage);
        eprintln!(
            "{label} {mode:?}: {} residential places, {n} facilities over {} categories: 2SFCA of all in {:.2} s (one run)",
            dataset.residents.len(),
            dataset.taxonomy.len() - 1,
            started.elapsed().as_secs_f64()
        );
        group.bench_function(format!("all_categories_{mode:?}").to_lowercase(), |b| {
            b.iter(|| all_categories(dataset, &coverage))
        });
    }
    group.finish();
}

fn service_load_bench(c: &mut Criterion) {
    let config = Config::embedded().unwrap();
    let mut loading = config.clone();
    loading.coverage.mode = CoverageMode::Euclidean;
    loading.coverage.cell_m = 500.0;
    let sample = lifecircle::snapshot::build(&loading, 1)
        .expect("sample loads")
        .dataset;
    bench_case(c, "sample", &sample, &config);
    let district = district(sample.taxonomy.clone());
    bench_case(c, "district_100k_places_20k_facilities", &district, &config);
}

criterion_group!(benches, service_load_bench);
criterion_main!(benches);
