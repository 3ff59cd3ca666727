//! Basemap tiles: subdistrict areas, their outlines and labels, and the street network →
//! MVT, so that a map works with nothing but this server (no external basemap, no network).
//!
//! Takes the context layers of a [`Dataset`] once ([`Basemap::new`]): the subdistricts projected
//! to Web Mercator, the streets indexed by their projected bounds only (a tile projects the few
//! streets it draws from the dataset's lon/lat, which holds them anyway: a projected copy of a
//! city's streets would take more memory than the tiles ever need at once); gives one tile at a
//! time ([`Basemap::render`]): geometry clipped to the tile plus its buffer, simplified to the
//! tile's resolution, streets shown from the zoom of their class (`road_classes`, from
//! `[basemap.road_classes]`).

use geo::{
    BooleanOps, Coord, InteriorPoint, LineString, MultiLineString, MultiPolygon, Orient, Polygon,
    Rect, Simplify, orient::Direction,
};
use mvt::{GeomEncoder, GeomType, Tile};
use rstar::{AABB, Envelope};

use super::box_index::{BoxIndex, world_box};
use super::{EncodeError, TileParams};
use crate::dataset::Dataset;
use crate::geom::{self, TileKey};
use crate::road_classes::RoadClasses;
use crate::tilejson_doc::{LayerSpec, VectorLayer};

/// Tile set id of the basemap tiles.
pub const BASEMAP_SOURCE: &str = "basemap";

/// The layers of a basemap tile.
pub const BASEMAP_LAYERS: &[LayerSpec] = &[
    (
        "subdistricts",
        "Subdistrict areas",
        &[("name", "String"), ("name_en", "String")],
    ),
    ("boundaries", "Subdistrict outlines", &[("name", "String")]),
    (
        "roads",
        "Streets with their `highway` value, each class from its zoom in `[basemap.road_classes]`",
        &[("highway", "String"), ("name", "String")],
    ),
    (
        "labels",
        "One label point per subdistrict",
        &[("name", "String"), ("name_en", "String")],
    ),
];

/// TileJSON `vector_layers` of the basemap tiles.
pub fn vector_layers(minzoom: u8, maxzoom: u8) -> Vec<VectorLayer> {
    BASEMAP_LAYERS
        .iter()
        .map(|&layer| crate::tilejson_doc::vector_layer(layer, [], minzoom, maxzoom))
        .collect()
}

struct Area {
    name: String,
    name_en: Option<String>,
    merc: MultiPolygon<f64>,
    label: Coord<f64>,
}

/// The projected, indexed context layers of one snapshot.
pub struct Basemap {
    /// The streets are drawn from here.
    dataset: std::sync::Arc<Dataset>,
    /// Per street of the dataset, the first zoom it is drawn at.
    road_minzoom: Vec<u8>,
    /// The streets' projected bounds, rounded outwards.
    road_index: BoxIndex,
    areas: Vec<Area>,
}

fn to_merc(lon: f64, lat: f64) -> Coord<f64> {
    let p = geom::lonlat_to_merc(lon, lat);
    Coord { x: p.x, y: p.y }
}

impl Basemap {
    /// `road_classes` says from which zoom each street is drawn.
    pub fn new(dataset: &std::sync::Arc<Dataset>, road_classes: &RoadClasses) -> Basemap {
        let road_minzoom = dataset
            .roads
            .iter()
            .map(|r| road_classes.minzoom(&r.highway))
            .collect();
        let road_index = BoxIndex::new(
            dataset
                .roads
                .iter()
                .enumerate()
                .filter_map(|(idx, road)| {
                    let (min, max) = merc_bounds(&road.coords)?;
                    Some((world_box((min.x, min.y), (max.x, max.y)), idx as u32))
                })
                .collect(),
        );
        let areas = dataset
            .areas
            .iter()
            .filter_map(|a| {
                let merc = MultiPolygon(
                    a.polygon
                        .0
                        .iter()
                        .map(|p| {
                            let ring = |l: &LineString<f64>| {
                                l.0.iter()
                                    .map(|c| to_merc(c.x, c.y))
                                    .collect::<LineString<f64>>()
                            };
                            Polygon::new(
                                ring(p.exterior()),
                                p.interiors().iter().map(ring).collect(),
                            )
                        })
                        .collect(),
                );
                let label = merc.interior_point()?.0;
                Some(Area {
                    name: a.name.clone(),
                    name_en: a.name_en.clone(),
                    merc,
                    label,
                })
            })
            .collect();
        Basemap {
            dataset: dataset.clone(),
            road_minzoom,
            road_index,
            areas,
        }
    }

    /// Bytes held besides the dataset (the street index and zooms; the subdistricts' polygons
    /// are not counted).
    pub fn heap_bytes(&self) -> usize {
        self.road_index.heap_bytes() + self.road_minzoom.capacity()
    }

    /// Renders basemap tile `key`; empty bytes when nothing falls in it.
    pub fn render(&self, key: TileKey, params: &TileParams) -> Result<Vec<u8>, EncodeError> {
        let (min, max) = key.merc_bounds();
        let span = max.x - min.x;
        let extent = f64::from(params.extent);
        let buffer = f64::from(params.buffer);
        // Everything below works in tile units (0..extent, y down), where the clip rectangle and
        // the simplification tolerance are simple numbers.
        let to_tile = |c: Coord<f64>| Coord {
            x: (c.x - min.x) / span * extent,
            y: (c.y - min.y) / span * extent,
        };
        let clip_rect = Rect::new(
            Coord {
                x: -buffer,
                y: -buffer,
            },
            Coord {
                x: extent + buffer,
                y: extent + buffer,
            },
        )
        .to_polygon();
        let margin = span * buffer / extent;
        let envelope = AABB::from_corners(
            [min.x - margin, min.y - margin],
            [max.x + margin, max.y + margin],
        );
        let tile = Tile::new(params.extent);

        let mut areas_layer = tile.create_layer("subdistricts");
        let mut boundaries_layer = tile.create_layer("boundaries");
        let mut labels_layer = tile.create_layer("labels");
        for area in &self.areas {
            let Some(bbox) = geo::BoundingRect::bounding_rect(&area.merc) else {
                continue;
            };
            if !envelope.intersects(&AABB::from_corners(
                [bbox.min().x, bbox.min().y],
                [bbox.max().x, bbox.max().y],
            )) {
                continue;
            }
            let projected = geo::MapCoords::map_coords(&area.merc, to_tile);
            let clipped = projected
                .intersection(&clip_rect)
                .simplify(0.5)
                .orient(Direction::Default);
            if let Some(geometry) = encode_polygons(&clipped)? {
                let mut feature = areas_layer.into_feature(geometry);
                feature.add_tag_string("name", &area.name);
                if let Some(name_en) = &area.name_en {
                    feature.add_tag_string("name_en", name_en);
                }
                areas_layer = feature.into_layer();
            }
            let outlines = MultiLineString(
                projected
                    .0
                    .iter()
                    .flat_map(|p| {
                        std::iter::once(p.exterior().clone()).chain(p.interiors().iter().cloned())
                    })
                    .collect(),
            );
            let clipped = clip_rect.clip(&outlines, false).simplify(0.5);
            if let Some(geometry) = encode_lines(&clipped)? {
                let mut feature = boundaries_layer.into_feature(geometry);
                feature.add_tag_string("name", &area.name);
                boundaries_layer = feature.into_layer();
            }
            let label = to_tile(area.label);
            if (0.0..extent).contains(&label.x) && (0.0..extent).contains(&label.y) {
                let geometry = GeomEncoder::new(GeomType::Point)
                    .point(label.x.floor(), label.y.floor())?
                    .encode()?;
                let mut feature = labels_layer.into_feature(geometry);
                feature.add_tag_string("name", &area.name);
                if let Some(name_en) = &area.name_en {
                    feature.add_tag_string("name_en", name_en);
                }
                labels_layer = feature.into_layer();
            }
        }

        let mut roads_layer = tile.create_layer("roads");
        let (lo, hi) = (envelope.lower(), envelope.upper());
        let mut road_idx = self
            .road_index
            .query(&world_box((lo[0], lo[1]), (hi[0], hi[1])));
        road_idx.sort_unstable();
        for idx in road_idx {
            if key.z < self.road_minzoom[idx as usize] {
                continue;
            }
            let road = &self.dataset.roads[idx as usize];
            // One pass: each point projected, its Mercator bounds kept, and mapped to tile units.
            let (mut lo, mut hi) = (
                Coord::from((f64::MAX, f64::MAX)),
                Coord::from((f64::MIN, f64::MIN)),
            );
            let line: LineString<f64> = road
                .coords
                .iter()
                .map(|&(lon, lat)| {
                    let merc = to_merc(lon, lat);
                    lo = Coord::from((lo.x.min(merc.x), lo.y.min(merc.y)));
                    hi = Coord::from((hi.x.max(merc.x), hi.y.max(merc.y)));
                    to_tile(merc)
                })
                .collect();
            // The index rounds bounds outwards: keep exactly the streets whose bounds meet the
            // envelope.
            if line.0.is_empty()
                || !envelope.intersects(&AABB::from_corners([lo.x, lo.y], [hi.x, hi.y]))
            {
                continue;
            }
            let projected = MultiLineString(vec![line]);
            let clipped = clip_rect.clip(&projected, false).simplify(0.5);
            if let Some(geometry) = encode_lines(&clipped)? {
                let mut feature = roads_layer.into_feature(geometry);
                feature.add_tag_string("highway", &road.highway);
                if let Some(name) = &road.name {
                    feature.add_tag_string("name", name);
                }
                roads_layer = feature.into_layer();
            }
        }

        let mut tile = tile;
        let mut any = false;
        for layer in [areas_layer, boundaries_layer, roads_layer, labels_layer] {
            if layer.num_features() > 0 {
                any = true;
                tile.add_layer(layer)?;
            }
        }
        if any {
            Ok(tile.to_bytes()?)
        } else {
            Ok(Vec::new())
        }
    }
}

/// The bounds of a street in Mercator: those of its projected points (`None` without points).
fn merc_bounds(coords: &[(f64, f64)]) -> Option<(Coord<f64>, Coord<f64>)> {
    coords.iter().fold(None, |bounds, &(lon, lat)| {
        let p = to_merc(lon, lat);
        Some(match bounds {
            None => (p, p),
            Some((min, max)) => (
                Coord {
                    x: f64::min(min.x, p.x),
                    y: f64::min(min.y, p.y),
                },
                Coord {
                    x: f64::max(max.x, p.x),
                    y: f64::max(max.y, p.y),
                },
            ),
        })
    })
}

/// Rounds a ring or line to whole tile units, dropping repeated points.
fn rounded(line: &LineString<f64>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(line.0.len());
    for c in &line.0 {
        let p = (c.x.round(), c.y.round());
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

fn encode_lines(lines: &MultiLineString<f64>) -> Result<Option<mvt::GeomData>, EncodeError> {
    let mut encoder = GeomEncoder::new(GeomType::Linestring);
    let mut any = false;
    for line in &lines.0 {
        let points = rounded(line);
        if points.len() < 2 {
            continue;
        }
        for (x, y) in points {
            encoder.add_point(x, y)?;
        }
        encoder.complete_geom()?;
        any = true;
    }
    Ok(if any { Some(encoder.encode()?) } else { None })
}

fn encode_polygons(polygons: &MultiPolygon<f64>) -> Result<Option<mvt::GeomData>, EncodeError> {
    let mut encoder = GeomEncoder::new(GeomType::Polygon);
    let mut any = false;
    for polygon in &polygons.0 {
        let exterior = rounded(polygon.exterior());
        // A closed ring repeats its first point; MVT closes rings with ClosePath instead.
        if exterior.len() < 4 {
            continue;
        }
        for ring in std::iter::once(exterior).chain(
            polygon
                .interiors()
                .iter()
                .map(rounded)
                .filter(|r| r.len() >= 4),
        ) {
            for &(x, y) in &ring[..ring.len() - 1] {
                encoder.add_point(x, y)?;
            }
            encoder.complete_geom()?;
        }
        any = true;
    }
    Ok(if any { Some(encoder.encode()?) } else { None })
}
