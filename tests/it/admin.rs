//! The `/admin` routes against the real server: the token (disabled when unset; missing, wrong
//! or right), triage, listings in every format with every filter, per-facility counts, and data
//! reload keeping the old data when the new files are bad.

use serde_json::{Value, json};

use crate::feedback::{TOKEN, admin_get, facility, post, server};
use crate::support::{self, TestServer};

/// Every admin route, with a body where one is needed.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/feedback"),
    ("GET", "/admin/feedback?format=csv"),
    ("GET", "/admin/feedback/stats"),
    ("GET", "/admin/feedback/1"),
    ("PATCH", "/admin/feedback/1"),
    ("GET", "/admin/facilities/{facility}"),
    ("POST", "/admin/reload"),
];

fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> reqwest::blocking::Response {
    let client = support::client();
    let url = server.url(&path.replace("{facility}", &facility(server, 0).0.to_string()));
    let mut request = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PATCH" => client.patch(url).json(&json!({ "status": "resolved" })),
        other => panic!("no such method {other}"),
    };
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().unwrap()
}

fn patch(server: &TestServer, id: &Value, body: Value) -> (u16, Value) {
    let response = support::client()
        .patch(server.url(&format!("/admin/feedback/{id}")))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

#[test]
fn admin_routes_are_disabled_without_a_token() {
    let server = support::sample();
    for &(method, path) in ROUTES {
        for authorization in [None, Some("Bearer "), Some("Bearer anything-at-all-0000")] {
            let response = request(&server, method, path, authorization);
            assert_eq!(response.status(), 404, "{method} {path}");
            let answer: Value = response.json().unwrap();
            assert!(
                answer["error"]
                    .as_str()
                    .unwrap()
                    .contains("admin routes are disabled"),
                "{answer}"
            );
        }
    }
}

#[test]
fn the_token_is_required_and_a_wrong_one_learns_nothing() {
    let server = server();
    let (facility_id, _, _) = facility(&server, 0);
    let secret = "这条反馈不应泄露";
    let (status, _) = post(
        &server,
        &json!({ "kind": "closed", "facility_id": facility_id, "message": secret }),
    );
    assert_eq!(status, 201);
    let same_length_wrong: String = TOKEN.chars().rev().collect();
    let wrong = [
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(format!("Bearer {same_length_wrong}")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.into()),
        Some(format!("Bearer {}", TOKEN.to_uppercase())),
    ];
    for &(method, path) in ROUTES {
        for authorization in &wrong {
            let response = request(&server, method, path, authorization.as_deref());
            assert_eq!(response.status(), 401, "{method} {path} {authorization:?}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let body = response.text().unwrap();
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap(),
                json!({ "error": "missing or wrong bearer token", "status": 401 }),
                "{method} {path}"
            );
        }
        // A report id that does not exist is still 401 without the token.
        let response = request(&server, method, &path.replace("/1", "/999999"), None);
        assert_eq!(response.status(), 401, "{method} {path}");

        for authorization in [format!("Bearer {TOKEN}"), format!("bearer  {TOKEN} ")] {
            let response = request(&server, method, path, Some(&authorization));
            assert_eq!(response.status(), 200, "{method} {path} {authorization:?}");
            assert_eq!(response.headers()["cache-control"], "no-store");
        }
    }
    // The report was changed only by the authorised PATCH.
    let stored = admin_get(&server, "/admin/feedback/1");
    assert_eq!(
        (stored["message"].as_str(), stored["status"].as_str()),
        (Some(secret), Some("resolved"))
    );
}

#[test]
fn triage_changes_status_and_note() {
    let server = server();
    let (facility_id, _, _) = facility(&server, 2);
    let (_, answer) = post(
        &server,
        &json!({ "kind": "wrong_info", "facility_id": facility_id, "message": "电话号码错了" }),
    );
    let id = &answer["id"];

    let (status, report) = patch(
        &server,
        id,
        json!({ "status": "in_progress", "note": " 已联系街道核实 " }),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["status"].as_str(), report["note"].as_str()),
        (Some("in_progress"), Some("已联系街道核实"))
    );
    let (status, report) = patch(&server, id, json!({ "status": "resolved" }));
    assert_eq!(status, 200);
    assert_eq!(
        (report["status"].as_str(), report["note"].as_str()),
        (Some("resolved"), Some("已联系街道核实"))
    );
    assert!(report["updated_at"].as_str() >= report["created_at"].as_str());
    assert_eq!(admin_get(&server, &format!("/admin/feedback/{id}")), report);

    let bad = |body: Value, status: u16, fragment: &str| {
        let (got, answer) = patch(&server, id, body);
        assert_eq!(got, status, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(fragment),
            "{answer} lacks {fragment:?}"
        );
    };
    bad(
        json!({ "status": "done" }),
        400,
        "status: unknown status `done`",
    );
    bad(json!({}), 400, "nothing to change");
    bad(
        json!({ "status": "open", "kind": "other" }),
        400,
        "unknown field `kind`",
    );
    bad(
        json!({ "status": 3 }),
        400,
        "`status`: invalid type: integer",
    );
    bad(
        json!({ "note": "n".repeat(2001) }),
        400,
        "note: is 2001 characters long",
    );
    let (status, _) = patch(&server, &json!(999_999), json!({ "status": "open" }));
    assert_eq!(status, 404);
    let (status, answer) = patch(&server, &json!("abc"), json!({ "status": "open" }));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        admin_get(&server, &format!("/admin/feedback/{id}"))["status"],
        "resolved"
    );
}

#[test]
fn listings_filter_page_and_export() {
    let server = server();
    let (market_id, market_category, _) = facility(&server, 0);
    let (other_id, other_category, _) = (1..)
        .map(|idx| facility(&server, idx))
        .find(|(_, category, _)| *category != market_category)
        .unwrap();
    let bodies = [
        json!({ "kind": "closed", "facility_id": market_id, "message": "a, \"quoted\"" }),
        json!({ "kind": "wrong_info", "facility_id": other_id, "message": "b\nsecond line" }),
        json!({ "kind": "missing_facility", "location": { "lon": 121.44, "lat": 31.23 }, "message": "=1+1" }),
        json!({ "kind": "suggestion", "message": "d", "contact": "微信 lc" }),
    ];
    let ids: Vec<i64> = bodies
        .iter()
        .map(|body| {
            let (status, answer) = post(&server, body);
            assert_eq!(status, 201, "{answer}");
            answer["id"].as_i64().unwrap()
        })
        .collect();
    let (status, _) = patch(&server, &json!(ids[1]), json!({ "status": "rejected" }));
    assert_eq!(status, 200);

    let list = |query: &str| -> Vec<i64> {
        let page = admin_get(&server, &format!("/admin/feedback?{query}"));
        let reports = page["reports"].as_array().unwrap();
        assert!(page["total"].as_u64().unwrap() >= reports.len() as u64);
        reports.iter().map(|r| r["id"].as_i64().unwrap()).collect()
    };
    let newest_first = |idx: &[usize]| -> Vec<i64> { idx.iter().rev().map(|&i| ids[i]).collect() };
    assert_eq!(list(""), newest_first(&[0, 1, 2, 3]));
    assert_eq!(list("status=open"), newest_first(&[0, 2, 3]));
    assert_eq!(list("status=rejected,resolved"), newest_first(&[1]));
    assert_eq!(list("kind=closed,missing_facility"), newest_first(&[0, 2]));
    assert_eq!(list(&format!("facility={market_id}")), newest_first(&[0]));
    assert_eq!(
        list(&format!("category={other_category}")),
        newest_first(&[1])
    );
    assert_eq!(
        list("bbox=121.4399,31.2299,121.4401,31.2301"),
        newest_first(&[2])
    );
    assert_eq!(
        list("since=2000-01-01T00:00:00%2B08:00&until=2999-01-01T00:00:00Z"),
        newest_first(&[0, 1, 2, 3])
    );
    assert_eq!(list("since=2999-01-01T00:00:00Z"), Vec::<i64>::new());
    assert_eq!(
        list("status=open&kind=suggestion,closed"),
        newest_first(&[0, 3])
    );
    assert_eq!(list("limit=2&offset=1"), newest_first(&[1, 2]));
    let page = admin_get(&server, "/admin/feedback?limit=2&offset=1");
    assert_eq!(
        (
            page["total"].as_u64(),
            page["limit"].as_u64(),
            page["offset"].as_u64()
        ),
        (Some(4), Some(2), Some(1))
    );

    for (query, fragment) in [
        ("status=closed", "status: unknown status `closed`"),
        ("kind=nope", "kind: unknown kind `nope`"),
        ("facility=abc", "facility:"),
        ("category=shops", "category: unknown category `shops`"),
        ("since=yesterday", "since:"),
        ("bbox=1,2,3", "bbox:"),
        ("limit=0", "limit:"),
        ("limit=x", "limit:"),
        ("offset=-1", "offset:"),
        ("format=xml", "format: unknown format `xml`"),
        ("stauts=open", "unknown parameter `stauts`"),
    ] {
        let response = support::client()
            .get(server.url(&format!("/admin/feedback?{query}")))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let answer: Value = response.json().unwrap();
        assert!(
            answer["error"].as_str().unwrap().contains(fragment),
            "{query}: {answer}"
        );
    }

    // CSV: a byte order mark, a header, one record per report with quoting and formula defusing.
    let response = support::client()
        .get(server.url("/admin/feedback?format=csv&status=open"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("UTF-8 byte order mark");
    let records = parse_csv(csv);
    let header = &records[0];
    assert_eq!(header[0], "id");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(records.len(), 4);
    let by_id = |id: i64| records.iter().find(|r| r[0] == id.to_string()).unwrap();
    assert_eq!(by_id(ids[0])[column("message")], "a, \"quoted\"");
    assert_eq!(by_id(ids[0])[column("facility_id")], market_id.to_string());
    assert_eq!(by_id(ids[0])[column("category")], market_category);
    assert_eq!(by_id(ids[2])[column("message")], "'=1+1");
    assert_eq!(by_id(ids[2])[column("lon")], "121.44");
    assert_eq!(by_id(ids[3])[column("contact")], "微信 lc");
    assert_eq!(by_id(ids[3])[column("facility_id")], "");

    // GeoJSON: a point per report that has one (its location, else its facility's position).
    let response = support::client()
        .get(server.url("/admin/feedback?format=geojson"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let collection: Value = response.json().unwrap();
    assert_eq!(collection["type"], "FeatureCollection");
    let features = collection["features"].as_array().unwrap();
    assert_eq!(features.len(), 4);
    let feature = |id: i64| features.iter().find(|f| f["id"] == id).unwrap();
    assert_eq!(
        feature(ids[2])["geometry"],
        json!({ "type": "Point", "coordinates": [121.44, 31.23] })
    );
    assert_eq!(feature(ids[3])["geometry"], Value::Null);
    let market = admin_get(&server, &format!("/admin/facilities/{market_id}"));
    assert_eq!(
        feature(ids[0])["geometry"]["coordinates"],
        json!([market["facility"]["lon"], market["facility"]["lat"]])
    );
    assert_eq!(feature(ids[1])["properties"]["status"], "rejected");
    assert_eq!(feature(ids[1])["properties"]["message"], "b\nsecond line");
}

/// A small RFC 4180 reader, to check the export the way a spreadsheet would read it.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = vec![];
    let mut record = vec![];
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        !quoted && cell.is_empty() && record.is_empty(),
        "CSV ends mid-record"
    );
    records
}

#[test]
fn open_reports_are_counted_per_facility() {
    let server = server();
    let (busy, busy_category, busy_name) = facility(&server, 3);
    let (quiet, _, _) = facility(&server, 4);
    let mut ids = vec![];
    for (kind, facility_id) in [
        ("closed", busy),
        ("wrong_info", busy),
        ("wrong_location", busy),
        ("closed", quiet),
    ] {
        let (status, answer) = post(
            &server,
            &json!({ "kind": kind, "facility_id": facility_id, "message": "请核实" }),
        );
        assert_eq!(status, 201);
        ids.push(answer["id"].clone());
    }
    post(
        &server,
        &json!({ "kind": "suggestion", "message": "多设几个长椅" }),
    );
    assert_eq!(
        patch(&server, &ids[2], json!({ "status": "resolved" })).0,
        200
    );

    let detail = admin_get(&server, &format!("/admin/facilities/{busy}"));
    assert_eq!(detail["facility"]["id"], busy);
    assert_eq!(detail["facility"]["name"], busy_name.as_str());
    assert_eq!(detail["facility"]["category"], busy_category.as_str());
    assert_eq!(detail["feedback"]["n_open"], 2);
    assert_eq!(
        detail["feedback"]["by_status"],
        json!({ "open": 2, "in_progress": 0, "resolved": 1, "rejected": 0 })
    );
    let nobody = facility(&server, 5).0;
    assert_eq!(
        admin_get(&server, &format!("/admin/facilities/{nobody}"))["feedback"]["n_open"],
        0
    );
    let response = support::client()
        .get(server.url(&format!("/admin/facilities/{}", u64::MAX)))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);

    let stats = admin_get(&server, "/admin/feedback/stats");
    assert_eq!(stats["total"], 5);
    assert_eq!(
        stats["by_status"],
        json!({ "open": 4, "in_progress": 0, "resolved": 1, "rejected": 0 })
    );
    assert_eq!(stats["open"]["total"], 4);
    assert_eq!(
        stats["open"]["by_kind"],
        json!({ "closed": 2, "wrong_info": 1, "suggestion": 1 })
    );
    let by_facility = stats["open"]["by_facility"].as_array().unwrap();
    assert_eq!(by_facility[0]["facility_id"], busy);
    assert_eq!(by_facility[0]["n_open"], 2);
    assert_eq!(by_facility[0]["facility"]["name"], busy_name.as_str());
    assert_eq!(by_facility[1]["facility_id"], quiet);
    assert_eq!(by_facility.len(), 2);
}

#[test]
fn a_reload_with_bad_data_keeps_serving_the_old_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    support::copy_sample_data(&data);
    let server = support::spawn_with(
        &format!(
            "[admin]\ntoken = \"{TOKEN}\"\n[cache]\nprecompute_maxzoom = 0\n[data]\nfacilities = \"data/facilities.fgb\"\nroads = \"data/roads.fgb\"\nsubdistricts = \"data/subdistricts.fgb\"\nresidents = \"data/residents.fgb\"\n"
        ),
        dir.path(),
    );
    let reload = || {
        let response = support::client()
            .post(server.url("/admin/reload"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    };
    let tile = "/tiles/facilities/10/857/418.mvt";
    let tile_before = support::get(&server.url(tile)).bytes().unwrap();
    assert!(!tile_before.is_empty());
    let (facility_id, _, _) = facility(&server, 0);
    let (status, report) = post(
        &server,
        &json!({ "kind": "closed", "facility_id": facility_id, "message": "重新加载前" }),
    );
    assert_eq!(status, 201);

    let original = std::fs::read(data.join("facilities.fgb")).unwrap();
    for garbage in [
        b"not a flatgeobuf file".to_vec(),
        original[..original.len() / 2].to_vec(),
    ] {
        std::fs::write(data.join("facilities.fgb"), &garbage).unwrap();
        let (status, answer) = reload();
        assert_eq!(status, 422, "{answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(
            message.contains("previous data stays in service"),
            "{message}"
        );
        assert!(message.contains("facilities.fgb"), "{message}");
        assert_eq!(support::get_json(&server.url("/health"))["data_version"], 1);
        let response = support::get(&server.url(tile));
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().unwrap(), tile_before);
    }

    std::fs::write(data.join("facilities.fgb"), &original).unwrap();
    let (status, answer) = reload();
    assert_eq!(status, 200, "{answer}");
    let version = answer["data_version"].as_u64().unwrap();
    assert!(version > 1);
    assert_eq!(
        answer["n_facilities"],
        server.state.snapshot.load().dataset.facilities().len()
    );
    assert_eq!(
        support::get_json(&server.url("/health"))["data_version"],
        version
    );
    // Feedback outlives the reload; new reports record the new data version.
    assert_eq!(
        admin_get(&server, &format!("/admin/feedback/{}", report["id"]))["message"],
        "重新加载前"
    );
    let (_, answer) = post(
        &server,
        &json!({ "kind": "other", "message": "重新加载后" }),
    );
    assert_eq!(
        admin_get(&server, &format!("/admin/feedback/{}", answer["id"]))["data_version"],
        version
    );
}
