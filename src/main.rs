//! The `lifecircle` command: parse arguments, load the configuration, run one subcommand.
//! Errors reach the user as one line of context chain and exit code 2.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use lifecircle::config::Config;
use lifecircle::state::AppState;

#[derive(Parser)]
#[command(
    version,
    about = "Vector tile server for 15-minute community life circles"
)]
struct Cli {
    /// Configuration file, merged over the built-in default (lifecircle.toml)
    #[arg(long, short, global = true, env = "LIFECIRCLE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve tiles, search and feedback (the default)
    Serve {
        /// Address to listen on, overriding server.listen (e.g. 127.0.0.1:0 for any free port)
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Validate the configuration and data files and print a report
    Check,
    /// Write a synthetic data set (the bundled sample, or a city-scale one for benchmarks)
    Generate {
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
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PresetArg {
    /// Changning District, the bundled sample
    Changning,
    /// Central Shanghai, city scale
    Shanghai,
}

/// Sets the allocator's options before the first allocation (the runtime allocates before
/// `main`), so that the first arena is reserved with them too.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn tune() {
        lifecircle::tune_allocator();
    }
    tune
};

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    lifecircle::tune_allocator();
    init_tracing();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lifecircle: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref()).context("loading configuration")?;
    match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { listen } => serve(config, listen),
        Command::Check => check(config),
        Command::Generate {
            preset,
            facilities,
            seed,
            out,
        } => generate(preset, facilities, seed, &out),
    }
}

fn serve(mut config: Config, listen: Option<std::net::SocketAddr>) -> anyhow::Result<ExitCode> {
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let served = runtime.block_on(async move {
        let addr = config.server.listen;
        let state = tokio::task::spawn_blocking(move || AppState::load(config))
            .await
            .context("loading data")?
            .context("loading data")?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        state
            .spawn_precompute()
            .context("starting the precompute thread")?;
        tracing::info!("listening on http://{bound}");
        let maplibre = lifecircle::http::web::MaplibreAssets::find(&state.config);
        if maplibre.version.is_none() {
            tracing::warn!(
                dir = %maplibre.dist.display(),
                "the map page at / needs MapLibre GL JS: {}",
                lifecircle::http::web::INSTALL_HINT
            );
        }
        lifecircle::serve(state, listener, shutdown_signal())
            .await
            .context("serving HTTP")?;
        Ok(ExitCode::SUCCESS)
    });
    // Work abandoned by dropped requests polls its cancellation flag and stops; do not wait on
    // anything that does not, so the process exits promptly whatever it was doing.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    if served.is_ok() {
        tracing::info!("shut down cleanly");
    }
    served
}

fn check(config: Config) -> anyhow::Result<ExitCode> {
    println!("configuration: {} (valid)", config.origin);
    let taxonomy = config.taxonomy()?;
    println!(
        "taxonomy: {} categories, {} groups",
        taxonomy.len(),
        taxonomy.groups().len()
    );
    let snapshot = lifecircle::snapshot::build(&config, 1).context("checking data")?;
    print!("{}", snapshot.report);
    let dataset = &snapshot.dataset;
    for (id, category) in taxonomy.categories() {
        println!(
            "  {:<18} {:>7} facilities",
            category.id,
            dataset.facilities_of(id).len()
        );
    }
    let [w, s, e, n] = dataset.bounds;
    println!("bounds: {w:.5},{s:.5},{e:.5},{n:.5}");
    let n_skipped: usize = snapshot.report.files.iter().map(|f| f.n_skipped()).sum();
    println!(
        "ok: {} facilities loaded, {n_skipped} features skipped",
        dataset.facilities().len()
    );
    Ok(ExitCode::SUCCESS)
}

fn generate(
    preset: PresetArg,
    facilities: Option<usize>,
    seed: Option<u64>,
    out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    use lifecircle::generate::{GenerateOptions, write_dataset};
    let mut options = match preset {
        PresetArg::Changning => GenerateOptions::changning(),
        PresetArg::Shanghai => GenerateOptions::shanghai(facilities.unwrap_or(1_000_000)),
    };
    if let Some(n) = facilities {
        options.n_facilities = n;
    }
    if let Some(seed) = seed {
        options.seed = seed;
    }
    let started = std::time::Instant::now();
    let summary = write_dataset(&options, out)
        .with_context(|| format!("generating data into {}", out.display()))?;
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
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LIFECIRCLE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
