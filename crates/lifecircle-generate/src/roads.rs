//! The synthetic street network: a warped, jittered lattice of streets cut to the area, with main
//! roads every few lines, footpaths across some blocks, rivers crossed only on a few bridges and
//! an elevated motorway that passes over the streets without joining them (except at its ramps).
//!
//! Every segment runs from one lattice node to the next, so segments meet only at shared,
//! bit-identical endpoints and a routing graph can be built by joining equal coordinates.

use super::layout::{Axis, Frame, Layout, River};
use super::names::{self, Road};
use rand::Rng;

/// Extra clearance (metres) kept between the river band and any street, so that a check of the
/// written (rounded) coordinates never finds a street touching the band.
pub const RIVER_MARGIN_M: f64 = 6.0;
/// A bridge spans the river band plus at most this much (metres) of bank on both sides.
const MAX_BRIDGE_APPROACH_M: f64 = 600.0;
/// Sampling step (metres) when testing a street against a river band.
const RIVER_STEP_M: f64 = 2.0;

/// Spacing of the lattice lines along one axis: `min_m` at `dense_at_m`, growing linearly to
/// `max_m` at `ramp_m` away from it.
#[derive(Debug, Clone, Copy)]
pub struct AxisSpacing {
    pub min_m: f64,
    pub max_m: f64,
    pub dense_at_m: f64,
    pub ramp_m: f64,
}

impl AxisSpacing {
    fn at(&self, p: f64) -> f64 {
        let t = ((p - self.dense_at_m).abs() / self.ramp_m).clamp(0.0, 1.0);
        self.min_m + (self.max_m - self.min_m) * t
    }
}

/// Where the road names come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoadNames {
    /// Real Changning street names, main roads roughly in their real order.
    Changning,
    /// Generated Shanghai-style names.
    City,
}

/// An elevated motorway following a main east–west road, offset sideways.
#[derive(Debug, Clone)]
pub struct MotorwaySpec {
    pub zh: &'static str,
    pub en: &'static str,
    /// Follow the main row carrying this road name, if there is one...
    pub follow_road: Option<&'static str>,
    /// ...else the main row nearest this `y`.
    pub near_y_m: f64,
    pub x_from_m: f64,
    pub x_to_m: f64,
    pub offset_m: f64,
}

#[derive(Debug, Clone)]
pub struct RoadSpec {
    pub x_range_m: (f64, f64),
    pub y_range_m: (f64, f64),
    pub x_spacing: AxisSpacing,
    pub y_spacing: AxisSpacing,
    /// Every n-th lattice line is a main road.
    pub main_every: usize,
    /// Share of minor street segments left out (dead ends, irregular blocks).
    pub minor_drop_p: f64,
    /// Share of blocks crossed by a diagonal footway or path.
    pub diagonal_p: f64,
    /// Smooth displacement bending the lattice lines.
    pub warp_amp_m: f64,
    pub warp_wavelength_m: (f64, f64),
    pub names: RoadNames,
    pub motorway: Option<MotorwaySpec>,
    /// Components with fewer segments than this are dropped.
    pub min_component: usize,
}

/// One LineString of the network, from node `a` to node `b`.
#[derive(Debug, Clone)]
pub struct Segment {
    pub a: u32,
    pub b: u32,
    /// WGS84 vertices; the first and last are the nodes' coordinates.
    pub coords: Vec<[f64; 2]>,
    pub highway: &'static str,
    /// Index into [`Network::roads`].
    pub road: Option<u32>,
}

/// A street crossing of two named roads (for bus stop and station names).
#[derive(Debug, Clone, Copy)]
pub struct Crossing {
    pub node: u32,
    pub row_road: u32,
    pub col_road: u32,
    pub main: bool,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub roads: Vec<Road>,
    pub node_xy: Vec<[f64; 2]>,
    pub segments: Vec<Segment>,
    pub crossings: Vec<Crossing>,
}

#[derive(Debug, Clone, Copy)]
struct Line {
    main: bool,
    highway: &'static str,
    road: Option<u32>,
}

fn axis_positions(rng: &mut impl Rng, range: (f64, f64), spacing: &AxisSpacing) -> Vec<f64> {
    let mut v = Vec::new();
    let mut p = range.0;
    while p <= range.1 {
        v.push(p);
        p += spacing.at(p) * rng.random_range(0.85..1.15);
    }
    v
}

fn sym(rng: &mut impl Rng) -> f64 {
    rng.random::<f64>() * 2.0 - 1.0
}

struct Warp {
    amp: f64,
    k: [f64; 4],
    phase: [f64; 4],
}

impl Warp {
    fn new(rng: &mut impl Rng, amp: f64, wl: (f64, f64)) -> Warp {
        let tau = std::f64::consts::TAU;
        Warp {
            amp,
            k: [
                tau / wl.0,
                tau / wl.1,
                tau / (wl.0 * 1.7),
                tau / (wl.1 * 1.3),
            ],
            phase: [(); 4].map(|_| rng.random::<f64>() * tau),
        }
    }

    /// Displaced position of a lattice point: columns bend with `y`, rows with `x`.
    fn at(&self, x: f64, y: f64) -> [f64; 2] {
        let a = self.amp;
        [
            x + a * (self.k[0] * y + self.phase[0]).sin()
                + 0.5 * a * (self.k[2] * (x + y) + self.phase[2]).sin(),
            y + a * (self.k[1] * x + self.phase[1]).sin()
                + 0.5 * a * (self.k[3] * (x - y) + self.phase[3]).sin(),
        ]
    }
}

/// Source of street names for lattice lines.
enum NamePool {
    /// A fixed list, handed out in turn (cycling when exhausted).
    Fixed { names: Vec<Road>, next: usize },
    /// Freshly generated names.
    City,
}

impl NamePool {
    fn take(&mut self, rng: &mut impl Rng) -> Option<Road> {
        match self {
            NamePool::Fixed { names, next } => {
                let road = names.get(*next % names.len().max(1)).cloned();
                *next += 1;
                road
            }
            NamePool::City => Some(names::city_road(rng)),
        }
    }
}

/// Classes and names of the lattice lines of one direction. `main_names` are given in line
/// order (west→east for columns); `reverse` assigns them from the last line backwards (rows are
/// stored south→north, names listed north→south).
fn make_lines(
    rng: &mut impl Rng,
    n: usize,
    main_every: usize,
    main_names: &[Road],
    reverse: bool,
    pool: &mut NamePool,
    roads: &mut Vec<Road>,
) -> Vec<Line> {
    let offset = rng.random_range(0..main_every);
    let mut lines: Vec<Line> = (0..n)
        .map(|i| {
            let main = i % main_every == offset;
            let highway = match (main, rng.random_bool(0.5), rng.random_bool(0.3)) {
                (true, true, _) => "primary",
                (true, false, _) => "secondary",
                (false, _, true) => "tertiary",
                (false, _, false) => "residential",
            };
            Line {
                main,
                highway,
                road: None,
            }
        })
        .collect();
    let mut mains: Vec<usize> = (0..n).filter(|&i| lines[i].main).collect();
    if reverse {
        mains.reverse();
    }
    let (k, len) = (mains.len(), main_names.len());
    for (rank, &i) in mains.iter().enumerate() {
        let road = if len == 0 {
            pool.take(rng)
        } else if k <= len {
            // Spread the names evenly over the main lines, keeping their order.
            let idx = if k > 1 {
                (rank * (len - 1) + (k - 1) / 2) / (k - 1)
            } else {
                0
            };
            Some(main_names[idx].clone())
        } else if rank < len {
            Some(main_names[rank].clone())
        } else {
            pool.take(rng)
        };
        if let Some(road) = road {
            roads.push(road);
            lines[i].road = Some((roads.len() - 1) as u32);
        }
    }
    for line in lines.iter_mut().filter(|l| !l.main) {
        if rng.random_bool(0.62)
            && let Some(road) = pool.take(rng)
        {
            roads.push(road);
            line.road = Some((roads.len() - 1) as u32);
        }
    }
    lines
}

/// The lattice nodes and what is needed to turn node pairs into segments.
struct Lattice<'a> {
    node_xy: Vec<[f64; 2]>,
    node_jit: Vec<[f64; 2]>,
    node_ll: Vec<[f64; 2]>,
    keep: Vec<bool>,
    warp: Warp,
    frame: &'a Frame,
    rivers: &'a [River],
}

impl Lattice<'_> {
    fn hits_river(&self, pts: &[[f64; 2]]) -> bool {
        self.rivers
            .iter()
            .any(|r| r.polyline_hits_band(pts, RIVER_MARGIN_M, RIVER_STEP_M))
    }

    /// The segment from node `a` to node `b` through the warped `mid_base`, bent sideways by
    /// `bend` (a fraction of its length), unless an end is dropped or it would cross a river.
    fn edge(
        &self,
        a: usize,
        b: usize,
        mid_base: [f64; 2],
        bend: f64,
        highway: &'static str,
        road: Option<u32>,
    ) -> Option<Segment> {
        if !self.keep[a] || !self.keep[b] {
            return None;
        }
        let (pa, pb) = (self.node_xy[a], self.node_xy[b]);
        let (ja, jb) = (self.node_jit[a], self.node_jit[b]);
        let m = self.warp.at(mid_base[0], mid_base[1]);
        let (dx, dy) = (pb[0] - pa[0], pb[1] - pa[1]);
        let mid = [
            m[0] + (ja[0] + jb[0]) / 2.0 - dy * bend,
            m[1] + (ja[1] + jb[1]) / 2.0 + dx * bend,
        ];
        if self.hits_river(&[pa, mid, pb]) {
            return None;
        }
        Some(Segment {
            a: a as u32,
            b: b as u32,
            coords: vec![self.node_ll[a], self.frame.lonlat(mid), self.node_ll[b]],
            highway,
            road,
        })
    }
}

/// Build the network over `layout`, avoiding `rivers` except on bridges.
pub fn build(
    spec: &RoadSpec,
    layout: &Layout,
    rivers: &[River],
    frame: &Frame,
    rng: &mut impl Rng,
) -> Network {
    let xs = axis_positions(rng, spec.x_range_m, &spec.x_spacing);
    let ys = axis_positions(rng, spec.y_range_m, &spec.y_spacing);
    let (nx, ny) = (xs.len(), ys.len());
    let node_id = |i: usize, j: usize| j * nx + i;

    // --- line names and classes
    let mut roads: Vec<Road> = Vec::new();
    let (main_ns, main_ew, mut pool) = match spec.names {
        RoadNames::Changning => {
            let mut minor = names::changning_minor();
            for i in (1..minor.len()).rev() {
                minor.swap(i, rng.random_range(0..=i));
            }
            (
                names::changning_main_ns(),
                names::changning_main_ew(),
                NamePool::Fixed {
                    names: minor,
                    next: 0,
                },
            )
        }
        RoadNames::City => (Vec::new(), Vec::new(), NamePool::City),
    };
    let cols = make_lines(
        rng,
        nx,
        spec.main_every,
        &main_ns,
        false,
        &mut pool,
        &mut roads,
    );
    let rows = make_lines(
        rng,
        ny,
        spec.main_every,
        &main_ew,
        true,
        &mut pool,
        &mut roads,
    );

    // --- nodes: warped lattice points; main lines get no jitter across them
    let warp = Warp::new(rng, spec.warp_amp_m, spec.warp_wavelength_m);
    let gap = |v: &[f64], i: usize| -> f64 {
        let l = if i > 0 {
            v[i] - v[i - 1]
        } else {
            f64::INFINITY
        };
        let r = if i + 1 < v.len() {
            v[i + 1] - v[i]
        } else {
            f64::INFINITY
        };
        l.min(r)
    };
    let mut node_xy = Vec::with_capacity(nx * ny);
    let mut node_jit = Vec::with_capacity(nx * ny);
    for (j, y) in ys.iter().enumerate() {
        for (i, x) in xs.iter().enumerate() {
            let jx = if cols[i].main {
                0.0
            } else {
                sym(rng) * 0.12 * gap(&xs, i)
            };
            let jy = if rows[j].main {
                0.0
            } else {
                sym(rng) * 0.12 * gap(&ys, j)
            };
            let p = warp.at(*x, *y);
            node_xy.push([p[0] + jx, p[1] + jy]);
            node_jit.push([jx, jy]);
        }
    }
    let node_ll: Vec<[f64; 2]> = node_xy.iter().map(|&p| frame.lonlat(p)).collect();
    let keep: Vec<bool> = node_xy
        .iter()
        .zip(&node_ll)
        .map(|(&xy, &ll)| {
            layout.locate(ll).is_some() && !rivers.iter().any(|r| r.in_band(xy, RIVER_MARGIN_M))
        })
        .collect();
    let lattice = Lattice {
        node_xy,
        node_jit,
        node_ll,
        keep,
        warp,
        frame,
        rivers,
    };

    // --- lattice edges; the random draws do not depend on which nodes are kept
    let mut segments: Vec<Segment> = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let here = node_id(i, j);
            if i + 1 < nx {
                let line = rows[j];
                let dropped = !line.main && rng.random_bool(spec.minor_drop_p);
                let bend = if line.main { 0.0 } else { sym(rng) * 0.04 };
                let mid = [(xs[i] + xs[i + 1]) / 2.0, ys[j]];
                if !dropped {
                    segments.extend(lattice.edge(
                        here,
                        node_id(i + 1, j),
                        mid,
                        bend,
                        line.highway,
                        line.road,
                    ));
                }
            }
            if j + 1 < ny {
                let line = cols[i];
                let dropped = !line.main && rng.random_bool(spec.minor_drop_p);
                let bend = if line.main { 0.0 } else { sym(rng) * 0.04 };
                let mid = [xs[i], (ys[j] + ys[j + 1]) / 2.0];
                if !dropped {
                    segments.extend(lattice.edge(
                        here,
                        node_id(i, j + 1),
                        mid,
                        bend,
                        line.highway,
                        line.road,
                    ));
                }
            }
            if i + 1 < nx && j + 1 < ny && rng.random_bool(spec.diagonal_p) {
                let (a, b) = if rng.random_bool(0.5) {
                    (here, node_id(i + 1, j + 1))
                } else {
                    (node_id(i + 1, j), node_id(i, j + 1))
                };
                let highway = if rng.random_bool(0.7) {
                    "footway"
                } else {
                    "path"
                };
                let bend = sym(rng) * 0.05;
                let mid = [(xs[i] + xs[i + 1]) / 2.0, (ys[j] + ys[j + 1]) / 2.0];
                segments.extend(lattice.edge(a, b, mid, bend, highway, None));
            }
        }
    }

    // --- bridges: main lines crossing a river, joined straight across the band
    for (ri, river) in rivers.iter().enumerate() {
        let (lines, n_along) = match river.axis {
            Axis::EastWest => (&cols, ny),
            Axis::NorthSouth => (&rows, nx),
        };
        let mut candidates: Vec<(usize, usize, Line)> = Vec::new();
        for (line_idx, line) in lines.iter().enumerate().filter(|(_, l)| l.main) {
            let node_at = |s: usize| match river.axis {
                Axis::EastWest => node_id(line_idx, s),
                Axis::NorthSouth => node_id(s, line_idx),
            };
            let kept: Vec<usize> = (0..n_along)
                .map(node_at)
                .filter(|&n| lattice.keep[n])
                .collect();
            for w in kept.windows(2) {
                let (a, b) = (w[0], w[1]);
                let (pa, pb) = (lattice.node_xy[a], lattice.node_xy[b]);
                let (Some(oa), Some(ob)) = (river.offset(pa), river.offset(pb)) else {
                    continue;
                };
                // Consecutive kept nodes on opposite banks, with only the band between them.
                let other_river = rivers.iter().enumerate().any(|(k, r)| {
                    k != ri && r.polyline_hits_band(&[pa, pb], RIVER_MARGIN_M, RIVER_STEP_M)
                });
                let span_m = ((pb[0] - pa[0]).powi(2) + (pb[1] - pa[1]).powi(2)).sqrt();
                let short = span_m <= 2.0 * river.half_width_m + MAX_BRIDGE_APPROACH_M;
                if short && oa.signum() != ob.signum() && !other_river {
                    candidates.push((a, b, *line));
                }
            }
        }
        let n = river.bridges.min(candidates.len());
        for k in 0..n {
            let (a, b, line) = candidates[(2 * k + 1) * candidates.len() / (2 * n)];
            let (pa, pb) = (lattice.node_xy[a], lattice.node_xy[b]);
            let mid = [(pa[0] + pb[0]) / 2.0, (pa[1] + pb[1]) / 2.0];
            segments.push(Segment {
                a: a as u32,
                b: b as u32,
                coords: vec![lattice.node_ll[a], frame.lonlat(mid), lattice.node_ll[b]],
                highway: line.highway,
                road: line.road,
            });
        }
    }

    let Lattice {
        mut node_xy,
        mut node_ll,
        keep,
        ..
    } = lattice;

    // --- the elevated motorway, with ramps down to the road beneath it
    if let Some(mw) = &spec.motorway {
        let follow = (0..ny).find(|&j| {
            rows[j].main
                && mw
                    .follow_road
                    .is_some_and(|name| rows[j].road.is_some_and(|r| roads[r as usize].zh == name))
        });
        let nearest = (0..ny).filter(|&j| rows[j].main).min_by(|&a, &b| {
            (ys[a] - mw.near_y_m)
                .abs()
                .total_cmp(&(ys[b] - mw.near_y_m).abs())
        });
        if let Some(j) = follow.or(nearest) {
            roads.push(Road {
                zh: mw.zh.to_string(),
                en: mw.en.to_string(),
                base_zh: mw.zh.to_string(),
                base_en: mw.en.to_string(),
            });
            let road = Some((roads.len() - 1) as u32);
            let lifted = |xy: &[[f64; 2]], n: usize| [xy[n][0], xy[n][1] + mw.offset_m];
            // Runs of consecutive usable nodes along the row.
            let mut runs: Vec<Vec<usize>> = Vec::new();
            let mut run: Vec<usize> = Vec::new();
            for (i, x) in xs.iter().enumerate() {
                let n = node_id(i, j);
                let ok = *x >= mw.x_from_m
                    && *x <= mw.x_to_m
                    && keep[n]
                    && !rivers
                        .iter()
                        .any(|r| r.in_band(lifted(&node_xy, n), RIVER_MARGIN_M));
                if ok {
                    run.push(n);
                } else if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
            runs.push(run);
            for run in runs.into_iter().filter(|r| r.len() >= 3) {
                let first = node_xy.len();
                for &n in &run {
                    let up = lifted(&node_xy, n);
                    node_xy.push(up);
                    node_ll.push(frame.lonlat(up));
                }
                let last = node_xy.len() - 1;
                let mut k = first;
                while k < last {
                    let end = (k + 3).min(last);
                    segments.push(Segment {
                        a: k as u32,
                        b: end as u32,
                        coords: node_ll[k..=end].to_vec(),
                        highway: "motorway",
                        road,
                    });
                    k = end;
                }
                for r in [0, run.len() / 2, run.len() - 1] {
                    let (top, ground) = (first + r, run[r]);
                    segments.push(Segment {
                        a: top as u32,
                        b: ground as u32,
                        coords: vec![node_ll[top], node_ll[ground]],
                        highway: "motorway",
                        road,
                    });
                }
            }
        }
    }

    // --- drop tiny disconnected pieces
    let mut uf = UnionFind::new(node_xy.len());
    for s in &segments {
        uf.union(s.a as usize, s.b as usize);
    }
    let mut comp_edges = vec![0usize; node_xy.len()];
    for s in &segments {
        comp_edges[uf.find(s.a as usize)] += 1;
    }
    segments.retain(|s| comp_edges[uf.find(s.a as usize)] >= spec.min_component);

    // --- named street crossings (bus stops, stations)
    let mut degree = vec![0u8; node_xy.len()];
    for s in &segments {
        degree[s.a as usize] = degree[s.a as usize].saturating_add(1);
        degree[s.b as usize] = degree[s.b as usize].saturating_add(1);
    }
    let mut crossings = Vec::new();
    for (j, row) in rows.iter().enumerate() {
        for (i, col) in cols.iter().enumerate() {
            let n = node_id(i, j);
            if let (Some(row_road), Some(col_road), true) = (row.road, col.road, degree[n] >= 3) {
                crossings.push(Crossing {
                    node: n as u32,
                    row_road,
                    col_road,
                    main: row.main && col.main,
                });
            }
        }
    }

    Network {
        roads,
        node_xy,
        segments,
        crossings,
    }
}

struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let p = self.parent[x] as usize;
            self.parent[x] = self.parent[p];
            x = p;
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb) as u32;
        }
    }
}
