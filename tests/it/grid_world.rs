//! The small world the evaluation and service-load tests build: a square street grid
//! (`N_LINES` streets each way, `SPACING_M` apart) south-west of `ORIGIN`, written as GeoJSON.

use std::io::Write;
use std::path::Path;

use lifecircle::geom;

pub const ORIGIN: (f64, f64) = (121.40, 31.20);
pub const SPACING_M: f64 = 200.0;
pub const N_LINES: usize = 9;

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

/// Writes the street grid as `roads.geojson` in `dir`: one feature per block side.
pub fn write_streets(dir: &Path) {
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
}
