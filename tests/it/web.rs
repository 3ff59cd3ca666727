//! The map page at `/` over HTTP: its files, MapLibre GL JS built in (or from a configured
//! folder), and a clear message when it is missing. The page itself in headless Chromium is in
//! `tests/browser` (`page`).

use crate::support::{self, get, get_json};

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

/// MapLibre GL JS is built into the binary at the version `web/package-lock.json` pins; a build
/// without npm carries the message saying what is missing instead, and the page shows it.
#[test]
fn maplibre_is_built_in_at_the_pinned_version() {
    let server = support::sample();
    let config = get_json(&server.url("/assets/config.json"));
    if let Some(missing) = lifecircle::http::web::built_without_maplibre() {
        assert_eq!(config["maplibre"]["available"], false);
        let hint = config["maplibre"]["install_hint"].as_str().unwrap();
        assert!(hint.contains(missing), "{hint}");
        assert!(missing.contains("npm"), "{missing}");
        assert!(
            std::env::var("LIFECIRCLE_JS_TESTS").as_deref() != Ok("1"),
            "scripts/test.sh builds with npm, so MapLibre GL JS must be built in: {missing}"
        );
        return;
    }
    assert_eq!(config["maplibre"]["available"], true);
    assert_eq!(config["maplibre"]["install_hint"], serde_json::Value::Null);
    let lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("web/package-lock.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["maplibre"]["version"], lock["packages"]["node_modules/maplibre-gl"]["version"],
        "the built-in MapLibre GL JS is the pinned one"
    );
    let module = get(&server.url("/assets/maplibre-gl/maplibre-gl.mjs"));
    assert_eq!(module.status(), 200);
    assert_eq!(
        module.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = module.headers()["etag"].clone();
    let body = module.bytes().unwrap();
    assert!(body.len() > 100_000, "{} bytes", body.len());
    let again = support::client()
        .get(server.url("/assets/maplibre-gl/maplibre-gl.mjs"))
        .header("If-None-Match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    // The module worker is loaded next to the module; a cache-busting `v` is accepted.
    let worker = get(&server.url("/assets/maplibre-gl/maplibre-gl-worker.mjs?v=1"));
    assert_eq!(worker.status(), 200);
    assert_eq!(
        get(&server.url("/assets/maplibre-gl/maplibre-gl.css")).headers()["content-type"],
        "text/css; charset=utf-8"
    );
    for path in [
        "/assets/maplibre-gl/nope.mjs",
        "/assets/maplibre-gl/%2e%2e/package.json",
        "/assets/maplibre-gl/..%2fpackage.json",
        "/assets/maplibre-gl/maplibre-gl.mjs.map",
        "/assets/left-pad/index.js",
    ] {
        let response = get(&server.url(path));
        assert_eq!(response.status(), 404, "{path}");
    }
}

/// Every file `web/embed.txt` lists is served at its path under `/assets/`.
#[test]
fn every_listed_package_file_is_served() {
    if lifecircle::http::web::built_without_maplibre().is_some() {
        return;
    }
    let server = support::sample();
    let list = std::fs::read_to_string(support::repo_root().join("web/embed.txt")).unwrap();
    let mut n = 0;
    for line in list.lines().map(|l| l.split('#').next().unwrap().trim()) {
        let Some((package, file)) = line.split_once(' ') else {
            continue;
        };
        let file = file.trim();
        let served = format!(
            "/assets/{package}/{}",
            file.strip_prefix("dist/").unwrap_or(file)
        );
        assert_eq!(get(&server.url(&served)).status(), 200, "{served}");
        n += 1;
    }
    assert!(n >= 3, "web/embed.txt lists {n} files");
}

#[test]
fn without_maplibre_the_page_says_what_is_missing() {
    let elsewhere = tempfile::tempdir().unwrap();
    let server = support::spawn_with(
        &support::config_elsewhere("[web]\nmaplibre_dist = \"no-such-folder/dist\"\n"),
        elsewhere.path(),
    );
    assert_eq!(get(&server.url("/")).status(), 200);
    let config = get_json(&server.url("/assets/config.json"));
    assert_eq!(config["maplibre"]["available"], false);
    assert!(
        config["maplibre"]["install_hint"]
            .as_str()
            .unwrap()
            .contains("no-such-folder/dist")
    );
    let module = get(&server.url("/assets/maplibre-gl/maplibre-gl.mjs"));
    assert_eq!(module.status(), 404);
    let message: serde_json::Value = module.json().unwrap();
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("`[web] maplibre_dist`"),
        "{message}"
    );
    // Tiles are still served.
    let tile = get(&server.url("/tiles/facilities/12/3429/1673.mvt"));
    assert_eq!(tile.status(), 200);
    // The page's notice in Chromium: tests/browser (page::says_what_is_missing_without_maplibre).
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
