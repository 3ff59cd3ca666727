//! MVT encoding of one facility tile: points and clusters → protobuf bytes, with the properties
//! the profile names. Coordinates arrive in tile units; this module only writes them.

use mvt::{GeomEncoder, GeomType, Tile};

use super::cluster::Cell;
use super::profile::{self, FACILITY_LAYER};
use crate::dataset::{Dataset, Facility};

/// Writes points and clusters into one `facilities` layer. Returns empty bytes when there are no
/// features at all (an empty tile).
pub struct LayerWriter<'a> {
    dataset: &'a Dataset,
    tile: Tile,
    layer: Option<mvt::Layer>,
    n_features: usize,
    /// `n_<category>` attribute names, made once per tile rather than per cluster.
    count_keys: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("MVT encoding failed: {0}")]
pub struct EncodeError(#[from] mvt::Error);

impl<'a> LayerWriter<'a> {
    pub fn new(dataset: &'a Dataset, extent: u32) -> Self {
        let tile = Tile::new(extent);
        let layer = Some(tile.create_layer(FACILITY_LAYER));
        let count_keys = dataset
            .taxonomy
            .categories()
            .map(|(_, c)| format!("n_{}", c.id))
            .collect();
        LayerWriter {
            dataset,
            tile,
            layer,
            n_features: 0,
            count_keys,
        }
    }

    fn point_feature(&mut self, x: i64, y: i64) -> Result<mvt::Feature, EncodeError> {
        let geometry = GeomEncoder::new(GeomType::Point)
            .point(x as f64, y as f64)?
            .encode()?;
        let layer = self
            .layer
            .take()
            .expect("layer is put back after every feature");
        self.n_features += 1;
        Ok(layer.into_feature(geometry))
    }

    /// Adds one facility at tile position `(x, y)`.
    pub fn facility(&mut self, facility: &Facility, x: i64, y: i64) -> Result<(), EncodeError> {
        let taxonomy = &self.dataset.taxonomy;
        let category = taxonomy.category(facility.category);
        let mut feature = self.point_feature(x, y)?;
        feature.set_id(facility.id);
        feature.add_tag_uint("id", facility.id);
        feature.add_tag_string("name", &facility.name);
        if facility.name.is_empty() {
            // An unnamed facility (a park, a pitch) is shown by what it is.
            let (label_zh, label_en) = self.dataset.label(facility);
            feature.add_tag_string("label", label_zh);
            feature.add_tag_string("label_en", label_en);
        }
        if let Some(name_en) = &facility.name_en {
            feature.add_tag_string("name_en", name_en);
        }
        feature.add_tag_string("category", &category.id);
        feature.add_tag_string("color", &category.color);
        feature.add_tag_string("group", &taxonomy.group(category.group).id);
        if let Some(address) = &facility.address {
            feature.add_tag_string("address", address);
        }
        // Attributes only for the facilities that have any, so plain data's tiles are unchanged.
        if let Some(attributes) = self
            .dataset
            .index_of(facility.id)
            .and_then(|idx| self.dataset.attributes(idx))
        {
            feature.add_tag_string("status", attributes.status.as_str());
            if let Some(m2) = attributes.floor_area_m2 {
                feature.add_tag_double("floor_area_m2", m2);
            }
            if !attributes.functions.is_empty() {
                feature.add_tag_string("functions", &attributes.functions.join(";"));
            }
            if let Some(year) = attributes.year {
                feature.add_tag_sint("year", i64::from(year));
            }
            if !attributes.serves.is_empty() {
                let serves: Vec<&str> = attributes
                    .serves
                    .iter()
                    .map(|&c| taxonomy.category(c).id.as_str())
                    .collect();
                feature.add_tag_string("serves", &serves.join(","));
            }
        }
        self.layer = Some(feature.into_layer());
        Ok(())
    }

    /// Adds one cluster of several facilities.
    pub fn cluster(&mut self, cell: &Cell, id: u64, expansion_zoom: u8) -> Result<(), EncodeError> {
        let taxonomy = self.dataset.taxonomy.clone();
        // The dominant category: most members, ties to the first in taxonomy order.
        let dominant = (0..cell.per_category.len())
            .max_by_key(|&c| (cell.per_category[c], std::cmp::Reverse(c)))
            .expect("a taxonomy has at least one category");
        let (_, category) = taxonomy
            .categories()
            .nth(dominant)
            .expect("index from the same taxonomy");
        let mut feature = self.point_feature(cell.x, cell.y)?;
        feature.set_id(id);
        feature.add_tag_bool("cluster", true);
        feature.add_tag_uint("point_count", u64::from(cell.n_points));
        feature.add_tag_string(
            "point_count_abbreviated",
            &profile::abbreviate_count(cell.n_points),
        );
        feature.add_tag_uint("expansion_zoom", u64::from(expansion_zoom));
        feature.add_tag_string("category", &category.id);
        feature.add_tag_string("color", &category.color);
        feature.add_tag_string("group", &taxonomy.group(category.group).id);
        for (key, &n) in self.count_keys.iter().zip(&cell.per_category) {
            if n > 0 {
                feature.add_tag_uint(key, u64::from(n));
            }
        }
        self.layer = Some(feature.into_layer());
        Ok(())
    }

    /// Finishes the tile: its bytes and feature count.
    pub fn finish(mut self) -> Result<(Vec<u8>, usize), EncodeError> {
        if self.n_features == 0 {
            return Ok((Vec::new(), 0));
        }
        let layer = self.layer.take().expect("layer present between features");
        self.tile.add_layer(layer)?;
        Ok((self.tile.to_bytes()?, self.n_features))
    }
}
