//! Maps of the evaluation over HTTP, on the street-grid world: the A_i heatmap tiles
//! (`/service-load/{category}/{z}/{x}/{y}.png`) against `/service-load/{category}/places` and
//! the legend's classes, and the small map (`/report/map.png`) against the world's streets and
//! `/coverage/at`. Images are decoded with the `png` crate and read pixel by pixel.
//!
//! The world: the 1.6 km square of streets every 200 m (`grid_world`), a residential place in
//! the middle of every block (200 m apart, so no two share a heatmap cell), elderly care in
//! three corners of it (5-minute threshold: many places out of reach, A_i = 0) and one food
//! market in the south-west corner (10 minutes: the north-east is a blind spot). Distances are
//! straight lines (`coverage.mode = "euclidean"`), so the reach of each facility is a circle and
//! the elderly-care facilities reach several places each, at different distances.

use std::collections::HashMap;
use std::path::Path;

use lifecircle::geom::{self, TileKey};
use rand::{Rng, SeedableRng};

use crate::grid_world::{N_LINES, SPACING_M, at, write, write_streets_and_subdistricts};
use crate::support::{self, TestServer, get, get_json};

/// `(name, category, x, y, floor area)`.
const FACILITIES: [(&str, &str, f64, f64, Option<f64>); 4] = [
    ("华阳养老院", "elderly", 307.0, 303.0, Some(1200.0)),
    ("天山长者照护之家", "elderly", 1310.0, 1290.0, Some(450.0)),
    ("虹桥养老院", "elderly", 95.0, 1410.0, Some(2600.0)),
    ("仙霞菜场", "market", 100.0, 100.0, None),
];

/// Block centres, metres east and north of the origin.
fn block_centres() -> Vec<(f64, f64)> {
    let n = N_LINES - 1;
    (0..n * n)
        .map(|k| {
            let (i, j) = (k % n, k / n);
            ((i as f64 + 0.5) * SPACING_M, (j as f64 + 0.5) * SPACING_M)
        })
        .collect()
}

fn world(dir: &Path) -> TestServer {
    write_streets_and_subdistricts(dir);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(29);
    let features: Vec<String> = block_centres()
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let (lon, lat) = at(x, y);
            format!(
                r#"{{"type":"Feature","properties":{{"name":"小区{i}","population":{}}},"geometry":{{"type":"Point","coordinates":[{lon},{lat}]}}}}"#,
                rng.random_range(50..3000)
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
        let area = area.map_or(String::new(), |a| a.to_string());
        csv.push_str(&format!("f{i},{name},{category},{lon},{lat},{area}\n"));
    }
    write(&dir.join("facilities.csv"), &csv);
    let config = "[data]\nroads = \"roads.geojson\"\nsubdistricts = \"subdistricts.geojson\"\nresidents = \"residents.geojson\"\n\n[[data.sources]]\nfile = \"facilities.csv\"\nname = \"bureau\"\n\n[coverage]\nmode = \"euclidean\"\n\n[service_load]\ndecay = \"linear\"\n";
    support::spawn_with(config, dir)
}

/// A decoded PNG: width, height and RGBA pixels (RGB images get alpha 255).
struct Image {
    width: u32,
    height: u32,
    pixels: Vec<[u8; 4]>,
}

impl Image {
    fn decode(bytes: &[u8]) -> Image {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let data = &buf[..info.buffer_size()];
        let pixels = match info.color_type {
            png::ColorType::Rgba => data
                .chunks_exact(4)
                .map(|p| [p[0], p[1], p[2], p[3]])
                .collect(),
            png::ColorType::Rgb => data
                .chunks_exact(3)
                .map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        Image {
            width: info.width,
            height: info.height,
            pixels,
        }
    }

    fn at(&self, x: u32, y: u32) -> [u8; 4] {
        self.pixels[(y * self.width + x) as usize]
    }
}

fn rgba(v: &serde_json::Value) -> [u8; 4] {
    let a: Vec<u8> = (v.as_array().unwrap().iter())
        .map(|x| x.as_u64().unwrap() as u8)
        .collect();
    [a[0], a[1], a[2], a[3]]
}

/// The legend's colour of an accessibility value, by its breaks (class 0: A_i = 0).
fn class_colour(legend: &serde_json::Value, access: f64) -> [u8; 4] {
    if access <= 0.0 {
        return rgba(&legend["no_access"]["rgba"]);
    }
    let breaks: Vec<f64> = (legend["breaks"].as_array().unwrap().iter())
        .map(|b| b.as_f64().unwrap())
        .collect();
    let class = 1 + breaks.iter().filter(|&&b| b <= access).count();
    let entry = (legend["classes"].as_array().unwrap().iter())
        .find(|c| c["class"] == class)
        .unwrap_or_else(|| panic!("class {class} in {legend}"));
    rgba(&entry["rgba"])
}

#[test]
fn access_tiles_colour_each_place_by_the_class_of_its_a_i() {
    let dir = tempfile::tempdir().unwrap();
    let server = world(dir.path());
    let legend = get_json(&server.url("/service-load/elderly/legend"));
    assert_eq!(legend["breaks_from"], "existing");
    assert_eq!(legend["unit"], "m² of floor area per resident");
    let places = get_json(&server.url("/service-load/elderly/places"));
    let places = places["places"].as_array().unwrap();
    assert_eq!(places.len(), 64);

    let z = 16u8;
    let mut tiles: HashMap<TileKey, Image> = HashMap::new();
    let mut colours_seen = std::collections::HashSet::new();
    for place in places {
        let (lon, lat) = (
            place["lon"].as_f64().unwrap(),
            place["lat"].as_f64().unwrap(),
        );
        let access = place["access"].as_f64().unwrap();
        let merc = geom::lonlat_to_merc(lon, lat);
        let tile = TileKey::containing(merc, z);
        let image = tiles.entry(tile).or_insert_with(|| {
            let response = get(&server.url(&format!(
                "/service-load/elderly/{}/{}/{}.png",
                tile.z, tile.x, tile.y
            )));
            assert_eq!(response.status(), 200, "tile {tile:?}");
            assert_eq!(response.headers()["content-type"], "image/png");
            let image = Image::decode(&response.bytes().unwrap());
            assert_eq!((image.width, image.height), (256, 256));
            image
        });
        let n = f64::from(1u32 << z);
        let px = ((merc.x * n - f64::from(tile.x)) * 256.0) as u32;
        let py = ((merc.y * n - f64::from(tile.y)) * 256.0) as u32;
        let expected = class_colour(&legend, access);
        assert_eq!(
            image.at(px, py),
            expected,
            "place {} (A_i {access}) at pixel {px},{py} of {tile:?}",
            place["name"]
        );
        colours_seen.insert(expected);
    }
    // The world gives blind spots and several classes of served places.
    assert!(
        colours_seen.contains(&rgba(&legend["no_access"]["rgba"])),
        "{colours_seen:?}"
    );
    assert!(colours_seen.len() >= 4, "{colours_seen:?}");

    // The legend as an image: the A_i = 0 swatch, then one swatch per class, opaque.
    assert_eq!(
        legend["png"],
        server.url("/service-load/elderly/legend.png")
    );
    let response = get(&server.url("/service-load/elderly/legend.png"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let image = Image::decode(&response.bytes().unwrap());
    let n_classes = legend["classes"].as_array().unwrap().len() as u32;
    assert_eq!(image.width, 8 + 28 + 8 + n_classes * 48 + 8);
    assert_eq!(
        image.at(8 + 14, 18)[..3],
        rgba(&legend["no_access"]["rgba"])[..3]
    );
    for (k, class) in legend["classes"].as_array().unwrap().iter().enumerate() {
        let x = 8 + 28 + 8 + k as u32 * 48 + 24;
        assert_eq!(image.at(x, 18)[..3], rgba(&class["rgba"])[..3], "{class}");
    }

    // Far from the world, a tile is empty; the same tile again is a 304 by its ETag.
    let far = get(&server.url("/service-load/elderly/16/54000/26000.png"));
    assert_eq!(far.status(), 204);
    let (lon, lat) = at(800.0, 800.0);
    let tile = TileKey::containing(geom::lonlat_to_merc(lon, lat), 15);
    let url = server.url(&format!(
        "/service-load/elderly/15/{}/{}.png",
        tile.x, tile.y
    ));
    let first = get(&url);
    assert_eq!(first.status(), 200);
    assert!(
        first.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = first.headers()["etag"].clone();
    let again = support::client()
        .get(&url)
        .header("If-None-Match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    let planned = get(&format!("{url}?scenario=planned"));
    assert_eq!(planned.status(), 200);

    // TileJSON beside the coverage TileJSON's form, carrying the scenario.
    let tilejson = get_json(&server.url("/service-load/elderly.json"));
    assert_eq!(tilejson["tilejson"], "3.0.0");
    assert_eq!(
        tilejson["tiles"][0],
        server.url("/service-load/elderly/{z}/{x}/{y}.png")
    );
    assert_eq!(tilejson["tileSize"], 256);
    let planned = get_json(&server.url("/service-load/elderly.json?scenario=planned"));
    assert_eq!(
        planned["tiles"][0],
        server.url("/service-load/elderly/{z}/{x}/{y}.png?scenario=planned")
    );
    assert_eq!(
        planned["service_load"]["legend"],
        server.url("/service-load/elderly/legend?scenario=planned")
    );
    // The summary route under the same segment still answers.
    let summary = get_json(&server.url("/service-load/elderly"));
    assert_eq!(summary["category"], "elderly");

    for (query, fragment) in [
        ("/service-load/zoo/15/0/0.png", "unknown category `zoo`"),
        ("/service-load/elderly/15/0/0.mvt", "png"),
        (
            "/service-load/elderly/15/0/0.png?scenario=someday",
            "scenario",
        ),
        (
            "/service-load/elderly/15/0/0.png?profile=elderly",
            "unknown parameter `profile`",
        ),
        ("/service-load/zoo.json", "unknown category `zoo`"),
        (
            "/service-load/elderly.json?below=3",
            "unknown parameter `below`",
        ),
        ("/service-load/elderly/legend?scenario=x", "scenario"),
        ("/service-load/zoo/legend", "unknown category `zoo`"),
        ("/service-load/zoo/legend.png", "unknown category `zoo`"),
    ] {
        let response = get(&server.url(query));
        assert_eq!(response.status(), 400, "{query}");
        let body = response.text().unwrap();
        assert!(body.contains(fragment), "{query}: {body}");
    }
}

/// Pixel of a lon/lat on a small map whose edges are `bounds`, and the fractional position.
fn map_pixel(bounds: [f64; 4], image: &Image, lon: f64, lat: f64) -> (f64, f64) {
    let top_left = geom::lonlat_to_merc(bounds[0], bounds[3]);
    let bottom_right = geom::lonlat_to_merc(bounds[2], bounds[1]);
    let p = geom::lonlat_to_merc(lon, lat);
    (
        (p.x - top_left.x) / (bottom_right.x - top_left.x) * f64::from(image.width),
        (p.y - top_left.y) / (bottom_right.y - top_left.y) * f64::from(image.height),
    )
}

fn small_map(server: &TestServer, query: &str) -> (Image, [f64; 4]) {
    let response = get(&server.url(&format!("/report/map.png?{query}")));
    assert_eq!(response.status(), 200, "{query}");
    assert_eq!(response.headers()["content-type"], "image/png");
    let bounds: Vec<f64> = (response.headers()["x-map-bounds"].to_str().unwrap())
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let image = Image::decode(&response.bytes().unwrap());
    (image, [bounds[0], bounds[1], bounds[2], bounds[3]])
}

#[test]
fn small_map_draws_streets_blind_spots_and_classes_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let server = world(dir.path());
    let blind_spot =
        rgba(&get_json(&server.url("/service-load/market/legend"))["no_access"]["rgba"]);
    let (image, bounds) = small_map(&server, "category=market&width=800&height=700");
    assert_eq!((image.width, image.height), (800, 700));

    // Streets: on the east-west street 600 m north and the north-south street 400 m east,
    // half-way between crossings, the pixel on the street's centre line is street grey; the
    // block's middle is not.
    let grey = |p: [u8; 4]| p[..3].iter().all(|&c| c.abs_diff(0x80) <= 3);
    for (x, y, along_x) in [
        (100.0, 600.0, true),
        (300.0, 600.0, true),
        (500.0, 600.0, true),
        (400.0, 100.0, false),
        (400.0, 1100.0, false),
    ] {
        let (lon, lat) = at(x, y);
        let (px, py) = map_pixel(bounds, &image, lon, lat);
        let (px, py) = if along_x {
            (px as u32, py.floor() as u32)
        } else {
            (px.floor() as u32, py as u32)
        };
        assert!(
            grey(image.at(px, py)),
            "street at {x},{y}: pixel {px},{py} is {:?}",
            image.at(px, py)
        );
    }

    // Blind spots where /coverage/at says the market is out of reach, not where it is within.
    let (mut blind, mut covered) = (0, 0);
    for (x, y) in block_centres() {
        let (lon, lat) = at(x, y);
        let report = get_json(&server.url(&format!("/coverage/at?lon={lon}&lat={lat}")));
        let market = (report["categories"].as_array().unwrap().iter())
            .find(|c| c["category"] == "market")
            .unwrap();
        let (minutes, walk_min) = (
            market["minutes"].as_f64(),
            market["walk_min"].as_f64().unwrap(),
        );
        if minutes.is_some_and(|m| (m - walk_min).abs() < 1.5) {
            continue; // too near the threshold for a cell-sized grid to decide
        }
        let (px, py) = map_pixel(bounds, &image, lon, lat);
        let pixel = image.at(px as u32, py as u32);
        assert!(!grey(pixel), "block centre {x},{y} is not a street");
        if market["within"] == true {
            covered += 1;
            assert_ne!(pixel[..3], blind_spot[..3], "{x},{y} is within reach");
        } else {
            blind += 1;
            assert_eq!(
                pixel[..3],
                blind_spot[..3],
                "{x},{y} is out of reach: {market}"
            );
        }
    }
    assert!(
        blind >= 10 && covered >= 5,
        "{blind} blind, {covered} covered"
    );

    // The accessibility layer: each place's pixel in the colour of its A_i class, opaque.
    let legend = get_json(&server.url("/service-load/elderly/legend"));
    let places = get_json(&server.url("/service-load/elderly/places"));
    let (image, bounds) = small_map(
        &server,
        "category=elderly&layer=access&width=600&height=600",
    );
    assert_eq!((image.width, image.height), (600, 600));
    for place in places["places"].as_array().unwrap() {
        let (lon, lat) = (
            place["lon"].as_f64().unwrap(),
            place["lat"].as_f64().unwrap(),
        );
        let (px, py) = map_pixel(bounds, &image, lon, lat);
        let expected = class_colour(&legend, place["access"].as_f64().unwrap());
        assert_eq!(
            image.at(px as u32, py as u32)[..3],
            expected[..3],
            "{place}"
        );
    }

    // One subdistrict: the map shows the east half; defaults 480 × 320; ETag and 304.
    let url = server.url("/report/map.png?category=market&subdistrict=%E4%B8%9C%E7%89%87");
    let (east, east_bounds) = small_map(&server, "category=market&subdistrict=%E4%B8%9C%E7%89%87");
    assert_eq!((east.width, east.height), (480, 320));
    // Centred on the east half (x from 800 to 1600 m), where the district map is centred on
    // the whole square.
    let centre = |b: [f64; 4]| (b[0] + b[2]) / 2.0;
    assert!(
        (centre(east_bounds) - at(1200.0, 0.0).0).abs() < 1e-5,
        "{east_bounds:?}"
    );
    assert!(
        (centre(bounds) - at(800.0, 0.0).0).abs() < 1e-5,
        "{bounds:?}"
    );
    let first = get(&url);
    let etag = first.headers()["etag"].clone();
    let again = support::client()
        .get(&url)
        .header("If-None-Match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);

    for (query, fragment) in [
        ("width=300", "parameter `category` is required"),
        ("category=zoo", "unknown category `zoo`"),
        ("category=market&scenario=someday", "parameter `scenario`"),
        (
            "category=market&width=5000",
            "parameter `width` must be a whole number of pixels from 16 to 2000, not 5000",
        ),
        ("category=market&height=tall", "parameter `height`"),
        (
            "category=market&layer=relief",
            "parameter `layer` must be coverage or access, not `relief`",
        ),
        (
            "category=market&subdistrict=%E5%8D%97%E7%89%87",
            "unknown subdistrict `南片`; known subdistricts: 西片, 东片",
        ),
        ("category=market&zoom=3", "unknown parameter `zoom`"),
    ] {
        let response = get(&server.url(&format!("/report/map.png?{query}")));
        assert_eq!(response.status(), 400, "{query}");
        let body = response.text().unwrap();
        assert!(body.contains(fragment), "{query}: {body}");
    }
}

/// A client finds the evaluation's routes from `/catalog` alone: every template it lists, filled
/// in, answers.
#[test]
fn catalog_lists_the_service_load_and_report_routes() {
    let dir = tempfile::tempdir().unwrap();
    let server = world(dir.path());
    let catalog = get_json(&server.url("/catalog"));
    let entry = &catalog["service_load"];
    let categories: Vec<&str> = entry["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(categories.contains(&"elderly"), "{entry}");
    let fill = |key: &str| {
        entry[key]
            .as_str()
            .unwrap()
            .replace("{category}", "elderly")
    };
    let tilejson = get_json(&fill("tilejson"));
    assert_eq!(tilejson["tiles"][0].as_str().unwrap(), fill("tiles"));
    for key in ["summary", "facilities", "places", "legend"] {
        assert_eq!(get(&fill(key)).status(), 200, "{key}: {}", fill(key));
    }
    // Listed: the categories with facilities, whose 2SFCA has something to compute.
    for category in catalog["categories"].as_array().unwrap() {
        let listed = categories.contains(&category["id"].as_str().unwrap());
        let has_facilities = category["n_facilities"].as_u64().unwrap() > 0;
        assert_eq!(listed, has_facilities, "{category}");
    }

    let evaluation = &catalog["evaluation"];
    let url = |key: &str| evaluation[key].as_str().unwrap().to_owned();
    for key in ["baselines", "report_json", "report_xlsx"] {
        assert_eq!(get(&url(key)).status(), 200, "{key}: {}", url(key));
    }
    let report = url("report").replace("{zh|en}", "en");
    assert_eq!(get(&report).status(), 200, "{report}");
    let table = url("report_table")
        .replace("{table}", "coverage")
        .replace("{csv|xlsx}", "csv");
    assert_eq!(get(&table).status(), 200, "{table}");
    let map = url("small_map")
        .replace("{id}", "elderly")
        .replace("{coverage|access}", "access");
    let response = get(&map);
    assert_eq!(response.status(), 200, "{map}");
    assert_eq!(response.headers()["content-type"], "image/png");
}
