//! Service load by the two-step floating catchment method (2SFCA): a category's facilities, their
//! capacities and the residential places with their populations → per facility the supply
//! ratio R_j and the residents in its catchment, per place the accessibility A_i.
//!
//! - step 1, per facility j: R_j = S_j / Σ_{k : d_kj ≤ d0} P_k · W(d_kj)
//! - step 2, per place i: A_i = Σ_{j : d_ij ≤ d0} R_j · W(d_ij)
//!
//! d0 is the category's walking threshold under the default walking profile (inclusive), W the
//! configured [`Decay`]. A facility with no weighted demand (nobody within d0, or only at
//! weight 0) has no R_j and adds nothing to any A_i.
//!
//! Capacity S_j ([`CapacitySource`]): `count` is 1 per facility; `floor_area` is the facility's
//! floor area in m². When no facility of the category has a floor area, the category falls back
//! to `count`; when some lack one, those take the median floor area of the category's facilities
//! that have one (mixing "1" with square metres would make them count for nothing). Each
//! facility says which ([`CapacityFrom`]).
//!
//! Distances are walks ([`Reach`]): in network mode along the coverage's walking graph, from the
//! facility's nearest point on the nearest street piece (the off-street leg walked straight) by
//! Dijkstra with d0 as the cut-off, to each place's own nearest street point plus its leg; in
//! straight-line mode haversine ground metres. The nearest point on a piece is found in the
//! piece's own equirectangular plane (cosine of its mid latitude), and every length is a
//! haversine in `f64`, so an independent implementation can reproduce the figures exactly.
//!
//! Pure and blocking (rayon): computed once per data version, scenario and category on first
//! request and kept in the analysis cache.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};

use geo::Contains;
use rayon::prelude::*;
use rstar::{RTree, primitives::GeomWithData};

use crate::attributes::Scenario;
use crate::config::{CapacitySource, Decay};
use crate::coverage::field::Frame;
use crate::coverage::graph::WalkGraph;
use crate::coverage::{Coverage, Mode};
use crate::dataset::Dataset;
use crate::geom::haversine_m;
use crate::taxonomy::CategoryId;

impl Decay {
    pub fn as_str(self) -> &'static str {
        match self {
            Decay::None => "none",
            Decay::Linear => "linear",
            Decay::Gaussian => "gaussian",
        }
    }

    /// W(d) for a distance `d_m` within the threshold `d0_m`.
    pub fn weight(self, d_m: f64, d0_m: f64) -> f64 {
        match self {
            Decay::None => 1.0,
            Decay::Linear => 1.0 - d_m / d0_m,
            Decay::Gaussian => {
                let floor = (-0.5f64).exp();
                ((-0.5 * (d_m / d0_m).powi(2)).exp() - floor) / (1.0 - floor)
            }
        }
    }
}

impl CapacitySource {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacitySource::FloorArea => "floor_area",
            CapacitySource::Count => "count",
        }
    }
}

/// Where a facility's capacity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityFrom {
    /// Its own floor area.
    FloorArea,
    /// The median floor area of its category (it has none).
    MedianFloorArea,
    /// 1 per facility.
    Count,
}

impl CapacityFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityFrom::FloorArea => "floor_area",
            CapacityFrom::MedianFloorArea => "median_floor_area",
            CapacityFrom::Count => "count",
        }
    }
}

/// What a service load is computed with.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub decay: Decay,
    pub capacity: CapacitySource,
    /// d0, ground metres.
    pub threshold_m: f64,
}

/// One facility's figures.
#[derive(Debug, Clone)]
pub struct FacilityLoad {
    /// Facility index in the dataset.
    pub idx: u32,
    /// S_j.
    pub capacity: f64,
    pub capacity_from: CapacityFrom,
    /// Residents within d0 (unweighted).
    pub residents_within: f64,
    /// Σ P_k · W(d_kj): the demand step 1 divides by.
    pub weighted_demand: f64,
    /// R_j; `None` without weighted demand.
    pub ratio: Option<f64>,
}

/// The 2SFCA of one category in one scenario.
#[derive(Debug, Clone)]
pub struct ServiceLoad {
    pub category: CategoryId,
    pub scenario: Scenario,
    pub mode: Mode,
    pub params: Params,
    /// The capacity actually used: `count` when no facility has a floor area.
    pub capacity_used: CapacitySource,
    pub facilities: Vec<FacilityLoad>,
    /// A_i per residential place (dataset order).
    pub access: Vec<f64>,
    /// Subdistrict index of each residential place.
    pub place_area: Vec<Option<u16>>,
    pub elapsed_ms: u64,
}

impl crate::analysis_cache::Weigh for ServiceLoad {
    fn heap_bytes(&self) -> usize {
        self.facilities.capacity() * std::mem::size_of::<FacilityLoad>()
            + self.access.capacity() * 8
            + self.place_area.capacity() * 4
    }
}

/// Why a service load was not computed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("the computation was cancelled")]
    Cancelled,
}

/// Computes the 2SFCA of `category` over the facilities serving it in `scenario`.
/// `coverage` gives the mode and, in network mode, the walking graph. Blocking (rayon); stops
/// early once `cancel` is set.
pub fn compute(
    dataset: &Dataset,
    coverage: &Coverage,
    category: CategoryId,
    scenario: Scenario,
    params: Params,
    cancel: &AtomicBool,
) -> Result<ServiceLoad, Error> {
    let started = std::time::Instant::now();
    let servers = dataset.serving(category, scenario.statuses());
    let (capacities, capacity_used) = capacities(dataset, &servers, params.capacity);
    let reach = Reach::new(dataset, coverage);
    let d0 = params.threshold_m;
    let population: Vec<f64> = dataset
        .residents
        .iter()
        .map(|r| f64::from(r.population))
        .collect();
    let n_places = population.len();

    // Step 1: weighted demand per facility.
    let demand: Vec<(f64, f64)> = servers
        .par_iter()
        .map_init(
            || reach.buffers(n_places),
            |buffers, &idx| {
                if cancel.load(Ordering::Relaxed) {
                    return (0.0, 0.0);
                }
                let f = dataset.facility(idx);
                let (mut weighted, mut within) = (0.0, 0.0);
                reach.within(buffers, (f.lon, f.lat), d0, |k, d| {
                    let p = population[k as usize];
                    weighted += p * params.decay.weight(d, d0);
                    within += p;
                });
                (weighted, within)
            },
        )
        .collect();
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    let facilities: Vec<FacilityLoad> = servers
        .iter()
        .zip(&capacities)
        .zip(&demand)
        .map(
            |((&idx, &(capacity, capacity_from)), &(weighted, within))| FacilityLoad {
                idx,
                capacity,
                capacity_from,
                residents_within: within,
                weighted_demand: weighted,
                ratio: (weighted > 0.0).then(|| capacity / weighted),
            },
        )
        .collect();

    // Step 2: accessibility per place, summed over the facilities within reach.
    let access = facilities
        .par_iter()
        .with_min_len(16)
        .filter(|f| f.ratio.is_some())
        .fold(
            || (vec![0.0f64; n_places], reach.buffers(n_places)),
            |(mut acc, mut buffers), load| {
                if !cancel.load(Ordering::Relaxed) {
                    let ratio = load.ratio.unwrap_or(0.0);
                    let f = dataset.facility(load.idx);
                    reach.within(&mut buffers, (f.lon, f.lat), d0, |k, d| {
                        acc[k as usize] += ratio * params.decay.weight(d, d0);
                    });
                }
                (acc, buffers)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(
            || vec![0.0f64; n_places],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        );
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    let place_area = dataset
        .residents
        .par_iter()
        .map(|r| {
            let point = geo::Point::new(r.lon, r.lat);
            (dataset.areas.iter())
                .position(|a| a.polygon.contains(&point))
                .map(|a| a as u16)
        })
        .collect();
    Ok(ServiceLoad {
        category,
        scenario,
        mode: reach.mode(),
        params,
        capacity_used,
        facilities,
        access,
        place_area,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// S_j per facility and where it came from, and the capacity the category ends up using.
fn capacities(
    dataset: &Dataset,
    servers: &[u32],
    source: CapacitySource,
) -> (Vec<(f64, CapacityFrom)>, CapacitySource) {
    let area_of = |idx: u32| {
        dataset
            .attributes(idx)
            .and_then(|a| a.floor_area_m2)
            .filter(|a| a.is_finite() && *a > 0.0)
    };
    let mut known: Vec<f64> = servers.iter().filter_map(|&i| area_of(i)).collect();
    if source == CapacitySource::Count || known.is_empty() {
        let ones = servers.iter().map(|_| (1.0, CapacityFrom::Count)).collect();
        return (ones, CapacitySource::Count);
    }
    known.sort_by(f64::total_cmp);
    let n = known.len();
    let median = if n % 2 == 1 {
        known[n / 2]
    } else {
        (known[n / 2 - 1] + known[n / 2]) / 2.0
    };
    let capacities = servers
        .iter()
        .map(|&i| match area_of(i) {
            Some(a) => (a, CapacityFrom::FloorArea),
            None => (median, CapacityFrom::MedianFloorArea),
        })
        .collect();
    (capacities, CapacitySource::FloorArea)
}

/// Where a place meets the street network: on `edge`, at the point `on`, `off_m` from the place,
/// `along_u_m` / `along_v_m` from the edge's ends.
#[derive(Debug, Clone, Copy)]
struct Placed {
    edge: u32,
    on: (f64, f64),
    off_m: f64,
    along_u_m: f64,
    along_v_m: f64,
}

/// How far residential places are from a point: along the streets or in a straight line.
enum Reach<'a> {
    Network(NetworkReach<'a>),
    Straight {
        frame: Frame,
        places: RTree<GeomWithData<[f64; 2], u32>>,
        lonlat: Vec<(f64, f64)>,
    },
}

struct NetworkReach<'a> {
    graph: &'a WalkGraph,
    /// Haversine length of each edge.
    edge_len: Vec<f64>,
    /// Places by the edge they meet: `places[offsets[e]..offsets[e + 1]]`.
    offsets: Vec<u32>,
    places: Vec<u32>,
    placed: Vec<Option<Placed>>,
}

/// Reusable buffers of one worker.
struct Buffers {
    node_dist: Vec<f64>,
    touched_nodes: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    place_dist: Vec<f64>,
    touched_places: Vec<u32>,
}

impl<'a> Reach<'a> {
    fn new(dataset: &Dataset, coverage: &'a Coverage) -> Reach<'a> {
        match coverage.walk_graph() {
            Some(graph) if coverage.mode == Mode::Network => {
                let edge_len = (0..graph.edges.len() as u32)
                    .map(|e| haversine_m(graph.point_on_edge(e, 0.0), graph.point_on_edge(e, 1.0)))
                    .collect();
                let placed: Vec<Option<Placed>> = dataset
                    .residents
                    .par_iter()
                    .map(|r| place(graph, (r.lon, r.lat)))
                    .collect();
                let mut pairs: Vec<(u32, u32)> = placed
                    .iter()
                    .enumerate()
                    .filter_map(|(k, p)| p.map(|p| (p.edge, k as u32)))
                    .collect();
                pairs.sort_unstable();
                let mut offsets = vec![0u32; graph.edges.len() + 1];
                for &(edge, _) in &pairs {
                    offsets[edge as usize + 1] += 1;
                }
                for e in 0..graph.edges.len() {
                    offsets[e + 1] += offsets[e];
                }
                Reach::Network(NetworkReach {
                    graph,
                    edge_len,
                    offsets,
                    places: pairs.into_iter().map(|p| p.1).collect(),
                    placed,
                })
            }
            _ => {
                let [w, s, e, n] = dataset.bounds;
                let frame = Frame::new((w + e) / 2.0, (s + n) / 2.0);
                let lonlat: Vec<(f64, f64)> =
                    dataset.residents.iter().map(|r| (r.lon, r.lat)).collect();
                let places = RTree::bulk_load(
                    lonlat
                        .iter()
                        .enumerate()
                        .map(|(k, &(lon, lat))| GeomWithData::new(frame.to_xy(lon, lat), k as u32))
                        .collect(),
                );
                Reach::Straight {
                    frame,
                    places,
                    lonlat,
                }
            }
        }
    }

    fn mode(&self) -> Mode {
        match self {
            Reach::Network(_) => Mode::Network,
            Reach::Straight { .. } => Mode::Euclidean,
        }
    }

    fn buffers(&self, n_places: usize) -> Buffers {
        let n_nodes = match self {
            Reach::Network(n) => n.graph.n_nodes(),
            Reach::Straight { .. } => 0,
        };
        Buffers {
            node_dist: vec![f64::INFINITY; n_nodes],
            touched_nodes: Vec::new(),
            heap: BinaryHeap::new(),
            place_dist: vec![f64::INFINITY; n_places],
            touched_places: Vec::new(),
        }
    }

    /// Calls `visit(place, distance)` once for every residential place within `d0_m` of `from`.
    fn within(
        &self,
        buffers: &mut Buffers,
        from: (f64, f64),
        d0_m: f64,
        mut visit: impl FnMut(u32, f64),
    ) {
        match self {
            Reach::Straight {
                frame,
                places,
                lonlat,
            } => {
                // The local plane is within a few per cent of ground metres over a city: search
                // a little wider, then decide by the haversine.
                let r = d0_m * 1.05 + 10.0;
                for p in places.locate_within_distance(frame.to_xy(from.0, from.1), r * r) {
                    let d = haversine_m(from, lonlat[p.data as usize]);
                    if d <= d0_m {
                        visit(p.data, d);
                    }
                }
            }
            Reach::Network(net) => net.within(buffers, from, d0_m, visit),
        }
    }
}

impl NetworkReach<'_> {
    fn on_edge(&self, edge: u32) -> &[u32] {
        let e = edge as usize;
        &self.places[self.offsets[e] as usize..self.offsets[e + 1] as usize]
    }

    fn within(
        &self,
        b: &mut Buffers,
        from: (f64, f64),
        d0_m: f64,
        mut visit: impl FnMut(u32, f64),
    ) {
        let Some(start) = place(self.graph, from) else {
            return;
        };
        for &n in &b.touched_nodes {
            b.node_dist[n as usize] = f64::INFINITY;
        }
        b.touched_nodes.clear();
        b.heap.clear();
        for &k in &b.touched_places {
            b.place_dist[k as usize] = f64::INFINITY;
        }
        b.touched_places.clear();
        let offer = |b: &mut Buffers, k: u32, d: f64| {
            let slot = &mut b.place_dist[k as usize];
            if d < *slot {
                if slot.is_infinite() {
                    b.touched_places.push(k);
                }
                *slot = d;
            }
        };
        // Places on the facility's own street piece: straight along it.
        for &k in self.on_edge(start.edge) {
            let p = self.placed[k as usize].expect("indexed places are placed");
            offer(b, k, start.off_m + haversine_m(start.on, p.on) + p.off_m);
        }
        let edge = self.graph.edges[start.edge as usize];
        relax(b, edge.u, start.off_m + start.along_u_m);
        relax(b, edge.v, start.off_m + start.along_v_m);
        // Dijkstra; non-negative f64 order as their bit patterns do.
        while let Some(Reverse((bits, node))) = b.heap.pop() {
            let d = f64::from_bits(bits);
            if d > b.node_dist[node as usize] {
                continue;
            }
            if d > d0_m {
                break;
            }
            for (next, e) in self.graph.arcs(node) {
                for &k in self.on_edge(e) {
                    let p = self.placed[k as usize].expect("indexed places are placed");
                    let along = if self.graph.edges[e as usize].u == node {
                        p.along_u_m
                    } else {
                        p.along_v_m
                    };
                    offer(b, k, d + along + p.off_m);
                }
                relax(b, next, d + self.edge_len[e as usize]);
            }
        }
        for &k in &b.touched_places {
            let d = b.place_dist[k as usize];
            if d <= d0_m {
                visit(k, d);
            }
        }
    }
}

fn relax(b: &mut Buffers, node: u32, d: f64) {
    let slot = &mut b.node_dist[node as usize];
    if d < *slot {
        if slot.is_infinite() {
            b.touched_nodes.push(node);
        }
        *slot = d;
        b.heap.push(Reverse((d.to_bits(), node)));
    }
}

/// Where `p` meets the network: the nearest street piece (the graph's snap), and on it the
/// nearest point in the piece's own equirectangular plane.
fn place(graph: &WalkGraph, p: (f64, f64)) -> Option<Placed> {
    let snap = graph.snap(p.0, p.1)?;
    let a = graph.point_on_edge(snap.edge, 0.0);
    let b = graph.point_on_edge(snap.edge, 1.0);
    let kx = ((a.1 + b.1) / 2.0).to_radians().cos();
    let (dx, dy) = ((b.0 - a.0) * kx, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * kx * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let on = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
    Some(Placed {
        edge: snap.edge,
        on,
        off_m: haversine_m(p, on),
        along_u_m: haversine_m(a, on),
        along_v_m: haversine_m(on, b),
    })
}

/// Population-weighted figures of a set of places.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessSummary {
    pub residents: f64,
    /// Σ P_i · A_i.
    pub weighted_access: f64,
    pub residents_below: f64,
}

impl AccessSummary {
    fn add(&mut self, population: f64, access: f64, below: Option<f64>) {
        self.residents += population;
        self.weighted_access += population * access;
        if below.is_some_and(|level| access < level) {
            self.residents_below += population;
        }
    }

    /// Population-weighted mean of A_i; `None` without residents.
    pub fn mean_access(&self) -> Option<f64> {
        (self.residents > 0.0).then(|| self.weighted_access / self.residents)
    }

    pub fn share_below(&self) -> Option<f64> {
        (self.residents > 0.0).then(|| self.residents_below / self.residents)
    }
}

impl ServiceLoad {
    /// `(district, per subdistrict (dataset order), places outside every subdistrict)`.
    pub fn summaries(
        &self,
        dataset: &Dataset,
        below: Option<f64>,
    ) -> (AccessSummary, Vec<AccessSummary>, AccessSummary) {
        let mut district = AccessSummary::default();
        let mut areas = vec![AccessSummary::default(); dataset.areas.len()];
        let mut outside = AccessSummary::default();
        for (k, r) in dataset.residents.iter().enumerate() {
            let (p, a) = (f64::from(r.population), self.access[k]);
            district.add(p, a, below);
            match self.place_area[k] {
                Some(area) => areas[area as usize].add(p, a, below),
                None => outside.add(p, a, below),
            }
        }
        (district, areas, outside)
    }

    /// Facilities by load (weighted demand per unit of capacity), heaviest first; those without
    /// demand are left out.
    pub fn most_overloaded(&self, n: usize) -> Vec<&FacilityLoad> {
        let mut loaded: Vec<&FacilityLoad> = self
            .facilities
            .iter()
            .filter(|f| f.ratio.is_some())
            .collect();
        loaded.sort_by(|a, b| {
            let load = |f: &FacilityLoad| f.weighted_demand / f.capacity;
            load(b).total_cmp(&load(a)).then(a.idx.cmp(&b.idx))
        });
        loaded.truncate(n);
        loaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decays_are_one_at_the_facility_and_zero_at_the_threshold() {
        for decay in [Decay::Linear, Decay::Gaussian] {
            assert!((decay.weight(0.0, 800.0) - 1.0).abs() < 1e-12);
            assert!(decay.weight(800.0, 800.0).abs() < 1e-12);
            assert!(decay.weight(200.0, 800.0) > decay.weight(400.0, 800.0));
        }
        assert_eq!(Decay::None.weight(800.0, 800.0), 1.0);
        assert!((Decay::Linear.weight(200.0, 800.0) - 0.75).abs() < 1e-12);
        let g = ((-0.5f64 * 0.0625).exp() - (-0.5f64).exp()) / (1.0 - (-0.5f64).exp());
        assert!((Decay::Gaussian.weight(200.0, 800.0) - g).abs() < 1e-12);
    }
}
