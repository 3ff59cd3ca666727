//! Geodetic datums of Chinese map data: WGS84 ↔ GCJ-02 ↔ BD-09, degrees `(lon, lat)` in and out.
//!
//! Chinese basemaps are not WGS84. Inside mainland China, Amap, Tencent and Apple Maps (whose
//! Chinese map data is Amap's) use GCJ-02, and Baidu uses BD-09, an offset of GCJ-02; data
//! exported from those apps is in their datum even when labelled EPSG:4326. The forward
//! conversions are the public WGS84 → GCJ-02 formulas (Krasovsky ellipsoid) and GCJ-02 →
//! BD-09; outside mainland China (including Hong Kong, Macau and Taiwan) no conversion is made.
//! Mainland China is approximated by a handful of rectangles minus neighbouring countries, the
//! outline in common use with these formulas.
//!
//! The inverses have no closed form; they are solved by fixed-point iteration on the forward
//! formula, which converges to well under a millimetre in a few steps because the offset varies
//! slowly. Pure functions: no IO.

use serde::Deserialize;

/// The datum a source's coordinates are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datum {
    /// WGS84 (EPSG:4326): GPS, OpenStreetMap, government GIS files.
    #[default]
    Wgs84,
    /// GCJ-02: Amap (高德) and Tencent exports in mainland China.
    Gcj02,
    /// BD-09: Baidu exports.
    Bd09,
}

impl Datum {
    pub fn as_str(self) -> &'static str {
        match self {
            Datum::Wgs84 => "wgs84",
            Datum::Gcj02 => "gcj02",
            Datum::Bd09 => "bd09",
        }
    }

    /// Converts a position in this datum to WGS84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Datum::Wgs84 => (lon, lat),
            Datum::Gcj02 => gcj02_to_wgs84(lon, lat),
            Datum::Bd09 => bd09_to_wgs84(lon, lat),
        }
    }

    /// Converts a WGS84 position to this datum.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Datum::Wgs84 => (lon, lat),
            Datum::Gcj02 => wgs84_to_gcj02(lon, lat),
            Datum::Bd09 => wgs84_to_bd09(lon, lat),
        }
    }
}

use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky 1940 ellipsoid, the GCJ-02 formulas' reference, metres.
const KRASOVSKY_A_M: f64 = 6_378_245.0;
/// Its first eccentricity squared.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// Mainland China as `[north, west, south, east]` rectangles, minus the `OUTSIDE` ones.
const MAINLAND: [[f64; 4]; 6] = [
    [49.2204, 79.4462, 42.8899, 96.33],
    [54.1415, 109.6872, 39.3742, 135.0002],
    [42.8899, 73.1246, 29.5297, 124.143255],
    [29.5297, 82.9684, 26.7186, 97.0352],
    [29.5297, 97.0253, 20.414096, 124.367395],
    [20.414096, 107.975793, 17.871542, 111.744104],
];

/// Parts of the `MAINLAND` rectangles outside mainland China: Taiwan, Hong Kong, Macau, and
/// slices of Laos, Vietnam, Mongolia and Russia.
const OUTSIDE: [[f64; 4]; 8] = [
    [25.398623, 119.921265, 21.785006, 122.497559],
    [22.50, 113.83, 22.15, 114.45],
    [22.216, 113.52, 22.10, 113.60],
    [22.284, 101.8652, 20.0988, 106.665],
    [21.5422, 106.4525, 20.4878, 108.051],
    [55.8175, 109.0323, 50.3257, 119.127],
    [55.8175, 127.4568, 49.5574, 137.0227],
    [44.8922, 131.2662, 42.5692, 137.0227],
];

fn in_rect(lon: f64, lat: f64, [north, west, south, east]: [f64; 4]) -> bool {
    (south..=north).contains(&lat) && (west..=east).contains(&lon)
}

/// Is `(lon, lat)` in mainland China, where Chinese map apps use shifted coordinates?
pub fn in_mainland_china(lon: f64, lat: f64) -> bool {
    MAINLAND.iter().any(|&r| in_rect(lon, lat, r)) && !OUTSIDE.iter().any(|&r| in_rect(lon, lat, r))
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// WGS84 → GCJ-02, degrees `(lon, lat)`. Identity outside mainland China.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !in_mainland_china(lon, lat) {
        return (lon, lat);
    }
    let d_lat = transform_lat(lon - 105.0, lat - 35.0);
    let d_lon = transform_lon(lon - 105.0, lat - 35.0);
    let rad_lat = lat.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let d_lat =
        (d_lat * 180.0) / ((KRASOVSKY_A_M * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (KRASOVSKY_A_M / sqrt_magic * rad_lat.cos() * PI);
    (lon + d_lon, lat + d_lat)
}

/// GCJ-02 → BD-09, degrees `(lon, lat)`.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let x_pi = PI * 3000.0 / 180.0;
    let z = (lon * lon + lat * lat).sqrt() + 0.000_02 * (lat * x_pi).sin();
    let theta = lat.atan2(lon) + 0.000_003 * (lon * x_pi).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// WGS84 → BD-09, degrees `(lon, lat)`. Identity outside mainland China.
pub fn wgs84_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    if !in_mainland_china(lon, lat) {
        return (lon, lat);
    }
    let (lon, lat) = wgs84_to_gcj02(lon, lat);
    gcj02_to_bd09(lon, lat)
}

/// BD-09 → GCJ-02, degrees `(lon, lat)`: the inverse of [`gcj02_to_bd09`].
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    invert(gcj02_to_bd09, lon, lat)
}

/// GCJ-02 → WGS84, degrees `(lon, lat)`: the inverse of [`wgs84_to_gcj02`]. Identity outside
/// mainland China.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if !in_mainland_china(lon, lat) {
        return (lon, lat);
    }
    invert(wgs84_to_gcj02, lon, lat)
}

/// BD-09 → WGS84, degrees `(lon, lat)`. Identity outside mainland China.
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if !in_mainland_china(lon, lat) {
        return (lon, lat);
    }
    let (lon, lat) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(lon, lat)
}

/// Solves `forward(x) = target` for `x`, where `forward` is the identity plus a small, slowly
/// varying offset: start at the target and remove the remaining error until it is below about
/// 0.01 mm.
fn invert(forward: fn(f64, f64) -> (f64, f64), lon: f64, lat: f64) -> (f64, f64) {
    let (mut x, mut y) = (lon, lat);
    for _ in 0..30 {
        let (fx, fy) = forward(x, y);
        let (dx, dy) = (fx - lon, fy - lat);
        x -= dx;
        y -= dy;
        if dx.abs() < 1e-10 && dy.abs() < 1e-10 {
            break;
        }
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::haversine_m;

    /// Vectors inside mainland China from an independent implementation (npm gcoord, see the
    /// fixture's `source`; gcoord also shifts points abroad, which these formulas leave alone).
    type LonLat = (f64, f64);

    /// `(wgs84, gcj02, bd09)` of each point.
    fn vectors() -> Vec<(LonLat, LonLat, LonLat)> {
        let text = include_str!("../../tests/fixtures/coord_transform.json");
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        let pair = |v: &serde_json::Value| (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
        json["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !p["name"].as_str().unwrap().contains("outside China"))
            .map(|p| (pair(&p["wgs84"]), pair(&p["gcj02"]), pair(&p["bd09"])))
            .collect()
    }

    #[test]
    fn inverses_recover_wgs84_within_half_a_metre() {
        let vectors = vectors();
        assert!(vectors.len() >= 10);
        for (wgs, gcj, bd) in vectors {
            let from_gcj = Datum::Gcj02.to_wgs84(gcj.0, gcj.1);
            let from_bd = Datum::Bd09.to_wgs84(bd.0, bd.1);
            assert!(
                haversine_m(from_gcj, wgs) < 0.5,
                "{gcj:?} → {from_gcj:?}, want {wgs:?}"
            );
            assert!(
                haversine_m(from_bd, wgs) < 0.5,
                "{bd:?} → {from_bd:?}, want {wgs:?}"
            );
        }
    }

    #[test]
    fn forward_matches_the_independent_implementation() {
        for (wgs, gcj, bd) in vectors() {
            assert!(haversine_m(Datum::Gcj02.from_wgs84(wgs.0, wgs.1), gcj) < 0.01);
            // gcoord's BD-09 step rounds its constants differently: agreement to a metre.
            assert!(haversine_m(Datum::Bd09.from_wgs84(wgs.0, wgs.1), bd) < 1.0);
        }
    }

    #[test]
    fn outside_mainland_china_nothing_moves() {
        for (lon, lat) in [(114.17, 22.30), (2.35, 48.85), (0.0, 0.0)] {
            assert_eq!(Datum::Gcj02.to_wgs84(lon, lat), (lon, lat));
            assert_eq!(Datum::Bd09.to_wgs84(lon, lat), (lon, lat));
        }
    }
}
