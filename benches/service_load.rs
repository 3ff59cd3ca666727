//! Service load (2SFCA) benchmarks: every category of the bundled sample, and a generated
//! district of 100,000 residential places and 20,000 facilities on a 10 km square of streets
//! every 100 m, in network and straight-line mode.
//!
//! cargo bench --bench service_load

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use lifecircle::attributes::Scenario;
use lifecircle::config::{CapacitySource, Config, CoverageMode, Decay};
use lifecircle::coverage::{Coverage, CoverageParams};
use lifecircle::dataset::{Area, Dataset, Facility, Residential, Road};
use lifecircle::geom;
use lifecircle::service_load::{self, Params};
use lifecircle::taxonomy::CategoryId;
use rand::{Rng, SeedableRng};

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

/// 100,000 residential places and 20,000 facilities (spread over the categories) at random on a
/// 10 km square with streets every 100 m, four subdistricts.
fn district(taxonomy: Arc<lifecircle::taxonomy::Taxonomy>) -> Dataset {
    const ORIGIN: (f64, f64) = (121.40, 31.20);
    const SIDE_M: f64 = 10_000.0;
    const SPACING_M: f64 = 100.0;
    let (m_lon, m_lat) = geom::metres_per_degree(ORIGIN.1);
    let at = |x: f64, y: f64| (ORIGIN.0 + x / m_lon, ORIGIN.1 + y / m_lat);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let n_lines = (SIDE_M / SPACING_M) as usize + 1;
    let mut roads = Vec::new();
    for i in 0..n_lines {
        let c = i as f64 * SPACING_M;
        for j in 0..n_lines - 1 {
            let (s0, s1) = (j as f64 * SPACING_M, (j + 1) as f64 * SPACING_M);
            for coords in [vec![at(s0, c), at(s1, c)], vec![at(c, s0), at(c, s1)]] {
                roads.push(Road {
                    highway: "residential".into(),
                    name: None,
                    coords,
                });
            }
        }
    }
    let categories: Vec<CategoryId> = taxonomy
        .categories()
        .map(|(id, _)| id)
        .filter(|&id| id != taxonomy.fallback())
        .collect();
    let facilities: Vec<Facility> = (0..20_000u64)
        .map(|i| {
            let (lon, lat) = at(rng.random_range(0.0..SIDE_M), rng.random_range(0.0..SIDE_M));
            Facility {
                id: i + 1,
                source_id: (i + 1).to_string().into(),
                name: format!("设施{i}").into(),
                name_en: None,
                category: categories[i as usize % categories.len()],
                address: None,
                subdistrict: None,
                lon,
                lat,
                merc: geom::lonlat_to_merc(lon, lat),
            }
        })
        .collect();
    let residents: Vec<Residential> = (0..100_000)
        .map(|i| {
            let (lon, lat) = at(rng.random_range(0.0..SIDE_M), rng.random_range(0.0..SIDE_M));
            Residential {
                name: Some(format!("小区{i}")),
                population: rng.random_range(50..3000),
                subdistrict: None,
                lon,
                lat,
            }
        })
        .collect();
    let half = SIDE_M / 2.0;
    let areas: Vec<Area> = [(0.0, 0.0), (half, 0.0), (0.0, half), (half, half)]
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let ring: Vec<(f64, f64)> = [
                (x, y),
                (x + half, y),
                (x + half, y + half),
                (x, y + half),
                (x, y),
            ]
            .iter()
            .map(|&(px, py)| at(px, py))
            .collect();
            Area {
                name: format!("街道{i}"),
                name_en: None,
                polygon: geo::MultiPolygon(vec![geo::Polygon::new(ring.into(), vec![])]),
            }
        })
        .collect();
    Dataset::new(taxonomy, facilities, roads, areas, residents)
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
