//! The walking graph: street LineStrings → a [`WalkGraph`], and shortest walks over it.
//!
//! Nodes are the streets' vertices, merged where two streets share a vertex (bit-identical
//! coordinates); edges are the straight pieces between consecutive vertices, with their length in
//! ground metres (haversine). Streets of excluded classes (motorways, …) are left out, so a
//! motorway passing over a street does not connect to it. Places off the network are [`Snap`]ped
//! to the nearest point of the nearest edge; the off-network leg is walked in a straight line.
//!
//! [`Search`] is Dijkstra from any number of seeds with a distance cut-off and a visitor that can
//! stop early; it is used from the facilities (the field), from one place (`/coverage/at`) and
//! from candidate sites (`/coverage/suggest`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rstar::{PointDistance, RTree, primitives::GeomWithData, primitives::Line};

use super::field::Frame;
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

type IndexedSegment = GeomWithData<Line<[f64; 2]>, u32>;

/// The walkable street network.
pub struct WalkGraph {
    pub edges: Vec<Edge>,
    /// `arcs[offsets[n]..offsets[n + 1]]` are node `n`'s `(neighbour, edge)` pairs.
    offsets: Vec<u32>,
    arcs: Vec<(u32, u32)>,
    /// Connected component of each node.
    component: Vec<u32>,
    n_components: usize,
    node_lonlat: Vec<(f64, f64)>,
    segments: RTree<IndexedSegment>,
    frame: Frame,
}

impl WalkGraph {
    /// Builds the graph from `roads`, leaving out those whose `highway` class is in `excluded`
    /// (compared case-insensitively). Positions are indexed in `frame`.
    pub fn build(roads: &[Road], excluded: &[String], frame: Frame) -> WalkGraph {
        let mut node_of: HashMap<(u64, u64), u32> = HashMap::new();
        let mut node_lonlat: Vec<(f64, f64)> = Vec::new();
        let mut edges: Vec<Edge> = Vec::new();
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
            let mut prev: Option<(u32, (f64, f64))> = None;
            for &(lon, lat) in &road.coords {
                let n = node(lon, lat);
                if let Some((p, p_lonlat)) = prev
                    && p != n
                {
                    let len_m = geom::haversine_m(p_lonlat, (lon, lat)) as f32;
                    edges.push(Edge { u: p, v: n, len_m });
                }
                prev = Some((n, (lon, lat)));
            }
        }
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
        let mut arcs = vec![(0u32, 0u32); offsets[n_nodes] as usize];
        for (edge_idx, e) in edges.iter().enumerate() {
            arcs[fill[e.u as usize] as usize] = (e.v, edge_idx as u32);
            fill[e.u as usize] += 1;
            arcs[fill[e.v as usize] as usize] = (e.u, edge_idx as u32);
            fill[e.v as usize] += 1;
        }
        let (component, n_components) = components(n_nodes, &edges);
        let segments = RTree::bulk_load(
            edges
                .iter()
                .enumerate()
                .map(|(idx, e)| {
                    let (a, b) = (node_lonlat[e.u as usize], node_lonlat[e.v as usize]);
                    GeomWithData::new(
                        Line::new(frame.to_xy(a.0, a.1), frame.to_xy(b.0, b.1)),
                        idx as u32,
                    )
                })
                .collect(),
        );
        WalkGraph {
            edges,
            offsets,
            arcs,
            component,
            n_components,
            node_lonlat,
            segments,
            frame,
        }
    }

    pub fn n_nodes(&self) -> usize {
        self.node_lonlat.len()
    }

    pub fn n_components(&self) -> usize {
        self.n_components
    }

    /// The `(neighbour, edge)` pairs of `node`.
    pub fn arcs(&self, node: u32) -> &[(u32, u32)] {
        let n = node as usize;
        &self.arcs[self.offsets[n] as usize..self.offsets[n + 1] as usize]
    }

    /// Connected component of the edge `edge`.
    pub fn edge_component(&self, edge: u32) -> u32 {
        self.component[self.edges[edge as usize].u as usize]
    }

    /// The nearest point of the network to `(lon, lat)`; `None` when the graph has no edges.
    pub fn snap(&self, lon: f64, lat: f64) -> Option<Snap> {
        let xy = self.frame.to_xy(lon, lat);
        let nearest = self.segments.nearest_neighbor(&xy)?;
        Some(self.snap_onto(nearest, xy, (lon, lat)))
    }

    /// The snap of every cell centre of `grid` (same frame), searched block by block.
    pub fn snap_cells(&self, grid: &super::field::Grid) -> Vec<Option<Snap>> {
        let mut snaps = vec![None; grid.n_cells()];
        if self.edges.is_empty() {
            return snaps;
        }
        super::field::for_each_cell_with_candidates(
            grid,
            4,
            &self.segments,
            &mut snaps,
            |_, xy, candidates| {
                let nearest = candidates.iter().min_by(|a, b| {
                    a.distance_2(&xy)
                        .total_cmp(&b.distance_2(&xy))
                        .then(a.data.cmp(&b.data))
                })?;
                Some(self.snap_onto(nearest, xy, self.frame.to_lonlat(xy)))
            },
        );
        snaps
    }

    /// Where the place at frame position `xy` (lon/lat `lonlat`) meets the segment `nearest`.
    fn snap_onto(&self, nearest: &IndexedSegment, xy: [f64; 2], lonlat: (f64, f64)) -> Snap {
        let line = nearest.geom();
        let on_line = line.nearest_point(&xy);
        let (dx, dy) = (line.to[0] - line.from[0], line.to[1] - line.from[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((on_line[0] - line.from[0]) * dx + (on_line[1] - line.from[1]) * dy) / len2)
                .clamp(0.0, 1.0)
        } else {
            0.0
        };
        let edge_idx = nearest.data;
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
            + self.arcs.capacity() * 8
            + self.component.capacity() * 4
            + self.node_lonlat.capacity() * 16
            + self.segments.size() * (std::mem::size_of::<IndexedSegment>() + 16)
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
            for &(next, edge) in graph.arcs(node) {
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
        let graph = WalkGraph::build(&roads, &["motorway".into()], Frame::new(121.45, 31.2));
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
    fn snap_measures_both_legs_on_the_ground() {
        let roads = vec![road("residential", &[(121.40, 31.20), (121.42, 31.20)])];
        let graph = WalkGraph::build(&roads, &[], Frame::new(121.41, 31.2));
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
        let graph = WalkGraph::build(&[road("path", &coords)], &[], Frame::new(121.41, 31.2));
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
}
