//! TileJSON 3.0.0 documents, typed with the `tilejson` crate: a tile set's description
//! ([`TileSetDoc`]) → [`TileJSON`], and a layer's id, description and fields → a
//! [`VectorLayer`].
//!
//! Every TileJSON the server answers (`/tiles/{source}.json`, `/coverage/{id}.json`) and the
//! metadata of every exported archive are built here, so they agree on fields and spelling.
//! Fields TileJSON does not define (`format`, `tileSize`, `coverage`, `lifecircle`, `archive`)
//! go in the document's `other` map, through [`with_extra`].

pub use tilejson::{Bounds, Center, TileJSON, VectorLayer};

/// The TileJSON version the documents follow.
pub const TILEJSON_VERSION: &str = "3.0.0";

/// A layer's id, description and fields with their TileJSON types (`String`, `Number`,
/// `Boolean`).
pub type LayerSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// What a TileJSON document says about one tile set.
#[derive(Debug, Clone)]
pub struct TileSetDoc<'a> {
    pub name: String,
    pub description: String,
    /// The data version, as TileJSON's semver-style `version` (`1.0.{data version}`).
    pub data_version: u64,
    pub attribution: &'a str,
    /// Tile URL templates; empty for an archive's metadata, whose host decides the URLs.
    pub tiles: Vec<String>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// West, south, east, north in WGS84 degrees.
    pub bounds: [f64; 4],
    /// Longitude, latitude and zoom a map opens at.
    pub center: (f64, f64, u8),
    /// `None` for raster tile sets.
    pub vector_layers: Option<Vec<VectorLayer>>,
}

impl TileSetDoc<'_> {
    pub fn build(self) -> TileJSON {
        let [west, south, east, north] = self.bounds;
        let (lon, lat, zoom) = self.center;
        let mut document = tilejson::tilejson! {
            tilejson: TILEJSON_VERSION.to_owned(),
            tiles: self.tiles,
            name: self.name,
            description: self.description,
            version: format!("1.0.{}", self.data_version),
            attribution: self.attribution.to_owned(),
            scheme: "xyz".to_owned(),
            minzoom: self.minzoom,
            maxzoom: self.maxzoom,
            bounds: Bounds::new(west, south, east, north),
            center: Center::new(lon, lat, zoom),
        };
        document.vector_layers = self.vector_layers;
        document
    }
}

/// Adds a field TileJSON does not define (it is serialised beside the standard ones).
pub fn with_extra(document: &mut TileJSON, key: &str, value: serde_json::Value) {
    document.other.insert(key.to_owned(), value);
}

/// One `vector_layers` entry, present at every zoom of the tile set.
pub fn vector_layer(
    (id, description, fields): LayerSpec,
    extra_fields: impl IntoIterator<Item = (String, String)>,
    minzoom: u8,
    maxzoom: u8,
) -> VectorLayer {
    let fields = fields
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
        .chain(extra_fields)
        .collect();
    VectorLayer {
        description: Some(description.to_owned()),
        minzoom: Some(minzoom),
        maxzoom: Some(maxzoom),
        ..VectorLayer::new(id.to_owned(), fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The served shape: what MapLibre and the page read, with the numbers as given.
    #[test]
    fn serialises_the_fields_clients_read() {
        let layer = vector_layer(
            ("roads", "Streets", &[("highway", "String")]),
            [("name".to_owned(), "String".to_owned())],
            9,
            16,
        );
        let mut document = TileSetDoc {
            name: "lifecircle basemap".into(),
            description: "Streets".into(),
            data_version: 7,
            attribution: "© contributors",
            tiles: vec!["http://127.0.0.1/tiles/basemap/{z}/{x}/{y}.mvt".into()],
            minzoom: 0,
            maxzoom: 16,
            bounds: [121.3, 31.1, 121.5, 31.3],
            center: (121.4, 31.2, 13),
            vector_layers: Some(vec![layer]),
        }
        .build();
        with_extra(&mut document, "format", "pbf".into());
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "tilejson": "3.0.0",
                "name": "lifecircle basemap",
                "description": "Streets",
                "version": "1.0.7",
                "attribution": "© contributors",
                "scheme": "xyz",
                "tiles": ["http://127.0.0.1/tiles/basemap/{z}/{x}/{y}.mvt"],
                "minzoom": 0,
                "maxzoom": 16,
                "bounds": [121.3, 31.1, 121.5, 31.3],
                "center": [121.4, 31.2, 13],
                "format": "pbf",
                "vector_layers": [{
                    "id": "roads",
                    "description": "Streets",
                    "minzoom": 9,
                    "maxzoom": 16,
                    "fields": { "highway": "String", "name": "String" },
                }],
            })
        );
    }
}
