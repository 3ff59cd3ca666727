//! Geometry of a synthetic area: the local metric frame, the subdistrict cells and outlines, and
//! the river barriers.
//!
//! Subdistricts are built from a lattice of jittered quadrilateral cells that share their edges
//! exactly (same vertices), each cell assigned to a subdistrict by a character map. A
//! subdistrict's outline is the boundary of the union of its cells, so outlines never overlap and
//! together cover the area. All of this is SYNTHETIC: it approximates the layout of the real
//! subdistricts, not their surveyed boundaries.

use geo::{Contains, Coord, LineString, Point, Polygon};
use rand::Rng;
use std::collections::BTreeMap;

/// Rounds a coordinate to 1e-7 degrees (about 1 cm), the precision of every written coordinate.
fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// A local equirectangular frame: metres east (`x`) and north (`y`) of an origin.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    lon0: f64,
    lat0: f64,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
}

impl Frame {
    pub fn new(lon0: f64, lat0: f64) -> Frame {
        Frame {
            lon0,
            lat0,
            m_per_deg_lon: 111_320.0 * lat0.to_radians().cos(),
            m_per_deg_lat: 110_574.0,
        }
    }

    /// Metres → WGS84 `[lon, lat]`, rounded to 1e-7°. The same input always gives the same bits,
    /// which is what makes shared vertices exact.
    pub fn lonlat(&self, xy: [f64; 2]) -> [f64; 2] {
        [
            round7(self.lon0 + xy[0] / self.m_per_deg_lon),
            round7(self.lat0 + xy[1] / self.m_per_deg_lat),
        ]
    }

    /// WGS84 `[lon, lat]` → metres.
    pub fn xy(&self, ll: [f64; 2]) -> [f64; 2] {
        [
            (ll[0] - self.lon0) * self.m_per_deg_lon,
            (ll[1] - self.lat0) * self.m_per_deg_lat,
        ]
    }

    pub fn x_of_lon(&self, lon: f64) -> f64 {
        (lon - self.lon0) * self.m_per_deg_lon
    }

    pub fn y_of_lat(&self, lat: f64) -> f64 {
        (lat - self.lat0) * self.m_per_deg_lat
    }
}

/// One subdistrict (or synthetic city district).
#[derive(Debug, Clone)]
pub struct RegionDef {
    /// Character standing for this region in the layout map.
    pub key: char,
    pub name: String,
    pub name_en: String,
    pub code: String,
    /// Short place word used in facility names ("华阳" / "Huayang"); empty: use road names.
    pub short_zh: String,
    pub short_en: String,
    /// Relative facility density (per unit area).
    pub density: f64,
}

/// How to lay out the cells.
#[derive(Debug, Clone)]
pub struct LayoutSpec {
    /// One string per cell row, NORTH row first; one char per cell, west first; `.` = outside.
    pub map: Vec<&'static str>,
    pub west_x_m: f64,
    pub east_x_m: f64,
    pub south_y_m: f64,
    pub north_y_m: f64,
    /// Corner jitter as a fraction of the cell size.
    pub corner_jitter: f64,
    /// Extra vertices on each cell edge (shared by both neighbours), jittered sideways.
    pub edge_points: usize,
    pub edge_jitter: f64,
}

/// A lattice cell: a simple polygon (WGS84) belonging to one region.
#[derive(Debug, Clone)]
pub struct Cell {
    pub region: usize,
    pub polygon: Polygon<f64>,
    /// `[min_lon, min_lat, max_lon, max_lat]`
    pub bbox_ll: [f64; 4],
    /// `[min_x, min_y, max_x, max_y]` in metres
    pub bbox_xy: [f64; 4],
    pub area_m2: f64,
}

/// The cells and the region outlines.
#[derive(Debug, Clone)]
pub struct Layout {
    pub regions: Vec<RegionDef>,
    pub cells: Vec<Cell>,
    /// Per region: its outline rings (WGS84, closed). One ring per region for a valid map.
    pub rings: Vec<Vec<Vec<[f64; 2]>>>,
}

impl Layout {
    pub fn build(
        spec: &LayoutSpec,
        regions: Vec<RegionDef>,
        frame: &Frame,
        rng: &mut impl Rng,
    ) -> Layout {
        let rows = spec.map.len();
        let cols = spec.map[0].chars().count();
        let cell_w = (spec.east_x_m - spec.west_x_m) / cols as f64;
        let cell_h = (spec.north_y_m - spec.south_y_m) / rows as f64;
        let k = spec.edge_points;

        // Vertex store: corners, then points on horizontal edges, then on vertical edges.
        let mut verts: Vec<[f64; 2]> = Vec::new();
        let corner = |r: usize, c: usize| r * (cols + 1) + c;
        for r in 0..=rows {
            for c in 0..=cols {
                let jx = (rng.random::<f64>() * 2.0 - 1.0) * spec.corner_jitter * cell_w;
                let jy = (rng.random::<f64>() * 2.0 - 1.0) * spec.corner_jitter * cell_h;
                verts.push([
                    spec.west_x_m + c as f64 * cell_w + jx,
                    spec.south_y_m + r as f64 * cell_h + jy,
                ]);
            }
        }
        // Horizontal edge (r, c)-(r, c+1): k points, ids hbase + (r*cols + c)*k + m.
        let hbase = verts.len();
        for r in 0..=rows {
            for c in 0..cols {
                let a = verts[corner(r, c)];
                let b = verts[corner(r, c + 1)];
                for m in 0..k {
                    let t = (m + 1) as f64 / (k + 1) as f64;
                    let j = (rng.random::<f64>() * 2.0 - 1.0) * spec.edge_jitter * cell_h;
                    verts.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t + j]);
                }
            }
        }
        // Vertical edge (r, c)-(r+1, c): k points, ids vbase + (r*(cols+1) + c)*k + m.
        let vbase = verts.len();
        for r in 0..rows {
            for c in 0..=cols {
                let a = verts[corner(r, c)];
                let b = verts[corner(r + 1, c)];
                for m in 0..k {
                    let t = (m + 1) as f64 / (k + 1) as f64;
                    let j = (rng.random::<f64>() * 2.0 - 1.0) * spec.edge_jitter * cell_w;
                    verts.push([a[0] + (b[0] - a[0]) * t + j, a[1] + (b[1] - a[1]) * t]);
                }
            }
        }
        let hpt = |r: usize, c: usize, m: usize| hbase + (r * cols + c) * k + m;
        let vpt = |r: usize, c: usize, m: usize| vbase + (r * (cols + 1) + c) * k + m;
        let verts_ll: Vec<[f64; 2]> = verts.iter().map(|&v| frame.lonlat(v)).collect();

        let mut cells = Vec::new();
        // Directed boundary edges (vertex ids) per region, for the union outlines.
        let mut region_edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); regions.len()];
        for r in 0..rows {
            // r counts from the south; the map lists the north row first.
            let line: Vec<char> = spec.map[rows - 1 - r].chars().collect();
            for (c, &key) in line.iter().enumerate() {
                let Some(region) = regions.iter().position(|d| d.key == key) else {
                    continue;
                };
                // Counter-clockwise ring: south edge eastwards, east edge northwards, north edge
                // westwards, west edge southwards.
                let mut ring: Vec<usize> = vec![corner(r, c)];
                ring.extend((0..k).map(|m| hpt(r, c, m)));
                ring.push(corner(r, c + 1));
                ring.extend((0..k).map(|m| vpt(r, c + 1, m)));
                ring.push(corner(r + 1, c + 1));
                ring.extend((0..k).rev().map(|m| hpt(r + 1, c, m)));
                ring.push(corner(r + 1, c));
                ring.extend((0..k).rev().map(|m| vpt(r, c, m)));
                for i in 0..ring.len() {
                    region_edges[region].push((ring[i], ring[(i + 1) % ring.len()]));
                }
                let xy: Vec<[f64; 2]> = ring.iter().map(|&v| verts[v]).collect();
                let ll: Vec<[f64; 2]> = ring.iter().map(|&v| verts_ll[v]).collect();
                cells.push(Cell {
                    region,
                    polygon: polygon_ll(&ll),
                    bbox_ll: bbox(&ll),
                    bbox_xy: bbox(&xy),
                    area_m2: shoelace(&xy),
                });
            }
        }

        let rings = region_edges
            .iter()
            .map(|edges| {
                union_rings(edges)
                    .into_iter()
                    .map(|ids| {
                        let mut ring: Vec<[f64; 2]> = ids.iter().map(|&v| verts_ll[v]).collect();
                        ring.push(ring[0]);
                        ring
                    })
                    .collect()
            })
            .collect();
        Layout {
            regions,
            cells,
            rings,
        }
    }

    /// The cell containing a WGS84 point (strictly inside), if any.
    pub fn locate(&self, ll: [f64; 2]) -> Option<usize> {
        let p = Point::new(ll[0], ll[1]);
        self.cells.iter().position(|c| {
            ll[0] > c.bbox_ll[0]
                && ll[0] < c.bbox_ll[2]
                && ll[1] > c.bbox_ll[1]
                && ll[1] < c.bbox_ll[3]
                && c.polygon.contains(&p)
        })
    }

    /// The outline of a region as a polygon: its longest ring.
    pub fn outline(&self, region: usize) -> Polygon<f64> {
        let ring = self.rings[region]
            .iter()
            .max_by_key(|r| r.len())
            .cloned()
            .unwrap_or_default();
        polygon_ll(&ring)
    }
}

fn polygon_ll(ring: &[[f64; 2]]) -> Polygon<f64> {
    let coords: Vec<Coord<f64>> = ring.iter().map(|p| Coord { x: p[0], y: p[1] }).collect();
    Polygon::new(LineString::new(coords), vec![])
}

fn bbox(pts: &[[f64; 2]]) -> [f64; 4] {
    pts.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        },
    )
}

fn shoelace(pts: &[[f64; 2]]) -> f64 {
    let n = pts.len();
    let twice: f64 = (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    twice.abs() / 2.0
}

/// Boundary rings of a union of cells given as directed (counter-clockwise) edges over shared
/// vertex ids: inner edges appear once in each direction and cancel; the rest chain into rings.
fn union_rings(edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let all: std::collections::BTreeSet<(usize, usize)> = edges.iter().copied().collect();
    let mut next: BTreeMap<usize, usize> = edges
        .iter()
        .filter(|(a, b)| !all.contains(&(*b, *a)))
        .map(|&(a, b)| (a, b))
        .collect();
    let mut rings = Vec::new();
    while let Some((&start, _)) = next.iter().next() {
        let mut ring = vec![start];
        let mut at = start;
        while let Some(to) = next.remove(&at) {
            if to == start {
                break;
            }
            ring.push(to);
            at = to;
        }
        rings.push(ring);
    }
    rings
}

/// Which way a river runs: its centre line is `y = f(x)` (east–west) or `x = f(y)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    EastWest,
    NorthSouth,
}

/// A river barrier: a band of `half_width_m` either side of a centre line. Streets cross it only
/// on bridges.
#[derive(Debug, Clone)]
pub struct River {
    pub axis: Axis,
    /// Centre line control points `[along, across]` in metres, `along` ascending; the river
    /// exists only between the first and last `along`.
    ctrl: Vec<[f64; 2]>,
    /// `[amplitude_m, wavelength_m, phase]` meanders added to the centre line.
    wiggles: Vec<[f64; 3]>,
    pub half_width_m: f64,
    /// Number of bridges to build.
    pub bridges: usize,
    across_min: f64,
    across_max: f64,
}

impl River {
    pub fn new(
        axis: Axis,
        ctrl: Vec<[f64; 2]>,
        wiggles: Vec<[f64; 3]>,
        half_width_m: f64,
        bridges: usize,
    ) -> River {
        let amp: f64 = wiggles.iter().map(|w| w[0].abs()).sum();
        let lo = ctrl.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
        let hi = ctrl.iter().map(|p| p[1]).fold(f64::NEG_INFINITY, f64::max);
        River {
            axis,
            ctrl,
            wiggles,
            half_width_m,
            bridges,
            across_min: lo - amp - half_width_m,
            across_max: hi + amp + half_width_m,
        }
    }

    /// `(along, across)` coordinates of a point.
    fn split(&self, xy: [f64; 2]) -> (f64, f64) {
        match self.axis {
            Axis::EastWest => (xy[0], xy[1]),
            Axis::NorthSouth => (xy[1], xy[0]),
        }
    }

    /// Centre line position across the river at `along`, if the river reaches there.
    fn centre(&self, along: f64) -> Option<f64> {
        let first = self.ctrl.first()?;
        let last = self.ctrl.last()?;
        if along < first[0] || along > last[0] {
            return None;
        }
        let i = self
            .ctrl
            .partition_point(|p| p[0] <= along)
            .clamp(1, self.ctrl.len() - 1);
        let (a, b) = (self.ctrl[i - 1], self.ctrl[i]);
        let t = if b[0] > a[0] {
            (along - a[0]) / (b[0] - a[0])
        } else {
            0.0
        };
        let base = a[1] + (b[1] - a[1]) * t;
        let wiggle: f64 = self
            .wiggles
            .iter()
            .map(|w| w[0] * (std::f64::consts::TAU * along / w[1] + w[2]).sin())
            .sum();
        Some(base + wiggle)
    }

    /// Signed distance across the river from its centre line (metres), if the river reaches
    /// this point's `along` position.
    pub fn offset(&self, xy: [f64; 2]) -> Option<f64> {
        let (along, across) = self.split(xy);
        self.centre(along).map(|c| across - c)
    }

    /// Whether a point lies in the band widened by `margin_m`.
    pub fn in_band(&self, xy: [f64; 2], margin_m: f64) -> bool {
        let (_, across) = self.split(xy);
        if across < self.across_min - margin_m || across > self.across_max + margin_m {
            return false;
        }
        self.offset(xy)
            .is_some_and(|o| o.abs() < self.half_width_m + margin_m)
    }

    /// Whether a polyline touches the band widened by `margin_m`, sampled every `step_m`.
    pub fn polyline_hits_band(&self, pts: &[[f64; 2]], margin_m: f64, step_m: f64) -> bool {
        let lo = self.across_min - margin_m;
        let hi = self.across_max + margin_m;
        let (min_a, max_a) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |m, &p| {
                let a = self.split(p).1;
                (m.0.min(a), m.1.max(a))
            });
        if max_a < lo || min_a > hi {
            return false;
        }
        pts.windows(2).any(|w| {
            let (a, b) = (w[0], w[1]);
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
            let n = (len / step_m).ceil().max(1.0) as usize;
            (0..=n).any(|s| {
                let t = s as f64 / n as f64;
                self.in_band(
                    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t],
                    margin_m,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_two_cells_is_one_ring() {
        // Two unit squares side by side: 0-1-2 bottom, 3-4-5 top.
        let edges = [
            (0, 1),
            (1, 4),
            (4, 3),
            (3, 0),
            (1, 2),
            (2, 5),
            (5, 4),
            (4, 1),
        ];
        let rings = union_rings(&edges);
        assert_eq!(rings.len(), 1);
        assert_eq!(rings[0].len(), 6);
    }

    #[test]
    fn river_band() {
        let r = River::new(
            Axis::EastWest,
            vec![[-100.0, 0.0], [100.0, 0.0]],
            vec![],
            10.0,
            1,
        );
        assert!(r.in_band([0.0, 5.0], 0.0));
        assert!(!r.in_band([0.0, 15.0], 0.0));
        assert!(!r.in_band([200.0, 0.0], 0.0));
        assert!(r.polyline_hits_band(&[[0.0, -50.0], [0.0, 50.0]], 0.0, 2.0));
        assert!(!r.polyline_hits_band(&[[0.0, 20.0], [50.0, 50.0]], 0.0, 2.0));
    }
}
