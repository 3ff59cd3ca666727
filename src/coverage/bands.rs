//! Isochrone bands: a [`Coverage`] field → polygons in one MVT tile, for client-side styling.
//!
//! Only cells whose centre lies inside the analysis area are inside a band: outside it there are
//! no bands (their edge follows the area's outline to within a cell).
//!
//! For a category, one feature per band limit `L` of `band_minutes` (the area within `L` minutes,
//! so the bands nest: ≤5 inside ≤10 inside ≤15) and one "beyond" feature (farther than the last
//! limit, or unreachable). For a composite, one feature per count `k` (the area where at least `k`
//! of its categories are within their threshold; these nest too).
//!
//! Outlines are traced by marching squares over the cell centres, with crossings interpolated
//! linearly, so they follow the same smooth field as the PNG heatmap. Only the cells around the
//! tile (tile + buffer + one sample) are traced and everything outside them counts as outside,
//! so every ring closes within the buffer and nothing needs clipping. At low zoom the field is
//! sampled every `stride` cells (aligned to the grid, so neighbouring tiles agree) to keep tiles
//! small.

use std::collections::HashMap;

use mvt::{GeomEncoder, GeomType, Tile};

use super::field::{FAR, UNREACHABLE};
use super::{Coverage, CoverageId, Error, ProfileId};
use crate::geom::{self, MercPoint, TileKey};

/// Name of the layer in every band tile.
pub const BANDS_LAYER: &str = "bands";

/// Attribute names of a band feature with their MVT value type (for TileJSON).
pub const BAND_FIELDS: &[(&str, &str)] = &[
    ("coverage", "String"),
    ("profile", "String"),
    ("minutes", "Number"),
    ("beyond", "Boolean"),
    ("within_threshold", "Boolean"),
    ("threshold_min", "Number"),
    ("score", "Number"),
    ("n_categories", "Number"),
];

/// Smallest spacing of traced samples, in tile units: below it the field is sampled sparser.
const MIN_SAMPLE_UNITS: f64 = 4.0;

/// One level to trace: inside where `value(cell) <= level`.
struct Level<'a> {
    level: f32,
    /// Per-cell value.
    values: Box<dyn Fn(usize) -> f32 + 'a>,
}

/// TileJSON `vector_layers` of the band tiles.
pub fn vector_layers(minzoom: u8, maxzoom: u8) -> Vec<crate::tilejson_doc::VectorLayer> {
    vec![crate::tilejson_doc::vector_layer(
        (
            BANDS_LAYER,
            "Isochrone bands: for a category, one polygon per band limit (`minutes`: the area within that many minutes; they nest) and one `beyond` polygon; for a composite, one polygon per `score` (at least that many categories within their threshold)",
            BAND_FIELDS,
        ),
        [],
        minzoom,
        maxzoom,
    )]
}

/// Renders the band tile `tile` of coverage `id` under `profile`. Empty bytes when the tile holds
/// no band.
pub fn render_mvt(
    coverage: &Coverage,
    id: CoverageId,
    profile: ProfileId,
    tile: TileKey,
    extent: u32,
    buffer: u32,
) -> Result<Vec<u8>, Error> {
    let grid = &coverage.grid;
    if grid.n_cells() == 0 {
        return Ok(Vec::new());
    }
    let Some(window) = Window::around(coverage, tile, extent, buffer) else {
        return Ok(Vec::new());
    };
    let mvt_tile = Tile::new(extent);
    let mut layer = mvt_tile.create_layer(BANDS_LAYER);
    let mut n_features = 0usize;
    let id_name = coverage.id_name(id).to_owned();
    let profile_name = coverage.profile(profile).id.clone();
    let encode_err = |e: mvt::Error| Error::Encode(e.to_string());
    for (feature_idx, (level, properties)) in levels(coverage, id, profile).into_iter().enumerate()
    {
        let level = Level {
            level: level.level,
            values: Box::new(move |cell| {
                if coverage.in_area(cell) {
                    (level.values)(cell)
                } else {
                    f32::INFINITY
                }
            }),
        };
        let rings = trace(&window, &level);
        let polygons = to_tile_polygons(coverage, &window, tile, extent, rings);
        if polygons.is_empty() {
            continue;
        }
        let mut encoder = GeomEncoder::new(GeomType::Polygon);
        for (exterior, holes) in &polygons {
            for ring in std::iter::once(exterior).chain(holes) {
                for &(x, y) in ring {
                    encoder
                        .add_point(f64::from(x), f64::from(y))
                        .map_err(encode_err)?;
                }
                encoder.complete_geom().map_err(encode_err)?;
            }
        }
        let geometry = encoder.encode().map_err(encode_err)?;
        let mut feature = layer.into_feature(geometry);
        feature.set_id(feature_idx as u64 + 1);
        feature.add_tag_string("coverage", &id_name);
        feature.add_tag_string("profile", &profile_name);
        for property in properties {
            match property {
                Property::Uint(name, v) => feature.add_tag_uint(name, v),
                Property::Bool(name, v) => feature.add_tag_bool(name, v),
            }
        }
        layer = feature.into_layer();
        n_features += 1;
    }
    if n_features == 0 {
        return Ok(Vec::new());
    }
    let mut mvt_tile = mvt_tile;
    mvt_tile.add_layer(layer).map_err(encode_err)?;
    mvt_tile.to_bytes().map_err(encode_err)
}

enum Property {
    Uint(&'static str, u64),
    Bool(&'static str, bool),
}

/// The levels of coverage `id`, with the properties of each band.
fn levels(
    coverage: &Coverage,
    id: CoverageId,
    profile: ProfileId,
) -> Vec<(Level<'_>, Vec<Property>)> {
    match id {
        CoverageId::Category(category) => {
            let walk = coverage.profile(profile).clone();
            let threshold_min = coverage.taxonomy().category(category).walk_min;
            // "Far" lies beyond the cut-off, which is beyond every band limit.
            let far_m = (coverage.cutoff_m() + coverage.grid.cell_m) as f32;
            let field = coverage.field_m(category);
            let metres = move |v: u16| match v {
                UNREACHABLE => f32::INFINITY,
                FAR => far_m,
                m => f32::from(m),
            };
            let mut out: Vec<(Level, Vec<Property>)> = coverage
                .params
                .band_minutes
                .iter()
                .map(|&minutes| {
                    (
                        Level {
                            level: walk.metres(f64::from(minutes)) as f32,
                            values: Box::new(move |cell| metres(field[cell])),
                        },
                        vec![
                            Property::Uint("minutes", u64::from(minutes)),
                            Property::Bool("beyond", false),
                            Property::Bool("within_threshold", minutes <= threshold_min),
                            Property::Uint("threshold_min", u64::from(threshold_min)),
                        ],
                    )
                })
                .collect();
            let last = *coverage
                .params
                .band_minutes
                .last()
                .unwrap_or(&threshold_min);
            // Beyond: value >= last limit, traced as -value <= -limit.
            out.push((
                Level {
                    level: -(walk.metres(f64::from(last)) as f32),
                    values: Box::new(move |cell| -metres(field[cell])),
                },
                vec![
                    Property::Bool("beyond", true),
                    Property::Bool("within_threshold", false),
                    Property::Uint("threshold_min", u64::from(threshold_min)),
                ],
            ));
            out
        }
        CoverageId::All | CoverageId::Group(_) => {
            let n = coverage.composite_members(id).len() as u32;
            let scores = coverage.composite_scores(id, profile);
            (1..=n)
                .map(|k| {
                    // At least k: -score <= -(k - 0.5).
                    (
                        Level {
                            level: -(k as f32 - 0.5),
                            values: Box::new(move |cell| -f32::from(scores.get(cell))),
                        },
                        vec![
                            Property::Uint("score", u64::from(k)),
                            Property::Uint("n_categories", u64::from(n)),
                        ],
                    )
                })
                .collect()
        }
    }
}

/// The samples traced for one tile: grid cells `(col0 + a·stride, row0 + b·stride)` for
/// `a < n_a`, `b < n_b`.
struct Window {
    col0: usize,
    row0: usize,
    stride: usize,
    n_a: usize,
    n_b: usize,
    n_cols: usize,
}

impl Window {
    fn around(coverage: &Coverage, tile: TileKey, extent: u32, buffer: u32) -> Option<Window> {
        let grid = &coverage.grid;
        let (min, max) = tile.merc_bounds();
        let margin = (max.x - min.x) * f64::from(buffer) / f64::from(extent);
        let (west, north) = geom::merc_to_lonlat(MercPoint {
            x: min.x - margin,
            y: min.y - margin,
        });
        let (east, south) = geom::merc_to_lonlat(MercPoint {
            x: max.x + margin,
            y: max.y + margin,
        });
        let (gx0, gy0) = grid.grid_coords(west, south);
        let (gx1, gy1) = grid.grid_coords(east, north);
        // Ground metres per tile unit, at the tile's middle.
        let (_, lat_mid) = geom::merc_to_lonlat(MercPoint {
            x: 0.5,
            y: (min.y + max.y) / 2.0,
        });
        let tile_m = 2.0 * std::f64::consts::PI * geom::EARTH_RADIUS_M * lat_mid.to_radians().cos()
            / f64::from(tile.tiles_per_axis());
        let cell_units = grid.cell_m / (tile_m / f64::from(extent));
        let stride = (MIN_SAMPLE_UNITS / cell_units).ceil().max(1.0) as usize;
        let stride = stride.next_power_of_two();
        // Whole strides, one more each side so outlines close outside the tile + buffer.
        let lo = |g: f64| ((g / stride as f64).floor() as i64 - 1).max(0) as usize * stride;
        let last = |n: usize| (n - 1) / stride * stride;
        let hi = |g: f64, n: usize| {
            let s = stride as i64;
            (((g / stride as f64).ceil() as i64 + 1) * s).min(last(n) as i64)
        };
        let (col0, row0) = (lo(gx0), lo(gy0));
        let (col1, row1) = (hi(gx1, grid.n_cols), hi(gy1, grid.n_rows));
        if col1 < col0 as i64 || row1 < row0 as i64 || gx1 < -1.0 || gy1 < -1.0 {
            return None;
        }
        if gx0 > grid.n_cols as f64 || gy0 > grid.n_rows as f64 {
            return None;
        }
        Some(Window {
            col0,
            row0,
            stride,
            n_a: (col1 as usize - col0) / stride + 1,
            n_b: (row1 as usize - row0) / stride + 1,
            n_cols: grid.n_cols,
        })
    }

    fn cell(&self, a: usize, b: usize) -> usize {
        (self.row0 + b * self.stride) * self.n_cols + self.col0 + a * self.stride
    }

    /// Grid coordinates of sample `(a, b)` (fractional for crossing points).
    fn grid_coords(&self, a: f64, b: f64) -> (f64, f64) {
        (
            self.col0 as f64 + a * self.stride as f64,
            self.row0 as f64 + b * self.stride as f64,
        )
    }
}

/// A closed ring in sample coordinates `(a, b)`, b growing north; inside on the left, so outer
/// rings run counter-clockwise and holes clockwise.
type Ring = Vec<(f64, f64)>;

/// Marching squares over the window, padded by one ring of "outside" samples.
fn trace(window: &Window, level: &Level) -> Vec<Ring> {
    let (n_a, n_b) = (window.n_a as i64, window.n_b as i64);
    let values: Vec<f32> = (0..window.n_b)
        .flat_map(|b| (0..window.n_a).map(move |a| (a, b)))
        .map(|(a, b)| (level.values)(window.cell(a, b)))
        .collect();
    let value = |a: i64, b: i64| -> Option<f32> {
        (a >= 0 && b >= 0 && a < n_a && b < n_b).then(|| values[(b * n_a + a) as usize])
    };
    let inside = |a: i64, b: i64| value(a, b).is_some_and(|v| v <= level.level);
    // Edge keys: horizontal (a,b)-(a+1,b) and vertical (a,b)-(a,b+1), offset by one for padding.
    let key = |a: i64, b: i64, vertical: bool| -> u64 {
        (((a + 1) as u64) << 33) | (((b + 1) as u64) << 1) | u64::from(vertical)
    };
    let crossing = |a: i64, b: i64, vertical: bool| -> (f64, f64) {
        let (a2, b2) = if vertical { (a, b + 1) } else { (a + 1, b) };
        let t = match (value(a, b), value(a2, b2)) {
            (Some(p), Some(q)) if p.is_finite() && q.is_finite() && p != q => {
                f64::from(((level.level - p) / (q - p)).clamp(0.0, 1.0))
            }
            _ => 0.5,
        };
        (
            a as f64 + (a2 - a) as f64 * t,
            b as f64 + (b2 - b) as f64 * t,
        )
    };
    let mut next: HashMap<u64, u64> = HashMap::new();
    let mut point: HashMap<u64, (f64, f64)> = HashMap::new();
    for b in -1..n_b {
        for a in -1..n_a {
            let corners = [(a, b), (a + 1, b), (a + 1, b + 1), (a, b + 1)];
            let ins = corners.map(|(x, y)| inside(x, y));
            if ins.iter().all(|&i| i) || ins.iter().all(|&i| !i) {
                continue;
            }
            // Edges in counter-clockwise order, each with its key: bottom, right, top, left.
            let edges = [
                key(a, b, false),
                key(a + 1, b, true),
                key(a, b + 1, false),
                key(a, b, true),
            ];
            let edge_points = [
                (a, b, false),
                (a + 1, b, true),
                (a, b + 1, false),
                (a, b, true),
            ];
            // Crossings in counter-clockwise order: (edge index, exits the inside?).
            let crossings: Vec<(usize, bool)> = (0..4)
                .filter(|&k| ins[k] != ins[(k + 1) % 4])
                .map(|k| (k, ins[k]))
                .collect();
            for &(k, _) in &crossings {
                let (x, y, v) = edge_points[k];
                point.entry(edges[k]).or_insert_with(|| crossing(x, y, v));
            }
            let pair = |from: usize, to: usize, next: &mut HashMap<u64, u64>| {
                next.insert(edges[from], edges[to]);
            };
            if crossings.len() == 2 {
                let (exit, enter) = if crossings[0].1 {
                    (crossings[0].0, crossings[1].0)
                } else {
                    (crossings[1].0, crossings[0].0)
                };
                pair(exit, enter, &mut next);
            } else {
                // Saddle: the centre decides whether the inside corners connect through it.
                let centre_inside = corners
                    .iter()
                    .map(|&(x, y)| value(x, y))
                    .collect::<Option<Vec<f32>>>()
                    .is_some_and(|v| v.iter().sum::<f32>() / 4.0 <= level.level);
                for i in 0..4 {
                    let (k, exits) = crossings[i];
                    if !exits {
                        continue;
                    }
                    let enter = if centre_inside {
                        crossings[(i + 1) % 4].0
                    } else {
                        crossings[(i + 3) % 4].0
                    };
                    pair(k, enter, &mut next);
                }
            }
        }
    }
    let mut rings = Vec::new();
    let mut starts: Vec<u64> = next.keys().copied().collect();
    starts.sort_unstable();
    let mut used: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for start in starts {
        if used.contains(&start) {
            continue;
        }
        let mut ring = Vec::new();
        let mut at = start;
        loop {
            used.insert(at);
            ring.push(point[&at]);
            match next.get(&at) {
                Some(&n) if n != start && !used.contains(&n) => at = n,
                _ => break,
            }
        }
        if ring.len() >= 3 {
            rings.push(ring);
        }
    }
    rings
}

/// A polygon in integer tile units: exterior (positive area, clockwise on screen) and holes.
type TilePolygon = (Vec<(i32, i32)>, Vec<Vec<(i32, i32)>>);

/// Shoelace area (twice the signed area) of an integer ring.
fn area2(ring: &[(i32, i32)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (x0, y0) = ring[i];
            let (x1, y1) = ring[(i + 1) % n];
            i64::from(x0) * i64::from(y1) - i64::from(x1) * i64::from(y0)
        })
        .sum()
}

/// Even-odd point-in-ring test.
fn contains(ring: &[(f64, f64)], p: (f64, f64)) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[(i + n - 1) % n];
        if (yi > p.1) != (yj > p.1) && p.0 < (xj - xi) * (p.1 - yi) / (yj - yi) + xi {
            inside = !inside;
        }
    }
    inside
}

/// Converts traced rings to tile units, orients them for MVT and puts every hole under the
/// smallest outer ring containing it.
fn to_tile_polygons(
    coverage: &Coverage,
    window: &Window,
    tile: TileKey,
    extent: u32,
    rings: Vec<Ring>,
) -> Vec<TilePolygon> {
    let n = f64::from(tile.tiles_per_axis());
    let units = f64::from(extent);
    let to_tile = |(a, b): (f64, f64)| -> (f64, f64) {
        let (gx, gy) = window.grid_coords(a, b);
        let (lon, lat) = coverage.grid.grid_to_lonlat(gx, gy);
        let m = geom::lonlat_to_merc(lon, lat);
        (
            (m.x * n - f64::from(tile.x)) * units,
            (m.y * n - f64::from(tile.y)) * units,
        )
    };
    // Each ring in float and in integer tile units; outer rings with twice their area.
    type FloatRing = Vec<(f64, f64)>;
    type IntRing = Vec<(i32, i32)>;
    let mut exteriors: Vec<(FloatRing, IntRing, i64)> = Vec::new();
    let mut holes: Vec<(FloatRing, IntRing)> = Vec::new();
    for ring in rings {
        // Counter-clockwise with y north becomes clockwise with y down: reversing restores the
        // sign, so outer rings end up with positive area on screen, as MVT wants.
        let mut float: Vec<(f64, f64)> = ring.into_iter().map(to_tile).collect();
        float.reverse();
        let mut quantised: Vec<(i32, i32)> = Vec::with_capacity(float.len());
        for &(x, y) in &float {
            let q = (x.round() as i32, y.round() as i32);
            if quantised.last() != Some(&q) {
                quantised.push(q);
            }
        }
        while quantised.len() > 1 && quantised.first() == quantised.last() {
            quantised.pop();
        }
        if quantised.len() < 3 {
            continue;
        }
        let area = area2(&quantised);
        if area > 0 {
            exteriors.push((float, quantised, area));
        } else if area < 0 {
            holes.push((float, quantised));
        }
    }
    let bbox = |ring: &[(f64, f64)]| {
        ring.iter().fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |b, &(x, y)| [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)],
        )
    };
    let boxes: Vec<[f64; 4]> = exteriors.iter().map(|e| bbox(&e.0)).collect();
    let mut polygons: Vec<TilePolygon> = exteriors
        .iter()
        .map(|(_, q, _)| (q.clone(), Vec::new()))
        .collect();
    for (float, quantised) in holes {
        // A vertex of a hole can touch its outer ring; the middle of its first edge cannot lie on
        // another ring, except in degenerate cases.
        let p = (
            (float[0].0 + float[1].0) / 2.0,
            (float[0].1 + float[1].1) / 2.0,
        );
        let owner = exteriors
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let b = boxes[*i];
                p.0 >= b[0] && p.0 <= b[2] && p.1 >= b[1] && p.1 <= b[3]
            })
            .filter(|(_, e)| contains(&e.0, p))
            .min_by_key(|(_, e)| e.2)
            .map(|(i, _)| i);
        if let Some(i) = owner {
            polygons[i].1.push(quantised);
        }
    }
    polygons
}
