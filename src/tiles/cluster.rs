//! Deterministic grid clustering in pixel space.
//!
//! Takes facilities (or pre-aggregated groups of them) with integer positions in global tile
//! units and a cell size; gives one [`Cell`] per occupied grid cell with its member count,
//! per-category counts and centroid. Cells are aligned to the global pixel grid of the zoom, so
//! every cell belongs to exactly one tile. Positions are summed as integers, so the centroid does
//! not depend on the order members arrive in.
//!
//! [`ClusterPyramid`] pre-aggregates every facility per (cell, category) for each clustered zoom,
//! so a low-zoom tile costs a few hundred records rather than a scan of every facility in it.

use crate::geom::{MercPoint, TileKey};
use crate::taxonomy::CategoryId;

use super::CategoryFilter;

/// One occupied grid cell, ready to encode.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Global cell column and row at its level.
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

/// A facility as the clusterer sees it: index, position in global tile units, category.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub idx: u32,
    /// Mercator position, as indexed (decides which margin around a tile the member is in).
    pub merc: MercPoint,
    pub gx: i64,
    pub gy: i64,
    pub category: CategoryId,
}

/// Groups `members` into cells `cell_units` wide; positions come out relative to `origin`
/// (the tile's top-left corner in the same global units). Cells come in (row, col) order.
pub fn cluster(
    members: &[Member],
    cell_units: i64,
    n_categories: usize,
    origin: (i64, i64),
) -> Vec<Cell> {
    let Some(first) = members.first() else {
        return Vec::new();
    };
    let first = cell_of(first, cell_units);
    let (mut lo, mut hi) = (first, first);
    for m in members {
        let (row, col) = cell_of(m, cell_units);
        lo = (lo.0.min(row), lo.1.min(col));
        hi = (hi.0.max(row), hi.1.max(col));
    }
    // A tile and its margin span a few hundred cells: one slot per cell of that block takes
    // every member in one pass. Members spread wider (not from one tile) are sorted instead.
    let n_cells = (hi.0 - lo.0 + 1).saturating_mul(hi.1 - lo.1 + 1);
    if n_cells <= DENSE_CELLS_MAX && n_cells <= 4 * members.len() as i64 + 1024 {
        cluster_in_block(members, cell_units, n_categories, origin, (lo, hi))
    } else {
        cluster_sorted(members, cell_units, n_categories, origin)
    }
}

/// The cell (row, col) of a member.
fn cell_of(m: &Member, cell_units: i64) -> (i64, i64) {
    (m.gy.div_euclid(cell_units), m.gx.div_euclid(cell_units))
}

/// [`cluster`] with a slot per cell of the block `lo..=hi` (rows, cols), which holds every
/// member; reading the block row by row gives the cells in order.
fn cluster_in_block(
    members: &[Member],
    cell_units: i64,
    n_categories: usize,
    origin: (i64, i64),
    (lo, hi): ((i64, i64), (i64, i64)),
) -> Vec<Cell> {
    let cols = hi.1 - lo.1 + 1;
    let mut slots = vec![u32::MAX; ((hi.0 - lo.0 + 1) * cols) as usize];
    let mut accs: Vec<Option<((i64, i64), Acc)>> = Vec::new();
    for m in members {
        let cell = cell_of(m, cell_units);
        let slot = &mut slots[((cell.0 - lo.0) * cols + (cell.1 - lo.1)) as usize];
        if *slot == u32::MAX {
            *slot = accs.len() as u32;
            accs.push(Some((cell, Acc::new(n_categories, m.idx))));
        }
        let (_, acc) = accs[*slot as usize].as_mut().expect("taken only below");
        acc.add(m.category, 1, i128::from(m.gx), i128::from(m.gy), m.idx);
    }
    slots
        .iter()
        .filter(|&&slot| slot != u32::MAX)
        .map(|&slot| {
            let ((row, col), acc) = accs[slot as usize].take().expect("one slot per cell");
            acc.finish(col, row, |c| c - origin.0, |c| c - origin.1)
        })
        .collect()
}

/// [`cluster`] by sorting members by cell and grouping runs (several times faster than a map
/// per member, and the cells come in (row, col) order directly).
fn cluster_sorted(
    members: &[Member],
    cell_units: i64,
    n_categories: usize,
    origin: (i64, i64),
) -> Vec<Cell> {
    let mut keyed: Vec<((i64, i64), usize)> = members
        .iter()
        .enumerate()
        .map(|(pos, m)| (cell_of(m, cell_units), pos))
        .collect();
    keyed.sort_unstable();
    let mut out = Vec::new();
    let mut current: Option<((i64, i64), Acc)> = None;
    for (cell, pos) in keyed {
        let m = &members[pos];
        if current.as_ref().is_some_and(|(c, _)| *c != cell) {
            let ((row, col), acc) = current.take().expect("checked above");
            out.push(acc.finish(col, row, |c| c - origin.0, |c| c - origin.1));
        }
        let (_, acc) = current.get_or_insert_with(|| (cell, Acc::new(n_categories, m.idx)));
        acc.add(m.category, 1, i128::from(m.gx), i128::from(m.gy), m.idx);
    }
    if let Some(((row, col), acc)) = current {
        out.push(acc.finish(col, row, |c| c - origin.0, |c| c - origin.1));
    }
    out
}

/// The largest block of cells [`cluster`] gives a slot each.
const DENSE_CELLS_MAX: i64 = 1 << 16;

struct Acc {
    n_points: u32,
    sum_x: i128,
    sum_y: i128,
    per_category: Vec<u32>,
    first_facility: u32,
}

impl Acc {
    fn new(n_categories: usize, first_facility: u32) -> Acc {
        Acc {
            n_points: 0,
            sum_x: 0,
            sum_y: 0,
            per_category: vec![0; n_categories],
            first_facility,
        }
    }

    fn add(&mut self, category: CategoryId, n: u32, sum_x: i128, sum_y: i128, min_idx: u32) {
        self.n_points += n;
        self.sum_x += sum_x;
        self.sum_y += sum_y;
        self.per_category[category.0 as usize] += n;
        self.first_facility = self.first_facility.min(min_idx);
    }

    /// The cell with its centroid mapped to tile units by `to_tile_x`/`to_tile_y`.
    fn finish(
        self,
        col: i64,
        row: i64,
        to_tile_x: impl Fn(i64) -> i64,
        to_tile_y: impl Fn(i64) -> i64,
    ) -> Cell {
        let n = i128::from(self.n_points);
        Cell {
            col,
            row,
            n_points: self.n_points,
            x: to_tile_x((self.sum_x / n) as i64),
            y: to_tile_y((self.sum_y / n) as i64),
            per_category: self.per_category,
            first_facility: self.first_facility,
        }
    }
}

/// Facilities of one category in one cell of one level.
#[derive(Debug, Clone, Copy)]
struct Record {
    row: i64,
    col: i64,
    category: CategoryId,
    n_points: u32,
    /// Sums of member positions in base units (global tile units at `base_zoom`).
    sum_x: i64,
    sum_y: i64,
    min_idx: u32,
}

/// Per-zoom aggregates of all facilities on the cluster grid, for zooms `0..=base_zoom`.
pub struct ClusterPyramid {
    base_zoom: u8,
    /// log2 of the cell size in pixels of a 256-pixel tile.
    cell_shift: u32,
    extent: u32,
    n_categories: usize,
    /// `levels[z]`: records sorted by (row, col, category).
    levels: Vec<Vec<Record>>,
}

impl ClusterPyramid {
    /// Aggregates facilities, given as `(position, category)` in index order, for zooms
    /// `0..=base_zoom` on cells of `cell_px` (a power of two).
    pub fn new(
        facilities: impl Iterator<Item = (MercPoint, CategoryId)>,
        n_categories: usize,
        base_zoom: u8,
        cell_px: u32,
        extent: u32,
    ) -> ClusterPyramid {
        Self::with_indices(
            facilities
                .enumerate()
                .map(|(idx, (merc, category))| (idx as u32, merc, category)),
            n_categories,
            base_zoom,
            cell_px,
            extent,
        )
    }

    /// [`ClusterPyramid::new`] for a subset of the facilities, each with its dataset index.
    pub fn with_indices(
        facilities: impl Iterator<Item = (u32, MercPoint, CategoryId)>,
        n_categories: usize,
        base_zoom: u8,
        cell_px: u32,
        extent: u32,
    ) -> ClusterPyramid {
        let cell_shift = cell_px.trailing_zeros();
        let units_per_axis = f64::from(extent) * f64::from(1u32 << base_zoom);
        // Cells per world axis at the base zoom: 2^(base_zoom + 8 - cell_shift).
        let cells_shift = u32::from(base_zoom) + 8 - cell_shift;
        let units_per_cell = units_per_axis as i64 >> cells_shift;
        let mut base: Vec<Record> = facilities
            .map(|(idx, merc, category)| {
                let gx = (merc.x * units_per_axis).floor() as i64;
                let gy = (merc.y * units_per_axis).floor() as i64;
                Record {
                    row: gy.div_euclid(units_per_cell),
                    col: gx.div_euclid(units_per_cell),
                    category,
                    n_points: 1,
                    sum_x: gx,
                    sum_y: gy,
                    min_idx: idx,
                }
            })
            .collect();
        merge_sorted(&mut base);
        let mut levels = vec![base];
        for _ in 0..base_zoom {
            let finer = levels.last().expect("base level exists");
            let mut coarser: Vec<Record> = finer
                .iter()
                .map(|r| Record {
                    row: r.row >> 1,
                    col: r.col >> 1,
                    ..*r
                })
                .collect();
            merge_sorted(&mut coarser);
            levels.push(coarser);
        }
        levels.reverse();
        ClusterPyramid {
            base_zoom,
            cell_shift,
            extent,
            n_categories,
            levels,
        }
    }

    pub fn base_zoom(&self) -> u8 {
        self.base_zoom
    }

    /// Number of aggregate records held, all levels together.
    pub fn n_records(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// Bytes held by the records.
    pub fn heap_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.capacity() * std::mem::size_of::<Record>())
            .sum()
    }

    /// The cells of `level` (≤ `key.z`, ≤ `base_zoom`) around tile `key`, with `margin_cells`
    /// extra cells on each side, counting only categories `filter` allows. Positions are in
    /// tile units of `key`.
    pub fn cells(
        &self,
        level: u8,
        key: TileKey,
        margin_cells: i64,
        filter: &CategoryFilter,
    ) -> Vec<Cell> {
        debug_assert!(level <= key.z && level <= self.base_zoom);
        let records = &self.levels[level as usize];
        // Cells per world axis at `level`, and the tile's span in those cells.
        let cells_shift = i64::from(level) + 8 - i64::from(self.cell_shift);
        let (lo_col, hi_col) = tile_span_in_cells(i64::from(key.x), i64::from(key.z), cells_shift);
        let (lo_row, hi_row) = tile_span_in_cells(i64::from(key.y), i64::from(key.z), cells_shift);
        let down = u32::from(self.base_zoom - key.z);
        let origin_x = i64::from(key.x) * i64::from(self.extent);
        let origin_y = i64::from(key.y) * i64::from(self.extent);
        let mut out = Vec::new();
        for row in (lo_row - margin_cells)..=(hi_row + margin_cells) {
            let start = records.partition_point(|r| (r.row, r.col) < (row, lo_col - margin_cells));
            let mut current: Option<(i64, Acc)> = None;
            for r in records[start..]
                .iter()
                .take_while(|r| r.row == row && r.col <= hi_col + margin_cells)
            {
                if !filter.allows(r.category) {
                    continue;
                }
                if current.as_ref().is_some_and(|(col, _)| *col != r.col) {
                    let (col, acc) = current.take().expect("checked");
                    out.push(self.finish(acc, col, row, down, origin_x, origin_y));
                }
                let (_, acc) =
                    current.get_or_insert_with(|| (r.col, Acc::new(self.n_categories, r.min_idx)));
                acc.add(
                    r.category,
                    r.n_points,
                    i128::from(r.sum_x),
                    i128::from(r.sum_y),
                    r.min_idx,
                );
            }
            if let Some((col, acc)) = current {
                out.push(self.finish(acc, col, row, down, origin_x, origin_y));
            }
        }
        out
    }

    fn finish(
        &self,
        acc: Acc,
        col: i64,
        row: i64,
        down: u32,
        origin_x: i64,
        origin_y: i64,
    ) -> Cell {
        // Base units → global units at the tile's zoom (floor), then relative to the tile.
        acc.finish(
            col,
            row,
            |c| (c >> down) - origin_x,
            |c| (c >> down) - origin_y,
        )
    }
}

/// Facilities per (cell, category) on one grid at one zoom above the pyramid: the fine grid a
/// dense tile at the first zoom above `cluster_max_zoom` is clustered on. A dense tile reads its
/// counts and cells from here instead of scanning the spatial index for thousands of points.
///
/// Positions are summed in tile units of `zoom` as offsets from the cell's corner, so the
/// centroids are exactly those of clustering the members themselves (the pyramid's levels,
/// summed at a finer zoom, may differ by a unit). Struct of arrays, 25 bytes a record.
pub struct FineGrid {
    zoom: u8,
    cell_px: u32,
    /// Cell side in tile units of `zoom`.
    cell_units: i64,
    extent: u32,
    n_categories: usize,
    /// `row << 32 | col` of each record, sorted (with `categories` within a cell).
    keys: Vec<u64>,
    categories: Vec<CategoryId>,
    counts: Vec<u32>,
    /// Sums of member offsets from the cell's top-left corner, in tile units of `zoom`.
    sum_dx: Vec<u32>,
    sum_dy: Vec<u32>,
    min_idx: Vec<u32>,
}

impl FineGrid {
    /// Aggregates facilities, given as `(dataset index, position, category)`, on cells of
    /// `cell_px` pixels at `zoom`. `None` when a position falls off the grid or the offset sums
    /// could overflow (tiles are then clustered from the spatial index, as without the grid).
    pub fn new(
        facilities: impl ExactSizeIterator<Item = (u32, MercPoint, CategoryId)>,
        n_categories: usize,
        zoom: u8,
        cell_px: u32,
        extent: u32,
    ) -> Option<FineGrid> {
        let cell_units = i64::from(extent) * i64::from(cell_px) / 256;
        let n = facilities.len() as u64;
        if cell_units <= 0 || n.saturating_mul(cell_units as u64) > u64::from(u32::MAX) {
            return None;
        }
        // Global tile units at `zoom`, floored as the direct clustering floors them.
        let units_per_axis = f64::from(extent) * f64::from(1u32 << zoom);
        let mut members: Vec<(u64, CategoryId, u32, u32, u32)> = Vec::with_capacity(n as usize);
        for (idx, merc, category) in facilities {
            let gx = (merc.x * units_per_axis).floor() as i64;
            let gy = (merc.y * units_per_axis).floor() as i64;
            let (col, row) = (gx.div_euclid(cell_units), gy.div_euclid(cell_units));
            let col = u32::try_from(col).ok()?;
            let row = u32::try_from(row).ok()?;
            let dx = (gx - i64::from(col) * cell_units) as u32;
            let dy = (gy - i64::from(row) * cell_units) as u32;
            members.push((u64::from(row) << 32 | u64::from(col), category, dx, dy, idx));
        }
        members.sort_unstable_by_key(|m| (m.0, m.1));
        let mut grid = FineGrid {
            zoom,
            cell_px,
            cell_units,
            extent,
            n_categories,
            keys: Vec::new(),
            categories: Vec::new(),
            counts: Vec::new(),
            sum_dx: Vec::new(),
            sum_dy: Vec::new(),
            min_idx: Vec::new(),
        };
        for (key, category, dx, dy, idx) in members {
            let last = grid.keys.len().wrapping_sub(1);
            if grid.keys.last() == Some(&key) && grid.categories[last] == category {
                grid.counts[last] += 1;
                grid.sum_dx[last] += dx;
                grid.sum_dy[last] += dy;
                grid.min_idx[last] = grid.min_idx[last].min(idx);
            } else {
                grid.keys.push(key);
                grid.categories.push(category);
                grid.counts.push(1);
                grid.sum_dx.push(dx);
                grid.sum_dy.push(dy);
                grid.min_idx.push(idx);
            }
        }
        grid.keys.shrink_to_fit();
        grid.categories.shrink_to_fit();
        grid.counts.shrink_to_fit();
        grid.sum_dx.shrink_to_fit();
        grid.sum_dy.shrink_to_fit();
        grid.min_idx.shrink_to_fit();
        Some(grid)
    }

    /// Does this grid hold the cells of `cell_px` pixels at zoom `z`?
    pub fn covers(&self, z: u8, cell_px: u32) -> bool {
        z == self.zoom && cell_px == self.cell_px
    }

    /// Number of (cell, category) records held.
    pub fn n_records(&self) -> usize {
        self.keys.len()
    }

    /// Bytes held by the records.
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8
            + self.categories.capacity()
            + (self.counts.capacity()
                + self.sum_dx.capacity()
                + self.sum_dy.capacity()
                + self.min_idx.capacity())
                * 4
    }

    /// The tile's cell span (first and last column, first and last row), `margin` cells wider
    /// on each side.
    fn span(&self, key: TileKey, margin: i64) -> ((i64, i64), (i64, i64)) {
        debug_assert_eq!(key.z, self.zoom);
        let per_tile = i64::from(self.extent) / self.cell_units;
        let cols = (
            i64::from(key.x) * per_tile - margin,
            (i64::from(key.x) + 1) * per_tile - 1 + margin,
        );
        let rows = (
            i64::from(key.y) * per_tile - margin,
            (i64::from(key.y) + 1) * per_tile - 1 + margin,
        );
        (cols, rows)
    }

    /// Calls `visit(row, index)` for every record of the cells in columns `cols` and rows
    /// `rows` (inclusive) that `filter` allows, in (row, col, category) order.
    fn for_each_record(
        &self,
        (lo_col, hi_col): (i64, i64),
        (lo_row, hi_row): (i64, i64),
        filter: &CategoryFilter,
        mut visit: impl FnMut(i64, usize),
    ) {
        let max = i64::from(u32::MAX);
        let (lo_col, hi_col) = (lo_col.max(0), hi_col.min(max));
        for row in lo_row.max(0)..=hi_row.min(max) {
            let row_key = (row as u64) << 32;
            let first = row_key | lo_col as u64;
            let last = row_key | hi_col as u64;
            let start = self.keys.partition_point(|&k| k < first);
            for i in start..self.keys.len() {
                if self.keys[i] > last {
                    break;
                }
                if filter.allows(self.categories[i]) {
                    visit(row, i);
                }
            }
        }
    }

    /// Facilities (that `filter` allows) in the cells of tile `key`, all inside the tile.
    pub fn count_in_tile(&self, key: TileKey, filter: &CategoryFilter) -> u64 {
        let (cols, rows) = self.span(key, 0);
        let mut n = 0u64;
        self.for_each_record(cols, rows, filter, |_, i| n += u64::from(self.counts[i]));
        n
    }

    /// The cells around tile `key` (at `zoom`), `margin_cells` extra on each side, counting only
    /// categories `filter` allows: the cells [`cluster`] gives for the members of those cells.
    pub fn cells(&self, key: TileKey, margin_cells: i64, filter: &CategoryFilter) -> Vec<Cell> {
        let (cols, rows) = self.span(key, margin_cells);
        let origin_x = i64::from(key.x) * i64::from(self.extent);
        let origin_y = i64::from(key.y) * i64::from(self.extent);
        let cu = self.cell_units;
        let mut out = Vec::new();
        let mut current: Option<(u64, i64, Acc)> = None;
        let finish = |(k, row, acc): (u64, i64, Acc)| {
            let col = (k & u64::from(u32::MAX)) as i64;
            acc.finish(col, row, |c| c - origin_x, |c| c - origin_y)
        };
        self.for_each_record(cols, rows, filter, |row, i| {
            let k = self.keys[i];
            if current.as_ref().is_some_and(|(ck, _, _)| *ck != k) {
                out.push(finish(current.take().expect("checked")));
            }
            let (_, _, acc) = current
                .get_or_insert_with(|| (k, row, Acc::new(self.n_categories, self.min_idx[i])));
            let col = (k & u64::from(u32::MAX)) as i64;
            let n = self.counts[i];
            acc.add(
                self.categories[i],
                n,
                i128::from(col * cu) * i128::from(n) + i128::from(self.sum_dx[i]),
                i128::from(row * cu) * i128::from(n) + i128::from(self.sum_dy[i]),
                self.min_idx[i],
            );
        });
        if let Some(last) = current {
            out.push(finish(last));
        }
        out
    }
}

/// The first and last cell (inclusive) covered by tile `index` at zoom `z`, for a grid of
/// `2^cells_shift` cells per world axis.
fn tile_span_in_cells(index: i64, z: i64, cells_shift: i64) -> (i64, i64) {
    if cells_shift >= z {
        let per_tile = 1i64 << (cells_shift - z);
        (index * per_tile, (index + 1) * per_tile - 1)
    } else {
        let cell = index >> (z - cells_shift);
        (cell, cell)
    }
}

/// Sorts records by (row, col, category) and merges equal keys.
fn merge_sorted(records: &mut Vec<Record>) {
    records.sort_unstable_by_key(|r| (r.row, r.col, r.category));
    records.dedup_by(|later, kept| {
        let same = (later.row, later.col, later.category) == (kept.row, kept.col, kept.category);
        if same {
            kept.n_points += later.n_points;
            kept.sum_x += later.sum_x;
            kept.sum_y += later.sum_y;
            kept.min_idx = kept.min_idx.min(later.min_idx);
        }
        same
    });
    // The levels live as long as the snapshot: give back what the merge freed.
    records.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cells_text(cells: &[Cell]) -> Vec<String> {
        cells.iter().map(|c| format!("{c:?}")).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The block and the sorting clusterers give the same cells in the same order.
        #[test]
        fn block_and_sort_agree(
            points in prop::collection::vec((-300i64..5000, -300i64..5000, 0u8..6, 0u32..1000), 1..400),
            cell_units in prop::sample::select(vec![256i64, 512, 1024]),
        ) {
            let members: Vec<Member> = points
                .iter()
                .map(|&(gx, gy, category, idx)| Member {
                    idx,
                    merc: MercPoint { x: 0.0, y: 0.0 },
                    gx,
                    gy,
                    category: CategoryId(category),
                })
                .collect();
            let origin = (0, 0);
            let sorted = cluster_sorted(&members, cell_units, 6, origin);
            // A block wider than the members need, as a tile's margin can be.
            let lo = (-2, -2);
            let hi = (5000 / cell_units + 1, 5000 / cell_units);
            let block = cluster_in_block(&members, cell_units, 6, origin, (lo, hi));
            prop_assert_eq!(cells_text(&block), cells_text(&sorted));
            prop_assert_eq!(cells_text(&cluster(&members, cell_units, 6, origin)), cells_text(&sorted));
        }
    }
}
