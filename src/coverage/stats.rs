//! Figures derived from a [`Coverage`]: per-subdistrict statistics, blind spots, suggested sites
//! and one place's "my life circle" report.
//!
//! Takes the coverage, the dataset it was built from and the request's parameters; gives plain
//! structs (the HTTP layer shapes them into JSON or CSV). Area shares count grid cells whose
//! centre lies in the subdistrict; population shares use each residential place's own walking
//! distance (not its cell's), with the place's population as weight.

use rayon::prelude::*;
use rstar::{RTree, primitives::GeomWithData};

use super::field::{self, NO_AREA};
use super::graph::{Flow, Search};
use super::{Coverage, Error, Mode, ProfileId};
use crate::dataset::Dataset;
use crate::geom;
use crate::taxonomy::{CategoryId, GroupId};

/// Counts within threshold out of a total, for cells (weight 1) or residents (population).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub within: u64,
    pub total: u64,
}

impl Count {
    /// `within / total`, `None` when there is nothing to count.
    pub fn share(&self) -> Option<f64> {
        (self.total > 0).then(|| self.within as f64 / self.total as f64)
    }

    pub fn outside(&self) -> u64 {
        self.total - self.within
    }
}

/// One measure, by area (cells) and by population.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub cells: Count,
    pub population: Count,
}

/// The figures of one area (a subdistrict, the places outside every subdistrict, or the whole).
#[derive(Debug, Clone)]
pub struct AreaStats {
    pub name: String,
    pub name_en: Option<String>,
    /// Grid cells counted (cell centres inside the area).
    pub n_cells: u64,
    pub area_km2: f64,
    pub population: u64,
    /// Per category (taxonomy order): within the category's threshold.
    pub categories: Vec<Share>,
    /// Every composite category within its threshold.
    pub all: Share,
    /// Every essential category within its threshold (the headline figure).
    pub essential: Share,
    /// Per group: every category of the group within its threshold.
    pub groups: Vec<Share>,
    /// Sum of composite scores over cells, and over residents (population-weighted).
    pub score_sum_cells: u64,
    pub score_sum_population: u64,
    /// Number of composite categories (the largest score).
    pub n_composite: u32,
}

impl AreaStats {
    pub fn mean_score_cells(&self) -> Option<f64> {
        (self.n_cells > 0).then(|| self.score_sum_cells as f64 / self.n_cells as f64)
    }

    pub fn mean_score_population(&self) -> Option<f64> {
        (self.population > 0).then(|| self.score_sum_population as f64 / self.population as f64)
    }
}

/// Statistics of one profile.
#[derive(Debug, Clone)]
pub struct Stats {
    pub profile: ProfileId,
    /// One per subdistrict that meets the analysis area (has a cell or a resident inside it), in
    /// data order.
    pub areas: Vec<AreaStats>,
    /// Residential places outside every subdistrict (no cells); `None` when there are none.
    pub outside_areas: Option<AreaStats>,
    /// Everything: the subdistricts plus the places outside them.
    pub total: AreaStats,
    pub essential_categories: Vec<CategoryId>,
    /// Categories with no facility in the data at all, left out of every composite and the
    /// headline.
    pub categories_without_data: Vec<CategoryId>,
    /// The essential ones among them: named by the headline.
    pub essential_without_data: Vec<CategoryId>,
    /// Categories per group (composite categories only).
    pub group_members: Vec<(GroupId, Vec<CategoryId>)>,
}

/// Which thresholds an item meets, in the shape the accumulators need.
struct Limits {
    /// Per category: threshold in stored metres.
    limit: Vec<u16>,
    composite: Vec<usize>,
    essential: Vec<usize>,
    groups: Vec<Vec<usize>>,
}

impl Limits {
    fn new(coverage: &Coverage, profile: ProfileId) -> Limits {
        let taxonomy = coverage.taxonomy();
        let limit = taxonomy
            .categories()
            .map(|(id, _)| limit_m(coverage, id, profile))
            .collect();
        let composite: Vec<usize> = coverage
            .composite_categories
            .iter()
            .map(|c| c.0 as usize)
            .collect();
        let essential = composite
            .iter()
            .copied()
            .filter(|&c| taxonomy.category(CategoryId(c as u8)).essential)
            .collect();
        let groups = taxonomy
            .groups()
            .map(|(g, _)| {
                composite
                    .iter()
                    .copied()
                    .filter(|&c| taxonomy.category(CategoryId(c as u8)).group == g)
                    .collect()
            })
            .collect();
        Limits {
            limit,
            composite,
            essential,
            groups,
        }
    }
}

/// The threshold of `category` under `profile` in stored field units (whole metres): a value `v`
/// is within it when `v <= limit`.
pub fn limit_m(coverage: &Coverage, category: CategoryId, profile: ProfileId) -> u16 {
    let limit = coverage.threshold_m(category, profile).floor();
    limit.min(f64::from(field::MAX_STORED_M)) as u16
}

/// Running sums for one area.
#[derive(Clone)]
struct Acc {
    n: u64,
    within: Vec<u64>,
    all: u64,
    essential: u64,
    groups: Vec<u64>,
    score_sum: u64,
}

impl Acc {
    fn new(n_categories: usize, n_groups: usize) -> Acc {
        Acc {
            n: 0,
            within: vec![0; n_categories],
            all: 0,
            essential: 0,
            groups: vec![0; n_groups],
            score_sum: 0,
        }
    }

    fn add(&mut self, limits: &Limits, weight: u64, value: impl Fn(usize) -> u16) {
        let ok: Vec<bool> = (0..limits.limit.len())
            .map(|c| value(c) <= limits.limit[c])
            .collect();
        self.n += weight;
        for (c, &hit) in ok.iter().enumerate() {
            if hit {
                self.within[c] += weight;
            }
        }
        let score = limits.composite.iter().filter(|&&c| ok[c]).count() as u64;
        self.score_sum += score * weight;
        if limits.composite.iter().all(|&c| ok[c]) {
            self.all += weight;
        }
        if limits.essential.iter().all(|&c| ok[c]) {
            self.essential += weight;
        }
        for (g, members) in limits.groups.iter().enumerate() {
            if members.iter().all(|&c| ok[c]) {
                self.groups[g] += weight;
            }
        }
    }

    fn merge(&mut self, other: &Acc) {
        self.n += other.n;
        for (a, b) in self.within.iter_mut().zip(&other.within) {
            *a += b;
        }
        self.all += other.all;
        self.essential += other.essential;
        for (a, b) in self.groups.iter_mut().zip(&other.groups) {
            *a += b;
        }
        self.score_sum += other.score_sum;
    }
}

/// Per-subdistrict and total statistics under `profile`.
pub fn stats(coverage: &Coverage, dataset: &Dataset, profile: ProfileId) -> Stats {
    let taxonomy = coverage.taxonomy();
    let limits = Limits::new(coverage, profile);
    let n_categories = taxonomy.len();
    let n_groups = taxonomy.groups().len();
    let n_areas = dataset.areas.len();
    // Bucket n_areas holds what lies outside every area.
    let bucket = |area: u16| {
        if area == NO_AREA {
            n_areas
        } else {
            area as usize
        }
    };
    let empty = vec![Acc::new(n_categories, n_groups); n_areas + 1];
    let merge_all = |mut a: Vec<Acc>, b: Vec<Acc>| {
        for (x, y) in a.iter_mut().zip(&b) {
            x.merge(y);
        }
        a
    };
    let cells = (0..coverage.grid.n_cells())
        .into_par_iter()
        .filter(|&cell| coverage.in_area(cell))
        .fold(
            || empty.clone(),
            |mut accs, cell| {
                accs[bucket(coverage.cell_area(cell))]
                    .add(&limits, 1, |c| coverage.fields[c][cell]);
                accs
            },
        )
        .reduce(|| empty.clone(), merge_all);
    let residents = &coverage.residents;
    let people = (0..dataset.residents.len())
        .into_par_iter()
        .filter(|&r| coverage.resident_in_area(r))
        .fold(
            || empty.clone(),
            |mut accs, r| {
                let weight = u64::from(dataset.residents[r].population);
                accs[bucket(residents.area[r])].add(&limits, weight, |c| residents.dist_m[c][r]);
                accs
            },
        )
        .reduce(|| empty.clone(), merge_all);

    let cell_km2 = coverage.grid.cell_area_m2() / 1e6;
    let make = |name: String, name_en: Option<String>, cells: &Acc, people: &Acc| {
        let share = |c: u64, p: u64| Share {
            cells: Count {
                within: c,
                total: cells.n,
            },
            population: Count {
                within: p,
                total: people.n,
            },
        };
        AreaStats {
            name,
            name_en,
            n_cells: cells.n,
            area_km2: cells.n as f64 * cell_km2,
            population: people.n,
            categories: (0..n_categories)
                .map(|c| share(cells.within[c], people.within[c]))
                .collect(),
            all: share(cells.all, people.all),
            essential: share(cells.essential, people.essential),
            groups: (0..n_groups)
                .map(|g| share(cells.groups[g], people.groups[g]))
                .collect(),
            score_sum_cells: cells.score_sum,
            score_sum_population: people.score_sum,
            n_composite: limits.composite.len() as u32,
        }
    };
    let areas = dataset
        .areas
        .iter()
        .enumerate()
        .filter(|&(a, _)| cells[a].n > 0 || people[a].n > 0)
        .map(|(a, area)| {
            make(
                area.name.clone(),
                area.name_en.clone(),
                &cells[a],
                &people[a],
            )
        })
        .collect();
    let outside_areas = (n_areas > 0 && people[n_areas].n > 0).then(|| {
        make(
            "outside subdistricts".into(),
            None,
            &cells[n_areas],
            &people[n_areas],
        )
    });
    let mut total_cells = Acc::new(n_categories, n_groups);
    let mut total_people = Acc::new(n_categories, n_groups);
    for (c, p) in cells.iter().zip(&people) {
        total_cells.merge(c);
        total_people.merge(p);
    }
    let total = make("total".into(), None, &total_cells, &total_people);
    Stats {
        profile,
        areas,
        outside_areas,
        total,
        essential_categories: limits
            .essential
            .iter()
            .map(|&c| CategoryId(c as u8))
            .collect(),
        categories_without_data: coverage.categories_without_data().to_vec(),
        essential_without_data: coverage
            .categories_without_data()
            .iter()
            .copied()
            .filter(|&c| taxonomy.category(c).essential)
            .collect(),
        group_members: taxonomy
            .groups()
            .map(|(g, _)| {
                (
                    g,
                    limits.groups[g.0 as usize]
                        .iter()
                        .map(|&c| CategoryId(c as u8))
                        .collect(),
                )
            })
            .collect(),
    }
}

/// A blind spot: a contiguous (edge-connected) group of study-area cells beyond the threshold.
#[derive(Debug, Clone)]
pub struct Gap {
    pub n_cells: u64,
    pub area_m2: f64,
    /// Population of the residential places whose cell is in the gap.
    pub residents: u64,
    /// lon/lat of the mean cell centre.
    pub centroid: (f64, f64),
    /// `[west, south, east, north]` of the gap's cells.
    pub bounds: [f64; 4],
    /// Cells with no facility of the category reachable at all.
    pub n_unreachable_cells: u64,
}

/// Every blind spot of a category, largest first.
#[derive(Debug, Clone)]
pub struct Gaps {
    pub category: CategoryId,
    pub profile: ProfileId,
    pub threshold_min: u32,
    /// All gaps, largest area first (ties: more residents first).
    pub gaps: Vec<Gap>,
}

/// Labels the blind spots of `category` under `profile`: per cell, the number of the
/// edge-connected group of uncovered area cells it belongs to (`u32::MAX`: none), and how many
/// groups there are. The one definition of a blind spot ([`gaps`], scenario comparisons).
pub fn gap_labels(
    coverage: &Coverage,
    category: CategoryId,
    profile: ProfileId,
) -> (Vec<u32>, usize) {
    let grid = &coverage.grid;
    let field = coverage.field_m(category);
    let limit = limit_m(coverage, category, profile);
    let uncovered = |cell: usize| coverage.in_area(cell) && field[cell] > limit;
    let (n_cols, n_rows) = (grid.n_cols, grid.n_rows);
    let mut label = vec![u32::MAX; grid.n_cells()];
    let mut n_gaps = 0u32;
    let mut stack = Vec::new();
    for start in 0..grid.n_cells() {
        if label[start] != u32::MAX || !uncovered(start) {
            continue;
        }
        let id = n_gaps;
        n_gaps += 1;
        label[start] = id;
        stack.push(start);
        while let Some(cell) = stack.pop() {
            let (col, row) = (cell % n_cols, cell / n_cols);
            let neighbours = [
                (col > 0).then(|| cell - 1),
                (col + 1 < n_cols).then(|| cell + 1),
                (row > 0).then(|| cell - n_cols),
                (row + 1 < n_rows).then(|| cell + n_cols),
            ];
            for next in neighbours.into_iter().flatten() {
                if label[next] == u32::MAX && uncovered(next) {
                    label[next] = id;
                    stack.push(next);
                }
            }
        }
    }
    (label, n_gaps as usize)
}

/// The blind spots of `category` under `profile`.
pub fn gaps(
    coverage: &Coverage,
    dataset: &Dataset,
    category: CategoryId,
    profile: ProfileId,
) -> Gaps {
    let grid = &coverage.grid;
    let field = coverage.field_m(category);
    let (label, n_gaps) = gap_labels(coverage, category, profile);
    let n_cols = grid.n_cols;
    struct Bounds {
        n: u64,
        sum: [f64; 2],
        n_unreachable: u64,
        cols: (usize, usize),
        rows: (usize, usize),
    }
    let mut acc: Vec<Bounds> = (0..n_gaps)
        .map(|_| Bounds {
            n: 0,
            sum: [0.0; 2],
            n_unreachable: 0,
            cols: (usize::MAX, 0),
            rows: (usize::MAX, 0),
        })
        .collect();
    for (cell, &id) in label.iter().enumerate() {
        let Some(b) = acc.get_mut(id as usize) else {
            continue;
        };
        let (col, row) = (cell % n_cols, cell / n_cols);
        let [x, y] = grid.centre_xy(col, row);
        b.n += 1;
        b.sum[0] += x;
        b.sum[1] += y;
        b.n_unreachable += u64::from(field[cell] == field::UNREACHABLE);
        b.cols = (b.cols.0.min(col), b.cols.1.max(col));
        b.rows = (b.rows.0.min(row), b.rows.1.max(row));
    }
    let half = grid.cell_m / 2.0;
    let mut found: Vec<Gap> = acc
        .iter()
        .map(|b| {
            let (west, south) = grid.frame.to_lonlat([
                grid.centre_xy(b.cols.0, b.rows.0)[0] - half,
                grid.centre_xy(b.cols.0, b.rows.0)[1] - half,
            ]);
            let (east, north) = grid.frame.to_lonlat([
                grid.centre_xy(b.cols.1, b.rows.1)[0] + half,
                grid.centre_xy(b.cols.1, b.rows.1)[1] + half,
            ]);
            Gap {
                n_cells: b.n,
                area_m2: b.n as f64 * grid.cell_area_m2(),
                residents: 0,
                centroid: grid
                    .frame
                    .to_lonlat([b.sum[0] / b.n as f64, b.sum[1] / b.n as f64]),
                bounds: [west, south, east, north],
                n_unreachable_cells: b.n_unreachable,
            }
        })
        .collect();
    for (r, place) in dataset.residents.iter().enumerate() {
        if !coverage.resident_in_area(r) {
            continue;
        }
        let cell = coverage.residents.cell[r] as usize;
        if let Some(gap) = found.get_mut(label.get(cell).copied().unwrap_or(u32::MAX) as usize) {
            gap.residents += u64::from(place.population);
        }
    }
    found.sort_by(|a, b| {
        b.n_cells
            .cmp(&a.n_cells)
            .then(b.residents.cmp(&a.residents))
            .then(a.centroid.0.total_cmp(&b.centroid.0))
            .then(a.centroid.1.total_cmp(&b.centroid.1))
    });
    Gaps {
        category,
        profile,
        threshold_min: coverage.taxonomy().category(category).walk_min,
        gaps: found,
    }
}

/// One suggested site.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The residential place the site is at.
    pub resident: usize,
    pub lon: f64,
    pub lat: f64,
    /// Residents brought within the threshold by this site, beyond those the earlier picks cover.
    pub newly_covered: u64,
    /// Residents covered by this and the earlier picks together.
    pub cumulative: u64,
}

/// Greedy site suggestions for one category.
#[derive(Debug, Clone)]
pub struct Suggestions {
    pub category: CategoryId,
    pub profile: ProfileId,
    pub threshold_min: u32,
    pub population: u64,
    /// Residents beyond the threshold today.
    pub uncovered_before: u64,
    /// Candidate sites considered.
    pub n_candidates: usize,
    /// Fewer than asked when no further site covers anyone new.
    pub picks: Vec<Suggestion>,
    /// Why there are no picks; `None` when there are some.
    pub empty_reason: Option<EmptyReason>,
}

/// Why `/coverage/suggest` suggests nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyReason {
    /// No residential places are loaded (`data.residents`).
    NoResidentsData,
    /// Residential places are loaded, but none with people lies inside the analysis area.
    NoResidentsInArea,
    /// Every resident in the area is already within the category's threshold.
    AllCovered,
}

impl EmptyReason {
    /// A stable code for clients.
    pub fn code(self) -> &'static str {
        match self {
            EmptyReason::NoResidentsData => "no_residents_data",
            EmptyReason::NoResidentsInArea => "no_residents_in_area",
            EmptyReason::AllCovered => "all_covered",
        }
    }

    /// The reason in a sentence, with what to do about it.
    pub fn message(self) -> &'static str {
        match self {
            EmptyReason::NoResidentsData => {
                "no residential places are loaded, so there is nobody to bring within reach; configure data.residents"
            }
            EmptyReason::NoResidentsInArea => {
                "no residential place with people lies inside the analysis area; check [area] and data.residents"
            }
            EmptyReason::AllCovered => {
                "every resident in the analysis area is already within the walking threshold"
            }
        }
    }
}

/// Largest `k` accepted by [`suggest`].
pub const MAX_SUGGESTIONS: usize = 50;

/// Up to `k` sites for a new facility of `category`, chosen greedily: each pick is the candidate
/// that brings the most not-yet-covered residents within the threshold. Candidates are the most
/// populous residential places beyond the threshold (at most `suggest_max_candidates`).
pub fn suggest(
    coverage: &Coverage,
    dataset: &Dataset,
    category: CategoryId,
    k: usize,
    profile: ProfileId,
) -> Result<Suggestions, Error> {
    let never = std::sync::atomic::AtomicBool::new(false);
    suggest_cancellable(coverage, dataset, category, k, profile, &never)
}

/// [`suggest`], stopping early (with a meaningless result) once `cancel` is set: the caller
/// no longer wants it.
pub fn suggest_cancellable(
    coverage: &Coverage,
    dataset: &Dataset,
    category: CategoryId,
    k: usize,
    profile: ProfileId,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Suggestions, Error> {
    if !(1..=MAX_SUGGESTIONS).contains(&k) {
        return Err(Error::BadParameter {
            name: "k",
            message: format!("must be from 1 to {MAX_SUGGESTIONS}, not {k}"),
        });
    }
    let limit = limit_m(coverage, category, profile);
    let limit_f = f64::from(limit);
    let dist = &coverage.residents.dist_m[category.0 as usize];
    let places = &dataset.residents;
    let uncovered: Vec<usize> = (0..places.len())
        .filter(|&r| coverage.resident_in_area(r) && dist[r] > limit && places[r].population > 0)
        .collect();
    let mut is_uncovered = vec![false; places.len()];
    for &r in &uncovered {
        is_uncovered[r] = true;
    }
    let mut candidates = uncovered.clone();
    candidates.sort_by_key(|&r| (std::cmp::Reverse(places[r].population), r));
    candidates.truncate(coverage.params.suggest_max_candidates);

    // For every candidate, the uncovered places within the threshold of it.
    let reach: Vec<Vec<u32>> = match (&coverage.network, coverage.mode) {
        (Some(network), Mode::Network) => {
            let graph = &network.graph;
            candidates
                .par_iter()
                .map_init(
                    || Search::new(graph),
                    |search, &c| {
                        let mut hits = vec![c as u32];
                        let Some(snap) = network.resident_snap(dataset, c) else {
                            return hits;
                        };
                        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                            return hits;
                        }
                        let start_m = snap.off_m;
                        let mut consider = |r: u32, d: f32| {
                            if is_uncovered[r as usize] && f64::from(d) <= limit_f {
                                hits.push(r);
                            }
                        };
                        for (r, along_m, off_m) in network.residents_on(dataset, snap.edge) {
                            consider(r, start_m + (along_m - snap.along_m).abs() + off_m);
                        }
                        search.run(
                            graph,
                            graph.seeds(&snap, start_m),
                            limit as f32,
                            |node, d| {
                                for (_, edge) in graph.arcs(node) {
                                    for (r, along_m, off_m) in network.residents_on(dataset, edge) {
                                        consider(
                                            r,
                                            d + graph.along_from(edge, node, along_m) + off_m,
                                        );
                                    }
                                }
                                Flow::Continue
                            },
                        );
                        hits.sort_unstable();
                        hits.dedup();
                        hits
                    },
                )
                .collect()
        }
        _ => {
            let frame = coverage.grid.frame;
            let tree: RTree<GeomWithData<[f64; 2], u32>> = RTree::bulk_load(
                uncovered
                    .iter()
                    .map(|&r| {
                        GeomWithData::new(frame.to_xy(places[r].lon, places[r].lat), r as u32)
                    })
                    .collect(),
            );
            // The frame may be off by a fraction of a percent: search a little wider, then
            // decide on the ground.
            let radius_m = limit_f * 1.01 + 1.0;
            candidates
                .par_iter()
                .map(|&c| {
                    let origin = (places[c].lon, places[c].lat);
                    let mut hits: Vec<u32> = tree
                        .locate_within_distance(
                            frame.to_xy(origin.0, origin.1),
                            radius_m * radius_m,
                        )
                        .map(|p| p.data)
                        .filter(|&r| {
                            let place = &places[r as usize];
                            geom::haversine_m(origin, (place.lon, place.lat)) <= limit_f
                        })
                        .collect();
                    hits.push(c as u32);
                    hits.sort_unstable();
                    hits.dedup();
                    hits
                })
                .collect()
        }
    };

    let mut covered = vec![false; places.len()];
    let mut picks = Vec::new();
    let mut cumulative = 0u64;
    for _ in 0..k {
        let gain = |hits: &[u32]| -> u64 {
            hits.iter()
                .filter(|&&r| !covered[r as usize])
                .map(|&r| u64::from(places[r as usize].population))
                .sum()
        };
        let best = reach
            .iter()
            .enumerate()
            .map(|(i, hits)| (gain(hits), std::cmp::Reverse(i)))
            .max();
        let Some((newly_covered, std::cmp::Reverse(i))) = best.filter(|b| b.0 > 0) else {
            break;
        };
        for &r in &reach[i] {
            covered[r as usize] = true;
        }
        cumulative += newly_covered;
        let place = &places[candidates[i]];
        picks.push(Suggestion {
            resident: candidates[i],
            lon: place.lon,
            lat: place.lat,
            newly_covered,
            cumulative,
        });
    }
    let population: u64 = (0..places.len())
        .filter(|&r| coverage.resident_in_area(r))
        .map(|r| u64::from(places[r].population))
        .sum();
    let empty_reason = if !picks.is_empty() {
        None
    } else if places.is_empty() {
        Some(EmptyReason::NoResidentsData)
    } else if population == 0 {
        Some(EmptyReason::NoResidentsInArea)
    } else {
        // With anyone uncovered, the most populous uncovered place covers itself.
        Some(EmptyReason::AllCovered)
    };
    Ok(Suggestions {
        category,
        profile,
        threshold_min: coverage.taxonomy().category(category).walk_min,
        population,
        uncovered_before: uncovered
            .iter()
            .map(|&r| u64::from(places[r].population))
            .sum(),
        n_candidates: candidates.len(),
        picks,
        empty_reason,
    })
}

/// How one category is reached from a place.
#[derive(Debug, Clone)]
pub struct Reach {
    pub category: CategoryId,
    /// Ground metres to the nearest facility; `None` when none can be reached.
    pub dist_m: Option<f64>,
    /// Index of that facility in the dataset.
    pub facility: Option<u32>,
    pub within: bool,
}

/// A resident's "my life circle" report for one place.
#[derive(Debug, Clone)]
pub struct PlaceReport {
    pub lon: f64,
    pub lat: f64,
    pub profile: ProfileId,
    /// Where the place meets the street network, and how far off it is (network mode).
    pub snapped: Option<((f64, f64), f64)>,
    /// Per category, in taxonomy order.
    pub reach: Vec<Reach>,
    /// Composite categories within their threshold, and how many there are.
    pub score: u32,
    pub n_composite: u32,
    /// Per group: within, out of.
    pub groups: Vec<(GroupId, u32, u32)>,
    /// Every essential category within its threshold.
    pub essential_within: bool,
}

/// Walking distances from `(lon, lat)` to the nearest facility of every category, computed for
/// the place itself (not its cell). The place must lie inside the coverage grid.
pub fn at(
    coverage: &Coverage,
    dataset: &Dataset,
    lon: f64,
    lat: f64,
    profile: ProfileId,
) -> Result<PlaceReport, Error> {
    if !geom::is_valid_lonlat(lon, lat) {
        return Err(Error::BadParameter {
            name: "lon",
            message: format!("`{lon},{lat}` is not a WGS84 longitude and latitude"),
        });
    }
    if coverage.grid.cell_at(lon, lat).is_none() {
        let [w, s, e, n] = coverage.grid.lonlat_bounds();
        return Err(Error::BadParameter {
            name: "lon",
            message: format!(
                "`{lon},{lat}` is outside the area covered (the analysis area and coverage.padding_m: lon {w:.5} to {e:.5}, lat {s:.5} to {n:.5})"
            ),
        });
    }
    let taxonomy = coverage.taxonomy();
    let n_categories = taxonomy.len();
    let mut best: Vec<(f64, Option<u32>)> = vec![(f64::INFINITY, None); n_categories];
    let mut snapped = None;
    match (&coverage.network, coverage.mode) {
        (Some(network), Mode::Network) => {
            let graph = &network.graph;
            if let Some(snap) = graph.snap(lon, lat) {
                snapped = Some((graph.snap_lonlat(&snap), f64::from(snap.off_m)));
                let component = graph.edge_component(snap.edge) as usize;
                let wanted: Vec<usize> = (0..n_categories)
                    .filter(|&c| network.category_components[c][component])
                    .collect();
                let statuses = coverage.statuses();
                let offer = |best: &mut Vec<(f64, Option<u32>)>, f: u32, d: f64| {
                    if !statuses.contains(dataset.status(f)) {
                        return;
                    }
                    for c in dataset.categories_served(f) {
                        let c = c.0 as usize;
                        if d < best[c].0 {
                            best[c] = (d, Some(f));
                        }
                    }
                };
                for (f, along_m, off_m) in network.facilities_on(dataset, snap.edge) {
                    offer(
                        &mut best,
                        f,
                        f64::from((along_m - snap.along_m).abs() + off_m),
                    );
                }
                let mut search = Search::new(graph);
                search.run(graph, graph.seeds(&snap, 0.0), f32::INFINITY, |node, d| {
                    if wanted.iter().all(|&c| best[c].0 <= f64::from(d)) {
                        return Flow::Stop;
                    }
                    for (_, edge) in graph.arcs(node) {
                        for (f, along_m, off_m) in network.facilities_on(dataset, edge) {
                            let via = d + graph.along_from(edge, node, along_m) + off_m;
                            offer(&mut best, f, f64::from(via));
                        }
                    }
                    Flow::Continue
                });
                for b in &mut best {
                    b.0 += f64::from(snap.off_m);
                }
            }
        }
        _ => {
            let lonlat_of = |idx: u32| {
                let f = dataset.facility(idx);
                (f.lon, f.lat)
            };
            for (c, tree) in coverage.trees.iter().enumerate() {
                if let Some((f, d)) =
                    field::nearest_facility(tree, &coverage.grid.frame, lonlat_of, lon, lat)
                {
                    best[c] = (d, Some(f));
                }
            }
        }
    }
    let reach: Vec<Reach> = taxonomy
        .categories()
        .map(|(id, _)| {
            let (d, facility) = best[id.0 as usize];
            let dist_m = d.is_finite().then_some(d);
            Reach {
                category: id,
                dist_m,
                facility,
                within: dist_m.is_some_and(|d| d <= coverage.threshold_m(id, profile)),
            }
        })
        .collect();
    let within = |c: &CategoryId| reach[c.0 as usize].within;
    let score = coverage
        .composite_categories
        .iter()
        .filter(|c| within(c))
        .count() as u32;
    let groups = taxonomy
        .groups()
        .map(|(g, _)| {
            let members = coverage.composite_members(super::CoverageId::Group(g));
            (
                g,
                members.iter().filter(|c| within(c)).count() as u32,
                members.len() as u32,
            )
        })
        .collect();
    let essential_within = coverage
        .composite_categories
        .iter()
        .filter(|c| taxonomy.category(**c).essential)
        .all(within);
    Ok(PlaceReport {
        lon,
        lat,
        profile,
        snapped,
        reach,
        score,
        n_composite: coverage.composite_categories.len() as u32,
        groups,
        essential_within,
    })
}
