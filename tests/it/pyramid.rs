//! The bundled sample's whole tile pyramid, pinned: every vector tile source the default
//! configuration serves (facilities in WGS84 and GCJ-02, the basemap, the coverage isochrone
//! bands of the default profile), at every zoom it publishes, decoded with `mvt-reader` (a
//! decoder this project did not write) into a canonical text (layers by name, features sorted,
//! geometry, id and typed properties) and digested per source and zoom. The digests are compared
//! with `tests/fixtures/sample_pyramid.txt`, so a change of the renderer that changes what a
//! client sees fails here, while a change of the bytes only (key order, value tables) does not.
//!
//! A deliberate change of the sample or the tiles is accepted by rewriting the file:
//! `LIFECIRCLE_BLESS=1 cargo test --test it pyramid::`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use lifecircle::attributes::StatusSet;
use lifecircle::config::Config;
use lifecircle::geom::TileKey;
use lifecircle::state::{AppState, CoverageFormat, VectorTileSet, tiles_covering};
use lifecircle::tiles::{CategoryFilter, Datum};

use crate::decoded_tile::tile_text;
use crate::support::repo_root;

const FIXTURE: &str = "tests/fixtures/sample_pyramid.txt";

/// Digest of the decoded tiles of one source at one zoom.
#[derive(Default)]
struct ZoomDigest {
    n_tiles: usize,
    n_nonempty: usize,
    n_features: usize,
    text: String,
}

/// `source zoom tiles nonempty features digest` lines for the whole pyramid.
fn pyramid_digest() -> String {
    let mut config = Config::from_toml_str("", &repo_root()).expect("default config");
    let scratch = tempfile::tempdir().unwrap();
    config.feedback.path = scratch.path().join("feedback.sqlite");
    let state: Arc<AppState> = AppState::load(config).expect("sample loads");
    let snapshot = state.snapshot.load_full();
    let (minzoom, maxzoom) = (state.config.tiles.minzoom, state.config.tiles.maxzoom);
    let facility_keys = tiles_covering(snapshot.dataset.bounds, minzoom, maxzoom);
    let coverage = &snapshot.coverage;
    let coverage_keys = tiles_covering(coverage.shown_bounds(), minzoom, maxzoom);
    let profile = coverage.params.default_profile;

    let mut digests: BTreeMap<(String, u8), ZoomDigest> = BTreeMap::new();
    let mut add = |source: &str, key: TileKey, bytes: &[u8]| {
        let (text, n) = tile_text(bytes);
        let d = digests.entry((source.to_owned(), key.z)).or_default();
        d.n_tiles += 1;
        d.n_nonempty += usize::from(!bytes.is_empty());
        d.n_features += n;
        let _ = writeln!(d.text, "tile {key}");
        d.text.push_str(&text);
    };
    let vector_sets = [
        (
            "facilities",
            VectorTileSet::Facilities {
                filter: CategoryFilter::all(),
                datum: Datum::Wgs84,
                statuses: StatusSet::EXISTING,
            },
        ),
        (
            "facilities?crs=gcj02",
            VectorTileSet::Facilities {
                filter: CategoryFilter::all(),
                datum: Datum::Gcj02,
                statuses: StatusSet::EXISTING,
            },
        ),
        ("basemap", VectorTileSet::Basemap),
    ];
    for (name, set) in &vector_sets {
        for &key in &facility_keys {
            let tile = state
                .vector_tile(&snapshot, key, set)
                .expect("tile renders");
            add(name, key, &tile.raw);
        }
    }
    for (id_name, id) in coverage.ids() {
        let name = format!("coverage/{id_name}.mvt");
        for &key in &coverage_keys {
            let tile = state
                .coverage_tile(&snapshot, id, profile, CoverageFormat::Mvt, key)
                .expect("coverage tile renders");
            add(&name, key, &tile.raw);
        }
    }
    let mut out = String::from(
        "# source zoom tiles nonempty features xxh3-128 of the decoded canonical text\n",
    );
    for ((source, z), d) in &digests {
        let digest = xxhash_rust::xxh3::xxh3_128(d.text.as_bytes());
        let _ = writeln!(
            out,
            "{source} {z} {} {} {} {digest:032x}",
            d.n_tiles, d.n_nonempty, d.n_features
        );
    }
    out
}

#[test]
fn sample_pyramid_decodes_as_pinned() {
    let actual = pyramid_digest();
    let path = repo_root().join(FIXTURE);
    if std::env::var_os("LIFECIRCLE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).expect("write the pinned digests");
        eprintln!("wrote {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {FIXTURE} ({e}); write it with LIFECIRCLE_BLESS=1 cargo test --test it pyramid::"
        )
    });
    let differing: Vec<String> = expected
        .lines()
        .zip(actual.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  pinned: {a}\n  now:    {b}"))
        .collect();
    assert!(
        differing.is_empty() && expected.lines().count() == actual.lines().count(),
        "the sample's decoded tiles changed ({} of {} lines differ; {} lines pinned, {} now):\n{}\n\
         if the change is intended, rewrite {FIXTURE} with LIFECIRCLE_BLESS=1",
        differing.len(),
        actual.lines().count(),
        expected.lines().count(),
        actual.lines().count(),
        differing.join("\n")
    );
}
