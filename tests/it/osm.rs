//! OpenStreetMap import and street-network joining, end to end: a fixture `.osm` written here,
//! converted to `.osm.pbf` with osmium, imported with the real binary, served by the real
//! server; walking distances checked against networkx reading the same `.osm` file; and a
//! FlatGeobuf street network with near-miss T-junctions joined and reported by `check`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use lifecircle::config::Config;
use lifecircle::coverage::field::Frame;
use lifecircle::coverage::graph::{Flow, Search, WalkGraph};

use crate::support;

const ORIGIN: (f64, f64) = (121.40, 31.20);

/// Whether the tests needing `what` run: yes when it is there; a skip note under plain
/// `cargo test`; a failure when `scripts/test.sh` (LIFECIRCLE_JS_TESTS=1) runs the suite.
fn required(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    let enforced = std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1");
    assert!(
        !enforced,
        "{what} is missing; scripts/test.sh installs it (Debian packages osmium-tool, python3-networkx)"
    );
    eprintln!("note: OSM import test skipped: {what} is missing (scripts/test.sh installs it)");
    false
}

/// A Python interpreter that can import networkx (Debian's python3-networkx lives under the
/// system interpreter, which may not be the first `python3` on PATH).
fn python_with_networkx() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import networkx"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn osmium_available() -> bool {
    Command::new("osmium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// lon/lat `x` metres east and `y` north of [`ORIGIN`], at OSM's 1e-7 degree precision.
fn at(x: f64, y: f64) -> (f64, f64) {
    let (m_lon, m_lat) = lifecircle::geom::metres_per_degree(ORIGIN.1);
    let round = |v: f64| (v * 1e7).round() / 1e7;
    (round(ORIGIN.0 + x / m_lon), round(ORIGIN.1 + y / m_lat))
}

/// An element's tags, `(key, value)`.
type TagList = Vec<(&'static str, &'static str)>;

/// The fixture: `(id, x, y, tags)` nodes, `(id, refs, tags)` ways, one administrative relation.
struct Fixture {
    nodes: Vec<(i64, f64, f64, TagList)>,
    ways: Vec<(i64, Vec<i64>, TagList)>,
}

fn fixture() -> Fixture {
    let plain = |id: i64, x: f64, y: f64| (id, x, y, vec![]);
    let mut nodes = vec![
        // Street A, west to east.
        plain(1, 0.0, 0.0),
        plain(2, 100.0, 0.0),
        plain(3, 200.0, 0.0),
        plain(4, 300.0, 0.0),
        plain(5, 400.0, 0.0),
        // Street B, north to south through A's node 3 (both share it in their middles).
        plain(12, 200.0, 200.0),
        plain(14, 200.0, 100.0),
        plain(15, 200.0, -100.0),
        // Footways C and D: a detour from 2 to 12.
        plain(20, 100.0, 100.0),
        plain(21, 100.0, 200.0),
        // Steps E.
        plain(30, 300.0, -60.0),
        // Trunk road F with a sidewalk, then motorway G without, then footway H beyond it.
        plain(40, 500.0, 0.0),
        plain(41, 600.0, 0.0),
        plain(50, 700.0, 0.0),
        plain(51, 700.0, 100.0),
        // Private service road I from node 1, footway J beyond it.
        plain(60, 0.0, -100.0),
        plain(61, 100.0, -100.0),
        plain(62, 100.0, -200.0),
        // Footbridge K over A between 3 and 4 (no shared node), footway M from its north end to B.
        plain(70, 250.0, -80.0),
        plain(71, 250.0, 80.0),
        // The park (unnamed) and the school as closed ways.
        plain(201, 20.0, 30.0),
        plain(202, 80.0, 30.0),
        plain(203, 80.0, 80.0),
        plain(204, 20.0, 80.0),
        plain(211, 320.0, 30.0),
        plain(212, 380.0, 30.0),
        plain(213, 380.0, 90.0),
        plain(214, 320.0, 90.0),
        // The subdistrict's corners.
        plain(310, -100.0, -300.0),
        plain(311, 800.0, -300.0),
        plain(312, 800.0, 300.0),
        plain(313, -100.0, 300.0),
    ];
    nodes.extend([
        (
            100,
            50.0,
            -30.0,
            vec![("amenity", "clinic"), ("name", "新华社区卫生服务中心")],
        ),
        (
            101,
            150.0,
            -30.0,
            vec![("amenity", "kindergarten"), ("name", "番禺幼儿园")],
        ),
        (
            102,
            250.0,
            10.0,
            vec![
                ("highway", "bus_stop"),
                ("public_transport", "platform"),
                ("name", "长宁路番禺路"),
            ],
        ),
        (
            103,
            350.0,
            -20.0,
            vec![
                ("shop", "supermarket"),
                ("name", "联华超市"),
                ("name:en", "Lianhua Supermarket"),
            ],
        ),
        (
            104,
            420.0,
            -20.0,
            vec![("amenity", "pharmacy"), ("name", "益丰大药房")],
        ),
        (
            105,
            150.0,
            150.0,
            vec![
                ("amenity", "social_facility"),
                ("social_facility", "nursing_home"),
                ("name", "新华路街道养老院"),
            ],
        ),
        // Not a facility.
        (106, 120.0, 20.0, vec![("amenity", "parking")]),
    ]);
    let ways = vec![
        (
            1001,
            vec![1, 2, 3, 4, 5],
            vec![("highway", "residential"), ("name", "长宁路")],
        ),
        (
            1002,
            vec![12, 14, 3, 15],
            vec![("highway", "tertiary"), ("name", "番禺路")],
        ),
        (1003, vec![2, 20, 21], vec![("highway", "footway")]),
        (1004, vec![21, 12], vec![("highway", "footway")]),
        (1005, vec![4, 30], vec![("highway", "steps")]),
        (
            1006,
            vec![5, 40, 41],
            vec![
                ("highway", "trunk"),
                ("sidewalk", "both"),
                ("name", "中山西路"),
            ],
        ),
        (1007, vec![41, 50], vec![("highway", "motorway")]),
        (1008, vec![50, 51], vec![("highway", "footway")]),
        (
            1009,
            vec![1, 60, 61],
            vec![("highway", "service"), ("access", "private")],
        ),
        (1010, vec![61, 62], vec![("highway", "footway")]),
        (
            1011,
            vec![70, 71],
            vec![("highway", "footway"), ("bridge", "yes"), ("layer", "1")],
        ),
        (1012, vec![71, 14], vec![("highway", "footway")]),
        (
            1020,
            vec![201, 202, 203, 204, 201],
            vec![("leisure", "park")],
        ),
        (
            1021,
            vec![211, 212, 213, 214, 211],
            vec![("amenity", "school"), ("name", "番禺路小学")],
        ),
        (
            1030,
            vec![310, 311, 312],
            vec![("boundary", "administrative"), ("admin_level", "8")],
        ),
        (1031, vec![312, 313, 310], vec![]),
    ];
    Fixture { nodes, ways }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

fn tags_xml(tags: &[(&str, &str)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("    <tag k=\"{}\" v=\"{}\"/>\n", escape(k), escape(v)))
        .collect()
}

fn write_osm(fixture: &Fixture, path: &Path) {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"lifecircle tests\">\n",
    );
    for (id, x, y, tags) in &fixture.nodes {
        let (lon, lat) = at(*x, *y);
        xml.push_str(&format!(
            "  <node id=\"{id}\" version=\"1\" lat=\"{lat:.7}\" lon=\"{lon:.7}\">\n{}  </node>\n",
            tags_xml(tags)
        ));
    }
    for (id, refs, tags) in &fixture.ways {
        xml.push_str(&format!("  <way id=\"{id}\" version=\"1\">\n"));
        for r in refs {
            xml.push_str(&format!("    <nd ref=\"{r}\"/>\n"));
        }
        xml.push_str(&tags_xml(tags));
        xml.push_str("  </way>\n");
    }
    xml.push_str(
        "  <relation id=\"3001\" version=\"1\">\n\
         \x20   <member type=\"way\" ref=\"1030\" role=\"outer\"/>\n\
         \x20   <member type=\"way\" ref=\"1031\" role=\"outer\"/>\n",
    );
    xml.push_str(&tags_xml(&[
        ("type", "boundary"),
        ("boundary", "administrative"),
        ("admin_level", "8"),
        ("name", "新华路街道"),
        ("name:en", "Xinhua Road Subdistrict"),
    ]));
    xml.push_str("  </relation>\n</osm>\n");
    std::fs::write(path, xml).unwrap();
}

/// Runs the lifecircle binary; panics with its output unless it exits 0.
fn lifecircle(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lifecircle"))
        .args(args)
        .output()
        .expect("the lifecircle binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "lifecircle {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// String column `column` of every feature of a FlatGeobuf file, read with the flatgeobuf crate.
fn fgb_column(path: &Path, column: &str) -> Vec<Option<String>> {
    use flatgeobuf::{FallibleStreamingIterator, FgbReader};
    use geozero::FeatureProperties;
    let mut file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut features = FgbReader::open(&mut file)
        .unwrap()
        .select_all_seq()
        .unwrap();
    let mut out = Vec::new();
    while let Some(feature) = features.next().unwrap() {
        out.push(feature.property::<String>(column).ok());
    }
    out
}

/// Walking distance between two places over `graph`, both snapped onto it, as the server
/// measures it; `None` when no path joins them.
fn walk_m(graph: &WalkGraph, from: (f64, f64), to: (f64, f64)) -> Option<f64> {
    let a = graph.snap(from.0, from.1).unwrap();
    let b = graph.snap(to.0, to.1).unwrap();
    assert!(a.off_m < 0.05 && b.off_m < 0.05, "nodes lie on the network");
    let mut search = Search::new(graph);
    search.run(graph, graph.seeds(&a, 0.0), f32::INFINITY, |_, _| {
        Flow::Continue
    });
    let e = graph.edges[b.edge as usize];
    let d = (search.dist(e.u) + b.along_m).min(search.dist(e.v) + (e.len_m - b.along_m));
    let same_edge = (a.edge == b.edge).then(|| (a.along_m - b.along_m).abs());
    let d = same_edge.map_or(d, |s| s.min(d));
    d.is_finite().then_some(f64::from(d))
}

#[test]
fn osm_extract_imports_to_a_walkable_network_and_categorised_facilities() {
    let networkx_python = python_with_networkx();
    if !required("osmium (osmium-tool)", osmium_available())
        || !required("python3 with networkx", networkx_python.is_some())
    {
        return;
    }
    let python = networkx_python.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let osm = dir.path().join("fixture.osm");
    let pbf = dir.path().join("fixture.osm.pbf");
    let fixture = fixture();
    write_osm(&fixture, &osm);
    let converted = Command::new("osmium")
        .args(["cat", "-O", "-o"])
        .arg(&pbf)
        .arg(&osm)
        .output()
        .unwrap();
    assert!(
        converted.status.success(),
        "{}",
        String::from_utf8_lossy(&converted.stderr)
    );

    let out = dir.path().join("out");
    let (w, s) = at(-50.0, -250.0);
    let (e, n) = at(750.0, 250.0);
    let bbox = format!("{w},{s},{e},{n}");
    let stdout = lifecircle(&[
        "import",
        "osm",
        pbf.to_str().unwrap(),
        "--bbox",
        &bbox,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("imported 8 facilities"),
        "six nodes, the park and the school: {stdout}"
    );
    assert!(stdout.contains("subdistricts: 1"), "{stdout}");

    // Excluded ways are absent; every kept way is there, split at shared nodes.
    let road_ids: Vec<String> = fgb_column(&out.join("roads.fgb"), "id")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let ways: BTreeSet<&str> = road_ids.iter().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "osm:w1001",
        "osm:w1002",
        "osm:w1003",
        "osm:w1004",
        "osm:w1005",
        "osm:w1006",
        "osm:w1008",
        "osm:w1010",
        "osm:w1011",
        "osm:w1012",
    ]
    .into();
    assert_eq!(
        ways, expected,
        "motorway 1007 and private road 1009 left out"
    );
    let pieces = |id: &str| road_ids.iter().filter(|r| *r == id).count();
    assert_eq!(pieces("osm:w1001"), 4, "A splits at 2 (C), 3 (B) and 4 (E)");
    assert_eq!(pieces("osm:w1002"), 3, "B splits at 14 (M) and 3 (A)");

    // The networkx reference reads the .osm itself and agrees on which ways are walkable.
    let pairs = [
        (1, 5),
        (2, 12),
        (3, 70),
        (1, 41),
        (3, 30),
        (1, 51),
        (1, 62),
        (62, 61),
        (20, 15),
    ];
    let pair_args: Vec<String> = pairs.iter().map(|(a, b)| format!("{a}:{b}")).collect();
    let reference = Command::new(python)
        .arg(support::repo_root().join("tests/it/osm_walk.py"))
        .arg(&osm)
        .args(&pair_args)
        .output()
        .unwrap();
    assert!(
        reference.status.success(),
        "{}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let reference: serde_json::Value = serde_json::from_slice(&reference.stdout).unwrap();
    let kept: BTreeSet<String> = reference["kept_ways"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| format!("osm:w{id}"))
        .collect();
    assert_eq!(
        kept,
        expected
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );

    // Distances over the server's own walking graph, built as the generated configuration says.
    let config = Config::load(Some(&out.join("lifecircle.toml"))).unwrap();
    assert_eq!(config.coverage.join_tolerance_m, 1.0);
    let (roads, _) = lifecircle::ingest::read_roads(&out.join("roads.fgb")).unwrap();
    let graph = WalkGraph::build(
        &roads,
        &config.coverage.exclude_highways,
        Frame::new(ORIGIN.0, ORIGIN.1),
        config.coverage.join_tolerance_m,
    );
    let position = |id: i64| {
        let (_, x, y, _) = fixture.nodes.iter().find(|n| n.0 == id).unwrap();
        at(*x, *y)
    };
    for (idx, &(a, b)) in pairs.iter().enumerate() {
        let ours = walk_m(&graph, position(a), position(b));
        let theirs = reference["distances"][idx].as_f64();
        match (ours, theirs) {
            (Some(ours), Some(theirs)) => assert!(
                (ours - theirs).abs() < 1.0,
                "{a} → {b}: {ours:.2} m here, {theirs:.2} m by networkx"
            ),
            (None, None) => {}
            _ => panic!("{a} → {b}: {ours:?} here, {theirs:?} by networkx"),
        }
    }
    // The cases the pairs stand for.
    let d = |idx: usize| reference["distances"][idx].as_f64();
    assert!(
        d(2).unwrap() > 300.0,
        "the bridge does not join the street it crosses"
    );
    assert!(
        (d(3).unwrap() - 600.0).abs() < 0.5,
        "the trunk road with a sidewalk is walked"
    );
    assert_eq!(d(5), None, "not over the motorway");
    assert_eq!(d(6), None, "not over the private road");

    // The server serves the imported directory: every tagged facility in its category.
    let toml = std::fs::read_to_string(out.join("lifecircle.toml")).unwrap();
    let toml = toml.replace("[coverage]\n", "[coverage]\nmode = \"network\"\n");
    let server = support::spawn_with(&toml, &out);
    for (element, category, name) in [
        ("osm:n100", "medical", "新华社区卫生服务中心"),
        ("osm:n101", "kindergarten", "番禺幼儿园"),
        ("osm:n102", "transit", "长宁路番禺路"),
        ("osm:n103", "supermarket", "联华超市"),
        ("osm:n104", "pharmacy", "益丰大药房"),
        ("osm:n105", "elderly", "新华路街道养老院"),
        ("osm:w1020", "park", ""),
        ("osm:w1021", "education", "番禺路小学"),
    ] {
        let id = lifecircle::ingest::stable_feature_id(element);
        let feature = support::get_json(&server.url(&format!("/features/{id}")));
        let props = &feature["properties"];
        assert_eq!(props["category"], category, "{element}: {feature}");
        assert_eq!(props["name"], name, "{element}: {feature}");
    }
    let feature = support::get_json(&server.url(&format!(
        "/features/{}",
        lifecircle::ingest::stable_feature_id("osm:n103")
    )));
    assert_eq!(feature["properties"]["name_en"], "Lianhua Supermarket");
    assert_eq!(
        support::get(&server.url(&format!(
            "/features/{}",
            lifecircle::ingest::stable_feature_id("osm:n106")
        )))
        .status(),
        404,
        "a car park is not a facility"
    );
    let catalog = support::get_json(&server.url("/catalog"));
    let total: u64 = catalog["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["n_facilities"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 8, "{catalog}");
    // The subdistrict from the administrative relation's two ways.
    let stats = support::get_json(&server.url("/coverage/stats"));
    assert!(
        stats.to_string().contains("新华路街道"),
        "subdistrict statistics name it: {stats}"
    );
    drop(server);

    // The server pointed at the .pbf itself runs the same import in memory.
    let (direct_roads, _) = lifecircle::ingest::read_roads(&pbf).unwrap();
    assert_eq!(direct_roads.len(), roads.len());
    // The same pieces (the FlatGeobuf file holds them in its spatial index's order).
    let shape = |roads: &[lifecircle::dataset::Road]| -> Vec<String> {
        let mut pieces: Vec<String> = roads
            .iter()
            .map(|r| format!("{} {:?}", r.highway, r.coords))
            .collect();
        pieces.sort();
        pieces
    };
    assert_eq!(shape(&direct_roads), shape(&roads));
    let direct = support::spawn_with(
        "[data]\nfacilities = \"fixture.osm.pbf\"\nroads = \"fixture.osm.pbf\"\n\
         subdistricts = \"fixture.osm.pbf\"\nresidents = \"\"\n\
         [coverage]\nmode = \"network\"\nexclude_highways = []\n",
        dir.path(),
    );
    let catalog = support::get_json(&direct.url("/catalog"));
    let total: u64 = catalog["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["n_facilities"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 8, "{catalog}");
    let park = support::get_json(&direct.url(&format!(
        "/features/{}",
        lifecircle::ingest::stable_feature_id("osm:w1020")
    )));
    assert_eq!(park["properties"]["category"], "park");
    let stats = support::get_json(&direct.url("/coverage/stats"));
    assert!(stats.to_string().contains("新华路街道"), "{stats}");
}

/// Writes a FlatGeobuf road file with the flatgeobuf crate: `(highway, coords)` lines.
fn write_roads_fgb(path: &Path, lines: &[(&str, Vec<(f64, f64)>)]) {
    use flatgeobuf::{ColumnType, FgbWriter, FgbWriterOptions, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let mut fgb = FgbWriter::create_with_options(
        "roads",
        GeometryType::LineString,
        FgbWriterOptions {
            crs: flatgeobuf::FgbCrs {
                code: 4326,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    fgb.add_column("highway", ColumnType::String, |_, _| {});
    for (highway, coords) in lines {
        let line = geo::LineString::from(coords.clone());
        fgb.add_feature_geom(geo::Geometry::LineString(line), |feat| {
            feat.property(0, "highway", &ColumnValue::String(highway))
                .unwrap();
        })
        .unwrap();
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    fgb.write(&mut out).unwrap();
}

fn write_one_facility_fgb(path: &Path, at: (f64, f64)) {
    use flatgeobuf::{ColumnType, FgbWriter, FgbWriterOptions, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let mut fgb = FgbWriter::create_with_options(
        "facilities",
        GeometryType::Point,
        FgbWriterOptions {
            crs: flatgeobuf::FgbCrs {
                code: 4326,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    for column in ["id", "name", "category"] {
        fgb.add_column(column, ColumnType::String, |_, _| {});
    }
    fgb.add_feature_geom(geo::Geometry::Point(geo::Point::new(at.0, at.1)), |feat| {
        for (i, value) in ["1", "社区卫生服务中心", "medical"].iter().enumerate() {
            feat.property(i, "", &ColumnValue::String(value)).unwrap();
        }
    })
    .unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    fgb.write(&mut out).unwrap();
}

#[test]
fn near_miss_t_junctions_join_and_check_reports_components() {
    let dir = tempfile::tempdir().unwrap();
    // A main street, and side streets digitised separately: each ends up to 0.5 m beside the
    // main street's middle (north and south, on both sides of a vertex-free stretch), one ends
    // 0.3 m short of another side street's end, and a bridge crosses with no end on it.
    let lines = vec![
        ("primary", vec![at(0.0, 0.0), at(1000.0, 0.0)]),
        ("residential", vec![at(200.0, 300.0), at(200.0, 0.5)]),
        ("residential", vec![at(450.0, -0.4), at(450.0, -300.0)]),
        ("residential", vec![at(700.0, 0.45), at(700.0, 250.0)]),
        ("footway", vec![at(700.3, 250.0), at(900.0, 250.0)]),
        ("footway", vec![at(600.0, -100.0), at(600.0, 100.0)]),
    ];
    write_roads_fgb(&dir.path().join("roads.fgb"), &lines);
    write_one_facility_fgb(&dir.path().join("facilities.fgb"), at(300.0, 20.0));
    let config = dir.path().join("lifecircle.toml");
    std::fs::write(
        &config,
        "[data]\nfacilities = \"facilities.fgb\"\nroads = \"roads.fgb\"\nsubdistricts = \"\"\nresidents = \"\"\n",
    )
    .unwrap();
    let stdout = lifecircle(&["--config", config.to_str().unwrap(), "check"]);
    assert!(
        stdout.contains("as drawn (shared vertices only): 6 components"),
        "{stdout}"
    );
    assert!(
        stdout.contains("joined within 1 m (4 line ends joined): 2 components"),
        "{stdout}"
    );
    // The bridge stays apart and is listed with its length and location.
    let (lon, lat) = at(600.0, 0.0);
    assert!(
        stdout.contains(&format!("200 m at {lon:.6},{lat:.6}")),
        "{stdout}"
    );

    // Joining off: the network stays in pieces, and check says so.
    std::fs::write(
        &config,
        "[data]\nfacilities = \"facilities.fgb\"\nroads = \"roads.fgb\"\nsubdistricts = \"\"\nresidents = \"\"\n[coverage]\njoin_tolerance_m = 0\n",
    )
    .unwrap();
    let stdout = lifecircle(&["--config", config.to_str().unwrap(), "check"]);
    assert!(stdout.contains("joining is off"), "{stdout}");
}
