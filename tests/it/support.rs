//! Test support: a real lifecircle server on an ephemeral 127.0.0.1 port, and HTTP helpers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lifecircle::config::Config;
use lifecircle::state::AppState;

/// The repository root, where `lifecircle.toml` and `data/` live.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A server running the production router in its own runtime; stopped on drop.
pub struct TestServer {
    pub base: String,
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Holds the feedback database of servers started with [`spawn`]; removed after the server.
    _scratch: Option<tempfile::TempDir>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts a server with `config_toml` merged over the embedded default; relative data paths
/// resolve against the repository root, except a relative feedback database path, which goes
/// to a fresh scratch directory. Precompute is not started, so tiles render on demand.
pub fn spawn(config_toml: &str) -> TestServer {
    let mut config =
        Config::from_toml_str(config_toml, &repo_root()).expect("test config is valid");
    let scratch = tempfile::tempdir().expect("scratch directory");
    if config.feedback.path.is_relative() {
        config.feedback.path = scratch.path().join(&config.feedback.path);
    }
    start(config, Some(scratch))
}

/// Like [`spawn`], resolving every relative path (the feedback database too) against `base_dir`.
pub fn spawn_with(config_toml: &str, base_dir: &Path) -> TestServer {
    let config = Config::from_toml_str(config_toml, base_dir).expect("test config is valid");
    start(config, None)
}

fn start(config: Config, scratch: Option<tempfile::TempDir>) -> TestServer {
    let state = AppState::load(config).expect("test data loads");
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            lifecircle::serve(server_state, listener, async {
                let _ = shutdown_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let addr = addr_rx.recv().expect("server thread reports its address");
    TestServer {
        base: format!("http://{addr}"),
        state,
        shutdown: Some(shutdown_tx),
        thread: Some(thread),
        _scratch: scratch,
    }
}

/// The sample-data server most tests share the setup of.
pub fn sample() -> TestServer {
    spawn("")
}

/// A blocking HTTP client that does not decompress, so tests see the bytes the server sent.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
}

/// GET `url`, returning the response (any status).
pub fn get(url: &str) -> reqwest::blocking::Response {
    client()
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// GET `url` as JSON, asserting status 200.
pub fn get_json(url: &str) -> serde_json::Value {
    let response = get(url);
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().unwrap()
}

/// The bundled sample's files (the data and the 2021 baseline).
pub const SAMPLE_FILES: [&str; 5] = [
    "facilities.fgb",
    "roads.fgb",
    "subdistricts.fgb",
    "residents.fgb",
    "baseline_2021.fgb",
];

/// Copies the bundled sample's files into `dir` (created when missing).
pub fn copy_sample_data(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for name in SAMPLE_FILES {
        std::fs::copy(
            repo_root().join("data/changning").join(name),
            dir.join(name),
        )
        .unwrap_or_else(|e| panic!("copying {name} into {}: {e}", dir.display()));
    }
}

/// A config whose base directory may be anywhere but whose data is the bundled sample.
pub fn config_elsewhere(extra: &str) -> String {
    let data = repo_root().join("data/changning");
    let path = |name: &str| toml::Value::String(data.join(name).display().to_string()).to_string();
    format!(
        "[data]\nfacilities = {}\nroads = {}\nsubdistricts = {}\nresidents = {}\n{extra}",
        path("facilities.fgb"),
        path("roads.fgb"),
        path("subdistricts.fgb"),
        path("residents.fgb"),
    )
}

/// A facility as the sample file states it, read with the flatgeobuf crate rather than the
/// server's ingest, so tests compare the server against its source.
pub struct SourceFacility {
    pub id: u64,
    pub name: String,
    /// The raw `category` value (an id, an alias, or something unknown).
    pub raw_category: String,
    pub lon: f64,
    pub lat: f64,
}

/// The facilities of `data/changning/facilities.fgb` residents see by default (`status` empty
/// or 现状, i.e. existing; not the sample's closed, planned and under-construction ones), in
/// file order.
pub fn sample_source_facilities() -> Vec<SourceFacility> {
    use flatgeobuf::{FallibleStreamingIterator, FgbReader};
    use geozero::{FeatureProperties, ToGeo};
    let path = repo_root().join("data/changning/facilities.fgb");
    let mut file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut features = FgbReader::open(&mut file)
        .unwrap()
        .select_all_seq()
        .unwrap();
    let mut out = Vec::new();
    while let Some(feature) = features.next().unwrap() {
        let status: String = feature.property("status").unwrap_or_default();
        if !matches!(status.as_str(), "" | "现状") {
            continue;
        }
        let point = match feature.to_geo().unwrap() {
            geo::Geometry::Point(p) => p,
            // A few parks are polygons, placed at an interior point.
            geo::Geometry::Polygon(p) => geo::InteriorPoint::interior_point(&p).unwrap(),
            other => panic!("unexpected geometry {other:?}"),
        };
        out.push(SourceFacility {
            id: feature.property("id").unwrap(),
            name: feature.property("name").unwrap(),
            raw_category: feature.property("category").unwrap_or_default(),
            lon: point.x(),
            lat: point.y(),
        });
    }
    out
}
