//! Reading GeoJSON: a FeatureCollection (RFC 7946), streamed feature by feature so a large file is
//! never held whole, and GeoJSON text sequences (one Feature per line, with or without the RFC 8142
//! record separator), read record by record.
//!
//! Properties of any JSON type become [`Prop`]s: integers `Int`/`UInt`, other numbers `Float`,
//! strings `Text`, booleans `Bool`, objects and arrays `Text` of their JSON; `null` is absent. A
//! feature with a missing or invalid geometry, or a line of a sequence that is not a Feature, is a
//! per-feature reason. A `crs` member naming anything but WGS84 is an error, as in every format.
//! GeoJSON has no schema: a required column is checked against the first feature's properties.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Error;
use super::formats::{self, Column, FeatureNames, Prop, ReadOptions};

/// The ASCII record separator that starts each record of an RFC 8142 sequence.
const RS: u8 = 0x1E;

/// A GeoJSON file or sequence opened for reading.
pub struct GeoJsonFile {
    path: PathBuf,
    sequence: bool,
    /// The wanted property names, in the order asked.
    wanted: Vec<String>,
    names: FeatureNames,
}

/// One feature as parsed, before its geometry is converted.
#[derive(Deserialize)]
struct RawFeature {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    geometry: Option<Value>,
    #[serde(default)]
    properties: Option<Map<String, Value>>,
}

impl GeoJsonFile {
    /// Opens `path` as a FeatureCollection (`sequence` false; a file that turns out to be a
    /// sequence is read as one) or a sequence, and checks the first feature has the required
    /// `columns`.
    pub fn open(
        path: &Path,
        sequence: bool,
        _options: &ReadOptions,
        columns: &[Column<'_>],
    ) -> Result<GeoJsonFile, Error> {
        let sequence = sequence || looks_like_sequence(path)?;
        let mut file = GeoJsonFile {
            path: path.to_owned(),
            sequence,
            wanted: columns.iter().map(|c| c.name.to_owned()).collect(),
            names: if sequence {
                FeatureNames::shifted("line", 1)
            } else {
                FeatureNames::shifted("feature", 0)
            },
        };
        // The first feature, for its property names (and, in a collection, a `crs` before it).
        let mut first: Option<Map<String, Value>> = None;
        file.read(&mut |raw| {
            if let Ok(raw) = raw {
                first = Some(raw.properties.unwrap_or_default());
            }
            false
        })?;
        if let Some(properties) = first {
            for col in columns.iter().filter(|c| c.required) {
                if !properties.contains_key(col.name) {
                    let available: Vec<&str> = properties.keys().map(String::as_str).collect();
                    return Err(Error::MissingColumn {
                        path: path.to_owned(),
                        column: col.name.to_owned(),
                        available: available.join(", "),
                    });
                }
            }
        }
        file.names = if sequence {
            FeatureNames::shifted("line", 1)
        } else {
            FeatureNames::shifted("feature", 0)
        };
        Ok(file)
    }

    pub fn names(&self) -> &FeatureNames {
        &self.names
    }

    pub fn for_each(
        self,
        mut visit: impl FnMut(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>),
    ) -> Result<(), Error> {
        let mut feature_idx = 0usize;
        let wanted = self.wanted.clone();
        self.read(&mut |raw| {
            let (geometry, props) = match raw {
                Ok(raw) => convert(raw, &wanted),
                Err(reason) => (Err(reason), vec![None; wanted.len()]),
            };
            visit(feature_idx, geometry, props);
            feature_idx += 1;
            true
        })
    }

    /// Calls `on_feature` with each feature (or the reason it is not one) until it answers false.
    fn read(
        &self,
        on_feature: &mut dyn FnMut(Result<RawFeature, String>) -> bool,
    ) -> Result<(), Error> {
        let file = File::open(&self.path).map_err(|source| Error::Open {
            path: self.path.clone(),
            source,
        })?;
        let reader = BufReader::with_capacity(1 << 16, file);
        if self.sequence {
            self.read_sequence(reader, on_feature)
        } else {
            self.read_collection(reader, on_feature)
        }
    }

    fn read_sequence(
        &self,
        mut reader: BufReader<File>,
        on_feature: &mut dyn FnMut(Result<RawFeature, String>) -> bool,
    ) -> Result<(), Error> {
        let mut record = Vec::new();
        let mut line = 1u64;
        let mut feature_idx = 0usize;
        loop {
            record.clear();
            let n = reader
                .read_until(b'\n', &mut record)
                .map_err(|source| Error::Open {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                return Ok(());
            }
            let record_line = line;
            line += 1;
            let text = record.trim_ascii();
            let text = text.strip_prefix(&[RS]).unwrap_or(text).trim_ascii();
            if text.is_empty() {
                continue;
            }
            self.names.record(feature_idx, record_line);
            feature_idx += 1;
            let raw = match serde_json::from_slice::<RawFeature>(text) {
                Ok(raw) if raw.kind == "Feature" => Ok(raw),
                Ok(raw) => Err(format!("a {} where a Feature was expected", raw.kind)),
                Err(e) if e.is_eof() => Err("not valid JSON (cut short)".to_owned()),
                Err(e) if e.is_data() => Err("not a GeoJSON Feature".to_owned()),
                Err(_) => Err("not valid JSON".to_owned()),
            };
            if !on_feature(raw) {
                return Ok(());
            }
        }
    }

    fn read_collection(
        &self,
        reader: BufReader<File>,
        on_feature: &mut dyn FnMut(Result<RawFeature, String>) -> bool,
    ) -> Result<(), Error> {
        let mut state = CollectionState {
            on_feature,
            kind: None,
            crs: None,
            stopped: false,
        };
        let mut deserializer = serde_json::Deserializer::from_reader(reader);
        let outcome = (&mut deserializer).deserialize_map(CollectionVisitor(&mut state));
        let outcome = outcome.and_then(|()| match state.stopped {
            true => Ok(()),
            false => deserializer.end(),
        });
        if let Some(found) = state.crs {
            return Err(Error::Crs {
                path: self.path.clone(),
                found,
            });
        }
        if state.stopped {
            return Ok(());
        }
        let unreadable = |message: String| Error::Unreadable {
            path: self.path.clone(),
            format: "GeoJSON",
            message,
        };
        match outcome {
            Ok(()) => match state.kind.as_deref() {
                Some("FeatureCollection") => Ok(()),
                Some(kind) => Err(unreadable(format!(
                    "the top level is a {kind}, expected a FeatureCollection (a file of one Feature per line is format \"geojsonseq\")"
                ))),
                None => Err(unreadable("the top-level object has no \"type\"".into())),
            },
            Err(e) if e.is_eof() => Err(unreadable(format!(
                "the file ends early at line {} (truncated?)",
                e.line()
            ))),
            Err(e) if e.is_syntax() && e.to_string().contains("trailing characters") => {
                Err(unreadable(format!(
                    "more than one JSON value (line {}); a file of one Feature per line is format \"geojsonseq\", e.g. named .geojsonl",
                    e.line()
                )))
            }
            Err(e) => Err(unreadable(e.to_string())),
        }
    }
}

/// True when the file starts with a record separator, or its first line is one whole Feature:
/// a sequence, whatever its extension says.
fn looks_like_sequence(path: &Path) -> Result<bool, Error> {
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut first_line = Vec::new();
    BufReader::new(file)
        .take(1 << 20)
        .read_until(b'\n', &mut first_line)
        .map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
    let text = first_line.trim_ascii();
    if text.first() == Some(&RS) {
        return Ok(true);
    }
    Ok(serde_json::from_slice::<RawFeature>(text).is_ok_and(|raw| raw.kind == "Feature"))
}

struct CollectionState<'a> {
    on_feature: &'a mut dyn FnMut(Result<RawFeature, String>) -> bool,
    kind: Option<String>,
    /// A `crs` that is not WGS84, as found.
    crs: Option<String>,
    /// The reader asked to stop before the end.
    stopped: bool,
}

/// Why the parse stopped early on purpose; never shown.
const STOP: &str = "stop reading";

struct CollectionVisitor<'s, 'a>(&'s mut CollectionState<'a>);

impl<'de> Visitor<'de> for CollectionVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a GeoJSON FeatureCollection object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => state.kind = Some(map.next_value()?),
                "crs" => {
                    let crs: Value = map.next_value()?;
                    if let Err(found) = check_crs(&crs) {
                        state.crs = Some(found);
                        return Err(serde::de::Error::custom(STOP));
                    }
                }
                "features" => {
                    if let Some(kind) = state.kind.as_deref().filter(|k| *k != "FeatureCollection")
                    {
                        return Err(serde::de::Error::custom(format!(
                            "the top level is a {kind}, expected a FeatureCollection"
                        )));
                    }
                    map.next_value_seed(FeaturesSeed(state))?;
                    if state.stopped {
                        return Err(serde::de::Error::custom(STOP));
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct FeaturesSeed<'s, 'a>(&'s mut CollectionState<'a>);

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of Features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        // Each element is parsed as any JSON first, so one malformed feature is its own reason
        // rather than the end of the file.
        while let Some(value) = seq.next_element::<Value>()? {
            let raw = match serde_json::from_value::<RawFeature>(value) {
                Ok(raw) if raw.kind == "Feature" => Ok(raw),
                Ok(raw) => Err(format!("a {} where a Feature was expected", raw.kind)),
                Err(_) => Err("not a GeoJSON Feature".to_owned()),
            };
            if !(state.on_feature)(raw) {
                state.stopped = true;
                return Err(serde::de::Error::custom(STOP));
            }
        }
        Ok(())
    }
}

/// `Ok` for no CRS or WGS84 (`urn:ogc:def:crs:OGC:1.3:CRS84`, `EPSG:4326`, …); else what it names.
fn check_crs(crs: &Value) -> Result<(), String> {
    let properties = match crs {
        Value::Null => return Ok(()),
        Value::Object(object) => object.get("properties"),
        other => return Err(other.to_string()),
    };
    let name = properties
        .and_then(|p| p.get("name").or_else(|| p.get("code")))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => format!("EPSG:{other}"),
        })
        .unwrap_or_else(|| crs.to_string());
    let upper = name.to_ascii_uppercase();
    let code = upper
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse::<i64>().ok());
    let wgs84 = upper.ends_with("CRS84")
        || upper.ends_with("CRS:84")
        || (upper.contains("EPSG") && code.is_some_and(formats::is_geographic_wgs84));
    if wgs84 { Ok(()) } else { Err(name) }
}

fn convert(
    raw: RawFeature,
    wanted: &[String],
) -> (Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>) {
    let mut properties = raw.properties.unwrap_or_default();
    let props = wanted
        .iter()
        .map(|name| properties.remove(name).and_then(json_prop))
        .collect();
    let geometry = match raw.geometry {
        None | Some(Value::Null) => Err("no geometry".to_owned()),
        Some(value) => serde_json::from_value::<geojson::Geometry>(value)
            .ok()
            .and_then(|g| geo::Geometry::try_from(&g).ok())
            .ok_or_else(|| "invalid geometry".to_owned()),
    };
    (geometry, props)
}

fn json_prop(value: Value) -> Option<Prop> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(Prop::Bool(b)),
        Value::Number(n) => Some(if let Some(i) = n.as_i64() {
            Prop::Int(i)
        } else if let Some(u) = n.as_u64() {
            Prop::UInt(u)
        } else {
            Prop::Float(n.as_f64().unwrap_or(f64::NAN))
        }),
        Value::String(s) => Some(Prop::Text(s)),
        other @ (Value::Array(_) | Value::Object(_)) => Some(Prop::Text(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::formats::testing::{Feature, point, read_all, read_error, text, write};

    fn read(path: &Path, columns: &[&str]) -> Vec<Feature> {
        read_all(path, &ReadOptions::default(), columns).unwrap()
    }

    fn reason(feature: &Feature) -> &str {
        feature.geometry.as_ref().err().map_or("", String::as_str)
    }

    const COLLECTION: &str = r#"{
  "type": "FeatureCollection",
  "name": "facilities",
  "crs": { "type": "name", "properties": { "name": "urn:ogc:def:crs:OGC:1.3:CRS84" } },
  "features": [
    { "type": "Feature", "properties": { "id": 7, "name": "天山公园", "area": 12.5, "open": true,
      "tags": {"leisure": "park"}, "big": 18446744073709551615, "note": null },
      "geometry": { "type": "Point", "coordinates": [121.4017, 31.2139] } },
    { "type": "Feature", "properties": { "id": 8, "name": "中山公园" },
      "geometry": { "type": "Polygon", "coordinates": [[[121.41, 31.22], [121.42, 31.22], [121.42, 31.23], [121.41, 31.22]]] } },
    { "type": "Feature", "properties": { "id": 9 }, "geometry": null },
    { "type": "Feature", "properties": { "id": 10 }, "geometry": { "type": "Point", "coordinates": "x" } },
    { "type": "Geometry" }
  ]
}"#;

    #[test]
    fn feature_collection_with_typed_properties() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "parks.geojson", COLLECTION.as_bytes());
        let columns = [
            "id", "name", "area", "open", "tags", "big", "note", "absent",
        ];
        let features = read(&path, &columns);
        assert_eq!(features.len(), 5);
        assert_eq!(point(&features[0].geometry), (121.4017, 31.2139));
        assert_eq!(
            features[0].props,
            vec![
                Some(Prop::Int(7)),
                Some(Prop::Text("天山公园".into())),
                Some(Prop::Float(12.5)),
                Some(Prop::Bool(true)),
                Some(Prop::Text(r#"{"leisure":"park"}"#.into())),
                Some(Prop::UInt(u64::MAX)),
                None,
                None,
            ]
        );
        assert!(matches!(
            features[1].geometry,
            Ok(geo::Geometry::Polygon(_))
        ));
        assert_eq!(text(&features[1].props[1]), Some("中山公园"));
        assert_eq!(reason(&features[2]), "no geometry");
        assert_eq!(reason(&features[3]), "invalid geometry");
        assert_eq!(features[3].props[0], Some(Prop::Int(10)));
        assert_eq!(
            reason(&features[4]),
            "a Geometry where a Feature was expected"
        );
        assert_eq!(features[3].name, "feature 3");
    }

    #[test]
    fn a_crs_other_than_wgs84_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        for (crs, ok) in [
            (r#"{"type":"name","properties":{"name":"EPSG:4326"}}"#, true),
            (
                r#"{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::4490"}}"#,
                true,
            ),
            (r#"{"type":"EPSG","properties":{"code":4326}}"#, true),
            (
                r#"{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}}"#,
                false,
            ),
            (
                r#"{"type":"name","properties":{"name":"EPSG:4547"}}"#,
                false,
            ),
        ] {
            // Before the features (as ogr2ogr writes it) and after them.
            for collection in [
                format!(r#"{{"type":"FeatureCollection","crs":{crs},"features":[]}}"#),
                format!(r#"{{"type":"FeatureCollection","features":[],"crs":{crs}}}"#),
            ] {
                let path = write(&dir, "crs.geojson", collection.as_bytes());
                if ok {
                    assert!(read(&path, &[]).is_empty(), "{crs}");
                } else {
                    let message = read_error(&path, &ReadOptions::default(), &[]);
                    assert!(message.contains("crs.geojson"), "{message}");
                    assert!(message.contains("ogr2ogr -t_srs EPSG:4326"), "{message}");
                    let found = crs.split('"').nth(9).unwrap();
                    assert!(message.contains(&format!("is in {found}")), "{message}");
                }
            }
        }
    }

    #[test]
    fn required_column_is_checked_on_the_first_feature() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "parks.geojson", COLLECTION.as_bytes());
        let columns = [Column {
            name: "category",
            required: true,
        }];
        let message = read_error(&path, &ReadOptions::default(), &columns);
        assert!(
            message.contains("parks.geojson") && message.contains("`category`"),
            "{message}"
        );
        assert!(
            message.contains("area, big, id, name, note, open, tags"),
            "{message}"
        );
    }

    #[test]
    fn malformed_collections_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for (json, expected) in [
            (&COLLECTION[..200], "ends early"),
            (
                r#"{"type":"Point","coordinates":[121.4,31.2]}"#,
                "expected a FeatureCollection",
            ),
            (
                r#"{"type":"FeatureCollection","features":[]} {}"#,
                "geojsonseq",
            ),
            (r#"[1, 2]"#, "invalid type"),
            (r#"{"features":[]}"#, "no \"type\""),
        ] {
            let path = write(&dir, "bad.geojson", json.as_bytes());
            let message = read_error(&path, &ReadOptions::default(), &[]);
            assert!(
                message.contains("bad.geojson") && message.contains(expected),
                "{message}"
            );
        }
    }

    #[test]
    fn sequences_with_and_without_record_separators() {
        let dir = tempfile::tempdir().unwrap();
        let line = |id: u32, lon: f64| {
            format!(
                r#"{{"type":"Feature","properties":{{"id":{id},"name":"幼儿园{id}"}},"geometry":{{"type":"Point","coordinates":[{lon},31.2]}}}}"#
            )
        };
        let lines = [
            line(1, 121.4),
            String::new(),
            r#"{"type":"Feature","properties":{"id":3},"geometry":{"type":"Point","coord"#.into(),
            "not json".into(),
            r#"{"type":"Feature","properties":5,"geometry":null}"#.into(),
            line(6, 121.5),
        ];
        let plain = lines.join("\n") + "\n";
        let with_rs: String = lines.iter().map(|l| format!("\u{1e}{l}\n")).collect();
        // A sequence named .json is recognised by its first line.
        for (name, contents) in [
            ("a.geojsonl", &plain),
            ("b.geojsons", &with_rs),
            ("c.json", &plain),
        ] {
            let path = write(&dir, name, contents.as_bytes());
            let features = read(&path, &["id", "name"]);
            assert_eq!(features.len(), 5, "{name}");
            assert_eq!(point(&features[0].geometry), (121.4, 31.2));
            assert_eq!(text(&features[0].props[1]), Some("幼儿园1"));
            assert_eq!(reason(&features[1]), "not valid JSON (cut short)", "{name}");
            assert_eq!(features[1].name, "line 3", "{name}");
            assert_eq!(reason(&features[2]), "not valid JSON");
            assert_eq!(reason(&features[3]), "not a GeoJSON Feature");
            assert_eq!(point(&features[4].geometry), (121.5, 31.2));
            assert_eq!(features[4].props[0], Some(Prop::Int(6)));
            assert_eq!(features[4].name, "line 6", "{name}");
        }
    }
}
