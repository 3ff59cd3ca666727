//! Street classes come from `[basemap.road_classes]`: a class added in the configuration puts its
//! streets into basemap tiles from its zoom and into the served style's road layers.

use lifecircle::config::Config;
use lifecircle::geom::{self, TileKey};
use serde_json::Value;

use crate::support::{self, TestServer, get, get_json};

/// The `highway` values of the roads in a basemap tile.
fn highways_in_tile(server: &TestServer, key: TileKey) -> Vec<String> {
    let url = server.url(&format!("/tiles/basemap/{}/{}/{}.mvt", key.z, key.x, key.y));
    let response = get(&url);
    assert_eq!(response.status(), 200, "{url}");
    let reader = mvt_reader::Reader::new(response.bytes().unwrap().to_vec()).unwrap();
    let Some(roads) = reader
        .get_layer_names()
        .unwrap()
        .iter()
        .position(|n| n == "roads")
    else {
        return Vec::new();
    };
    (reader.get_features(roads).unwrap().into_iter())
        .filter_map(|feature| match feature.properties?.get("highway")? {
            mvt_reader::feature::Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn style_layer(style: &Value, id: &str) -> Value {
    (style["layers"].as_array().unwrap().iter())
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("style layer {id}"))
        .clone()
}

#[test]
fn a_configured_class_shows_in_tiles_and_style() {
    let plain = support::sample();
    // The most common street value that the default draws only from zoom 13 ("*").
    let defaults = Config::embedded().unwrap().basemap.roads;
    let dataset = plain.state.snapshot.load().dataset.clone();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for road in &dataset.roads {
        if defaults.minzoom(&road.highway) == 13 {
            *counts.entry(&*road.highway).or_default() += 1;
        }
    }
    let (value, _) = counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("streets drawn from z13");

    let [lon, lat] = dataset.center();
    let z11 = TileKey::containing(geom::lonlat_to_merc(lon, lat), 11);
    assert!(
        !highways_in_tile(&plain, z11).iter().any(|h| h == value),
        "by default `{value}` is not in z11 tiles"
    );

    let configured = support::spawn(&format!(
        "[basemap.road_classes.neighbourhood]\nhighways = [\"{value}\"]\nminzoom = 10\n\
         layer = \"major\"\ncolor = \"#aa3377\"\n"
    ));
    let highways = highways_in_tile(&configured, z11);
    assert!(
        highways.iter().any(|h| h == value),
        "`{value}` at z11: {highways:?}"
    );
    // The default classes stay: footways still wait for zoom 14.
    assert!(!highways.iter().any(|h| h == "footway"), "{highways:?}");

    let style = get_json(&configured.url("/styles/lifecircle.json"));
    let major = style_layer(&style, "roads-major");
    let in_major = major["filter"][2][1].as_array().unwrap();
    assert!(in_major.contains(&value.into()), "{major}");
    assert!(in_major.contains(&"motorway".into()), "{major}");
    let colours = major["paint"]["line-color"].to_string();
    assert!(
        colours.contains(&format!("[\"{value}\"],\"#aa3377\"")),
        "{colours}"
    );
    // The minor layer draws every other value, so not this one.
    let minor = style_layer(&style, "roads-minor");
    assert_eq!(minor["filter"][0], "!");
    assert!(
        minor["filter"][1][2][1]
            .as_array()
            .unwrap()
            .contains(&value.into()),
        "{minor}"
    );

    // The default style is what the bundled file drew before the classes moved to the config.
    let plain_style = get_json(&plain.url("/styles/lifecircle.json"));
    let major = style_layer(&plain_style, "roads-major");
    let mut listed: Vec<&str> = (major["filter"][2][1].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap())
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ["motorway", "primary", "secondary", "trunk"]);
}
