//! The exported archives read by what browsers use: the `pmtiles` npm package (which MapLibre's
//! pmtiles:// protocol reads with) gives every tile of the sample's facility archive as the
//! server serves it, and the map page draws a static PMTiles copy through pmtiles://.

use std::collections::BTreeMap;

use lifecircle::export::{self, ArchiveFormat, ExportOptions, SourceKind};
use lifecircle::state::tiles_covering;

use std::path::Path;

use crate::archive_support::{export_sample, served, tile_path, unhex};
use crate::node_script;
use crate::support;

pub fn pmtiles_js_reads_every_tile_as_served() {
    let server = support::sample();
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = export_sample(&server, dir.path());
    let snapshot = server.state.snapshot.load_full();
    let sets = export::tilesets(&snapshot, &options);
    // The pmtiles npm package (what MapLibre's pmtiles:// protocol reads with) agrees too.
    let facilities = dir.path().join("facilities.pmtiles");
    let bounds = export::area_bounds(&snapshot, &options, sets[0]);
    let keys = tiles_covering(bounds, options.minzoom, options.maxzoom);
    let list = dir.path().join("tiles.txt");
    let lines: String = keys
        .iter()
        .map(|k| format!("{} {} {}\n", k.z, k.x, k.y))
        .collect();
    std::fs::write(&list, lines).unwrap();
    let output = node_script(
        "read_pmtiles.mjs",
        &[facilities.to_str().unwrap(), list.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(read["header"]["specVersion"], 3);
    assert_eq!(read["metadata"]["vector_layers"][0]["id"], "facilities");
    let tiles: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(read["tiles"].clone()).unwrap();
    assert_eq!(tiles.len(), keys.len());
    for key in keys {
        let path = tile_path(sets[0], &server, key);
        let tile = &tiles[&format!("{}/{}/{}", key.z, key.x, key.y)];
        match served(&server, &path) {
            None => assert!(tile.is_null(), "{path}: empty but read by pmtiles.js"),
            Some(s) => assert_eq!(unhex(tile.as_str().unwrap()), s.raw, "{path}: pmtiles.js"),
        }
    }
}

pub fn page_reads_a_static_pmtiles_copy_through_the_pmtiles_protocol() {
    let dir = tempfile::tempdir().unwrap();
    {
        let renderer = support::sample();
        let snapshot = renderer.state.snapshot.load_full();
        let config = &renderer.state.config;
        let options = ExportOptions {
            out_dir: dir.path().to_owned(),
            formats: vec![ArchiveFormat::Pmtiles],
            sources: vec![SourceKind::Facilities],
            minzoom: config.tiles.minzoom,
            maxzoom: config.tiles.maxzoom,
            bbox: None,
            gcj02: false,
            coverage_ids: vec![],
        };
        export::export(&snapshot, config, &options, &export::Quiet).unwrap();
    }
    let statics = StaticServer::start(dir.path());
    let archive_url = format!("{}/facilities.pmtiles", statics.base);
    // The static host answers byte ranges, as the pmtiles protocol needs.
    let range = support::client()
        .get(&archive_url)
        .header("range", "bytes=0-126")
        .send()
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(&range.bytes().unwrap()[..7], b"PMTiles");

    let server = support::spawn(&format!(
        "[web]\nfacilities_pmtiles_url = \"{archive_url}\"\n"
    ));
    let page_config = support::get_json(&server.url("/assets/config.json"));
    assert_eq!(page_config["facilities_pmtiles_url"], archive_url.as_str());
    let policy = support::get(&server.url("/")).headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains(&format!("connect-src 'self' {};", statics.base)),
        "{policy}"
    );
    let out = support::repo_root().join("target/screenshots");
    let output = node_script(
        "page_pmtiles.mjs",
        &[
            "--base",
            &server.base,
            "--archive",
            &archive_url,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "page_pmtiles.mjs printed no report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success() && report["ok"] == true,
        "browser test failed: {}",
        serde_json::to_string_pretty(&report).unwrap()
    );
}

/// A static file server with HTTP Range support (tower-http's `ServeDir`) and CORS, on
/// 127.0.0.1, as object storage or a CDN would serve an archive; stopped on drop.
struct StaticServer {
    base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StaticServer {
    fn start(dir: &Path) -> StaticServer {
        let dir = dir.to_owned();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new()
                    .fallback_service(tower_http::services::ServeDir::new(dir))
                    .layer(
                        tower_http::cors::CorsLayer::new()
                            .allow_origin(tower_http::cors::Any)
                            .allow_headers(tower_http::cors::Any)
                            .expose_headers(tower_http::cors::Any),
                    );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        StaticServer {
            base: format!("http://{addr}"),
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
