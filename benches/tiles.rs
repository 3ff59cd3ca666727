//! Facility tile benchmarks: cold render + encode of dense z14 and clustered z10 tiles, and the
//! whole cold answer (render, encode, gzip, ETag: what a cache miss costs), for the bundled
//! sample and (when generated) the 1M-facility city set, and the sample's precompute.
//!
//! cargo bench --bench tiles
//! City set: cargo run --release -p lifecircle-generate -- --preset shanghai --facilities 1000000 --out data/city

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use lifecircle::attributes::StatusSet;
use lifecircle::config::Config;
use lifecircle::dataset::Dataset;
use lifecircle::geom::TileKey;
use lifecircle::snapshot::Snapshot;
use lifecircle::state::{AppState, VectorTileSet, tiles_covering};
use lifecircle::tiles::{self, CategoryFilter, Datum};

fn load(config: &Config) -> Snapshot {
    lifecircle::snapshot::build(config, 1).expect("data loads")
}

/// The tile at zoom `z` holding the most facilities.
fn densest_tile(dataset: &Dataset, z: u8) -> (TileKey, usize) {
    let mut counts = std::collections::HashMap::new();
    for f in dataset.facilities() {
        *counts
            .entry(TileKey::containing(
                lifecircle::geom::lonlat_to_merc(f.lon, f.lat),
                z,
            ))
            .or_insert(0usize) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(key, n)| (n, std::cmp::Reverse(key)))
        .expect("data has facilities")
}

fn bench_dataset(c: &mut Criterion, label: &str, config: &Config) {
    let snapshot = load(config);
    let dataset = &snapshot.dataset;
    let params = &config.tiles;
    let mut group = c.benchmark_group(format!("tiles/{label}"));
    group.sample_size(30);
    for z in [14u8, 10] {
        let (key, n) = densest_tile(dataset, z);
        let rendered = tiles::render(
            dataset,
            snapshot.facility_points(Datum::Wgs84),
            key,
            &CategoryFilter::all(),
            params,
        )
        .unwrap();
        eprintln!(
            "{label}: densest z{z} tile {key} holds {n} facilities → {} features, {} bytes, {:?}",
            rendered.n_features,
            rendered.bytes.len(),
            rendered.density
        );
        let set = VectorTileSet::Facilities {
            filter: CategoryFilter::all(),
            datum: Datum::Wgs84,
            statuses: StatusSet::EXISTING,
        };
        let served = set.render(&snapshot, key, params).unwrap();
        eprintln!(
            "{label}: densest z{z} tile gzip {} bytes",
            served.gzip.as_ref().map_or(0, |g| g.len())
        );
        group.bench_function(format!("cold_answer_z{z}_densest"), |b| {
            b.iter(|| set.render(&snapshot, key, params).unwrap())
        });
        group.bench_function(format!("render_z{z}_densest"), |b| {
            b.iter(|| {
                tiles::render(
                    dataset,
                    snapshot.facility_points(Datum::Wgs84),
                    key,
                    &CategoryFilter::all(),
                    params,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn tiles_bench(c: &mut Criterion) {
    let sample = Config::embedded().unwrap();
    bench_dataset(c, "sample", &sample);

    let mut group = c.benchmark_group("precompute");
    group.sample_size(10);
    let n_tiles = tiles_covering(
        load(&sample).dataset.bounds,
        sample.cache.precompute_minzoom,
        sample.cache.precompute_maxzoom,
    )
    .len();
    eprintln!("sample: precompute covers {n_tiles} tiles");
    group.bench_function("sample_default_pyramid", |b| {
        b.iter_with_setup(
            || AppState::load(Config::embedded().unwrap()).unwrap(),
            |state| state.precompute(),
        )
    });
    group.finish();

    if Path::new("data/city/facilities.fgb").exists() {
        let city = Config::from_toml_str(
            "[data]\nfacilities = \"data/city/facilities.fgb\"\nroads = \"data/city/roads.fgb\"\nsubdistricts = \"data/city/subdistricts.fgb\"\nresidents = \"data/city/residents.fgb\"\n",
            Path::new("."),
        )
        .unwrap();
        bench_dataset(c, "city", &city);
    } else {
        eprintln!("data/city not generated; skipping the city-scale benchmark");
    }
}

criterion_group!(benches, tiles_bench);
criterion_main!(benches);
