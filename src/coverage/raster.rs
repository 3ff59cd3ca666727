//! Heatmap rasters: a [`Coverage`] field → 256-pixel PNG tiles, and the legend that explains them.
//!
//! Each pixel samples the field at its centre by bilinear interpolation between the four nearest
//! cell centres (so the heatmap is smooth at any zoom) and takes its colour from a ramp:
//! - a category shows walking minutes on a viridis ramp (colour-blind safe, light = near) in
//!   one-minute steps, with a larger jump at every band limit (5, 10, 15 min …) so the thresholds
//!   show as visible steps; beyond the top of the ramp is "far" (the darkest colour), and places
//!   from which no facility can be reached at all are "unreachable" (grey diagonal stripes);
//! - a composite (`all` or a group) shows how many of its categories are within their own
//!   threshold, one ramp colour per count.
//!
//! Pixels outside the analysis area (tested against its outline, per pixel) or the grid are
//! transparent; a tile with no opaque pixel is empty.

use super::clip::in_spans;
use super::field::{FAR, Grid, UNREACHABLE};
use super::{Coverage, CoverageId, Error, ProfileId};
use crate::geom::{self, MercPoint, TileKey};

/// Side of a tile, pixels.
pub const TILE_PX: u32 = 256;

/// Opacity of every coloured pixel: the heatmap is an overlay.
const ALPHA: u8 = 190;

/// Colour of "far": reachable, but beyond the top of the ramp.
pub const FAR_RGBA: [u8; 4] = [0x44, 0x01, 0x54, ALPHA];

/// The two stripe colours of "unreachable".
pub const UNREACHABLE_RGBA: [[u8; 4]; 2] = [[0x9e, 0x9e, 0x9e, ALPHA], [0xe0, 0xe0, 0xe0, ALPHA]];

/// Width of one unreachable stripe, pixels (stripes run diagonally, aligned across tiles).
pub const STRIPE_PX: u64 = 4;

/// Viridis, sampled at eleven stops.
const VIRIDIS: [[u8; 3]; 11] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x24, 0x75],
    [0x41, 0x44, 0x87],
    [0x35, 0x5f, 0x8d],
    [0x2a, 0x78, 0x8e],
    [0x21, 0x91, 0x8c],
    [0x22, 0xa8, 0x84],
    [0x44, 0xbf, 0x70],
    [0x7a, 0xd1, 0x51],
    [0xbd, 0xdf, 0x26],
    [0xfd, 0xe7, 0x25],
];

/// Viridis at `t` (0 dark … 1 light), with the heatmap's opacity.
pub fn viridis(t: f64) -> [u8; 4] {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |k: usize| (f64::from(a[k]) + (f64::from(b[k]) - f64::from(a[k])) * f).round() as u8;
    [mix(0), mix(1), mix(2), ALPHA]
}

/// The time ramp: one colour per whole minute `0..ramp_max_min`. Band `b` of `n` (limits
/// `band_minutes` then `ramp_max_min`) spans viridis from `1 - b/n` down by 60 % of a band, so
/// each band limit is a jump of 40 % of a band against 12 % between minutes.
pub fn time_ramp(band_minutes: &[u32], ramp_max_min: u32) -> Vec<[u8; 4]> {
    let mut limits: Vec<u32> = band_minutes
        .iter()
        .copied()
        .filter(|&m| m < ramp_max_min)
        .collect();
    limits.push(ramp_max_min);
    let n_bands = limits.len() as f64;
    (0..ramp_max_min)
        .map(|minute| {
            let band = limits.iter().position(|&l| minute < l).unwrap_or(0);
            let start = if band == 0 { 0 } else { limits[band - 1] };
            let within = f64::from(minute - start) / f64::from(limits[band] - start);
            viridis(1.0 - (band as f64 + 0.6 * within) / n_bands)
        })
        .collect()
}

/// The score ramp of a composite of `n` categories: one colour per count `0..=n`.
pub fn score_ramp(n: u32) -> Vec<[u8; 4]> {
    (0..=n)
        .map(|k| {
            viridis(if n == 0 {
                1.0
            } else {
                f64::from(k) / f64::from(n)
            })
        })
        .collect()
}

/// Renders the PNG tile `tile` of coverage `id` under `profile`. Empty bytes when no pixel of the
/// tile falls on the grid.
pub fn render_png(
    coverage: &Coverage,
    id: CoverageId,
    profile: ProfileId,
    tile: TileKey,
) -> Result<Vec<u8>, Error> {
    let grid = &coverage.grid;
    let Some(pixels) = pixel_grid_coords(grid, tile) else {
        return Ok(Vec::new());
    };
    let (cols, rows) = (&pixels.cols, &pixels.rows);
    // Per pixel row, the longitudes inside the analysis area.
    let (lat_south, lat_north) = (pixels.lats[TILE_PX as usize - 1], pixels.lats[0]);
    let edges = coverage.area_edges().band(lat_south, lat_north);
    let mut spans = Vec::new();
    let mut rgba = vec![0u8; (TILE_PX * TILE_PX * 4) as usize];
    let mut any = false;
    let inside = |g: f64, n: usize| g >= -0.5 && g < n as f64 - 0.5;
    match id {
        CoverageId::Category(category) => {
            let field = coverage.field_m(category);
            let ramp = time_ramp(&coverage.params.band_minutes, coverage.ramp_max_min());
            let speed = coverage.profile(profile).speed_m_s;
            let far_m = (coverage.cutoff_m() + grid.cell_m) as f32;
            for (py, &gy) in rows.iter().enumerate() {
                if !inside(gy, grid.n_rows) {
                    continue;
                }
                edges.spans(pixels.lats[py], &mut spans);
                for (px, &gx) in cols.iter().enumerate() {
                    if !inside(gx, grid.n_cols) || !in_spans(&spans, pixels.lons[px]) {
                        continue;
                    }
                    let colour = match sample_dist(grid, field, gx, gy, far_m) {
                        None => {
                            let gpx = u64::from(tile.x) * u64::from(TILE_PX) + px as u64;
                            let gpy = u64::from(tile.y) * u64::from(TILE_PX) + py as u64;
                            UNREACHABLE_RGBA[((gpx + gpy) / STRIPE_PX % 2) as usize]
                        }
                        Some(dist_m) => {
                            let minute = (f64::from(dist_m) / speed / 60.0).floor();
                            if minute >= ramp.len() as f64 {
                                FAR_RGBA
                            } else {
                                ramp[minute.max(0.0) as usize]
                            }
                        }
                    };
                    let at = (py * TILE_PX as usize + px) * 4;
                    rgba[at..at + 4].copy_from_slice(&colour);
                    any = true;
                }
            }
        }
        CoverageId::All | CoverageId::Group(_) => {
            let scores = coverage.composite_scores(id, profile);
            let n = coverage.composite_members(id).len() as u32;
            let ramp = score_ramp(n);
            for (py, &gy) in rows.iter().enumerate() {
                if !inside(gy, grid.n_rows) {
                    continue;
                }
                edges.spans(pixels.lats[py], &mut spans);
                for (px, &gx) in cols.iter().enumerate() {
                    if !inside(gx, grid.n_cols) || !in_spans(&spans, pixels.lons[px]) {
                        continue;
                    }
                    let score = bilinear(grid, gx, gy, |cell| f32::from(scores.get(cell)));
                    let k = (score.round().max(0.0) as usize).min(ramp.len() - 1);
                    let at = (py * TILE_PX as usize + px) * 4;
                    rgba[at..at + 4].copy_from_slice(&ramp[k]);
                    any = true;
                }
            }
        }
    }
    if !any {
        return Ok(Vec::new());
    }
    encode_png(&rgba, TILE_PX, TILE_PX)
}

/// The pixel centres of one tile: longitude per column, latitude per row (north first), and
/// their fractional grid coordinates.
pub struct TilePixels {
    pub lons: Vec<f64>,
    pub lats: Vec<f64>,
    pub cols: Vec<f64>,
    pub rows: Vec<f64>,
}

/// The pixel centres of `tile`; `None` when the tile misses the grid entirely.
pub fn pixel_grid_coords(grid: &Grid, tile: TileKey) -> Option<TilePixels> {
    if grid.n_cells() == 0 {
        return None;
    }
    let n = f64::from(tile.tiles_per_axis());
    let px_centre = |i: u32, origin: u32| (f64::from(origin) + (f64::from(i) + 0.5) / 256.0) / n;
    // Longitude depends on the column only and latitude on the row only, and the frame is
    // separable, so one conversion per column and per row suffices.
    let lons: Vec<f64> = (0..TILE_PX)
        .map(|i| {
            geom::merc_to_lonlat(MercPoint {
                x: px_centre(i, tile.x),
                y: 0.5,
            })
            .0
        })
        .collect();
    let lats: Vec<f64> = (0..TILE_PX)
        .map(|i| {
            geom::merc_to_lonlat(MercPoint {
                x: 0.5,
                y: px_centre(i, tile.y),
            })
            .1
        })
        .collect();
    let cols: Vec<f64> = lons
        .iter()
        .map(|&lon| grid.grid_coords(lon, grid.frame.lat0).0)
        .collect();
    let rows: Vec<f64> = lats
        .iter()
        .map(|&lat| grid.grid_coords(grid.frame.lon0, lat).1)
        .collect();
    let hits = |v: &[f64], len: usize| v.iter().any(|&g| g >= -0.5 && g < len as f64 - 0.5);
    (hits(&cols, grid.n_cols) && hits(&rows, grid.n_rows)).then_some(TilePixels {
        lons,
        lats,
        cols,
        rows,
    })
}

/// The four cells around grid coordinates `(gx, gy)` (clamped at the border) and the weights of
/// the upper neighbours.
fn neighbours(grid: &Grid, gx: f64, gy: f64) -> ([usize; 4], f32, f32) {
    let clamp = |g: f64, n: usize| g.max(0.0).min((n - 1) as f64);
    let (x, y) = (clamp(gx, grid.n_cols), clamp(gy, grid.n_rows));
    let (c0, r0) = (x.floor() as usize, y.floor() as usize);
    let (c1, r1) = ((c0 + 1).min(grid.n_cols - 1), (r0 + 1).min(grid.n_rows - 1));
    let (fx, fy) = ((x - c0 as f64) as f32, (y - r0 as f64) as f32);
    let at = |c: usize, r: usize| r * grid.n_cols + c;
    ([at(c0, r0), at(c1, r0), at(c0, r1), at(c1, r1)], fx, fy)
}

fn bilinear(grid: &Grid, gx: f64, gy: f64, value: impl Fn(usize) -> f32) -> f32 {
    let ([a, b, c, d], fx, fy) = neighbours(grid, gx, gy);
    let bottom = value(a) + (value(b) - value(a)) * fx;
    let top = value(c) + (value(d) - value(c)) * fx;
    bottom + (top - bottom) * fy
}

/// Distance in metres at `(gx, gy)`: bilinear between the four cells, where "far" counts as
/// `far_m`; `None` (unreachable) when the nearest cell is unreachable. Next to an unreachable
/// cell the nearest cell's value is taken as is, so unreachable areas keep a crisp edge.
pub fn sample_dist(grid: &Grid, field: &[u16], gx: f64, gy: f64, far_m: f32) -> Option<f32> {
    let ([a, b, c, d], fx, fy) = neighbours(grid, gx, gy);
    let as_m = |v: u16| if v == FAR { far_m } else { f32::from(v) };
    if [a, b, c, d].iter().any(|&cell| field[cell] == UNREACHABLE) {
        let nearest = match (fx >= 0.5, fy >= 0.5) {
            (false, false) => a,
            (true, false) => b,
            (false, true) => c,
            (true, true) => d,
        };
        let v = field[nearest];
        return (v != UNREACHABLE).then(|| as_m(v));
    }
    Some(bilinear(grid, gx, gy, |cell| as_m(field[cell])))
}

/// An RGBA image as PNG (fast compression: heatmaps are made on request).
pub fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .map_err(|e| Error::Encode(e.to_string()))?;
    writer
        .write_image_data(rgba)
        .map_err(|e| Error::Encode(e.to_string()))?;
    writer.finish().map_err(|e| Error::Encode(e.to_string()))?;
    Ok(out)
}

/// 3 × 5 pixel digits, rows top to bottom, 3 bits per row (MSB left).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// A small RGBA canvas for the legend image.
struct Canvas {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            rgba: vec![255; (width * height * 4) as usize],
        }
    }

    fn put(&mut self, x: u32, y: u32, colour: [u8; 4]) {
        if x < self.width && y < self.height {
            let at = ((y * self.width + x) * 4) as usize;
            // Composite over white, so the legend shows the colours as they look on a light map.
            let alpha = f32::from(colour[3]) / 255.0;
            for (k, &channel) in colour.iter().take(3).enumerate() {
                self.rgba[at + k] =
                    (f32::from(channel) * alpha + 255.0 * (1.0 - alpha)).round() as u8;
            }
            self.rgba[at + 3] = 255;
        }
    }

    fn rect(&mut self, x: u32, y: u32, w: u32, h: u32, colour: impl Fn(u32, u32) -> [u8; 4]) {
        for dy in 0..h {
            for dx in 0..w {
                self.put(x + dx, y + dy, colour(x + dx, y + dy));
            }
        }
    }

    /// Writes `number` with its left edge at `x`, top at `y`, each font pixel 2 × 2.
    fn number(&mut self, x: u32, y: u32, number: u32) {
        let black = [0, 0, 0, 255];
        for (i, ch) in number.to_string().bytes().enumerate() {
            let glyph = DIGITS[usize::from(ch - b'0')];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..3u32 {
                    if bits & (4 >> col) != 0 {
                        let (gx, gy) = (x + i as u32 * 8 + col * 2, y + row as u32 * 2);
                        self.rect(gx, gy, 2, 2, |_, _| black);
                    }
                }
            }
        }
    }
}

/// Width of a digit string in the legend font, pixels.
fn number_width(number: u32) -> u32 {
    number.to_string().len() as u32 * 8 - 2
}

/// The legend image: the ramp as swatches with the band limits (or counts) written under them,
/// then, for a category, the "far" swatch and the striped "unreachable" swatch.
pub fn legend_png(coverage: &Coverage, id: CoverageId) -> Result<Vec<u8>, Error> {
    const SWATCH_H: u32 = 20;
    const MARGIN: u32 = 8;
    let height = MARGIN + SWATCH_H + 6 + 10 + MARGIN;
    let canvas = match id {
        CoverageId::Category(_) => {
            let ramp = time_ramp(&coverage.params.band_minutes, coverage.ramp_max_min());
            let step = 12u32;
            let ramp_w = step * ramp.len() as u32;
            let width = MARGIN + ramp_w + 12 + 28 + 8 + 28 + MARGIN;
            let mut canvas = Canvas::new(width, height);
            for (i, &colour) in ramp.iter().enumerate() {
                canvas.rect(MARGIN + i as u32 * step, MARGIN, step, SWATCH_H, |_, _| {
                    colour
                });
            }
            let mut ticks = coverage.params.band_minutes.clone();
            ticks.insert(0, 0);
            ticks.push(coverage.ramp_max_min());
            ticks.dedup();
            for &minute in ticks.iter().filter(|&&m| m <= coverage.ramp_max_min()) {
                let x = MARGIN + minute * step;
                canvas.rect(x.saturating_sub(1), MARGIN + SWATCH_H, 2, 4, |_, _| {
                    [0, 0, 0, 255]
                });
                let label_x = x.saturating_sub(number_width(minute) / 2);
                canvas.number(label_x, MARGIN + SWATCH_H + 6, minute);
            }
            let far_x = MARGIN + ramp_w + 12;
            canvas.rect(far_x, MARGIN, 28, SWATCH_H, |_, _| FAR_RGBA);
            let unreachable_x = far_x + 28 + 8;
            canvas.rect(unreachable_x, MARGIN, 28, SWATCH_H, |x, y| {
                UNREACHABLE_RGBA[(u64::from(x + y) / STRIPE_PX % 2) as usize]
            });
            canvas
        }
        CoverageId::All | CoverageId::Group(_) => {
            let n = coverage.composite_members(id).len() as u32;
            let ramp = score_ramp(n);
            let step = 20u32;
            let width = MARGIN * 2 + step * ramp.len() as u32;
            let mut canvas = Canvas::new(width, height);
            for (k, &colour) in ramp.iter().enumerate() {
                let x = MARGIN + k as u32 * step;
                canvas.rect(x, MARGIN, step, SWATCH_H, |_, _| colour);
                let label_x = x + (step - number_width(k as u32)) / 2;
                canvas.number(label_x, MARGIN + SWATCH_H + 6, k as u32);
            }
            canvas
        }
    };
    encode_png(&canvas.rgba, canvas.width, canvas.height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ramp_steps_at_band_limits() {
        let ramp = time_ramp(&[5, 10, 15], 20);
        assert_eq!(ramp.len(), 20);
        let diff = |a: [u8; 4], b: [u8; 4]| -> i32 {
            (0..3)
                .map(|k| (i32::from(a[k]) - i32::from(b[k])).abs())
                .sum()
        };
        // Every band limit is a larger jump than any step inside a band.
        let inside_max = (1..20)
            .filter(|m| m % 5 != 0)
            .map(|m| diff(ramp[m - 1], ramp[m]))
            .max()
            .unwrap();
        for limit in [5, 10, 15] {
            assert!(
                diff(ramp[limit - 1], ramp[limit]) > inside_max,
                "at {limit}"
            );
        }
        assert!(diff(ramp[19], FAR_RGBA) > inside_max);
        // Colours are all distinct, and none is an unreachable stripe.
        let mut all: Vec<[u8; 4]> = ramp.clone();
        all.push(FAR_RGBA);
        all.extend(UNREACHABLE_RGBA);
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn score_ramp_has_one_colour_per_count() {
        let ramp = score_ramp(13);
        assert_eq!(ramp.len(), 14);
        assert_eq!(ramp[13][..3], VIRIDIS[10]);
        assert_eq!(ramp[0][..3], VIRIDIS[0]);
    }
}
