//! Search digest: takes a config file; loads its data as the server does, builds the search
//! index, answers a fixed list of about 250 searches and suggestions, and prints a digest of
//! every answer (hits in order, distances and relevance to the bit, name matches, totals, terms)
//! with the build time, the index's heap bytes and the query latency.
//!
//! Two builds of the index answer alike exactly when their digests are equal; with a second
//! argument the answers are also written there one per line, so two runs can be compared with
//! `diff`; with a third, each search's fastest time (µs) is written there.
//!
//! ```sh
//! cargo run --release --example search_digest -- city.toml [answers.txt [timings.tsv]]
//! ```
//!
//! The queries are drawn from the data with a fixed seed: Chinese, English and pinyin terms and
//! facility names within 1 and 2 km, the nearest facilities without a radius, categories alone,
//! unnamed facilities found by their category, boxes, paging, every status, the whole city, and
//! completions of typed prefixes.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecircle::attributes::StatusSet;
use lifecircle::config::Config;
use lifecircle::dataset::Dataset;
use lifecircle::search::{SearchIndex, SearchQuery, SuggestQuery};
use rand::{Rng, SeedableRng};

/// Terms searched within a radius.
const TERMS: &[&str] = &[
    "幼儿园",
    "卫生",
    "菜场",
    "超市",
    "银行",
    "地铁站",
    "华阳 幼儿园",
    "公园",
    "便利店",
    "买菜",
    "小学",
    "医院",
    "社区",
    "路",
    "pharmacy",
    "school",
    "youeryuan",
    "yey",
    "zhongshan",
    "chaoshi",
    "park",
    "350",
];

/// Prefixes completed by `/search/suggest`.
const PREFIXES: &[&str] = &[
    "y", "ye", "yey", "幼", "幼儿", "z", "zh", "zhongs", "p", "pha", "华", "华阳", "s", "社区",
    "超", "cs", "gong", "银", "地铁", "x",
];

fn load(path: &str) -> Dataset {
    let config = Config::load(Some(std::path::Path::new(path))).expect("a valid config");
    let taxonomy = Arc::new(config.taxonomy().expect("taxonomy"));
    let (layers, _report) = lifecircle::ingest::read_all(&config, &taxonomy).expect("ingest");
    layers.into_dataset(taxonomy)
}

fn query(text: &str, near: Option<(f64, f64)>, radius_m: Option<f64>) -> SearchQuery {
    SearchQuery {
        near,
        radius_m,
        ..SearchQuery::text(text, 20)
    }
}

/// The fixed list of searches over `dataset`.
fn searches(dataset: &Dataset) -> Vec<SearchQuery> {
    let facilities = dataset.facilities();
    let taxonomy = &dataset.taxonomy;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    let [west, south, east, north] = {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for f in facilities {
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
    let mut point = || {
        (
            rng.random_range(west + dx..east - dx),
            rng.random_range(south + dy..north - dy),
        )
    };
    let step = (facilities.len() / 12).max(1);
    let sampled: Vec<usize> = (0..facilities.len()).step_by(step).skip(1).collect();
    let mut out = Vec::new();
    // Terms within 1 and 2 km of random points and of facilities themselves.
    for (k, term) in TERMS.iter().enumerate() {
        for radius_m in [1000.0, 2000.0] {
            out.push(query(term, Some(point()), Some(radius_m)));
        }
        let f = &facilities[sampled[k % sampled.len()]];
        out.push(query(term, Some((f.lon, f.lat)), Some(1500.0)));
    }
    // Facility names: whole, their start, near them and far from them, and with no place.
    for &idx in &sampled {
        let f = &facilities[idx];
        let name = f.name();
        if name.is_empty() {
            continue;
        }
        let start: String = name.chars().take(2).collect();
        out.push(query(name, Some((f.lon, f.lat)), Some(2000.0)));
        out.push(query(&start, Some((f.lon, f.lat)), Some(1000.0)));
        out.push(query(name, Some(point()), None));
        out.push(query(name, None, None));
        if let Some(en) = f.name_en() {
            out.push(query(en, Some((f.lon, f.lat)), Some(2000.0)));
        }
    }
    // Categories alone, within a radius and nearest first, and with a term.
    for (k, (id, _)) in taxonomy.categories().enumerate() {
        let near = point();
        out.push(SearchQuery {
            categories: vec![id],
            ..query("", Some(near), Some(1000.0 + 500.0 * (k % 3) as f64))
        });
        out.push(SearchQuery {
            categories: vec![id],
            ..query("", Some(near), None)
        });
        if k % 3 == 0 {
            out.push(SearchQuery {
                categories: vec![id],
                ..query("社区", Some(near), Some(2000.0))
            });
        }
    }
    // Nearest first with nothing else, and paging through it.
    for offset in [0, 20, 95] {
        out.push(SearchQuery {
            offset,
            ..query("", Some(point()), None)
        });
    }
    // Unnamed facilities, found by their category's name near them.
    for f in facilities
        .iter()
        .filter(|f| f.name().is_empty())
        .step_by(997)
        .take(12)
    {
        let label = &taxonomy.category(f.category).label_zh;
        out.push(query(label, Some((f.lon, f.lat)), Some(1000.0)));
        out.push(SearchQuery {
            categories: vec![f.category],
            ..query("", Some((f.lon, f.lat)), None)
        });
    }
    // Boxes, paging, every status, larger pages, the whole city.
    for term in ["幼儿园", "超市", "school", "yey"] {
        let (lon, lat) = point();
        out.push(SearchQuery {
            bbox: Some([lon - 0.02, lat - 0.015, lon + 0.02, lat + 0.015]),
            ..query(term, None, None)
        });
        out.push(SearchQuery {
            bbox: Some([lon - 0.02, lat - 0.015, lon + 0.02, lat + 0.015]),
            ..query(term, Some((lon, lat)), Some(1500.0))
        });
        out.push(SearchQuery {
            offset: 40,
            limit: 50,
            ..query(term, Some((lon, lat)), Some(2000.0))
        });
        out.push(SearchQuery {
            statuses: StatusSet::ALL,
            ..query(term, Some((lon, lat)), Some(2000.0))
        });
        out.push(query(term, None, None));
    }
    out
}

/// One line per answer: the query, then what it answered.
fn describe(index: &SearchIndex, dataset: &Dataset, q: &SearchQuery) -> String {
    let results = index.search(dataset, q);
    let mut line = format!(
        "search {:?} near {:?} radius {:?} bbox {:?} categories {:?} statuses {} offset {} limit {} → total {} terms {:?}:",
        q.text,
        q.near,
        q.radius_m,
        q.bbox,
        q.categories.iter().map(|c| c.0).collect::<Vec<_>>(),
        q.statuses.list(),
        q.offset,
        q.limit,
        results.total,
        results.terms
    );
    for hit in &results.hits {
        let _ = write!(
            line,
            " {}/{:?}/{:?}/{:?}",
            dataset.facility(hit.facility_idx).id,
            hit.distance_m.map(f64::to_bits),
            hit.relevance.map(f64::to_bits),
            hit.name_match
        );
    }
    line
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    lifecircle::tune_allocator();
    let mut args = std::env::args().skip(1);
    let config = args
        .next()
        .expect("usage: search_digest CONFIG.toml [ANSWERS.txt [TIMINGS.tsv]]");
    let out_path = args.next();
    let dataset = load(&config);
    let started = Instant::now();
    let index = SearchIndex::build(&dataset);
    let build = started.elapsed();
    let stats = index.stats();
    println!(
        "{} facilities, {} tokens, {} postings; built in {:.2} s; {:.1} MB",
        stats.n_docs,
        stats.n_tokens,
        stats.n_postings,
        build.as_secs_f64(),
        stats.memory_bytes as f64 / 1e6
    );
    let queries = searches(&dataset);
    let mut answers = String::new();
    for q in &queries {
        answers.push_str(&describe(&index, &dataset, q));
        answers.push('\n');
    }
    for prefix in PREFIXES {
        let found = index.suggest(&SuggestQuery {
            text: (*prefix).to_owned(),
            limit: 8,
        });
        let _ = writeln!(answers, "suggest {prefix:?}: {found:?}");
    }
    println!(
        "{} searches, {} suggestions; digest {:016x}",
        queries.len(),
        PREFIXES.len(),
        xxhash_rust::xxh3::xxh3_64(answers.as_bytes())
    );
    if let Some(path) = out_path {
        std::fs::write(&path, &answers).expect("answers written");
    }
    // Latency: every search five times on this thread; each query's fastest run leaves out
    // preemption on a busy machine. Radius searches are the ones the server answers in place.
    const RUNS: usize = 5;
    let mut fastest = vec![Duration::MAX; queries.len()];
    let mut all: Vec<Duration> = Vec::new();
    for _ in 0..RUNS {
        for (i, q) in queries.iter().enumerate() {
            let t = Instant::now();
            std::hint::black_box(index.search(&dataset, q));
            let elapsed = t.elapsed();
            all.push(elapsed);
            fastest[i] = fastest[i].min(elapsed);
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    if let Some(path) = args.next() {
        let mut timings = String::new();
        for (q, d) in queries.iter().zip(&fastest) {
            let _ = writeln!(
                timings,
                "{:.0}\t{:?} near {:?} radius {:?} bbox {:?} categories {:?}",
                us(*d),
                q.text,
                q.near,
                q.radius_m,
                q.bbox,
                q.categories.iter().map(|c| c.0).collect::<Vec<_>>()
            );
        }
        std::fs::write(&path, timings).expect("timings written");
    }
    let mut within: Vec<Duration> = queries
        .iter()
        .zip(&fastest)
        .filter(|(q, _)| q.radius_m.is_some())
        .map(|(_, d)| *d)
        .collect();
    within.sort();
    let mut fastest_sorted = fastest.clone();
    fastest_sorted.sort();
    all.sort();
    println!(
        "latency, fastest of {RUNS}: radius searches ({}) p50 {:.0} µs p99 {:.0} µs max {:.0} µs; all searches p50 {:.0} µs p99 {:.0} µs; all runs p99 {:.0} µs; load average {}",
        within.len(),
        us(percentile(&within, 0.5)),
        us(percentile(&within, 0.99)),
        us(*within.last().unwrap_or(&Duration::ZERO)),
        us(percentile(&fastest_sorted, 0.5)),
        us(percentile(&fastest_sorted, 0.99)),
        us(percentile(&all, 0.99)),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    );
}
