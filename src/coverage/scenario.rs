//! Scenario comparison: the coverage of `existing` and of a scenario (`built`, `planned`: more
//! facilities serving) → per subdistrict and category, side by side: cells and residents within
//! the threshold in each, those newly covered, and the blind spots of `existing` the scenario
//! closes (none of their cells remains uncovered).
//!
//! Both coverages must come from the same dataset and parameters (the same grid); the scenario
//! serves a superset of the facilities, so nothing covered today becomes uncovered, but the
//! counts are made cell by cell and place by place rather than by subtraction.

use std::collections::HashMap;

use super::Coverage;
use super::ProfileId;
use super::field::NO_AREA;
use super::stats::{gap_labels, limit_m};
use crate::dataset::Dataset;
use crate::taxonomy::CategoryId;

/// One category in one area, existing beside the scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryChange {
    /// Cells of the area (inside the analysis area).
    pub n_cells: u64,
    pub cells_within_existing: u64,
    pub cells_within_scenario: u64,
    /// Cells within the threshold in the scenario and not today.
    pub cells_newly_covered: u64,
    pub population: u64,
    pub population_within_existing: u64,
    pub population_within_scenario: u64,
    /// Residents within the threshold in the scenario and not today.
    pub residents_newly_covered: u64,
    /// Blind spots of `existing` (counted in the area holding most of their cells).
    pub blind_spots: u64,
    /// Of those, the ones none of whose cells remains uncovered in the scenario.
    pub blind_spots_closed: u64,
}

impl CategoryChange {
    fn merge(&mut self, o: &CategoryChange) {
        self.n_cells += o.n_cells;
        self.cells_within_existing += o.cells_within_existing;
        self.cells_within_scenario += o.cells_within_scenario;
        self.cells_newly_covered += o.cells_newly_covered;
        self.population += o.population;
        self.population_within_existing += o.population_within_existing;
        self.population_within_scenario += o.population_within_scenario;
        self.residents_newly_covered += o.residents_newly_covered;
        self.blind_spots += o.blind_spots;
        self.blind_spots_closed += o.blind_spots_closed;
    }
}

/// One area's comparison.
#[derive(Debug, Clone)]
pub struct AreaChange {
    pub name: String,
    pub name_en: Option<String>,
    /// Per category, in taxonomy order.
    pub categories: Vec<CategoryChange>,
}

/// The comparison of a scenario with `existing`.
#[derive(Debug, Clone)]
pub struct ScenarioChange {
    pub profile: ProfileId,
    pub areas: Vec<AreaChange>,
    /// What lies outside every subdistrict, when anything does (and there are subdistricts).
    pub outside_areas: Option<AreaChange>,
    pub total: AreaChange,
}

/// Compares `scenario` with `existing` under `profile`.
pub fn compare(
    existing: &Coverage,
    scenario: &Coverage,
    dataset: &Dataset,
    profile: ProfileId,
) -> ScenarioChange {
    let taxonomy = existing.taxonomy();
    let n_areas = dataset.areas.len();
    let bucket = |area: u16| {
        if area == NO_AREA {
            n_areas
        } else {
            area as usize
        }
    };
    let n_categories = taxonomy.len();
    let mut acc = vec![vec![CategoryChange::default(); n_categories]; n_areas + 1];
    let n_cells = existing.grid.n_cells();
    for (c, _) in taxonomy.categories() {
        let ci = c.0 as usize;
        let limit = limit_m(existing, c, profile);
        let (before, after) = (existing.field_m(c), scenario.field_m(c));
        for cell in (0..n_cells).filter(|&cell| existing.in_area(cell)) {
            let a = &mut acc[bucket(existing.cell_area(cell))][ci];
            let (was, is) = (before[cell] <= limit, after[cell] <= limit);
            a.n_cells += 1;
            a.cells_within_existing += u64::from(was);
            a.cells_within_scenario += u64::from(is);
            a.cells_newly_covered += u64::from(is && !was);
        }
        let (before, after) = (
            &existing.residents.dist_m[ci],
            &scenario.residents.dist_m[ci],
        );
        for (r, place) in dataset.residents.iter().enumerate() {
            if !existing.resident_in_area(r) {
                continue;
            }
            let weight = u64::from(place.population);
            let a = &mut acc[bucket(existing.residents.area[r])][ci];
            let (was, is) = (before[r] <= limit, after[r] <= limit);
            a.population += weight;
            a.population_within_existing += weight * u64::from(was);
            a.population_within_scenario += weight * u64::from(is);
            a.residents_newly_covered += weight * u64::from(is && !was);
        }
        for (area, closed) in blind_spots(existing, scenario, c, profile) {
            let a = &mut acc[bucket(area)][ci];
            a.blind_spots += 1;
            a.blind_spots_closed += u64::from(closed);
        }
    }
    let make =
        |name: String, name_en: Option<String>, categories: Vec<CategoryChange>| AreaChange {
            name,
            name_en,
            categories,
        };
    let mut total = vec![CategoryChange::default(); n_categories];
    for area in &acc {
        for (t, a) in total.iter_mut().zip(area) {
            t.merge(a);
        }
    }
    let has_any = |a: &[CategoryChange]| a.iter().any(|c| c.n_cells > 0 || c.population > 0);
    let outside = acc.pop().unwrap_or_default();
    let areas = dataset
        .areas
        .iter()
        .zip(acc)
        .filter(|(_, a)| has_any(a))
        .map(|(area, a)| make(area.name.clone(), area.name_en.clone(), a))
        .collect();
    ScenarioChange {
        profile,
        areas,
        outside_areas: (n_areas > 0 && has_any(&outside))
            .then(|| make("outside subdistricts".into(), None, outside)),
        total: make("total".into(), None, total),
    }
}

/// Every blind spot of `existing` for `category`: the area holding most of its cells (ties to
/// the lower index), and whether the scenario covers all of its cells.
fn blind_spots(
    existing: &Coverage,
    scenario: &Coverage,
    category: CategoryId,
    profile: ProfileId,
) -> Vec<(u16, bool)> {
    let (labels, n_gaps) = gap_labels(existing, category, profile);
    let limit = limit_m(existing, category, profile);
    let after = scenario.field_m(category);
    let mut closed = vec![true; n_gaps];
    let mut cells_per_area: Vec<HashMap<u16, u64>> = vec![HashMap::new(); n_gaps];
    for (cell, &gap) in labels.iter().enumerate() {
        let Some(per_area) = cells_per_area.get_mut(gap as usize) else {
            continue;
        };
        *per_area.entry(existing.cell_area(cell)).or_default() += 1;
        if after[cell] > limit {
            closed[gap as usize] = false;
        }
    }
    cells_per_area
        .into_iter()
        .zip(closed)
        .map(|(per_area, closed)| {
            let area = per_area
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map_or(NO_AREA, |(area, _)| area);
            (area, closed)
        })
        .collect()
}

impl crate::analysis_cache::Weigh for ScenarioChange {
    fn heap_bytes(&self) -> usize {
        let area = |a: &AreaChange| {
            std::mem::size_of::<AreaChange>()
                + a.name.len()
                + a.name_en.as_ref().map_or(0, String::len)
                + a.categories.capacity() * std::mem::size_of::<CategoryChange>()
        };
        self.areas.iter().map(area).sum::<usize>()
            + self.outside_areas.as_ref().map_or(0, area)
            + area(&self.total)
    }
}
