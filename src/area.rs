//! The analysis area: `[area]` config + subdistrict outlines + facility positions → one
//! [`AnalysisArea`], the place the deployment is about.
//!
//! Coverage grids, heatmaps and statistics cover the area (plus `coverage.padding_m`); ingest
//! skips facilities farther than [`AnalysisArea::margin_m`] outside it as misplaced (a row
//! geocoded to (0, 0), a neighbouring city), so one bad row never stretches the extent.
//! Facilities outside the area but inside the margin are kept: they serve places inside it.
//!
//! Which area, in order: a configured `bbox`, a configured `boundary` file, the subdistrict
//! outlines, or else the data's robust extent (the 0.5–99.5 % quantile box of the facilities).
//! Pure: the boundary file is read by `ingest`.

use geo::{BoundingRect, Contains, MultiPolygon};

use crate::geom;

/// Where the analysis area came from, for reports.
#[derive(Debug, Clone, PartialEq)]
pub enum AreaSource {
    /// `area.bbox` in the config.
    Bbox,
    /// `area.boundary`, a polygon file.
    Boundary(std::path::PathBuf),
    /// The subdistrict outlines of `data.subdistricts`.
    Subdistricts,
    /// The robust extent of the facilities (no area configured, no subdistricts).
    DataExtent,
    /// Nothing to derive an area from (no facilities, no subdistricts).
    Empty,
}

impl AreaSource {
    pub fn describe(&self) -> String {
        match self {
            AreaSource::Bbox => "area.bbox".into(),
            AreaSource::Boundary(path) => format!("area.boundary ({})", path.display()),
            AreaSource::Subdistricts => "the subdistrict boundaries".into(),
            AreaSource::DataExtent => "the facilities' robust extent (0.5–99.5 %)".into(),
            AreaSource::Empty => "nothing (no data)".into(),
        }
    }
}

/// The analysis area of one data version.
#[derive(Debug, Clone)]
pub struct AnalysisArea {
    pub source: AreaSource,
    /// `[west, south, east, north]` of the area itself, without margin.
    pub bbox: [f64; 4],
    /// The area's outline; `None` when it is the rectangle `bbox`.
    pub outline: Option<MultiPolygon<f64>>,
    /// Ground metres around the area within which facilities are kept: as far as the largest
    /// walking threshold reaches at the fastest walking speed.
    pub margin_m: f64,
}

/// Share of facilities cut off at each side by the robust extent.
pub const ROBUST_EXTENT_QUANTILE: f64 = 0.005;

impl AnalysisArea {
    /// A rectangular area.
    pub fn from_bbox(source: AreaSource, bbox: [f64; 4], margin_m: f64) -> AnalysisArea {
        AnalysisArea {
            source,
            bbox,
            outline: None,
            margin_m,
        }
    }

    /// The area inside `outline`; `None` when the outline is empty.
    pub fn from_outline(
        source: AreaSource,
        outline: MultiPolygon<f64>,
        margin_m: f64,
    ) -> Option<AnalysisArea> {
        let rect = outline.bounding_rect()?;
        Some(AnalysisArea {
            source,
            bbox: [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
            outline: Some(outline),
            margin_m,
        })
    }

    /// The whole Web-Mercator world: used when there is no data at all.
    pub fn world(margin_m: f64) -> AnalysisArea {
        AnalysisArea::from_bbox(
            AreaSource::Empty,
            [
                -180.0,
                -geom::MAX_MERCATOR_LAT,
                180.0,
                geom::MAX_MERCATOR_LAT,
            ],
            margin_m,
        )
    }

    /// Whether `(lon, lat)` lies inside the area (its outline, or its rectangle).
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let [w, s, e, n] = self.bbox;
        if !(w..=e).contains(&lon) || !(s..=n).contains(&lat) {
            return false;
        }
        match &self.outline {
            Some(outline) => outline.contains(&geo::Point::new(lon, lat)),
            None => true,
        }
    }

    /// `bbox` grown by `metres` of ground distance on every side.
    pub fn bbox_grown(&self, metres: f64) -> [f64; 4] {
        grow_bbox(self.bbox, metres)
    }

    /// Whether `(lon, lat)` lies within the margin of the area's rectangle: where a facility
    /// can still serve a place inside.
    pub fn in_region(&self, lon: f64, lat: f64) -> bool {
        let [w, s, e, n] = self.bbox_grown(self.margin_m);
        (w..=e).contains(&lon) && (s..=n).contains(&lat)
    }
}

/// The default area of a dataset with no `[area]` configured: the subdistrict outlines when
/// there are any, otherwise the facilities' robust extent.
pub fn derive(
    subdistricts: &[crate::dataset::Area],
    facility_lonlats: impl Iterator<Item = (f64, f64)>,
    margin_m: f64,
) -> AnalysisArea {
    let outline: Vec<geo::Polygon<f64>> = subdistricts
        .iter()
        .flat_map(|a| a.polygon.0.iter().cloned())
        .collect();
    if let Some(area) =
        AnalysisArea::from_outline(AreaSource::Subdistricts, MultiPolygon(outline), margin_m)
    {
        return area;
    }
    match robust_extent(facility_lonlats) {
        Some(bbox) => AnalysisArea::from_bbox(AreaSource::DataExtent, bbox, margin_m),
        None => AnalysisArea::world(margin_m),
    }
}

/// `bbox` grown by `metres` of ground distance on every side (clamped to the Mercator world).
pub fn grow_bbox([w, s, e, n]: [f64; 4], metres: f64) -> [f64; 4] {
    let mid_lat = (s + n) / 2.0;
    let (m_per_deg_lon, m_per_deg_lat) = geom::metres_per_degree(mid_lat);
    let d_lon = metres / m_per_deg_lon.max(1.0);
    let d_lat = metres / m_per_deg_lat;
    [
        (w - d_lon).max(-180.0),
        (s - d_lat).max(-geom::MAX_MERCATOR_LAT),
        (e + d_lon).min(180.0),
        (n + d_lat).min(geom::MAX_MERCATOR_LAT),
    ]
}

/// The box holding all but `ROBUST_EXTENT_QUANTILE` of the points at each side, so a few
/// misplaced points do not stretch it; `None` for no points. Points at (0, 0) are ignored.
pub fn robust_extent(points: impl Iterator<Item = (f64, f64)>) -> Option<[f64; 4]> {
    let (mut lons, mut lats): (Vec<f64>, Vec<f64>) = points
        .filter(|&(lon, lat)| geom::is_valid_lonlat(lon, lat) && !(lon == 0.0 && lat == 0.0))
        .unzip();
    if lons.is_empty() {
        return None;
    }
    lons.sort_by(f64::total_cmp);
    lats.sort_by(f64::total_cmp);
    let n = lons.len();
    let cut = ((n as f64) * ROBUST_EXTENT_QUANTILE).floor() as usize;
    let (lo, hi) = (cut, n - 1 - cut);
    Some([lons[lo], lats[lo], lons[hi], lats[hi]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_extent_ignores_a_few_far_points() {
        let mut points: Vec<(f64, f64)> = (0..1000)
            .map(|i| {
                (
                    121.40 + (i % 100) as f64 * 0.0005,
                    31.20 + (i / 100) as f64 * 0.002,
                )
            })
            .collect();
        points.push((0.0, 0.0));
        points.push((2.0, 48.0));
        let [w, s, e, n] = robust_extent(points.into_iter()).unwrap();
        assert!(
            w > 121.39 && e < 121.46 && s > 31.19 && n < 31.22,
            "{w} {s} {e} {n}"
        );
    }

    #[test]
    fn outline_area_contains_only_inside_points() {
        let square = geo::Polygon::new(
            geo::LineString::from(vec![
                (121.40, 31.20),
                (121.42, 31.20),
                (121.42, 31.22),
                (121.40, 31.22),
                (121.40, 31.20),
            ]),
            vec![],
        );
        let area =
            AnalysisArea::from_outline(AreaSource::Subdistricts, MultiPolygon(vec![square]), 900.0)
                .unwrap();
        assert!(area.contains(121.41, 31.21));
        assert!(!area.contains(121.43, 31.21));
        // 0.005° of longitude is about 476 m here: inside the 900 m margin, outside the area.
        assert!(area.in_region(121.425, 31.21));
        assert!(!area.in_region(121.45, 31.21));
    }
}
