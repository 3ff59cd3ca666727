//! Coverage: `(&Dataset, CoverageParams)` → a [`Coverage`]: for every category, the walking
//! distance from each cell of a grid over the analysis area (`Dataset::area`, plus
//! `coverage.padding_m`) to the nearest facility of that category, and per walking profile the
//! composite life-circle score (how many categories are within their own threshold). Built once
//! per snapshot, off the async executor, with rayon.
//!
//! The grid covers the area's rectangle and the padding; cells whose centre lies inside the area
//! are marked ([`Coverage::in_area`]), and only they are shown and counted: heatmaps are
//! transparent and bands absent outside the area, statistics, blind spots and suggested sites
//! count only places inside it. Facilities outside the area still serve places inside it: every
//! facility within reach of the grid is a source, wherever it lies. In network mode the streets
//! and facilities farther from the grid than the walking cut-off are left out (they cannot bring
//! any cell within it).
//!
//! Categories with no facility in the data at all are left out of the composites (`all`, the
//! groups, the essential headline) and named ([`Coverage::categories_without_data`]), so one
//! missing layer does not turn every composite into 0 %.
//!
//! Two modes ([`Mode`]): `network` walks the streets ([`graph`]): multi-source Dijkstra from every
//! facility of the category, snapped to the network, cut off a little past the largest threshold;
//! a cell takes the distance of its nearest network point plus the straight off-network leg.
//! `euclidean` takes the straight-line ground distance to the nearest facility. Distances are
//! ground metres throughout; a walking profile turns them into minutes (`metres / speed`), so one
//! field serves every profile.
//!
//! What is derived from it lives in the submodules, each a pure function of the coverage and the
//! request: [`raster`] (PNG heatmap tiles and the legend), [`bands`] (isochrone polygons as MVT),
//! [`stats`] (per-subdistrict figures, blind spots, suggested sites, one place's report).

pub mod bands;
pub mod clip;
pub mod field;
pub mod graph;
pub mod raster;
pub mod scenario;
pub mod segments;
pub mod stats;

use std::sync::Arc;

use geo::{BoundingRect, Contains};

use crate::area::{AnalysisArea, AreaSource};
use rayon::prelude::*;
use rstar::RTree;

use crate::attributes::StatusSet;
use crate::config::{CoverageConfig, CoverageMode};
use crate::dataset::{Area, Dataset};
use crate::taxonomy::{CategoryId, GroupId, Taxonomy};
use field::{FAR, Grid, IndexedFacility, NO_AREA, UNREACHABLE};
use graph::{FieldSearch, Snap, WalkGraph};

/// Why a coverage could not be built, or a coverage request answered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("unknown coverage id `{id}`; known ids: {known}")]
    UnknownId { id: String, known: String },
    #[error("unknown category `{id}`; known categories: {known}")]
    UnknownCategory { id: String, known: String },
    #[error("unknown profile `{profile}`; valid profiles: {known}")]
    UnknownProfile { profile: String, known: String },
    #[error("parameter `{name}`: {message}")]
    BadParameter { name: &'static str, message: String },
    #[error(
        "the coverage grid would have {n_cells} cells, more than coverage.max_grid_cells ({max}); raise coverage.cell_m"
    )]
    GridTooLarge { n_cells: usize, max: usize },
    #[error(
        "coverage.mode is \"network\" but the road layer holds no walkable streets; configure data.roads or set coverage.mode = \"euclidean\""
    )]
    NoWalkableStreets,
    #[error("encoding a coverage tile failed: {0}")]
    Encode(String),
}

/// How walking distances are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Along the walking graph.
    Network,
    /// Straight-line ground distance.
    Euclidean,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Network => "network",
            Mode::Euclidean => "euclidean",
        }
    }
}

/// A walking speed with its name.
#[derive(Debug, Clone)]
pub struct WalkProfile {
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
    pub speed_m_s: f64,
}

impl WalkProfile {
    /// Ground metres walked in `minutes`.
    pub fn metres(&self, minutes: f64) -> f64 {
        minutes * 60.0 * self.speed_m_s
    }

    /// Minutes to walk `dist_m`.
    pub fn minutes(&self, dist_m: f64) -> f64 {
        dist_m / self.speed_m_s / 60.0
    }
}

/// Index of a profile in [`CoverageParams::profiles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileId(pub u8);

/// The settings a coverage is built with, taken from `[coverage]`.
#[derive(Debug, Clone)]
pub struct CoverageParams {
    pub mode: CoverageMode,
    pub cell_m: f64,
    pub padding_m: f64,
    pub exclude_highways: Vec<String>,
    pub join_tolerance_m: f64,
    pub cutoff_margin_min: u32,
    pub band_minutes: Vec<u32>,
    pub profiles: Vec<WalkProfile>,
    pub default_profile: ProfileId,
    pub suggest_max_candidates: usize,
    pub max_grid_cells: usize,
}

impl From<&CoverageConfig> for CoverageParams {
    fn from(c: &CoverageConfig) -> Self {
        let profiles: Vec<WalkProfile> = c
            .profiles
            .iter()
            .map(|p| WalkProfile {
                id: p.id.clone(),
                label_zh: p.label_zh.clone(),
                label_en: p.label_en.clone(),
                speed_m_s: p.speed_m_s,
            })
            .collect();
        let default_profile = profiles
            .iter()
            .position(|p| p.id == c.default_profile)
            .unwrap_or(0);
        CoverageParams {
            mode: c.mode,
            cell_m: c.cell_m,
            padding_m: c.padding_m,
            exclude_highways: c.exclude_highways.clone(),
            join_tolerance_m: c.join_tolerance_m,
            cutoff_margin_min: c.cutoff_margin_min,
            band_minutes: c.band_minutes.clone(),
            profiles,
            default_profile: ProfileId(default_profile as u8),
            suggest_max_candidates: c.suggest_max_candidates,
            max_grid_cells: c.max_grid_cells,
        }
    }
}

/// What a heatmap shows: one category, the composite over all categories, or over one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoverageId {
    Category(CategoryId),
    All,
    Group(GroupId),
}

/// Id of the composite over every category.
pub const ALL_ID: &str = "all";

/// How a build went, for logs and `/coverage/legend`.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    pub elapsed_ms: u64,
    /// Approximate heap bytes held by the coverage.
    pub heap_bytes: usize,
    pub n_nodes: usize,
    pub n_edges: usize,
    pub n_components: usize,
}

/// Per cell, which composite categories are within their threshold under one profile: bit `k`
/// (of word `k / 16`) stands for `composite_categories[k]`. A score (`all`, a group) is the count
/// of its members' bits, so one set of words serves every composite id.
struct Composite {
    /// [`Coverage::composite_words`] words per cell.
    within: Vec<u16>,
}

/// The composite score of one id under one profile, per cell
/// ([`Coverage::composite_scores`]): how many of the id's categories are within their threshold.
#[derive(Debug, Clone, Copy)]
pub struct Scores<'a> {
    within: &'a [u16],
    /// The id's members among the bits of a cell's words.
    members: &'a [u16],
}

impl Scores<'_> {
    /// The score of `cell`.
    pub fn get(&self, cell: usize) -> u8 {
        match self.members {
            [] => 0,
            [mask] => (self.within[cell] & mask).count_ones() as u8,
            masks => {
                let words = &self.within[cell * masks.len()..(cell + 1) * masks.len()];
                words
                    .iter()
                    .zip(masks)
                    .map(|(w, m)| (w & m).count_ones())
                    .sum::<u32>() as u8
            }
        }
    }
}

/// The walking network and what is attached to its edges.
struct Network {
    graph: WalkGraph,
    /// Facilities (dataset index) by the edge they are snapped to; where on it is recomputed
    /// when asked ([`Network::facilities_on`]): a million of them would hold 8 more bytes each.
    facilities: EdgeIndex<u32>,
    /// Residential places by the edge they are snapped to.
    residents: EdgeIndex<u32>,
    /// The edge each residential place is snapped to ([`NOT_SNAPPED`]: none); where on it is
    /// recomputed when asked ([`Network::resident_snap`]).
    resident_edges: Vec<u32>,
    /// Per category, per component: does the component hold a facility of the category?
    category_components: Vec<Vec<bool>>,
}

impl Network {
    /// The facilities of `dataset` (the coverage's own) snapped to `edge`, with where:
    /// `(facility idx, along_m, off_m)`.
    fn facilities_on<'a>(
        &'a self,
        dataset: &'a Dataset,
        edge: u32,
    ) -> impl Iterator<Item = (u32, f32, f32)> + 'a {
        self.facilities.on(edge).iter().map(move |&idx| {
            let f = dataset.facility(idx);
            let snap = self.graph.snap_onto_edge(edge, f.lon, f.lat);
            (idx, snap.along_m, snap.off_m)
        })
    }

    /// The residential places of `dataset` (the coverage's own) snapped to `edge`, with where:
    /// `(resident idx, along_m, off_m)`.
    fn residents_on<'a>(
        &'a self,
        dataset: &'a Dataset,
        edge: u32,
    ) -> impl Iterator<Item = (u32, f32, f32)> + 'a {
        self.residents.on(edge).iter().map(move |&r| {
            let place = &dataset.residents[r as usize];
            let snap = self.graph.snap_onto_edge(edge, place.lon, place.lat);
            (r, snap.along_m, snap.off_m)
        })
    }

    /// Where residential place `r` of `dataset` (the coverage's own) meets the network.
    fn resident_snap(&self, dataset: &Dataset, r: usize) -> Option<Snap> {
        let edge = self.resident_edges[r];
        let place = &dataset.residents[r];
        (edge != NOT_SNAPPED).then(|| self.graph.snap_onto_edge(edge, place.lon, place.lat))
    }
}

/// [`Network::resident_edges`] of a place not snapped.
const NOT_SNAPPED: u32 = u32::MAX;

/// Items grouped by edge (compressed rows).
struct EdgeIndex<T> {
    offsets: Vec<u32>,
    items: Vec<T>,
}

impl<T: Copy + Default> EdgeIndex<T> {
    /// The items of the places snapped (`snaps[idx]`), by edge, in place order within an
    /// edge: `item(idx, snap)`. Counted into place, with no pairs to sort.
    fn of_snaps(
        n_edges: usize,
        snaps: &[Option<Snap>],
        item: impl Fn(u32, &Snap) -> T,
    ) -> EdgeIndex<T> {
        let mut offsets = vec![0u32; n_edges + 1];
        for snap in snaps.iter().flatten() {
            offsets[snap.edge as usize + 1] += 1;
        }
        for e in 0..n_edges {
            offsets[e + 1] += offsets[e];
        }
        let mut fill = offsets.clone();
        let mut items = vec![T::default(); offsets[n_edges] as usize];
        for (idx, snap) in snaps.iter().enumerate() {
            if let Some(snap) = snap {
                let at = &mut fill[snap.edge as usize];
                items[*at as usize] = item(idx as u32, snap);
                *at += 1;
            }
        }
        EdgeIndex { offsets, items }
    }

    /// Positions in `items` of the items on `edge`.
    fn range(&self, edge: u32) -> std::ops::Range<usize> {
        let e = edge as usize;
        self.offsets[e] as usize..self.offsets[e + 1] as usize
    }

    fn on(&self, edge: u32) -> &[T] {
        &self.items[self.range(edge)]
    }
}

/// One flag per item, 64 to a word.
struct Bits(Vec<u64>);

impl From<Vec<bool>> for Bits {
    fn from(flags: Vec<bool>) -> Bits {
        let mut words = vec![0u64; flags.len().div_ceil(64)];
        for (k, _) in flags.iter().enumerate().filter(|(_, f)| **f) {
            words[k / 64] |= 1 << (k % 64);
        }
        Bits(words)
    }
}

impl Bits {
    fn get(&self, k: usize) -> bool {
        self.0[k / 64] & (1 << (k % 64)) != 0
    }

    fn heap_bytes(&self) -> usize {
        self.0.capacity() * 8
    }
}

/// Residential places as the coverage sees them.
struct Residents {
    /// Nearest grid cell of each place.
    cell: Vec<u32>,
    /// Area (subdistrict) containing each place, or [`NO_AREA`].
    area: Vec<u16>,
    /// Whether each place lies inside the analysis area: only those are counted.
    in_area: Bits,
    /// Per category, the walking distance from each place (field encoding).
    dist_m: Vec<Vec<u16>>,
}

/// Walking-distance fields and composite scores of one data version. Immutable.
pub struct Coverage {
    pub params: CoverageParams,
    pub mode: Mode,
    pub grid: Grid,
    pub info: BuildInfo,
    taxonomy: Arc<Taxonomy>,
    /// Per category, per cell: metres to the nearest facility ([`field`] encoding).
    fields: Vec<Vec<u16>>,
    /// Per profile.
    composites: Vec<Composite>,
    /// Categories the composite counts: every category but the taxonomy's fallback and those
    /// with no facility in the data.
    composite_categories: Vec<CategoryId>,
    /// Words per cell of a [`Composite`]: one per 16 composite categories.
    composite_words: usize,
    /// The bits of `all` and of every group in a cell's composite words.
    all_members: Vec<u16>,
    group_members: Vec<Vec<u16>>,
    /// Categories (but the fallback) with no facility in the data at all.
    categories_without_data: Vec<CategoryId>,
    /// Per cell: subdistrict index or [`NO_AREA`].
    cell_area: Vec<u16>,
    /// Per cell: the centre lies inside the analysis area.
    in_area: Bits,
    /// The analysis area the grid was built for, and its outline's edges.
    area: AnalysisArea,
    area_edges: clip::AreaEdges,
    residents: Residents,
    network: Option<Network>,
    /// Per category nearest-neighbour index (euclidean mode).
    trees: Vec<RTree<IndexedFacility>>,
    /// Distances beyond this were not searched (network mode) and are stored as [`FAR`].
    cutoff_m: f64,
    /// The statuses whose facilities serve (the scenario): `existing` for the default.
    statuses: StatusSet,
}

impl Coverage {
    /// Builds the fields of every category and the composites of every profile. Blocking and
    /// CPU-heavy (rayon): call from a blocking thread.
    pub fn build(dataset: &Dataset, params: &CoverageParams) -> Result<Coverage, Error> {
        Self::build_for(dataset, params, StatusSet::EXISTING)
    }

    /// [`Coverage::build`] counting the facilities whose status is in `statuses` (a scenario:
    /// existing, + under construction, + planned). A facility serves its category and those
    /// its functions add ([`Dataset::serving`]).
    pub fn build_for(
        dataset: &Dataset,
        params: &CoverageParams,
        statuses: StatusSet,
    ) -> Result<Coverage, Error> {
        let started = std::time::Instant::now();
        let servers: Vec<Vec<u32>> = dataset
            .taxonomy
            .categories()
            .map(|(id, _)| dataset.serving(id, statuses))
            .collect();
        let taxonomy = dataset.taxonomy.clone();
        let grid = match dataset.area.source {
            AreaSource::Empty => match data_extent(dataset) {
                Some(bounds) => Grid::covering(bounds, params.padding_m, params.cell_m),
                None => Grid::empty(),
            },
            _ => Grid::covering(dataset.area.bbox, params.padding_m, params.cell_m),
        };
        if grid.n_cells() > params.max_grid_cells {
            return Err(Error::GridTooLarge {
                n_cells: grid.n_cells(),
                max: params.max_grid_cells,
            });
        }
        let ramp_max_min = ramp_max_min(&taxonomy, params);
        let max_speed = params
            .profiles
            .iter()
            .map(|p| p.speed_m_s)
            .fold(0.0, f64::max);
        let cutoff_m = f64::from(ramp_max_min) * 60.0 * max_speed;

        let phase = |name: &str| {
            tracing::debug!(
                phase = name,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "coverage build"
            )
        };
        // Streets and facilities farther than the cut-off from the grid cannot bring a cell
        // within it (a walk is never shorter than the straight line).
        let reach_box = crate::area::grow_bbox(grid.lonlat_bounds(), cutoff_m + grid.cell_m);
        let graph = match params.mode {
            CoverageMode::Euclidean => None,
            CoverageMode::Auto | CoverageMode::Network => {
                let roads = dataset
                    .roads
                    .iter()
                    .filter(|road| touches(&road.coords, reach_box));
                let graph = WalkGraph::build(
                    roads,
                    &params.exclude_highways,
                    grid.frame,
                    params.join_tolerance_m,
                );
                if !graph.edges.is_empty() {
                    Some(graph)
                } else if params.mode == CoverageMode::Network {
                    return Err(Error::NoWalkableStreets);
                } else {
                    None
                }
            }
        };
        let mode = if graph.is_some() {
            Mode::Network
        } else {
            Mode::Euclidean
        };

        let n_categories = taxonomy.len();
        let resident_cell: Vec<u32> = dataset
            .residents
            .iter()
            .map(|r| grid.nearest_cell(r.lon, r.lat).unwrap_or(0) as u32)
            .collect();
        phase("graph");
        let (fields, resident_dist, network, trees) = match graph {
            Some(graph) => {
                let (fields, resident_dist, network) =
                    network_fields(dataset, &servers, &grid, graph, cutoff_m, reach_box);
                (fields, resident_dist, Some(network), Vec::new())
            }
            None => {
                let trees = category_trees(dataset, &servers, &grid);
                let lonlat_of = |idx: u32| {
                    let f = dataset.facility(idx);
                    (f.lon, f.lat)
                };
                let fields: Vec<Vec<u16>> = trees
                    .iter()
                    .map(|tree| field::euclidean_field(&grid, tree, &lonlat_of))
                    .collect();
                let resident_dist = trees
                    .iter()
                    .map(|tree| {
                        dataset
                            .residents
                            .par_iter()
                            .map(|r| {
                                field::nearest_facility(tree, &grid.frame, lonlat_of, r.lon, r.lat)
                                    .map_or(UNREACHABLE, |(_, d)| field::encode_m(d))
                            })
                            .collect()
                    })
                    .collect();
                (fields, resident_dist, None, trees)
            }
        };
        debug_assert_eq!(fields.len(), n_categories);
        phase("fields");

        let cell_area = field::rasterise_areas(&grid, &dataset.areas);
        let in_area = Bits::from(area_mask(&dataset.area, &grid));
        let area_edges = clip::AreaEdges::new(&dataset.area);
        let resident_in_area = Bits::from(residents_in_area(dataset, &grid, &area_edges));
        let resident_area = dataset
            .residents
            .par_iter()
            .map(|r| area_containing(dataset, r.lon, r.lat))
            .collect();
        let fallback = taxonomy.fallback();
        let (composite_categories, categories_without_data): (Vec<CategoryId>, Vec<CategoryId>) =
            taxonomy
                .categories()
                .map(|(id, _)| id)
                .filter(|&id| id != fallback)
                .partition(|&id| !servers[id.0 as usize].is_empty());
        let composite_words = composite_categories.len().div_ceil(16);
        let members = |pick: &dyn Fn(CategoryId) -> bool| {
            let mut words = vec![0u16; composite_words];
            for (k, &c) in composite_categories.iter().enumerate() {
                if pick(c) {
                    words[k / 16] |= 1 << (k % 16);
                }
            }
            words
        };
        let all_members = members(&|_| true);
        let group_members = taxonomy
            .groups()
            .map(|(g, _)| members(&|c| taxonomy.category(c).group == g))
            .collect();
        let mut coverage = Coverage {
            params: params.clone(),
            mode,
            grid,
            info: BuildInfo::default(),
            taxonomy,
            fields,
            composites: Vec::new(),
            composite_categories,
            composite_words,
            all_members,
            group_members,
            categories_without_data,
            cell_area,
            in_area,
            area: dataset.area.clone(),
            area_edges,
            residents: Residents {
                cell: resident_cell,
                area: resident_area,
                in_area: resident_in_area,
                dist_m: resident_dist,
            },
            network,
            trees,
            cutoff_m,
            statuses,
        };
        phase("areas");
        coverage.composites = (0..params.profiles.len())
            .map(|p| coverage.build_composite(ProfileId(p as u8)))
            .collect();
        phase("composites");
        coverage.info = BuildInfo {
            elapsed_ms: started.elapsed().as_millis() as u64,
            heap_bytes: coverage.heap_bytes(),
            n_nodes: coverage.network.as_ref().map_or(0, |n| n.graph.n_nodes()),
            n_edges: coverage.network.as_ref().map_or(0, |n| n.graph.edges.len()),
            n_components: coverage
                .network
                .as_ref()
                .map_or(0, |n| n.graph.n_components()),
        };
        Ok(coverage)
    }

    fn build_composite(&self, profile: ProfileId) -> Composite {
        let limits: Vec<(usize, u16, usize)> = self
            .composite_categories
            .iter()
            .map(|&c| {
                (
                    c.0 as usize,
                    self.threshold_m(c, profile)
                        .floor()
                        .min(f64::from(u16::MAX)) as u16,
                    self.taxonomy.category(c).group.0 as usize,
                )
            })
            .collect();
        let words = self.composite_words;
        let mut within = vec![0u16; self.grid.n_cells() * words];
        if words > 0 {
            within
                .par_chunks_mut(words)
                .enumerate()
                .for_each(|(cell, out)| {
                    for (k, &(cat, limit, _)) in limits.iter().enumerate() {
                        if self.fields[cat][cell] <= limit {
                            out[k / 16] |= 1 << (k % 16);
                        }
                    }
                });
        }
        Composite { within }
    }

    fn heap_bytes(&self) -> usize {
        let fields: usize = self.fields.iter().map(|f| f.capacity() * 2).sum();
        let composites: usize = self
            .composites
            .iter()
            .map(|c| c.within.capacity() * 2)
            .sum();
        let residents = self.residents.cell.capacity() * 4
            + self.residents.area.capacity() * 2
            + self.residents.in_area.heap_bytes()
            + self
                .residents
                .dist_m
                .iter()
                .map(|d| d.capacity() * 2)
                .sum::<usize>();
        let network = self.network.as_ref().map_or(0, |n| {
            n.graph.heap_bytes()
                + n.facilities.items.capacity() * 4
                + n.facilities.offsets.capacity() * 4
                + n.residents.items.capacity() * 4
                + n.residents.offsets.capacity() * 4
                + n.resident_edges.capacity() * 4
        });
        let trees: usize = self
            .trees
            .iter()
            .map(|t| t.size() * (std::mem::size_of::<IndexedFacility>() + 16))
            .sum();
        fields
            + composites
            + residents
            + network
            + trees
            + self.cell_area.capacity() * 2
            + self.in_area.heap_bytes()
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// The statuses whose facilities serve in this coverage (its scenario).
    pub fn statuses(&self) -> StatusSet {
        self.statuses
    }

    /// The profile named `id`.
    pub fn profile_id(&self, id: &str) -> Result<ProfileId, Error> {
        self.params
            .profiles
            .iter()
            .position(|p| p.id == id)
            .map(|idx| ProfileId(idx as u8))
            .ok_or_else(|| Error::UnknownProfile {
                profile: id.to_owned(),
                known: self.profile_list(),
            })
    }

    /// The profile named `id`, or the default profile when `id` is `None`.
    pub fn profile_or_default(&self, id: Option<&str>) -> Result<ProfileId, Error> {
        id.map_or(Ok(self.params.default_profile), |id| self.profile_id(id))
    }

    pub fn profile(&self, id: ProfileId) -> &WalkProfile {
        &self.params.profiles[id.0 as usize]
    }

    /// Every profile id, comma-separated.
    pub fn profile_list(&self) -> String {
        self.params
            .profiles
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Parses a coverage id: a category id, `all`, or a group id (in that order of precedence).
    pub fn coverage_id(&self, id: &str) -> Result<CoverageId, Error> {
        if let Some(c) = self.taxonomy.by_id(id) {
            Ok(CoverageId::Category(c))
        } else if id == ALL_ID {
            Ok(CoverageId::All)
        } else if let Some(g) = self.taxonomy.group_by_id(id) {
            Ok(CoverageId::Group(g))
        } else {
            Err(Error::UnknownId {
                id: id.to_owned(),
                known: self
                    .ids()
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// Parses a category id (no composites).
    pub fn category_id(&self, id: &str) -> Result<CategoryId, Error> {
        self.taxonomy
            .by_id(id)
            .ok_or_else(|| Error::UnknownCategory {
                id: id.to_owned(),
                known: self.taxonomy.id_list(),
            })
    }

    /// Every coverage id with its public name: the categories, `all`, then the groups.
    pub fn ids(&self) -> Vec<(String, CoverageId)> {
        let mut ids: Vec<(String, CoverageId)> = self
            .taxonomy
            .categories()
            .map(|(id, c)| (c.id.clone(), CoverageId::Category(id)))
            .collect();
        ids.push((ALL_ID.to_owned(), CoverageId::All));
        for (id, g) in self.taxonomy.groups() {
            if self.taxonomy.by_id(&g.id).is_none() && g.id != ALL_ID {
                ids.push((g.id.clone(), CoverageId::Group(id)));
            }
        }
        ids
    }

    /// The public name of a coverage id.
    pub fn id_name(&self, id: CoverageId) -> &str {
        match id {
            CoverageId::Category(c) => &self.taxonomy.category(c).id,
            CoverageId::All => ALL_ID,
            CoverageId::Group(g) => &self.taxonomy.group(g).id,
        }
    }

    /// The categories a composite id counts.
    pub fn composite_members(&self, id: CoverageId) -> Vec<CategoryId> {
        match id {
            CoverageId::Category(c) => vec![c],
            CoverageId::All => self.composite_categories.clone(),
            CoverageId::Group(g) => self
                .composite_categories
                .iter()
                .copied()
                .filter(|&c| self.taxonomy.category(c).group == g)
                .collect(),
        }
    }

    /// The distance field of `category`: metres per cell ([`field`] encoding).
    pub fn field_m(&self, category: CategoryId) -> &[u16] {
        &self.fields[category.0 as usize]
    }

    /// The composite score per cell of `id` (not a category) under `profile`.
    pub fn composite_scores(&self, id: CoverageId, profile: ProfileId) -> Scores<'_> {
        let members = match id {
            CoverageId::Group(g) => &self.group_members[g.0 as usize],
            CoverageId::All | CoverageId::Category(_) => &self.all_members,
        };
        Scores {
            within: &self.composites[profile.0 as usize].within,
            members,
        }
    }

    /// Walking threshold of `category` under `profile`, ground metres.
    pub fn threshold_m(&self, category: CategoryId, profile: ProfileId) -> f64 {
        let minutes = f64::from(self.taxonomy.category(category).walk_min);
        self.profile(profile).metres(minutes)
    }

    /// Top of the colour ramp and of the searched range, minutes: the largest threshold or band
    /// plus `cutoff_margin_min`.
    pub fn ramp_max_min(&self) -> u32 {
        ramp_max_min(&self.taxonomy, &self.params)
    }

    /// Distances beyond this many metres are stored as [`FAR`] (network mode).
    pub fn cutoff_m(&self) -> f64 {
        self.cutoff_m
    }

    /// The field value of `category` at the cell containing `(lon, lat)`.
    pub fn field_value_at(&self, category: CategoryId, lon: f64, lat: f64) -> Option<u16> {
        self.grid
            .cell_at(lon, lat)
            .map(|cell| self.fields[category.0 as usize][cell])
    }

    /// Does the cell's centre lie inside the analysis area?
    pub fn in_area(&self, cell: usize) -> bool {
        self.in_area.get(cell)
    }

    /// The analysis area the coverage covers.
    pub fn area(&self) -> &AnalysisArea {
        &self.area
    }

    /// `[west, south, east, north]` of what heatmaps and bands show: the analysis area's
    /// rectangle within the grid (the whole grid for data without an area).
    pub fn shown_bounds(&self) -> [f64; 4] {
        let grid = self.grid.lonlat_bounds();
        if self.area.source == AreaSource::Empty {
            return grid;
        }
        let area = self.area.bbox;
        [
            grid[0].max(area[0]),
            grid[1].max(area[1]),
            grid[2].min(area[2]),
            grid[3].min(area[3]),
        ]
    }

    /// The analysis area's outline, for per-pixel clipping.
    pub fn area_edges(&self) -> &clip::AreaEdges {
        &self.area_edges
    }

    /// Categories (but the taxonomy's fallback) with no facility in the data at all: left out of
    /// every composite and of the headline.
    pub fn categories_without_data(&self) -> &[CategoryId] {
        &self.categories_without_data
    }

    /// Per residential place (dataset order), the walking distance to the nearest facility of
    /// `category` ([`field`] encoding).
    pub fn resident_dist_m(&self, category: CategoryId) -> &[u16] {
        &self.residents.dist_m[category.0 as usize]
    }

    /// Is residential place `r` inside the analysis area (its cell is)?
    pub fn resident_in_area(&self, r: usize) -> bool {
        self.residents.in_area.get(r)
    }

    /// The walking graph (network mode), for analyses that walk from single facilities
    /// (`service_load`).
    pub fn walk_graph(&self) -> Option<&WalkGraph> {
        self.network.as_ref().map(|n| &n.graph)
    }

    /// Area index of a cell, or [`NO_AREA`].
    pub fn cell_area(&self, cell: usize) -> u16 {
        self.cell_area[cell]
    }
}

/// The largest walking threshold or band, plus the margin, minutes.
fn ramp_max_min(taxonomy: &Taxonomy, params: &CoverageParams) -> u32 {
    let max_walk = taxonomy
        .categories()
        .map(|(_, c)| c.walk_min)
        .max()
        .unwrap_or(15);
    let max_band = params.band_minutes.last().copied().unwrap_or(15);
    max_walk.max(max_band) + params.cutoff_margin_min
}

/// `[west, south, east, north]` of facilities, subdistricts and residential places; `None` when
/// there is nothing.
fn data_extent(dataset: &Dataset) -> Option<[f64; 4]> {
    if dataset.facilities().is_empty() && dataset.areas.is_empty() && dataset.residents.is_empty() {
        return None;
    }
    let mut bounds = if dataset.facilities().is_empty() && dataset.areas.is_empty() {
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ]
    } else {
        dataset.bounds
    };
    for r in &dataset.residents {
        bounds = [
            bounds[0].min(r.lon),
            bounds[1].min(r.lat),
            bounds[2].max(r.lon),
            bounds[3].max(r.lat),
        ];
    }
    Some(bounds)
}

/// Cells whose centre lies inside the analysis area.
fn area_mask(area: &AnalysisArea, grid: &Grid) -> Vec<bool> {
    match &area.outline {
        Some(outline) => {
            let as_area = Area {
                name: String::new(),
                name_en: None,
                polygon: outline.clone(),
            };
            field::rasterise_areas(grid, std::slice::from_ref(&as_area))
                .into_iter()
                .map(|a| a != NO_AREA)
                .collect()
        }
        None => {
            let [west, south, east, north] = area.bbox;
            (0..grid.n_cells())
                .into_par_iter()
                .map(|cell| {
                    let (lon, lat) = grid.centre_lonlat(cell);
                    (west..=east).contains(&lon) && (south..=north).contains(&lat)
                })
                .collect()
        }
    }
}

/// Whether each residential place lies inside the analysis area, tested against its outline:
/// places are taken a grid row at a time, against the outline's edges crossing that row.
fn residents_in_area(dataset: &Dataset, grid: &Grid, edges: &clip::AreaEdges) -> Vec<bool> {
    let mut by_row: Vec<Vec<u32>> = vec![Vec::new(); grid.n_rows];
    for (r, place) in dataset.residents.iter().enumerate() {
        if let Some(cell) = grid.cell_at(place.lon, place.lat) {
            by_row[cell / grid.n_cols].push(r as u32);
        }
    }
    let inside: Vec<u32> = by_row
        .par_iter()
        .enumerate()
        .filter(|(_, places)| !places.is_empty())
        .flat_map_iter(|(row, places)| {
            let y = grid.y0_m + row as f64 * grid.cell_m;
            let south = grid.frame.to_lonlat([0.0, y]).1;
            let north = grid.frame.to_lonlat([0.0, y + grid.cell_m]).1;
            let band = edges.band(south, north);
            let mut spans = Vec::new();
            places
                .iter()
                .copied()
                .filter(|&r| {
                    let place = &dataset.residents[r as usize];
                    band.spans(place.lat, &mut spans);
                    clip::in_spans(&spans, place.lon)
                })
                .collect::<Vec<u32>>()
        })
        .collect();
    let mut flags = vec![false; dataset.residents.len()];
    for r in inside {
        flags[r as usize] = true;
    }
    flags
}

/// Does a polyline's bounding box meet `[west, south, east, north]`?
fn touches(coords: &[(f64, f64)], [west, south, east, north]: [f64; 4]) -> bool {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for &(lon, lat) in coords {
        b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
    }
    b[0] <= east && b[2] >= west && b[1] <= north && b[3] >= south
}

/// Is `(lon, lat)` inside `[west, south, east, north]`?
fn in_box((lon, lat): (f64, f64), [west, south, east, north]: [f64; 4]) -> bool {
    (west..=east).contains(&lon) && (south..=north).contains(&lat)
}

/// Index of the first area whose polygon contains `(lon, lat)`, or [`NO_AREA`].
fn area_containing(dataset: &Dataset, lon: f64, lat: f64) -> u16 {
    let point = geo::Point::new(lon, lat);
    dataset
        .areas
        .iter()
        .position(|a| {
            a.polygon.bounding_rect().is_some_and(|r| {
                (r.min().x..=r.max().x).contains(&lon) && (r.min().y..=r.max().y).contains(&lat)
            }) && a.polygon.contains(&point)
        })
        .filter(|&idx| idx < usize::from(NO_AREA))
        .map_or(NO_AREA, |idx| idx as u16)
}

/// One R-tree per category of the frame positions of the facilities serving it.
fn category_trees(
    dataset: &Dataset,
    servers: &[Vec<u32>],
    grid: &Grid,
) -> Vec<RTree<IndexedFacility>> {
    servers
        .iter()
        .map(|members| {
            RTree::bulk_load(
                members
                    .iter()
                    .map(|&idx| {
                        let f = dataset.facility(idx);
                        IndexedFacility::new(grid.frame.to_xy(f.lon, f.lat), idx)
                    })
                    .collect(),
            )
        })
        .collect()
}

type NetworkFields = (Vec<Vec<u16>>, Vec<Vec<u16>>, Network);

/// The network-mode fields of every category, the distances of the residential places, and the
/// network with facilities and places attached.
fn network_fields(
    dataset: &Dataset,
    servers: &[Vec<u32>],
    grid: &Grid,
    mut graph: WalkGraph,
    cutoff_m: f64,
    reach_box: [f64; 4],
) -> NetworkFields {
    let taxonomy = &dataset.taxonomy;
    let started = std::time::Instant::now();
    // Only what lies within reach of the grid is snapped: the rest is beyond the cut-off of
    // every cell.
    let facilities = dataset.facilities();
    let facility_snaps = graph.snap_many(facilities.len(), |k| {
        let f = &facilities[k];
        in_box((f.lon, f.lat), reach_box).then_some((f.lon, f.lat))
    });
    let residents = &dataset.residents;
    let resident_snaps = graph.snap_many(residents.len(), |k| {
        let r = &residents[k];
        in_box((r.lon, r.lat), reach_box).then_some((r.lon, r.lat))
    });
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "snapped facilities and residential places"
    );
    let cell_snaps = graph.snap_cells(grid);
    graph.drop_bulk_snapping();
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "snapped cells"
    );
    let n_edges = graph.edges.len();
    let facilities_by_edge =
        EdgeIndex::of_snaps(n_edges, &facility_snaps, |idx, s| (idx, s.along_m, s.off_m));
    drop(facility_snaps);
    // Per item of `facilities_by_edge`, the categories the facility serves (bit `c % 16` of
    // word `c / 16`), read beside the items while the fields are built.
    let category_ids: Vec<CategoryId> = taxonomy.categories().map(|(id, _)| id).collect();
    let words = category_ids.len().div_ceil(16);
    let serves = {
        let mut per_facility = vec![0u16; dataset.facilities().len() * words];
        for &c in &category_ids {
            let c = c.0 as usize;
            for &idx in &servers[c] {
                per_facility[idx as usize * words + c / 16] |= 1 << (c % 16);
            }
        }
        let mut per_item = Vec::with_capacity(facilities_by_edge.items.len() * words);
        for &(idx, _, _) in &facilities_by_edge.items {
            let at = idx as usize * words;
            per_item.extend_from_slice(&per_facility[at..at + words]);
        }
        per_item
    };
    let serving = |item: usize, c: usize| serves[item * words + c / 16] & (1 << (c % 16)) != 0;
    let n_components = graph.n_components();
    let mut category_components = vec![vec![false; n_components]; category_ids.len()];
    for edge in 0..n_edges as u32 {
        let component = graph.edge_component(edge) as usize;
        for item in facilities_by_edge.range(edge) {
            for (c, has) in category_components.iter_mut().enumerate() {
                if serving(item, c) {
                    has[component] = true;
                }
            }
        }
    }
    let per_category: Vec<(Vec<u16>, Vec<u16>)> = category_ids
        .par_iter()
        .map_init(
            || FieldSearch::new(&graph),
            |search, &category| {
                let c = category.0 as usize;
                let mut seeds = Vec::with_capacity(servers[c].len() * 2);
                for edge in 0..n_edges as u32 {
                    for item in facilities_by_edge.range(edge) {
                        if serving(item, c) {
                            let (_, along_m, off_m) = facilities_by_edge.items[item];
                            let snap = Snap {
                                edge,
                                along_m,
                                off_m,
                            };
                            seeds.extend(graph.seeds(&snap, off_m));
                        }
                    }
                }
                let dist = search.run(&graph, seeds, cutoff_m as f32);
                let components = &category_components[c];
                let value = |snap: &Option<Snap>| -> u16 {
                    let Some(snap) = snap else {
                        return UNREACHABLE;
                    };
                    let mut d = via_ends(&graph, dist, snap);
                    // Straight along the edge to a source on it.
                    for item in facilities_by_edge.range(snap.edge) {
                        if serving(item, c) {
                            let (_, along_m, off_m) = facilities_by_edge.items[item];
                            d = d.min((along_m - snap.along_m).abs() + off_m);
                        }
                    }
                    let d = d + snap.off_m;
                    if f64::from(d) <= cutoff_m {
                        field::encode_m(f64::from(d))
                    } else if components[graph.edge_component(snap.edge) as usize] {
                        FAR
                    } else {
                        UNREACHABLE
                    }
                };
                let cells: Vec<u16> = cell_snaps.par_iter().map(value).collect();
                let residents: Vec<u16> = resident_snaps.iter().map(value).collect();
                (cells, residents)
            },
        )
        .collect();
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "searched every category"
    );
    drop(serves);
    let (fields, resident_dist) = per_category.into_iter().unzip();
    let network = Network {
        facilities: EdgeIndex {
            items: facilities_by_edge.items.iter().map(|item| item.0).collect(),
            offsets: facilities_by_edge.offsets,
        },
        residents: EdgeIndex::of_snaps(n_edges, &resident_snaps, |idx, _| idx),
        resident_edges: resident_snaps
            .iter()
            .map(|s| s.map_or(NOT_SNAPPED, |s| s.edge))
            .collect(),
        category_components,
        graph,
    };
    (fields, resident_dist, network)
}

/// Walking distance from a snapped place to the nearest source via either end of its edge,
/// given the node distances of a multi-source search (without the place's off-network leg).
fn via_ends(graph: &WalkGraph, node_dist: &[f32], snap: &Snap) -> f32 {
    let edge = graph.edges[snap.edge as usize];
    (node_dist[edge.u as usize] + snap.along_m)
        .min(node_dist[edge.v as usize] + (edge.len_m - snap.along_m).max(0.0))
}

#[cfg(test)]
mod tests;
