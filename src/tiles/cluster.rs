//! Deterministic grid clustering in pixel space.
//!
//! Takes the facilities around one tile and a cell size; gives one [`Cell`] per occupied grid
//! cell with its member count, per-category counts and centroid. Cells are aligned to the global
//! pixel grid of the zoom, so every cell belongs to exactly one tile. Positions are summed as
//! integers in global tile units, so the centroid does not depend on the order points arrive in.

use crate::dataset::Dataset;
use crate::geom::TileKey;

/// One occupied grid cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Global cell column and row at this zoom.
    pub col: i64,
    pub row: i64,
    pub n_points: u32,
    /// Centroid in tile units relative to the tile's top-left corner (may lie in the buffer).
    pub x: i64,
    pub y: i64,
    /// Facility count per category index.
    pub per_category: Vec<u32>,
    /// The member with the smallest index (the facility itself when `n_points == 1`).
    pub first_facility: u32,
}

/// Groups `facilities` (indices into `dataset`) into cells of `cell_px` pixels around `key`.
/// `global_units` gives each facility's position in global tile units at this zoom.
pub fn cluster(
    dataset: &Dataset,
    key: TileKey,
    extent: u32,
    cell_px: u32,
    facilities: &[u32],
    global_units: impl Fn(u32) -> (i64, i64),
) -> Vec<Cell> {
    let n_categories = dataset.taxonomy.len();
    let cell_units = i64::from(extent) * i64::from(cell_px) / 256;
    let tile_x0 = i64::from(key.x) * i64::from(extent);
    let tile_y0 = i64::from(key.y) * i64::from(extent);

    struct Acc {
        n_points: u32,
        sum_x: i128,
        sum_y: i128,
        per_category: Vec<u32>,
        first_facility: u32,
    }
    let mut cells: std::collections::HashMap<(i64, i64), Acc> = std::collections::HashMap::new();
    for &idx in facilities {
        let (gx, gy) = global_units(idx);
        let cell_key = (gx.div_euclid(cell_units), gy.div_euclid(cell_units));
        let acc = cells.entry(cell_key).or_insert_with(|| Acc {
            n_points: 0,
            sum_x: 0,
            sum_y: 0,
            per_category: vec![0; n_categories],
            first_facility: idx,
        });
        acc.n_points += 1;
        acc.sum_x += i128::from(gx);
        acc.sum_y += i128::from(gy);
        acc.per_category[dataset.facility(idx).category.0 as usize] += 1;
        acc.first_facility = acc.first_facility.min(idx);
    }
    let mut out: Vec<Cell> = cells
        .into_iter()
        .map(|((col, row), acc)| {
            let n = i128::from(acc.n_points);
            Cell {
                col,
                row,
                n_points: acc.n_points,
                x: (acc.sum_x / n) as i64 - tile_x0,
                y: (acc.sum_y / n) as i64 - tile_y0,
                per_category: acc.per_category,
                first_facility: acc.first_facility,
            }
        })
        .collect();
    out.sort_by_key(|c| (c.row, c.col));
    out
}
