//! Walking-graph build time with line-end joining off and on, on a road file:
//!
//! ```sh
//! cargo run --release -p lifecircle-generate -- --preset shanghai --facilities 200000 --out data/city
//! cargo run --release --example graph_join -- data/city/roads.fgb [runs]
//! ```
//!
//! Prints the median of `runs` (default 7) builds for each tolerance, and the components.

use std::time::Instant;

use lifecircle::coverage::field::Frame;
use lifecircle::coverage::graph::WalkGraph;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 2, "usage: graph_join ROADS_FILE [runs]");
    let runs: usize = args.get(2).map_or(Ok(7), |r| r.parse())?;
    let (roads, _) = lifecircle::ingest::read_roads(std::path::Path::new(&args[1]))?;
    let excluded: Vec<String> = lifecircle::config::Config::embedded()?
        .coverage
        .exclude_highways;
    let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(lon, lat) in roads.iter().flat_map(|r| r.coords.iter()) {
        (w, s, e, n) = (w.min(lon), s.min(lat), e.max(lon), n.max(lat));
    }
    let frame = Frame::new((w + e) / 2.0, (s + n) / 2.0);
    println!("{} road lines from {}", roads.len(), args[1]);
    for tolerance in [0.0, 1.0] {
        let mut times = Vec::with_capacity(runs);
        let mut graph = None;
        for _ in 0..runs {
            let started = Instant::now();
            graph = Some(WalkGraph::build(&roads, &excluded, frame, tolerance));
            times.push(started.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let graph = graph.expect("at least one run");
        let summary = graph.component_summary(0);
        println!(
            "join_tolerance_m = {tolerance}: median {:.3} s over {runs} runs (min {:.3}, max {:.3}); {} edges, {} line ends joined, {} components, {:.2} % in the largest",
            times[runs / 2],
            times[0],
            times[runs - 1],
            graph.edges.len(),
            graph.n_joins(),
            summary.n_components,
            summary.largest_share() * 100.0
        );
    }
    Ok(())
}
