//! Ingest benchmarks: reading 1,000,000 facility points from a CSV file and from a GeoJSON
//! sequence through `ingest::formats::LayerReader`, as a facility source is read: four attribute
//! columns by name, one point per row.
//!
//! cargo bench --bench ingest
//!
//! The files are generated into a temporary directory at start, from a deterministic loop (ids,
//! Chinese names, category text and addresses, points inside Shanghai). Each measured iteration
//! opens the file (CSV: including the pass that checks it is UTF-8) and reads every row. Before
//! criterion runs, one plain timed read of each file is printed, for a figure without criterion.
//! `LIFECIRCLE_BENCH_ROWS` changes the row count.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use lifecircle::ingest::formats::{Column, LayerReader, ReadOptions};

const CATEGORIES: &[&str] = &[
    "幼儿园",
    "小学",
    "社区卫生服务中心",
    "药店",
    "菜市场",
    "超市",
    "公园",
    "养老院",
    "社区文化活动中心",
    "健身点",
];
const NAME_PARTS: &[&str] = &[
    "天山",
    "虹桥",
    "仙霞",
    "新泾",
    "程家桥",
    "江苏路",
    "华阳",
    "周家桥",
];
const ROADS: &[&str] = &["天山路", "仙霞路", "愚园路", "长宁路", "延安西路", "虹桥路"];

/// One facility of the generated set: id, name, category, address, lon, lat.
fn facility(idx: u64, line: &mut String) -> (f64, f64) {
    // A 64-bit LCG: deterministic, spread over the bounding box of central Shanghai.
    let mut state = idx
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let lon = 121.20 + 0.50 * next();
    let lat = 31.00 + 0.40 * next();
    let category = CATEGORIES[idx as usize % CATEGORIES.len()];
    let part = NAME_PARTS[(idx / 7) as usize % NAME_PARTS.len()];
    let road = ROADS[(idx / 3) as usize % ROADS.len()];
    line.clear();
    let _ = write!(
        line,
        "{part}{category}{idx}\t{category}\t{road}{}号",
        idx % 1000 + 1
    );
    (lon, lat)
}

fn write_csv(path: &Path, n_rows: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "id,name,category,address,lng,lat").unwrap();
    let mut line = String::new();
    for idx in 0..n_rows {
        let (lon, lat) = facility(idx, &mut line);
        let mut fields = line.split('\t');
        let (name, category, address) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        writeln!(out, "{idx},{name},{category},{address},{lon:.6},{lat:.6}").unwrap();
    }
    out.flush().unwrap();
}

fn write_geojson_seq(path: &Path, n_rows: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut line = String::new();
    for idx in 0..n_rows {
        let (lon, lat) = facility(idx, &mut line);
        let mut fields = line.split('\t');
        let (name, category, address) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        writeln!(
            out,
            r#"{{"type":"Feature","properties":{{"id":{idx},"name":"{name}","category":"{category}","address":"{address}"}},"geometry":{{"type":"Point","coordinates":[{lon:.6},{lat:.6}]}}}}"#
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// Reads every row as a facility source would; returns the number of points read.
fn read(path: &Path) -> usize {
    let columns = ["id", "name", "category", "address"].map(|name| Column {
        name,
        required: true,
    });
    let reader = LayerReader::open(path, &ReadOptions::default(), &columns).unwrap();
    let mut n_points = 0usize;
    reader
        .for_each(|_, geometry, props| {
            if geometry.is_ok() && props.iter().all(Option::is_some) {
                n_points += 1;
            }
        })
        .unwrap();
    n_points
}

struct Files {
    _dir: tempfile::TempDir,
    n_rows: u64,
    csv: PathBuf,
    geojsonl: PathBuf,
}

fn files() -> Files {
    let n_rows = std::env::var("LIFECIRCLE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("facilities.csv");
    let geojsonl = dir.path().join("facilities.geojsonl");
    let started = Instant::now();
    write_csv(&csv, n_rows);
    write_geojson_seq(&geojsonl, n_rows);
    let mb = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    println!(
        "generated {n_rows} rows in {:.1} s: CSV {:.0} MB, GeoJSON sequence {:.0} MB",
        started.elapsed().as_secs_f64(),
        mb(&csv),
        mb(&geojsonl)
    );
    Files {
        _dir: dir,
        n_rows,
        csv,
        geojsonl,
    }
}

fn ingest_bench(c: &mut Criterion) {
    let files = files();
    for (label, path) in [("csv", &files.csv), ("geojsonseq", &files.geojsonl)] {
        let started = Instant::now();
        let n_points = read(path);
        assert_eq!(
            n_points as u64, files.n_rows,
            "every generated row reads as a point"
        );
        println!(
            "plain read, {label}: {} rows in {:.2} s",
            files.n_rows,
            started.elapsed().as_secs_f64()
        );
    }
    let mut group = c.benchmark_group(format!("ingest_{}_rows", files.n_rows));
    // One iteration reads a million rows (about a second): ten flat samples are enough.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("csv", |b| b.iter(|| read(&files.csv)));
    group.bench_function("geojsonseq", |b| b.iter(|| read(&files.geojsonl)));
    group.finish();
}

criterion_group!(benches, ingest_bench);
criterion_main!(benches);
