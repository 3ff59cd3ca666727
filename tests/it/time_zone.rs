//! Times people read: the feedback exports (CSV, GeoJSON) show local time with its offset in
//! `server.time_zone` (default Asia/Shanghai), the JSON listing stays UTC, and an unknown zone
//! stops the server at start with a message naming the key.

use serde_json::Value;

use crate::feedback::{TOKEN, admin_get, facility, post};
use crate::support::{self, TestServer};
use lifecircle::time::parse_rfc3339_ms;

fn server(extra: &str) -> TestServer {
    support::spawn(&format!(
        "[admin]\ntoken = \"{TOKEN}\"\n[cache]\nprecompute_maxzoom = 0\n{extra}"
    ))
}

/// Submits one report and reads its `created_at` from the JSON listing, the CSV export and the
/// GeoJSON export.
fn created_at_everywhere(server: &TestServer) -> (String, String, String) {
    let (facility_id, _, _) = facility(server, 0);
    let body =
        serde_json::json!({ "kind": "closed", "facility_id": facility_id, "message": "shut" });
    let (status, answer) = post(server, &body);
    assert_eq!(status, 201, "{answer}");
    let json = admin_get(server, "/admin/feedback");
    let json_time = json["reports"][0]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();

    let csv = support::client()
        .get(server.url("/admin/feedback?format=csv"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "created_at").unwrap();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let csv_time = row[column].to_owned();

    let geojson: Value = support::client()
        .get(server.url("/admin/feedback?format=geojson"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let geojson_time = geojson["features"][0]["properties"]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    (json_time, csv_time, geojson_time)
}

#[test]
fn exports_show_shanghai_time_by_default() {
    let server = server("");
    let (json, csv, geojson) = created_at_everywhere(&server);
    assert!(json.ends_with('Z'), "the JSON listing stays UTC: {json}");
    assert!(csv.ends_with("+08:00"), "CSV in Asia/Shanghai: {csv}");
    assert_eq!(geojson, csv);
    // The same moment, written in another zone.
    assert_eq!(parse_rfc3339_ms(&csv), parse_rfc3339_ms(&json));
    assert_ne!(
        csv[..19],
        json[..19],
        "local time is not UTC with another suffix"
    );
}

#[test]
fn a_configured_time_zone_changes_the_exports() {
    // India has no summer time: +05:30 whatever the day the test runs.
    let server = server("[server]\ntime_zone = \"Asia/Kolkata\"\n");
    let (json, csv, geojson) = created_at_everywhere(&server);
    assert!(csv.ends_with("+05:30"), "{csv}");
    assert_eq!(geojson, csv);
    assert_eq!(parse_rfc3339_ms(&csv), parse_rfc3339_ms(&json));
}

#[test]
fn an_unknown_time_zone_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lifecircle.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\ntime_zone = \"Asia/Shangai\"\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lifecircle"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .current_dir(support::repo_root())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server.time_zone")
            && stderr.contains("`Asia/Shangai`")
            && stderr.contains("\"Asia/Shanghai\""),
        "{stderr}"
    );
}
