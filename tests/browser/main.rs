//! The checks that need node (and Chromium): the MapLibre style validator, the reference
//! `@mapbox/vector-tile` decoder, and the map page in headless Chromium (`tests/js/`), against a
//! real server on 127.0.0.1.
//!
//! Their own runner (libtest-mimic) decides at start whether they can run: with
//! `LIFECIRCLE_JS_TESTS=1` (as `scripts/test.sh` sets after installing node packages and
//! Chromium) they run, and a missing node, package or browser is a failure; otherwise each is
//! reported as ignored (skipped), with the reason printed once, never as passed.
//! `cargo test --test browser -- --include-ignored` runs them anyway.

#[allow(dead_code)]
#[path = "../it/archive_support.rs"]
mod archive_support;
mod archives;
mod page;
mod report;
#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;
mod tiles;

use std::panic::{AssertUnwindSafe, catch_unwind};

use libtest_mimic::{Arguments, Failed, Trial};

/// Every check: name and body (a body fails by panicking, as an ordinary test does).
const CHECKS: &[(&str, fn())] = &[
    (
        "tiles::style_passes_the_maplibre_validator",
        tiles::style_passes_the_maplibre_validator,
    ),
    (
        "tiles::reference_decoder_agrees",
        tiles::reference_decoder_agrees,
    ),
    (
        "tiles::reference_decoder_reads_basemap_tiles",
        tiles::reference_decoder_reads_basemap_tiles,
    ),
    (
        "page::works_in_a_real_browser",
        page::works_in_a_real_browser,
    ),
    (
        "page::says_what_is_missing_without_maplibre",
        page::says_what_is_missing_without_maplibre,
    ),
    (
        "page::switches_between_external_and_own_basemap",
        page::switches_between_external_and_own_basemap,
    ),
    (
        "page::copied_binary_alone_draws_the_map",
        page::copied_binary_alone_draws_the_map,
    ),
    (
        "report::report_matches_its_json_in_a_real_browser",
        report::report_matches_its_json_in_a_real_browser,
    ),
    (
        "archives::pmtiles_js_reads_every_tile_as_served",
        archives::pmtiles_js_reads_every_tile_as_served,
    ),
    (
        "archives::page_reads_a_static_pmtiles_copy_through_the_pmtiles_protocol",
        archives::page_reads_a_static_pmtiles_copy_through_the_pmtiles_protocol,
    ),
];

/// Why the checks cannot run here, or `None` when they are asked for.
fn skip_reason() -> Option<String> {
    if std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1") {
        return None;
    }
    let node = std::process::Command::new("node").arg("--version").output();
    let why = match node {
        Ok(out) if out.status.success() => "LIFECIRCLE_JS_TESTS is not 1",
        _ => "node is not installed and LIFECIRCLE_JS_TESTS is not 1",
    };
    Some(format!(
        "{why}; `bash scripts/test.sh` installs node's packages and Chromium and runs them"
    ))
}

fn main() {
    let args = Arguments::from_args();
    let skip = skip_reason();
    if let Some(reason) = &skip {
        eprintln!(
            "note: {} node/Chromium checks skipped: {reason}",
            CHECKS.len()
        );
    }
    let trials = CHECKS
        .iter()
        .map(|&(name, body)| {
            Trial::test(name, move || {
                catch_unwind(AssertUnwindSafe(body)).map_err(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "panicked".into());
                    Failed::from(message)
                })
            })
            .with_ignored_flag(skip.is_some())
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// Runs `node tests/js/<script> <args>`; node and the packages of `tests/js` must be there
/// (`npm ci --prefix tests/js`).
pub fn node_script(script: &str, args: &[&str]) -> std::process::Output {
    let dir = support::repo_root().join("tests/js");
    assert!(
        dir.join("node_modules").is_dir(),
        "run `npm ci --prefix tests/js` first (scripts/test.sh does)"
    );
    std::process::Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (install Node.js): {e}"))
}
