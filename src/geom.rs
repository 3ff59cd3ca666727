//! Pure geometry: lon/lat ↔ Web Mercator, tile addressing and ground distances.
//!
//! Takes coordinates, gives coordinates and metres. No IO, no state. Every distance the server
//! reports is computed here on the ground (haversine or a local metric frame), never in
//! Web-Mercator units, which at Shanghai's latitude overstate ground lengths by about 17 %.

pub mod datum;

use std::f64::consts::PI;

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Highest zoom level the server answers (TileJSON maxzoom may be lower; above it tiles overzoom).
pub const MAX_ZOOM: u8 = 22;

/// Latitude limit of Web Mercator.
pub const MAX_MERCATOR_LAT: f64 = 85.051_128_779_806_6;

/// A position in normalised Web Mercator: x and y in `0.0..=1.0`, y growing southwards, so that
/// tile `(z, x, y)` covers `[x / 2^z, (x + 1) / 2^z)` on both axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MercPoint {
    pub x: f64,
    pub y: f64,
}

/// Projects WGS84 lon/lat (degrees) to normalised Web Mercator. Latitudes beyond the Mercator
/// limit are clamped.
pub fn lonlat_to_merc(lon: f64, lat: f64) -> MercPoint {
    let lat = lat.clamp(-MAX_MERCATOR_LAT, MAX_MERCATOR_LAT).to_radians();
    MercPoint {
        x: (lon + 180.0) / 360.0,
        y: (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0,
    }
}

/// Inverse of [`lonlat_to_merc`]: normalised Web Mercator to lon/lat degrees.
pub fn merc_to_lonlat(p: MercPoint) -> (f64, f64) {
    let lon = p.x * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * p.y)).sinh().atan().to_degrees();
    (lon, lat)
}

/// Great-circle distance between two lon/lat points, in ground metres.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Ground metres per degree of latitude and of longitude at `lat` (an equirectangular frame
/// centred there). Accurate to well under 0.1 % across a city-sized area.
pub fn metres_per_degree(lat: f64) -> (f64, f64) {
    let m_per_deg_lat = EARTH_RADIUS_M * PI / 180.0;
    (m_per_deg_lat * lat.to_radians().cos(), m_per_deg_lat)
}

/// Is `(lon, lat)` a finite WGS84 coordinate?
pub fn is_valid_lonlat(lon: f64, lat: f64) -> bool {
    lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat)
}

/// A validated tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileKey {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// Why a tile address is not a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileKeyError {
    #[error("zoom {z} is out of range: tiles exist for zoom 0 to {max}")]
    Zoom { z: u32, max: u8 },
    #[error("tile {z}/{x}/{y} does not exist: at zoom {z}, x and y run from 0 to {last}")]
    Column { z: u8, x: u32, y: u32, last: u32 },
}

impl TileKey {
    /// Validates `z/x/y`: `z` in `0..=MAX_ZOOM`, `x` and `y` in `0..2^z`.
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, TileKeyError> {
        if z > u32::from(MAX_ZOOM) {
            return Err(TileKeyError::Zoom { z, max: MAX_ZOOM });
        }
        let z = z as u8;
        let n = 1u32 << z;
        if x >= n || y >= n {
            return Err(TileKeyError::Column {
                z,
                x,
                y,
                last: n - 1,
            });
        }
        Ok(TileKey { z, x, y })
    }

    /// Number of tiles along one axis at this zoom.
    pub fn tiles_per_axis(self) -> u32 {
        1u32 << self.z
    }

    /// The tile's bounds in normalised Web Mercator: `(min, max)`.
    pub fn merc_bounds(self) -> (MercPoint, MercPoint) {
        let n = f64::from(self.tiles_per_axis());
        (
            MercPoint {
                x: f64::from(self.x) / n,
                y: f64::from(self.y) / n,
            },
            MercPoint {
                x: f64::from(self.x + 1) / n,
                y: f64::from(self.y + 1) / n,
            },
        )
    }

    /// The tile's bounds in lon/lat: `[west, south, east, north]`.
    pub fn lonlat_bounds(self) -> [f64; 4] {
        let (min, max) = self.merc_bounds();
        let (west, north) = merc_to_lonlat(min);
        let (east, south) = merc_to_lonlat(max);
        [west, south, east, north]
    }

    /// The tile at zoom `z` containing `p` (clamped to the world).
    pub fn containing(p: MercPoint, z: u8) -> TileKey {
        let n = 1u32 << z;
        let nf = f64::from(n);
        let col = ((p.x * nf).floor().max(0.0) as u32).min(n - 1);
        let row = ((p.y * nf).floor().max(0.0) as u32).min(n - 1);
        TileKey { z, x: col, y: row }
    }

    /// The ancestor of this tile at a lower (or equal) zoom.
    pub fn ancestor(self, z: u8) -> TileKey {
        debug_assert!(z <= self.z, "ancestor zoom must not exceed the tile's zoom");
        let shift = self.z - z;
        TileKey {
            z,
            x: self.x >> shift,
            y: self.y >> shift,
        }
    }
}

impl std::fmt::Display for TileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn haversine_is_ground_distance_at_shanghai() {
        // 0.01° of latitude is 1111.95 m on the mean sphere at any longitude.
        let d = haversine_m((121.4, 31.2), (121.4, 31.21));
        assert!((d - 1111.95).abs() < 0.05, "{d}");
        // 900 m due east of a Shanghai point, via the local frame, is 900 m by haversine.
        let (m_per_deg_lon, _) = metres_per_degree(31.2);
        let d = haversine_m((121.4, 31.2), (121.4 + 900.0 / m_per_deg_lon, 31.2));
        assert!((d - 900.0).abs() < 0.01, "{d}");
    }

    #[test]
    fn tile_key_rejects_out_of_range() {
        assert_eq!(
            TileKey::new(23, 0, 0),
            Err(TileKeyError::Zoom { z: 23, max: 22 })
        );
        assert!(matches!(
            TileKey::new(2, 4, 0),
            Err(TileKeyError::Column { .. })
        ));
        assert!(TileKey::new(2, 3, 3).is_ok());
        assert_eq!(
            TileKey::new(1, 0, 2).unwrap_err().to_string(),
            "tile 1/0/2 does not exist: at zoom 1, x and y run from 0 to 1"
        );
    }

    #[test]
    fn known_tile_of_shanghai() {
        // Zhongshan Park, Changning, is in z14 tile 13717/6694 (standard XYZ).
        let p = lonlat_to_merc(121.4185, 31.2235);
        assert_eq!(
            TileKey::containing(p, 14),
            TileKey {
                z: 14,
                x: 13717,
                y: 6694
            }
        );
    }

    proptest! {
        #[test]
        fn merc_round_trips(lon in -180.0f64..180.0, lat in -85.0f64..85.0) {
            let (lon2, lat2) = merc_to_lonlat(lonlat_to_merc(lon, lat));
            prop_assert!((lon - lon2).abs() < 1e-9 && (lat - lat2).abs() < 1e-9);
        }

        #[test]
        fn containing_tile_bounds_contain_point(lon in -180.0f64..179.999, lat in -85.0f64..85.0, z in 0u8..=22) {
            let p = lonlat_to_merc(lon, lat);
            let key = TileKey::containing(p, z);
            let (min, max) = key.merc_bounds();
            prop_assert!(min.x <= p.x && p.x < max.x && min.y <= p.y && p.y < max.y);
        }

        #[test]
        fn haversine_symmetric_and_zero_on_identity(a in (100.0f64..140.0, 20.0f64..45.0), b in (100.0f64..140.0, 20.0f64..45.0)) {
            prop_assert!((haversine_m(a, b) - haversine_m(b, a)).abs() < 1e-6);
            prop_assert_eq!(haversine_m(a, a), 0.0);
        }
    }
}
