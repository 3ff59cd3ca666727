//! A vector tile decoded with `mvt-reader` (a decoder this project did not write) into a
//! canonical text: layers by name, features sorted, each as `id geometry {key=value …}` with
//! typed values. Equal texts mean a client sees the same tile, whatever the bytes' order. Shared
//! by the pinned pyramid test and `examples/tile_digest.rs` (included there by path).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use geo::Geometry;
use mvt_reader::feature::Value;

fn coords(out: &mut String, line: impl IntoIterator<Item = geo::Coord<f32>>) {
    out.push('(');
    for (i, c) in line.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{} {}", c.x, c.y);
    }
    out.push(')');
}

fn geometry_text(geometry: &Geometry<f32>) -> String {
    let mut out = String::new();
    match geometry {
        Geometry::Point(p) => {
            out.push_str("POINT");
            coords(&mut out, [p.0]);
        }
        Geometry::MultiPoint(mp) => {
            out.push_str("MULTIPOINT");
            coords(&mut out, mp.0.iter().map(|p| p.0));
        }
        Geometry::LineString(l) => {
            out.push_str("LINESTRING");
            coords(&mut out, l.0.iter().copied());
        }
        Geometry::MultiLineString(ml) => {
            out.push_str("MULTILINESTRING");
            for l in &ml.0 {
                coords(&mut out, l.0.iter().copied());
            }
        }
        Geometry::Polygon(p) => {
            out.push_str("POLYGON");
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                coords(&mut out, ring.0.iter().copied());
            }
        }
        Geometry::MultiPolygon(mp) => {
            out.push_str("MULTIPOLYGON");
            for p in &mp.0 {
                out.push('[');
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    coords(&mut out, ring.0.iter().copied());
                }
                out.push(']');
            }
        }
        other => panic!("unexpected geometry in a tile: {other:?}"),
    }
    out
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => format!("s:{s:?}"),
        Value::Float(v) => format!("f:{v:?}"),
        Value::Double(v) => format!("d:{v:?}"),
        Value::Int(v) => format!("i:{v}"),
        Value::UInt(v) => format!("u:{v}"),
        Value::SInt(v) => format!("si:{v}"),
        Value::Bool(v) => format!("b:{v}"),
        Value::Null => "null".into(),
    }
}

/// The canonical text of one tile: per layer (by name) its extent and its features, each as
/// `id geometry {key=value …}` with keys sorted, the features sorted.
pub fn tile_text(bytes: &[u8]) -> (String, usize) {
    if bytes.is_empty() {
        return ("empty\n".into(), 0);
    }
    let reader = mvt_reader::Reader::new(bytes.to_vec()).expect("tile decodes");
    let mut layers = reader.get_layer_metadata().expect("layer metadata");
    layers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    let mut n_features = 0;
    for layer in layers {
        let features = reader.get_features(layer.layer_index).expect("features");
        n_features += features.len();
        let mut lines: Vec<String> = features
            .iter()
            .map(|f| {
                let props: BTreeMap<&str, String> = f
                    .properties
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), value_text(v)))
                    .collect();
                let props: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "{:?} {} {{{}}}",
                    f.id,
                    geometry_text(&f.geometry),
                    props.join(" ")
                )
            })
            .collect();
        lines.sort();
        let _ = writeln!(out, "layer {} extent {}", layer.name, layer.extent);
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    (out, n_features)
}
