//! The walking graph: street LineStrings → a [`WalkGraph`], and shortest walks over it.
//!
//! Nodes are the streets' vertices, merged where two streets share a vertex (bit-identical
//! coordinates); edges are the straight pieces between consecutive vertices, with their length in
//! ground metres (haversine). Streets of excluded classes (motorways, …) are left out, so a
//! motorway passing over a street does not connect to it. Places off the network are [`Snap`]ped
//! to the nearest point of the nearest edge; the off-network leg is walked in a straight line.
//!
//! Street data digitised line by line rarely shares vertices where streets meet: a street ends
//! half a metre beside the one it joins. With a join tolerance, every line end is joined to the
//! nearest point of another line within that distance (the other line is split there, and a
//! connector edge of the gap's length added); ends near each other join the same way. Lines that
//! merely cross, with no end there, stay apart: a bridge passes over the street below.
//! [`NetworkCheck`] counts the connected components with and without joining, for `check`.
//!
//! [`Search`] is Dijkstra from any number of seeds with a distance cut-off and a visitor that can
//! stop early; it is used from the facilities (the field), from one place (`/coverage/at`) and
//! from candidate sites (`/coverage/suggest`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rayon::prelude::*;
use rstar::primitives::Line;

use super::field::Frame;
use super::segments::SegmentIndex;
use crate::dataset::Road;
use crate::geom;

/// One street piece between two nodes.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub u: u32,
    pub v: u32,
    pub len_m: f32,
}

/// Where a place meets the network: a point `along_m` from `u` on `edge`, `off_m` away from the
/// place itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snap {
    pub edge: u32,
    pub along_m: f32,
    pub off_m: f32,
}

/// The walkable street network.
pub struct WalkGraph {
    pub edges: Vec<Edge>,
    /// `arcs[offsets[n]..offsets[n + 1]]` are the edges at node `n`, in edge order (the
    /// neighbour is the edge's other end).
    offsets: Vec<u32>,
    arcs: Vec<u32>,
    /// Connected component of each node; empty when there is one component (all 0).
    component: Vec<u32>,
    n_components: usize,
    node_lonlat: Vec<(f64, f64)>,
    /// The edges' segments in `frame`, for snapping.
    segments: SegmentIndex,
    frame: Frame,
    n_joins: usize,
}

impl WalkGraph {
    /// Builds the graph from `roads`, leaving out those whose `highway` class is in `excluded`
    /// (compared case-insensitively), joining line ends within `join_tolerance_m` ground metres
    /// of another line (0: only shared vertices join). Positions are indexed in `frame`.
    pub fn build<'a>(
        roads: impl IntoIterator<Item = &'a Road>,
        excluded: &[String],
        frame: Frame,
        join_tolerance_m: f64,
    ) -> WalkGraph {
        let mut node_of: HashMap<(u64, u64), u32> = HashMap::new();
        let mut node_lonlat: Vec<(f64, f64)> = Vec::new();
        let mut edges: Vec<Edge> = Vec::new();
        let mut line_ends: Vec<u32> = Vec::new();
        let mut node = |lon: f64, lat: f64| -> u32 {
            *node_of
                .entry((lon.to_bits(), lat.to_bits()))
                .or_insert_with(|| {
                    node_lonlat.push((lon, lat));
                    (node_lonlat.len() - 1) as u32
                })
        };
        for road in roads {
            let class = road.highway.trim().to_ascii_lowercase();
            if excluded.iter().any(|e| e.eq_ignore_ascii_case(&class)) {
                continue;
            }
            let n_edges_before = edges.len();
            let mut first = None;
            let mut prev: Option<(u32, (f64, f64))> = None;
            for &(lon, lat) in &road.coords {
                let n = node(lon, lat);
                first.get_or_insert(n);
                if let Some((p, p_lonlat)) = prev
                    && p != n
                {
                    let len_m = geom::haversine_m(p_lonlat, (lon, lat)) as f32;
                    edges.push(Edge { u: p, v: n, len_m });
                }
                prev = Some((n, (lon, lat)));
            }
            if edges.len() > n_edges_before
                && let (Some(first), Some((last, _))) = (first, prev)
            {
                line_ends.extend([first, last]);
            }
        }
        let mut segments = segment_index(&node_lonlat, &edges, frame);
        let n_joins = if join_tolerance_m > 0.0 {
            join_line_ends(
                &mut node_lonlat,
                &mut edges,
                line_ends,
                &segments,
                frame,
                join_tolerance_m,
            )
        } else {
            0
        };
        if n_joins > 0 {
            // Split edges and connectors: index the edges as they now are.
            segments = segment_index(&node_lonlat, &edges, frame);
        }
        // Both grew piece by piece; the graph lives as long as the snapshot.
        node_lonlat.shrink_to_fit();
        edges.shrink_to_fit();
        let n_nodes = node_lonlat.len();
        let mut degree = vec![0u32; n_nodes + 1];
        for e in &edges {
            degree[e.u as usize] += 1;
            degree[e.v as usize] += 1;
        }
        let mut offsets = vec![0u32; n_nodes + 1];
        for n in 0..n_nodes {
            offsets[n + 1] = offsets[n] + degree[n];
        }
        let mut fill = offsets.clone();
        let mut arcs = vec![0u32; offsets[n_nodes] as usize];
        for (edge_idx, e) in edges.iter().enumerate() {
            arcs[fill[e.u as usize] as usize] = edge_idx as u32;
            fill[e.u as usize] += 1;
            arcs[fill[e.v as usize] as usize] = edge_idx as u32;
            fill[e.v as usize] += 1;
        }
        let (mut component, n_components) = components(n_nodes, &edges);
        if n_components <= 1 {
            component = Vec::new();
        }
        WalkGraph {
            edges,
            offsets,
            arcs,
            component,
            n_components,
            node_lonlat,
            segments,
            frame,
            n_joins,
        }
    }

    /// Line ends joined to another line (or to another end) by the join tolerance.
    pub fn n_joins(&self) -> usize {
        self.n_joins
    }

    /// The connected components: how many, their lengths, and the largest ones but the first.
    pub fn component_summary(&self, n_listed: usize) -> ComponentSummary {
        let mut length_m = vec![0f64; self.n_components];
        // Per component its longest edge: a point in the middle of it locates the component.
        let mut longest: Vec<Option<u32>> = vec![None; self.n_components];
        for (idx, e) in self.edges.iter().enumerate() {
            let c = self.node_component(e.u) as usize;
            length_m[c] += f64::from(e.len_m);
            if longest[c].is_none_or(|l| self.edges[l as usize].len_m < e.len_m) {
                longest[c] = Some(idx as u32);
            }
        }
        let mut order: Vec<usize> = (0..self.n_components)
            .filter(|&c| longest[c].is_some())
            .collect();
        order.sort_by(|&a, &b| length_m[b].total_cmp(&length_m[a]).then(a.cmp(&b)));
        let total_length_m: f64 = length_m.iter().sum();
        let components: Vec<ComponentInfo> = order
            .iter()
            .take(n_listed + 1)
            .map(|&c| {
                let edge = longest[c].expect("components with edges only");
                let (lon, lat) = self.point_on_edge(edge, 0.5);
                ComponentInfo {
                    length_m: length_m[c],
                    lon,
                    lat,
                }
            })
            .collect();
        ComponentSummary {
            n_components: order.len(),
            total_length_m,
            largest: components.first().cloned(),
            others: components.into_iter().skip(1).collect(),
        }
    }

    pub fn n_nodes(&self) -> usize {
        self.node_lonlat.len()
    }

    pub fn n_components(&self) -> usize {
        self.n_components
    }

    /// The `(neighbour, edge)` pairs of `node`.
    pub fn arcs(&self, node: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let n = node as usize;
        self.arcs[self.offsets[n] as usize..self.offsets[n + 1] as usize]
            .iter()
            .map(move |&edge| {
                let e = &self.edges[edge as usize];
                (if e.u == node { e.v } else { e.u }, edge)
            })
    }

    /// The edges at `node`.
    fn arc_edges(&self, node: u32) -> &[u32] {
        let n = node as usize;
        &self.arcs[self.offsets[n] as usize..self.offsets[n + 1] as usize]
    }

    /// Connected component of the edge `edge`.
    pub fn edge_component(&self, edge: u32) -> u32 {
        self.node_component(self.edges[edge as usize].u)
    }

    fn node_component(&self, node: u32) -> u32 {
        self.component.get(node as usize).copied().unwrap_or(0)
    }

    /// The nearest point of the network to `(lon, lat)` (the nearest segment, ties to the lowest
    /// edge index); `None` when the graph has no edges.
    pub fn snap(&self, lon: f64, lat: f64) -> Option<Snap> {
        let xy = self.frame.to_xy(lon, lat);
        self.snap_xy(xy, (lon, lat), None)
    }

    /// [`WalkGraph::snap`] at frame position `xy` (lon/lat `lonlat`); `hint`, the edge of a snap
    /// nearby, speeds the search up.
    fn snap_xy(&self, xy: [f64; 2], lonlat: (f64, f64), hint: Option<u32>) -> Option<Snap> {
        let (edge, _) =
            self.segments
                .nearest(xy, |e| self.segment(e), |_| true, f64::INFINITY, hint)?;
        Some(self.snap_onto(edge, xy, lonlat))
    }

    /// The snap of each of `n` places (`lonlat(k)`; `None`: not snapped), the same as
    /// [`WalkGraph::snap`] one by one: taken in Hilbert order in parallel runs, each query
    /// starting from the previous one's edge.
    pub fn snap_many(
        &self,
        n: usize,
        lonlat: impl Fn(usize) -> Option<(f64, f64)> + Sync,
    ) -> Vec<Option<Snap>> {
        /// Places per parallel run.
        const RUN: usize = 2048;
        let mut snaps = vec![None; n];
        if self.edges.is_empty() {
            return snaps;
        }
        let mut keyed: Vec<(u32, u32)> = (0..n)
            .into_par_iter()
            .filter_map(|k| {
                let (lon, lat) = lonlat(k)?;
                Some((
                    self.segments.hilbert_key(self.frame.to_xy(lon, lat)),
                    k as u32,
                ))
            })
            .collect();
        keyed.par_sort_unstable();
        let found: Vec<(u32, Snap)> = keyed
            .par_chunks(RUN)
            .flat_map_iter(|run| {
                let mut hint = None;
                run.iter()
                    .filter_map(|&(_, k)| {
                        let (lon, lat) = lonlat(k as usize)?;
                        let snap = self.snap_xy(self.frame.to_xy(lon, lat), (lon, lat), hint)?;
                        hint = Some(snap.edge);
                        Some((k, snap))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (k, snap) in found {
            snaps[k as usize] = Some(snap);
        }
        snaps
    }

    /// The snap of every cell centre of `grid` (same frame), the same as [`WalkGraph::snap`]
    /// cell by cell. Cells go in square blocks: the segments that may be nearest to any cell of a
    /// block are gathered once around its centre, and each cell picks among them; a block far
    /// from the streets (too many candidates) falls back to searching cell by cell.
    pub fn snap_cells(&self, grid: &super::field::Grid) -> Vec<Option<Snap>> {
        /// Cells per side of a block.
        const BLOCK: usize = 4;
        /// Beyond this many candidates a block's cells search on their own.
        const MAX_CANDIDATES: usize = 256;
        let mut snaps = vec![None; grid.n_cells()];
        if self.edges.is_empty() || grid.n_cols == 0 {
            return snaps;
        }
        let n_cols = grid.n_cols;
        snaps
            .par_chunks_mut(n_cols * BLOCK)
            .enumerate()
            .for_each(|(band, cells)| {
                let row0 = band * BLOCK;
                let rows = cells.len() / n_cols;
                let mut candidates = Vec::new();
                let mut hint = None;
                for col0 in (0..n_cols).step_by(BLOCK) {
                    let cols = BLOCK.min(n_cols - col0);
                    let (first, last) = (
                        grid.centre_xy(col0, row0),
                        grid.centre_xy(col0 + cols - 1, row0 + rows - 1),
                    );
                    let centre = [(first[0] + last[0]) / 2.0, (first[1] + last[1]) / 2.0];
                    // Every cell centre lies within `half` of the block's centre (the farthest
                    // are the corners).
                    let half = (last[0] - first[0]).hypot(last[1] - first[1]) / 2.0;
                    let gathered = self
                        .segments
                        .nearest(centre, |e| self.segment(e), |_| true, f64::INFINITY, hint)
                        .is_some_and(|(_, d2)| {
                            // A cell's nearest segment is within `d + half` of the cell, so
                            // within `d + 2·half` of the centre; a metre more for rounding.
                            self.segments.gather_within(
                                centre,
                                d2.sqrt() + 2.0 * half + 1.0,
                                &mut candidates,
                            ) && candidates.len() <= MAX_CANDIDATES
                        });
                    for row in 0..rows {
                        for col in col0..col0 + cols {
                            let xy = grid.centre_xy(col, row0 + row);
                            let cell = &mut cells[row * n_cols + col];
                            *cell = if gathered {
                                self.segments
                                    .nearest_among(xy, |e| self.segment(e), &candidates, hint)
                                    .map(|(edge, _)| {
                                        self.snap_onto(edge, xy, self.frame.to_lonlat(xy))
                                    })
                            } else {
                                self.snap_xy(xy, self.frame.to_lonlat(xy), hint)
                            };
                            hint = cell.map(|s| s.edge).or(hint);
                        }
                    }
                }
            });
        snaps
    }

    /// Frees what only speeds snapping in bulk up ([`WalkGraph::snap_many`],
    /// [`WalkGraph::snap_cells`]); later snaps are the same, a little slower.
    pub fn drop_bulk_snapping(&mut self) {
        self.segments.drop_bulk_copy();
    }

    /// Where the place at `(lon, lat)` meets `edge`: the snap [`WalkGraph::snap`] gives when
    /// `edge` is the nearest.
    pub fn snap_onto_edge(&self, edge: u32, lon: f64, lat: f64) -> Snap {
        self.snap_onto(edge, self.frame.to_xy(lon, lat), (lon, lat))
    }

    /// The segment of `edge` in the frame.
    fn segment(&self, edge: u32) -> Line<[f64; 2]> {
        segment_of(&self.node_lonlat, &self.edges, self.frame, edge)
    }

    /// Where the place at frame position `xy` (lon/lat `lonlat`) meets the segment of `edge_idx`.
    fn snap_onto(&self, edge_idx: u32, xy: [f64; 2], lonlat: (f64, f64)) -> Snap {
        let line = self.segment(edge_idx);
        let on_line = line.nearest_point(&xy);
        let (dx, dy) = (line.to[0] - line.from[0], line.to[1] - line.from[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((on_line[0] - line.from[0]) * dx + (on_line[1] - line.from[1]) * dy) / len2)
                .clamp(0.0, 1.0)
        } else {
            0.0
        };
        let edge = self.edges[edge_idx as usize];
        let snapped = self.point_on_edge(edge_idx, t);
        Snap {
            edge: edge_idx,
            along_m: (t * f64::from(edge.len_m)) as f32,
            off_m: geom::haversine_m(lonlat, snapped) as f32,
        }
    }

    /// lon/lat of the point a fraction `t` of the way from `u` to `v` along `edge`.
    pub fn point_on_edge(&self, edge: u32, t: f64) -> (f64, f64) {
        let e = self.edges[edge as usize];
        let (a, b) = (
            self.node_lonlat[e.u as usize],
            self.node_lonlat[e.v as usize],
        );
        (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
    }

    /// lon/lat of a snapped point.
    pub fn snap_lonlat(&self, snap: &Snap) -> (f64, f64) {
        let len = self.edges[snap.edge as usize].len_m;
        let t = if len > 0.0 {
            f64::from(snap.along_m / len)
        } else {
            0.0
        };
        self.point_on_edge(snap.edge, t)
    }

    /// The two seeds of a walk starting at `snap` after `extra_m` metres: the edge's ends at
    /// their distance along the edge.
    pub fn seeds(&self, snap: &Snap, extra_m: f32) -> [(u32, f32); 2] {
        let e = self.edges[snap.edge as usize];
        [
            (e.u, extra_m + snap.along_m),
            (e.v, extra_m + (e.len_m - snap.along_m).max(0.0)),
        ]
    }

    /// Distance along `edge` from its end `node` to the point `along_m` from `u`.
    pub fn along_from(&self, edge: u32, node: u32, along_m: f32) -> f32 {
        let e = self.edges[edge as usize];
        if node == e.u {
            along_m
        } else {
            (e.len_m - along_m).max(0.0)
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.edges.capacity() * std::mem::size_of::<Edge>()
            + self.offsets.capacity() * 4
            + self.arcs.capacity() * 4
            + self.component.capacity() * 4
            + self.node_lonlat.capacity() * 16
            + self.segments.heap_bytes()
    }
}

/// The segment of `edge` in `frame`.
fn segment_of(
    node_lonlat: &[(f64, f64)],
    edges: &[Edge],
    frame: Frame,
    edge: u32,
) -> Line<[f64; 2]> {
    let e = edges[edge as usize];
    let (a, b) = (node_lonlat[e.u as usize], node_lonlat[e.v as usize]);
    Line::new(frame.to_xy(a.0, a.1), frame.to_xy(b.0, b.1))
}

/// The edges' segments in `frame`, indexed by edge.
fn segment_index(node_lonlat: &[(f64, f64)], edges: &[Edge], frame: Frame) -> SegmentIndex {
    SegmentIndex::build(edges.len(), |e| segment_of(node_lonlat, edges, frame, e))
}

/// Joins every line end in `line_ends` to the nearest point, within `tolerance_m`, of an edge not
/// touching it: onto that edge's end node when the nearest point is (within a centimetre) one,
/// otherwise onto a new node splitting the edge there. Adds one connector edge per join, of the
/// gap's ground length, and returns the number of joins. Deterministic: ends are taken in node
/// order, ties go to the lower edge index.
fn join_line_ends(
    node_lonlat: &mut Vec<(f64, f64)>,
    edges: &mut Vec<Edge>,
    mut line_ends: Vec<u32>,
    index: &SegmentIndex,
    frame: Frame,
    tolerance_m: f64,
) -> usize {
    /// Closer than this to an edge's end node, a join goes to that node instead of splitting.
    const ON_NODE_M: f64 = 0.01;
    line_ends.sort_unstable();
    line_ends.dedup();
    let xy_of = |node_lonlat: &[(f64, f64)], n: u32| {
        let (lon, lat) = node_lonlat[n as usize];
        frame.to_xy(lon, lat)
    };
    // (edge, fraction along it, new node) for every split, and the connectors to add.
    let mut splits: Vec<(u32, f64, u32)> = Vec::new();
    let mut connectors: Vec<(u32, u32)> = Vec::new();
    let mut joined: std::collections::HashSet<(u32, u32)> = std::collections::HashSet::new();
    for &end in &line_ends {
        let xy = xy_of(node_lonlat, end);
        let nearest = index.nearest(
            xy,
            |e| segment_of(node_lonlat, edges, frame, e),
            |e| {
                let e = edges[e as usize];
                e.u != end && e.v != end
            },
            tolerance_m * tolerance_m,
            None,
        );
        let Some((segment, _)) = nearest else {
            continue;
        };
        let line = segment_of(node_lonlat, edges, frame, segment);
        let on_line = line.nearest_point(&xy);
        let e = edges[segment as usize];
        let dist =
            |a: [f64; 2], b: [f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let target = if dist(on_line, line.from) <= ON_NODE_M {
            e.u
        } else if dist(on_line, line.to) <= ON_NODE_M {
            e.v
        } else {
            let t = dist(on_line, line.from) / dist(line.to, line.from);
            let (a, b) = (node_lonlat[e.u as usize], node_lonlat[e.v as usize]);
            node_lonlat.push((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
            let split_node = (node_lonlat.len() - 1) as u32;
            splits.push((segment, t, split_node));
            split_node
        };
        if joined.insert((end.min(target), end.max(target))) {
            connectors.push((end, target));
        }
    }
    splits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    for chunk in splits.chunk_by(|a, b| a.0 == b.0) {
        let edge_idx = chunk[0].0 as usize;
        let Edge { u, v, .. } = edges[edge_idx];
        let chain: Vec<u32> = std::iter::once(u)
            .chain(chunk.iter().map(|s| s.2))
            .chain(std::iter::once(v))
            .collect();
        for (i, pair) in chain.windows(2).enumerate() {
            let len_m =
                geom::haversine_m(node_lonlat[pair[0] as usize], node_lonlat[pair[1] as usize])
                    as f32;
            let piece = Edge {
                u: pair[0],
                v: pair[1],
                len_m,
            };
            if i == 0 {
                edges[edge_idx] = piece;
            } else {
                edges.push(piece);
            }
        }
    }
    for &(a, b) in &connectors {
        let len_m = geom::haversine_m(node_lonlat[a as usize], node_lonlat[b as usize]) as f32;
        edges.push(Edge { u: a, v: b, len_m });
    }
    connectors.len()
}

/// The connected components of a walking graph, for `check`.
#[derive(Debug, Clone)]
pub struct ComponentSummary {
    /// Components holding at least one edge.
    pub n_components: usize,
    pub total_length_m: f64,
    pub largest: Option<ComponentInfo>,
    /// The largest components after the largest, longest first.
    pub others: Vec<ComponentInfo>,
}

/// One connected component: its street length and a point on it.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub length_m: f64,
    pub lon: f64,
    pub lat: f64,
}

impl ComponentSummary {
    /// Share of the total street length in the largest component (1 for an empty network).
    pub fn largest_share(&self) -> f64 {
        match &self.largest {
            Some(c) if self.total_length_m > 0.0 => c.length_m / self.total_length_m,
            _ => 1.0,
        }
    }
}

/// The walking network's components without joining and with the configured join tolerance.
#[derive(Debug, Clone)]
pub struct NetworkCheck {
    pub join_tolerance_m: f64,
    pub n_joins: usize,
    pub before: ComponentSummary,
    pub after: ComponentSummary,
}

impl NetworkCheck {
    /// Components listed after the largest.
    pub const N_LISTED: usize = 10;

    /// Builds the walking graph of `roads` twice, without and with joining, in a frame at the
    /// roads' centre.
    pub fn of(roads: &[Road], excluded: &[String], join_tolerance_m: f64) -> NetworkCheck {
        let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(lon, lat) in roads.iter().flat_map(|r| r.coords.iter()) {
            (w, s, e, n) = (w.min(lon), s.min(lat), e.max(lon), n.max(lat));
        }
        let frame = if w <= e {
            Frame::new((w + e) / 2.0, (s + n) / 2.0)
        } else {
            Frame::new(0.0, 0.0)
        };
        let before =
            WalkGraph::build(roads, excluded, frame, 0.0).component_summary(Self::N_LISTED);
        let (after, n_joins) = if join_tolerance_m > 0.0 {
            let joined = WalkGraph::build(roads, excluded, frame, join_tolerance_m);
            (joined.component_summary(Self::N_LISTED), joined.n_joins())
        } else {
            (before.clone(), 0)
        };
        NetworkCheck {
            join_tolerance_m,
            n_joins,
            before,
            after,
        }
    }
}

impl std::fmt::Display for NetworkCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stage = |f: &mut std::fmt::Formatter<'_>,
                     label: &str,
                     c: &ComponentSummary|
         -> std::fmt::Result {
            writeln!(
                f,
                "  {label}: {} components, {:.1} km of streets, {:.1} % in the largest",
                c.n_components,
                c.total_length_m / 1000.0,
                c.largest_share() * 100.0
            )?;
            for other in &c.others {
                writeln!(
                    f,
                    "    {:>10.0} m at {:.6},{:.6}",
                    other.length_m, other.lon, other.lat
                )?;
            }
            Ok(())
        };
        writeln!(f, "walking network:")?;
        stage(f, "as drawn (shared vertices only)", &self.before)?;
        if self.join_tolerance_m > 0.0 {
            stage(
                f,
                &format!(
                    "joined within {} m ({} line ends joined)",
                    self.join_tolerance_m, self.n_joins
                ),
                &self.after,
            )?;
        } else {
            writeln!(f, "  joining is off (coverage.join_tolerance_m = 0)")?;
        }
        Ok(())
    }
}

/// Union-find over the edges: component label per node (labels `0..n_components`).
fn components(n_nodes: usize, edges: &[Edge]) -> (Vec<u32>, usize) {
    let mut parent: Vec<u32> = (0..n_nodes as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let grand = parent[parent[x as usize] as usize];
            parent[x as usize] = grand;
            x = grand;
        }
        x
    }
    for e in edges {
        let (a, b) = (find(&mut parent, e.u), find(&mut parent, e.v));
        if a != b {
            parent[a.max(b) as usize] = a.min(b);
        }
    }
    let mut label = vec![u32::MAX; n_nodes];
    let mut n_components = 0u32;
    let mut component = vec![0u32; n_nodes];
    for n in 0..n_nodes as u32 {
        let root = find(&mut parent, n) as usize;
        if label[root] == u32::MAX {
            label[root] = n_components;
            n_components += 1;
        }
        component[n as usize] = label[root];
    }
    (component, n_components as usize)
}

/// What a [`Search`] visitor wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Dijkstra's algorithm with reusable buffers: run it many times on one graph without
/// reallocating (only the nodes touched are reset).
pub struct Search {
    dist: Vec<f32>,
    touched: Vec<u32>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Search {
    pub fn new(graph: &WalkGraph) -> Search {
        Search {
            dist: vec![f32::INFINITY; graph.n_nodes()],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Shortest walks from `seeds` (`(node, starting distance)`), settling nodes in order of
    /// distance up to `cutoff_m`. `visit(node, dist)` is called once per settled node and may stop
    /// the search. Afterwards [`Search::dist`] is exact for every node settled.
    pub fn run(
        &mut self,
        graph: &WalkGraph,
        seeds: impl IntoIterator<Item = (u32, f32)>,
        cutoff_m: f32,
        mut visit: impl FnMut(u32, f32) -> Flow,
    ) {
        for &n in &self.touched {
            self.dist[n as usize] = f32::INFINITY;
        }
        self.touched.clear();
        self.heap.clear();
        for (node, d) in seeds {
            self.relax(node, d);
        }
        // Non-negative f32 order as their bit patterns do.
        while let Some(Reverse((bits, node))) = self.heap.pop() {
            let d = f32::from_bits(bits);
            if d > self.dist[node as usize] {
                continue;
            }
            if d > cutoff_m {
                break;
            }
            if visit(node, d) == Flow::Stop {
                break;
            }
            for (next, edge) in graph.arcs(node) {
                self.relax(next, d + graph.edges[edge as usize].len_m);
            }
        }
    }

    fn relax(&mut self, node: u32, d: f32) {
        let slot = &mut self.dist[node as usize];
        if d < *slot {
            if slot.is_infinite() {
                self.touched.push(node);
            }
            *slot = d;
            self.heap.push(Reverse((d.to_bits(), node)));
        }
    }

    /// Distance of `node` found by the last run (exact when settled, `INFINITY` when never
    /// reached, an upper bound otherwise).
    pub fn dist(&self, node: u32) -> f32 {
        self.dist[node as usize]
    }

    /// The distances of the last run, one per node.
    pub fn into_dist(self) -> Vec<f32> {
        self.dist
    }
}

/// Shortest walks for a whole field: from many seeds, every node's distance (exact up to the
/// cut-off, as [`Search::run`] leaves it: settled nodes exact, their neighbours beyond it an upper
/// bound, the rest `INFINITY`), with no visitor. Only the distances count, not the order of
/// equal ones, so nodes wait in a [`RadixHeap`]. Reusable: one per thread.
pub struct FieldSearch {
    dist: Vec<f32>,
    heap: RadixHeap,
}

impl FieldSearch {
    pub fn new(graph: &WalkGraph) -> FieldSearch {
        FieldSearch {
            dist: vec![f32::INFINITY; graph.n_nodes()],
            heap: RadixHeap::default(),
        }
    }

    /// Runs from `seeds` (`(node, starting distance ≥ 0)`) up to `cutoff_m`; returns the
    /// distance of every node.
    pub fn run(
        &mut self,
        graph: &WalkGraph,
        seeds: impl IntoIterator<Item = (u32, f32)>,
        cutoff_m: f32,
    ) -> &[f32] {
        self.dist.fill(f32::INFINITY);
        self.heap.clear();
        let dist = &mut self.dist;
        let heap = &mut self.heap;
        fn relax(dist: &mut [f32], heap: &mut RadixHeap, node: u32, d: f32) {
            let slot = &mut dist[node as usize];
            if d < *slot {
                *slot = d;
                heap.push(d, node);
            }
        }
        for (node, d) in seeds {
            relax(dist, heap, node, d);
        }
        while let Some((d, node)) = heap.pop() {
            if d > dist[node as usize] {
                continue;
            }
            if d > cutoff_m {
                break;
            }
            for &edge in graph.arc_edges(node) {
                let e = &graph.edges[edge as usize];
                let next = if e.u == node { e.v } else { e.u };
                relax(dist, heap, next, d + e.len_m);
            }
        }
        &self.dist
    }
}

/// A monotone priority queue of non-negative `f32` keys (ordered as their bit patterns): a key
/// pushed is never below the last popped. Items wait in 33 buckets by the highest bit in which
/// their key differs from the last popped; popping refills bucket 0 from the first non-empty one.
pub struct RadixHeap {
    last: u32,
    buckets: [Vec<(u32, u32)>; 33],
}

impl Default for RadixHeap {
    fn default() -> RadixHeap {
        RadixHeap {
            last: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl RadixHeap {
    fn bucket(last: u32, key: u32) -> usize {
        (32 - (key ^ last).leading_zeros()) as usize
    }

    pub fn clear(&mut self) {
        self.last = 0;
        for b in &mut self.buckets {
            b.clear();
        }
    }

    /// Adds `value` at `key` (`key` ≥ the last popped key, ≥ 0).
    pub fn push(&mut self, key: f32, value: u32) {
        // -0.0 sorts as 0.0.
        let bits = (key + 0.0).to_bits();
        debug_assert!(
            bits >= self.last && key >= 0.0,
            "{key} below the last popped"
        );
        self.buckets[Self::bucket(self.last, bits)].push((bits, value));
    }

    /// Removes an item of the smallest key.
    pub fn pop(&mut self) -> Option<(f32, u32)> {
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let mut items = std::mem::take(&mut self.buckets[i]);
            self.last = items.iter().map(|&(k, _)| k).min().expect("non-empty");
            for &(k, v) in &items {
                self.buckets[Self::bucket(self.last, k)].push((k, v));
            }
            items.clear();
            // Keep the emptied bucket's buffer for later pushes.
            self.buckets[i] = items;
        }
        self.buckets[0].pop().map(|(k, v)| (f32::from_bits(k), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn road(highway: &str, coords: &[(f64, f64)]) -> Road {
        Road {
            highway: highway.into(),
            name: None,
            coords: coords.to_vec(),
        }
    }

    #[test]
    fn shared_vertices_join_and_excluded_classes_do_not() {
        let roads = vec![
            road("residential", &[(121.40, 31.20), (121.41, 31.20)]),
            road("footway", &[(121.41, 31.20), (121.41, 31.21)]),
            // Passes over the others without sharing a vertex, and is excluded anyway.
            road("Motorway", &[(121.405, 31.19), (121.41, 31.20)]),
            road("path", &[(121.50, 31.20), (121.51, 31.20)]),
        ];
        let graph = WalkGraph::build(&roads, &["motorway".into()], Frame::new(121.45, 31.2), 0.0);
        assert_eq!(graph.edges.len(), 3);
        assert_eq!(graph.n_nodes(), 5);
        assert_eq!(graph.n_components(), 2);
        // 0.01° of longitude at 31.2° is 951.6 m on the ground.
        assert!((graph.edges[0].len_m - 951.6).abs() < 0.5);
        let mut search = Search::new(&graph);
        search.run(&graph, [(0, 0.0)], f32::INFINITY, |_, _| Flow::Continue);
        let far_end = graph.edges[1].v;
        let expected = graph.edges[0].len_m + graph.edges[1].len_m;
        assert!((search.dist(far_end) - expected).abs() < 0.01);
        assert!(
            search.dist(graph.edges[2].u).is_infinite(),
            "other component"
        );
    }

    #[test]
    fn cells_snap_block_by_block_as_one_by_one() {
        // A lattice of streets 100 m apart (cell centres equidistant from two streets are ties),
        // a few diagonals, and padding wide enough that blocks far out search cell by cell.
        let (m_per_deg_lon, m_per_deg_lat) = geom::metres_per_degree(31.2);
        let at = |x_m: f64, y_m: f64| (121.4 + x_m / m_per_deg_lon, 31.2 + y_m / m_per_deg_lat);
        let mut roads = Vec::new();
        for k in 0..=20 {
            let k = f64::from(k) * 100.0;
            let across: Vec<_> = (0..=20).map(|j| at(f64::from(j) * 100.0, k)).collect();
            let up: Vec<_> = (0..=20).map(|j| at(k, f64::from(j) * 100.0)).collect();
            roads.push(road("residential", &across));
            roads.push(road("footway", &up));
        }
        roads.push(road("path", &[at(-30.0, 10.0), at(1990.0, 2030.0)]));
        roads.push(road("path", &[at(2050.0, -40.0), at(10.0, 1970.0)]));
        let bounds = {
            let (w, s) = at(0.0, 0.0);
            let (e, n) = at(2000.0, 2000.0);
            [w, s, e, n]
        };
        let grid = crate::coverage::field::Grid::covering(bounds, 1500.0, 40.0);
        let graph = WalkGraph::build(&roads, &[], grid.frame, 0.0);
        assert!(graph.edges.len() > 800);
        let snaps = graph.snap_cells(&grid);
        for row in 0..grid.n_rows {
            for col in 0..grid.n_cols {
                let xy = grid.centre_xy(col, row);
                let one = graph.snap_xy(xy, graph.frame.to_lonlat(xy), None);
                let cell = snaps[row * grid.n_cols + col];
                assert_eq!(
                    cell.map(|s| s.edge),
                    one.map(|s| s.edge),
                    "cell ({col}, {row})"
                );
                assert_eq!(
                    cell.map(|s| (s.along_m.to_bits(), s.off_m.to_bits())),
                    one.map(|s| (s.along_m.to_bits(), s.off_m.to_bits())),
                    "cell ({col}, {row})"
                );
            }
        }
    }

    #[test]
    fn snap_measures_both_legs_on_the_ground() {
        let roads = vec![road("residential", &[(121.40, 31.20), (121.42, 31.20)])];
        let graph = WalkGraph::build(&roads, &[], Frame::new(121.41, 31.2), 0.0);
        let (m_per_deg_lon, m_per_deg_lat) = geom::metres_per_degree(31.2);
        // 300 m east of the west end, 50 m north of the street.
        let snap = graph
            .snap(121.40 + 300.0 / m_per_deg_lon, 31.20 + 50.0 / m_per_deg_lat)
            .unwrap();
        assert!((snap.along_m - 300.0).abs() < 0.1, "{snap:?}");
        assert!((snap.off_m - 50.0).abs() < 0.1, "{snap:?}");
        // Beyond the east end: snapped to the end node.
        let snap = graph.snap(121.43, 31.20).unwrap();
        assert!((snap.along_m - graph.edges[0].len_m).abs() < 0.01);
    }

    #[test]
    fn cutoff_and_early_stop_limit_the_search() {
        let coords: Vec<(f64, f64)> = (0..20).map(|i| (121.40 + i as f64 * 0.001, 31.2)).collect();
        let graph = WalkGraph::build(&[road("path", &coords)], &[], Frame::new(121.41, 31.2), 0.0);
        let mut search = Search::new(&graph);
        let mut settled = 0;
        search.run(&graph, [(0, 0.0)], 300.0, |_, _| {
            settled += 1;
            Flow::Continue
        });
        // Nodes are about 95 m apart: 0, 95, 190, 285 m are within 300 m.
        assert_eq!(settled, 4);
        let mut settled = 0;
        search.run(&graph, [(0, 0.0)], f32::INFINITY, |_, _| {
            settled += 1;
            if settled == 2 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        });
        assert_eq!(settled, 2);
        assert_eq!(search.dist(0), 0.0, "buffers reset between runs");
    }

    /// `(lon, lat)` `dx_m` east and `dy_m` north of `origin`.
    fn offset(origin: (f64, f64), dx_m: f64, dy_m: f64) -> (f64, f64) {
        let (m_lon, m_lat) = geom::metres_per_degree(origin.1);
        (origin.0 + dx_m / m_lon, origin.1 + dy_m / m_lat)
    }

    #[test]
    fn line_ends_near_another_line_join_it_and_crossings_stay_apart() {
        let o = (121.40, 31.20);
        let roads = vec![
            // A main street 400 m long, west to east.
            road("primary", &[o, offset(o, 400.0, 0.0)]),
            // Side streets ending 0.4 m short of it, from the north and the south, at x = 100 m
            // and x = 250 m: both split the main street's one edge.
            road(
                "residential",
                &[offset(o, 100.0, 200.0), offset(o, 100.0, 0.4)],
            ),
            road(
                "residential",
                &[offset(o, 250.0, -0.45), offset(o, 250.0, -150.0)],
            ),
            // A footbridge crossing the main street at x = 300 m with no end there.
            road(
                "footway",
                &[offset(o, 300.0, -50.0), offset(o, 300.0, 50.0)],
            ),
            // A path whose end is 0.3 m from the far end of the main street (end to end).
            road("path", &[offset(o, 400.3, 0.0), offset(o, 500.0, 0.0)]),
        ];
        let frame = Frame::new(o.0, o.1);
        let loose = WalkGraph::build(&roads, &[], frame, 0.0);
        assert_eq!(loose.n_components(), 5);
        assert_eq!(loose.n_joins(), 0);
        let joined = WalkGraph::build(&roads, &[], frame, 1.0);
        assert_eq!(joined.n_joins(), 3, "two T-junctions and one end-to-end");
        // The footbridge is still apart: two components.
        assert_eq!(joined.n_components(), 2);
        let summary = joined.component_summary(10);
        assert_eq!(summary.n_components, 2);
        assert_eq!(summary.others.len(), 1);
        assert!((summary.others[0].length_m - 100.0).abs() < 0.1);
        let (bridge_lon, _) = offset(o, 300.0, 0.0);
        assert!((summary.others[0].lon - bridge_lon).abs() < 1e-7);
        assert!((summary.largest_share() - 0.9).abs() < 0.01, "{summary:?}");

        // From the north side street's far end to the south one's: 199.6 and 149.55 m along the
        // side streets, 150 m along the main street, and the gaps of 0.4 and 0.45 m.
        let node_at = |p: (f64, f64)| {
            (0..joined.n_nodes() as u32)
                .find(|&n| joined.node_lonlat[n as usize] == p)
                .unwrap()
        };
        let mut search = Search::new(&joined);
        search.run(
            &joined,
            [(node_at(offset(o, 100.0, 200.0)), 0.0)],
            f32::INFINITY,
            |_, _| Flow::Continue,
        );
        let d = search.dist(node_at(offset(o, 250.0, -150.0)));
        assert!((d - (199.6 + 149.55 + 150.0 + 0.85)).abs() < 0.05, "{d}");
        let d = search.dist(node_at(offset(o, 500.0, 0.0)));
        assert!((d - (199.6 + 300.0 + 99.7 + 0.4 + 0.3)).abs() < 0.05, "{d}");
        // Joining never joins beyond the tolerance.
        let strict = WalkGraph::build(&roads, &[], frame, 0.35);
        assert_eq!(strict.n_joins(), 1, "only the 0.3 m end-to-end gap");
    }

    /// The field search leaves every node's distance bit for bit as the search with a visitor
    /// does (settled, bounded beyond the cut-off, or unreached), on a random street grid with
    /// many seeds.
    #[test]
    fn field_search_matches_search() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let o = (121.40, 31.20);
        let mut roads = Vec::new();
        for i in 0..30 {
            let wobble = |rng: &mut rand_chacha::ChaCha8Rng| rng.random_range(-20.0..20.0);
            let row: Vec<(f64, f64)> = (0..30)
                .map(|j| offset(o, j as f64 * 70.0, i as f64 * 70.0 + wobble(&mut rng)))
                .collect();
            roads.push(road("residential", &row));
            let col: Vec<(f64, f64)> = (0..30)
                .map(|j| offset(o, i as f64 * 70.0 + wobble(&mut rng), j as f64 * 70.0))
                .collect();
            roads.push(road("footway", &col));
        }
        let graph = WalkGraph::build(&roads, &[], Frame::new(o.0, o.1), 1.0);
        let mut search = Search::new(&graph);
        let mut field = FieldSearch::new(&graph);
        for cutoff in [150.0, 600.0, f32::INFINITY] {
            let seeds: Vec<(u32, f32)> = (0..25)
                .map(|_| {
                    (
                        rng.random_range(0..graph.n_nodes() as u32),
                        rng.random_range(0.0..80.0),
                    )
                })
                .collect();
            search.run(&graph, seeds.iter().copied(), cutoff, |_, _| Flow::Continue);
            let dist = field.run(&graph, seeds.iter().copied(), cutoff);
            for n in 0..graph.n_nodes() as u32 {
                assert_eq!(
                    search.dist(n).to_bits(),
                    dist[n as usize].to_bits(),
                    "node {n}"
                );
            }
        }
    }

    #[test]
    fn network_check_reports_both_stages() {
        let o = (121.40, 31.20);
        let roads = vec![
            road("primary", &[o, offset(o, 400.0, 0.0)]),
            road(
                "residential",
                &[offset(o, 100.0, 200.0), offset(o, 100.0, 0.5)],
            ),
        ];
        let check = NetworkCheck::of(&roads, &[], 1.0);
        assert_eq!(check.before.n_components, 2);
        assert_eq!(check.after.n_components, 1);
        assert_eq!(check.n_joins, 1);
        let text = check.to_string();
        assert!(text.contains("2 components"), "{text}");
        assert!(
            text.contains("1 components, 0.6 km of streets, 100.0 % in the largest"),
            "{text}"
        );
        let off = NetworkCheck::of(&roads, &[], 0.0);
        assert_eq!(off.after.n_components, 2);
        assert!(off.to_string().contains("joining is off"));
    }
}
