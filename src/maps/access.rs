//! The 2SFCA accessibility A_i as a map: a [`ServiceLoad`] (A_i per residential place) over the
//! coverage grid → an [`AccessMap`] (a class per grid cell) → 256-pixel PNG heatmap tiles.
//!
//! A_i is a figure of the residents of one place, not of the ground: a park or a rail yard has
//! no A_i. So the map does not interpolate between places (a smooth surface would invent values
//! where nobody lives and blur a poorly served estate into its well served neighbour); each
//! grid cell inside the analysis area takes the class of the residential place nearest to its
//! centre, if one lies within [`PLACE_REACH_M`], and is transparent otherwise. A planner reads
//! the coloured patches as "the residents living here" and the gaps as "nobody lives here", and
//! the colour at a place is exactly the class of that place's A_i in
//! `/service-load/{category}/places`.
//!
//! Classes: A_i = 0 (no facility within reach: a blind spot) in [`super::BLIND_SPOT_RGBA`];
//! positive values in up to [`N_CLASSES`] classes split at the population-weighted quantiles of
//! the positive A_i of the residents inside the analysis area, rounded to two significant
//! digits, on a viridis ramp (light = better served, as on the coverage heatmap). Class `k`
//! (1-based) holds `breaks[k-2] ≤ A_i < breaks[k-1]`. The breaks come from the `existing`
//! scenario whatever scenario is drawn, so maps of `existing` and `planned` compare colour for
//! colour.

use rayon::prelude::*;
use rstar::{RTree, primitives::GeomWithData};

use super::BLIND_SPOT_RGBA;
use crate::coverage::clip::in_spans;
use crate::coverage::raster::{self, TILE_PX};
use crate::coverage::{self, Coverage};
use crate::dataset::Dataset;
use crate::geom::TileKey;
use crate::service_load::ServiceLoad;

/// A grid cell takes the A_i of the nearest residential place within this many ground metres of
/// its centre: about half the spacing of housing estates in a Chinese city district, so estates
/// show as patches and open land between them stays clear.
pub const PLACE_REACH_M: f64 = 150.0;

/// Classes of positive A_i (quantile classes: quintiles).
pub const N_CLASSES: usize = 5;

/// Class of A_i = 0: no facility within reach.
pub const NO_ACCESS: u8 = 0;

/// Cell value: nothing shown (outside the analysis area, or nobody lives within reach).
const NOTHING: u8 = u8::MAX;

/// The accessibility classes of one category and scenario, per grid cell of the coverage.
#[derive(Debug, Clone)]
pub struct AccessMap {
    /// Lower limits of classes 2, 3, …: positive and strictly increasing.
    pub breaks: Vec<f64>,
    /// Per grid cell: the class, or [`NOTHING`].
    cells: Vec<u8>,
}

impl crate::analysis_cache::Weigh for AccessMap {
    fn heap_bytes(&self) -> usize {
        self.cells.capacity() + self.breaks.capacity() * 8
    }
}

impl AccessMap {
    /// The classes of `load`'s A_i over `coverage`'s grid, with the breaks of `existing` (the
    /// same category's service load in the `existing` scenario). Blocking (rayon).
    pub fn build(
        dataset: &Dataset,
        coverage: &Coverage,
        existing: &ServiceLoad,
        load: &ServiceLoad,
    ) -> AccessMap {
        let breaks = quantile_breaks(dataset, coverage, existing);
        let grid = &coverage.grid;
        let places: RTree<GeomWithData<[f64; 2], u32>> = RTree::bulk_load(
            (dataset.residents.iter().enumerate())
                .map(|(k, r)| GeomWithData::new(grid.frame.to_xy(r.lon, r.lat), k as u32))
                .collect(),
        );
        let reach2 = PLACE_REACH_M * PLACE_REACH_M;
        let mut map = AccessMap {
            breaks,
            cells: Vec::new(),
        };
        let cells: Vec<u8> = (0..grid.n_cells())
            .into_par_iter()
            .map(|cell| {
                if !coverage.in_area(cell) {
                    return NOTHING;
                }
                let centre = grid.centre_xy(cell % grid.n_cols, cell / grid.n_cols);
                match places.nearest_neighbor_iter_with_distance_2(&centre).next() {
                    Some((place, d2)) if d2 <= reach2 => {
                        map.class_of(load.access[place.data as usize])
                    }
                    _ => NOTHING,
                }
            })
            .collect();
        map.cells = cells;
        map
    }

    /// Number of classes of positive A_i.
    pub fn n_classes(&self) -> usize {
        self.breaks.len() + 1
    }

    /// The class of an accessibility value: [`NO_ACCESS`] for 0, else 1 + the number of
    /// breaks at or below it.
    pub fn class_of(&self, access: f64) -> u8 {
        if access <= 0.0 || access.is_nan() {
            return NO_ACCESS;
        }
        1 + self.breaks.iter().filter(|&&b| b <= access).count() as u8
    }

    /// The colour of a class (with the heatmap's opacity).
    pub fn colour(&self, class: u8) -> [u8; 4] {
        if class == NO_ACCESS {
            return BLIND_SPOT_RGBA;
        }
        let n = self.n_classes();
        let k = usize::from(class - 1).min(n - 1);
        // Dark (least) to light (most), never the darkest viridis: that is the coverage
        // heatmap's "far".
        let t = if n == 1 {
            1.0
        } else {
            0.15 + 0.85 * k as f64 / (n - 1) as f64
        };
        raster::viridis(t)
    }

    /// The class shown at fractional grid coordinates `(gx, gy)` (the nearest cell), if any.
    pub fn class_at(&self, coverage: &Coverage, gx: f64, gy: f64) -> Option<u8> {
        let grid = &coverage.grid;
        let (col, row) = (gx.round(), gy.round());
        if col < 0.0 || row < 0.0 || col >= grid.n_cols as f64 || row >= grid.n_rows as f64 {
            return None;
        }
        let class = self.cells[row as usize * grid.n_cols + col as usize];
        (class != NOTHING).then_some(class)
    }

    /// Renders the PNG tile `tile` (256 pixels, nearest cell, clipped to the analysis area's
    /// outline). Empty bytes when nothing of the map falls in it.
    pub fn render_png(
        &self,
        coverage: &Coverage,
        tile: TileKey,
    ) -> Result<Vec<u8>, coverage::Error> {
        let Some(pixels) = raster::pixel_grid_coords(&coverage.grid, tile) else {
            return Ok(Vec::new());
        };
        let side = TILE_PX as usize;
        let edges = coverage
            .area_edges()
            .band(pixels.lats[side - 1], pixels.lats[0]);
        let mut spans = Vec::new();
        let mut rgba = vec![0u8; side * side * 4];
        let mut any = false;
        for (py, &gy) in pixels.rows.iter().enumerate() {
            edges.spans(pixels.lats[py], &mut spans);
            for (px, &gx) in pixels.cols.iter().enumerate() {
                let Some(class) = self.class_at(coverage, gx, gy) else {
                    continue;
                };
                if !in_spans(&spans, pixels.lons[px]) {
                    continue;
                }
                let at = (py * side + px) * 4;
                rgba[at..at + 4].copy_from_slice(&self.colour(class));
                any = true;
            }
        }
        if !any {
            return Ok(Vec::new());
        }
        raster::encode_png(&rgba, TILE_PX, TILE_PX)
    }
}

/// Layout of the legend image, pixels.
pub mod legend_layout {
    pub const MARGIN: u32 = 8;
    pub const SWATCH_H: u32 = 20;
    /// The A_i = 0 swatch, then a gap, then one swatch per class.
    pub const NO_ACCESS_W: u32 = 28;
    pub const GAP: u32 = 8;
    pub const CLASS_W: u32 = 48;
}

impl AccessMap {
    /// The legend as an image: the A_i = 0 swatch labelled 0, then the classes from least to
    /// best served with each break written under the boundary it marks. Opaque colours.
    pub fn legend_png(&self) -> Result<Vec<u8>, super::Error> {
        use legend_layout::*;
        let n = self.n_classes() as u32;
        let width = 2 * MARGIN + NO_ACCESS_W + GAP + n * CLASS_W;
        let height = MARGIN + SWATCH_H + 6 + 10 + MARGIN;
        let mut rgb = vec![255u8; (width * height * 3) as usize];
        let mut rect = |x: u32, y: u32, w: u32, h: u32, colour: [u8; 4]| {
            for yy in y..(y + h).min(height) {
                for xx in x..(x + w).min(width) {
                    let at = ((yy * width + xx) * 3) as usize;
                    rgb[at..at + 3].copy_from_slice(&colour[..3]);
                }
            }
        };
        rect(
            MARGIN,
            MARGIN,
            NO_ACCESS_W,
            SWATCH_H,
            self.colour(NO_ACCESS),
        );
        let first = MARGIN + NO_ACCESS_W + GAP;
        for class in 1..=n {
            let x = first + (class - 1) * CLASS_W;
            rect(x, MARGIN, CLASS_W, SWATCH_H, self.colour(class as u8));
        }
        let ink = [0x11, 0x11, 0x11, 255];
        let label_y = MARGIN + SWATCH_H + 6;
        let mut labels = vec![(MARGIN + NO_ACCESS_W / 2, "0".to_owned())];
        for (k, b) in self.breaks.iter().enumerate() {
            let x = first + (k as u32 + 1) * CLASS_W;
            rect(x.saturating_sub(1), MARGIN + SWATCH_H, 2, 4, ink);
            labels.push((x, super::label_number(*b, 2)));
        }
        for (centre, text) in labels {
            let left = centre.saturating_sub(super::text_width(&text, 2) / 2);
            super::text_dots(&text, left, label_y, 2, |x, y| rect(x, y, 2, 2, ink));
        }
        super::small::encode_rgb(&rgb, width, height)
    }
}

/// The breaks between the classes of positive A_i: population-weighted quantiles of the
/// positive A_i of the places inside the analysis area, two significant digits, without
/// repeats.
fn quantile_breaks(dataset: &Dataset, coverage: &Coverage, load: &ServiceLoad) -> Vec<f64> {
    let mut values: Vec<(f64, f64)> = (dataset.residents.iter().enumerate())
        .filter(|&(k, r)| r.population > 0 && coverage.resident_in_area(k) && load.access[k] > 0.0)
        .map(|(k, r)| (load.access[k], f64::from(r.population)))
        .collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|v| v.1).sum();
    let mut breaks = Vec::new();
    let (mut cumulative, mut next) = (0.0, 0);
    for q in 1..N_CLASSES {
        let target = total * q as f64 / N_CLASSES as f64;
        while next < values.len() && cumulative + values[next].1 <= target {
            cumulative += values[next].1;
            next += 1;
        }
        if let Some(&(value, _)) = values.get(next) {
            let rounded = round_significant(value, 2);
            if rounded > 0.0 && breaks.last().is_none_or(|&last| rounded > last) {
                breaks.push(rounded);
            }
        }
    }
    breaks
}

/// `value` rounded to `digits` significant digits (through its decimal text, so the figure is
/// the one a reader sees).
fn round_significant(value: f64, digits: i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let decimals = digits - 1 - value.abs().log10().floor() as i32;
    if decimals >= 0 {
        super::label_number(value, digits).parse().unwrap_or(value)
    } else {
        let unit = 10f64.powi(-decimals);
        (value / unit).round() * unit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(breaks: Vec<f64>) -> AccessMap {
        AccessMap {
            breaks,
            cells: Vec::new(),
        }
    }

    #[test]
    fn classes_split_at_the_breaks() {
        let m = map(vec![0.1, 0.2, 0.5]);
        assert_eq!(m.class_of(0.0), NO_ACCESS);
        assert_eq!(m.class_of(0.05), 1);
        assert_eq!(m.class_of(0.1), 2);
        assert_eq!(m.class_of(0.19), 2);
        assert_eq!(m.class_of(0.5), 4);
        assert_eq!(m.class_of(9.0), 4);
        assert_eq!(m.n_classes(), 4);
        // Every class has its own colour, and none is the blind-spot colour.
        let mut colours: Vec<[u8; 4]> = (0..=4).map(|c| m.colour(c)).collect();
        assert_eq!(colours[0], BLIND_SPOT_RGBA);
        colours.sort();
        colours.dedup();
        assert_eq!(colours.len(), 5);
    }

    #[test]
    fn rounding_keeps_two_significant_digits() {
        assert_eq!(round_significant(0.012345, 2), 0.012);
        assert_eq!(round_significant(1234.0, 2), 1200.0);
        assert_eq!(round_significant(0.00098765, 2), 0.00099);
    }
}
