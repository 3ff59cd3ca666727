//! Navigation links: a facility's WGS84 position and name → URLs that open it in Amap, Baidu
//! Maps, Tencent Maps, Apple Maps and OpenStreetMap, plus the Chinese coordinate conversions
//! those apps need.
//!
//! Chinese basemaps are not WGS84. Inside mainland China, Amap, Tencent and Apple Maps (whose
//! Chinese map data is Amap's) use GCJ-02, and Baidu uses BD-09, an offset of GCJ-02. The
//! conversions are the public WGS84 → GCJ-02 formulas (Krasovsky ellipsoid) and GCJ-02 →
//! BD-09; outside mainland China (including Hong Kong, Macau and Taiwan) no conversion is made.
//! Mainland China is approximated by a handful of rectangles minus neighbouring countries, the
//! outline in common use with these formulas.
//!
//! Each URL is the app's documented "show a marker" web entry point, which offers directions
//! from there; names are percent-encoded. Pure functions: no IO.

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

/// Percent-encodes `text` for a URL query value: every byte but the unreserved
/// `A-Z a-z 0-9 - . _ ~` (RFC 3986) becomes `%XX`.
pub fn encode_query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(
                char::from_digit(u32::from(b >> 4), 16)
                    .unwrap_or('0')
                    .to_ascii_uppercase(),
            );
            out.push(
                char::from_digit(u32::from(b & 15), 16)
                    .unwrap_or('0')
                    .to_ascii_uppercase(),
            );
        }
    }
    out
}

/// What a link points at.
#[derive(Debug, Clone, Copy)]
pub struct NavTarget<'a> {
    /// WGS84 degrees.
    pub lon: f64,
    pub lat: f64,
    pub name: &'a str,
    pub address: Option<&'a str>,
}

/// One link per app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavLinks {
    pub amap: String,
    pub baidu: String,
    pub tencent: String,
    pub apple: String,
    pub osm: String,
}

/// Builds every app's link for `target`; `source` names this application to the apps that
/// ask (Amap and Baidu `src`, Tencent `referer`).
pub fn links(target: &NavTarget, source: &str) -> NavLinks {
    let NavTarget {
        lon,
        lat,
        name,
        address,
    } = *target;
    let (gcj_lon, gcj_lat) = wgs84_to_gcj02(lon, lat);
    let (bd_lon, bd_lat) = wgs84_to_bd09(lon, lat);
    let name_q = encode_query_value(name);
    let source_q = encode_query_value(source);
    let content_q = encode_query_value(address.unwrap_or(name));
    // Tencent's marker value separates its fields with ';' and ':'; keep them out of the text.
    let tencent_text = |text: &str| encode_query_value(&text.replace(';', "；").replace(':', "："));
    let tencent_addr = address
        .map(|a| format!(";addr:{}", tencent_text(a)))
        .unwrap_or_default();
    NavLinks {
        amap: format!(
            "https://uri.amap.com/marker?position={gcj_lon:.6},{gcj_lat:.6}&name={name_q}&src={source_q}&coordinate=gaode&callnative=1"
        ),
        baidu: format!(
            "https://api.map.baidu.com/marker?location={bd_lat:.6},{bd_lon:.6}&title={name_q}&content={content_q}&output=html&coord_type=bd09ll&src={source_q}"
        ),
        tencent: format!(
            "https://apis.map.qq.com/uri/v1/marker?marker=coord:{gcj_lat:.6},{gcj_lon:.6};title:{}{tencent_addr}&referer={source_q}",
            tencent_text(name)
        ),
        apple: format!("https://maps.apple.com/?ll={gcj_lat:.6},{gcj_lon:.6}&q={name_q}"),
        osm: format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=18/{lat:.6}/{lon:.6}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::haversine_m;

    /// Reference vectors produced by an independent implementation (see the fixture's `source`).
    fn fixture() -> serde_json::Value {
        let text = include_str!("../tests/fixtures/coord_transform.json");
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn pair(v: &serde_json::Value) -> (f64, f64) {
        (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
    }

    #[test]
    fn conversions_match_reference_vectors_to_a_metre() {
        let fixture = fixture();
        let points = fixture["points"].as_array().unwrap();
        assert!(points.len() >= 15);
        for p in points {
            let name = p["name"].as_str().unwrap();
            let (lon, lat) = pair(&p["wgs84"]);
            let gcj = wgs84_to_gcj02(lon, lat);
            let error_m = haversine_m(pair(&p["gcj02"]), gcj);
            assert!(error_m < 1.0, "{name}: GCJ-02 {gcj:?} is {error_m} m off");
            if name.contains("outside China") {
                // No shift at all. (The reference applies the GCJ-02 → BD-09 offset even
                // outside China; Baidu links abroad keep WGS84 here, so BD-09 is not compared.)
                assert_eq!(gcj, (lon, lat), "{name}");
                assert_eq!(wgs84_to_bd09(lon, lat), (lon, lat), "{name}");
            } else {
                let bd = wgs84_to_bd09(lon, lat);
                let error_m = haversine_m(pair(&p["bd09"]), bd);
                assert!(error_m < 1.0, "{name}: BD-09 {bd:?} is {error_m} m off");
                // The offsets are hundreds of metres.
                let shift_m = haversine_m((lon, lat), gcj);
                assert!(
                    (100.0..1000.0).contains(&shift_m),
                    "{name}: shifted {shift_m} m"
                );
            }
        }
    }

    #[test]
    fn no_conversion_outside_mainland() {
        for (name, lon, lat) in [
            ("Hong Kong Central", 114.1588, 22.2820),
            ("Macau", 113.5439, 22.1987),
            ("Taipei", 121.5654, 25.0330),
            ("Seoul", 126.9780, 37.5665),
            ("Hanoi", 105.8342, 21.0278),
            ("Vladivostok", 131.8869, 43.1155),
        ] {
            assert!(!in_mainland_china(lon, lat), "{name}");
            assert_eq!(wgs84_to_bd09(lon, lat), (lon, lat), "{name}");
        }
        for (name, lon, lat) in [
            ("Shenzhen Futian", 114.0579, 22.5431),
            ("Zhuhai", 113.5767, 22.2707),
        ] {
            assert!(in_mainland_china(lon, lat), "{name}");
        }
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode_query_value("abc-._~XYZ09"), "abc-._~XYZ09");
        assert_eq!(
            encode_query_value("a b&c=d/e?f#g+h%"),
            "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25"
        );
        assert_eq!(encode_query_value("幼儿园"), "%E5%B9%BC%E5%84%BF%E5%9B%AD");
        assert_eq!(encode_query_value("🙂"), "%F0%9F%99%82");
    }

    #[test]
    fn links_carry_converted_coordinates_and_encoded_names() {
        let target = NavTarget {
            lon: 121.4185,
            lat: 31.2235,
            name: "中山公园 & Park;1",
            address: Some("长宁路780号"),
        };
        let links = links(&target, "lifecircle");
        let (gcj_lon, gcj_lat) = wgs84_to_gcj02(121.4185, 31.2235);
        let (bd_lon, bd_lat) = wgs84_to_bd09(121.4185, 31.2235);
        let name_q = encode_query_value("中山公园 & Park;1");
        assert!(
            links.amap.contains(&format!(
                "position={gcj_lon:.6},{gcj_lat:.6}&name={name_q}&"
            )),
            "{}",
            links.amap
        );
        assert!(links.amap.contains("coordinate=gaode"));
        assert!(
            links
                .baidu
                .contains(&format!("location={bd_lat:.6},{bd_lon:.6}&title={name_q}&")),
            "{}",
            links.baidu
        );
        assert!(links.baidu.contains("coord_type=bd09ll"));
        assert!(
            links
                .tencent
                .contains(&format!("marker=coord:{gcj_lat:.6},{gcj_lon:.6};title:")),
            "{}",
            links.tencent
        );
        assert!(
            links
                .tencent
                .contains(&encode_query_value("中山公园 & Park；1")),
            "{}",
            links.tencent
        );
        assert!(links.tencent.ends_with("&referer=lifecircle"));
        assert!(
            links
                .apple
                .contains(&format!("ll={gcj_lat:.6},{gcj_lon:.6}"))
        );
        assert_eq!(
            links.osm,
            "https://www.openstreetmap.org/?mlat=31.223500&mlon=121.418500#map=18/31.223500/121.418500"
        );
        for url in [
            &links.amap,
            &links.baidu,
            &links.tencent,
            &links.apple,
            &links.osm,
        ] {
            assert!(url.is_ascii() && !url.contains(' '), "{url}");
        }
    }
}
