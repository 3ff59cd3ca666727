//! Search, suggestions, single features and navigation links over HTTP against the bundled
//! sample. Distances are checked against the facility positions read straight from the
//! FlatGeobuf file, links are decoded with reqwest's URL parser, and the relevance table names
//! facilities of the sample by id.

use std::collections::HashMap;
use std::sync::Arc;

use lifecircle::config::Config;
use lifecircle::dataset::{Dataset, Facility, FacilityText};
use lifecircle::geom::{self, haversine_m};
use lifecircle::search::{SearchIndex, SearchQuery};
use reqwest::Url;
use serde_json::Value;

use crate::support::{self, TestServer, get, get_json};

/// Facility id → (name, lon, lat), as the sample file states them.
fn source_positions() -> HashMap<u64, (String, f64, f64)> {
    support::sample_source_facilities()
        .into_iter()
        .map(|f| (f.id, (f.name, f.lon, f.lat)))
        .collect()
}

/// `/search` (or another path) with its parameters percent-encoded.
fn url(server: &TestServer, path: &str, params: &[(&str, &str)]) -> String {
    Url::parse_with_params(&server.url(path), params)
        .unwrap()
        .to_string()
}

fn search(server: &TestServer, params: &[(&str, &str)]) -> Value {
    get_json(&url(server, "/search", params))
}

fn feature_ids(answer: &Value) -> Vec<u64> {
    answer["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect()
}

fn feature_names(answer: &Value) -> Vec<String> {
    answer["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks the invariants every answer keeps: distances are haversine from `near` to the
/// facility's position in the source file (to a decimetre, the precision sent); every result
/// lies within `radius` and inside `bbox`; walking minutes follow from the distance at 1 m/s.
fn check_invariants(
    answer: &Value,
    params: &[(&str, &str)],
    positions: &HashMap<u64, (String, f64, f64)>,
) {
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let numbers =
        |text: &str| -> Vec<f64> { text.split(',').map(|v| v.parse().unwrap()).collect() };
    let near = param("near").map(numbers);
    let radius_m: Option<f64> = param("radius").map(|r| r.parse().unwrap());
    let bbox = param("bbox").map(numbers);
    for feature in answer["features"].as_array().unwrap() {
        let id = feature["id"].as_u64().unwrap();
        let coordinates = &feature["geometry"]["coordinates"];
        let (lon, lat) = (
            coordinates[0].as_f64().unwrap(),
            coordinates[1].as_f64().unwrap(),
        );
        if let Some((_, src_lon, src_lat)) = positions.get(&id) {
            // JSON number parsing may differ from the file in the last bit.
            assert!(
                haversine_m((lon, lat), (*src_lon, *src_lat)) < 1e-3,
                "position of {id}"
            );
        }
        let properties = &feature["properties"];
        match &near {
            Some(near) => {
                let expected = haversine_m((near[0], near[1]), (lon, lat));
                let distance_m = properties["distance_m"].as_f64().unwrap();
                assert!(
                    (distance_m - expected).abs() <= 0.05 + 1e-9,
                    "{id}: {distance_m} vs {expected}"
                );
                let walk_minutes = properties["walk_minutes"].as_f64().unwrap();
                assert!(
                    (walk_minutes - expected / 60.0).abs() <= 0.05 + 1e-9,
                    "{id}: {walk_minutes} min"
                );
                if let Some(radius_m) = radius_m {
                    assert!(
                        expected <= radius_m,
                        "{id} is {expected} m away, beyond {radius_m}"
                    );
                }
            }
            None => assert!(properties["distance_m"].is_null()),
        }
        if let Some(b) = &bbox {
            assert!(
                lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3],
                "{id} outside {b:?}"
            );
        }
    }
}

/// Request parameters, `name=value`.
type Params = &'static [(&'static str, &'static str)];

/// One row of the relevance table.
struct Case {
    params: Params,
    /// Facilities that must come first, in this order.
    first: &'static [u64],
    /// Facilities that must also be among the first `within` results, in any order.
    also: &'static [u64],
    within: usize,
}

const fn first(params: Params, first: &'static [u64]) -> Case {
    Case {
        params,
        first,
        also: &[],
        within: 0,
    }
}

const fn among(
    params: &'static [(&'static str, &'static str)],
    also: &'static [u64],
    within: usize,
) -> Case {
    Case {
        params,
        first: &[],
        also,
        within,
    }
}

/// Near 中山公园 (Zhongshan Park), Huayang Road subdistrict.
const HOME: &str = "121.4200,31.2220";

/// Queries in Chinese, English, pinyin and initials, with and without a place, radius and
/// category, and what a resident must see first. Facility ids are those of the bundled sample;
/// `near=@ID` stands at facility ID, so "standing at a kindergarten, 幼儿园 lists it first".
const RELEVANCE: &[Case] = &[
    // Chinese.
    first(&[("q", "中山公园")], &[100057, 100062]), // the exact name, then the station it starts
    first(&[("q", "社区卫生服务中心"), ("near", "@100007")], &[100007]), // substring of a longer name
    first(&[("q", "社区卫生"), ("near", "@100012")], &[100012]),
    first(
        &[
            ("q", "卫生"),
            ("near", "@100052"),
            ("radius", "1000"),
            ("category", "medical"),
        ],
        &[100052],
    ),
    first(&[("q", "菜场"), ("near", "@101058")], &[101058]), // 天原菜市场: 菜场 names the market category
    first(&[("q", "华阳 幼儿园"), ("near", HOME)], &[101180]), // 华阳幼儿园 exactly
    among(&[("q", "华阳 幼儿园"), ("near", HOME)], &[100220], 4), // 长宁区华阳第一幼儿园: both terms
    first(&[("q", "华阳幼儿园"), ("near", HOME)], &[101180]),     // run together
    among(&[("q", "华阳幼儿园"), ("near", HOME)], &[100220], 4),  // … and split around the keyword
    first(
        &[("q", "幼儿园"), ("near", "@100220"), ("radius", "500")],
        &[100220],
    ),
    first(&[("q", "妇幼保健院")], &[100065]),
    first(&[("q", "同仁")], &[100064]),
    first(&[("q", "图书馆")], &[100068]), // the district library before its branches
    first(
        &[("q", "门诊"), ("near", "@101913"), ("radius", "300")],
        &[101913],
    ), // 利西门诊部
    first(&[("q", "地铁站"), ("near", "@100057")], &[100062]), // 中山公园地铁站 from the park
    first(
        &[("q", "居委会"), ("near", "@100109"), ("radius", "500")],
        &[100109],
    ),
    first(&[("q", "测试")], &[100001]), // markup in a name is just text
    first(&[("q", "工商银行"), ("near", "@102468")], &[102468]),
    first(
        &[("q", "看病"), ("near", "@100064"), ("radius", "800")],
        &[100064],
    ), // synonym of medical
    first(
        &[("q", "买菜"), ("near", "@101058"), ("radius", "400")],
        &[101058],
    ), // a market …
    first(
        &[("q", "买菜"), ("near", "@100074"), ("radius", "400")],
        &[100074],
    ), // … and a supermarket
    // English.
    first(
        &[("q", "pharmacy"), ("near", "@100076"), ("radius", "800")],
        &[100076],
    ),
    first(&[("q", "Zhongshan Park")], &[100057, 100062]),
    among(
        &[("q", "hospital")],
        &[100063, 100064, 100065, 100066, 100067],
        9,
    ), // named hospitals first
    first(&[("q", "kindergarten"), ("near", "@100220")], &[100220]),
    first(&[("q", "FamilyMart"), ("near", "@100149")], &[100149]),
    first(&[("q", "7-eleven")], &[100004]),
    first(&[("q", "k11")], &[100002]), // full-width Ｋ11 in the name
    first(&[("q", "ＡＴＭ")], &[100003]), // without near, the name starting with ATM first
    first(&[("q", "ＡＴＭ"), ("near", HOME)], &[101170]), // with near, the nearest bank (atm names banks)
    first(&[("q", "Ole")], &[100006]),
    first(&[("q", "DECATHLON")], &[100005]),
    first(&[("q", "school"), ("near", "@100071")], &[100071]),
    first(&[("q", "wet market"), ("near", "@101058")], &[101058]),
    first(&[("q", "Tongren Hospital")], &[100064]),
    // Pinyin: full spellings and initials.
    first(&[("q", "zhongshangongyuan")], &[100057, 100062]),
    first(&[("q", "youeryuan"), ("near", "@100220")], &[100220]),
    first(&[("q", "yey"), ("near", "@100220")], &[100220]),
    first(&[("q", "tongren")], &[100064]),
    first(&[("q", "huayang youeryuan"), ("near", HOME)], &[101180]),
    among(&[("q", "huayang youeryuan"), ("near", HOME)], &[100220], 4),
    first(
        &[("q", "weisheng"), ("near", "@100012"), ("radius", "300")],
        &[100012],
    ),
    first(&[("q", "maicai"), ("near", "@100074")], &[100074]),
    first(&[("q", "zsgy")], &[100057]),
    first(&[("q", "fybjy")], &[100065]),
    first(&[("q", "gongshangyinhang"), ("near", "@102468")], &[102468]),
    // No keyword: what is near me.
    first(
        &[("near", "@100220"), ("category", "kindergarten")],
        &[100220],
    ),
    among(
        &[("q", "中心"), ("category", "medical")],
        &[100007, 100012, 100017],
        10,
    ),
];

/// Replaces `near=@ID` by the position of facility ID.
fn resolve_params(
    params: Params,
    positions: &HashMap<u64, (String, f64, f64)>,
) -> Vec<(&'static str, String)> {
    params
        .iter()
        .map(|&(name, value)| match value.strip_prefix('@') {
            Some(id) => {
                let (_, lon, lat) = &positions[&id.parse::<u64>().unwrap()];
                (name, format!("{lon},{lat}"))
            }
            None => (name, value.to_owned()),
        })
        .collect()
}

#[test]
fn relevance_table() {
    let server = support::sample();
    let positions = source_positions();
    assert!(RELEVANCE.len() >= 30);
    let mut failures = Vec::new();
    for case in RELEVANCE {
        let mut owned = resolve_params(case.params, &positions);
        owned.push(("limit", "20".to_owned()));
        let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = search(&server, &params);
        check_invariants(&answer, &params, &positions);
        let ids = feature_ids(&answer);
        let first_ok = ids.len() >= case.first.len() && ids[..case.first.len()] == *case.first;
        let window = &ids[..ids.len().min(case.within)];
        let also_ok = case.also.iter().all(|id| window.contains(id));
        if !(first_ok && also_ok) {
            failures.push(format!(
                "{:?}: expected first {:?}, also {:?} within {}; got {:?} {:?}",
                case.params,
                case.first,
                case.also,
                case.within,
                ids,
                feature_names(&answer)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn what_is_near_me_matches_a_brute_force_ranking() {
    let server = support::sample();
    let positions = source_positions();
    let dataset = server.state.snapshot.load_full().dataset.clone();
    let market = dataset.taxonomy.by_id("market").unwrap();
    let near = (121.39, 31.21);
    let mut expected: Vec<(f64, u64)> = dataset
        .facilities()
        .iter()
        .filter(|f| f.category == market)
        .map(|f| (haversine_m(near, (f.lon, f.lat)), f.id))
        .collect();
    expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let params = [
        ("near", "121.39,31.21"),
        ("category", "market"),
        ("limit", "15"),
    ];
    let answer = search(&server, &params);
    check_invariants(&answer, &params, &positions);
    let expected_ids: Vec<u64> = expected.iter().take(15).map(|e| e.1).collect();
    assert_eq!(feature_ids(&answer), expected_ids);
    assert_eq!(answer["total"].as_u64().unwrap() as usize, expected.len());
}

#[test]
fn radius_and_bbox_bound_the_results() {
    let server = support::sample();
    let positions = source_positions();
    let dataset = server.state.snapshot.load_full().dataset.clone();
    for (q, radius) in [
        ("", "300"),
        ("幼儿园", "1500"),
        ("yey", "2500"),
        ("银行", "700"),
        ("", "5000"),
    ] {
        let params = [
            ("q", q),
            ("near", HOME),
            ("radius", radius),
            ("limit", "100"),
        ];
        let answer = search(&server, &params);
        check_invariants(&answer, &params, &positions);
        if q.is_empty() {
            let radius_m: f64 = radius.parse().unwrap();
            // Residents' search shows existing facilities only.
            let inside = dataset
                .facilities()
                .iter()
                .enumerate()
                .filter(|&(idx, f)| {
                    dataset.status(idx as u32) == lifecircle::attributes::Status::Existing
                        && haversine_m((121.42, 31.222), (f.lon, f.lat)) <= radius_m
                })
                .count();
            assert_eq!(
                answer["total"].as_u64().unwrap() as usize,
                inside,
                "radius {radius}"
            );
        }
    }
    let bbox = "121.41,31.215,121.43,31.225";
    for q in ["", "幼儿园", "pharmacy", "zhongshan"] {
        let params = [("q", q), ("bbox", bbox), ("limit", "100")];
        let answer = search(&server, &params);
        check_invariants(&answer, &params, &positions);
        assert!(
            !feature_ids(&answer).is_empty(),
            "{q:?} finds something in the box"
        );
    }
    let params = [
        ("bbox", bbox),
        ("near", HOME),
        ("radius", "400"),
        ("limit", "100"),
    ];
    let answer = search(&server, &params);
    check_invariants(&answer, &params, &positions);
    let inside = dataset
        .facilities()
        .iter()
        .filter(|f| f.lon >= 121.41 && f.lon <= 121.43 && f.lat >= 31.215 && f.lat <= 31.225)
        .filter(|f| haversine_m((121.42, 31.222), (f.lon, f.lat)) <= 400.0)
        .count();
    assert_eq!(answer["total"].as_u64().unwrap() as usize, inside);
}

#[test]
fn search_answers_are_geojson_with_links() {
    let server = support::sample();
    let answer = search(
        &server,
        &[("q", "中山公园"), ("near", HOME), ("limit", "1")],
    );
    assert_eq!(answer["type"], "FeatureCollection");
    assert_eq!(answer["limit"], 1);
    // A place run together with a category keyword is searched as both.
    assert_eq!(
        answer["query"]["terms"],
        serde_json::json!(["中山", "公园"])
    );
    let feature = &answer["features"][0];
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["geometry"]["type"], "Point");
    let properties = &feature["properties"];
    assert_eq!(properties["name"], "中山公园");
    assert_eq!(properties["category"], "park");
    assert_eq!(properties["color"], "#2ca02c");
    assert_eq!(properties["category_label_zh"], "公园绿地");
    assert_eq!(properties["name_match"], "exact");
    assert_eq!(properties["relevance"], 1.0);
    for app in ["amap", "baidu", "tencent", "apple", "osm"] {
        assert!(
            properties["links"][app]
                .as_str()
                .unwrap()
                .starts_with("https://"),
            "{app}"
        );
    }
}

/// The query pairs of a URL, decoded.
fn query_pairs(link: &str) -> HashMap<String, String> {
    Url::parse(link)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[test]
fn feature_route_and_navigation_links() {
    let server = support::sample();
    let answer = get_json(&server.url("/features/100006"));
    assert_eq!(answer["type"], "Feature");
    assert_eq!(answer["id"], 100006);
    let properties = &answer["properties"];
    let name = properties["name"].as_str().unwrap();
    assert_eq!(name, "Ole'精品超市(来福士店)");
    let lon = answer["geometry"]["coordinates"][0].as_f64().unwrap();
    let lat = answer["geometry"]["coordinates"][1].as_f64().unwrap();
    let (gcj_lon, gcj_lat) = lifecircle::geom::datum::wgs84_to_gcj02(lon, lat);
    let (bd_lon, bd_lat) = lifecircle::geom::datum::wgs84_to_bd09(lon, lat);
    let near = |text: &str, expected: (f64, f64)| {
        let v: Vec<f64> = text.split(',').map(|x| x.parse().unwrap()).collect();
        assert!(
            haversine_m((v[0], v[1]), expected) < 0.2,
            "{text} vs {expected:?}"
        );
    };
    let links = &properties["links"];
    let amap = query_pairs(links["amap"].as_str().unwrap());
    assert_eq!(amap["name"], name);
    assert_eq!(amap["coordinate"], "gaode");
    near(&amap["position"], (gcj_lon, gcj_lat));
    let baidu = query_pairs(links["baidu"].as_str().unwrap());
    assert_eq!(baidu["title"], name);
    assert_eq!(baidu["coord_type"], "bd09ll");
    let location: Vec<&str> = baidu["location"].split(',').collect();
    near(
        &format!("{},{}", location[1], location[0]),
        (bd_lon, bd_lat),
    );
    let tencent = query_pairs(links["tencent"].as_str().unwrap());
    let marker = &tencent["marker"];
    assert!(marker.contains(&format!(";title:{name}")), "{marker}");
    let coord: Vec<&str> = marker["coord:".len()..]
        .split(';')
        .next()
        .unwrap()
        .split(',')
        .collect();
    near(&format!("{},{}", coord[1], coord[0]), (gcj_lon, gcj_lat));
    assert_eq!(tencent["referer"], "lifecircle");
    let apple = query_pairs(links["apple"].as_str().unwrap());
    assert_eq!(apple["q"], name);
    let osm = Url::parse(links["osm"].as_str().unwrap()).unwrap();
    let osm_pairs: HashMap<String, String> = osm.query_pairs().into_owned().collect();
    near(
        &format!("{},{}", osm_pairs["mlon"], osm_pairs["mlat"]),
        (lon, lat),
    );
    // The Chinese apps get shifted positions, hundreds of metres from WGS84 in Shanghai.
    assert!(haversine_m((lon, lat), (gcj_lon, gcj_lat)) > 100.0);

    let response = get(&server.url("/features/999999999"));
    assert_eq!(response.status(), 404);
    let response = get(&server.url("/features/abc"));
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert!(body["error"].as_str().unwrap().contains("`abc`"), "{body}");
}

#[test]
fn bad_input_is_a_400_naming_the_parameter() {
    let server = support::sample();
    let cases: &[(Params, &[&str])] = &[
        (&[("near", "")], &["`near`", "lon,lat"]),
        (&[("near", "121.4")], &["`near`", "lon,lat"]),
        (&[("near", "east,north")], &["`near`"]),
        (&[("near", "121.4,95")], &["`near`", "latitude -90 to 90"]),
        (&[("near", "190,31")], &["`near`", "longitude -180 to 180"]),
        (
            &[("near", HOME), ("radius", "5001")],
            &["`radius`", "at most 5000"],
        ),
        (
            &[("near", HOME), ("radius", "0")],
            &["`radius`", "greater than 0"],
        ),
        (&[("radius", "500")], &["`radius`", "near"]),
        (&[("limit", "101")], &["`limit`", "from 1 to 100"]),
        (&[("offset", "100000")], &["`offset`", "from 0 to 1000"]),
        (
            &[("category", "zoo")],
            &["`category`", "`zoo`", "kindergarten"],
        ),
        (
            &[("bbox", "121.5,31.3,121.4,31.2")],
            &["`bbox`", "west ≤ east"],
        ),
        (&[("sort", "name")], &["unknown parameter `sort`", "near"]),
        (&[("q", "a"), ("q", "b")], &["`q`", "more than once"]),
    ];
    for (params, fragments) in cases {
        let response = get(&url(&server, "/search", params));
        assert_eq!(response.status(), 400, "{params:?}");
        let body: Value = response.json().unwrap();
        let message = body["error"].as_str().unwrap();
        for fragment in *fragments {
            assert!(
                message.contains(fragment),
                "{params:?}: {message:?} lacks {fragment:?}"
            );
        }
    }
    let long = "菜".repeat(65);
    let response = get(&url(&server, "/search", &[("q", long.as_str())]));
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("at most 64"),
        "{body}"
    );
    let response = get(&url(&server, "/search/suggest", &[("limit", "21")]));
    assert_eq!(response.status(), 400);
}

#[test]
fn odd_unicode_is_answered() {
    let server = support::sample();
    for q in [
        "🙂🏥",
        "e\u{301}\u{301}",
        "\u{0}\u{1b}[2J",
        "\u{202E}园儿幼",
        "\u{FEFF}",
        "ᄀᄀ",
        "\u{10FFFF}",
        "%",
        "\\u0000",
    ] {
        let response = get(&url(&server, "/search", &[("q", q), ("near", HOME)]));
        assert_eq!(response.status(), 200, "/search {q:?}");
        let response = get(&url(&server, "/search/suggest", &[("q", q)]));
        assert_eq!(response.status(), 200, "/search/suggest {q:?}");
    }
    // Full-width Latin finds what half-width finds.
    let full = search(&server, &[("q", "ｐｈａｒｍａｃｙ"), ("near", HOME)]);
    let half = search(&server, &[("q", "pharmacy"), ("near", HOME)]);
    assert_eq!(feature_ids(&full), feature_ids(&half));
    assert!(!feature_ids(&half).is_empty());
    // Invalid percent-encoding in the raw query is still an answer, not a failure.
    let response = get(&server.url("/search?q=%FF%FE&near=121.42,31.222"));
    assert!(
        response.status() == 200 || response.status() == 400,
        "{}",
        response.status()
    );
}

#[test]
fn suggestions_for_a_search_box() {
    let server = support::sample();
    let suggest = |q: &str| get_json(&url(&server, "/search/suggest", &[("q", q)]));
    let answer = suggest("yey");
    assert_eq!(answer["suggestions"][0]["text"], "幼儿园");
    assert_eq!(answer["suggestions"][0]["kind"], "category");
    assert_eq!(answer["suggestions"][0]["category"], "kindergarten");
    let texts = |answer: &Value| -> Vec<String> {
        answer["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        texts(&suggest("中山")).contains(&"中山公园".to_owned()),
        "{:?}",
        texts(&suggest("中山"))
    );
    assert!(texts(&suggest("zhongshan")).contains(&"中山公园".to_owned()));
    assert_eq!(texts(&suggest("phar"))[0], "pharmacy");
    assert!(texts(&suggest("")).is_empty());
    assert!(texts(&suggest("quanj")).contains(&"全家便利店".to_owned()));
    let limited = get_json(&url(
        &server,
        "/search/suggest",
        &[("q", "z"), ("limit", "3")],
    ));
    assert!(texts(&limited).len() <= 3);
}

#[test]
fn catalog_lists_the_search_routes() {
    let server = support::sample();
    let catalog = get_json(&server.url("/catalog"));
    let search = &catalog["search"];
    assert!(
        search["search"]
            .as_str()
            .unwrap()
            .ends_with("/search?q={q}&near={lon},{lat}&radius={metres}&category={ids}")
    );
    assert!(
        search["feature"]
            .as_str()
            .unwrap()
            .ends_with("/features/{id}")
    );
}

/// City scale (the search index itself, no server): a generated central-Shanghai set of 120,000
/// facilities, plus facilities literally
/// named 幼儿园, 药店, 超市 and 公园 kilometres from each query place. For every such word at ten
/// places, the first result is the nearest facility of the category the word names, or one at
/// most 200 m farther than it.
#[test]
fn city_scale_category_words_find_the_nearest_facility_of_the_category() {
    let dir = tempfile::tempdir().unwrap();
    lifecircle_generate::write_dataset(
        &lifecircle_generate::GenerateOptions::shanghai(120_000),
        dir.path(),
    )
    .expect("city set generates");
    let config = Config::embedded().unwrap();
    let taxonomy = Arc::new(config.taxonomy().unwrap());
    let (mut facilities, _) = lifecircle::ingest::read_facilities(
        &dir.path().join("facilities.fgb"),
        &config.data.fields,
        &taxonomy,
    )
    .expect("city facilities load");
    assert!(facilities.len() >= 100_000, "{}", facilities.len());
    let words = [
        ("幼儿园", "kindergarten"),
        ("药店", "pharmacy"),
        ("超市", "supermarket"),
        ("公园", "park"),
    ];
    // Ten places spread over the city's middle, each with every word planted 1.5–6 km away, as
    // a facility of no category or of the word's own.
    let places: Vec<(f64, f64)> = (0..10)
        .map(|i| {
            let a = (f64::from(i) * 0.618_033_988_7).fract();
            let b = (f64::from(i) * 0.414_213_562_3 + 0.3).fract();
            (121.33 + a * 0.3, 31.08 + b * 0.25)
        })
        .collect();
    let mut next_id = facilities.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    for (p, &(lon, lat)) in places.iter().enumerate() {
        for (w, &(word, category)) in words.iter().enumerate() {
            let distance_m = 1500.0 + 1000.0 * ((p + w) % 5) as f64;
            // A point about `distance_m` away (the test measures every distance itself).
            let bearing = (90.0 * w as f64 + 20.0).to_radians();
            let plat = lat + distance_m * bearing.cos() / 111_195.0;
            let plon = lon + distance_m * bearing.sin() / (111_195.0 * lat.to_radians().cos());
            let category = if (p + w) % 2 == 0 {
                taxonomy.fallback()
            } else {
                taxonomy.by_id(category).unwrap()
            };
            facilities.push(Facility::new(
                next_id,
                category,
                (plon, plat),
                FacilityText {
                    source_id: &next_id.to_string(),
                    name: word,
                    name_en: None,
                    address: None,
                },
                None,
            ));
            next_id += 1;
        }
    }
    let data = Dataset::new(taxonomy, facilities, Vec::new(), Vec::new(), Vec::new());
    let index = SearchIndex::build(&data);
    for (word, category) in words {
        let category = data.taxonomy.by_id(category).unwrap();
        for &place in &places {
            let nearest_m = data
                .facilities_of(category)
                .iter()
                .map(|&idx| {
                    let f = data.facility(idx);
                    geom::haversine_m(place, (f.lon, f.lat))
                })
                .fold(f64::INFINITY, f64::min);
            let query = SearchQuery {
                near: Some(place),
                ..SearchQuery::text(word, 1)
            };
            let results = index.search(&data, &query);
            let hit = &results.hits[0];
            let first = data.facility(hit.facility_idx);
            let distance_m = hit.distance_m.unwrap();
            assert!(
                distance_m <= nearest_m + 200.0,
                "{word} near {place:?}: first is {:?} ({}) at {distance_m:.0} m; the nearest {} is {nearest_m:.0} m away",
                first.name(),
                data.taxonomy.category(first.category).id,
                data.taxonomy.category(category).id,
            );
        }
    }
}

#[test]
fn walk_minutes_use_the_default_profiles_speed() {
    let server = support::spawn(
        "[coverage]\ndefault_profile = \"elderly\"\n[cache]\nprecompute_maxzoom = 0\n",
    );
    let answer = support::get_json(&server.url("/search?q=公园&near=121.4236,31.2203&limit=5"));
    assert_eq!(answer["walk_speed_m_per_s"], 0.8);
    let features = answer["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for feature in features {
        let properties = &feature["properties"];
        let distance_m = properties["distance_m"].as_f64().unwrap();
        let walk_minutes = properties["walk_minutes"].as_f64().unwrap();
        assert!(
            (walk_minutes - distance_m / 0.8 / 60.0).abs() <= 0.05 + 1e-9,
            "{distance_m} m in {walk_minutes} min"
        );
    }
}
