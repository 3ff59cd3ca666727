//! The map page at `/`: its files over HTTP, MapLibre GL JS served from `web/` or a clear
//! message when it is not installed, and the page itself in headless Chromium
//! (`tests/js/page_e2e.mjs`, with screenshots in `target/screenshots/`).

use std::path::{Path, PathBuf};

use crate::support::{self, get, get_json};

/// Where the browser test writes its screenshots (test artefacts, git-ignored).
fn screenshot_dir() -> PathBuf {
    support::repo_root().join("target/screenshots")
}

/// A config whose base directory is `dir` but whose data is the bundled sample.
fn config_elsewhere(extra: &str) -> String {
    let data = support::repo_root().join("data/changning");
    let path = |name: &str| toml_string(&data.join(name));
    format!(
        "[data]\nfacilities = {}\nroads = {}\nsubdistricts = {}\nresidents = {}\n{extra}",
        path("facilities.fgb"),
        path("roads.fgb"),
        path("subdistricts.fgb"),
        path("residents.fgb"),
    )
}

fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// Is the MapLibre GL JS the page needs installed (`npm ci --prefix web`)? With the JavaScript
/// tests enabled (`scripts/test.sh` installs it), it must be.
fn maplibre_installed() -> bool {
    let installed = support::repo_root()
        .join("web/node_modules/maplibre-gl/dist/maplibre-gl.mjs")
        .is_file();
    if std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1") {
        assert!(installed, "run `npm ci --prefix web` first");
    }
    installed
}

#[test]
fn page_and_its_files_are_served_with_etags() {
    let server = support::sample();
    let page = get(&server.url("/"));
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-type"],
        "text/html; charset=utf-8",
        "page content type"
    );
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let etag = page.headers()["etag"].clone();
    let html = page.text().unwrap();
    assert!(html.contains(r#"<script type="module" src="/assets/app.js"></script>"#));

    let again = support::client()
        .get(server.url("/"))
        .header("If-None-Match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);

    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("dom.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let response = get(&server.url(&format!("/assets/{file}")));
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(response.headers()["content-type"], content_type, "{file}");
        assert!(response.headers().contains_key("etag"), "{file}");
    }
    let missing = get(&server.url("/assets/nope.js"));
    assert_eq!(missing.status(), 404);
    assert!(missing.text().unwrap().contains("no asset `nope.js`"));
}

#[test]
fn maplibre_is_served_from_web_node_modules() {
    if !maplibre_installed() {
        eprintln!("note: MapLibre GL JS not installed; run `npm ci --prefix web`");
        return;
    }
    let server = support::sample();
    let config = get_json(&server.url("/assets/config.json"));
    assert_eq!(config["maplibre"]["available"], true);
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("web/package.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["maplibre"]["version"], package["dependencies"]["maplibre-gl"],
        "the installed MapLibre GL JS is the pinned one"
    );
    let module = get(&server.url("/assets/maplibre-gl/maplibre-gl.mjs"));
    assert_eq!(module.status(), 200);
    let content_type = module.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.contains("javascript"), "{content_type}");
    let last_modified = module.headers()["last-modified"].clone();
    let again = support::client()
        .get(server.url("/assets/maplibre-gl/maplibre-gl.mjs"))
        .header("If-Modified-Since", last_modified)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    // The module worker is loaded next to the module, with a version query.
    let worker = get(&server.url("/assets/maplibre-gl/maplibre-gl-worker.mjs?v=1"));
    assert_eq!(worker.status(), 200);
    assert_eq!(
        get(&server.url("/assets/maplibre-gl/maplibre-gl.css")).headers()["content-type"],
        "text/css"
    );
    for path in [
        "/assets/maplibre-gl/nope.mjs",
        "/assets/maplibre-gl/%2e%2e/package.json",
        "/assets/maplibre-gl/..%2fpackage.json",
    ] {
        let response = get(&server.url(path));
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[test]
fn without_maplibre_the_page_says_how_to_install_it() {
    let elsewhere = tempfile::tempdir().unwrap();
    let server = support::spawn_with(&config_elsewhere(""), elsewhere.path());
    assert_eq!(get(&server.url("/")).status(), 200);
    let config = get_json(&server.url("/assets/config.json"));
    assert_eq!(config["maplibre"]["available"], false);
    assert!(
        config["maplibre"]["install_hint"]
            .as_str()
            .unwrap()
            .contains("npm ci --prefix web")
    );
    let module = get(&server.url("/assets/maplibre-gl/maplibre-gl.mjs"));
    assert_eq!(module.status(), 404);
    let message: serde_json::Value = module.json().unwrap();
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("npm ci --prefix web"),
        "{message}"
    );
    // Tiles are still served.
    let tile = get(&server.url("/tiles/facilities/12/3429/1673.mvt"));
    assert_eq!(tile.status(), 200);

    let dir = screenshot_dir();
    let base = server.base.clone();
    let dir_text = dir.display().to_string();
    if let Some(output) = support::node_script(
        "page_e2e.mjs",
        &["--base", &base, "--out", &dir_text, "--missing-maplibre"],
    ) {
        check_browser_run(&output);
    }
}

#[test]
fn external_basemap_style_reaches_the_page_and_its_policy() {
    let url = "https://tiles.example.org/styles/basic.json";
    let server = support::spawn(&format!("[web]\nbasemap_style_url = \"{url}\"\n"));
    let config = get_json(&server.url("/assets/config.json"));
    assert_eq!(config["basemap_style_url"], url);
    let page = get(&server.url("/"));
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("connect-src 'self' http: https:"),
        "{policy}"
    );
}

/// With an external basemap configured (here this server's own style, so no network is
/// needed), the page draws it with the facilities on top and can switch to its own basemap.
#[test]
fn page_switches_between_external_and_own_basemap() {
    let server = support::spawn("[web]\nbasemap_style_url = \"/styles/lifecircle.json\"\n");
    let dir = screenshot_dir();
    let dir_text = dir.display().to_string();
    if let Some(output) = support::node_script(
        "page_e2e.mjs",
        &[
            "--base",
            &server.base,
            "--out",
            &dir_text,
            "--basemap-switch",
        ],
    ) {
        check_browser_run(&output);
    }
}

/// The page in headless Chromium: loads without console errors, renders facilities at the
/// default view, category filter, cluster zoom, a facility named like HTML shown as text,
/// search with suggestions, distances and navigation links, the coverage overlay, feedback
/// found in the store afterwards, the English switch, the phone layout; screenshots in
/// target/screenshots/.
#[test]
fn page_works_in_a_real_browser() {
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
            .find(|f| f.name.contains("<b>"))
            .expect("the sample has a facility named like HTML");
        serde_json::json!({ "id": f.id, "lon": f.lon, "lat": f.lat, "name": f.name })
    };
    if std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1") {
        maplibre_installed();
    }
    let dir = screenshot_dir();
    let dir_text = dir.display().to_string();
    let facility_text = facility.to_string();
    let Some(output) = support::node_script(
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
    ) else {
        return;
    };
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

#[test]
fn the_page_config_carries_the_feedback_kinds_and_limits() {
    let server = support::spawn("[feedback]\nmax_message_chars = 500\nmax_contact_chars = 80\n");
    let config = get_json(&server.url("/assets/config.json"));
    let feedback = &config["feedback"];
    assert_eq!(feedback["max_message_chars"], 500);
    assert_eq!(feedback["max_contact_chars"], 80);
    assert_eq!(
        feedback["kinds_about_facility"],
        serde_json::json!([
            "wrong_info",
            "wrong_location",
            "closed",
            "suggestion",
            "other"
        ])
    );
    assert_eq!(
        feedback["kinds_about_place"],
        serde_json::json!(["missing_facility", "suggestion", "other"])
    );
    // Every kind offered is one the server takes: a message at the limit is stored, one over it
    // is refused with the limit named.
    for (length, status) in [(500, 201), (501, 400)] {
        let response = support::client()
            .post(server.url("/feedback"))
            .json(&serde_json::json!({ "kind": "suggestion", "message": "好".repeat(length) }))
            .send()
            .unwrap();
        assert_eq!(response.status(), status, "{length} characters");
    }
}
