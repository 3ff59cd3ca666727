//! Navigation links: a facility's WGS84 position and name → URLs that open it in Amap, Baidu
//! Maps, Tencent Maps, Apple Maps and OpenStreetMap.
//!
//! Chinese basemaps are not WGS84. Inside mainland China, Amap, Tencent and Apple Maps (whose
//! Chinese map data is Amap's) use GCJ-02, and Baidu uses BD-09 (see `geom::datum`).
//!
//! Each URL is the app's documented "show a marker" web entry point, which offers directions
//! from there; names are percent-encoded. Pure functions: no IO.

use std::fmt;

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
    let links = LinkWriter::new(target, source);
    NavLinks {
        amap: links.amap().to_string(),
        baidu: links.baidu().to_string(),
        tencent: links.tencent().to_string(),
        apple: links.apple().to_string(),
        osm: links.osm().to_string(),
    }
}

/// Every app's link for one target, written on demand (each link is a [`fmt::Display`]), so an
/// answer listing many facilities can write the links straight into its body instead of
/// holding each as text. [`links`] gives the same URLs as strings.
#[derive(Debug, Clone, Copy)]
pub struct LinkWriter<'a> {
    target: NavTarget<'a>,
    source: &'a str,
    gcj: (f64, f64),
    bd: (f64, f64),
}

/// A `Display` made from a closure.
struct Written<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Written<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// `text` percent-encoded as a query value, written on demand.
fn query_value(text: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(text, QUERY_VALUE)
}

/// Tencent's marker value separates its fields with ';' and ':'; the text's own are written as
/// their full-width forms (；：), then percent-encoded.
fn tencent_value(text: &str) -> impl fmt::Display + '_ {
    Written(move |f| {
        for (i, part) in text.split([';', ':']).enumerate() {
            if i > 0 {
                // The separator just passed: the byte before this part.
                let offset = part.as_ptr() as usize - text.as_ptr() as usize - 1;
                let separator = if text.as_bytes()[offset] == b';' {
                    "；"
                } else {
                    "："
                };
                fmt::Display::fmt(&query_value(separator), f)?;
            }
            fmt::Display::fmt(&query_value(part), f)?;
        }
        Ok(())
    })
}

impl<'a> LinkWriter<'a> {
    pub fn new(target: &NavTarget<'a>, source: &'a str) -> LinkWriter<'a> {
        LinkWriter {
            target: *target,
            source,
            gcj: wgs84_to_gcj02(target.lon, target.lat),
            bd: wgs84_to_bd09(target.lon, target.lat),
        }
    }

    pub fn amap(&self) -> impl fmt::Display + '_ {
        let (gcj_lon, gcj_lat) = self.gcj;
        Written(move |f| {
            write!(
                f,
                "https://uri.amap.com/marker?position={gcj_lon:.6},{gcj_lat:.6}&name={}&src={}&coordinate=gaode&callnative=1",
                query_value(self.target.name),
                query_value(self.source)
            )
        })
    }

    pub fn baidu(&self) -> impl fmt::Display + '_ {
        let (bd_lon, bd_lat) = self.bd;
        Written(move |f| {
            write!(
                f,
                "https://api.map.baidu.com/marker?location={bd_lat:.6},{bd_lon:.6}&title={}&content={}&output=html&coord_type=bd09ll&src={}",
                query_value(self.target.name),
                query_value(self.target.address.unwrap_or(self.target.name)),
                query_value(self.source)
            )
        })
    }

    pub fn tencent(&self) -> impl fmt::Display + '_ {
        let (gcj_lon, gcj_lat) = self.gcj;
        Written(move |f| {
            write!(
                f,
                "https://apis.map.qq.com/uri/v1/marker?marker=coord:{gcj_lat:.6},{gcj_lon:.6};title:{}",
                tencent_value(self.target.name)
            )?;
            if let Some(address) = self.target.address {
                write!(f, ";addr:{}", tencent_value(address))?;
            }
            write!(f, "&referer={}", query_value(self.source))
        })
    }

    pub fn apple(&self) -> impl fmt::Display + '_ {
        let (gcj_lon, gcj_lat) = self.gcj;
        Written(move |f| {
            write!(
                f,
                "https://maps.apple.com/?ll={gcj_lat:.6},{gcj_lon:.6}&q={}",
                query_value(self.target.name)
            )
        })
    }

    pub fn osm(&self) -> impl fmt::Display + '_ {
        let NavTarget { lon, lat, .. } = self.target;
        Written(move |f| {
            write!(
                f,
                "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=18/{lat:.6}/{lon:.6}"
            )
        })
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

    /// The links written on demand are the URLs the formulas give when every piece is
    /// encoded as text first (separators in Tencent's value replaced by their full-width forms).
    #[test]
    fn written_links_match_the_formulas() {
        for (name, address) in [
            ("中山公园 & Park;1", Some("长宁路780号;东门:2")),
            (";:a:;", None),
            ("", Some(":")),
            ("社区卫生服务中心", None),
        ] {
            let (lon, lat) = (121.4185, 31.2235);
            let target = NavTarget {
                lon,
                lat,
                name,
                address,
            };
            let links = links(&target, "life circle");
            let (gcj_lon, gcj_lat) = wgs84_to_gcj02(lon, lat);
            let (bd_lon, bd_lat) = wgs84_to_bd09(lon, lat);
            let name_q = encode_query_value(name);
            let source_q = encode_query_value("life circle");
            let content_q = encode_query_value(address.unwrap_or(name));
            let tencent_text =
                |text: &str| encode_query_value(&text.replace(';', "；").replace(':', "："));
            let tencent_addr = address
                .map(|a| format!(";addr:{}", tencent_text(a)))
                .unwrap_or_default();
            assert_eq!(
                links.amap,
                format!(
                    "https://uri.amap.com/marker?position={gcj_lon:.6},{gcj_lat:.6}&name={name_q}&src={source_q}&coordinate=gaode&callnative=1"
                )
            );
            assert_eq!(
                links.baidu,
                format!(
                    "https://api.map.baidu.com/marker?location={bd_lat:.6},{bd_lon:.6}&title={name_q}&content={content_q}&output=html&coord_type=bd09ll&src={source_q}"
                )
            );
            assert_eq!(
                links.tencent,
                format!(
                    "https://apis.map.qq.com/uri/v1/marker?marker=coord:{gcj_lat:.6},{gcj_lon:.6};title:{}{tencent_addr}&referer={source_q}",
                    tencent_text(name)
                )
            );
            assert_eq!(
                links.apple,
                format!("https://maps.apple.com/?ll={gcj_lat:.6},{gcj_lon:.6}&q={name_q}")
            );
        }
    }
}
