//! `lifecircle-generate`: writes a synthetic data set (the bundled Changning sample, or a
//! city-scale one for benchmarks) as the FlatGeobuf files the server reads.
//!
//! ```sh
//! cargo run --release -p lifecircle-generate -- --out data/changning
//! cargo run --release -p lifecircle-generate -- --preset shanghai --facilities 1000000 --out data/city
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use lifecircle_generate::{GenerateOptions, write_dataset};

#[derive(Parser)]
#[command(version, about = "Write a synthetic lifecircle data set")]
struct Cli {
    /// Which area to synthesise
    #[arg(long, value_enum, default_value_t = PresetArg::Changning)]
    preset: PresetArg,
    /// Number of facilities (default: about 4000 for changning, 1,000,000 for shanghai)
    #[arg(long)]
    facilities: Option<usize>,
    /// Random seed; the same seed gives byte-identical files
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory (created if missing)
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PresetArg {
    /// Changning District, the bundled sample
    Changning,
    /// Central Shanghai, city scale
    Shanghai,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut options = match cli.preset {
        PresetArg::Changning => GenerateOptions::changning(),
        PresetArg::Shanghai => GenerateOptions::shanghai(cli.facilities.unwrap_or(1_000_000)),
    };
    if let Some(n) = cli.facilities {
        options.n_facilities = n;
    }
    if let Some(seed) = cli.seed {
        options.seed = seed;
    }
    let started = std::time::Instant::now();
    let summary = write_dataset(&options, &cli.out)
        .with_context(|| format!("generating data into {}", cli.out.display()))?;
    println!(
        "wrote {} facilities, {} road segments, {} subdistricts, {} residential points in {:.1} s:",
        summary.n_facilities,
        summary.n_road_segments,
        summary.n_subdistricts,
        summary.n_residential,
        started.elapsed().as_secs_f64()
    );
    for file in &summary.files {
        println!("  {}", file.display());
    }
    Ok(())
}
