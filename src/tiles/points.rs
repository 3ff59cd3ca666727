//! Facility positions in one geodetic datum, indexed for tiles.
//!
//! Takes a [`Dataset`] and a [`Datum`]; gives [`FacilityPoints`]: every facility's Web-Mercator
//! position in that datum, an R-tree over them (carrying index and category, so a tile scan never
//! touches the facilities themselves), the [`ClusterPyramid`] for low zooms and the
//! [`FineGrid`] for dense tiles just above them. Data is stored in
//! WGS84; the GCJ-02 set exists so that apps drawing on Amap or Tencent basemaps (GCJ-02) get
//! facilities where their basemap shows the place.

use rstar::{AABB, RTree, primitives::GeomWithData};

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

type IndexedPoint = GeomWithData<[f64; 2], (u32, CategoryId)>;

/// Facility positions in one datum with their spatial index and cluster pyramid.
pub struct FacilityPoints {
    pub datum: Datum,
    index: RTree<IndexedPoint>,
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
        let index = RTree::bulk_load(
            shown
                .iter()
                .map(|&(idx, p, category)| GeomWithData::new([p.x, p.y], (idx, category)))
                .collect(),
        );
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
        let envelope = AABB::from_corners([min.x, min.y], [max.x, max.y]);
        for point in self.index.locate_in_envelope(&envelope) {
            let [x, y] = *point.geom();
            visit(point.data.0, MercPoint { x, y }, point.data.1);
        }
    }
}
