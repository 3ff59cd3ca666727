//! Navigation links: a facility's WGS84 position and name → URLs that open it in Amap, Baidu
//! Maps, Tencent Maps, Apple Maps and OpenStreetMap.
//!
//! Chinese basemaps are not WGS84. Inside mainland China, Amap, Tencent and Apple Maps (whose
//! Chinese map data is Amap's) use GCJ-02, and Baidu uses BD-09 (see `geom::datum`).
//!
//! Each URL is the app's documented "show a marker" web entry point, which offers directions
//! from there; names are percent-encoded. Pure functions: no IO.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::geom::datum::{wgs84_to_bd09, wgs84_to_gcj02};

/// The bytes a query value keeps as they are: RFC 3986's unreserved `A-Z a-z 0-9 - . _ ~`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `text` for a URL query value: every byte but the unreserved
/// `A-Z a-z 0-9 - . _ ~` (RFC 3986) becomes `%XX`.
pub fn encode_query_value(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
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
    use crate::geom::datum::in_mainland_china;
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
