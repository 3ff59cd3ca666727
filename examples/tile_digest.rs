//! Tile digest and cold-render timing for a data set: takes a config file; builds the dataset,
//! the basemap and the WGS84 tile index (and the GCJ-02 one), prints the time and resident memory
//! each build adds, the cold render time of the densest tiles, and writes one line per tile of a
//! fixed list (facilities z10–z16, a category filter, GCJ-02, basemap z11–z16) with a digest of
//! its raw bytes and of its decoded content, so that two builds can be compared with `diff`.
//!
//! ```sh
//! cargo run --release --example tile_digest -- city.toml digests.txt
//! ```
//!
//! The decoded digest is that of `tests/it/pyramid.rs` (the same `tests/it/decoded_tile.rs`): layers by name, features sorted, geometry,
//! id and typed properties; equal decoded digests mean a client sees the same tile.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use lifecircle::attributes::StatusSet;
use lifecircle::config::Config;
use lifecircle::geom::{self, TileKey};
use lifecircle::taxonomy::CategoryId;
use lifecircle::tiles::basemap::Basemap;
use lifecircle::tiles::{self, CategoryFilter, Datum, FacilityPoints};

#[path = "../tests/it/decoded_tile.rs"]
mod decoded_tile;

use decoded_tile::tile_text;

/// Resident memory (`VmRSS`) in MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Tiles at zoom `z` with how many of `points` each holds, densest first (ties by key).
fn by_density(points: impl Iterator<Item = (f64, f64)>, z: u8) -> Vec<TileKey> {
    let mut counts: HashMap<TileKey, usize> = HashMap::new();
    for (lon, lat) in points {
        *counts
            .entry(TileKey::containing(geom::lonlat_to_merc(lon, lat), z))
            .or_default() += 1;
    }
    let mut tiles: Vec<(TileKey, usize)> = counts.into_iter().collect();
    tiles.sort_by_key(|&(key, n)| (std::cmp::Reverse(n), key));
    tiles.into_iter().map(|(key, _)| key).collect()
}

/// The `n_densest` densest tiles and `n_spread` more spread evenly over the rest.
fn pick(tiles: &[TileKey], n_densest: usize, n_spread: usize) -> Vec<TileKey> {
    let mut out: Vec<TileKey> = tiles.iter().take(n_densest).copied().collect();
    let rest = &tiles[n_densest.min(tiles.len())..];
    if !rest.is_empty() {
        let step = (rest.len() / n_spread.max(1)).max(1);
        out.extend(rest.iter().step_by(step).take(n_spread));
    }
    out
}

/// Median of per-tile cold render times (each the best of `rounds`), in ms.
fn median_ms(tiles: &[TileKey], rounds: usize, mut render: impl FnMut(TileKey)) -> f64 {
    let mut times: Vec<f64> = tiles
        .iter()
        .map(|&key| {
            (0..rounds)
                .map(|_| {
                    let t = Instant::now();
                    render(key);
                    t.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    lifecircle::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    let [_, config_path, out_path] = args.as_slice() else {
        panic!("usage: tile_digest CONFIG.toml OUT.txt");
    };
    let config = Config::load(Some(std::path::Path::new(config_path))).expect("a valid config");
    let taxonomy = Arc::new(config.taxonomy().expect("taxonomy"));
    let (layers, _report) = lifecircle::ingest::read_all(&config, &taxonomy).expect("ingest");
    let dataset = layers.into_dataset(taxonomy);
    let dataset = Arc::new(dataset);
    let params = &config.tiles;

    let rss = rss_mb();
    let t = Instant::now();
    let basemap = Basemap::new(&dataset, &config.basemap.roads);
    let basemap_s = t.elapsed().as_secs_f64();
    let basemap_mb = rss_mb() - rss;
    println!(
        "basemap street index holds {:.1} MB",
        basemap.heap_bytes() as f64 / 1e6
    );
    let rss = rss_mb();
    let t = Instant::now();
    let points = FacilityPoints::new(&dataset, Datum::Wgs84, params, StatusSet::EXISTING);
    let points_s = t.elapsed().as_secs_f64();
    let points_mb = rss_mb() - rss;
    println!(
        "tile index + pyramid + fine grid hold {:.1} MB (pyramid {:.1} MB, {} records; fine grid {:.1} MB)",
        points.heap_bytes() as f64 / 1e6,
        points.pyramid().heap_bytes() as f64 / 1e6,
        points.pyramid().n_records(),
        points.fine_grid().map_or(0, |g| g.heap_bytes()) as f64 / 1e6,
    );
    println!(
        "basemap {basemap_s:.2} s +{basemap_mb:.0} MB; tile index + pyramid {points_s:.2} s +{points_mb:.0} MB; together +{:.0} MB",
        basemap_mb + points_mb
    );
    let gcj = FacilityPoints::new(&dataset, Datum::Gcj02, params, StatusSet::EXISTING);

    let positions = || dataset.facilities().iter().map(|f| (f.lon, f.lat));
    let road_starts = || {
        dataset
            .roads
            .iter()
            .filter_map(|r| r.coords.first().copied())
    };
    let all = CategoryFilter::all();
    let some = CategoryFilter::only(vec![CategoryId(1), CategoryId(5)]);
    let facility = |points: &FacilityPoints, key: TileKey, filter: &CategoryFilter| {
        tiles::render(&dataset, points, key, filter, params)
            .expect("tile renders")
            .bytes
    };

    let mut out = String::new();
    let mut line = |set: &str, key: TileKey, bytes: &[u8]| {
        let (text, n) = tile_text(bytes);
        let _ = writeln!(
            out,
            "{set} {key} bytes {} features {n} raw {:016x} decoded {:032x}",
            bytes.len(),
            xxhash_rust::xxh3::xxh3_64(bytes),
            xxhash_rust::xxh3::xxh3_128(text.as_bytes()),
        );
    };
    let mut densest = HashMap::new();
    for z in 10..=16u8 {
        let tiles = by_density(positions(), z);
        for key in pick(&tiles, 30, 20) {
            line("facilities", key, &facility(&points, key, &all));
        }
        if matches!(z, 12 | 14 | 15) {
            for key in pick(&tiles, 10, 0) {
                line("facilities?categories", key, &facility(&points, key, &some));
            }
        }
        if matches!(z, 14 | 16) {
            for key in pick(&tiles, 10, 0) {
                line("facilities?crs=gcj02", key, &facility(&gcj, key, &all));
            }
        }
        densest.insert(z, tiles.into_iter().take(50).collect::<Vec<_>>());
    }
    let mut densest_roads = HashMap::new();
    for z in 11..=16u8 {
        let tiles = by_density(road_starts(), z);
        for key in pick(&tiles, 25, 15) {
            line(
                "basemap",
                key,
                &basemap.render(key, params).expect("renders"),
            );
        }
        densest_roads.insert(z, tiles.into_iter().take(50).collect::<Vec<_>>());
    }
    std::fs::write(out_path, &out).expect("write the digests");
    println!("{} tiles digested into {out_path}", out.lines().count());

    for z in [12u8, 14, 15, 16] {
        let ms = median_ms(&densest[&z], 5, |key| {
            std::hint::black_box(facility(&points, key, &all));
        });
        println!("facilities z{z}, 50 densest tiles: cold render median {ms:.3} ms");
    }
    for z in [12u8, 14, 16] {
        let ms = median_ms(&densest_roads[&z], 3, |key| {
            std::hint::black_box(basemap.render(key, params).expect("renders"));
        });
        println!("basemap z{z}, 50 densest tiles: cold render median {ms:.3} ms");
    }
}
