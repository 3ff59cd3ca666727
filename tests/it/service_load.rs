//! Service load (2SFCA) over HTTP, checked against an independent Python implementation
//! (`sfca_oracle.py`: haversine for straight lines; networkx shortest paths over the street file
//! it reads itself for network mode) to 1e-6 relative, for each distance decay: every facility's
//! ratio R_j and residents within reach, every place's accessibility A_i, and the per-subdistrict
//! population-weighted means and shares below the configured level.
//!
//! The fixture is a small world built here: a 1.6 km square of streets every 200 m (GeoJSON),
//! two subdistricts, residential places at seeded random positions, elderly-care facilities with
//! and without floor areas (one without takes the median), and markets without any (counted as
//! one each).

use std::io::Write;
use std::path::Path;
use std::process::Command;

use rand::{Rng, SeedableRng};

use crate::grid_world::{SIDE_M, at, write, write_streets_and_subdistricts};
use crate::support::{self, TestServer, get, get_json};

const BELOW: f64 = 0.05;

/// `(name, category, x, y, floor area)`.
const FACILITIES: [(&str, &str, f64, f64, Option<f64>); 7] = [
    ("华阳养老院", "elderly", 307.3, 303.1, Some(1200.0)),
    ("天山长者照护之家", "elderly", 1307.3, 1291.0, Some(450.0)),
    ("仙霞老年日托站", "elderly", 820.0, 611.0, None),
    ("虹桥养老院", "elderly", 95.0, 1413.0, Some(2600.0)),
    ("周家桥长者照护之家", "elderly", 1530.0, 140.0, Some(800.0)),
    ("仙霞菜场", "market", 811.0, 207.0, None),
    ("新泾菜场", "market", 600.0, 1380.0, None),
];

struct Place {
    lon: f64,
    lat: f64,
    population: u32,
    west: bool,
}

/// Writes the world into `dir`; gives the config (with `extra` appended) and the places.
fn write_world(dir: &Path, mode: &str, extra: &str) -> (String, Vec<Place>) {
    write_streets_and_subdistricts(dir);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let places: Vec<Place> = (0..150)
        .map(|_| {
            let x = rng.random_range(10.0..SIDE_M - 10.0);
            let (lon, lat) = at(x, rng.random_range(10.0..SIDE_M - 10.0));
            Place {
                lon,
                lat,
                population: rng.random_range(10..600),
                west: x < SIDE_M / 2.0,
            }
        })
        .collect();
    let features: Vec<String> = places
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                r#"{{"type":"Feature","properties":{{"name":"小区{i}","population":{}}},"geometry":{{"type":"Point","coordinates":[{},{}]}}}}"#,
                p.population, p.lon, p.lat
            )
        })
        .collect();
    write(
        &dir.join("residents.geojson"),
        &format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        ),
    );
    let mut csv = String::from("id,name,category,lon,lat,floor_area\n");
    for (i, (name, category, x, y, area)) in FACILITIES.iter().enumerate() {
        let (lon, lat) = at(*x, *y);
        let area = area.map_or(String::new(), |a| format!("{a}㎡"));
        csv.push_str(&format!("f{i},{name},{category},{lon},{lat},{area}\n"));
    }
    write(&dir.join("facilities.csv"), &csv);
    let config = format!(
        "[data]\nroads = \"roads.geojson\"\nsubdistricts = \"subdistricts.geojson\"\nresidents = \"residents.geojson\"\n\n[[data.sources]]\nfile = \"facilities.csv\"\nname = \"bureau\"\n\n[coverage]\nmode = \"{mode}\"\n\n{extra}"
    );
    (config, places)
}

/// Capacities as the configuration asks: floor areas, the median for the one without (elderly);
/// 1 each for markets (none has a floor area).
fn capacity(name: &str, category: &str) -> f64 {
    let areas: Vec<f64> = FACILITIES
        .iter()
        .filter(|f| f.1 == category)
        .filter_map(|f| f.4)
        .collect();
    let own = FACILITIES.iter().find(|f| f.0 == name).unwrap().4;
    if areas.is_empty() {
        return 1.0;
    }
    let mut sorted = areas.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    own.unwrap_or(median)
}

fn python_with_networkx() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import networkx"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn oracle(python: &str, input: &serde_json::Value) -> serde_json::Value {
    let script = support::repo_root().join("tests/it/sfca_oracle.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (the service load tests need it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "sfca_oracle.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `a` and `b` agree to 1e-6 relative (both null, or both zero).
fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()) || a == b,
        _ => false,
    }
}

fn check(server: &TestServer, dir: &Path, places: &[Place], python: &str, category: &str) {
    let facilities = get_json(&server.url(&format!("/service-load/{category}/facilities")));
    let threshold = facilities["threshold_m"].as_f64().unwrap();
    let decay = facilities["decay"].as_str().unwrap().to_owned();
    let mode = facilities["mode"].as_str().unwrap().to_owned();
    let input = serde_json::json!({
        "mode": mode,
        "roads": dir.join("roads.geojson"),
        "d0": threshold,
        "decay": decay,
        "facilities": FACILITIES
            .iter()
            .filter(|f| f.1 == category)
            .map(|f| {
                let (lon, lat) = at(f.2, f.3);
                serde_json::json!({
                    "name": f.0, "lon": lon, "lat": lat, "capacity": capacity(f.0, category),
                })
            })
            .collect::<Vec<_>>(),
        "places": places
            .iter()
            .map(|p| serde_json::json!({"lon": p.lon, "lat": p.lat, "population": p.population}))
            .collect::<Vec<_>>(),
    });
    let expected = oracle(python, &input);
    let served = facilities["facilities"].as_array().unwrap();
    assert_eq!(
        served.len(),
        FACILITIES.iter().filter(|f| f.1 == category).count()
    );
    let mut with_ratio = 0;
    for f in served {
        let name = f["name"].as_str().unwrap();
        let reference = &expected["facilities"][name];
        let context = format!("{category} {mode} {decay}: facility {name}: {f} vs {reference}");
        assert!(
            close(f["ratio"].as_f64(), reference["ratio"].as_f64()),
            "R_j differs: {context}"
        );
        assert!(
            close(f["residents_within"].as_f64(), reference["within"].as_f64()),
            "residents within differ: {context}"
        );
        assert_eq!(f["capacity"].as_f64(), Some(capacity(name, category)));
        with_ratio += usize::from(f["ratio"].is_number());
    }
    assert!(with_ratio >= 2, "the fixture reaches residents: {served:?}");

    let answer = get_json(&server.url(&format!("/service-load/{category}/places")));
    let served = answer["places"].as_array().unwrap();
    let access = expected["access"].as_array().unwrap();
    assert_eq!(served.len(), places.len());
    let mut reached = 0;
    for (k, (place, reference)) in served.iter().zip(access).enumerate() {
        // Places come back in file order: the fixture's.
        assert_eq!(
            place["population"].as_u64(),
            Some(places[k].population.into())
        );
        assert!(
            close(place["access"].as_f64(), reference.as_f64()),
            "A_i differs at place {k} ({category} {mode} {decay}): {place} vs {reference}"
        );
        reached += usize::from(reference.as_f64().unwrap() > 0.0);
    }
    // Both sides of the threshold are exercised.
    assert!(
        reached >= 20 && reached + 20 <= places.len(),
        "{reached} of {} places reached",
        places.len()
    );

    // Per subdistrict: population-weighted mean of A_i and the share below the level.
    let summary = get_json(&server.url(&format!("/service-load/{category}")));
    assert_eq!(summary["below"].as_f64(), Some(BELOW));
    for (name, west) in [("西片", true), ("东片", false)] {
        let (mut residents, mut weighted, mut below) = (0.0, 0.0, 0.0);
        for (p, a) in places.iter().zip(access) {
            if p.west == west {
                let (pop, a) = (f64::from(p.population), a.as_f64().unwrap());
                residents += pop;
                weighted += pop * a;
                if a < BELOW {
                    below += pop;
                }
            }
        }
        let area = summary["subdistricts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        assert_eq!(area["residents"].as_f64(), Some(residents));
        assert!(
            close(area["mean_access"].as_f64(), Some(weighted / residents)),
            "{name}: {area}"
        );
        assert!(close(area["share_below"].as_f64(), Some(below / residents)));
    }
    // The most overloaded first: the largest weighted demand per unit of capacity.
    let loads: Vec<f64> = summary["most_overloaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["load"].as_f64().unwrap())
        .collect();
    assert!(!loads.is_empty());
    assert!(loads.windows(2).all(|w| w[0] >= w[1]), "{loads:?}");
}

fn run(mode: &str, python: &str) {
    for decay in ["none", "linear", "gaussian"] {
        let dir = tempfile::tempdir().unwrap();
        let extra = format!(
            "[service_load]\ndecay = \"{decay}\"\nbelow = {BELOW}\n[service_load.categories.market]\nbelow = 1e-4\n"
        );
        let (config, places) = write_world(dir.path(), mode, &extra);
        let server = support::spawn_with(&config, dir.path());
        assert_eq!(
            server.state.snapshot.load_full().coverage.mode.as_str(),
            mode
        );
        check(&server, dir.path(), &places, python, "elderly");
        let elderly = get_json(&server.url("/service-load/elderly"));
        assert_eq!(elderly["capacity"]["used"], "floor_area");
        assert_eq!(elderly["capacity"]["facilities_with_median_floor_area"], 1);
        let market = get_json(&server.url("/service-load/market/facilities"));
        assert_eq!(market["capacity"]["used"], "count");
        assert_eq!(market["decay"], decay);
    }
}

#[test]
fn straight_line_service_load_matches_python_for_each_decay() {
    run("euclidean", "python3");
}

#[test]
fn network_service_load_matches_networkx_on_the_street_file_for_each_decay() {
    let enforced = std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1");
    let Some(python) = python_with_networkx() else {
        assert!(
            !enforced,
            "networkx is missing; scripts/test.sh installs it (Debian package python3-networkx)"
        );
        eprintln!("note: network service load test skipped: python3-networkx is missing");
        return;
    };
    run("network", python);
}

#[test]
fn per_category_overrides_and_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = write_world(
        dir.path(),
        "euclidean",
        "[service_load]\ndecay = \"none\"\n[service_load.categories.elderly]\ndecay = \"linear\"\ncapacity = \"count\"\n",
    );
    let server = support::spawn_with(&config, dir.path());
    let elderly = get_json(&server.url("/service-load/elderly"));
    assert_eq!(elderly["decay"], "linear");
    assert_eq!(elderly["capacity"]["used"], "count");
    assert_eq!(elderly["below"], serde_json::Value::Null);
    assert_eq!(elderly["district"]["share_below"], serde_json::Value::Null);
    let market = get_json(&server.url("/service-load/market?below=0.001&top=1"));
    assert_eq!(market["decay"], "none");
    assert_eq!(market["below"].as_f64(), Some(0.001));
    assert_eq!(market["most_overloaded"].as_array().unwrap().len(), 1);
    for (query, fragment) in [
        ("/service-load/nothing", "unknown category `nothing`"),
        (
            "/service-load/elderly?radius=3",
            "unknown parameter `radius`",
        ),
        (
            "/service-load/elderly?below=lots",
            "parameter `below` must be a number",
        ),
        ("/service-load/elderly?scenario=someday", "unknown scenario"),
    ] {
        let response = get(&server.url(query));
        assert_eq!(response.status(), 400, "{query}");
        let body = response.text().unwrap();
        assert!(body.contains(fragment), "{query}: {body}");
    }
}

/// The bundled sample, in its default network mode, for each decay: R_j of every elderly-care
/// facility (its floor area, the median, as served) and A_i of every residential place equal the
/// reference, which reads the sample's streets and residential places (FlatGeobuf) itself.
#[test]
fn sample_service_load_matches_networkx_for_each_decay() {
    let enforced = std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1");
    let Some(python) = python_with_networkx() else {
        assert!(
            !enforced,
            "networkx is missing; scripts/test.sh installs it (Debian package python3-networkx)"
        );
        eprintln!("note: sample service load test skipped: python3-networkx is missing");
        return;
    };
    let root = support::repo_root();
    let decays = ["none", "linear", "gaussian"];
    // One server per decay; the facilities and threshold are the same in each.
    let servers: Vec<TestServer> = decays
        .iter()
        .map(|decay| support::spawn(&format!("[service_load]\ndecay = \"{decay}\"\n")))
        .collect();
    let snapshot = servers[0].state.snapshot.load_full();
    assert_eq!(snapshot.coverage.mode.as_str(), "network");
    let answers: Vec<serde_json::Value> = servers
        .iter()
        .map(|s| get_json(&s.url("/service-load/elderly/facilities")))
        .collect();
    let facilities = answers[0]["facilities"].as_array().unwrap();
    assert!(facilities.len() >= 20, "the sample has elderly care");
    let input = serde_json::json!({
        "mode": "network",
        "roads": root.join("data/changning/roads.fgb"),
        "residents": root.join("data/changning/residents.fgb"),
        "exclude_highways": snapshot.coverage.params.exclude_highways,
        "d0": answers[0]["threshold_m"],
        "decays": decays,
        "facilities": facilities
            .iter()
            .map(|f| serde_json::json!({
                "key": f["id"].to_string(), "lon": f["lon"], "lat": f["lat"],
                "capacity": f["capacity"],
            }))
            .collect::<Vec<_>>(),
    });
    let expected = oracle(python, &input);
    let read = expected["places"].as_array().unwrap();
    for ((decay, server), answer) in decays.iter().zip(&servers).zip(&answers) {
        assert_eq!(answer["decay"], *decay);
        let reference = &expected["by_decay"][*decay];
        for f in answer["facilities"].as_array().unwrap() {
            let own = &reference["facilities"][f["id"].to_string()];
            assert!(
                close(f["ratio"].as_f64(), own["ratio"].as_f64()),
                "R_j differs ({decay}): {f} vs {own}"
            );
        }
        let places = get_json(&server.url("/service-load/elderly/places"));
        let served = places["places"].as_array().unwrap();
        let access = reference["access"].as_array().unwrap();
        assert_eq!(
            served.len(),
            read.len(),
            "every residential place is served"
        );
        for ((place, own), a) in served.iter().zip(read).zip(access) {
            assert_eq!(place["lon"], own["lon"]);
            assert_eq!(place["population"], own["population"]);
            assert!(
                close(place["access"].as_f64(), a.as_f64()),
                "A_i differs ({decay}): {place} vs {a}"
            );
        }
    }
}
