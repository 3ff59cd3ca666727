//! The tile profile: the one place that decides what goes into a facility tile at each zoom —
//! the layer, the properties of a facility, and whether points are shown one by one or grouped
//! into clusters with counts.
//!
//! Density is managed the way tippecanoe and Planetiler's label grid do it, deterministically:
//! - at `cluster_max_zoom` and below, facilities are grouped on a pixel grid of
//!   `cluster_cell_px` cells aligned to the global tile grid (so a cell never straddles tiles
//!   and the counts of a tile add up to the facilities it covers);
//! - above it, facilities are shown one by one, unless a tile holds more than
//!   `max_points_per_tile`, in which case that tile is clustered on the finer
//!   `cluster_fine_cell_px` grid;
//! - a tile that still encodes to more than `max_tile_bytes` is clustered on ever coarser grids
//!   until it fits.

use crate::config::TilesConfig;

/// Name of the facility layer in every facility tile.
pub const FACILITY_LAYER: &str = "facilities";

/// Attribute names written for a single facility, with their MVT value type (for TileJSON's
/// `vector_layers`).
pub const FACILITY_FIELDS: &[(&str, &str)] = &[
    ("id", "Number"),
    ("name", "String"),
    ("name_en", "String"),
    ("category", "String"),
    ("color", "String"),
    ("group", "String"),
    ("address", "String"),
    // Only on facilities with attributes (absent: existing, none known).
    ("status", "String"),
    ("floor_area_m2", "Number"),
    ("functions", "String"),
    ("year", "Number"),
    ("serves", "String"),
];

/// Attribute names written for a cluster, besides `category`, `color` and `group` of its
/// dominant category, and one `n_<category>` count per category present.
pub const CLUSTER_FIELDS: &[(&str, &str)] = &[
    ("cluster", "Boolean"),
    ("point_count", "Number"),
    ("point_count_abbreviated", "String"),
    ("expansion_zoom", "Number"),
];

/// TileJSON `vector_layers` of the facility tiles (served TileJSON and archive metadata alike).
pub fn facility_vector_layers(
    taxonomy: &crate::taxonomy::Taxonomy,
    minzoom: u8,
    maxzoom: u8,
) -> Vec<crate::tilejson_doc::VectorLayer> {
    let counts = taxonomy
        .categories()
        .map(|(_, category)| (format!("n_{}", category.id), "Number".to_owned()));
    let clusters = CLUSTER_FIELDS
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()));
    vec![crate::tilejson_doc::vector_layer(
        (
            FACILITY_LAYER,
            "One point per facility; at low zoom, clusters (`cluster` = true) with `point_count` and `n_<category>` counts",
            FACILITY_FIELDS,
        ),
        clusters.chain(counts),
        minzoom,
        maxzoom,
    )]
}

/// The tile settings the renderer reads: the `[tiles]` section itself.
pub type TileParams = TilesConfig;

/// How one tile shows its facilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Density {
    /// Every facility as its own feature.
    Points,
    /// Grouped on a grid of cells this many pixels wide (of a 256-pixel tile).
    Clusters { cell_px: u32 },
}

impl TileParams {
    /// The first choice for a tile at zoom `z` holding `n_points` facilities (buffer included).
    pub fn density(&self, z: u8, n_points: usize) -> Density {
        if z <= self.cluster_max_zoom {
            Density::Clusters {
                cell_px: self.cluster_cell_px,
            }
        } else if n_points > self.max_points_per_tile {
            Density::Clusters {
                cell_px: self.cluster_fine_cell_px,
            }
        } else {
            Density::Points
        }
    }

    /// The next, sparser choice when a tile came out over `max_tile_bytes`; `None` when there is
    /// nothing sparser (one cluster per tile).
    pub fn sparser(&self, density: Density) -> Option<Density> {
        match density {
            Density::Points => Some(Density::Clusters {
                cell_px: self.cluster_fine_cell_px,
            }),
            Density::Clusters { cell_px } if cell_px < 256 => Some(Density::Clusters {
                cell_px: cell_px * 2,
            }),
            Density::Clusters { .. } => None,
        }
    }

    /// The zoom at which a cluster drawn at zoom `z` is shown as separate points (or at least
    /// broken up): where a client should zoom when the cluster is clicked.
    pub fn expansion_zoom(&self, z: u8) -> u8 {
        if z < self.cluster_max_zoom {
            (z + 2).min(self.cluster_max_zoom + 1)
        } else {
            z + 1
        }
    }
}

/// `1234` → `"1.2k"`, as MapLibre's GeoJSON clustering labels counts.
pub fn abbreviate_count(n: u32) -> String {
    match n {
        0..=999 => n.to_string(),
        1000..=9_999 => format!("{:.1}k", f64::from(n) / 1000.0).replace(".0k", "k"),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", f64::from(n) / 1e6).replace(".0M", "M"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn params() -> TileParams {
        Config::embedded().unwrap().tiles
    }

    #[test]
    fn density_follows_zoom_and_load() {
        let p = params();
        assert_eq!(p.density(0, 1), Density::Clusters { cell_px: 32 });
        assert_eq!(p.density(13, 1), Density::Clusters { cell_px: 32 });
        assert_eq!(p.density(14, 10), Density::Points);
        assert_eq!(p.density(14, 3001), Density::Clusters { cell_px: 16 });
        assert_eq!(
            p.sparser(Density::Points),
            Some(Density::Clusters { cell_px: 16 })
        );
        assert_eq!(p.sparser(Density::Clusters { cell_px: 256 }), None);
    }

    #[test]
    fn counts_abbreviate_like_maplibre() {
        for (n, text) in [
            (7, "7"),
            (999, "999"),
            (1000, "1k"),
            (1260, "1.3k"),
            (15_400, "15k"),
            (2_000_000, "2M"),
        ] {
            assert_eq!(abbreviate_count(n), text);
        }
    }
}
