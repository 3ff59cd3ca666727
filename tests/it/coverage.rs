//! Coverage over HTTP against the bundled sample: heatmap tiles decoded with the `png` crate and
//! checked against the legend's colours, bands decoded with `mvt-reader` and checked to nest,
//! `/coverage/at` checked against an independent haversine nearest-neighbour written in Python
//! and against the field, statistics that add up, and the errors bad input gets.

use std::collections::HashSet;
use std::io::Write;
use std::sync::OnceLock;

use lifecircle::geom::{self, TileKey};
use rand::{Rng, SeedableRng};

use crate::support::{self, TestServer, get, get_json};

/// The sample served with the default configuration (network mode).
fn network() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(support::sample)
}

/// The sample in straight-line mode.
fn euclidean() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| support::spawn("[coverage]\nmode = \"euclidean\"\n"))
}

fn centre(server: &TestServer) -> (f64, f64) {
    let [lon, lat] = server.state.snapshot.load_full().dataset.center();
    (lon, lat)
}

fn tile_at(server: &TestServer, z: u8) -> TileKey {
    let (lon, lat) = centre(server);
    TileKey::containing(geom::lonlat_to_merc(lon, lat), z)
}

fn decode_png(bytes: &[u8]) -> Vec<[u8; 4]> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (256, 256));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf[..info.buffer_size()]
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect()
}

fn rgba(v: &serde_json::Value) -> [u8; 4] {
    let a: Vec<u8> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect();
    [a[0], a[1], a[2], a[3]]
}

#[test]
fn catalog_and_tilejson_name_profile_and_mode() {
    let server = network();
    let catalog = get_json(&server.url("/catalog"));
    let ids: Vec<&str> = catalog["coverage"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for id in ["medical", "kindergarten", "all", "care", "living"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(catalog["coverage"]["mode"], "network");
    let tilejson = get_json(&server.url("/coverage/all.json"));
    assert_eq!(tilejson["tilejson"], "3.0.0");
    assert_eq!(
        tilejson["tiles"][0],
        server.url("/coverage/all/{z}/{x}/{y}.png?profile=standard")
    );
    assert_eq!(tilejson["coverage"]["mode"], "network");
    assert_eq!(tilejson["coverage"]["profile"]["id"], "standard");
    let elderly = get_json(&server.url("/coverage/medical.json?profile=elderly&format=mvt"));
    assert_eq!(elderly["coverage"]["profile"]["speed_m_s"], 0.8);
    assert_eq!(elderly["coverage"]["threshold_min"], 15);
    assert_eq!(elderly["vector_layers"][0]["id"], "bands");
    assert!(
        elderly["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with(".mvt?profile=elderly")
    );
}

#[test]
fn png_tiles_decode_to_the_legend_colours() {
    let server = network();
    let legend = get_json(&server.url("/coverage/legend"));
    assert_eq!(legend["mode"], "network");
    let mut time: HashSet<[u8; 4]> = legend["time"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| rgba(&s["rgba"]))
        .collect();
    time.insert(rgba(&legend["time"]["far"]["rgba"]));
    for stripe in legend["time"]["unreachable"]["rgba"].as_array().unwrap() {
        time.insert(rgba(stripe));
    }
    let composite = |id: &str| -> HashSet<[u8; 4]> {
        legend["composites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| rgba(&s["rgba"]))
            .collect()
    };
    let mut n_opaque = 0usize;
    for z in [11, 13, 15] {
        let tile = tile_at(server, z);
        for (id, colours) in [
            ("medical", &time),
            ("kindergarten", &time),
            ("all", &composite("all")),
            ("care", &composite("care")),
        ] {
            for profile in ["standard", "elderly"] {
                let url = server.url(&format!("/coverage/{id}/{tile}.png?profile={profile}"));
                let response = get(&url);
                assert_eq!(response.status(), 200, "{url}");
                assert_eq!(response.headers()["content-type"], "image/png");
                for p in decode_png(&response.bytes().unwrap()) {
                    if p[3] != 0 {
                        assert!(colours.contains(&p), "{url}: {p:?} is not a legend colour");
                        n_opaque += 1;
                    }
                }
            }
        }
    }
    assert!(n_opaque > 500_000, "{n_opaque}");
    // Far from the data: nothing to draw.
    let response = get(&server.url("/coverage/all/12/3372/1552.png"));
    assert_eq!(response.status(), 204);
    let legend_png = get(&server.url("/coverage/legend.png?id=medical"));
    assert_eq!(legend_png.status(), 200);
    assert_eq!(legend_png.headers()["content-type"], "image/png");
}

#[test]
fn mvt_bands_nest() {
    use geo::Contains;
    let server = network();
    for (id, z) in [("kindergarten", 14), ("medical", 13), ("park", 15)] {
        let tile = tile_at(server, z);
        let response = get(&server.url(&format!("/coverage/{id}/{tile}.mvt")));
        assert_eq!(response.status(), 200);
        let reader = mvt_reader::Reader::new(response.bytes().unwrap().to_vec()).unwrap();
        let features = reader.get_features(0).unwrap();
        let band = |minutes: u64| -> geo::MultiPolygon<f32> {
            let f = features
                .iter()
                .find(|f| {
                    f.properties.as_ref().unwrap().get("minutes")
                        == Some(&mvt_reader::feature::Value::UInt(minutes))
                })
                .unwrap_or_else(|| panic!("{id}: no ≤{minutes} band"));
            match f.get_geometry() {
                geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p.clone()]),
                geo::Geometry::MultiPolygon(mp) => mp.clone(),
                other => panic!("{other:?}"),
            }
        };
        let (le5, le10, le15) = (band(5), band(10), band(15));
        let mut n_inside = [0; 3];
        for j in 0..80 {
            for i in 0..80 {
                let p = geo::Point::new(i as f32 * 51.2 + 13.3, j as f32 * 51.2 + 21.7);
                let inside = [&le5, &le10, &le15].map(|b| b.contains(&p));
                assert!(!inside[0] || inside[1], "{id}: ≤5 outside ≤10 at {p:?}");
                assert!(!inside[1] || inside[2], "{id}: ≤10 outside ≤15 at {p:?}");
                for k in 0..3 {
                    n_inside[k] += usize::from(inside[k]);
                }
            }
        }
        assert!(
            n_inside[0] > 0 && n_inside[0] < n_inside[2],
            "{id}: {n_inside:?}"
        );
    }
}

/// Runs the Python nearest-facility check on `points`.
fn python_nearest(server: &TestServer, points: &[(f64, f64)]) -> serde_json::Value {
    let snapshot = server.state.snapshot.load_full();
    let dataset = &snapshot.dataset;
    // Coverage counts existing facilities, each in its category and in those its functions
    // add (a centre offering 托育点 serves kindergartens too).
    let facilities: Vec<serde_json::Value> = dataset
        .facilities()
        .iter()
        .enumerate()
        .filter(|&(idx, _)| dataset.status(idx as u32) == lifecircle::attributes::Status::Existing)
        .flat_map(|(idx, f)| {
            dataset.categories_served(idx as u32).map(move |c| {
                serde_json::json!({
                    "id": f.id,
                    "category": dataset.taxonomy.category(c).id,
                    "lon": f.lon,
                    "lat": f.lat,
                })
            })
        })
        .collect();
    let input = serde_json::json!({ "facilities": facilities, "points": points });
    let script = support::repo_root().join("tests/it/nearest_facility.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (the coverage tests need it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

fn random_points(server: &TestServer, n: usize, seed: u64) -> Vec<(f64, f64)> {
    let [w, s, e, n_] = server.state.snapshot.load_full().dataset.bounds;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (rng.random_range(w..e), rng.random_range(s..n_)))
        .collect()
}

#[test]
fn at_agrees_with_python_haversine_and_the_field() {
    let server = euclidean();
    let snapshot = server.state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let half_diagonal = coverage.grid.cell_m * std::f64::consts::SQRT_2 / 2.0;
    let points = random_points(server, 40, 8);
    let expected = python_nearest(server, &points);
    for (i, &(lon, lat)) in points.iter().enumerate() {
        let report = get_json(&server.url(&format!("/coverage/at?lon={lon}&lat={lat}")));
        assert_eq!(report["mode"], "euclidean");
        for entry in report["categories"].as_array().unwrap() {
            let category = entry["category"].as_str().unwrap();
            let d = entry["distance_m"].as_f64().unwrap();
            let py = &expected[i][category];
            assert!(
                (d - py[0].as_f64().unwrap()).abs() < 0.01,
                "{category}: {d} vs {py}"
            );
            assert_eq!(entry["facility"]["id"], py[1], "{category} at {lon},{lat}");
            let minutes = entry["minutes"].as_f64().unwrap();
            assert!((minutes - d / 60.0).abs() < 1e-9);
            assert_eq!(
                entry["within"].as_bool().unwrap(),
                minutes <= entry["walk_min"].as_f64().unwrap()
            );
            // Within one cell of the field.
            let c = coverage.category_id(category).unwrap();
            let field_m = f64::from(coverage.field_value_at(c, lon, lat).unwrap());
            assert!(
                (field_m - d).abs() <= half_diagonal + 0.5,
                "{category}: {field_m} vs {d}"
            );
        }
    }
}

#[test]
fn at_walks_at_least_the_straight_line_in_network_mode() {
    let server = network();
    let points = random_points(server, 15, 9);
    let straight = python_nearest(server, &points);
    for (i, &(lon, lat)) in points.iter().enumerate() {
        let report =
            get_json(&server.url(&format!("/coverage/at?lon={lon}&lat={lat}&profile=elderly")));
        assert_eq!(report["mode"], "network");
        assert!(report["snapped"]["off_network_m"].as_f64().unwrap() >= 0.0);
        let mut n_within = 0;
        for entry in report["categories"].as_array().unwrap() {
            let category = entry["category"].as_str().unwrap();
            let Some(d) = entry["distance_m"].as_f64() else {
                continue;
            };
            let s = straight[i][category][0].as_f64().unwrap();
            assert!(d >= s - 0.01, "{category}: walked {d} < straight {s}");
            let minutes = entry["minutes"].as_f64().unwrap();
            assert!((minutes - d / 0.8 / 60.0).abs() < 1e-9);
            if entry["within"].as_bool().unwrap() && category != "other" {
                n_within += 1;
            }
        }
        assert_eq!(report["score"]["within"], n_within);
    }
}

#[test]
fn statistics_add_up() {
    let server = network();
    let stats = get_json(&server.url("/coverage/stats"));
    let snapshot = server.state.snapshot.load_full();
    let population: u64 = snapshot
        .dataset
        .residents
        .iter()
        .map(|r| u64::from(r.population))
        .sum();
    let total = &stats["total"];
    assert_eq!(total["population"], population);
    let areas = stats["subdistricts"].as_array().unwrap();
    assert_eq!(areas.len(), 10);
    let outside = stats["outside_subdistricts"]["population"]
        .as_u64()
        .unwrap_or(0);
    let sum: u64 = areas
        .iter()
        .map(|a| a["population"].as_u64().unwrap())
        .sum();
    assert_eq!(sum + outside, population);
    let area_sum: f64 = areas.iter().map(|a| a["area_km2"].as_f64().unwrap()).sum();
    assert!((area_sum - total["area_km2"].as_f64().unwrap()).abs() < 1e-6);
    for (category, figures) in total["categories"].as_object().unwrap() {
        let within: u64 = areas
            .iter()
            .map(|a| {
                a["categories"][category]["population_within"]
                    .as_u64()
                    .unwrap()
            })
            .sum::<u64>()
            + stats["outside_subdistricts"]["categories"][category]["population_within"]
                .as_u64()
                .unwrap_or(0);
        assert_eq!(figures["population_within"], within, "{category}");
        let share = figures["population_share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
    }
    // The headline: every essential category within reach, so at most any one of them.
    let headline = stats["headline"]["population_share"].as_f64().unwrap();
    for category in stats["headline"]["essential_categories"]
        .as_array()
        .unwrap()
    {
        let share = total["categories"][category.as_str().unwrap()]["population_share"]
            .as_f64()
            .unwrap();
        assert!(headline <= share + 1e-12);
    }
    // CSV: one row per area and measure, the same figures.
    let csv = get(&server.url("/coverage/stats?format=csv&profile=elderly"))
        .text()
        .unwrap();
    let csv = csv
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte order mark, so spreadsheets read 街道 names right");
    assert!(csv.contains("\r\n"), "CRLF line ends");
    let rows: Vec<&str> = csv.lines().collect();
    let n_measures = 14 + 2 + 5;
    let n_areas = 10 + usize::from(outside > 0) + 1;
    assert_eq!(rows.len(), 1 + n_areas * n_measures);
    let elderly = get_json(&server.url("/coverage/stats?profile=elderly"));
    let total_medical = rows
        .iter()
        .find(|r| r.starts_with("total,,elderly,medical,"))
        .unwrap();
    let within = elderly["total"]["categories"]["medical"]["population_within"].to_string();
    assert_eq!(total_medical.split(',').nth(9), Some(within.as_str()));
}

#[test]
fn gaps_and_suggestions() {
    let server = network();
    let gaps = get_json(&server.url("/coverage/gaps?category=kindergarten&limit=5"));
    let list = gaps["gaps"].as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 5);
    for pair in list.windows(2) {
        assert!(pair[0]["area_m2"].as_f64() >= pair[1]["area_m2"].as_f64());
    }
    let total: u64 = get_json(&server.url("/coverage/stats"))["total"]["population"]
        .as_u64()
        .unwrap();
    assert!(gaps["total_residents"].as_u64().unwrap() <= total);
    let suggest = get_json(&server.url("/coverage/suggest?category=kindergarten&k=3"));
    let picks = suggest["suggestions"].as_array().unwrap();
    assert_eq!(picks.len(), 3);
    let mut previous = u64::MAX;
    let mut cumulative = 0;
    for pick in picks {
        let newly = pick["newly_covered_residents"].as_u64().unwrap();
        assert!(newly > 0 && newly <= previous);
        cumulative += newly;
        assert_eq!(pick["cumulative_covered_residents"], cumulative);
        previous = newly;
    }
    assert_eq!(
        suggest["uncovered_after"].as_u64().unwrap(),
        suggest["uncovered_before"].as_u64().unwrap() - cumulative
    );
}

#[test]
fn bad_input_is_answered_with_what_is_wrong() {
    let server = network();
    let check = |path: &str, status: u16, fragment: &str| {
        let response = get(&server.url(path));
        assert_eq!(response.status(), status, "{path}");
        let body: serde_json::Value = response.json().unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(fragment), "{path}: {message}");
    };
    check(
        "/coverage/zoo/14/13717/6694.png",
        404,
        "unknown coverage id `zoo`",
    );
    check("/coverage/zoo.json", 404, "known ids: education");
    check(
        "/coverage/medical/14/13717/6694.png?profile=bike",
        400,
        "valid profiles: standard, elderly",
    );
    check(
        "/coverage/at?lon=121.4&lat=31.2&profile=fast",
        400,
        "standard, elderly",
    );
    check(
        "/coverage/medical/14/13717/6694.jpg",
        400,
        "use .png or .mvt or .pbf",
    );
    check(
        "/coverage/medical/23/0/0.png",
        404,
        "zoom 23 is out of range",
    );
    check(
        "/coverage/stats?format=xml",
        400,
        "`format` must be json or csv",
    );
    check(
        "/coverage/stats?profle=elderly",
        400,
        "unknown parameter `profle`",
    );
    check("/coverage/suggest?category=park&k=0", 400, "parameter `k`");
    check(
        "/coverage/suggest?category=park&k=many",
        400,
        "parameter `k`",
    );
    check(
        "/coverage/gaps?category=zoo",
        400,
        "known categories: education",
    );
    check("/coverage/gaps?category=all", 400, "unknown category `all`");
    check("/coverage/at?lat=31.2", 400, "parameter `lon` is required");
    check("/coverage/at?lon=200&lat=31.2", 400, "`lon`, `lat`");
    check(
        "/coverage/at?lon=116.4&lat=39.9",
        400,
        "outside the area covered",
    );
}

#[test]
fn tiles_are_cached_with_etags_per_profile() {
    let server = network();
    let tile = tile_at(server, 14);
    let url =
        |profile: &str| server.url(&format!("/coverage/medical/{tile}.png?profile={profile}"));
    let first = get(&url("standard"));
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = support::client()
        .get(url("standard"))
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    let elderly = get(&url("elderly"));
    assert_ne!(elderly.headers()["etag"].to_str().unwrap(), etag);
    let mvt = get(&server.url(&format!("/coverage/medical/{tile}.pbf")));
    assert_eq!(
        mvt.headers()["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
}

/// The sample with a taxonomy holding one more essential category, of which the data has no
/// facility, in straight-line mode.
fn with_empty_essential_category(extra: &str) -> TestServer {
    let embedded = std::fs::read_to_string(support::repo_root().join("lifecircle.toml")).unwrap();
    let taxonomy = &embedded[embedded.find("[[groups]]").unwrap()..];
    support::spawn(&format!(
        "{extra}[coverage]\nmode = \"euclidean\"\ncell_m = 100.0\n\n{taxonomy}\n\
         [[categories]]\nid = \"vaccination\"\nlabel_zh = \"疫苗接种点\"\nlabel_en = \"Vaccination\"\n\
         color = \"#123456\"\ngroup = \"care\"\nwalk_min = 15\nessential = true\n\
         keywords = [\"疫苗\"]\naliases = []\n"
    ))
}

#[test]
fn headline_leaves_out_and_names_an_essential_category_without_data() {
    let server = with_empty_essential_category("");
    let stats = get_json(&server.url("/coverage/stats"));
    let headline = &stats["headline"];
    assert_eq!(headline["without_data"], serde_json::json!(["vaccination"]));
    let counted: Vec<&str> = headline["essential_categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(!counted.contains(&"vaccination") && counted.contains(&"medical"));
    let share = headline["population_share"].as_f64().unwrap();
    assert!(
        share > 0.0,
        "the headline is not 0 % for want of one category"
    );
    for category in &counted {
        let of_category = stats["total"]["categories"][category]["population_share"]
            .as_f64()
            .unwrap();
        assert!(share <= of_category + 1e-12, "{category}");
    }
    assert!(
        stats["categories_without_data"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("vaccination"))
    );
    // The composites leave it out too, and say so.
    let legend = get_json(&server.url("/coverage/legend?id=care"));
    let care = &legend["composites"][0];
    assert_eq!(care["without_data"], serde_json::json!(["vaccination"]));
    assert!(
        !care["categories"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("vaccination"))
    );
    let (lon, lat) = centre(&server);
    let report = get_json(&server.url(&format!("/coverage/at?lon={lon}&lat={lat}")));
    assert!(
        report["score"]["without_data"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("vaccination"))
    );
    // Suggesting sites for it works: everyone is uncovered.
    let suggest = get_json(&server.url("/coverage/suggest?category=vaccination&k=2"));
    assert_eq!(suggest["suggestions"].as_array().unwrap().len(), 2);
    assert_eq!(suggest["reason"], serde_json::Value::Null);
    assert_eq!(suggest["category_has_facilities"], false);
}

#[test]
fn suggest_says_why_it_returns_nothing() {
    // An area with no residential place in it, east of the sample. The sample's facilities all
    // lie outside it: out of scope for a configured area, so the data guard lets them go.
    let server = support::spawn(
        "[coverage]\nmode = \"euclidean\"\n[area]\nbbox = [121.60, 31.00, 121.61, 31.01]\n",
    );
    let suggest = get_json(&server.url("/coverage/suggest?category=kindergarten&k=3"));
    assert_eq!(suggest["suggestions"], serde_json::json!([]));
    assert_eq!(suggest["reason"], "no_residents_in_area");
    assert!(
        suggest["message"]
            .as_str()
            .unwrap()
            .contains("inside the analysis area")
    );
    assert_eq!(suggest["population"], 0);
    // The statistics count nothing outside the area either.
    let stats = get_json(&server.url("/coverage/stats"));
    assert_eq!(stats["total"]["population"], 0);
    assert_eq!(stats["subdistricts"], serde_json::json!([]));
    assert_eq!(
        stats["area"]["bbox"],
        serde_json::json!([121.60, 31.00, 121.61, 31.01])
    );
    // The heatmap's TileJSON bounds what it shows: the area, not its padding.
    let tilejson = get_json(&server.url("/coverage/all.json"));
    assert_eq!(
        tilejson["bounds"],
        serde_json::json!([121.60, 31.00, 121.61, 31.01])
    );
}
