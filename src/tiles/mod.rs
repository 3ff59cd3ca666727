//! Facility tiles: `(&Dataset, &FacilityPoints, TileKey, CategoryFilter, &TileParams)` → MVT
//! bytes.
//!
//! A pure function of its inputs: no IO, no clock, no globals, so the same data always gives the
//! same bytes (and the same ETag). [`profile`] decides points or clusters, [`points`] indexes
//! positions in a datum, [`cluster`] groups (and holds the pre-aggregated pyramid and fine
//! grid), [`encode`] writes the protobuf.

pub mod basemap;
mod box_index;
pub mod cluster;
mod encode;
pub mod points;
pub mod profile;

use crate::dataset::Dataset;
use crate::geom::{MercPoint, TileKey};
use crate::taxonomy::CategoryId;
pub use cluster::ClusterPyramid;
use cluster::Member;
pub use encode::EncodeError;
pub use points::{Datum, FacilityPoints};
pub use profile::{Density, TileParams};

/// Which categories a tile shows: all, or a sorted, de-duplicated subset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CategoryFilter(Option<Vec<CategoryId>>);

impl CategoryFilter {
    pub fn all() -> Self {
        CategoryFilter(None)
    }

    /// Only these categories (order and duplicates do not matter).
    pub fn only(mut categories: Vec<CategoryId>) -> Self {
        categories.sort();
        categories.dedup();
        CategoryFilter(Some(categories))
    }

    pub fn allows(&self, category: CategoryId) -> bool {
        self.0
            .as_ref()
            .is_none_or(|c| c.binary_search(&category).is_ok())
    }

    pub fn categories(&self) -> Option<&[CategoryId]> {
        self.0.as_deref()
    }
}

/// An encoded tile and what went into it.
#[derive(Debug, Clone)]
pub struct RenderedTile {
    /// MVT bytes; empty when the tile has no features.
    pub bytes: Vec<u8>,
    pub n_features: usize,
    pub density: Density,
}

/// Renders the facility tile `key`. `points` must have been built from `dataset` with the same
/// `params`; its datum decides where facilities are drawn.
pub fn render(
    dataset: &Dataset,
    points: &FacilityPoints,
    key: TileKey,
    filter: &CategoryFilter,
    params: &TileParams,
) -> Result<RenderedTile, EncodeError> {
    let (min, max) = key.merc_bounds();
    let span = max.x - min.x;
    let extent = i64::from(params.extent);
    let buffer = i64::from(params.buffer);
    let origin = (i64::from(key.x) * extent, i64::from(key.y) * extent);
    let within_buffer = |x: i64, y: i64| {
        (-buffer..extent + buffer).contains(&x) && (-buffer..extent + buffer).contains(&y)
    };
    let n_categories = dataset.taxonomy.len();

    let pyramid = points.pyramid();
    let buffer_margin = span * f64::from(params.buffer) / f64::from(params.extent);
    // Above the pyramid, one index scan serves the density choice (facilities within the
    // buffer), the points and a fine clustering (whole cells around the tile): it reaches the
    // wider of their margins, and each takes the members within its own.
    let mut scanned = None;
    let fine_grid = points.fine_grid();
    let fine_cell = params.cluster_fine_cell_px;
    let mut density = if key.z <= pyramid.base_zoom() {
        params.density(key.z, 0)
    } else if let Some(grid) = fine_grid.filter(|g| g.covers(key.z, fine_cell))
        && let n_inside = grid.count_in_tile(key, filter)
        && n_inside > params.max_points_per_tile as u64
    {
        // The facilities inside the tile alone are too many for points (those in the buffer
        // only add to them): clustered on the fine grid, read from it without a scan.
        params.density(key.z, n_inside as usize)
    } else {
        let fine = cluster_margin(span, params.cluster_fine_cell_px, params);
        let scan_margin = buffer_margin.max(fine);
        let members = collect(points, key, scan_margin, filter, params);
        let n_in_buffer = members
            .iter()
            .filter(|m| within_margin(key, m.merc, buffer_margin))
            .count();
        scanned = Some((members, scan_margin));
        params.density(key.z, n_in_buffer)
    };
    loop {
        let mut writer = encode::LayerWriter::new(dataset, params.extent);
        match density {
            Density::Points => {
                // In index order: the facilities' records are then read in the order they are
                // stored, and the features come in an order that does not depend on the index.
                let members = scanned
                    .as_mut()
                    .map_or(&mut [][..], |(m, _)| m.as_mut_slice());
                members.sort_unstable_by_key(|m| m.idx);
                for m in &*members {
                    let (x, y) = (m.gx - origin.0, m.gy - origin.1);
                    if within_margin(key, m.merc, buffer_margin) && within_buffer(x, y) {
                        writer.facility(m.idx, x, y)?;
                    }
                }
            }
            Density::Clusters { cell_px } => {
                // Whole cells around the tile are needed so that clusters in the buffer have
                // their true centroid and count.
                let margin = i64::from(margin_cells(cell_px, params));
                let cells = match pyramid_level(key, cell_px, pyramid, params) {
                    Some(level) => pyramid.cells(level, key, margin, filter),
                    None if let Some(grid) = fine_grid.filter(|g| g.covers(key.z, cell_px)) => {
                        grid.cells(key, margin, filter)
                    }
                    None => {
                        let margin = cluster_margin(span, cell_px, params);
                        let members: std::borrow::Cow<[Member]> = match &scanned {
                            // The scan reached exactly this margin: every member is in it.
                            Some((members, scan_margin)) if margin == *scan_margin => {
                                members.as_slice().into()
                            }
                            Some((members, scan_margin)) if margin < *scan_margin => members
                                .iter()
                                .filter(|m| within_margin(key, m.merc, margin))
                                .copied()
                                .collect::<Vec<_>>()
                                .into(),
                            _ => collect(points, key, margin, filter, params).into(),
                        };
                        let cell_units = extent * i64::from(cell_px) / 256;
                        cluster::cluster(&members, cell_units, n_categories, origin)
                    }
                };
                let expansion_zoom = params.expansion_zoom(key.z);
                for cell in cells.iter().filter(|c| within_buffer(c.x, c.y)) {
                    if cell.n_points == 1 {
                        writer.facility(cell.first_facility, cell.x, cell.y)?;
                    } else {
                        writer.cluster(
                            cell,
                            cluster_id(key.z, cell_px, cell.col, cell.row),
                            expansion_zoom,
                        )?;
                    }
                }
            }
        }
        let (bytes, n_features) = writer.finish()?;
        if bytes.len() > params.max_tile_bytes
            && let Some(sparser) = params.sparser(density)
        {
            tracing::debug!(tile = %key, bytes = bytes.len(), ?density, ?sparser, "tile over budget, thinning");
            density = sparser;
            continue;
        }
        return Ok(RenderedTile {
            bytes,
            n_features,
            density,
        });
    }
}

/// Whole cells of `cell_px` pixels around a tile that cover its buffer (at least one).
fn margin_cells(cell_px: u32, params: &TileParams) -> u32 {
    (params.buffer * 256)
        .div_ceil(params.extent * cell_px)
        .max(1)
}

/// The margin (Mercator units) of whole `cell_px` cells around a tile `span` wide.
fn cluster_margin(span: f64, cell_px: u32, params: &TileParams) -> f64 {
    span * f64::from(cell_px * margin_cells(cell_px, params)) / 256.0
}

/// The tile bounds grown by `margin` (Mercator units), inclusive, as the index is queried.
fn margin_bounds(key: TileKey, margin: f64) -> (MercPoint, MercPoint) {
    let (min, max) = key.merc_bounds();
    (
        MercPoint {
            x: min.x - margin,
            y: min.y - margin,
        },
        MercPoint {
            x: max.x + margin,
            y: max.y + margin,
        },
    )
}

/// Is `merc` inside tile `key` grown by `margin` (the same test the index query makes)?
fn within_margin(key: TileKey, merc: MercPoint, margin: f64) -> bool {
    let (lo, hi) = margin_bounds(key, margin);
    (lo.x..=hi.x).contains(&merc.x) && (lo.y..=hi.y).contains(&merc.y)
}

/// The pyramid level holding cells of `cell_px` pixels at zoom `key.z`, if there is one: a cell
/// twice as wide at zoom z is a cell of the base width at zoom z - 1.
fn pyramid_level(
    key: TileKey,
    cell_px: u32,
    pyramid: &ClusterPyramid,
    params: &TileParams,
) -> Option<u8> {
    if key.z > pyramid.base_zoom() || cell_px < params.cluster_cell_px {
        return None;
    }
    let shift = (cell_px / params.cluster_cell_px).trailing_zeros();
    u8::try_from(shift)
        .ok()
        .and_then(|shift| key.z.checked_sub(shift))
}

/// The facilities inside the tile bounds grown by `margin` (Mercator units) that pass the
/// filter, with positions in global tile units at the tile's zoom (floored, so a facility inside
/// the tile lands in `0..extent`). Reads only the spatial index, not the facilities.
fn collect(
    points: &FacilityPoints,
    key: TileKey,
    margin: f64,
    filter: &CategoryFilter,
    params: &TileParams,
) -> Vec<Member> {
    let world_units = f64::from(key.tiles_per_axis()) * f64::from(params.extent);
    let (lo, hi) = margin_bounds(key, margin);
    let mut out = Vec::new();
    points.for_each_in(lo, hi, |idx, merc, category| {
        if filter.allows(category) {
            out.push(Member {
                idx,
                merc,
                gx: (merc.x * world_units).floor() as i64,
                gy: (merc.y * world_units).floor() as i64,
                category,
            });
        }
    });
    out
}

/// A cluster's feature id: stable for a cell at a zoom, and in a range (2^52 and up, below 2^53
/// so JavaScript numbers hold it exactly) apart from ordinary source ids.
fn cluster_id(z: u8, cell_px: u32, col: i64, row: i64) -> u64 {
    let mut bytes = [0u8; 21];
    bytes[0] = z;
    bytes[1..5].copy_from_slice(&cell_px.to_le_bytes());
    bytes[5..13].copy_from_slice(&col.to_le_bytes());
    bytes[13..21].copy_from_slice(&row.to_le_bytes());
    (1u64 << 52) | (xxhash_rust::xxh3::xxh3_64(&bytes) >> 12)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::config::Config;
    use crate::dataset::{Facility, FacilityText};
    use crate::geom;

    fn dataset(points: &[(f64, f64, u8)]) -> Dataset {
        let taxonomy = Arc::new(Config::embedded().unwrap().taxonomy().unwrap());
        let facilities = points
            .iter()
            .enumerate()
            .map(|(idx, &(lon, lat, category))| {
                Facility::new(
                    idx as u64 + 1,
                    CategoryId(category),
                    (lon, lat),
                    FacilityText {
                        source_id: &(idx + 1).to_string(),
                        name: &format!("设施{idx}"),
                        name_en: None,
                        address: None,
                    },
                    None,
                )
            })
            .collect();
        Dataset::new(taxonomy, facilities, vec![], vec![], vec![])
    }

    fn wgs84_points(data: &Dataset) -> FacilityPoints {
        FacilityPoints::new(
            data,
            Datum::Wgs84,
            &params(),
            crate::attributes::StatusSet::EXISTING,
        )
    }

    fn params() -> TileParams {
        Config::embedded().unwrap().tiles
    }

    /// Decoded features of a tile: (id, x, y, point_count) with `point_count` 1 for a facility.
    fn decode(bytes: &[u8]) -> Vec<(u64, f32, f32, u64)> {
        if bytes.is_empty() {
            return vec![];
        }
        let reader = mvt_reader::Reader::new(bytes.to_vec()).unwrap();
        reader
            .get_features(0)
            .unwrap()
            .into_iter()
            .map(|f| {
                let geo::Geometry::MultiPoint(mp) = f.get_geometry() else {
                    panic!("points only")
                };
                let p = mp.0[0];
                let count = f
                    .properties
                    .as_ref()
                    .and_then(|p| p.get("point_count"))
                    .map_or(1, |v| match v {
                        mvt_reader::feature::Value::UInt(n) => *n,
                        other => panic!("point_count is {other:?}"),
                    });
                (f.id.unwrap(), p.x(), p.y(), count)
            })
            .collect()
    }

    fn inside(x: f32, y: f32) -> bool {
        (0.0..4096.0).contains(&x) && (0.0..4096.0).contains(&y)
    }

    /// Sum of `point_count` over the features inside the tile proper (buffer ignored).
    fn count_inside(bytes: &[u8]) -> u64 {
        decode(bytes)
            .iter()
            .filter(|f| inside(f.1, f.2))
            .map(|f| f.3)
            .sum()
    }

    /// Facilities of `data` passing `keep` whose position falls in tile `key`.
    fn count_in_tile(data: &Dataset, key: TileKey, keep: impl Fn(&Facility) -> bool) -> u64 {
        data.facilities()
            .iter()
            .filter(|f| {
                keep(f) && TileKey::containing(geom::lonlat_to_merc(f.lon, f.lat), key.z) == key
            })
            .count() as u64
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Clusters of each tile add up to the facilities in it, at every clustered zoom, and
        /// at a point zoom every facility is in exactly one tile.
        #[test]
        fn counts_add_up(points in prop::collection::vec((121.33f64..121.45, 31.19f64..31.24, 0u8..14), 1..400), z in 8u8..=15) {
            let data = dataset(&points);
            let p = params();
            let mut total = 0u64;
            for key in crate::state::tiles_covering(data.bounds, z, z) {
                let tile = render(&data, &wgs84_points(&data), key, &CategoryFilter::all(), &p).unwrap();
                let in_tile = count_inside(&tile.bytes);
                let expected = count_in_tile(&data, key, |_| true);
                prop_assert_eq!(in_tile, expected, "tile {}", key);
                total += in_tile;
            }
            prop_assert_eq!(total, points.len() as u64);
        }
    }

    /// `n` facilities in rows of `columns`, `step` degrees apart from (121.40, 31.22), the
    /// categories taking turns.
    fn block(n: usize, columns: usize, step: f64) -> Vec<(f64, f64, u8)> {
        (0..n)
            .map(|i| {
                (
                    121.40 + (i % columns) as f64 * step,
                    31.22 + (i / columns) as f64 * step,
                    (i % 13) as u8,
                )
            })
            .collect()
    }

    #[test]
    fn dense_tile_is_thinned_under_budget() {
        // 5000 facilities in one z15 tile: above max_points_per_tile, so clustered finely.
        let points = block(5000, 100, 1e-5);
        let data = dataset(&points);
        let key = TileKey::containing(geom::lonlat_to_merc(121.4005, 31.2205), 15);
        let tile = render(
            &data,
            &wgs84_points(&data),
            key,
            &CategoryFilter::all(),
            &params(),
        )
        .unwrap();
        assert!(matches!(tile.density, Density::Clusters { cell_px: 16 }));
        assert!(tile.bytes.len() <= params().max_tile_bytes);
        let sum = count_inside(&tile.bytes);
        let expected = count_in_tile(&data, key, |_| true);
        assert_eq!(sum, expected);
    }

    #[test]
    fn byte_budget_forces_sparser_tiles() {
        let points: Vec<_> = (0..2000)
            .map(|i| {
                (
                    121.40 + (i % 50) as f64 * 2e-5,
                    31.22 + (i / 50) as f64 * 2e-5,
                    2,
                )
            })
            .collect();
        let data = dataset(&points);
        let key = TileKey::containing(geom::lonlat_to_merc(121.4005, 31.2205), 16);
        let mut p = params();
        p.max_tile_bytes = 4096;
        let tile = render(&data, &wgs84_points(&data), key, &CategoryFilter::all(), &p).unwrap();
        assert!(tile.bytes.len() <= 4096, "{} bytes", tile.bytes.len());
        assert!(matches!(tile.density, Density::Clusters { .. }));
    }

    #[test]
    fn filter_and_determinism() {
        let points: Vec<_> = (0..300)
            .map(|i| {
                (
                    121.35 + (i % 30) as f64 * 3e-3,
                    31.20 + (i / 30) as f64 * 3e-3,
                    (i % 3) as u8,
                )
            })
            .collect();
        let data = dataset(&points);
        let key = TileKey::containing(geom::lonlat_to_merc(121.38, 31.21), 12);
        let only_first = CategoryFilter::only(vec![CategoryId(0)]);
        let a = render(&data, &wgs84_points(&data), key, &only_first, &params()).unwrap();
        let b = render(&data, &wgs84_points(&data), key, &only_first, &params()).unwrap();
        assert_eq!(a.bytes, b.bytes);
        let sum = count_inside(&a.bytes);
        let expected = count_in_tile(&data, key, |f| f.category == CategoryId(0));
        assert_eq!(sum, expected);
        // Outside the data: an empty tile.
        let far = render(
            &data,
            &wgs84_points(&data),
            TileKey::new(12, 0, 0).unwrap(),
            &CategoryFilter::all(),
            &params(),
        )
        .unwrap();
        assert!(far.bytes.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// The pyramid gives the same cells as clustering every facility, filtered or not.
        #[test]
        fn pyramid_matches_direct_clustering(points in prop::collection::vec((121.33f64..121.45, 31.19f64..31.24, 0u8..14), 1..300), z in 0u8..=13, filtered in any::<bool>()) {
            let data = dataset(&points);
            let p = params();
            let pts = wgs84_points(&data);
            let pyr = pts.pyramid();
            let filter = if filtered { CategoryFilter::only(vec![CategoryId(1), CategoryId(5), CategoryId(9)]) } else { CategoryFilter::all() };
            for key in crate::state::tiles_covering(data.bounds, z, z) {
                let (min, max) = key.merc_bounds();
                let margin = (max.x - min.x) * f64::from(p.cluster_cell_px) / 256.0;
                let members = collect(&pts, key, margin, &filter, &p);
                let extent = i64::from(p.extent);
                let cell_units = extent * i64::from(p.cluster_cell_px) / 256;
                let direct = cluster::cluster(&members, cell_units, data.taxonomy.len(), (i64::from(key.x) * extent, i64::from(key.y) * extent));
                let from_pyramid = pyr.cells(z, key, 1, &filter);
                prop_assert_eq!(direct.len(), from_pyramid.len(), "tile {}", key);
                for (a, b) in direct.iter().zip(&from_pyramid) {
                    prop_assert_eq!((a.col, a.row, a.n_points, a.first_facility), (b.col, b.row, b.n_points, b.first_facility));
                    prop_assert_eq!(&a.per_category, &b.per_category);
                    // Centroids agree to a tile unit (the pyramid floors at a finer zoom first).
                    prop_assert!((a.x - b.x).abs() <= 1 && (a.y - b.y).abs() <= 1, "{:?} vs {:?}", (a.x, a.y), (b.x, b.y));
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// The fine grid gives exactly the cells (centroids included) and the in-tile counts of
        /// clustering the facilities read from the index, filtered or not.
        #[test]
        fn fine_grid_matches_direct_clustering(points in prop::collection::vec((121.400f64..121.425, 31.210f64..31.230, 0u8..14), 1..400), filtered in any::<bool>()) {
            let data = dataset(&points);
            let p = params();
            let pts = wgs84_points(&data);
            let z = p.cluster_max_zoom + 1;
            let cell_px = p.cluster_fine_cell_px;
            let grid = pts.fine_grid().expect("a fine grid");
            prop_assert!(grid.covers(z, cell_px));
            let filter = if filtered { CategoryFilter::only(vec![CategoryId(1), CategoryId(5), CategoryId(9)]) } else { CategoryFilter::all() };
            for key in crate::state::tiles_covering(data.bounds, z, z) {
                let (min, max) = key.merc_bounds();
                let margin = cluster_margin(max.x - min.x, cell_px, &p);
                let members = collect(&pts, key, margin, &filter, &p);
                let extent = i64::from(p.extent);
                let origin = (i64::from(key.x) * extent, i64::from(key.y) * extent);
                let direct = cluster::cluster(&members, extent * i64::from(cell_px) / 256, data.taxonomy.len(), origin);
                let from_grid = grid.cells(key, i64::from(margin_cells(cell_px, &p)), &filter);
                prop_assert_eq!(format!("{direct:?}"), format!("{from_grid:?}"), "tile {}", key);
                let inside = count_in_tile(&data, key, |f| filter.allows(f.category));
                prop_assert_eq!(grid.count_in_tile(key, &filter), inside, "tile {}", key);
            }
        }
    }

    #[test]
    fn dense_tile_above_the_pyramid_is_clustered_from_the_fine_grid() {
        // 4000 facilities in one z14 tile: more than max_points_per_tile inside the tile alone.
        let points = block(4000, 80, 2.5e-5);
        let data = dataset(&points);
        let p = params();
        let pts = wgs84_points(&data);
        let key = TileKey::containing(
            geom::lonlat_to_merc(121.401, 31.2205),
            p.cluster_max_zoom + 1,
        );
        let tile = render(&data, &pts, key, &CategoryFilter::all(), &p).unwrap();
        assert_eq!(
            tile.density,
            Density::Clusters {
                cell_px: p.cluster_fine_cell_px
            }
        );
        assert_eq!(
            count_inside(&tile.bytes),
            count_in_tile(&data, key, |_| true)
        );
        // The same tile clustered from the index scan, as without the grid.
        let (min, max) = key.merc_bounds();
        let margin = cluster_margin(max.x - min.x, p.cluster_fine_cell_px, &p);
        let members = collect(&pts, key, margin, &CategoryFilter::all(), &p);
        let extent = i64::from(p.extent);
        let origin = (i64::from(key.x) * extent, i64::from(key.y) * extent);
        let cells = cluster::cluster(
            &members,
            extent * i64::from(p.cluster_fine_cell_px) / 256,
            data.taxonomy.len(),
            origin,
        );
        let mut expected: Vec<_> = cells
            .iter()
            .filter(|c| {
                let b = i64::from(p.buffer);
                (-b..extent + b).contains(&c.x) && (-b..extent + b).contains(&c.y)
            })
            .map(|c| (c.x as f32, c.y as f32, u64::from(c.n_points)))
            .collect();
        let mut got: Vec<_> = decode(&tile.bytes)
            .iter()
            .map(|f| (f.1, f.2, f.3))
            .collect();
        expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got, expected);
    }

    #[test]
    fn byte_budget_at_a_pyramid_zoom_uses_coarser_levels() {
        let points: Vec<_> = (0..3000)
            .map(|i| {
                (
                    121.33 + (i % 60) as f64 * 2e-3,
                    31.19 + (i / 60) as f64 * 1e-3,
                    (i % 14) as u8,
                )
            })
            .collect();
        let data = dataset(&points);
        let key = TileKey::containing(geom::lonlat_to_merc(121.39, 31.215), 12);
        let mut p = params();
        p.max_tile_bytes = 2048;
        let tile = render(&data, &wgs84_points(&data), key, &CategoryFilter::all(), &p).unwrap();
        assert!(tile.bytes.len() <= 2048, "{} bytes", tile.bytes.len());
        assert!(
            matches!(tile.density, Density::Clusters { cell_px } if cell_px > 32),
            "{:?}",
            tile.density
        );
        let sum = count_inside(&tile.bytes);
        let expected = count_in_tile(&data, key, |_| true);
        assert_eq!(sum, expected);
    }
}
