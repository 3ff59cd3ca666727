//! A uniform lon/lat grid that fixes the search index's document order: facility positions →
//! documents numbered cell by cell (row-major, south to north, west to east), so that any
//! rectangle is a short list of contiguous document ranges, one per grid row it covers.
//!
//! Every posting list in the index is sorted by document number, so restricting a keyword's
//! postings to a radius touches only the band of rows the circle spans, never the city. The
//! grid is the search index's own copy of the spatial index: the dataset's R-tree works in Web
//! Mercator and answers "which points", while this one also fixes an order the text postings
//! share.

use std::ops::Range;

use crate::geom;

/// Side of a grid cell on the ground, metres, unless the data's extent forces larger cells.
pub const CELL_M: f64 = 250.0;

/// Upper bound on the number of cells (the offsets table costs 4 bytes per cell).
const MAX_CELLS: usize = 1 << 20;

/// The grid and the document ranges of its cells.
#[derive(Debug, Clone)]
pub struct Grid {
    west: f64,
    south: f64,
    /// Cell size in degrees of longitude and latitude.
    cell_dlon: f64,
    cell_dlat: f64,
    n_cols: u32,
    n_rows: u32,
    /// `cell_start[cell]..cell_start[cell + 1]` are the documents of `cell`.
    cell_start: Vec<u32>,
}

impl Grid {
    /// Lays a grid over `points` (lon, lat) and returns it with the document order: the
    /// `i`-th document is `points[order[i]]`. Ties within a cell keep the input order.
    pub fn build(points: &[(f64, f64)]) -> (Grid, Vec<u32>) {
        let mut bounds = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for &(lon, lat) in points {
            bounds = [
                bounds[0].min(lon),
                bounds[1].min(lat),
                bounds[2].max(lon),
                bounds[3].max(lat),
            ];
        }
        if !bounds[0].is_finite() {
            bounds = [0.0, 0.0, 0.0, 0.0];
        }
        let [west, south, east, north] = bounds;
        let mid_lat = (south + north) / 2.0;
        let (m_per_deg_lon, m_per_deg_lat) = geom::metres_per_degree(mid_lat);
        let mut cell_m = CELL_M;
        let dims = |cell_m: f64| {
            let cell_dlon = cell_m / m_per_deg_lon.max(1.0);
            let cell_dlat = cell_m / m_per_deg_lat;
            let n_cols = ((east - west) / cell_dlon).floor() as u64 + 1;
            let n_rows = ((north - south) / cell_dlat).floor() as u64 + 1;
            (cell_dlon, cell_dlat, n_cols, n_rows)
        };
        let (mut cell_dlon, mut cell_dlat, mut n_cols, mut n_rows) = dims(cell_m);
        while (n_cols * n_rows) as usize > MAX_CELLS {
            cell_m *= 2.0;
            (cell_dlon, cell_dlat, n_cols, n_rows) = dims(cell_m);
        }
        let mut grid = Grid {
            west,
            south,
            cell_dlon,
            cell_dlat,
            n_cols: n_cols as u32,
            n_rows: n_rows as u32,
            cell_start: Vec::new(),
        };
        let cells: Vec<u32> = points
            .iter()
            .map(|&(lon, lat)| grid.cell_of(lon, lat))
            .collect();
        let n_cells = grid.n_cols as usize * grid.n_rows as usize;
        let mut counts = vec![0u32; n_cells + 1];
        for &cell in &cells {
            counts[cell as usize + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        // A counting sort by cell, stable: ties keep the input order.
        let mut fill = counts.clone();
        let mut order = vec![0u32; points.len()];
        for (i, &cell) in cells.iter().enumerate() {
            let at = &mut fill[cell as usize];
            order[*at as usize] = i as u32;
            *at += 1;
        }
        grid.cell_start = counts;
        (grid, order)
    }

    fn cell_of(&self, lon: f64, lat: f64) -> u32 {
        let (row, col) = self.row_col(lon, lat);
        row * self.n_cols + col
    }

    /// Row and column of the cell holding `(lon, lat)`, clamped to the grid.
    fn row_col(&self, lon: f64, lat: f64) -> (u32, u32) {
        let col = ((lon - self.west) / self.cell_dlon).floor();
        let row = ((lat - self.south) / self.cell_dlat).floor();
        let clamp = |v: f64, n: u32| {
            if v.is_nan() || v < 0.0 {
                0
            } else {
                (v as u64).min(u64::from(n - 1)) as u32
            }
        };
        (clamp(row, self.n_rows), clamp(col, self.n_cols))
    }

    /// Number of documents.
    #[cfg(test)]
    pub fn n_docs(&self) -> u32 {
        *self.cell_start.last().unwrap_or(&0)
    }

    /// The document ranges covering every document inside `rect` (`[west, south, east, north]`
    /// in degrees), and possibly some outside it (whole cells are returned): callers test each
    /// document. Adjacent ranges are merged. Empty when `rect` misses the grid.
    pub fn ranges(&self, rect: [f64; 4]) -> Vec<Range<u32>> {
        let [west, south, east, north] = rect;
        let grid_east = self.west + self.cell_dlon * f64::from(self.n_cols);
        let grid_north = self.south + self.cell_dlat * f64::from(self.n_rows);
        if east < self.west || west > grid_east || north < self.south || south > grid_north {
            return Vec::new();
        }
        let (row_lo, col_lo) = self.row_col(west, south);
        let (row_hi, col_hi) = self.row_col(east, north);
        let mut out: Vec<Range<u32>> = Vec::with_capacity((row_hi - row_lo + 1) as usize);
        for row in row_lo..=row_hi {
            let first = (row * self.n_cols + col_lo) as usize;
            let last = (row * self.n_cols + col_hi) as usize;
            let range = self.cell_start[first]..self.cell_start[last + 1];
            if range.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some(prev) if prev.end == range.start => prev.end = range.end,
                _ => out.push(range),
            }
        }
        out
    }

    /// Does `rect` cover the whole grid?
    pub fn covered_by(&self, rect: [f64; 4]) -> bool {
        let grid_east = self.west + self.cell_dlon * f64::from(self.n_cols);
        let grid_north = self.south + self.cell_dlat * f64::from(self.n_rows);
        rect[0] <= self.west
            && rect[1] <= self.south
            && rect[2] >= grid_east
            && rect[3] >= grid_north
    }

    pub fn memory_bytes(&self) -> usize {
        self.cell_start.capacity() * 4
    }
}

/// The lon/lat rectangle holding every point within `radius_m` ground metres (haversine) of
/// `center`: exact for the sphere, so a point outside it is certainly farther than `radius_m`.
pub fn radius_rect(center: (f64, f64), radius_m: f64) -> [f64; 4] {
    let (lon, lat) = center;
    let angle = radius_m / geom::EARTH_RADIUS_M;
    let dlat = angle.to_degrees();
    let south = lat - dlat;
    let north = lat + dlat;
    if south <= -90.0 || north >= 90.0 {
        return [-180.0, south.max(-90.0), 180.0, north.min(90.0)];
    }
    // The widest longitude of a spherical cap of angular radius `angle` centred at `lat`.
    let ratio = angle.sin() / lat.to_radians().cos();
    if ratio >= 1.0 {
        return [-180.0, south, 180.0, north];
    }
    let dlon = ratio.asin().to_degrees();
    [lon - dlon, south, lon + dlon, north]
}

/// The intersection of two rectangles, `None` when they do not meet.
pub fn intersect(a: [f64; 4], b: [f64; 4]) -> Option<[f64; 4]> {
    let r = [
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ];
    (r[0] <= r[2] && r[1] <= r[3]).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn points_around_shanghai(n: usize) -> Vec<(f64, f64)> {
        // A deterministic scatter over ~12 × 9 km.
        (0..n)
            .map(|i| {
                let a = (i as f64 * 0.618_033_988_7).fract();
                let b = (i as f64 * 0.414_213_562_3).fract();
                (121.36 + a * 0.13, 31.18 + b * 0.08)
            })
            .collect()
    }

    #[test]
    fn ranges_hold_exactly_the_documents_of_the_covered_cells() {
        let points = points_around_shanghai(5000);
        let (grid, order) = Grid::build(&points);
        assert_eq!(grid.n_docs(), 5000);
        let rect = [121.40, 31.20, 121.43, 31.23];
        let ranges = grid.ranges(rect);
        let mut in_ranges = vec![false; points.len()];
        for r in &ranges {
            for doc in r.clone() {
                in_ranges[order[doc as usize] as usize] = true;
            }
        }
        for (i, &(lon, lat)) in points.iter().enumerate() {
            let inside = lon >= rect[0] && lon <= rect[2] && lat >= rect[1] && lat <= rect[3];
            assert!(
                !inside || in_ranges[i],
                "point {i} inside the rectangle is not covered"
            );
        }
        // Cells are small: the ranges hold few documents beyond the rectangle's.
        let n_covered: u32 = ranges.iter().map(|r| r.len() as u32).sum();
        let n_inside = points
            .iter()
            .filter(|&&(lon, lat)| {
                lon >= rect[0] && lon <= rect[2] && lat >= rect[1] && lat <= rect[3]
            })
            .count() as u32;
        assert!(
            n_covered < n_inside * 2,
            "{n_covered} covered for {n_inside} inside"
        );
        assert!(grid.ranges([10.0, 10.0, 11.0, 11.0]).is_empty());
    }

    #[test]
    fn degenerate_inputs() {
        let (grid, order) = Grid::build(&[]);
        assert_eq!(grid.n_docs(), 0);
        assert!(order.is_empty());
        assert!(grid.ranges([-180.0, -90.0, 180.0, 90.0]).is_empty());
        let (grid, _) = Grid::build(&[(121.4, 31.2); 3]);
        assert_eq!(grid.ranges([121.0, 31.0, 122.0, 32.0]), vec![0..3]);
        // A world-wide set gets coarser cells, not a huge table.
        let (grid, _) = Grid::build(&[(-179.0, -80.0), (179.0, 80.0)]);
        assert!(grid.memory_bytes() <= (MAX_CELLS + 1) * 4);
    }

    proptest! {
        #[test]
        fn radius_rect_holds_the_circle(
            lon in 100.0f64..140.0, lat in -80.0f64..80.0,
            radius_m in 1.0f64..20_000.0, bearing in 0.0f64..360.0, frac in 0.0f64..1.0,
        ) {
            // A point at distance ≤ radius (destination formula on the sphere) lies in the rect.
            let d = radius_m * frac / geom::EARTH_RADIUS_M;
            let (phi1, lambda1, theta) = (lat.to_radians(), lon.to_radians(), bearing.to_radians());
            let phi2 = (phi1.sin() * d.cos() + phi1.cos() * d.sin() * theta.cos()).asin();
            let lambda2 = lambda1
                + (theta.sin() * d.sin() * phi1.cos()).atan2(d.cos() - phi1.sin() * phi2.sin());
            let p = (lambda2.to_degrees(), phi2.to_degrees());
            let r = radius_rect((lon, lat), radius_m);
            let eps = 1e-9;
            prop_assert!(p.0 >= r[0] - eps && p.0 <= r[2] + eps, "{:?} {:?}", p, r);
            prop_assert!(p.1 >= r[1] - eps && p.1 <= r[3] + eps, "{:?} {:?}", p, r);
        }
    }
}
