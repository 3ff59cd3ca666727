//! The map page in headless Chromium (`tests/js/page_e2e.mjs`), against the real server:
//! everything a resident does on it; the page without MapLibre GL JS; an external basemap; and
//! the binary copied alone into an empty folder with only the sample data, drawing the map from
//! the MapLibre GL JS built into it. Screenshots go to `target/screenshots/`.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::node_script;
use crate::support::{self, get};

/// Where the browser test writes its screenshots (test artefacts, git-ignored).
fn screenshot_dir() -> PathBuf {
    support::repo_root().join("target/screenshots")
}

/// Without MapLibre GL JS (here: `web.maplibre_dist` naming a folder that does not exist), the
/// page loads and shows the server's message saying what is missing.
pub fn says_what_is_missing_without_maplibre() {
    let elsewhere = tempfile::tempdir().unwrap();
    let server = support::spawn_with(
        &support::config_elsewhere("[web]\nmaplibre_dist = \"no-such-folder/dist\"\n"),
        elsewhere.path(),
    );
    let dir_text = screenshot_dir().display().to_string();
    let output = node_script(
        "page_e2e.mjs",
        &[
            "--base",
            &server.base,
            "--out",
            &dir_text,
            "--missing-maplibre",
        ],
    );
    check_browser_run(&output);
}

/// The binary the suite built (debug; `build.rs` embeds the same files in every profile, so a
/// release binary holds the same page and MapLibre GL JS), copied alone into an empty folder
/// with only the sample data, started there with the built-in configuration: the page draws
/// the map from the built-in MapLibre GL JS and says nothing about installing anything.
pub fn copied_binary_alone_draws_the_map() {
    let folder = tempfile::tempdir().unwrap();
    let binary = folder.path().join("lifecircle");
    std::fs::copy(env!("CARGO_BIN_EXE_lifecircle"), &binary).expect("copying the binary");
    support::copy_sample_data(&folder.path().join("data/changning"));
    let mut server = Running(
        Command::new(&binary)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(folder.path())
            .env("LIFECIRCLE_LOG", "info")
            .env_remove("LIFECIRCLE_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the copied binary"),
    );
    let base = server.listening_url();
    let config: serde_json::Value = get(&format!("{base}/assets/config.json")).json().unwrap();
    assert_eq!(config["maplibre"]["available"], true, "{config}");
    let dir_text = screenshot_dir().display().to_string();
    let output = node_script(
        "page_e2e.mjs",
        &["--base", &base, "--out", &dir_text, "--standalone"],
    );
    check_browser_run(&output);
    let bytes = std::fs::read(screenshot_dir().join("standalone.png")).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
}

/// A server process, killed when dropped.
struct Running(Child);

impl Running {
    /// Reads the log until the server says where it listens.
    fn listening_url(&mut self) -> String {
        let stderr = self.0.stderr.take().expect("stderr is piped");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("reading the server's log");
            if let Some(at) = line.find("listening on http://") {
                let url: String = line[at + "listening on ".len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                    .collect();
                // Keep draining the log so the server never blocks on a full pipe.
                std::thread::spawn(move || lines.for_each(drop));
                return url;
            }
            seen.push(line);
        }
        panic!(
            "the copied binary exited without listening:\n{}",
            seen.join("\n")
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// With an external basemap configured (here this server's own style, so no network is
/// needed), the page draws it with the facilities on top and can switch to its own basemap.
pub fn switches_between_external_and_own_basemap() {
    let server = support::spawn("[web]\nbasemap_style_url = \"/styles/lifecircle.json\"\n");
    let dir = screenshot_dir();
    let dir_text = dir.display().to_string();
    let output = node_script(
        "page_e2e.mjs",
        &[
            "--base",
            &server.base,
            "--out",
            &dir_text,
            "--basemap-switch",
        ],
    );
    check_browser_run(&output);
}

/// The page in headless Chromium: loads without console errors, renders facilities at the
/// default view, category filter, cluster zoom, a facility named like HTML shown as text,
/// search with suggestions, distances and navigation links, the coverage overlay, feedback
/// found in the store afterwards, the English switch, the phone layout; screenshots in
/// target/screenshots/.
pub fn works_in_a_real_browser() {
    let server = support::spawn(&format!("[admin]\ntoken = \"{ADMIN_TOKEN}\"\n"));
    let snapshot = server.state.snapshot.load_full();
    let [lon, lat] = snapshot.dataset.center();
    // The browser reports a position in the middle of the data; distances are measured from it.
    let device = format!("{lon},{lat}");
    let facility = {
        let f = snapshot
            .dataset
            .facilities()
            .iter()
            .find(|f| f.name().contains("<b>"))
            .expect("the sample has a facility named like HTML");
        serde_json::json!({ "id": f.id, "lon": f.lon, "lat": f.lat, "name": f.name() })
    };
    let dir = screenshot_dir();
    let dir_text = dir.display().to_string();
    let facility_text = facility.to_string();
    let output = node_script(
        "page_e2e.mjs",
        &[
            "--base",
            &server.base,
            "--out",
            &dir_text,
            "--facility",
            &facility_text,
            "--device",
            &device,
        ],
    );
    let report = check_browser_run(&output);
    // The reports the page sent are in the store, as sent.
    let sent = report["stored"]["feedback"]
        .as_array()
        .expect("stored feedback");
    assert_eq!(sent.len(), 2, "{sent:?}");
    for page_report in sent {
        let id = page_report["id"].as_u64().expect("report id");
        let response = support::client()
            .get(server.url(&format!("/admin/feedback/{id}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "report {id}");
        let stored: serde_json::Value = response.json().unwrap();
        assert_eq!(stored["kind"], page_report["kind"], "{stored}");
        assert_eq!(stored["message"], page_report["message"], "{stored}");
        if let Some(facility_id) = page_report.get("facility_id") {
            assert_eq!(&stored["facility"]["id"], facility_id, "{stored}");
            assert_eq!(stored["facility"]["name"], facility["name"], "{stored}");
        }
        if let Some(location) = page_report.get("location") {
            for key in ["lon", "lat"] {
                let (a, b) = (stored["location"][key].as_f64(), location[key].as_f64());
                assert!(
                    (a.unwrap() - b.unwrap()).abs() < 1e-5,
                    "{key}: stored {a:?}, clicked {b:?}"
                );
            }
        }
    }
    for name in ["desktop.png", "phone.png"] {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(bytes.starts_with(b"\x89PNG"), "{name} is not a PNG");
    }
}

/// Admin token of the browser test's server, to read back the reports the page sent.
const ADMIN_TOKEN: &str = "page-test-admin-token-0123456789";

/// Asserts that every step of a `page_e2e.mjs` run passed; returns its report.
fn check_browser_run(output: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("page_e2e.mjs printed no report ({e}):\n{stdout}\n{stderr}"));
    let failed: Vec<_> = report["steps"]
        .as_array()
        .map(|steps| steps.iter().filter(|s| s["ok"] != true).collect())
        .unwrap_or_default();
    assert!(
        output.status.success() && report["ok"] == true && failed.is_empty(),
        "browser test failed: {}\n{stderr}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    report
}
