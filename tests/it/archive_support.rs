//! What the archive tests share (`tests/it/archives.rs`, and the node/Chromium checks in
//! `tests/browser/archives.rs`): the server's answer for a tile and the sample's export.

use std::io::Read;
use std::path::Path;

use lifecircle::export::{self, ArchiveFormat, ExportOptions, SourceKind, Tileset};
use lifecircle::geom::TileKey;

use crate::support::{self, TestServer};

/// What the server answers for one tile: `None` for 204 (empty), else the uncompressed body and,
/// when the server gzips it, the gzip body.
pub struct Served {
    pub raw: Vec<u8>,
    pub gzip: Option<Vec<u8>>,
}

pub fn served(server: &TestServer, path: &str) -> Option<Served> {
    let client = support::client();
    let plain = client.get(server.url(path)).send().unwrap();
    if plain.status() == 204 {
        return None;
    }
    assert_eq!(plain.status(), 200, "GET {path}");
    assert!(plain.headers().get("content-encoding").is_none());
    let raw = plain.bytes().unwrap().to_vec();
    let zipped = client
        .get(server.url(path))
        .header("accept-encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(zipped.status(), 200, "GET {path} (gzip)");
    let is_gzip = zipped
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let body = zipped.bytes().unwrap().to_vec();
    Some(Served {
        raw,
        gzip: is_gzip.then_some(body),
    })
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("archive tile is gzip");
    out
}

pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The server path of a tile of `tileset`.
pub fn tile_path(tileset: Tileset, server: &TestServer, key: TileKey) -> String {
    let snapshot = server.state.snapshot.load_full();
    let TileKey { z, x, y } = key;
    match tileset {
        Tileset::Facilities(lifecircle::tiles::Datum::Wgs84) => {
            format!("/tiles/facilities/{z}/{x}/{y}.mvt")
        }
        Tileset::Facilities(datum) => {
            format!("/tiles/facilities/{z}/{x}/{y}.mvt?crs={}", datum.as_str())
        }
        Tileset::Basemap => format!("/tiles/basemap/{z}/{x}/{y}.mvt"),
        Tileset::Heatmap(id) => format!(
            "/coverage/{}/{z}/{x}/{y}.png",
            snapshot.coverage.id_name(id)
        ),
        Tileset::Bands(id) => format!(
            "/coverage/{}/{z}/{x}/{y}.mvt",
            snapshot.coverage.id_name(id)
        ),
    }
}

/// Exports the sample's whole pyramid (facilities in both datums, basemap, the `all` coverage
/// heatmap and bands) in both formats.
pub fn export_sample(
    server: &TestServer,
    dir: &Path,
) -> (ExportOptions, Vec<export::ArchiveSummary>) {
    let snapshot = server.state.snapshot.load_full();
    let config = &server.state.config;
    let options = ExportOptions {
        out_dir: dir.to_owned(),
        formats: vec![ArchiveFormat::Pmtiles, ArchiveFormat::Mbtiles],
        sources: vec![
            SourceKind::Facilities,
            SourceKind::Basemap,
            SourceKind::Coverage,
        ],
        minzoom: config.tiles.minzoom,
        maxzoom: config.tiles.maxzoom,
        bbox: None,
        gcj02: true,
        coverage_ids: vec!["all".into()],
    };
    let summaries = export::export(&snapshot, config, &options, &export::Quiet).unwrap();
    (options, summaries)
}
