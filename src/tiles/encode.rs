//! MVT encoding of one facility tile: points and clusters → protobuf bytes, with the properties
//! the profile names. Coordinates arrive in tile units; this module only writes them.
//!
//! The protobuf is written directly (Mapbox Vector Tile 2.1: one `facilities` layer of point
//! features). Keys are a fixed set known up front, and the strings every feature of a category
//! repeats (category id, colour, group) are looked up once per tile through a per-category slot
//! instead of being hashed and copied per feature; names, labels and addresses go through the
//! tile's value table by content, borrowed, never copied. The layer lists keys and values in
//! order of first use without repeating one (two counts abbreviating alike, `15k`, are the one
//! exception).

use std::collections::HashMap;

use super::cluster::Cell;
use super::profile::{self, FACILITY_LAYER};
use crate::dataset::Dataset;
use crate::taxonomy::CategoryId;

type FastMap<K, V> = HashMap<K, V, xxhash_rust::xxh3::Xxh3DefaultBuilder>;

/// The keys a facility tile can hold, in a fixed order; `n_<category>` keys follow them.
const KEYS: [&str; 18] = [
    "id",
    "name",
    "label",
    "label_en",
    "name_en",
    "category",
    "color",
    "group",
    "address",
    "cluster",
    "point_count",
    "point_count_abbreviated",
    "expansion_zoom",
    "status",
    "floor_area_m2",
    "functions",
    "year",
    "serves",
];
const K_ID: usize = 0;
const K_NAME: usize = 1;
const K_LABEL: usize = 2;
const K_LABEL_EN: usize = 3;
const K_NAME_EN: usize = 4;
const K_CATEGORY: usize = 5;
const K_COLOR: usize = 6;
const K_GROUP: usize = 7;
const K_ADDRESS: usize = 8;
const K_CLUSTER: usize = 9;
const K_POINT_COUNT: usize = 10;
const K_POINT_COUNT_ABBREVIATED: usize = 11;
const K_EXPANSION_ZOOM: usize = 12;
const K_STATUS: usize = 13;
const K_FLOOR_AREA: usize = 14;
const K_FUNCTIONS: usize = 15;
const K_YEAR: usize = 16;
const K_SERVES: usize = 17;

/// One value of the layer's value table, borrowed from the dataset or the writer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Value<'a> {
    String(&'a str),
    /// `point_count_abbreviated` of this count, written out when the tile is finished.
    Abbreviated(u32),
    UInt(u64),
    SInt(i64),
    /// A double, by its bits (so values hash and compare exactly).
    Double(u64),
    /// A facility's functions, written `;`-joined.
    Functions(&'a [String]),
    /// The categories a facility also serves, written as their ids `,`-joined.
    Serves(&'a [CategoryId]),
    Bool(bool),
}

/// Writes points and clusters into one `facilities` layer. Returns empty bytes when there are no
/// features at all (an empty tile).
pub struct LayerWriter<'a> {
    dataset: &'a Dataset,
    extent: u32,
    n_features: usize,
    /// `n_<category>` attribute names, made once per tile rather than per cluster.
    count_keys: Vec<String>,
    /// Per key (the fixed ones, then the counts): its index in the layer, once used.
    key_index: Vec<Option<u32>>,
    /// Keys in order of first use, as indices into `KEYS` + `count_keys`.
    keys_used: Vec<usize>,
    values: Vec<Value<'a>>,
    value_index: FastMap<Value<'a>, u32>,
    /// Per category: the value indices of its id, colour and group, once used.
    category_values: Vec<Option<[u32; 3]>>,
    /// Encoded features (each with its field tag and length).
    features: Vec<u8>,
    /// Scratch space for one feature's tags.
    tags: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
#[error("MVT encoding failed: {0}")]
pub struct EncodeError(String);

impl From<mvt::Error> for EncodeError {
    fn from(e: mvt::Error) -> Self {
        EncodeError(e.to_string())
    }
}

impl<'a> LayerWriter<'a> {
    pub fn new(dataset: &'a Dataset, extent: u32) -> Self {
        let count_keys: Vec<String> = dataset
            .taxonomy
            .categories()
            .map(|(_, c)| format!("n_{}", c.id))
            .collect();
        LayerWriter {
            dataset,
            extent,
            n_features: 0,
            key_index: vec![None; KEYS.len() + count_keys.len()],
            count_keys,
            keys_used: Vec::new(),
            values: Vec::new(),
            value_index: FastMap::default(),
            category_values: vec![None; dataset.taxonomy.len()],
            features: Vec::new(),
            tags: Vec::new(),
        }
    }

    fn key(&mut self, slot: usize) -> u32 {
        *self.key_index[slot].get_or_insert_with(|| {
            self.keys_used.push(slot);
            (self.keys_used.len() - 1) as u32
        })
    }

    fn value(&mut self, value: Value<'a>) -> u32 {
        let next = self.values.len() as u32;
        let index = *self.value_index.entry(value).or_insert(next);
        if index == next {
            self.values.push(value);
        }
        index
    }

    fn tag(&mut self, key: usize, value: Value<'a>) {
        let k = self.key(key);
        let v = self.value(value);
        self.tags.extend([k, v]);
    }

    /// Tags `category`, `color` and `group` of category index `c`.
    fn category_tags(&mut self, c: usize) {
        let values = match self.category_values[c] {
            Some(values) => values,
            None => {
                let taxonomy = &self.dataset.taxonomy;
                let (_, category) = taxonomy
                    .categories()
                    .nth(c)
                    .expect("index from the same taxonomy");
                let group = taxonomy.group(category.group);
                let values = [
                    self.value(Value::String(&category.id)),
                    self.value(Value::String(&category.color)),
                    self.value(Value::String(&group.id)),
                ];
                self.category_values[c] = Some(values);
                values
            }
        };
        for (key, value) in [K_CATEGORY, K_COLOR, K_GROUP].into_iter().zip(values) {
            let k = self.key(key);
            self.tags.extend([k, value]);
        }
    }

    /// Appends the feature whose tags are in `self.tags`, written straight into the layer's
    /// feature bytes (lengths are known up front, so no buffer per feature).
    fn push_feature(&mut self, id: u64, x: i64, y: i64) -> Result<(), EncodeError> {
        let (Ok(x), Ok(y)) = (i32::try_from(x), i32::try_from(y)) else {
            return Err(EncodeError(format!(
                "point ({x}, {y}) is outside the tile's coordinate range"
            )));
        };
        let tags_len: usize = self.tags.iter().map(|&t| varint_len(u64::from(t))).sum();
        // MoveTo(1), dx, dy
        let geometry = [9u64, zigzag(x), zigzag(y)];
        let geometry_len: usize = geometry.iter().map(|&g| varint_len(g)).sum();
        let body_len = 1
            + varint_len(id)
            + if self.tags.is_empty() {
                0
            } else {
                1 + varint_len(tags_len as u64) + tags_len
            }
            + 2
            + 1
            + varint_len(geometry_len as u64)
            + geometry_len;
        let out = &mut self.features;
        out.reserve(1 + varint_len(body_len as u64) + body_len);
        // features = 2 of the layer
        out.push(0x12);
        varint(out, body_len as u64);
        // id = 1
        out.push(0x08);
        varint(out, id);
        // tags = 2, packed
        if !self.tags.is_empty() {
            out.push(0x12);
            varint(out, tags_len as u64);
            for &t in &self.tags {
                varint(out, u64::from(t));
            }
        }
        // type = 3: POINT
        out.extend([0x18, 0x01]);
        // geometry = 4, packed
        out.push(0x22);
        varint(out, geometry_len as u64);
        for g in geometry {
            varint(out, g);
        }
        self.tags.clear();
        self.n_features += 1;
        Ok(())
    }

    /// Adds facility `idx` (its index in the dataset) at tile position `(x, y)`.
    pub fn facility(&mut self, idx: u32, x: i64, y: i64) -> Result<(), EncodeError> {
        let facility = self.dataset.facility(idx);
        self.tag(K_ID, Value::UInt(facility.id));
        self.tag(K_NAME, Value::String(facility.name()));
        if facility.name().is_empty() {
            // An unnamed facility (a park, a pitch) is shown by what it is.
            let (label_zh, label_en) = self.dataset.label(facility);
            self.tag(K_LABEL, Value::String(label_zh));
            self.tag(K_LABEL_EN, Value::String(label_en));
        }
        if let Some(name_en) = &facility.name_en() {
            self.tag(K_NAME_EN, Value::String(name_en));
        }
        self.category_tags(facility.category.0 as usize);
        if let Some(address) = &facility.address() {
            self.tag(K_ADDRESS, Value::String(address));
        }
        // Attributes only for the facilities that have any, so plain data's tiles are unchanged.
        if let Some(attributes) = self.dataset.attributes(idx) {
            self.tag(K_STATUS, Value::String(attributes.status.as_str()));
            if let Some(m2) = attributes.floor_area_m2 {
                self.tag(K_FLOOR_AREA, Value::Double(m2.to_bits()));
            }
            if !attributes.functions.is_empty() {
                self.tag(K_FUNCTIONS, Value::Functions(&attributes.functions));
            }
            if let Some(year) = attributes.year {
                self.tag(K_YEAR, Value::SInt(i64::from(year)));
            }
            if !attributes.serves.is_empty() {
                self.tag(K_SERVES, Value::Serves(&attributes.serves));
            }
        }
        self.push_feature(facility.id, x, y)
    }

    /// Adds one cluster of several facilities.
    pub fn cluster(&mut self, cell: &Cell, id: u64, expansion_zoom: u8) -> Result<(), EncodeError> {
        // The dominant category: most members, ties to the first in taxonomy order.
        let dominant = (0..cell.per_category.len())
            .max_by_key(|&c| (cell.per_category[c], std::cmp::Reverse(c)))
            .expect("a taxonomy has at least one category");
        self.tag(K_CLUSTER, Value::Bool(true));
        self.tag(K_POINT_COUNT, Value::UInt(u64::from(cell.n_points)));
        self.tag(K_POINT_COUNT_ABBREVIATED, Value::Abbreviated(cell.n_points));
        self.tag(K_EXPANSION_ZOOM, Value::UInt(u64::from(expansion_zoom)));
        self.category_tags(dominant);
        for (c, &n) in cell.per_category.iter().enumerate() {
            if n > 0 {
                self.tag(KEYS.len() + c, Value::UInt(u64::from(n)));
            }
        }
        self.push_feature(id, cell.x, cell.y)
    }

    /// Finishes the tile: its bytes and feature count.
    pub fn finish(self) -> Result<(Vec<u8>, usize), EncodeError> {
        if self.n_features == 0 {
            return Ok((Vec::new(), 0));
        }
        let mut layer = Vec::with_capacity(self.features.len() + 64 * self.values.len() + 256);
        // name = 1
        bytes_field(&mut layer, 0x0a, FACILITY_LAYER.as_bytes());
        // features = 2
        layer.extend_from_slice(&self.features);
        // keys = 3
        for &slot in &self.keys_used {
            let key = match KEYS.get(slot) {
                Some(key) => key,
                None => self.count_keys[slot - KEYS.len()].as_str(),
            };
            bytes_field(&mut layer, 0x1a, key.as_bytes());
        }
        // values = 4
        let mut value = Vec::new();
        for v in &self.values {
            value.clear();
            match *v {
                Value::String(s) => bytes_field(&mut value, 0x0a, s.as_bytes()),
                Value::Abbreviated(n) => {
                    bytes_field(&mut value, 0x0a, profile::abbreviate_count(n).as_bytes());
                }
                Value::UInt(n) => {
                    value.push(0x28);
                    varint(&mut value, n);
                }
                Value::SInt(n) => {
                    value.push(0x30);
                    varint(&mut value, zigzag64(n));
                }
                Value::Double(bits) => {
                    value.push(0x19);
                    value.extend_from_slice(&bits.to_le_bytes());
                }
                Value::Functions(functions) => {
                    bytes_field(&mut value, 0x0a, functions.join(";").as_bytes());
                }
                Value::Serves(serves) => {
                    let taxonomy = &self.dataset.taxonomy;
                    let ids: Vec<&str> = serves
                        .iter()
                        .map(|&c| taxonomy.category(c).id.as_str())
                        .collect();
                    bytes_field(&mut value, 0x0a, ids.join(",").as_bytes());
                }
                Value::Bool(b) => value.extend([0x38, u8::from(b)]),
            }
            bytes_field(&mut layer, 0x22, &value);
        }
        // extent = 5, version = 15
        layer.push(0x28);
        varint(&mut layer, u64::from(self.extent));
        layer.extend([0x78, 0x02]);
        let mut tile = Vec::with_capacity(layer.len() + 8);
        // layers = 3 of the tile
        bytes_field(&mut tile, 0x1a, &layer);
        Ok((tile, self.n_features))
    }
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

fn zigzag(n: i32) -> u64 {
    u64::from(((n << 1) ^ (n >> 31)) as u32)
}

fn zigzag64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn bytes_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag() {
        for n in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            varint(&mut out, n);
            assert_eq!(out.len(), varint_len(n), "{n}");
        }
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(-64), 127);
        assert_eq!(zigzag(4095), 8190);
    }
}
