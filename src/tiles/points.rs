//! Facility positions in one geodetic datum, indexed for tiles.
//!
//! Takes a [`Dataset`] and a [`Datum`]; gives [`FacilityPoints`]: every facility's Web-Mercator
//! position in that datum, indexed for rectangle queries (carrying index and category, so a tile
//! scan never touches the facilities themselves), the [`ClusterPyramid`] for low zooms and the
//! [`FineGrid`] for dense tiles just above them. Data is stored in
//! WGS84; the GCJ-02 set exists so that apps drawing on Amap or Tencent basemaps (GCJ-02) get
//! facilities where their basemap shows the place.

use super::cluster::FineGrid;
use super::{ClusterPyramid, TileParams};
use crate::attributes::StatusSet;
use crate::dataset::Dataset;
use crate::geom::{self, MercPoint};
use crate::taxonomy::CategoryId;

/// The coordinate system positions are given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datum {
    /// WGS84, as stored: OpenStreetMap, MapLibre demo tiles, Apple Maps outside China.
    Wgs84,
    /// GCJ-02, the offset datum of Amap and Tencent maps in mainland China.
    Gcj02,
}

impl Datum {
    pub const ALL: [Datum; 2] = [Datum::Wgs84, Datum::Gcj02];

    pub fn as_str(self) -> &'static str {
        match self {
            Datum::Wgs84 => "wgs84",
            Datum::Gcj02 => "gcj02",
        }
    }

    /// Parses a `crs` request value (`wgs84`, `gcj02`; any case).
    pub fn parse(text: &str) -> Option<Datum> {
        Datum::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// `(lon, lat)` in WGS84 → the same place in this datum.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Datum::Wgs84 => (lon, lat),
            Datum::Gcj02 => crate::geom::datum::wgs84_to_gcj02(lon, lat),
        }
    }
}

/// Facility positions sorted into horizontal strips (rows of [`STRIP_ZOOM`] tiles), by x within a
/// strip: a rectangle is one binary search and one contiguous run per strip it crosses. Struct of
/// arrays, 21 bytes a facility (an R-tree's leaf alone takes about 64), exact `f64` positions so
/// that which facility lies in which margin is decided exactly as before.
struct StripIndex {
    xs: Vec<f64>,
    ys: Vec<f64>,
    facility: Vec<u32>,
    category: Vec<CategoryId>,
}

/// Zoom whose tile rows are the strips: a tile at zoom 14 and its buffer cross about 17 strips,
/// one at zoom 20 reads a strip four times its height.
const STRIP_ZOOM: i32 = 18;

/// The strip holding Mercator `y` (exact: a multiplication by a power of two).
fn strip_of(y: f64) -> i64 {
    (y * f64::from(1u32 << STRIP_ZOOM)).floor() as i64
}

impl StripIndex {
    fn new(mut points: Vec<(u32, MercPoint, CategoryId)>) -> StripIndex {
        points.sort_unstable_by(|a, b| {
            strip_of(a.1.y)
                .cmp(&strip_of(b.1.y))
                .then(a.1.x.total_cmp(&b.1.x))
                .then(a.0.cmp(&b.0))
        });
        StripIndex {
            xs: points.iter().map(|p| p.1.x).collect(),
            ys: points.iter().map(|p| p.1.y).collect(),
            facility: points.iter().map(|p| p.0).collect(),
            category: points.iter().map(|p| p.2).collect(),
        }
    }

    /// The first position in `from..` whose (strip, x) is not below `(strip, x)`.
    fn lower_bound(&self, from: usize, strip: i64, x: f64) -> usize {
        let (mut lo, mut hi) = (from, self.xs.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if (strip_of(self.ys[mid]), self.xs[mid]) < (strip, x) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Calls `visit(position in the arrays)` for every point in `[min, max]` (inclusive), strip by
    /// strip, by x within a strip.
    fn for_each_in(&self, min: MercPoint, max: MercPoint, mut visit: impl FnMut(usize)) {
        let (Some(&first), Some(&last)) = (self.ys.first(), self.ys.last()) else {
            return;
        };
        let strips = strip_of(min.y).max(strip_of(first))..=strip_of(max.y).min(strip_of(last));
        let mut from = 0;
        for strip in strips {
            let mut i = self.lower_bound(from, strip, min.x);
            while i < self.xs.len() && self.xs[i] <= max.x && strip_of(self.ys[i]) == strip {
                if (min.y..=max.y).contains(&self.ys[i]) {
                    visit(i);
                }
                i += 1;
            }
            from = i;
        }
    }

    fn heap_bytes(&self) -> usize {
        self.xs.capacity() * 8
            + self.ys.capacity() * 8
            + self.facility.capacity() * 4
            + self.category.capacity()
    }
}

/// Facility positions in one datum with their spatial index and cluster pyramid.
pub struct FacilityPoints {
    pub datum: Datum,
    index: StripIndex,
    pyramid: ClusterPyramid,
    /// The fine grid of the first zoom above the pyramid (see [`FineGrid`]).
    fine: Option<FineGrid>,
}

impl FacilityPoints {
    /// Indexes the facilities whose status is in `statuses` (tiles show only those, and the
    /// pyramid counts only those).
    pub fn new(
        dataset: &Dataset,
        datum: Datum,
        params: &TileParams,
        statuses: StatusSet,
    ) -> FacilityPoints {
        let shown: Vec<(u32, MercPoint, CategoryId)> = dataset
            .facilities()
            .iter()
            .enumerate()
            .filter(|&(idx, _)| statuses.contains(dataset.status(idx as u32)))
            .map(|(idx, f)| {
                let (lon, lat) = datum.from_wgs84(f.lon, f.lat);
                (idx as u32, geom::lonlat_to_merc(lon, lat), f.category)
            })
            .collect();
        let pyramid = ClusterPyramid::with_indices(
            shown.iter().copied(),
            dataset.taxonomy.len(),
            params.cluster_max_zoom,
            params.cluster_cell_px,
            params.extent,
        );
        let fine = params.cluster_max_zoom.checked_add(1).and_then(|zoom| {
            FineGrid::new(
                shown.iter().copied(),
                dataset.taxonomy.len(),
                zoom,
                params.cluster_fine_cell_px,
                params.extent,
            )
        });
        let index = StripIndex::new(shown);
        FacilityPoints {
            datum,
            index,
            pyramid,
            fine,
        }
    }

    pub fn pyramid(&self) -> &ClusterPyramid {
        &self.pyramid
    }

    pub fn fine_grid(&self) -> Option<&FineGrid> {
        self.fine.as_ref()
    }

    /// Calls `visit(index, position, category)` for every facility inside `[min, max]`
    /// (Mercator, inclusive), in a deterministic order.
    pub fn for_each_in(
        &self,
        min: MercPoint,
        max: MercPoint,
        mut visit: impl FnMut(u32, MercPoint, CategoryId),
    ) {
        let index = &self.index;
        index.for_each_in(min, max, |i| {
            let merc = MercPoint {
                x: index.xs[i],
                y: index.ys[i],
            };
            visit(index.facility[i], merc, index.category[i]);
        });
    }

    /// Bytes held: the index, the pyramid and the fine grid.
    pub fn heap_bytes(&self) -> usize {
        self.index.heap_bytes()
            + self.pyramid.heap_bytes()
            + self.fine.as_ref().map_or(0, FineGrid::heap_bytes)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `k` steps of 2^-22 from 0.8 (so points and query edges often coincide exactly, and a
    /// query crosses several strips).
    fn at(k: u32) -> f64 {
        0.8 + f64::from(k) / f64::from(1u32 << 22)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The strips give exactly the points inside the rectangle, edges included, each once.
        #[test]
        fn strip_index_matches_a_scan(
            points in prop::collection::vec((0u32..64, 0u32..64, 0u8..4), 0..300),
            (x0, y0, w, h) in (0u32..70, 0u32..70, 0u32..40, 0u32..40),
        ) {
            let points: Vec<(u32, MercPoint, CategoryId)> = points
                .iter()
                .enumerate()
                .map(|(i, &(x, y, c))| (i as u32, MercPoint { x: at(x), y: at(y) }, CategoryId(c)))
                .collect();
            let (min, max) = (MercPoint { x: at(x0), y: at(y0) }, MercPoint { x: at(x0 + w), y: at(y0 + h) });
            let index = StripIndex::new(points.clone());
            let mut got: Vec<(u32, u8)> = Vec::new();
            index.for_each_in(min, max, |i| got.push((index.facility[i], index.category[i].0)));
            got.sort_unstable();
            let expected: Vec<(u32, u8)> = points
                .iter()
                .filter(|(_, p, _)| (min.x..=max.x).contains(&p.x) && (min.y..=max.y).contains(&p.y))
                .map(|&(i, _, c)| (i, c.0))
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
