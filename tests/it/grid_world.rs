//! The small world the evaluation and service-load tests build: a square street grid
//! (`N_LINES` streets each way, `SPACING_M` apart) south-west of `ORIGIN`, written as GeoJSON.

use std::io::Write;
use std::path::Path;

use lifecircle::geom;

pub const ORIGIN: (f64, f64) = (121.40, 31.20);
pub const SPACING_M: f64 = 200.0;
pub const N_LINES: usize = 9;
/// Length of the grid's side.
pub const SIDE_M: f64 = SPACING_M * (N_LINES - 1) as f64;

/// lon/lat `x` metres east and `y` north of [`ORIGIN`].
pub fn at(x: f64, y: f64) -> (f64, f64) {
    let (m_lon, m_lat) = geom::metres_per_degree(ORIGIN.1);
    (ORIGIN.0 + x / m_lon, ORIGIN.1 + y / m_lat)
}

pub fn write(path: &Path, text: &str) {
    std::fs::File::create(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Writes the street grid as `roads.geojson` in `dir` (one feature per block side) and the
/// square's two halves as subdistricts 西片 and 东片 in `subdistricts.geojson`.
pub fn write_streets_and_subdistricts(dir: &Path) {
    let line = |a: (f64, f64), b: (f64, f64)| {
        let (a, b) = (at(a.0, a.1), at(b.0, b.1));
        format!(
            r#"{{"type":"Feature","properties":{{"highway":"residential"}},"geometry":{{"type":"LineString","coordinates":[[{},{}],[{},{}]]}}}}"#,
            a.0, a.1, b.0, b.1
        )
    };
    let mut roads = Vec::new();
    for i in 0..N_LINES {
        for j in 0..N_LINES - 1 {
            let (c, s0, s1) = (
                i as f64 * SPACING_M,
                j as f64 * SPACING_M,
                (j + 1) as f64 * SPACING_M,
            );
            roads.push(line((s0, c), (s1, c)));
            roads.push(line((c, s0), (c, s1)));
        }
    }
    write(
        &dir.join("roads.geojson"),
        &format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            roads.join(",")
        ),
    );
    let polygon = |name: &str, x0: f64, x1: f64| {
        let ring: Vec<String> = [(x0, 0.0), (x1, 0.0), (x1, SIDE_M), (x0, SIDE_M), (x0, 0.0)]
            .iter()
            .map(|&(x, y)| {
                let (lon, lat) = at(x, y);
                format!("[{lon},{lat}]")
            })
            .collect();
        format!(
            r#"{{"type":"Feature","properties":{{"name":"{name}"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}"#,
            ring.join(",")
        )
    };
    write(
        &dir.join("subdistricts.geojson"),
        &format!(
            r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
            polygon("西片", 0.0, SIDE_M / 2.0),
            polygon("东片", SIDE_M / 2.0, SIDE_M)
        ),
    );
}
