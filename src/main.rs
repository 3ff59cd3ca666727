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
        /// Serve the data even when it fails the [data] guards (too many rows skipped)
        #[arg(long)]
        force: bool,
    },
    /// Validate the configuration and data files and print a report; exit 1 when the data fails
    /// the [data] guards
    Check,
    /// Deprecated: the generator is its own program now; prints the command that replaces this
    #[command(hide = true)]
    Generate {
        #[arg(long)]
        preset: Option<String>,
        #[arg(long)]
        facilities: Option<usize>,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write tile archives (PMTiles, MBTiles) of the facilities, the basemap and the coverage
    /// heatmaps and bands of the default profile, one archive per tile set, for static hosting
    Export {
        /// Output directory (created if missing)
        #[arg(long)]
        out: PathBuf,
        /// Archive formats, comma-separated: pmtiles, mbtiles
        #[arg(long, value_delimiter = ',', default_value = "pmtiles")]
        format: Vec<FormatArg>,
        /// Tile sets, comma-separated: facilities, basemap, coverage
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "facilities,basemap,coverage"
        )]
        sources: Vec<SourceArg>,
        /// Lowest zoom (default: tiles.minzoom)
        #[arg(long)]
        minzoom: Option<u8>,
        /// Highest zoom (default: tiles.maxzoom)
        #[arg(long)]
        maxzoom: Option<u8>,
        /// Only tiles meeting this box (west,south,east,north in WGS84 degrees); default: the
        /// analysis area
        #[arg(long, value_parser = parse_bbox)]
        bbox: Option<[f64; 4]>,
        /// Also write the facility tiles in GCJ-02 (facilities-gcj02), for Amap/Tencent basemaps
        #[arg(long)]
        gcj02: bool,
        /// Coverage ids to export, comma-separated (all, a group, a category); default: every id
        #[arg(long, value_delimiter = ',')]
        coverage_ids: Vec<String>,
    },
    /// Convert other data into the files the server reads, with a configuration for them
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
}

#[derive(Subcommand)]
enum ImportSource {
    /// An OpenStreetMap extract (.osm.pbf): facilities, the walking network, subdistricts
    Osm {
        /// The extract, e.g. a regional download
        file: PathBuf,
        /// Keep only this box (west,south,east,north in WGS84 degrees) and its margin
        #[arg(long, value_parser = parse_bbox, conflicts_with = "boundary")]
        bbox: Option<[f64; 4]>,
        /// Keep only what lies within the bounding box of these polygons (any readable format)
        /// and its margin; the polygons become the analysis area
        #[arg(long)]
        boundary: Option<PathBuf>,
        /// Also keep facilities and streets this many metres outside the box or boundary
        #[arg(long, default_value_t = 1000.0)]
        margin_m: f64,
        /// admin_level of the boundary=administrative relations written as subdistricts
        /// (8: township level, 乡/镇/街道, in China)
        #[arg(long, default_value = "8")]
        admin_level: String,
        /// Output directory (created if missing): FlatGeobuf files and lifecircle.toml
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_bbox(text: &str) -> Result<[f64; 4], String> {
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("`{text}` is not four numbers west,south,east,north"))?;
    match parts[..] {
        [w, s, e, n]
            if w < e
                && s < n
                && lifecircle::geom::is_valid_lonlat(w, s)
                && lifecircle::geom::is_valid_lonlat(e, n) =>
        {
            Ok([w, s, e, n])
        }
        _ => Err(format!(
            "`{text}` is not a box west,south,east,north in degrees with west < east and south < north"
        )),
    }
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum FormatArg {
    Pmtiles,
    Mbtiles,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum SourceArg {
    Facilities,
    Basemap,
    Coverage,
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
    let default = Command::Serve {
        listen: None,
        force: false,
    };
    match cli.command.unwrap_or(default) {
        Command::Serve { listen, force } => serve(config, listen, force),
        Command::Check => check(config),
        Command::Generate {
            preset,
            facilities,
            seed,
            out,
        } => generate_moved(preset, facilities, seed, out),
        Command::Export {
            out,
            format,
            sources,
            minzoom,
            maxzoom,
            bbox,
            gcj02,
            coverage_ids,
        } => {
            use lifecircle::export::{ArchiveFormat, ExportOptions, SourceKind};
            let options = ExportOptions {
                minzoom: minzoom.unwrap_or(config.tiles.minzoom),
                maxzoom: maxzoom.unwrap_or(config.tiles.maxzoom),
                out_dir: out,
                formats: dedup(format.iter().map(|f| match f {
                    FormatArg::Pmtiles => ArchiveFormat::Pmtiles,
                    FormatArg::Mbtiles => ArchiveFormat::Mbtiles,
                })),
                sources: dedup(sources.iter().map(|s| match s {
                    SourceArg::Facilities => SourceKind::Facilities,
                    SourceArg::Basemap => SourceKind::Basemap,
                    SourceArg::Coverage => SourceKind::Coverage,
                })),
                bbox,
                gcj02,
                coverage_ids,
            };
            export(config, &options)
        }
        Command::Import { source } => match source {
            ImportSource::Osm {
                file,
                bbox,
                boundary,
                margin_m,
                admin_level,
                out,
            } => import_osm(
                &config,
                &file,
                bbox,
                boundary.as_deref(),
                margin_m,
                admin_level,
                &out,
            ),
        },
    }
}

fn serve(
    mut config: Config,
    listen: Option<std::net::SocketAddr>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    for warning in config.deprecations() {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let served = runtime.block_on(async move {
        let addr = config.server.listen;
        let state = tokio::task::spawn_blocking(move || AppState::load_with(config, force))
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
        if let Some(missing) = maplibre.missing() {
            tracing::warn!("the map page at / cannot draw the map: {missing}");
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
        "taxonomy: {} categories, {} groups, {} category rules",
        taxonomy.len(),
        taxonomy.groups().len(),
        taxonomy.rules().len()
    );
    let options = lifecircle::snapshot::BuildOptions {
        force: true,
        previous_facilities: None,
    };
    let snapshot =
        lifecircle::snapshot::build_with(&config, 1, options).context("checking data")?;
    print!("{}", snapshot.report);
    let dataset = &snapshot.dataset;
    println!("facilities per category:");
    for (id, category) in taxonomy.categories() {
        let members = dataset.facilities_of(id);
        let n_unnamed = members
            .iter()
            .filter(|&&idx| dataset.facility(idx).name().is_empty())
            .count();
        let unnamed = if n_unnamed > 0 {
            format!(" ({n_unnamed} unnamed)")
        } else {
            String::new()
        };
        println!(
            "  {:<18} {:>7} facilities{unnamed}",
            category.id,
            members.len()
        );
    }
    let [w, s, e, n] = dataset.bounds;
    println!("bounds: {w:.5},{s:.5},{e:.5},{n:.5}");
    if !dataset.roads.is_empty() {
        let network = lifecircle::coverage::graph::NetworkCheck::of(
            &dataset.roads,
            &config.coverage.exclude_highways,
            config.coverage.join_tolerance_m,
        );
        print!("{network}");
    }
    let report = &snapshot.report;
    let verdict =
        lifecircle::ingest::check_guards(&config, report, dataset.facilities().len(), None);
    match verdict {
        Ok(()) => {
            println!(
                "ok: {} facilities loaded, {} of {} facility rows skipped, {} outside the configured area",
                dataset.facilities().len(),
                report.n_facility_skipped,
                report.n_facility_rows,
                report.n_facility_out_of_area
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refused) => {
            println!("refused: {refused}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The items in their first order, each once.
fn dedup<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn export(config: Config, options: &lifecircle::export::ExportOptions) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let snapshot =
        lifecircle::snapshot::build_with(&config, 1, lifecircle::snapshot::BuildOptions::default())
            .context("loading data")?;
    let bar = ExportBar::new();
    let written = lifecircle::export::export(&snapshot, &config, options, &bar)
        .with_context(|| format!("exporting into {}", options.out_dir.display()))?;
    bar.0.finish_and_clear();
    for archive in &written {
        println!(
            "{:<28} {:>8} tiles with content of {:>8}, {:>7.1} MB, {:.1} s",
            archive.tileset,
            archive.n_written,
            archive.n_tiles,
            archive.tile_bytes as f64 / 1e6,
            archive.elapsed.as_secs_f64()
        );
        for file in &archive.files {
            println!("  {}", file.display());
        }
    }
    println!(
        "exported {} tile sets, zoom {}..={}, in {:.1} s",
        written.len(),
        options.minzoom,
        options.maxzoom,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The export's progress bar on stderr (drawn only on a terminal).
struct ExportBar(indicatif::ProgressBar);

impl ExportBar {
    fn new() -> ExportBar {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:28} [{bar:40}] {pos}/{len} tiles ({eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        ExportBar(bar)
    }
}

impl lifecircle::export::Progress for ExportBar {
    fn start_tileset(&self, name: &str, n_tiles: u64) {
        self.0.set_message(name.to_owned());
        self.0.set_length(n_tiles);
        self.0.set_position(0);
    }

    fn advance(&self, n_tiles: u64) {
        self.0.inc(n_tiles);
    }
}

/// `lifecircle generate`, kept for one release: says which command replaces it, with the same
/// options, and exits 2 without writing anything.
fn generate_moved(
    preset: Option<String>,
    facilities: Option<usize>,
    seed: Option<u64>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut command = String::from("cargo run --release -p lifecircle-generate --");
    if let Some(preset) = preset {
        command.push_str(&format!(" --preset {preset}"));
    }
    if let Some(n) = facilities {
        command.push_str(&format!(" --facilities {n}"));
    }
    if let Some(seed) = seed {
        command.push_str(&format!(" --seed {seed}"));
    }
    let out = out.map_or_else(|| "DIR".to_owned(), |p| p.display().to_string());
    command.push_str(&format!(" --out {out}"));
    eprintln!(
        "`lifecircle generate` has moved out of the server into its own program \
         (crates/lifecircle-generate); run:\n  {command}"
    );
    Ok(ExitCode::from(2))
}

fn import_osm(
    config: &Config,
    file: &std::path::Path,
    bbox: Option<[f64; 4]>,
    boundary: Option<&std::path::Path>,
    margin_m: f64,
    admin_level: String,
    out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    use lifecircle::osm;
    anyhow::ensure!(
        (0.0..=100_000.0).contains(&margin_m),
        "--margin-m must be from 0 to 100000 metres, not {margin_m}"
    );
    let region = match (bbox, boundary) {
        (Some(bbox), _) => osm::Region::Bbox(bbox),
        (None, Some(path)) => osm::Region::Boundary(
            read_boundary(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        (None, None) => osm::Region::All,
    };
    let taxonomy = config.taxonomy()?;
    let classifier = osm::TaxonomyRules::new(&taxonomy);
    let options = osm::ImportOptions {
        region: region.clone(),
        margin_m,
        admin_level,
    };
    let started = std::time::Instant::now();
    let bar = ProgressBar::new();
    let data = osm::import(file, &options, &classifier, &bar)
        .with_context(|| format!("importing {}", file.display()))?;
    bar.0.finish_and_clear();
    let written = osm::write::write_dir(&data, &region, file, out)
        .with_context(|| format!("writing into {}", out.display()))?;
    print!("{}", data.report);
    println!(
        "imported {} facilities, {} street pieces, {} subdistricts in {:.1} s:",
        data.facilities.len(),
        data.roads.len(),
        data.subdistricts.len(),
        started.elapsed().as_secs_f64()
    );
    for path in written.files.iter().chain([&written.config]) {
        println!("  {}", path.display());
    }
    println!(
        "serve it with: lifecircle --config {} serve",
        written.config.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The polygons of a boundary file, together.
fn read_boundary(path: &std::path::Path) -> anyhow::Result<geo::MultiPolygon<f64>> {
    use lifecircle::ingest::formats::{LayerReader, ReadOptions};
    let reader = LayerReader::open(path, &ReadOptions::default(), &[])?;
    let mut polygons = Vec::new();
    reader.for_each(|_, geometry, _| match geometry {
        Ok(geo::Geometry::Polygon(p)) => polygons.push(p),
        Ok(geo::Geometry::MultiPolygon(mp)) => polygons.extend(mp.0),
        _ => {}
    })?;
    anyhow::ensure!(!polygons.is_empty(), "no polygons in the file");
    Ok(geo::MultiPolygon(polygons))
}

/// The import's progress bar on stderr (drawn only on a terminal).
struct ProgressBar(indicatif::ProgressBar);

impl ProgressBar {
    fn new() -> ProgressBar {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:20} [{bar:40}] {bytes}/{total_bytes} ({eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        ProgressBar(bar)
    }
}

impl lifecircle::osm::Progress for ProgressBar {
    fn start_pass(&self, name: &str, total_bytes: u64) {
        self.0.set_message(name.to_owned());
        self.0.set_length(total_bytes);
        self.0.set_position(0);
    }

    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
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
