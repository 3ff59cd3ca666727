//! Map rendering benchmarks on the bundled sample (network mode, as served): the A_i classes of
//! a category over the coverage grid, A_i heatmap tiles, and small maps of the district and of
//! one subdistrict at the report's size and at the largest size served.
//!
//! cargo bench --bench maps

use std::sync::atomic::AtomicBool;

use criterion::{Criterion, criterion_group, criterion_main};
use lifecircle::attributes::Scenario;
use lifecircle::config::Config;
use lifecircle::geom::{self, TileKey};
use lifecircle::maps::access::AccessMap;
use lifecircle::maps::small::{self, Layer, MapRequest};
use lifecircle::service_load::{self, Params};

fn maps_bench(c: &mut Criterion) {
    let config = Config::embedded().unwrap();
    let snapshot = lifecircle::snapshot::build(&config, 1).expect("sample loads");
    let (dataset, coverage) = (&snapshot.dataset, &*snapshot.coverage);
    let category = dataset.taxonomy.by_id("elderly").expect("elderly care");
    let (decay, capacity, _) = config.service_load.for_category("elderly");
    let params = Params {
        decay,
        capacity,
        threshold_m: coverage.threshold_m(category, coverage.params.default_profile),
    };
    let never = AtomicBool::new(false);
    let load = service_load::compute(
        dataset,
        coverage,
        category,
        Scenario::Existing,
        params,
        &never,
    )
    .expect("computes");
    let map = AccessMap::build(dataset, coverage, &load, &load);
    eprintln!(
        "sample: {} grid cells, {} residential places, {} roads, breaks {:?}",
        coverage.grid.n_cells(),
        dataset.residents.len(),
        dataset.roads.len(),
        map.breaks
    );

    let mut group = c.benchmark_group("maps/sample");
    group.sample_size(20);
    group.bench_function("access_map_build_elderly", |b| {
        b.iter(|| AccessMap::build(dataset, coverage, &load, &load))
    });
    let [lon, lat] = dataset.center();
    for z in [12u8, 14, 16] {
        let tile = TileKey::containing(geom::lonlat_to_merc(lon, lat), z);
        group.bench_function(format!("access_tile_z{z}"), |b| {
            b.iter(|| map.render_png(coverage, tile).expect("renders"))
        });
    }
    let subdistrict = (!dataset.areas.is_empty()).then_some(0);
    for (label, layer, subdistrict, width, height) in [
        ("district_coverage_480x320", Layer::Coverage, None, 480, 320),
        ("district_access_480x320", Layer::Access, None, 480, 320),
        (
            "subdistrict_coverage_480x320",
            Layer::Coverage,
            subdistrict,
            480,
            320,
        ),
        (
            "district_coverage_2000x2000",
            Layer::Coverage,
            None,
            2000,
            2000,
        ),
    ] {
        let request = MapRequest {
            category,
            layer,
            subdistrict,
            width,
            height,
        };
        let (png, _) = small::render(dataset, coverage, Some(&map), &request).expect("renders");
        eprintln!("{label}: {} bytes", png.len());
        group.bench_function(format!("small_map_{label}"), |b| {
            b.iter(|| small::render(dataset, coverage, Some(&map), &request).expect("renders"))
        });
    }
    group.finish();
}

criterion_group!(benches, maps_bench);
criterion_main!(benches);
