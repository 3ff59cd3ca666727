//! Search benchmarks: index build time and memory, and the latency of keyword + radius queries,
//! on the bundled sample and on the 1M-facility city set.
//!
//! cargo bench --bench search
//! (the city set is generated into data/city on first use: `lifecircle_generate`, preset
//! shanghai, 1,000,000 facilities; set LIFECIRCLE_BENCH_CITY=0 to skip it)
//!
//! Besides criterion's timings of a rotating query mix, it prints, per data set, the build time,
//! the index's heap bytes, and p50 / p99 / max single-query latency over a fixed mix of 800
//! queries (15 keywords in Chinese, English, pinyin and initials, plus category-only "near me"
//! queries, at 500 / 1000 / 2000 m around seeded random points), each run five times: over all
//! runs, and over each query's fastest run, which leaves out preemption on a busy machine.
//! Queries run on one thread; the figures are recorded in benches/search.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lifecircle::config::Config;
use lifecircle::dataset::Dataset;
use lifecircle::search::{SearchIndex, SearchQuery, SuggestQuery};
use rand::{Rng, SeedableRng};

/// Keywords of the query mix.
const KEYWORDS: &[&str] = &[
    "幼儿园",
    "卫生",
    "菜场",
    "pharmacy",
    "youeryuan",
    "yey",
    "超市",
    "银行",
    "地铁站",
    "华阳 幼儿园",
    "公园",
    "school",
    "zhongshan",
    "便利店",
    "买菜",
];

/// Categories of the keyword-less "what is near me" queries.
const NEAR_ME: &[&str] = &["kindergarten", "medical", "market", "pharmacy", "park"];

const RADII_M: &[f64] = &[500.0, 1000.0, 2000.0];

fn load_sample() -> Dataset {
    let config = Config::embedded().expect("built-in configuration");
    let snapshot = lifecircle::snapshot::build(&config, 1).expect("sample data loads");
    Arc::try_unwrap(snapshot.dataset).unwrap_or_else(|_| panic!("dataset is not shared yet"))
}

/// The city set's facilities, generated into `data/city` when missing.
fn load_city() -> Option<Dataset> {
    if std::env::var("LIFECIRCLE_BENCH_CITY").is_ok_and(|v| v == "0") {
        return None;
    }
    let dir = PathBuf::from("data/city");
    let path = dir.join("facilities.fgb");
    if !path.exists() {
        eprintln!("generating the 1M-facility city set into {}", dir.display());
        let started = Instant::now();
        lifecircle_generate::write_dataset(
            &lifecircle_generate::GenerateOptions::shanghai(1_000_000),
            &dir,
        )
        .expect("city set generates");
        eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
    }
    let config = Config::embedded().expect("built-in configuration");
    let taxonomy = Arc::new(config.taxonomy().expect("taxonomy"));
    let (facilities, _) =
        lifecircle::ingest::read_facilities(Path::new(&path), &config.data.fields, &taxonomy)
            .expect("city facilities load");
    Some(Dataset::new(
        taxonomy,
        facilities,
        Vec::new(),
        Vec::new(),
        Vec::new(),
    ))
}

/// The fixed query mix over `dataset`: keyword + radius and category + radius around points
/// drawn (seeded) from the middle 80 % of the facilities' extent.
fn query_mix(dataset: &Dataset) -> Vec<SearchQuery> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let [west, south, east, north] = {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for f in dataset.facilities() {
            b = [
                b[0].min(f.lon),
                b[1].min(f.lat),
                b[2].max(f.lon),
                b[3].max(f.lat),
            ];
        }
        b
    };
    let (dx, dy) = ((east - west) * 0.1, (north - south) * 0.1);
    let mut queries = Vec::new();
    for round in 0..40 {
        for (k, text) in KEYWORDS
            .iter()
            .chain(NEAR_ME.iter().map(|_| &""))
            .enumerate()
        {
            let near = (
                rng.random_range(west + dx..east - dx),
                rng.random_range(south + dy..north - dy),
            );
            let radius_m = RADII_M[(round + k) % RADII_M.len()];
            let categories = if text.is_empty() {
                let id = NEAR_ME[(k - KEYWORDS.len()) % NEAR_ME.len()];
                vec![dataset.taxonomy.by_id(id).expect("category exists")]
            } else {
                Vec::new()
            };
            queries.push(SearchQuery {
                text: (*text).to_owned(),
                near: Some(near),
                radius_m: Some(radius_m),
                bbox: None,
                categories,
                limit: 20,
                offset: 0,
                name_bonus: Default::default(),
                statuses: lifecircle::attributes::StatusSet::EXISTING,
            });
        }
    }
    queries
}

/// The keyword and category queries of the mix, all at the centre of the densest 500 m cell
/// (the worst case: most facilities within each radius).
fn dense_mix(dataset: &Dataset) -> Vec<SearchQuery> {
    const CELL_DEG: f64 = 0.005;
    let mut counts: std::collections::HashMap<(i64, i64), usize> = Default::default();
    for f in dataset.facilities() {
        let key = (
            (f.lon / CELL_DEG).floor() as i64,
            (f.lat / CELL_DEG).floor() as i64,
        );
        *counts.entry(key).or_default() += 1;
    }
    let (&(x, y), _) = counts
        .iter()
        .max_by_key(|&(key, n)| (*n, std::cmp::Reverse(*key)))
        .expect("data has facilities");
    let near = ((x as f64 + 0.5) * CELL_DEG, (y as f64 + 0.5) * CELL_DEG);
    let mut queries = Vec::new();
    for &radius_m in RADII_M {
        for text in KEYWORDS {
            queries.push(SearchQuery {
                text: (*text).to_owned(),
                near: Some(near),
                radius_m: Some(radius_m),
                bbox: None,
                categories: Vec::new(),
                limit: 20,
                offset: 0,
                name_bonus: Default::default(),
                statuses: lifecircle::attributes::StatusSet::EXISTING,
            });
        }
        for id in NEAR_ME {
            queries.push(SearchQuery {
                text: String::new(),
                near: Some(near),
                radius_m: Some(radius_m),
                bbox: None,
                categories: vec![dataset.taxonomy.by_id(id).expect("category exists")],
                limit: 20,
                offset: 0,
                name_bonus: Default::default(),
                statuses: lifecircle::attributes::StatusSet::EXISTING,
            });
        }
    }
    queries
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn report(label: &str, dataset: &Dataset) -> (Arc<SearchIndex>, Vec<SearchQuery>) {
    let started = Instant::now();
    let index = Arc::new(SearchIndex::build(dataset));
    let build = started.elapsed();
    let stats = index.stats();
    eprintln!(
        "{label}: {} facilities, {} distinct tokens, {} postings; index built in {:.0} ms, {:.1} MiB",
        stats.n_docs,
        stats.n_tokens,
        stats.n_postings,
        build.as_secs_f64() * 1000.0,
        stats.memory_bytes as f64 / 1048576.0
    );
    let queries = query_mix(dataset);
    latency(label, "random points", &index, dataset, &queries);
    latency(label, "densest spot", &index, dataset, &dense_mix(dataset));
    let mut suggest_times: Vec<Duration> = Vec::new();
    for prefix in [
        "y", "ye", "yey", "幼", "幼儿", "z", "zh", "zhongs", "p", "pha", "华", "华阳", "s", "社区",
    ] {
        for _ in 0..20 {
            let t = Instant::now();
            std::hint::black_box(index.suggest(&SuggestQuery {
                text: prefix.into(),
                limit: 8,
            }));
            suggest_times.push(t.elapsed());
        }
    }
    suggest_times.sort();
    eprintln!(
        "{label}: suggest p50 {:.1} µs, p99 {:.1} µs",
        percentile(&suggest_times, 0.5).as_secs_f64() * 1e6,
        percentile(&suggest_times, 0.99).as_secs_f64() * 1e6
    );
    (index, queries)
}

/// Times every query of `queries` five times and prints the percentiles: over all runs, and
/// over each query's fastest run (which leaves out the time the thread spent preempted on a
/// busy machine).
fn latency(
    label: &str,
    mix: &str,
    index: &SearchIndex,
    dataset: &Dataset,
    queries: &[SearchQuery],
) {
    for q in queries {
        std::hint::black_box(index.search(dataset, q));
    }
    const RUNS: usize = 5;
    let mut all: Vec<Duration> = Vec::with_capacity(queries.len() * RUNS);
    let mut fastest: Vec<(Duration, usize)> = vec![(Duration::MAX, 0); queries.len()];
    for _ in 0..RUNS {
        for (i, q) in queries.iter().enumerate() {
            let t = Instant::now();
            std::hint::black_box(index.search(dataset, q));
            let elapsed = t.elapsed();
            all.push(elapsed);
            fastest[i] = (fastest[i].0.min(elapsed), i);
        }
    }
    all.sort();
    let mut fastest_sorted: Vec<Duration> = fastest.iter().map(|f| f.0).collect();
    fastest_sorted.sort();
    let n_hits: usize = queries.iter().map(|q| index.search(dataset, q).total).sum();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    eprintln!(
        "{label}, {mix}: {} keyword/category + radius queries (mean {:.0} matches), {} runs each; load average {}",
        queries.len(),
        n_hits as f64 / queries.len() as f64,
        RUNS,
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into()),
    );
    eprintln!(
        "{label}, {mix}:   all runs:      p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        us(percentile(&all, 0.50)),
        us(percentile(&all, 0.99)),
        us(*all.last().unwrap_or(&Duration::ZERO)),
    );
    eprintln!(
        "{label}, {mix}:   fastest of {RUNS}:  p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        us(percentile(&fastest_sorted, 0.50)),
        us(percentile(&fastest_sorted, 0.99)),
        us(*fastest_sorted.last().unwrap_or(&Duration::ZERO)),
    );
    fastest.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (d, i) in fastest.iter().take(3) {
        let q = &queries[*i];
        eprintln!(
            "{label}, {mix}:   slowest: {:.1} µs for {:?} within {} m",
            us(*d),
            q.text,
            q.radius_m.unwrap_or_default()
        );
    }
}

fn bench_set(c: &mut Criterion, label: &str, dataset: &Dataset) {
    let (index, queries) = report(label, dataset);
    let mut group = c.benchmark_group(format!("search/{label}"));
    group.sample_size(10);
    group.bench_function("build", |b| b.iter(|| SearchIndex::build(dataset)));
    group.sample_size(50);
    let mut next = 0usize;
    group.bench_function("keyword_radius_mix", |b| {
        b.iter(|| {
            next = (next + 1) % queries.len();
            index.search(dataset, &queries[next])
        })
    });
    group.finish();
}

fn search_bench(c: &mut Criterion) {
    let sample = load_sample();
    bench_set(c, "sample", &sample);
    drop(sample);
    if let Some(city) = load_city() {
        bench_set(c, "city_1m", &city);
    }
}

criterion_group!(benches, search_bench);
criterion_main!(benches);
