//! Facility sources as a data office has them: several files, in GCJ-02 and BD-09 as exported
//! from Amap and Baidu, with their own column names and OSM class names, unnamed parks and
//! pitches, rows at (0, 0) or in another city; and the guards that keep bad data from replacing
//! good data, over HTTP and through `lifecircle check`.
//!
//! The GCJ-02 and BD-09 coordinates come from an independent implementation (npm gcoord, in
//! `tests/fixtures/coord_transform.json`), never from the server's own formulas.

use std::path::Path;

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geozero::{ColumnValue, PropertyProcessor};
use lifecircle::config::Config;
use lifecircle::state::AppState;

use crate::support::{self, TestServer, get, get_json};

/// One row of a fixture file: a geometry and one text value per column (`None`: null).
struct Row {
    geometry: geo::Geometry<f64>,
    values: Vec<Option<String>>,
}

fn point_row(lon: f64, lat: f64, values: &[&str]) -> Row {
    Row {
        geometry: geo::Geometry::Point(geo::Point::new(lon, lat)),
        values: values
            .iter()
            .map(|v| (!v.is_empty()).then(|| (*v).to_owned()))
            .collect(),
    }
}

/// Writes a FlatGeobuf file (EPSG:4326 as such exports are labelled, whatever their datum) with
/// text columns.
fn write_fgb(path: &Path, geometry_type: GeometryType, columns: &[&str], rows: &[Row]) {
    let options = FgbWriterOptions {
        crs: FgbCrs {
            code: 4326,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut writer = FgbWriter::create_with_options("layer", geometry_type, options).unwrap();
    for column in columns {
        writer.add_column(column, ColumnType::String, |_, _| {});
    }
    for row in rows {
        writer
            .add_feature_geom(row.geometry.clone(), |feature| {
                for (idx, (column, value)) in columns.iter().zip(&row.values).enumerate() {
                    if let Some(value) = value {
                        feature
                            .property(idx, column, &ColumnValue::String(value))
                            .unwrap();
                    }
                }
            })
            .unwrap();
    }
    writer.write(std::fs::File::create(path).unwrap()).unwrap();
}

/// `(name, wgs84, gcj02, bd09)` of the independent conversion vectors.
type Vector = (String, (f64, f64), (f64, f64), (f64, f64));

fn vectors() -> Vec<Vector> {
    let text =
        std::fs::read_to_string(support::repo_root().join("tests/fixtures/coord_transform.json"))
            .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pair = |v: &serde_json::Value| (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    json["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                pair(&p["wgs84"]),
                pair(&p["gcj02"]),
                pair(&p["bd09"]),
            )
        })
        .collect()
}

/// Ground distance, the test's own haversine (mean Earth radius), independent of `geom`.
fn haversine_m((lon1, lat1): (f64, f64), (lon2, lat2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = (p2 - p1, (lon2 - lon1).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
}

/// The `/features/{id}` URL of a `source:source_id`, percent-encoded.
fn feature_url(server: &TestServer, source_key: &str) -> String {
    let encoded: String = source_key
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    server.url(&format!("/features/{encoded}"))
}

fn feature_position(feature: &serde_json::Value) -> (f64, f64) {
    let c = &feature["geometry"]["coordinates"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

/// An Amap-style category per fixture point: (type path, typecode, expected category).
const AMAP_TYPES: [(&str, &str, &str); 6] = [
    ("医疗保健服务;医药保健销售店;药房", "090601", "pharmacy"),
    ("科教文化服务;学校;幼儿园", "141204", "kindergarten"),
    ("医疗保健服务;综合医院;三级甲等医院", "090101", "medical"),
    ("购物服务;超级市场;超市", "060400", "supermarket"),
    ("风景名胜;公园广场;公园", "110101", "park"),
    ("交通设施服务;地铁站;地铁站", "150500", "transit"),
];

const NO_CONTEXT_LAYERS: &str = "roads = \"\"\nsubdistricts = \"\"\nresidents = \"\"\n";

#[test]
fn gcj02_and_bd09_sources_land_within_a_metre_in_the_right_category() {
    let dir = tempfile::tempdir().unwrap();
    // The Shanghai vectors: one district's deployment (the others are all over China).
    let vectors: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| (121.0..122.0).contains(&v.1.0))
        .collect();
    assert_eq!(vectors.len(), 4);
    // A bureau list from Baidu: BD-09, Chinese column names. Even rows are the same places as
    // the Amap rows, under the same name written with full-width brackets (merged); odd rows
    // are its own.
    let bureau_rows: Vec<Row> = vectors
        .iter()
        .enumerate()
        .map(|(i, (name, _, _, bd))| {
            let name = if i % 2 == 0 {
                format!("{}（{i}）", name.to_uppercase())
            } else {
                format!("局属设施{i}号")
            };
            point_row(
                bd.0,
                bd.1,
                &[&(i + 1).to_string(), &name, "社区卫生服务中心"],
            )
        })
        .collect();
    write_fgb(
        &dir.path().join("bureau.fgb"),
        GeometryType::Point,
        &["编号", "名称", "类别"],
        &bureau_rows,
    );
    // An Amap export: GCJ-02, `type` paths and `typecode`s, its own ids.
    let amap_rows: Vec<Row> = vectors
        .iter()
        .enumerate()
        .map(|(i, (name, _, gcj, _))| {
            let (type_path, code, _) = AMAP_TYPES[i % AMAP_TYPES.len()];
            let name = format!("{name} ({i})");
            point_row(
                gcj.0,
                gcj.1,
                &[&format!("B0FF{i:04}"), &name, type_path, code],
            )
        })
        .collect();
    write_fgb(
        &dir.path().join("amap.fgb"),
        GeometryType::Point,
        &["id", "name", "type", "typecode"],
        &amap_rows,
    );
    let config = format!(
        r#"
[data]
{NO_CONTEXT_LAYERS}
[[data.sources]]
file = "amap.fgb"
name = "amap"
provider = "高德地图"
as_of = 2024-06-30
datum = "gcj02"

[[data.sources]]
file = "bureau.fgb"
name = "卫健委"
provider = "区卫健委"
as_of = "2020-01-15"
datum = "bd09"
[data.sources.fields]
id = "编号"
name = "名称"
category = "类别"
"#
    );
    let server = support::spawn_with(&config, dir.path());
    for (i, (name, wgs, _, _)) in vectors.iter().enumerate() {
        let amap = get_json(&feature_url(&server, &format!("amap:B0FF{i:04}")));
        let d = haversine_m(feature_position(&amap), *wgs);
        assert!(d < 1.0, "amap {name}: {d:.3} m from WGS84");
        let expected = AMAP_TYPES[i % AMAP_TYPES.len()].2;
        assert_eq!(amap["properties"]["category"], expected, "{name}");
        assert_eq!(amap["properties"]["source"], "amap");
        assert_eq!(amap["properties"]["updated"], "2024-06-30");

        let bureau = get_json(&feature_url(&server, &format!("卫健委:{}", i + 1)));
        let d = haversine_m(feature_position(&bureau), *wgs);
        assert!(d < 1.0, "bureau {name}: {d:.3} m from WGS84");
        if i % 2 == 0 {
            // Merged: the Amap facility (listed first) answers for both ids.
            assert_eq!(bureau["id"], amap["id"], "{name}");
            let ids = bureau["properties"]["source_ids"].as_array().unwrap();
            assert_eq!(ids.len(), 2, "{ids:?}");
        } else {
            assert_eq!(bureau["properties"]["category"], "medical");
            assert_eq!(bureau["properties"]["source"], "卫健委");
            assert_eq!(bureau["properties"]["provider"], "区卫健委");
            // The numeric id answers the same.
            let by_id = get_json(&server.url(&format!("/features/{}", bureau["id"])));
            assert_eq!(by_id, bureau);
        }
    }
    let n = vectors.len();
    let n_merged = n.div_ceil(2);
    let health = get_json(&server.url("/health"));
    assert_eq!(health["n_facilities"], 2 * n - n_merged, "{health}");

    // The catalog says where each category's data came from, and flags old data.
    let catalog = get_json(&server.url("/catalog"));
    let medical = catalog["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "medical")
        .unwrap();
    let sources: Vec<&str> = medical["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["amap", "卫健委"], "{medical}");
    assert_eq!(medical["newest_as_of"], "2024-06-30");
    assert_eq!(catalog["data"]["n_merged"], n_merged);
    assert_eq!(catalog["data"]["sources"][1]["as_of"], "2020-01-15");
    let elderly = catalog["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "elderly")
        .unwrap();
    assert_eq!(
        elderly["stale"],
        serde_json::Value::Null,
        "no data, no date"
    );

    // Unknown source ids are 404, malformed ids 400, both naming the id.
    let response = get(&feature_url(&server, "amap:nope"));
    assert_eq!(response.status(), 404);
    assert!(response.text().unwrap().contains("amap:nope"));
    assert_eq!(get(&server.url("/features/abc")).status(), 400);
}

#[test]
fn csv_and_geojson_sources_in_gcj02_and_bd09_land_within_a_metre() {
    let dir = tempfile::tempdir().unwrap();
    let vectors: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| (121.0..122.0).contains(&v.1.0))
        .collect();
    // An Amap export as saved by a spreadsheet: UTF-8 with a BOM, one "lng,lat" column, GCJ-02.
    let mut utf8 = String::from("\u{feff}id,name,type,typecode,location\n");
    // The same kind of list saved as GBK, with separate columns and Chinese headers.
    let mut gbk = String::from("编号,名称,类型,lng,lat\n");
    // A Baidu export as GeoJSON, BD-09.
    let mut features = Vec::new();
    for (i, (name, _, gcj, bd)) in vectors.iter().enumerate() {
        let (type_path, code, _) = AMAP_TYPES[i];
        utf8.push_str(&format!(
            "B0{i},\"{name} 高德\",{type_path},{code},\"{},{}\"\n",
            gcj.0, gcj.1
        ));
        gbk.push_str(&format!(
            "{i},\"{name} 区局\",{type_path},{},{}\n",
            gcj.0, gcj.1
        ));
        features.push(serde_json::json!({
            "type": "Feature",
            "geometry": { "type": "Point", "coordinates": [bd.0, bd.1] },
            "properties": { "id": i, "name": format!("{name} 百度"), "category": "幼儿园" },
        }));
    }
    std::fs::write(dir.path().join("amap.csv"), utf8).unwrap();
    let (gbk_bytes, _, unmappable) = encoding_rs::GBK.encode(&gbk);
    assert!(!unmappable);
    std::fs::write(dir.path().join("bureau_gbk.csv"), &gbk_bytes).unwrap();
    let collection = serde_json::json!({ "type": "FeatureCollection", "features": features });
    std::fs::write(dir.path().join("baidu.geojson"), collection.to_string()).unwrap();
    let config = format!(
        r#"
[data]
{NO_CONTEXT_LAYERS}
[[data.sources]]
file = "amap.csv"
datum = "gcj02"

[[data.sources]]
file = "bureau_gbk.csv"
name = "区局"
datum = "gcj02"
lon = "lng"
lat = "lat"
fields = {{ id = "编号", name = "名称", type = "类型" }}

[[data.sources]]
file = "baidu.geojson"
datum = "bd09"
"#
    );
    let server = support::spawn_with(&config, dir.path());
    for (i, (name, wgs, _, _)) in vectors.iter().enumerate() {
        let expected = AMAP_TYPES[i].2;
        for (key, category) in [
            (format!("amap:B0{i}"), expected),
            (format!("区局:{i}"), expected),
            (format!("baidu:{i}"), "kindergarten"),
        ] {
            let feature = get_json(&feature_url(&server, &key));
            let d = haversine_m(feature_position(&feature), *wgs);
            assert!(d < 1.0, "{key} {name}: {d:.3} m from WGS84");
            assert_eq!(feature["properties"]["category"], category, "{key}");
        }
        let gbk_named = get_json(&feature_url(&server, &format!("区局:{i}")));
        assert_eq!(gbk_named["properties"]["name"], format!("{name} 区局"));
    }
}

#[test]
fn every_mainland_vector_converts_to_within_a_metre() {
    let dir = tempfile::tempdir().unwrap();
    // gcoord also shifts points abroad, which the GCJ-02 formulas (and the apps) leave alone.
    let vectors: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| !v.0.contains("outside China"))
        .collect();
    for (datum, pick) in [("gcj02", 2), ("bd09", 3)] {
        let rows: Vec<Row> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (lon, lat) = if pick == 2 { v.2 } else { v.3 };
                point_row(lon, lat, &[&i.to_string(), &v.0])
            })
            .collect();
        write_fgb(
            &dir.path().join(format!("{datum}.fgb")),
            GeometryType::Point,
            &["id", "name"],
            &rows,
        );
    }
    let config = format!(
        "[data]\n{NO_CONTEXT_LAYERS}\n[[data.sources]]\nfile = \"gcj02.fgb\"\ndatum = \"gcj02\"\n[[data.sources]]\nfile = \"bd09.fgb\"\ndatum = \"bd09\"\n"
    );
    let config = Config::from_toml_str(&config, dir.path()).unwrap();
    let taxonomy = config.taxonomy().unwrap();
    let (layers, report) = lifecircle::ingest::read_all(&config, &taxonomy).unwrap();
    assert_eq!(report.n_facility_skipped, 0, "{report}");
    let mut worst: f64 = 0.0;
    for f in &layers.facilities {
        let v = &vectors[f.source_id().parse::<usize>().unwrap()];
        let d = haversine_m((f.lon, f.lat), v.1);
        assert!(d < 1.0, "{}: {d:.3} m", v.0);
        worst = worst.max(d);
    }
    // Equal names at the same place: each GCJ-02 row has its BD-09 twin merged into it.
    assert_eq!(layers.facilities.len(), vectors.len());
    assert_eq!(report.merges.len(), vectors.len());
    eprintln!(
        "worst datum error over {} points: {worst:.4} m",
        vectors.len()
    );
}

#[test]
fn context_layers_take_a_datum_and_a_field_map() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = vectors();
    let (_, wgs_a, gcj_a, _) = &vectors[0];
    let (_, wgs_b, gcj_b, _) = &vectors[1];
    let line = geo::Geometry::LineString(geo::LineString::from(vec![*gcj_a, *gcj_b]));
    write_fgb(
        &dir.path().join("roads.fgb"),
        GeometryType::LineString,
        &["fclass", "name"],
        &[Row {
            geometry: line,
            values: vec![Some("residential".into()), Some("测试路".into())],
        }],
    );
    write_fgb(
        &dir.path().join("poi.fgb"),
        GeometryType::Point,
        &["osm_id", "fclass", "name"],
        &[point_row(wgs_a.0, wgs_a.1, &["1", "pharmacy", "药房"])],
    );
    let config = r#"
[data]
subdistricts = ""
residents = ""
[data.roads]
file = "roads.fgb"
datum = "gcj02"
fields = { highway = "fclass" }

[[data.sources]]
file = "poi.fgb"
fields = { id = "osm_id" }
"#;
    let config = Config::from_toml_str(config, dir.path()).unwrap();
    let state = AppState::load(config).unwrap();
    let snapshot = state.snapshot.load_full();
    let road = &snapshot.dataset.roads[0];
    assert_eq!(&*road.highway, "residential");
    assert!(haversine_m(road.coords[0], *wgs_a) < 1.0);
    assert!(haversine_m(road.coords[1], *wgs_b) < 1.0);
    assert!(snapshot.dataset.areas.is_empty() && snapshot.dataset.residents.is_empty());
    let facility = &snapshot.dataset.facilities()[0];
    assert_eq!(snapshot.dataset.sources[0].name, "poi");
    assert_eq!(facility.source_id(), "1");
}

/// A district of OSM "free" shapefile rows: named and unnamed parks, pitches, a pharmacy, a
/// clinic, as points (`pois.fgb`) and outlines (`pois_a.fgb`, placed at an interior point).
/// Returns the rows' WGS84 positions (of the outlines: the centre) with category and whether
/// they are unnamed.
fn write_osm_fixture(dir: &Path) -> Vec<((f64, f64), &'static str, bool)> {
    let mut points = Vec::new();
    let mut outlines = Vec::new();
    let mut expected = Vec::new();
    let classes = [
        ("park", "park"),
        ("pitch", "sport"),
        ("pharmacy", "pharmacy"),
        ("clinic", "medical"),
    ];
    for i in 0..24 {
        let lon = 121.40 + (i % 6) as f64 * 0.004;
        let lat = 31.20 + (i / 6) as f64 * 0.004;
        let (fclass, category) = classes[i % classes.len()];
        // Two of every three parks and pitches are unnamed, as in the real extract.
        let unnamed = matches!(fclass, "park" | "pitch") && i % 3 != 0;
        let name = if unnamed {
            String::new()
        } else {
            format!("{fclass}{i}")
        };
        let id = (5_551_873_000u64 + i as u64).to_string();
        if fclass == "park" && i % 8 == 0 {
            let d = 0.0005;
            let ring = vec![
                (lon - d, lat - d),
                (lon + d, lat - d),
                (lon + d, lat + d),
                (lon - d, lat + d),
                (lon - d, lat - d),
            ];
            outlines.push(Row {
                geometry: geo::Geometry::Polygon(geo::Polygon::new(ring.into(), vec![])),
                values: vec![Some(id), Some(fclass.into()), (!unnamed).then_some(name)],
            });
        } else {
            points.push(point_row(lon, lat, &[&id, fclass, &name]));
        }
        expected.push(((lon, lat), category, unnamed));
    }
    let columns = ["osm_id", "fclass", "name"];
    write_fgb(
        &dir.join("pois.fgb"),
        GeometryType::Point,
        &columns,
        &points,
    );
    write_fgb(
        &dir.join("pois_a.fgb"),
        GeometryType::Polygon,
        &columns,
        &outlines,
    );
    expected
}

#[test]
fn unnamed_parks_and_pitches_are_in_tiles_search_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_osm_fixture(dir.path());
    let config = format!(
        r#"
[data]
{NO_CONTEXT_LAYERS}
[[data.sources]]
file = "pois.fgb"
name = "osm"
provider = "OpenStreetMap"
fields = {{ id = "osm_id" }}

[[data.sources]]
file = "pois_a.fgb"
name = "osm_a"
provider = "OpenStreetMap"
fields = {{ id = "osm_id" }}
"#
    );
    let server = support::spawn_with(&config, dir.path());
    let snapshot = server.state.snapshot.load_full();
    assert_eq!(snapshot.dataset.facilities().len(), expected.len());

    // Tiles: every facility is in the z16 tile under it; unnamed ones carry their label.
    let mut n_unnamed_seen = 0;
    let mut tiles_seen = std::collections::HashSet::new();
    for &((lon, lat), _, _) in &expected {
        let merc = lifecircle::geom::lonlat_to_merc(lon, lat);
        let tile = lifecircle::geom::TileKey::containing(merc, 16);
        if !tiles_seen.insert(tile) {
            continue;
        }
        let url = server.url(&format!("/tiles/facilities/16/{}/{}.mvt", tile.x, tile.y));
        let bytes = get(&url).bytes().unwrap().to_vec();
        let reader = mvt_reader::Reader::new(bytes).unwrap();
        for feature in reader.get_features(0).unwrap() {
            let props = feature.properties.unwrap_or_default();
            let text = |key: &str| match props.get(key) {
                Some(mvt_reader::feature::Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            if text("name").is_empty() {
                n_unnamed_seen += 1;
                let expected_label = match text("category").as_str() {
                    "park" => "公园",
                    "sport" => "体育场地",
                    other => panic!("unexpected unnamed {other}"),
                };
                assert_eq!(text("label"), expected_label);
            }
        }
    }
    let n_unnamed = expected.iter().filter(|e| e.2).count();
    assert_eq!(n_unnamed_seen, n_unnamed);

    // Category search finds the unnamed pitches, never as a name match, with their label.
    let (lon, lat) = expected[1].0;
    let answer = get_json(&server.url(&format!(
        "/search?near={lon},{lat}&category=sport&radius=5000&limit=100"
    )));
    let features = answer["features"].as_array().unwrap();
    let n_sport = expected.iter().filter(|e| e.1 == "sport").count();
    assert_eq!(features.len(), n_sport, "{answer}");
    let unnamed: Vec<_> = features
        .iter()
        .filter(|f| f["properties"]["name"] == "")
        .collect();
    assert!(!unnamed.is_empty());
    for f in unnamed {
        assert_eq!(f["properties"]["label"], "体育场地");
        assert_eq!(f["properties"]["name_match"], "none");
    }

    // Coverage: straight-line distances to the nearest park and pitch equal an independent
    // haversine over every facility of the fixture, unnamed ones included.
    for (i, &((lon, lat), _, _)) in expected.iter().enumerate().step_by(5) {
        let (lon, lat) = (lon + 0.0013 * (i % 3) as f64, lat - 0.0011);
        let report = get_json(&server.url(&format!("/coverage/at?lon={lon}&lat={lat}")));
        assert_eq!(report["mode"], "euclidean");
        for category in ["park", "sport"] {
            let entry = report["categories"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["category"] == category)
                .unwrap();
            let nearest = expected
                .iter()
                .filter(|e| e.1 == category)
                .map(|e| haversine_m((lon, lat), e.0))
                .fold(f64::INFINITY, f64::min);
            let got = entry["distance_m"].as_f64().unwrap();
            // An outline's interior point is its centre here (a square).
            assert!(
                (got - nearest).abs() < 0.5,
                "{category}: {got} vs {nearest}"
            );
        }
    }
}

#[test]
fn bad_rows_are_counted_and_bad_data_is_refused_with_the_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<Row> = (0..300)
        .map(|i| {
            let (lon, lat) = (
                121.40 + (i % 30) as f64 * 0.001,
                31.20 + (i / 30) as f64 * 0.001,
            );
            point_row(lon, lat, &[&i.to_string(), &format!("药房{i}"), "pharmacy"])
        })
        .collect();
    // A batch whose geocoding failed; a row of Beijing; a duplicated id.
    for i in 0..20 {
        rows.push(point_row(
            0.0,
            0.0,
            &[&(1000 + i).to_string(), "某药房", "pharmacy"],
        ));
    }
    rows.push(point_row(116.40, 39.90, &["2000", "药房2000", "pharmacy"]));
    rows.push(point_row(121.41, 31.21, &["5", "药房5号", "pharmacy"]));
    write_fgb(
        &dir.path().join("pois.fgb"),
        GeometryType::Point,
        &["id", "name", "category"],
        &rows,
    );
    let toml = format!("[data]\n{NO_CONTEXT_LAYERS}\n[[data.sources]]\nfile = \"pois.fgb\"\n");
    std::fs::write(dir.path().join("lc.toml"), &toml).unwrap();

    // `check` names each reason with its first row (feature index in the file, which a
    // FlatGeobuf writer orders spatially, and id), and exits 1: 22 of 322 is over 5 %.
    let binary = env!("CARGO_BIN_EXE_lifecircle");
    let config_path = dir.path().join("lc.toml");
    let check = std::process::Command::new(binary)
        .args(["--config", config_path.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for fragment in [
        "pois.fgb (facilities, source `pois`): 322 features read, 300 loaded, 22 skipped",
        "skipped 20: at (0, 0)",
        "skipped 1: outside the region",
        ", id `2000`)",
        "skipped 1: duplicate id",
        ", id `5`)",
        "refused: data refused: 22 of 322 facility rows (6.8 %) were skipped",
        "data.max_skipped_share",
    ] {
        assert!(stdout.contains(fragment), "{fragment:?} not in\n{stdout}");
    }
    // The extent is the kept facilities', not stretched to (0, 0) or Beijing.
    let bounds_line = stdout.lines().find(|l| l.starts_with("bounds:")).unwrap();
    assert_eq!(bounds_line, "bounds: 121.40000,31.20000,121.42900,31.20900");

    // Start is refused with the counts; forced, it serves the 30 good rows.
    let config = Config::from_toml_str(&toml, dir.path()).unwrap();
    let err = match AppState::load(config.clone()) {
        Ok(_) => panic!("bad data was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("22 of 322 facility rows"), "{err}");
    assert!(err.contains("--force"), "{err}");
    let state = AppState::load_with(config, true).unwrap();
    assert_eq!(state.snapshot.load().dataset.facilities().len(), 300);
}

#[test]
fn a_reload_losing_facilities_is_refused_and_the_old_data_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pois.fgb");
    let write_n = |n: usize| {
        let rows: Vec<Row> = (0..n)
            .map(|i| {
                let (lon, lat) = (
                    121.40 + (i % 10) as f64 * 0.001,
                    31.21 + (i / 10) as f64 * 0.001,
                );
                point_row(lon, lat, &[&i.to_string(), &format!("超市{i}"), "超市"])
            })
            .collect();
        write_fgb(
            &path,
            GeometryType::Point,
            &["id", "name", "category"],
            &rows,
        );
    };
    write_n(100);
    let token = "a-long-enough-admin-token";
    let toml = format!(
        "[admin]\ntoken = \"{token}\"\n[data]\n{NO_CONTEXT_LAYERS}\n[[data.sources]]\nfile = \"pois.fgb\"\n"
    );
    let server = support::spawn_with(&toml, dir.path());
    let reload = |query: &str| {
        support::client()
            .post(server.url(&format!("/admin/reload{query}")))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    // Half the rows lost: refused, 422 naming the counts; the 100 keep serving.
    write_n(50);
    let response = reload("");
    assert_eq!(response.status(), 422);
    let message = response.text().unwrap();
    assert!(
        message.contains("from 100 to 50") && message.contains("data.max_facility_drop"),
        "{message}"
    );
    assert_eq!(get_json(&server.url("/health"))["n_facilities"], 100);
    assert_eq!(reload("?force=maybe").status(), 400);
    // Forced, it is accepted.
    let response = reload("?force=true");
    assert_eq!(response.status(), 200);
    assert_eq!(get_json(&server.url("/health"))["n_facilities"], 50);
    // A small change needs no force.
    write_n(48);
    assert_eq!(reload("").status(), 200);
    assert_eq!(get_json(&server.url("/health"))["n_facilities"], 48);
}

/// Writes a point Shapefile (`.shp`, `.shx`, `.dbf` in `encoding`, `.cpg` naming it, `.prj`
/// WGS84 as such exports are labelled) with `id`, `name` and `type` text fields.
fn write_point_shapefile(
    path: &Path,
    encoding: &'static encoding_rs::Encoding,
    cpg: &str,
    rows: &[((f64, f64), String, String, String)],
) {
    use dbase::{FieldName, FieldValue, Record, TableWriterBuilder};
    let table = TableWriterBuilder::with_encoding(dbase::encoding::EncodingRs::from(encoding))
        .add_character_field(FieldName::try_from("id").unwrap(), 12)
        .add_character_field(FieldName::try_from("name").unwrap(), 80)
        .add_character_field(FieldName::try_from("type").unwrap(), 120);
    let mut writer = shapefile::Writer::from_path(path, table).unwrap();
    for ((lon, lat), id, name, type_path) in rows {
        let mut record = Record::default();
        for (field, value) in [("id", id), ("name", name), ("type", type_path)] {
            record.insert(field.into(), FieldValue::Character(Some(value.clone())));
        }
        writer
            .write_shape_and_record(&shapefile::Point::new(*lon, *lat), &record)
            .unwrap();
    }
    drop(writer);
    std::fs::write(path.with_extension("cpg"), cpg).unwrap();
    std::fs::write(
        path.with_extension("prj"),
        r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
    )
    .unwrap();
}

/// Writes a GeoPackage with one point table `pois` (`name`, `category`), EPSG:4326 as labelled;
/// geometry blobs written by hand: the GeoPackage header, then little-endian WKB.
fn write_point_gpkg(path: &Path, rows: &[((f64, f64), String, String)]) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "PRAGMA application_id = 1196444487;
         CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
           organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
           definition TEXT NOT NULL, description TEXT);
         INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84', 4326, 'EPSG', 4326, 'wkt', NULL);
         CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL,
           identifier TEXT, description TEXT DEFAULT '', last_change DATETIME,
           min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
         CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
           geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL,
           m TINYINT NOT NULL);
         CREATE TABLE pois (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB, name TEXT,
           category TEXT);
         INSERT INTO gpkg_contents (table_name, data_type, srs_id) VALUES ('pois', 'features', 4326);
         INSERT INTO gpkg_geometry_columns VALUES ('pois', 'geom', 'POINT', 4326, 0, 0);",
    )
    .unwrap();
    for (fid, ((lon, lat), name, category)) in rows.iter().enumerate() {
        let mut blob = b"GP\0\x01".to_vec();
        blob.extend_from_slice(&4326i32.to_le_bytes());
        blob.push(1);
        blob.extend_from_slice(&1u32.to_le_bytes());
        blob.extend_from_slice(&lon.to_le_bytes());
        blob.extend_from_slice(&lat.to_le_bytes());
        db.execute(
            "INSERT INTO pois (fid, geom, name, category) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![fid as i64 + 1, blob, name, category],
        )
        .unwrap();
    }
}

#[test]
fn shapefile_geopackage_and_csv_sources_in_gcj02_and_bd09_land_within_a_metre() {
    let dir = tempfile::tempdir().unwrap();
    let vectors: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| (121.0..122.0).contains(&v.1.0))
        .collect();
    // A bureau list as a Shapefile with a GBK .dbf, exported from an Amap-based system (GCJ-02).
    let shp_rows: Vec<_> = vectors
        .iter()
        .enumerate()
        .map(|(i, (name, _, gcj, _))| {
            (
                *gcj,
                i.to_string(),
                format!("{name} 卫健委"),
                AMAP_TYPES[i].0.to_owned(),
            )
        })
        .collect();
    write_point_shapefile(
        &dir.path().join("bureau.shp"),
        encoding_rs::GBK,
        "GBK",
        &shp_rows,
    );
    // A Baidu export as GeoPackage (BD-09), and as a CSV with lng/lat columns (BD-09).
    let gpkg_rows: Vec<_> = vectors
        .iter()
        .map(|(name, _, _, bd)| (*bd, format!("{name} 百度"), "公园".to_owned()))
        .collect();
    write_point_gpkg(&dir.path().join("baidu.gpkg"), &gpkg_rows);
    let mut csv = String::from("id,name,category,lng,lat\n");
    for (i, (name, _, _, bd)) in vectors.iter().enumerate() {
        csv.push_str(&format!("{i},\"{name} 百度表\",药店,{},{}\n", bd.0, bd.1));
    }
    std::fs::write(dir.path().join("baidu.csv"), csv).unwrap();
    let config = format!(
        r#"
[data]
{NO_CONTEXT_LAYERS}
[[data.sources]]
file = "bureau.shp"
name = "卫健委"
datum = "gcj02"
fields = {{ type = "type" }}

[[data.sources]]
file = "baidu.gpkg"
name = "bdpkg"
datum = "bd09"
fields = {{ id = "fid" }}

[[data.sources]]
file = "baidu.csv"
name = "bdcsv"
datum = "bd09"
"#
    );
    let server = support::spawn_with(&config, dir.path());
    for (i, (name, wgs, _, _)) in vectors.iter().enumerate() {
        for (key, category, expected_name) in [
            (
                format!("卫健委:{i}"),
                AMAP_TYPES[i].2,
                format!("{name} 卫健委"),
            ),
            (format!("bdpkg:{}", i + 1), "park", format!("{name} 百度")),
            (format!("bdcsv:{i}"), "pharmacy", format!("{name} 百度表")),
        ] {
            let feature = get_json(&feature_url(&server, &key));
            let d = haversine_m(feature_position(&feature), *wgs);
            assert!(d < 1.0, "{key} {name}: {d:.3} m from WGS84");
            assert_eq!(feature["properties"]["category"], category, "{key}");
            assert_eq!(feature["properties"]["name"], expected_name, "{key}");
        }
    }
}
