//! The planners' evaluation over HTTP: facility attributes (functions, status, floor area,
//! year), the default status filter, scenario statistics checked against independent reference
//! computations (Python haversine; networkx shortest paths reading the street file itself), and
//! the diff against a baseline.
//!
//! The fixture is a small world built here: a 1.6 km square of streets every 200 m (GeoJSON),
//! two subdistricts, residential places at seeded random positions, and facilities in a CSV
//! source with Chinese status values and a community service centre offering 助餐 (so it also
//! serves elderly care).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::Command;

use lifecircle::geom::{self, TileKey};
use rand::{Rng, SeedableRng};

use crate::grid_world::{SIDE_M, at, write, write_streets_and_subdistricts};
use crate::support::{self, TestServer, get, get_json};
use crate::tiles::fetch_tile;

/// One facility row of the fixture.
#[derive(Clone)]
struct Fac {
    id: &'static str,
    name: &'static str,
    category: &'static str,
    x: f64,
    y: f64,
    status: &'static str,
    functions: &'static str,
    floor_area: &'static str,
    year: &'static str,
}

/// A facility near `(x, y)`: nudged off the street lattice so that few grid cells lie exactly
/// at a threshold distance.
fn fac(id: &'static str, name: &'static str, category: &'static str, x: f64, y: f64) -> Fac {
    Fac {
        id,
        name,
        category,
        x: x + 7.3,
        y: y + 3.1,
        status: "",
        functions: "",
        floor_area: "",
        year: "",
    }
}

/// The facilities of today's data. `c1` offers 助餐 (→ elderly) and 阅览室 (→ culture).
fn facilities() -> Vec<Fac> {
    vec![
        Fac {
            status: "已建",
            ..fac("e1", "华阳养老院", "elderly", 300.0, 300.0)
        },
        fac("e2", "天山长者照护之家", "elderly", 1300.0, 1300.0),
        Fac {
            status: "现状",
            ..fac("m1", "仙霞菜场", "market", 800.0, 200.0)
        },
        Fac {
            status: "existing",
            functions: "助餐、日间照料，阅览室",
            floor_area: "1,200㎡",
            year: "2019年",
            ..fac("c1", "虹桥社区服务中心", "community_service", 100.0, 900.0)
        },
        Fac {
            status: "规划",
            year: "2026",
            ..fac("p1", "北新泾养老院(规划)", "elderly", 1300.0, 300.0)
        },
        Fac {
            status: "拟建",
            ..fac("p2", "程家桥长者照护之家(拟建)", "elderly", 500.0, 1300.0)
        },
        Fac {
            status: "在建",
            floor_area: "800",
            ..fac("u1", "新泾菜场(在建)", "market", 800.0, 1400.0)
        },
        Fac {
            status: "停业",
            ..fac("x1", "周家桥老年日托站", "elderly", 900.0, 700.0)
        },
        fac("k1", "天山第二幼儿园", "kindergarten", 1500.0, 100.0),
    ]
}

fn write_facilities(path: &Path, facilities: &[Fac]) {
    let mut csv = String::from("id,name,category,lon,lat,status,functions,floor_area,year\n");
    for f in facilities {
        let (lon, lat) = at(f.x, f.y);
        csv.push_str(&format!(
            "{},{},{},{lon:.8},{lat:.8},{},\"{}\",\"{}\",{}\n",
            f.id, f.name, f.category, f.status, f.functions, f.floor_area, f.year
        ));
    }
    write(path, &csv);
}

/// Writes streets, subdistricts, residents and `facilities` into `dir`; gives the config.
fn write_world(dir: &Path, facilities: &[Fac], mode: &str, extra: &str) -> String {
    write_streets_and_subdistricts(dir);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    let residents: Vec<String> = (0..120)
        .map(|i| {
            let (lon, lat) = at(
                rng.random_range(10.0..SIDE_M - 10.0),
                rng.random_range(10.0..SIDE_M - 10.0),
            );
            let population: u32 = rng.random_range(10..400);
            format!(
                r#"{{"type":"Feature","properties":{{"name":"小区{i}","population":{population}}},"geometry":{{"type":"Point","coordinates":[{lon},{lat}]}}}}"#
            )
        })
        .collect();
    write(
        &dir.join("residents.geojson"),
        &format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            residents.join(",")
        ),
    );
    write_facilities(&dir.join("facilities.csv"), facilities);
    format!(
        "[data]\nroads = \"roads.geojson\"\nsubdistricts = \"subdistricts.geojson\"\nresidents = \"residents.geojson\"\n\n[[data.sources]]\nfile = \"facilities.csv\"\nname = \"bureau\"\n\n[coverage]\nmode = \"{mode}\"\n{extra}"
    )
}

fn serve_world(mode: &str) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_world(dir.path(), &facilities(), mode, "");
    (support::spawn_with(&config, dir.path()), dir)
}

/// The facilities serving `category` under a scenario, as the test knows them: the fixture
/// rows of the category with a status the scenario counts, and `c1` for elderly care (助餐).
fn reference_facilities(scenario: &str) -> Vec<serde_json::Value> {
    let counted = |status: &str| match status {
        "" | "已建" | "现状" | "existing" => true,
        "在建" => scenario != "existing",
        "规划" | "拟建" => scenario == "planned",
        _ => false,
    };
    let mut out = Vec::new();
    for f in facilities().iter().filter(|f| counted(f.status)) {
        let (lon, lat) = at(f.x, f.y);
        out.push(serde_json::json!({ "id": f.id, "category": f.category, "lon": lon, "lat": lat }));
        if f.id == "c1" {
            out.push(
                serde_json::json!({ "id": f.id, "category": "elderly", "lon": lon, "lat": lat }),
            );
        }
    }
    out
}

/// Runs a reference script with `input` on stdin; its JSON output.
fn run_python(python: &str, script: &str, input: &serde_json::Value) -> serde_json::Value {
    let mut child = Command::new(python)
        .arg(support::repo_root().join("tests/it").join(script))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (the evaluation tests need it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Reference distances per point and category (`null`: unreachable), from the Python script of
/// the server's mode.
fn reference_distances(
    server: &TestServer,
    dir: &Path,
    scenario: &str,
    points: &[(f64, f64)],
) -> Vec<HashMap<String, Option<f64>>> {
    let facilities = reference_facilities(scenario);
    let mode = server.state.snapshot.load_full().coverage.mode.as_str();
    let raw = if mode == "network" {
        let python = python_with_networkx().expect("checked by the caller");
        run_python(
            python,
            "network_nearest.py",
            &serde_json::json!({
                "roads": dir.join("roads.geojson"),
                "facilities": facilities,
                "points": points,
            }),
        )
    } else {
        run_python(
            "python3",
            "nearest_facility.py",
            &serde_json::json!({ "facilities": facilities, "points": points }),
        )
    };
    raw.as_array()
        .unwrap()
        .iter()
        .map(|per_point| {
            per_point
                .as_object()
                .unwrap()
                .iter()
                .map(|(c, v)| {
                    // nearest_facility.py gives [distance, id]; network_nearest.py a distance.
                    let d = v.as_array().map_or(v.as_f64(), |a| a[0].as_f64());
                    (c.clone(), d)
                })
                .collect()
        })
        .collect()
}

fn python_with_networkx() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import networkx"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Counts `(sure, ambiguous)` of newly covered weight: a point is within when its distance
/// rounds (as the field stores whole metres) to at most `limit`; points within `tolerance_m`
/// of that boundary in either computation are counted as ambiguous rather than decided.
fn newly_covered(
    before: &[HashMap<String, Option<f64>>],
    after: &[HashMap<String, Option<f64>>],
    weights: &[u64],
    category: &str,
    limit: f64,
    tolerance_m: f64,
) -> (u64, u64) {
    let (mut sure, mut ambiguous) = (0, 0);
    let edge = limit + 0.5;
    for ((b, a), &w) in before.iter().zip(after).zip(weights) {
        let d = |m: &HashMap<String, Option<f64>>| m.get(category).copied().flatten();
        let (db, da) = (d(b), d(a));
        let close = |d: Option<f64>| d.is_some_and(|d| (d - edge).abs() < tolerance_m);
        let within = |d: Option<f64>| d.is_some_and(|d| d < edge);
        if close(db) || close(da) {
            if within(da) || close(da) {
                ambiguous += w;
            }
        } else if within(da) && !within(db) {
            sure += w;
        }
    }
    (sure, ambiguous)
}

fn check_scenario_statistics(server: &TestServer, dir: &Path, tolerance_m: f64) {
    let snapshot = server.state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let cells: Vec<(f64, f64)> = (0..coverage.grid.n_cells())
        .filter(|&c| coverage.in_area(c))
        .map(|c| coverage.grid.centre_lonlat(c))
        .collect();
    let residents: Vec<(f64, f64)> = snapshot
        .dataset
        .residents
        .iter()
        .map(|r| (r.lon, r.lat))
        .collect();
    let population: Vec<u64> = snapshot
        .dataset
        .residents
        .iter()
        .map(|r| u64::from(r.population))
        .collect();
    let mut points = cells.clone();
    points.extend(&residents);
    let existing = reference_distances(server, dir, "existing", &points);
    let n = cells.len();
    for scenario in ["built", "planned"] {
        let after = reference_distances(server, dir, scenario, &points);
        let stats = get_json(&server.url(&format!("/coverage/stats?scenario={scenario}")));
        assert_eq!(stats["scenario"], scenario);
        assert_eq!(stats["compared_with"], "existing");
        for (category, walk_min) in [("elderly", 5.0), ("market", 10.0)] {
            // The default profile walks 1 m/s.
            let limit = (walk_min * 60.0f64).floor();
            let (cells_sure, cells_ambiguous) = newly_covered(
                &existing[..n],
                &after[..n],
                &vec![1; n],
                category,
                limit,
                tolerance_m,
            );
            let (people_sure, people_ambiguous) = newly_covered(
                &existing[n..],
                &after[n..],
                &population,
                category,
                limit,
                tolerance_m,
            );
            let got = &stats["total"]["categories"][category];
            let got_cells = got["cells_newly_covered"].as_u64().unwrap();
            let got_people = got["residents_newly_covered"].as_u64().unwrap();
            assert!(
                (cells_sure..=cells_sure + cells_ambiguous).contains(&got_cells),
                "{scenario} {category}: {got_cells} cells newly covered, reference {cells_sure} (+{cells_ambiguous} at the boundary)"
            );
            assert!(
                (people_sure..=people_sure + people_ambiguous).contains(&got_people),
                "{scenario} {category}: {got_people} residents newly covered, reference {people_sure} (+{people_ambiguous} at the boundary)"
            );
            assert!(
                cells_ambiguous <= 3.max(cells_sure / 10),
                "{scenario} {category}: {cells_ambiguous} boundary cells of {cells_sure}: too many for a check"
            );
            let expect_change = match (scenario, category) {
                ("built", "elderly") => false,
                ("built", "market") | ("planned", _) => true,
                _ => unreachable!(),
            };
            assert_eq!(
                got_people > 0 && got_cells > 0,
                expect_change,
                "{scenario} {category}: {got}"
            );
            // Subdistricts add up to the total.
            let by_area: u64 = stats["subdistricts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    a["categories"][category]["residents_newly_covered"]
                        .as_u64()
                        .unwrap()
                })
                .sum();
            assert_eq!(by_area, got_people);
            let closed = got["blind_spots_closed"].as_u64().unwrap();
            assert!(closed <= got["blind_spots"].as_u64().unwrap());
        }
    }
    // Today's residents within reach of elderly care count the centre's 助餐 (its function).
    let today = get_json(&server.url("/coverage/stats"));
    let edge = 300.0 + 0.5;
    let (mut sure, mut ambiguous) = (0u64, 0u64);
    for (d, &w) in existing[n..].iter().zip(&population) {
        match d.get("elderly").copied().flatten() {
            Some(d) if (d - edge).abs() < tolerance_m => ambiguous += w,
            Some(d) if d < edge => sure += w,
            _ => {}
        }
    }
    let within = today["total"]["categories"]["elderly"]["population_within"]
        .as_u64()
        .unwrap();
    assert!(
        (sure..=sure + ambiguous).contains(&within),
        "{within} vs {sure} (+{ambiguous})"
    );
    // The CSV: BOM, one row per area and category.
    let csv = get(&server.url("/coverage/stats?scenario=planned&format=csv"));
    assert_eq!(csv.status(), 200);
    let bytes = csv.bytes().unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.starts_with("area,area_en,category,scenario,"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("西片,,elderly,planned,"))
    );
}

#[test]
fn scenario_statistics_match_python_haversine() {
    let (server, dir) = serve_world("euclidean");
    check_scenario_statistics(&server, dir.path(), 0.6);
}

#[test]
fn scenario_statistics_match_networkx_on_the_street_file() {
    let enforced = std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1");
    if python_with_networkx().is_none() {
        assert!(
            !enforced,
            "networkx is missing; scripts/test.sh installs it (Debian package python3-networkx)"
        );
        eprintln!("note: network scenario test skipped: python3-networkx is missing");
        return;
    }
    let (server, dir) = serve_world("network");
    assert_eq!(
        server.state.snapshot.load_full().coverage.mode.as_str(),
        "network"
    );
    check_scenario_statistics(&server, dir.path(), 2.0);
}

fn feature(server: &TestServer, source_id: &str) -> serde_json::Value {
    get_json(&server.url(&format!("/features/bureau:{source_id}")))
}

fn id_of(server: &TestServer, source_id: &str) -> u64 {
    feature(server, source_id)["id"].as_u64().unwrap()
}

/// Facilities per category over the tiles covering the fixture at zoom `z`: clusters' counts
/// and single facilities, inside each tile proper.
fn tile_counts(server: &TestServer, z: u8, query: &str) -> BTreeMap<String, u64> {
    let (w, s) = at(0.0, 0.0);
    let (e, n) = at(SIDE_M, SIDE_M);
    let mut counts = BTreeMap::new();
    for key in lifecircle::state::tiles_covering([w, s, e, n], z, z) {
        for f in fetch_tile(server, key, query).iter().filter(|f| f.inside()) {
            if f.props.contains_key("cluster") {
                for (k, v) in &f.props {
                    if let Some(category) = k.strip_prefix("n_") {
                        *counts.entry(category.to_owned()).or_default() +=
                            v.parse::<u64>().unwrap();
                    }
                }
            } else {
                *counts.entry(f.props["category"].clone()).or_default() += 1;
            }
        }
    }
    counts
}

#[test]
fn functions_serve_more_categories_but_keep_colour_and_cluster_counts() {
    let (server, _dir) = serve_world("euclidean");
    let centre = feature(&server, "c1");
    let props = &centre["properties"];
    assert_eq!(props["category"], "community_service");
    assert_eq!(props["status"], "existing");
    assert_eq!(
        props["functions"],
        serde_json::json!(["助餐", "日间照料", "阅览室"])
    );
    assert_eq!(props["serves"], serde_json::json!(["elderly", "culture"]));
    assert_eq!(props["floor_area_m2"], 1200.0);
    assert_eq!(props["year"], 2019);
    let centre_id = centre["id"].as_u64().unwrap();

    // /coverage/at next to the centre: its nearest elderly care is the centre itself.
    let (lon, lat) = at(117.0, 903.0);
    let report = get_json(&server.url(&format!("/coverage/at?lon={lon}&lat={lat}")));
    let elderly = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "elderly")
        .unwrap();
    assert_eq!(elderly["facility"]["id"].as_u64(), Some(centre_id));
    assert!(elderly["distance_m"].as_f64().unwrap() < 15.0);
    assert_eq!(elderly["within"], true);

    // Found by its functions' category words, and by category filter.
    let ids = |url: &str| -> BTreeSet<u64> {
        get_json(&server.url(url))["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect()
    };
    assert!(ids("/search?q=助餐").contains(&centre_id));
    let elderly_today = ids("/search?q=养老&limit=50");
    assert!(elderly_today.contains(&centre_id));
    assert!(elderly_today.contains(&id_of(&server, "e1")));
    for hidden in ["p1", "p2", "x1"] {
        assert!(
            !elderly_today.contains(&id_of(&server, hidden)),
            "{hidden} is not existing and hidden by default"
        );
    }
    assert!(ids("/search?category=elderly&limit=50").contains(&centre_id));
    let planned = ids("/search?q=养老&status=planned&limit=50");
    assert_eq!(
        planned,
        BTreeSet::from([id_of(&server, "p1"), id_of(&server, "p2")])
    );

    // Tiles: the centre keeps its own colour and category, and carries its attributes.
    let snapshot = server.state.snapshot.load_full();
    let taxonomy = &snapshot.dataset.taxonomy;
    let colour = |id: &str| taxonomy.category(taxonomy.by_id(id).unwrap()).color.clone();
    let (clon, clat) = at(107.3, 903.1);
    let key = TileKey::containing(geom::lonlat_to_merc(clon, clat), 16);
    let tile = fetch_tile(&server, key, "");
    let drawn = tile
        .iter()
        .find(|f| f.id == centre_id)
        .expect("centre drawn");
    assert_eq!(drawn.props["category"], "community_service");
    assert_eq!(drawn.props["color"], colour("community_service"));
    assert_eq!(drawn.props["serves"], "elderly,culture");
    assert_eq!(drawn.props["functions"], "助餐;日间照料;阅览室");
    assert_eq!(drawn.props["status"], "existing");

    // Cluster counts: by primary category, existing only by default.
    let counts = tile_counts(&server, 10, "");
    assert_eq!(
        counts,
        BTreeMap::from([
            ("community_service".to_owned(), 1),
            ("elderly".to_owned(), 2),
            ("kindergarten".to_owned(), 1),
            ("market".to_owned(), 1),
        ]),
        "existing only, the centre under its own category"
    );
    let all = tile_counts(&server, 10, "?status=all");
    assert_eq!(all["elderly"], 5);
    assert_eq!(all["market"], 2);
    let planner = tile_counts(&server, 10, "?status=existing,under_construction,planned");
    assert_eq!(planner["elderly"], 4, "closed x1 left out");
}

#[test]
fn planned_facilities_are_hidden_unless_asked_for() {
    let (server, _dir) = serve_world("euclidean");
    let p1 = feature(&server, "p1");
    assert_eq!(p1["properties"]["status"], "planned");
    assert_eq!(p1["properties"]["year"], 2026);
    assert_eq!(
        feature(&server, "u1")["properties"]["status"],
        "under_construction"
    );
    assert_eq!(feature(&server, "x1")["properties"]["status"], "closed");
    assert_eq!(feature(&server, "k1")["properties"]["status"], "existing");
    let p1_id = p1["id"].as_u64().unwrap();
    let (lon, lat) = at(1307.3, 303.1);
    let key = TileKey::containing(geom::lonlat_to_merc(lon, lat), 16);
    assert!(!fetch_tile(&server, key, "").iter().any(|f| f.id == p1_id));
    let shown = fetch_tile(&server, key, "?status=planned");
    let drawn = shown.iter().find(|f| f.id == p1_id).expect("asked for");
    assert_eq!(drawn.props["status"], "planned");
    // TileJSON carries the filter into its tile URL; a bad status is a 400 naming it.
    let tilejson = get_json(&server.url("/tiles/facilities.json?status=planned,existing"));
    assert!(
        tilejson["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("?status=existing,planned")
    );
    let bad = get(&server.url("/tiles/facilities/16/0/0.mvt?status=built"));
    assert_eq!(bad.status(), 400);
    let message = bad.text().unwrap();
    assert!(
        message.contains("status") && message.contains("planned"),
        "{message}"
    );
    let bad = get(&server.url("/search?q=x&status=nope"));
    assert_eq!(bad.status(), 400);
    let bad = get(&server.url("/coverage/stats?scenario=future"));
    assert_eq!(bad.status(), 400);
}

#[test]
fn diff_against_a_baseline_lists_exactly_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    // The baseline: e2 200 m away, m1 a supermarket then, u1 and x1 with other statuses, r1
    // gone since (its name a would-be spreadsheet formula); p1 and p2 are new.
    let now = facilities();
    let then_of = |id: &str| now.iter().find(|f| f.id == id).unwrap().clone();
    let baseline = vec![
        then_of("e1"),
        Fac {
            y: then_of("e2").y - 200.0,
            ..then_of("e2")
        },
        Fac {
            category: "supermarket",
            ..then_of("m1")
        },
        then_of("c1"),
        Fac {
            status: "规划",
            ..then_of("u1")
        },
        Fac {
            status: "",
            ..then_of("x1")
        },
        then_of("k1"),
        fac("r1", "=2+3 临时便民点", "community_service", 1100.0, 700.0),
    ];
    write_facilities(&dir.path().join("baseline_2021.csv"), &baseline);
    let config = write_world(
        dir.path(),
        &now,
        "euclidean",
        "\n[evaluation]\nmoved_distance_m = 50\n\n[[baselines]]\nname = \"2021\"\nas_of = 2021-06-30\nsources = [{ file = \"baseline_2021.csv\", name = \"bureau\" }]\n",
    );
    let server = support::spawn_with(&config, dir.path());
    let diff = get_json(&server.url("/evaluation/diff?baseline=2021"));
    let listed: BTreeSet<(String, String)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_owned(),
                c["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("added", "p1"),
        ("added", "p2"),
        ("removed", "r1"),
        ("moved", "e2"),
        ("category_changed", "m1"),
        ("status_changed", "u1"),
        ("status_changed", "x1"),
    ]
    .iter()
    .map(|(k, id)| ((*k).to_owned(), format!("bureau:{id}")))
    .collect();
    assert_eq!(listed, expected);
    let by_key = |kind: &str, key: &str| {
        diff["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["change"] == kind && c["key"] == key)
            .unwrap()
            .clone()
    };
    let moved = by_key("moved", "bureau:e2");
    assert!((moved["distance_m"].as_f64().unwrap() - 200.0).abs() < 1.0);
    let recategorised = by_key("category_changed", "bureau:m1");
    assert_eq!(recategorised["category_before"], "supermarket");
    assert_eq!(recategorised["category"], "market");
    let status = by_key("status_changed", "bureau:u1");
    assert_eq!(status["status_before"], "planned");
    assert_eq!(status["status"], "under_construction");
    assert_eq!(diff["baseline"]["as_of"], "2021-06-30");
    assert_eq!(diff["totals"]["added"], 2);
    assert_eq!(diff["totals"]["status_changed"], 2);
    // Per subdistrict and category: r1 (x 1107 m) was in the east; the stock of existing
    // elderly care did not change (e1, e2 then and now; x1 closed since, p1, p2 planned).
    let summary = diff["summary"].as_array().unwrap();
    let row = |area: &str, category: &str| {
        summary
            .iter()
            .find(|r| r["subdistrict"] == area && r["category"] == category)
            .cloned()
    };
    assert_eq!(row("东片", "community_service").unwrap()["removed"], 1);
    let elderly_stock = |field: &str| -> u64 {
        summary
            .iter()
            .filter(|r| r["category"] == "elderly")
            .map(|r| r[field].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        (elderly_stock("stock_before"), elderly_stock("stock_now")),
        (3, 2)
    );
    let coverage = &diff["coverage"]["total"]["categories"]["market"];
    assert!(coverage["population_share_now"].as_f64().is_some());
    // CSV: BOM, a row per change, formula cells defused.
    let csv = get(&server.url("/evaluation/diff.csv?baseline=2021"));
    assert_eq!(csv.status(), 200);
    let bytes = csv.bytes().unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert_eq!(text.lines().count(), 1 + expected.len());
    assert!(text.contains(",'=2+3 临时便民点,"), "{text}");
    // Unknown or missing baselines are named.
    let bad = get(&server.url("/evaluation/diff?baseline=2020"));
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("2021"));
    assert_eq!(get(&server.url("/evaluation/diff")).status(), 400);
    let list = get_json(&server.url("/evaluation/baselines"));
    assert_eq!(list["baselines"][0]["name"], "2021");
}
