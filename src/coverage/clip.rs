//! The analysis area's outline as edges for exact per-pixel clipping: an [`AnalysisArea`] →
//! [`AreaEdges`]; a latitude → the longitude spans inside the area at that latitude.
//!
//! Heatmap tiles ask once per tile for the edges that cross its latitude range, then once per
//! pixel row for the spans, so a pixel is tested against the outline itself (even-odd rule, holes
//! respected), not against the grid cell it falls in.

use crate::area::AnalysisArea;

/// One edge of the outline, `[lon0, lat0, lon1, lat1]` with `lat0 <= lat1`.
type Edge = [f64; 4];

/// The outline's edges, sorted by their southern end; or the area's rectangle.
#[derive(Debug, Clone)]
pub enum AreaEdges {
    Rect([f64; 4]),
    Outline(Vec<Edge>),
}

impl AreaEdges {
    pub fn new(area: &AnalysisArea) -> AreaEdges {
        let Some(outline) = &area.outline else {
            return AreaEdges::Rect(area.bbox);
        };
        let mut edges: Vec<Edge> = outline
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|ring| ring.0.windows(2))
            .filter(|w| w[0].y != w[1].y)
            .map(|w| {
                let (a, b) = if w[0].y < w[1].y {
                    (w[0], w[1])
                } else {
                    (w[1], w[0])
                };
                [a.x, a.y, b.x, b.y]
            })
            .collect();
        edges.sort_by(|a, b| a[1].total_cmp(&b[1]));
        AreaEdges::Outline(edges)
    }

    /// The part of the outline that matters between latitudes `south` and `north`.
    pub fn band(&self, south: f64, north: f64) -> AreaEdges {
        match self {
            AreaEdges::Rect(bbox) => AreaEdges::Rect(*bbox),
            AreaEdges::Outline(edges) => {
                let end = edges.partition_point(|e| e[1] <= north);
                AreaEdges::Outline(
                    edges[..end]
                        .iter()
                        .filter(|e| e[3] >= south)
                        .copied()
                        .collect(),
                )
            }
        }
    }

    /// The longitude spans `[west, east]` inside the area at `lat`, west to east, into `out`.
    pub fn spans(&self, lat: f64, out: &mut Vec<[f64; 2]>) {
        out.clear();
        match self {
            AreaEdges::Rect([west, south, east, north]) => {
                if (*south..=*north).contains(&lat) {
                    out.push([*west, *east]);
                }
            }
            AreaEdges::Outline(edges) => {
                // Half-open in latitude, so a vertex on the line is crossed once.
                let mut xs: Vec<f64> = edges
                    .iter()
                    .filter(|e| e[1] <= lat && lat < e[3])
                    .map(|e| e[0] + (lat - e[1]) * (e[2] - e[0]) / (e[3] - e[1]))
                    .collect();
                xs.sort_by(f64::total_cmp);
                out.extend(xs.chunks_exact(2).map(|pair| [pair[0], pair[1]]));
            }
        }
    }
}

/// Is `lon` inside one of `spans` (sorted, disjoint)?
pub fn in_spans(spans: &[[f64; 2]], lon: f64) -> bool {
    let i = spans.partition_point(|s| s[1] < lon);
    spans.get(i).is_some_and(|s| s[0] <= lon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::area::AreaSource;
    use geo::{LineString, MultiPolygon, Polygon};

    #[test]
    fn spans_agree_with_contains_with_holes() {
        let ring = |w: f64, s: f64, e: f64, n: f64| {
            LineString::from(vec![(w, s), (e, s), (e, n), (w, n), (w, s)])
        };
        let outline = MultiPolygon(vec![
            Polygon::new(
                ring(121.40, 31.20, 121.42, 31.22),
                vec![ring(121.405, 31.205, 121.41, 31.21)],
            ),
            // A triangle east of it.
            Polygon::new(
                LineString::from(vec![
                    (121.43, 31.20),
                    (121.45, 31.20),
                    (121.44, 31.23),
                    (121.43, 31.20),
                ]),
                vec![],
            ),
        ]);
        let area = AnalysisArea::from_outline(AreaSource::Subdistricts, outline, 0.0).unwrap();
        let edges = AreaEdges::new(&area).band(31.19, 31.24);
        let mut spans = Vec::new();
        for i in 0..97 {
            let lat = 31.195 + f64::from(i) * 0.000_37;
            edges.spans(lat, &mut spans);
            for j in 0..163 {
                let lon = 121.395 + f64::from(j) * 0.000_351;
                assert_eq!(
                    in_spans(&spans, lon),
                    area.contains(lon, lat),
                    "{lon}, {lat}"
                );
            }
        }
    }
}
