//! The one query-parameter rule on every route family: a category list written as a comma list
//! or by repetition means the same, and an unknown parameter is a 400 in the one JSON error
//! shape naming it and the parameters the route takes.

use crate::support::{self, get, get_json};

const TOKEN: &str = "params-test-admin-token-0123456789";

/// The ways of writing "park and medical" the rule makes equal.
const FORMS: [&str; 4] = [
    "categories=park,medical",
    "category=park&category=medical",
    "categories=park&categories=medical",
    "category=medical,park",
];

fn server() -> support::TestServer {
    support::spawn(&format!("[admin]\ntoken = \"{TOKEN}\"\n"))
}

/// Asserts a 400 in the JSON error shape whose message names `unknown` and every one of
/// `accepted`.
fn assert_unknown_refused(response: reqwest::blocking::Response, unknown: &str, accepted: &[&str]) {
    let url = response.url().to_string();
    assert_eq!(response.status(), 400, "{url}");
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{url}"
    );
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["status"], 400, "{url}: {body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("unknown parameter `{unknown}`;")),
        "{url}: {message}"
    );
    for name in accepted {
        assert!(
            message.contains(name),
            "{url}: `{name}` not named in {message}"
        );
    }
    if accepted.is_empty() {
        assert!(
            message.contains("takes no query parameters"),
            "{url}: {message}"
        );
    }
}

#[test]
fn facility_tiles_are_the_same_bytes_for_every_way_of_writing_the_list() {
    let server = server();
    // The z13 tile at the middle of the data holds every category.
    let [lon, lat] = server.state.snapshot.load().dataset.center();
    let key = lifecircle::geom::TileKey::containing(lifecircle::geom::lonlat_to_merc(lon, lat), 13);
    let tile = format!("/tiles/facilities/{}/{}/{}.mvt", key.z, key.x, key.y);
    let bytes = |query: &str| {
        let response = get(&server.url(&format!("{tile}?{query}")));
        assert_eq!(response.status(), 200, "{tile}?{query}");
        response.bytes().unwrap().to_vec()
    };
    let reference = bytes(FORMS[0]);
    for form in &FORMS[1..] {
        assert!(bytes(form) == reference, "{form} differs from {}", FORMS[0]);
    }
    let unfiltered = get(&server.url(&tile)).bytes().unwrap().to_vec();
    assert!(unfiltered != reference, "the filter changes the tile");
    assert!(bytes("category=park") != reference);
    assert_eq!(
        bytes("categories="),
        unfiltered,
        "an empty list is no filter"
    );

    assert_unknown_refused(
        get(&server.url(&format!("{tile}?categories=park&colour=red"))),
        "colour",
        &["category", "categories", "crs"],
    );
    let unknown_category = get(&server.url(&format!("{tile}?category=park&category=zoo")));
    assert_eq!(unknown_category.status(), 400);
    assert!(
        unknown_category
            .text()
            .unwrap()
            .contains("unknown category `zoo`")
    );
    let twice = get(&server.url(&format!("{tile}?crs=wgs84&crs=gcj02")));
    assert_eq!(twice.status(), 400);
    assert!(
        twice
            .text()
            .unwrap()
            .contains("`crs` is given more than once")
    );
}

#[test]
fn tilejson_style_and_meta_routes_follow_the_rule() {
    let server = server();
    let tiles_url = |query: &str| {
        get_json(&server.url(&format!("/tiles/facilities.json?{query}")))["tiles"][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for form in FORMS {
        assert_eq!(
            tiles_url(form),
            server.url("/tiles/facilities/{z}/{x}/{y}.mvt?categories=medical,park"),
            "{form}"
        );
    }
    assert_unknown_refused(
        get(&server.url("/tiles/facilities.json?layers=x")),
        "layers",
        &["category", "categories", "crs"],
    );
    for path in [
        "/styles/lifecircle.json",
        "/catalog",
        "/health",
        "/ready",
        "/metrics",
        "/features/1",
    ] {
        assert_unknown_refused(get(&server.url(&format!("{path}?debug=1"))), "debug", &[]);
    }
    assert_eq!(get(&server.url("/?lang=en")).status(), 200);
    assert_unknown_refused(get(&server.url("/?theme=dark")), "theme", &["lang"]);
    assert_eq!(get(&server.url("/assets/app.js?v=2")).status(), 200);
    assert_unknown_refused(get(&server.url("/assets/app.js?x=1")), "x", &["v"]);
}

#[test]
fn search_takes_the_list_in_every_form() {
    let server = server();
    let ids = |query: &str| -> Vec<u64> {
        let answer = get_json(&server.url(&format!("/search?limit=100&{query}")));
        answer["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect()
    };
    let reference = ids(FORMS[0]);
    assert!(!reference.is_empty());
    for form in &FORMS[1..] {
        assert_eq!(ids(form), reference, "{form}");
    }
    let total = |query: &str| get_json(&server.url(&format!("/search?{query}")))["total"].as_u64();
    assert!(total("category=park") < total(FORMS[0]));
    assert_eq!(total(FORMS[1]), total(FORMS[0]));
    assert_unknown_refused(
        get(&server.url("/search?q=公园&sort=name")),
        "sort",
        &[
            "q",
            "near",
            "radius",
            "bbox",
            "category",
            "categories",
            "limit",
            "offset",
        ],
    );
    assert_unknown_refused(
        get(&server.url("/search/suggest?q=gy&n=3")),
        "n",
        &["q", "limit"],
    );
}

#[test]
fn coverage_routes_take_the_list_and_refuse_unknown_names() {
    let server = server();
    let gaps = |query: &str| get_json(&server.url(&format!("/coverage/gaps?{query}")));
    let reference = gaps("category=park");
    assert_eq!(gaps("categories=park"), reference);
    assert_eq!(gaps("category=park&categories=park"), reference);
    let two = get(&server.url("/coverage/gaps?categories=park,medical"));
    assert_eq!(two.status(), 400);
    assert!(two.text().unwrap().contains("takes one at a time"));
    assert_unknown_refused(
        get(&server.url("/coverage/gaps?category=park&radius=3")),
        "radius",
        &["category", "categories", "profile", "limit"],
    );
    assert_unknown_refused(
        get(&server.url("/coverage/park/13/6856/3346.png?style=x")),
        "style",
        &["profile"],
    );
    assert_unknown_refused(
        get(&server.url("/coverage/stats?category=park")),
        "category",
        &["profile", "format"],
    );
    let twice = get(&server.url("/coverage/at?lon=121.42&lat=31.22&lat=31.21"));
    assert_eq!(twice.status(), 400);
    assert!(
        twice
            .text()
            .unwrap()
            .contains("`lat` is given more than once")
    );
}

#[test]
fn feedback_and_admin_routes_follow_the_rule() {
    let server = server();
    let client = support::client();
    let feedback = client
        .post(server.url("/feedback?kind=closed"))
        .header("content-type", "application/json")
        .body(r#"{"kind": "suggestion", "message": "more benches"}"#)
        .send()
        .unwrap();
    assert_unknown_refused(feedback, "kind", &[]);
    let admin = |path: &str| {
        client
            .get(server.url(path))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
    };
    let listing = |query: &str| -> serde_json::Value {
        let response = admin(&format!("/admin/feedback?{query}"));
        assert_eq!(response.status(), 200, "{query}");
        response.json().unwrap()
    };
    let reference = listing(FORMS[0]);
    for form in &FORMS[1..] {
        assert_eq!(listing(form), reference, "{form}");
    }
    assert_eq!(
        listing("status=open,resolved"),
        listing("status=open&status=resolved")
    );
    assert_unknown_refused(
        admin("/admin/feedback?sort=new"),
        "sort",
        &[
            "status",
            "kind",
            "facility",
            "category",
            "categories",
            "format",
        ],
    );
    assert_unknown_refused(admin("/admin/feedback/stats?x=1"), "x", &[]);
    let reload = client
        .post(server.url("/admin/reload?forced=true"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_unknown_refused(reload, "forced", &["force"]);
}

#[test]
fn evaluation_routes_follow_the_rule() {
    let server = server();
    assert_unknown_refused(
        get(&server.url("/evaluation/diff?baseline=x&format=csv")),
        "format",
        &["baseline"],
    );
    assert_unknown_refused(
        get(&server.url("/evaluation/diff.csv?basline=x")),
        "basline",
        &["baseline"],
    );
    assert_unknown_refused(get(&server.url("/evaluation/baselines?all=1")), "all", &[]);
    // Which of two baselines was meant is not guessed.
    let twice = get(&server.url("/evaluation/diff?baseline=a&baseline=b"));
    assert_eq!(twice.status(), 400);
    let message = twice.text().unwrap();
    assert!(
        message.contains("`baseline` is given more than once"),
        "{message}"
    );
}
