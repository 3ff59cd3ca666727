//! Tile archives: `export` writes PMTiles and MBTiles whose every tile is the tile the server
//! serves, read back by independent readers (the `pmtiles` crate and Python's sqlite3 + gzip
//! here; the `pmtiles` npm package and MapLibre in Chromium in `tests/browser/archives.rs`); a tile over the size budget is an error naming it, in export and
//! when served.

use std::path::Path;

use lifecircle::export::{self, ArchiveFormat, ExportOptions, SourceKind, Tileset};
use lifecircle::geom::TileKey;
use lifecircle::state::tiles_covering;

use crate::archive_support::{export_sample, gunzip, served, tile_path, unhex};
use crate::support::{self, TestServer};

#[test]
fn exported_archives_hold_exactly_the_served_tiles() {
    let server = support::sample();
    let dir = tempfile::tempdir().unwrap();
    let (options, summaries) = export_sample(&server, dir.path());
    let snapshot = server.state.snapshot.load_full();
    let sets = export::tilesets(&snapshot, &options);
    assert_eq!(sets.len(), 5, "facilities ×2, basemap, heatmap, bands");
    assert_eq!(summaries.len(), sets.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (tileset, summary) in sets.iter().zip(&summaries) {
        let name = tileset.name(&snapshot);
        assert_eq!(summary.tileset, name);
        let pmtiles_path = dir.path().join(format!("{name}.pmtiles"));
        let mbtiles_path = dir.path().join(format!("{name}.mbtiles"));
        assert_eq!(
            summary.files,
            vec![pmtiles_path.clone(), mbtiles_path.clone()]
        );
        assert!(summary.n_written > 0, "{name}: tiles with content");

        // The pmtiles crate's reader.
        let reader = runtime
            .block_on(pmtiles::AsyncPmTilesReader::new_with_path(&pmtiles_path))
            .unwrap();
        let header = reader.get_header();
        let png = matches!(tileset, Tileset::Heatmap(_));
        assert_eq!(
            header.tile_compression,
            if png {
                pmtiles::Compression::None
            } else {
                pmtiles::Compression::Gzip
            },
            "{name}"
        );
        assert_eq!((header.min_zoom, header.max_zoom), (0, 16), "{name}");
        let metadata: serde_json::Value =
            serde_json::from_str(&runtime.block_on(reader.get_metadata()).unwrap()).unwrap();
        assert_eq!(
            metadata["attribution"],
            server.state.config.data.attribution
        );
        assert_eq!(metadata["lifecircle"]["category_filter"], false);
        if !png {
            assert!(
                metadata["vector_layers"]
                    .as_array()
                    .is_some_and(|l| !l.is_empty()),
                "{name}: vector_layers"
            );
        }

        // Python's sqlite3 + gzip.
        let python = std::process::Command::new("python3")
            .arg(support::repo_root().join("tests/it/read_mbtiles.py"))
            .arg(&mbtiles_path)
            .output()
            .expect("python3 runs");
        assert!(
            python.status.success(),
            "{}",
            String::from_utf8_lossy(&python.stderr)
        );
        let mbtiles: serde_json::Value = serde_json::from_slice(&python.stdout).unwrap();
        assert_eq!(
            mbtiles["metadata"]["format"],
            if png { "png" } else { "pbf" }
        );
        let mb_tiles = mbtiles["tiles"].as_object().unwrap();

        // Every tile of the pyramid over the area: in the archives exactly when the server
        // answers with content, and the same bytes.
        let bounds = export::area_bounds(&snapshot, &options, *tileset);
        let keys = tiles_covering(bounds, options.minzoom, options.maxzoom);
        assert_eq!(keys.len() as u64, summary.n_tiles);
        let mut n_with_content = 0;
        for key in keys {
            let path = tile_path(*tileset, &server, key);
            let from_server = served(&server, &path);
            let stored = runtime
                .block_on(reader.get_tile(pmtiles::TileCoord::new(key.z, key.x, key.y).unwrap()))
                .unwrap();
            let in_mbtiles = mb_tiles.get(&format!("{}/{}/{}", key.z, key.x, key.y));
            let Some(from_server) = from_server else {
                assert!(
                    stored.is_none(),
                    "{path}: empty (204) but in the PMTiles archive"
                );
                assert!(
                    in_mbtiles.is_none(),
                    "{path}: empty (204) but in the MBTiles archive"
                );
                continue;
            };
            n_with_content += 1;
            let stored = stored.unwrap_or_else(|| panic!("{path}: missing from PMTiles"));
            let in_mbtiles = in_mbtiles.unwrap_or_else(|| panic!("{path}: missing from MBTiles"));
            let mb_stored = unhex(in_mbtiles["stored"].as_str().unwrap());
            let mb_raw = unhex(in_mbtiles["raw"].as_str().unwrap());
            if png {
                assert_eq!(&stored[..], &from_server.raw[..], "{path}: PMTiles PNG");
                assert_eq!(mb_stored, from_server.raw, "{path}: MBTiles PNG");
                continue;
            }
            assert_eq!(
                gunzip(&stored),
                from_server.raw,
                "{path}: PMTiles, decompressed"
            );
            assert_eq!(mb_raw, from_server.raw, "{path}: MBTiles, decompressed");
            assert_eq!(in_mbtiles["gzip"], true, "{path}: MBTiles tile is gzip");
            if let Some(gzip) = &from_server.gzip {
                assert_eq!(
                    &stored[..],
                    &gzip[..],
                    "{path}: PMTiles holds the server's gzip"
                );
                assert_eq!(&mb_stored, gzip, "{path}: MBTiles holds the server's gzip");
            }
        }
        assert_eq!(n_with_content, summary.n_written, "{name}");
        assert_eq!(mb_tiles.len() as u64, summary.n_written, "{name}");
    }
}

#[test]
fn a_tile_over_the_budget_is_an_error_naming_it() {
    // Basemap tiles of the sample's streets are larger than 1024 bytes at zoom 14.
    let server = support::spawn("[tiles]\nmax_tile_bytes = 1024\n");
    let snapshot = server.state.snapshot.load_full();
    let area = snapshot.coverage.area().bbox;
    let key = TileKey::containing(
        lifecircle::geom::lonlat_to_merc((area[0] + area[2]) / 2.0, (area[1] + area[3]) / 2.0),
        14,
    );
    let path = format!("/tiles/basemap/{}/{}/{}.mvt", key.z, key.x, key.y);
    let response = support::get(&server.url(&path));
    assert_eq!(response.status(), 500, "{path}");
    let body: serde_json::Value = response.json().unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains(&key.to_string()) && message.contains("basemap"),
        "{message}"
    );
    assert!(message.contains("tiles.max_tile_bytes"), "{message}");
    assert_eq!(body["status"], 500);

    let dir = tempfile::tempdir().unwrap();
    let options = ExportOptions {
        out_dir: dir.path().to_owned(),
        formats: vec![ArchiveFormat::Pmtiles, ArchiveFormat::Mbtiles],
        sources: vec![SourceKind::Basemap],
        minzoom: 14,
        maxzoom: 14,
        bbox: None,
        gcj02: false,
        coverage_ids: vec![],
    };
    let error = export::export(&snapshot, &server.state.config, &options, &export::Quiet)
        .expect_err("an over-budget tile stops the export");
    let text = error.to_string();
    assert!(text.contains("basemap") && text.contains("14/"), "{text}");
    assert!(text.contains("over the budget of 1024 bytes"), "{text}");
    // Nothing half-written is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn toml_path(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// A tile as answered: the body and ETag without gzip, and with gzip offered (the gzip body
/// when the server sent one).
#[derive(Debug, PartialEq)]
struct Answer {
    raw: Vec<u8>,
    etag: String,
    gzip: Option<Vec<u8>>,
    gzip_etag: String,
}

/// A tile's [`Answer`]; `None` for 204.
fn served_with_etags(server: &TestServer, path: &str) -> Option<Answer> {
    let client = support::client();
    let plain = client.get(server.url(path)).send().unwrap();
    if plain.status() == 204 {
        return None;
    }
    assert_eq!(plain.status(), 200, "GET {path}");
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let raw = plain.bytes().unwrap().to_vec();
    let zipped = client
        .get(server.url(path))
        .header("accept-encoding", "gzip")
        .send()
        .unwrap();
    let gz_etag = zipped.headers()["etag"].to_str().unwrap().to_owned();
    let is_gzip = zipped.headers().get("content-encoding").is_some();
    let body = zipped.bytes().unwrap().to_vec();
    Some(Answer {
        raw,
        etag,
        gzip: is_gzip.then_some(body),
        gzip_etag: gz_etag,
    })
}

#[test]
fn archives_serve_exactly_what_rendering_serves() {
    let renderer = support::sample();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = renderer.state.snapshot.load_full();
    let config = &renderer.state.config;
    let options = ExportOptions {
        out_dir: dir.path().to_owned(),
        formats: vec![ArchiveFormat::Pmtiles, ArchiveFormat::Mbtiles],
        sources: vec![SourceKind::Facilities, SourceKind::Basemap],
        minzoom: config.tiles.minzoom,
        maxzoom: config.tiles.maxzoom,
        bbox: None,
        gcj02: false,
        coverage_ids: vec![],
    };
    export::export(&snapshot, config, &options, &export::Quiet).unwrap();
    // Facilities from PMTiles, the basemap from MBTiles.
    let archived = support::spawn(&format!(
        "[tiles.archives]\nfacilities = {}\nbasemap = {}\n",
        toml_path(&dir.path().join("facilities.pmtiles")),
        toml_path(&dir.path().join("basemap.mbtiles")),
    ));
    let tilejson = support::get_json(&archived.url("/tiles/facilities.json"));
    assert_eq!(tilejson["archive"]["file"], "facilities.pmtiles");
    assert_eq!(tilejson["archive"]["category_filter"], false);
    assert_eq!(
        support::get_json(&archived.url("/tiles/basemap.json"))["archive"]["file"],
        "basemap.mbtiles"
    );
    for tileset in [
        Tileset::Facilities(lifecircle::tiles::Datum::Wgs84),
        Tileset::Basemap,
    ] {
        let bounds = export::area_bounds(&snapshot, &options, tileset);
        for key in tiles_covering(bounds, options.minzoom, options.maxzoom) {
            let path = tile_path(tileset, &renderer, key);
            assert_eq!(
                served_with_etags(&archived, &path),
                served_with_etags(&renderer, &path),
                "{path}: archive and rendering differ"
            );
        }
    }
    // Nothing of the archived variants was rendered.
    let renders = archived.state.cache.stats.renders.lock().unwrap().clone();
    assert!(
        renders.is_empty(),
        "rendered although archived: {renders:?}"
    );
    // A filtered variant is not in the archive: rendered, as before.
    let key = TileKey::containing(
        lifecircle::geom::lonlat_to_merc(
            snapshot.dataset.center()[0],
            snapshot.dataset.center()[1],
        ),
        12,
    );
    let filtered = format!(
        "/tiles/facilities/{}/{}/{}.mvt?categories=medical",
        key.z, key.x, key.y
    );
    assert_eq!(
        served_with_etags(&archived, &filtered),
        served_with_etags(&renderer, &filtered)
    );

    // A file that is no archive is refused at start, naming it.
    let bogus = dir.path().join("bogus.pmtiles");
    std::fs::write(&bogus, b"not an archive").unwrap();
    let config = lifecircle::config::Config::from_toml_str(
        &format!("[tiles.archives]\nfacilities = {}\n", toml_path(&bogus)),
        &support::repo_root(),
    )
    .unwrap();
    let error = match lifecircle::state::AppState::load(config) {
        Ok(_) => panic!("a broken archive is refused"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("bogus.pmtiles"), "{error}");
    let unknown = lifecircle::config::Config::from_toml_str(
        "[tiles.archives]\ncoverage = \"x.pmtiles\"\n",
        &support::repo_root(),
    )
    .expect_err("unknown source");
    assert!(
        unknown.to_string().contains("tiles.archives.coverage"),
        "{unknown}"
    );
}
