//! Facility tiles over HTTP against the bundled sample: content checked against the FlatGeobuf
//! source read independently, decoded with decoders this project did not write (`mvt-reader`,
//! and `@mapbox/vector-tile` through node), plus the HTTP conventions of the contract.

use std::collections::HashMap;

use lifecircle::geom::{self, TileKey};
use lifecircle::state::tiles_covering;

use crate::support::{self, get, get_json};

/// A facility as the source file states it, with its category resolved by the taxonomy.
struct SourceFacility {
    id: u64,
    name: String,
    category_color: String,
    category_id: String,
    lon: f64,
    lat: f64,
}

fn tile_of(lon: f64, lat: f64, z: u8) -> TileKey {
    TileKey::containing(geom::lonlat_to_merc(lon, lat), z)
}

fn source_facilities(server: &support::TestServer) -> Vec<SourceFacility> {
    let taxonomy = server.state.config.taxonomy().unwrap();
    support::sample_source_facilities()
        .into_iter()
        .map(|f| {
            // The category rules read the category value and, last, the name.
            let field = |name: &str| match name {
                "category" => Some(f.raw_category.as_str()),
                "name" => Some(f.name.as_str()),
                _ => None,
            };
            let category = taxonomy.category(
                taxonomy
                    .classify_record(&field)
                    .map_or(taxonomy.fallback(), |(c, _)| c),
            );
            SourceFacility {
                id: f.id,
                name: f.name,
                category_color: category.color.clone(),
                category_id: category.id.clone(),
                lon: f.lon,
                lat: f.lat,
            }
        })
        .collect()
}

/// A decoded feature: id, position in tile units, string properties, point_count (1 for a
/// single facility).
pub(crate) struct Decoded {
    pub id: u64,
    pub x: f32,
    pub y: f32,
    pub props: HashMap<String, String>,
    pub point_count: u64,
}

impl Decoded {
    pub fn inside(&self) -> bool {
        (0.0..4096.0).contains(&self.x) && (0.0..4096.0).contains(&self.y)
    }
}

pub(crate) fn fetch_tile(server: &support::TestServer, key: TileKey, query: &str) -> Vec<Decoded> {
    let url = server.url(&format!(
        "/tiles/facilities/{}/{}/{}.mvt{query}",
        key.z, key.x, key.y
    ));
    let response = get(&url);
    match response.status().as_u16() {
        204 => return vec![],
        200 => {}
        other => panic!("GET {url}: {other}"),
    }
    let reader = mvt_reader::Reader::new(response.bytes().unwrap().to_vec()).unwrap();
    let layers = reader.get_layer_metadata().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].name, "facilities");
    assert_eq!(layers[0].extent, 4096);
    reader
        .get_features(0)
        .unwrap()
        .into_iter()
        .map(|f| {
            let geo::Geometry::MultiPoint(mp) = f.get_geometry() else {
                panic!("facility tiles hold points")
            };
            let mut props = HashMap::new();
            let mut point_count = 1;
            for (k, v) in f.properties.clone().unwrap_or_default() {
                let text = match v {
                    mvt_reader::feature::Value::String(s) => s,
                    mvt_reader::feature::Value::UInt(n) => {
                        if k == "point_count" {
                            point_count = n;
                        }
                        n.to_string()
                    }
                    other => format!("{other:?}"),
                };
                props.insert(k, text);
            }
            Decoded {
                id: f.id.unwrap(),
                x: mp.0[0].x(),
                y: mp.0[0].y(),
                props,
                point_count,
            }
        })
        .collect()
}

#[test]
fn max_zoom_tiles_hold_every_facility_once_with_source_attributes() {
    let server = support::sample();
    let source = source_facilities(&server);
    assert!(
        source.len() > 1000,
        "sample has {} facilities",
        source.len()
    );
    let maxzoom = server.state.config.tiles.maxzoom;
    let bounds = server.state.snapshot.load().dataset.bounds;
    let mut seen: HashMap<u64, TileKey> = HashMap::new();
    for key in tiles_covering(bounds, maxzoom, maxzoom) {
        for feature in fetch_tile(&server, key, "")
            .into_iter()
            .filter(Decoded::inside)
        {
            assert_eq!(
                feature.point_count, 1,
                "no clusters at maxzoom in the sample"
            );
            if let Some(previous) = seen.insert(feature.id, key) {
                panic!("facility {} in tiles {previous} and {key}", feature.id);
            }
            let src = source
                .iter()
                .find(|s| s.id == feature.id)
                .expect("tile feature exists in the source");
            assert_eq!(feature.props["name"], src.name);
            assert_eq!(feature.props["category"], src.category_id);
            assert_eq!(feature.props["color"], src.category_color);
            assert_eq!(feature.props["id"], src.id.to_string());
            assert_eq!(
                tile_of(src.lon, src.lat, maxzoom),
                key,
                "facility {} in the wrong tile",
                src.id
            );
        }
    }
    assert_eq!(
        seen.len(),
        source.len(),
        "every facility appears at maxzoom"
    );
}

#[test]
fn cluster_counts_add_up_at_low_zoom() {
    let server = support::sample();
    let source = source_facilities(&server);
    let bounds = server.state.snapshot.load().dataset.bounds;
    for z in [3u8, 9, 11, 13] {
        let mut total = 0;
        for key in tiles_covering(bounds, z, z) {
            let features = fetch_tile(&server, key, "");
            let in_tile: u64 = features
                .iter()
                .filter(|f| f.inside())
                .map(|f| f.point_count)
                .sum();
            let expected = source
                .iter()
                .filter(|s| tile_of(s.lon, s.lat, z) == key)
                .count() as u64;
            assert_eq!(in_tile, expected, "tile {key}");
            for cluster in features.iter().filter(|f| f.point_count > 1) {
                assert_eq!(cluster.props["cluster"], "Bool(true)");
                let per_category: u64 = cluster
                    .props
                    .iter()
                    .filter(|(k, _)| k.starts_with("n_"))
                    .map(|(_, v)| v.parse::<u64>().unwrap())
                    .sum();
                assert_eq!(
                    per_category, cluster.point_count,
                    "per-category counts of a cluster in {key}"
                );
            }
            total += in_tile;
        }
        assert_eq!(total, source.len() as u64, "zoom {z}");
    }
}

#[test]
fn category_filter_keeps_only_those_categories() {
    let server = support::sample();
    let source = source_facilities(&server);
    let z = 14;
    let bounds = server.state.snapshot.load().dataset.bounds;
    let mut n_seen = 0;
    for key in tiles_covering(bounds, z, z) {
        for f in fetch_tile(&server, key, "?categories=medical,kindergarten")
            .iter()
            .filter(|f| f.inside())
        {
            assert!(
                ["medical", "kindergarten"].contains(&f.props["category"].as_str())
                    || f.point_count > 1
            );
            n_seen += f.point_count;
        }
    }
    let expected = source
        .iter()
        .filter(|s| s.category_id == "medical" || s.category_id == "kindergarten")
        .count();
    assert_eq!(n_seen as usize, expected);
}

#[test]
fn overzoomed_tiles_still_answer() {
    let server = support::sample();
    let dataset = server.state.snapshot.load().dataset.clone();
    let f = &dataset.facilities()[0];
    let key = tile_of(f.lon, f.lat, 20);
    let features = fetch_tile(&server, key, "");
    assert!(
        features.iter().any(|d| d.id == f.id),
        "facility {} in its z20 tile",
        f.id
    );
}

#[test]
fn tilejson_describes_the_source() {
    let server = support::sample();
    let tilejson = get_json(&server.url("/tiles/facilities.json"));
    assert_eq!(tilejson["tilejson"], "3.0.0");
    assert_eq!(
        tilejson["tiles"][0],
        server.url("/tiles/facilities/{z}/{x}/{y}.mvt")
    );
    assert_eq!(tilejson["minzoom"], 0);
    assert_eq!(tilejson["maxzoom"], 16);
    let bounds: Vec<f64> = serde_json::from_value(tilejson["bounds"].clone()).unwrap();
    assert!(
        bounds[0] > 121.2 && bounds[2] < 121.6 && bounds[1] > 31.0 && bounds[3] < 31.4,
        "{bounds:?}"
    );
    let layer = &tilejson["vector_layers"][0];
    assert_eq!(layer["id"], "facilities");
    for field in ["id", "name", "category", "color", "group", "point_count"] {
        assert!(
            layer["fields"][field].is_string(),
            "field {field} described"
        );
    }
    let filtered = get_json(&server.url("/tiles/facilities.json?categories=park,medical"));
    assert_eq!(
        filtered["tiles"][0],
        server.url("/tiles/facilities/{z}/{x}/{y}.mvt?categories=medical,park")
    );
    // A configured public URL wins over the Host header.
    let proxied = support::spawn("[server]\npublic_url = \"https://tiles.example.org/lc/\"\n");
    let tilejson = get_json(&proxied.url("/tiles/facilities.json"));
    assert_eq!(
        tilejson["tiles"][0],
        "https://tiles.example.org/lc/tiles/facilities/{z}/{x}/{y}.mvt"
    );
}

#[test]
fn http_conventions_gzip_etag_cors_empty() {
    let server = support::sample();
    let dataset = server.state.snapshot.load().dataset.clone();
    let f = &dataset.facilities()[0];
    let key = tile_of(f.lon, f.lat, 14);
    let url = server.url(&format!(
        "/tiles/facilities/{}/{}/{}.pbf",
        key.z, key.x, key.y
    ));
    let client = support::client();

    let plain = client
        .get(&url)
        .header("Origin", "https://app.example")
        .send()
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
    assert_eq!(plain.headers()["access-control-allow-origin"], "*");
    assert!(
        plain.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );
    assert!(
        plain.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert!(plain.headers().get("content-encoding").is_none());
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let raw = plain.bytes().unwrap();

    let gz = client
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let gz_etag = gz.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gz_etag, etag, "each representation has its own strong ETag");
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz.bytes().unwrap()[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, raw);

    let not_modified = client
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.bytes().unwrap().is_empty());
    let modified = client
        .get(&url)
        .header("If-None-Match", "\"0000\"")
        .send()
        .unwrap();
    assert_eq!(modified.status(), 200);

    // In range but empty (the open sea east of Shanghai): 204.
    let sea = tile_of(123.5, 31.0, 12);
    let empty = client
        .get(server.url(&format!(
            "/tiles/facilities/{}/{}/{}.mvt",
            sea.z, sea.x, sea.y
        )))
        .header("Origin", "https://app.example")
        .send()
        .unwrap();
    assert_eq!(empty.status(), 204);
    assert_eq!(empty.headers()["access-control-allow-origin"], "*");
}

/// A cached default tile is answered in front of the layer stack; a request with a query
/// (`?status=existing` names the same tile) goes through the stack. Both answers are the same,
/// header for header, for gzip and plain bodies, 304 and 204, with and without `Origin`, and
/// each counts in the metrics and as a cache hit.
#[test]
fn cached_tile_answers_match_the_stack() {
    let server = support::sample();
    let dataset = server.state.snapshot.load().dataset.clone();
    let f = &dataset.facilities()[0];
    let key = tile_of(f.lon, f.lat, 15);
    let sea = tile_of(123.5, 31.0, 12);
    let client = support::client();
    let metric = |name: &str| -> f64 {
        let text = get(&server.url("/metrics")).text().unwrap();
        text.lines()
            .filter(|l| l.starts_with(name))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let answer = |url: &str, headers: &[(&str, &str)]| {
        let mut request = client.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().unwrap();
        let status = response.status();
        let mut seen: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str() != "date")
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        seen.sort();
        (status, seen, response.bytes().unwrap())
    };
    for (tile, ext) in [(key, "mvt"), (key, "pbf"), (sea, "mvt")] {
        let path = format!("/tiles/facilities/{}/{}/{}.{ext}", tile.z, tile.x, tile.y);
        let cached = server.url(&path);
        let through_stack = server.url(&format!("{path}?status=existing"));
        // The first request renders the tile (through the stack) and caches it.
        let first = answer(&cached, &[("Accept-Encoding", "gzip")]);
        let etag = first
            .1
            .iter()
            .find(|(name, _)| name == "etag")
            .map(|(_, value)| value.clone());
        let mut variants = vec![
            vec![("Accept-Encoding", "gzip")],
            vec![
                ("Accept-Encoding", "gzip"),
                ("Origin", "https://app.example"),
            ],
            vec![],
        ];
        if let Some(etag) = &etag {
            variants.push(vec![
                ("Accept-Encoding", "gzip"),
                ("If-None-Match", etag.as_str()),
            ]);
        }
        for headers in &variants {
            let hits = metric("lifecircle_tile_cache_hits_total");
            let counted =
                metric("lifecircle_http_requests_total{route=\"/tiles/{source}/{z}/{x}/{y}\"");
            let a = answer(&cached, headers);
            assert_eq!(
                metric("lifecircle_tile_cache_hits_total"),
                hits + 1.0,
                "{path} {headers:?}"
            );
            assert_eq!(
                metric("lifecircle_http_requests_total{route=\"/tiles/{source}/{z}/{x}/{y}\""),
                counted + 1.0,
                "{path} {headers:?}"
            );
            let b = answer(&through_stack, headers);
            assert_eq!(a, b, "{path} {headers:?}");
        }
    }
}

#[test]
fn bad_tile_addresses_get_clear_errors() {
    let server = support::sample();
    for (path, status, fragment) in [
        ("/tiles/facilities/abc/0/0.mvt", 400, "tile z `abc`"),
        ("/tiles/facilities/1/-1/0.mvt", 400, "tile x `-1`"),
        (
            "/tiles/facilities/1/0/99999999999.mvt",
            400,
            "tile y `99999999999`",
        ),
        (
            "/tiles/facilities/1/0/0.png",
            400,
            "unsupported tile format `.png`",
        ),
        ("/tiles/facilities/1/0/0", 400, "lacks an extension"),
        (
            "/tiles/facilities/1/2/0.mvt",
            404,
            "tile 1/2/0 does not exist",
        ),
        (
            "/tiles/facilities/23/0/0.mvt",
            404,
            "zoom 23 is out of range",
        ),
        ("/tiles/roads/1/0/0.mvt", 404, "unknown tile source `roads`"),
        (
            "/tiles/facilities/1/0/0.mvt?categories=zoo",
            400,
            "unknown category `zoo`",
        ),
        ("/tiles/nope.json", 404, "unknown tile source `nope`"),
        ("/tiles/facilities/1/0", 404, "no route"),
        ("/styles/nope.json", 404, "unknown style `nope`"),
    ] {
        let response = support::client()
            .get(server.url(path))
            .header("Origin", "https://x.example")
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "CORS on errors too: {path}"
        );
        let body: serde_json::Value = response.json().unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains(fragment),
            "{path}: {message:?} lacks {fragment:?}"
        );
        assert!(!message.contains('\n'));
    }
}

#[test]
fn catalog_style_and_health() {
    let server = support::sample();
    let catalog = get_json(&server.url("/catalog"));
    let categories = catalog["categories"].as_array().unwrap();
    assert!(
        categories
            .iter()
            .any(|c| c["id"] == "kindergarten" && c["label_zh"] == "幼儿园与托育")
    );
    let total: u64 = categories
        .iter()
        .map(|c| c["n_facilities"].as_u64().unwrap())
        .sum();
    assert_eq!(
        total as usize,
        server.state.snapshot.load().dataset.facilities().len()
    );
    assert_eq!(catalog["groups"].as_array().unwrap().len(), 5);

    let style = get_json(&server.url("/styles/lifecircle.json"));
    assert_eq!(style["version"], 8);
    assert_eq!(
        style["sources"]["facilities"]["url"],
        server.url("/tiles/facilities.json")
    );
    assert!(!style.to_string().contains("{base_url}"));
    // Clusters are one neutral colour (the page rings them with their category mix); the tiles
    // still carry the dominant category's `color`, which the style uses for the outline.
    let clusters = style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "facility-clusters")
        .unwrap();
    assert!(clusters["paint"]["circle-color"].is_string(), "{clusters}");
    // The MapLibre style validator runs in tests/browser (node).

    let health = get_json(&server.url("/health"));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["data_version"], 1);
    let metrics = get(&server.url("/metrics")).text().unwrap();
    assert!(metrics.contains("lifecircle_facilities "), "{metrics}");
    assert!(
        metrics.contains("lifecircle_http_requests_total{route=\"/health\",status=\"200\"} 1"),
        "{metrics}"
    );
}

#[test]
fn basemap_tiles_hold_clipped_streets_and_areas() {
    let server = support::sample();
    let tilejson = get_json(&server.url("/tiles/basemap.json"));
    let layer_ids: Vec<&str> = tilejson["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(layer_ids, ["subdistricts", "boundaries", "roads", "labels"]);
    let dataset = server.state.snapshot.load().dataset.clone();
    let [lon, lat] = dataset.center();
    let key = tile_of(lon, lat, 14);
    let url = server.url(&format!("/tiles/basemap/{}/{}/{}.mvt", key.z, key.x, key.y));
    let response = get(&url);
    assert_eq!(response.status(), 200);
    let reader = mvt_reader::Reader::new(response.bytes().unwrap().to_vec()).unwrap();
    let names: Vec<String> = reader.get_layer_names().unwrap();
    assert!(
        names.contains(&"roads".to_owned()) && names.contains(&"subdistricts".to_owned()),
        "{names:?}"
    );
    let buffer = 64.0;
    for (idx, name) in names.iter().enumerate() {
        for feature in reader.get_features(idx).unwrap() {
            let mut coords = Vec::new();
            match &feature.get_geometry() {
                geo::Geometry::LineString(l) => coords.extend(l.0.iter().copied()),
                geo::Geometry::MultiLineString(ml) => {
                    coords.extend(ml.0.iter().flat_map(|l| l.0.iter().copied()))
                }
                geo::Geometry::Polygon(polygon) => {
                    assert!(
                        geo::Area::signed_area(polygon).abs() > 0.0,
                        "{name}: degenerate polygon"
                    );
                    coords.extend(polygon.exterior().0.iter().copied());
                }
                geo::Geometry::MultiPolygon(mp) => {
                    for polygon in &mp.0 {
                        assert!(
                            geo::Area::signed_area(polygon).abs() > 0.0,
                            "{name}: degenerate polygon"
                        );
                        coords.extend(polygon.exterior().0.iter().copied());
                    }
                }
                geo::Geometry::Point(p) => coords.push(p.0),
                geo::Geometry::MultiPoint(mp) => coords.extend(mp.0.iter().map(|p| p.0)),
                other => panic!("{name}: unexpected geometry {other:?}"),
            }
            for c in coords {
                assert!(
                    (-buffer..=4096.0 + buffer).contains(&c.x)
                        && (-buffer..=4096.0 + buffer).contains(&c.y),
                    "{name}: vertex {c:?} outside the tile buffer"
                );
            }
        }
    }
    // Footways appear only from zoom 14.
    let low = tile_of(lon, lat, 11);
    let low_tile = get(&server.url(&format!("/tiles/basemap/{}/{}/{}.mvt", low.z, low.x, low.y)));
    let reader = mvt_reader::Reader::new(low_tile.bytes().unwrap().to_vec()).unwrap();
    let roads_idx = reader
        .get_layer_names()
        .unwrap()
        .iter()
        .position(|n| n == "roads")
        .unwrap();
    for feature in reader.get_features(roads_idx).unwrap() {
        let props = feature.properties.unwrap();
        let Some(mvt_reader::feature::Value::String(class)) = props.get("highway") else {
            panic!("roads have a class")
        };
        assert!(
            ["motorway", "trunk", "primary", "secondary"].contains(&class.as_str()),
            "{class} at z11"
        );
    }
}

#[test]
fn gcj02_tiles_line_up_with_gcj02_basemaps() {
    let server = support::sample();
    let dataset = server.state.snapshot.load().dataset.clone();
    let z = 16u8;
    for f in dataset.facilities().iter().step_by(397) {
        let (gcj_lon, gcj_lat) = lifecircle::geom::datum::wgs84_to_gcj02(f.lon, f.lat);
        // In Shanghai the GCJ-02 offset is hundreds of metres: a different place on the map.
        assert!(geom::haversine_m((f.lon, f.lat), (gcj_lon, gcj_lat)) > 300.0);
        let merc = geom::lonlat_to_merc(gcj_lon, gcj_lat);
        let key = TileKey::containing(merc, z);
        let world_units = f64::from(1u32 << z) * 4096.0;
        let expected = (
            (merc.x * world_units).floor() - f64::from(key.x) * 4096.0,
            (merc.y * world_units).floor() - f64::from(key.y) * 4096.0,
        );
        let features = fetch_tile(&server, key, "?crs=gcj02");
        let found = features
            .iter()
            .find(|d| d.id == f.id)
            .unwrap_or_else(|| panic!("facility {} in its GCJ-02 tile {key}", f.id));
        assert_eq!(
            (f64::from(found.x), f64::from(found.y)),
            expected,
            "facility {}",
            f.id
        );
    }
    let tilejson = get_json(&server.url("/tiles/facilities.json?crs=GCJ02&categories=park"));
    assert_eq!(
        tilejson["tiles"][0],
        server.url("/tiles/facilities/{z}/{x}/{y}.mvt?categories=park&crs=gcj02")
    );
    let bad = get(&server.url("/tiles/facilities/1/0/0.mvt?crs=bd09"));
    assert_eq!(bad.status(), 400);
    assert!(
        bad.text()
            .unwrap()
            .contains("unknown crs `bd09`; use one of: wgs84, gcj02")
    );
}
