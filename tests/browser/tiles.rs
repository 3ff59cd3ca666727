//! The style and tiles through node's reference tools: the MapLibre style validator and the
//! `@mapbox/vector-tile` decoder, which must read the same features the server wrote.

use lifecircle::geom::{self, TileKey};

use crate::node_script;
use crate::support::{self, get};

fn tile_of(lon: f64, lat: f64, z: u8) -> TileKey {
    TileKey::containing(geom::lonlat_to_merc(lon, lat), z)
}

fn assert_ran(output: &std::process::Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn style_passes_the_maplibre_validator() {
    let server = support::sample();
    let output = node_script(
        "validate_style.mjs",
        &[&server.url("/styles/lifecircle.json")],
    );
    assert_ran(&output, "style invalid");
}

/// The ids the server's own tile holds, read with the mvt-reader crate.
fn ids_in_tile(url: &str) -> Vec<u64> {
    let response = get(url);
    assert_eq!(response.status(), 200, "{url}");
    let reader = mvt_reader::Reader::new(response.bytes().unwrap().to_vec()).unwrap();
    let mut ids: Vec<u64> = reader
        .get_features(0)
        .unwrap()
        .iter()
        .map(|f| f.id.unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

pub fn reference_decoder_agrees() {
    let server = support::sample();
    let dataset = server.state.snapshot.load().dataset.clone();
    for z in [11u8, 15] {
        let f = &dataset.facilities()[dataset.facilities().len() / 2];
        let key = tile_of(f.lon, f.lat, z);
        let url = server.url(&format!(
            "/tiles/facilities/{}/{}/{}.mvt",
            key.z, key.x, key.y
        ));
        let output = node_script("decode_tile.mjs", &[&url]);
        assert_ran(&output, "decode_tile.mjs");
        let decoded: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
        let mut ids: Vec<u64> = decoded.iter().map(|f| f["id"].as_u64().unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ids_in_tile(&url), "z{z}");
        assert!(
            decoded
                .iter()
                .all(|f| f["layer"] == "facilities" && f["type"] == 1)
        );
    }
}

pub fn reference_decoder_reads_basemap_tiles() {
    let server = support::sample();
    let [lon, lat] = server.state.snapshot.load().dataset.center();
    let key = tile_of(lon, lat, 14);
    let url = server.url(&format!("/tiles/basemap/{}/{}/{}.mvt", key.z, key.x, key.y));
    let output = node_script("decode_tile.mjs", &[&url]);
    assert_ran(&output, "decode_tile.mjs");
    let decoded: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        decoded.iter().any(|f| f["layer"] == "roads"),
        "no road decoded from {url}"
    );
}
