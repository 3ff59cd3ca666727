//! Coverage digest: takes a config file, builds the dataset and the coverage of the existing
//! facilities, and prints a hash of what the coverage answers: every category's field, every
//! composite of every profile, the residential places' distances, the statistics, one place's
//! report at fixed points across the grid, and suggested sites for a few categories. Two builds
//! of the same data that print the same digests answer the same; the phase timings of the
//! coverage build are logged with `RUST_LOG=lifecircle::coverage=debug`.
//!
//! ```sh
//! cargo run --release --example coverage_digest -- city.toml
//! ```

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use lifecircle::config::Config;
use lifecircle::coverage::{Coverage, CoverageId, CoverageParams, ProfileId, Scores, stats};

fn digest(value: impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Every cell's score, as the bytes the scores were once stored as.
fn scores_of(scores: Scores<'_>, n_cells: usize) -> Vec<u8> {
    (0..n_cells).map(|cell| scores.get(cell)).collect()
}

fn main() {
    lifecircle::tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let path = std::env::args()
        .nth(1)
        .expect("usage: coverage_digest CONFIG.toml");
    let config = Config::load(Some(std::path::Path::new(&path))).expect("a valid config");
    let taxonomy = Arc::new(config.taxonomy().expect("taxonomy"));
    let (layers, _report) = lifecircle::ingest::read_all(&config, &taxonomy).expect("ingest");
    let dataset = layers.into_dataset(taxonomy);
    let started = Instant::now();
    let coverage =
        Coverage::build(&dataset, &CoverageParams::from(&config.coverage)).expect("coverage");
    println!(
        "coverage built in {:.2} s; heap {:.1} MB; {} nodes, {} edges, {} components",
        started.elapsed().as_secs_f64(),
        coverage.info.heap_bytes as f64 / 1e6,
        coverage.info.n_nodes,
        coverage.info.n_edges,
        coverage.info.n_components,
    );
    let categories: Vec<_> = coverage.taxonomy().categories().map(|(id, _)| id).collect();
    let fields: Vec<&[u16]> = categories.iter().map(|&c| coverage.field_m(c)).collect();
    println!("fields      {:016x}", digest(&fields));
    let composite_ids: Vec<CoverageId> = coverage
        .ids()
        .into_iter()
        .map(|(_, id)| id)
        .filter(|id| !matches!(id, CoverageId::Category(_)))
        .collect();
    let mut composites: Vec<Vec<u8>> = Vec::new();
    for p in 0..coverage.params.profiles.len() {
        for &id in &composite_ids {
            let scores = coverage.composite_scores(id, ProfileId(p as u8));
            composites.push(scores_of(scores, coverage.grid.n_cells()));
        }
    }
    println!("composites  {:016x}", digest(&composites));
    let residents: Vec<&[u16]> = categories
        .iter()
        .map(|&c| coverage.resident_dist_m(c))
        .collect();
    println!("residents   {:016x}", digest(&residents));
    let profile = coverage.params.default_profile;
    let started = Instant::now();
    let stats = stats::stats(&coverage, &dataset, profile);
    println!(
        "stats       {:016x}   ({:.2} s)",
        digest(format!("{stats:?}")),
        started.elapsed().as_secs_f64()
    );
    // Fixed points over the grid's middle: a deterministic sequence, the same every run.
    let [w, s, e, n] = coverage.grid.lonlat_bounds();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let started = Instant::now();
    let mut reports = Vec::new();
    for _ in 0..300 {
        let lon = w + (e - w) * (0.1 + 0.8 * next());
        let lat = s + (n - s) * (0.1 + 0.8 * next());
        let report = stats::at(&coverage, &dataset, lon, lat, profile).expect("inside the grid");
        reports.push(format!("{report:?}"));
    }
    println!(
        "at (300)    {:016x}   ({:.2} s)",
        digest(&reports),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let suggestions: Vec<String> = categories
        .iter()
        .step_by(4)
        .map(|&c| format!("{:?}", stats::suggest(&coverage, &dataset, c, 5, profile)))
        .collect();
    println!(
        "suggest     {:016x}   ({:.2} s)",
        digest(&suggestions),
        started.elapsed().as_secs_f64()
    );
}
