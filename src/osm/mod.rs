//! OpenStreetMap import: an `.osm.pbf` extract → [`OsmData`]: facilities (nodes, and ways and
//! multipolygons as a representative point) put in categories by a [`TagClassifier`], the
//! walking network (walkable ways split at every node shared with another), and subdistrict
//! boundaries (administrative relations at one `admin_level`, rings assembled from their ways).
//!
//! The file is read in up to three passes, each decoding blocks in parallel: ways and relations
//! (which ways to keep, which relations matter), the member ways of those relations when the
//! first pass did not keep them, then nodes (coordinates of the kept ways' nodes only, and tagged
//! nodes that are facilities). Memory is bounded by what is kept, not by the file: node
//! coordinates are held only for the nodes of kept ways, in a sorted id array.
//!
//! [`write`] turns the result into the FlatGeobuf files and configuration the server reads; the
//! server can also read a `.pbf` directly, running the same import in memory.

pub mod layer;
pub mod rings;
pub mod tags;
pub mod write;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use geo::{Coord, InteriorPoint, LineString, MultiPolygon, Polygon};
use osmpbf::{BlobDecode, BlobReader, Element, RelMemberType};
use rayon::prelude::*;

use crate::dataset::Area;
use crate::geom;
pub use tags::{TagClassifier, TagRules, Tags, TaxonomyRules};

/// Why an extract could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open {path}: {error}")]
    Open {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path} is not a readable OpenStreetMap PBF file ({message}); download an .osm.pbf extract, or convert an .osm XML file with `osmium cat FILE.osm -o FILE.osm.pbf`"
    )]
    Pbf { path: PathBuf, message: String },
}

/// Which part of the extract to keep.
#[derive(Debug, Clone)]
pub enum Region {
    /// Everything in the file.
    All,
    /// `[west, south, east, north]`, WGS84 degrees.
    Bbox([f64; 4]),
    /// Polygons: what lies within their bounding box is kept (the server's analysis area clips
    /// to the polygons themselves).
    Boundary(MultiPolygon<f64>),
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub region: Region,
    /// Also keep what lies this many ground metres outside the region: facilities just outside
    /// still serve the places inside, and streets lead to them.
    pub margin_m: f64,
    /// `admin_level` of the `boundary=administrative` relations written as subdistricts.
    pub admin_level: String,
}

/// A facility found in the extract.
#[derive(Debug, Clone, PartialEq)]
pub struct OsmFacility {
    /// `osm:n123`, `osm:w456`, `osm:r789`.
    pub id: String,
    /// Empty when the element has no `name`.
    pub name: String,
    pub name_en: Option<String>,
    /// The describing tags as `key=value;key=value` ([`tags::facility_tags`]).
    pub tags: String,
    /// Taxonomy category id (`"medical"`).
    pub category: String,
    pub lon: f64,
    pub lat: f64,
}

/// One piece of a walkable way between shared nodes (or its ends).
#[derive(Debug, Clone, PartialEq)]
pub struct OsmRoad {
    /// The way the piece comes from (written as `osm:w456`).
    pub way_id: i64,
    /// Shared by the pieces of a way (and interned per block of the file): a city has hundreds of
    /// thousands of pieces.
    pub highway: Arc<str>,
    pub name: Option<Arc<str>>,
    pub coords: Vec<(f64, f64)>,
}

/// What the import kept and left out.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub n_facility_nodes: usize,
    pub n_facility_ways: usize,
    pub n_facility_relations: usize,
    /// Ways with a `highway` tag that are not walkable (motorways without sidewalk, private, …).
    pub n_highways_excluded: usize,
    pub n_walkable_ways: usize,
    pub n_road_pieces: usize,
    pub n_subdistricts: usize,
    /// Relations (`r123`, with name) whose rings did not close, with the number of open chains.
    pub unclosed: Vec<(String, usize)>,
    /// Elements referring to nodes or ways missing from the extract (cut at its edge).
    pub n_incomplete: usize,
    /// Elements outside the region.
    pub n_outside: usize,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "facilities: {} nodes, {} ways, {} multipolygons",
            self.n_facility_nodes, self.n_facility_ways, self.n_facility_relations
        )?;
        writeln!(
            f,
            "walking network: {} ways in {} pieces; {} highway ways not walkable",
            self.n_walkable_ways, self.n_road_pieces, self.n_highways_excluded
        )?;
        writeln!(f, "subdistricts: {}", self.n_subdistricts)?;
        for (relation, n) in &self.unclosed {
            writeln!(
                f,
                "  {relation}: {n} ring(s) do not close (members missing from the extract?)"
            )?;
        }
        if self.n_incomplete > 0 {
            writeln!(
                f,
                "{} elements cut at the extract's edge (kept where possible)",
                self.n_incomplete
            )?;
        }
        if self.n_outside > 0 {
            writeln!(f, "{} elements outside the region left out", self.n_outside)?;
        }
        Ok(())
    }
}

/// Everything imported.
#[derive(Debug, Clone, Default)]
pub struct OsmData {
    pub facilities: Vec<OsmFacility>,
    pub roads: Vec<OsmRoad>,
    pub subdistricts: Vec<Area>,
    pub report: ImportReport,
}

/// Progress of an import: bytes read, over all passes.
pub trait Progress: Sync {
    /// A pass over `total_bytes` starts.
    fn start_pass(&self, name: &str, total_bytes: u64);
    fn advance(&self, bytes: u64);
}

/// No progress shown.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start_pass(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// A way kept in the first pass, before its nodes have coordinates.
struct WalkWay {
    id: i64,
    refs: Box<[i64]>,
    highway: Arc<str>,
    name: Option<Arc<str>>,
}

/// What a facility element says about itself.
#[derive(Debug, Clone)]
struct FacilityInfo {
    name: String,
    name_en: Option<String>,
    tags: String,
    category: String,
}

struct FacilityWay {
    id: i64,
    refs: Vec<i64>,
    info: FacilityInfo,
}

enum RelationKind {
    Boundary {
        name: Option<String>,
        name_en: Option<String>,
    },
    Facility(FacilityInfo),
}

struct Relation {
    id: i64,
    kind: RelationKind,
    /// Member ways: `(way id, outer)`; an empty role counts as outer.
    members: Vec<(i64, bool)>,
}

#[derive(Default)]
struct WaysPass {
    walk: Vec<WalkWay>,
    facilities: Vec<FacilityWay>,
    relations: Vec<Relation>,
    /// Refs of ways tagged `boundary=*`, likely members of the relations.
    boundary_ways: Vec<(i64, Vec<i64>)>,
    n_highways_excluded: usize,
}

impl WaysPass {
    /// The blocks' results in one, each list allocated once at its final size (a city's ways
    /// would otherwise be copied through ever larger buffers).
    fn concat(mut blocks: Vec<WaysPass>) -> WaysPass {
        fn concat_field<T>(
            blocks: &mut [WaysPass],
            field: fn(&mut WaysPass) -> &mut Vec<T>,
        ) -> Vec<T> {
            let n = blocks.iter_mut().map(|b| field(b).len()).sum();
            let mut all = Vec::with_capacity(n);
            for block in blocks.iter_mut() {
                all.append(field(block));
                *field(block) = Vec::new();
            }
            all
        }
        WaysPass {
            walk: concat_field(&mut blocks, |b| &mut b.walk),
            facilities: concat_field(&mut blocks, |b| &mut b.facilities),
            relations: concat_field(&mut blocks, |b| &mut b.relations),
            boundary_ways: concat_field(&mut blocks, |b| &mut b.boundary_ways),
            n_highways_excluded: blocks.iter().map(|b| b.n_highways_excluded).sum(),
        }
    }
}

/// Imports `path`. Blocking and CPU-heavy (rayon).
pub fn import(
    path: &Path,
    options: &ImportOptions,
    classifier: &dyn TagClassifier,
    progress: &dyn Progress,
) -> Result<OsmData, Error> {
    let total_bytes = std::fs::metadata(path)
        .map_err(|error| Error::Open {
            path: path.to_owned(),
            error,
        })?
        .len();
    let admin_level = options.admin_level.as_str();

    // Pass 1: ways and relations.
    progress.start_pass("ways and relations", total_bytes);
    let passes = for_each_block(path, progress, |block| {
        let mut acc = WaysPass::default();
        let mut classes: Vec<Arc<str>> = Vec::new();
        for element in block.elements() {
            match element {
                Element::Way(way) => {
                    let pairs: Vec<(&str, &str)> = way.tags().collect();
                    let tag = lookup(&pairs);
                    if tag("highway").is_some() {
                        if tags::walkable(&tag) {
                            let highway = tag("highway").unwrap_or_default();
                            let highway = match classes.iter().find(|c| ***c == *highway) {
                                Some(class) => Arc::clone(class),
                                None => {
                                    classes.push(Arc::from(highway));
                                    Arc::clone(&classes[classes.len() - 1])
                                }
                            };
                            acc.walk.push(WalkWay {
                                id: way.id(),
                                refs: way.refs().collect(),
                                highway,
                                name: tag("name").map(Arc::from),
                            });
                        } else {
                            acc.n_highways_excluded += 1;
                        }
                    }
                    if let Some(info) = facility_info(&tag, classifier) {
                        acc.facilities.push(FacilityWay {
                            id: way.id(),
                            refs: way.refs().collect(),
                            info,
                        });
                    } else if tag("boundary").is_some() {
                        acc.boundary_ways.push((way.id(), way.refs().collect()));
                    }
                }
                Element::Relation(rel) => {
                    let pairs: Vec<(&str, &str)> = rel.tags().collect();
                    let tag = lookup(&pairs);
                    let kind = if tag("boundary") == Some("administrative")
                        && tag("admin_level") == Some(admin_level)
                    {
                        RelationKind::Boundary {
                            name: tag("name").map(str::to_owned),
                            name_en: tag("name:en").map(str::to_owned),
                        }
                    } else if tag("type") == Some("multipolygon")
                        && let Some(info) = facility_info(&tag, classifier)
                    {
                        RelationKind::Facility(info)
                    } else {
                        continue;
                    };
                    let members = rel
                        .members()
                        .filter(|m| m.member_type == RelMemberType::Way)
                        .map(|m| {
                            let role = m.role().unwrap_or("");
                            (m.member_id, role != "inner")
                        })
                        .collect();
                    acc.relations.push(Relation {
                        id: rel.id(),
                        kind,
                        members,
                    });
                }
                _ => {}
            }
        }
        acc
    })?;
    let pass = WaysPass::concat(passes);
    let WaysPass {
        mut walk,
        mut facilities,
        mut relations,
        boundary_ways,
        n_highways_excluded,
    } = pass;
    // Blocks are decoded in parallel: sort for output that does not depend on timing.
    walk.sort_by_key(|w| w.id);
    facilities.sort_by_key(|w| w.id);
    relations.sort_by_key(|r| r.id);

    // Pass 2: member ways the first pass did not keep.
    let mut member_refs: HashMap<i64, Vec<i64>> = HashMap::new();
    let wanted: HashSet<i64> = relations
        .iter()
        .flat_map(|r| r.members.iter().map(|m| m.0))
        .collect();
    for (id, refs) in boundary_ways {
        if wanted.contains(&id) {
            member_refs.insert(id, refs);
        }
    }
    for w in &walk {
        if wanted.contains(&w.id) {
            member_refs.insert(w.id, w.refs.to_vec());
        }
    }
    for w in &facilities {
        if wanted.contains(&w.id) {
            member_refs.insert(w.id, w.refs.clone());
        }
    }
    let missing: HashSet<i64> = wanted
        .iter()
        .filter(|id| !member_refs.contains_key(id))
        .copied()
        .collect();
    if !missing.is_empty() {
        progress.start_pass("relation members", total_bytes);
        let found = for_each_block(path, progress, |block| {
            let mut found = Vec::new();
            for element in block.elements() {
                if let Element::Way(way) = element
                    && missing.contains(&way.id())
                {
                    found.push((way.id(), way.refs().collect::<Vec<i64>>()));
                }
            }
            found
        })?;
        member_refs.extend(found.into_iter().flatten());
    }

    // Pass 3: node coordinates of what is kept, and facility nodes.
    let mut needed: Vec<i64> = walk
        .iter()
        .flat_map(|w| w.refs.iter())
        .chain(facilities.iter().flat_map(|w| w.refs.iter()))
        .chain(member_refs.values().flatten())
        .copied()
        .collect();
    needed.par_sort_unstable();
    needed.dedup();
    let coords = NodeCoords::new(needed);
    progress.start_pass("nodes", total_bytes);
    let facility_nodes = for_each_block(path, progress, |block| {
        let mut found = Vec::new();
        let mut visit = |id: i64, lon: f64, lat: f64, pairs: &[(&str, &str)]| {
            coords.set(id, lon, lat);
            if pairs.is_empty() {
                return;
            }
            if let Some(info) = facility_info(&lookup(pairs), classifier) {
                found.push((id, lon, lat, info));
            }
        };
        for element in block.elements() {
            match element {
                Element::DenseNode(node) => {
                    let pairs: Vec<(&str, &str)> = node.tags().collect();
                    visit(node.id(), node.lon(), node.lat(), &pairs);
                }
                Element::Node(node) => {
                    let pairs: Vec<(&str, &str)> = node.tags().collect();
                    visit(node.id(), node.lon(), node.lat(), &pairs);
                }
                _ => {}
            }
        }
        found
    })?;
    let mut facility_nodes: Vec<_> = facility_nodes.into_iter().flatten().collect();
    facility_nodes.sort_by_key(|f| f.0);

    let keep = Keep::new(&options.region, options.margin_m);
    let mut data = OsmData::default();
    data.report.n_highways_excluded = n_highways_excluded;

    for (id, lon, lat, info) in facility_nodes {
        if !keep.contains(lon, lat) {
            data.report.n_outside += 1;
            continue;
        }
        data.report.n_facility_nodes += 1;
        data.facilities
            .push(facility(format!("osm:n{id}"), info, (lon, lat)));
    }
    for way in facilities {
        let points: Vec<(f64, f64)> = way.refs.iter().filter_map(|&n| coords.get(n)).collect();
        if points.len() < way.refs.len() {
            data.report.n_incomplete += 1;
        }
        let Some(point) = representative_point(&points, way.refs.first() == way.refs.last()) else {
            continue;
        };
        if !keep.contains(point.0, point.1) {
            data.report.n_outside += 1;
            continue;
        }
        data.report.n_facility_ways += 1;
        data.facilities
            .push(facility(format!("osm:w{}", way.id), way.info, point));
    }
    for relation in relations {
        let (polygon, n_open) = relation_polygons(&relation, &member_refs, &coords);
        if n_open > 0 {
            let name = match &relation.kind {
                RelationKind::Boundary { name, .. } => name.clone().unwrap_or_default(),
                RelationKind::Facility(info) => info.name.clone(),
            };
            data.report
                .unclosed
                .push((format!("relation r{} {name}", relation.id), n_open));
        }
        match relation.kind {
            RelationKind::Boundary { name, name_en } => {
                let Some(bbox) = bounding_box(&polygon) else {
                    continue;
                };
                if !keep.intersects(bbox) {
                    data.report.n_outside += 1;
                    continue;
                }
                data.subdistricts.push(Area {
                    name: name.unwrap_or_else(|| format!("r{}", relation.id)),
                    name_en,
                    polygon,
                });
            }
            RelationKind::Facility(info) => {
                let Some(point) = polygon.interior_point() else {
                    continue;
                };
                if !keep.contains(point.x(), point.y()) {
                    data.report.n_outside += 1;
                    continue;
                }
                data.report.n_facility_relations += 1;
                data.facilities.push(facility(
                    format!("osm:r{}", relation.id),
                    info,
                    (point.x(), point.y()),
                ));
            }
        }
    }
    data.report.n_subdistricts = data.subdistricts.len();
    let (roads, n_walkable, n_incomplete) = split_network(&walk, &coords, &keep);
    data.report.n_walkable_ways = n_walkable;
    data.report.n_incomplete += n_incomplete;
    data.report.n_road_pieces = roads.len();
    data.roads = roads;
    Ok(data)
}

fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
    move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn facility_info(tag: &Tags<'_>, classifier: &dyn TagClassifier) -> Option<FacilityInfo> {
    let category = classifier.classify(tag)?.to_owned();
    Some(FacilityInfo {
        name: tag("name").unwrap_or_default().trim().to_owned(),
        name_en: tag("name:en")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        tags: tags::facility_tags(tag),
        category,
    })
}

fn facility(id: String, info: FacilityInfo, (lon, lat): (f64, f64)) -> OsmFacility {
    OsmFacility {
        id,
        name: info.name,
        name_en: info.name_en,
        tags: info.tags,
        category: info.category,
        lon,
        lat,
    }
}

/// Reads every data block of the file, `map` running on blocks in parallel; the results in no
/// particular order.
fn for_each_block<T: Send>(
    path: &Path,
    progress: &dyn Progress,
    map: impl Fn(&osmpbf::PrimitiveBlock) -> T + Sync + Send,
) -> Result<Vec<T>, Error> {
    let file = File::open(path).map_err(|error| Error::Open {
        path: path.to_owned(),
        error,
    })?;
    let reader = BlobReader::new(BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            progress,
        },
    ));
    let pbf_error = |e: osmpbf::Error| Error::Pbf {
        path: path.to_owned(),
        message: e.to_string(),
    };
    reader
        .par_bridge()
        .map(|blob| {
            let blob = blob.map_err(pbf_error)?;
            match blob.decode().map_err(pbf_error)? {
                BlobDecode::OsmData(block) => Ok(Some(map(&block))),
                BlobDecode::OsmHeader(_) | BlobDecode::Unknown(_) => Ok(None),
            }
        })
        .filter_map(Result::transpose)
        .collect()
}

/// A reader that reports the bytes read.
struct Counting<'a> {
    inner: File,
    progress: &'a dyn Progress,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Coordinates of the nodes asked for, filled in by a parallel pass: a sorted id array and one
/// packed `(lon, lat)` per id (1e-7 degrees, as OSM stores them).
struct NodeCoords {
    ids: Vec<i64>,
    packed: Vec<AtomicU64>,
}

const NO_COORD: u64 = u64::MAX;

impl NodeCoords {
    fn new(ids: Vec<i64>) -> NodeCoords {
        let packed = (0..ids.len()).map(|_| AtomicU64::new(NO_COORD)).collect();
        NodeCoords { ids, packed }
    }

    fn set(&self, id: i64, lon: f64, lat: f64) {
        if let Ok(idx) = self.ids.binary_search(&id) {
            let lon = (lon * 1e7).round() as i32 as u32;
            let lat = (lat * 1e7).round() as i32 as u32;
            self.packed[idx].store(u64::from(lon) << 32 | u64::from(lat), Ordering::Relaxed);
        }
    }

    fn get(&self, id: i64) -> Option<(f64, f64)> {
        let idx = self.ids.binary_search(&id).ok()?;
        let packed = self.packed[idx].load(Ordering::Relaxed);
        if packed == NO_COORD {
            return None;
        }
        let lon = f64::from((packed >> 32) as u32 as i32) * 1e-7;
        let lat = f64::from(packed as u32 as i32) * 1e-7;
        Some((lon, lat))
    }
}

/// The region plus its margin, as a box.
struct Keep {
    bbox: Option<[f64; 4]>,
}

impl Keep {
    fn new(region: &Region, margin_m: f64) -> Keep {
        let bbox = match region {
            Region::All => None,
            Region::Bbox(b) => Some(*b),
            Region::Boundary(mp) => Some(bounding_box(mp).unwrap_or([0.0; 4])),
        };
        let bbox = bbox.map(|[w, s, e, n]| {
            let lat = s.abs().max(n.abs()).min(85.0);
            let (m_lon, m_lat) = geom::metres_per_degree(lat);
            let (dx, dy) = (margin_m / m_lon, margin_m / m_lat);
            [w - dx, s - dy, e + dx, n + dy]
        });
        Keep { bbox }
    }

    fn contains(&self, lon: f64, lat: f64) -> bool {
        self.bbox
            .is_none_or(|[w, s, e, n]| (w..=e).contains(&lon) && (s..=n).contains(&lat))
    }

    fn intersects(&self, [w2, s2, e2, n2]: [f64; 4]) -> bool {
        self.bbox
            .is_none_or(|[w, s, e, n]| w2 <= e && e2 >= w && s2 <= n && n2 >= s)
    }
}

fn bounding_box(mp: &MultiPolygon<f64>) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    let r = mp.bounding_rect()?;
    Some([r.min().x, r.min().y, r.max().x, r.max().y])
}

/// A point standing for a way: an interior point of a closed way's polygon, else of its line.
fn representative_point(points: &[(f64, f64)], closed: bool) -> Option<(f64, f64)> {
    let line = LineString::new(points.iter().map(|&(x, y)| Coord { x, y }).collect());
    let point = if closed && points.len() >= 4 {
        Polygon::new(line, Vec::new()).interior_point()
    } else {
        line.interior_point()
    }?;
    geom::is_valid_lonlat(point.x(), point.y()).then_some((point.x(), point.y()))
}

/// The polygons of a relation from its member ways, and the number of rings left open.
fn relation_polygons(
    relation: &Relation,
    member_refs: &HashMap<i64, Vec<i64>>,
    coords: &NodeCoords,
) -> (MultiPolygon<f64>, usize) {
    let mut n_open = 0;
    let mut rings_of = |outer: bool| -> Vec<Vec<(f64, f64)>> {
        let ways: Vec<Vec<i64>> = relation
            .members
            .iter()
            .filter(|m| m.1 == outer)
            .filter_map(|m| member_refs.get(&m.0).cloned())
            .collect();
        let n_missing = relation.members.iter().filter(|m| m.1 == outer).count() - ways.len();
        let (rings, open) = rings::assemble(ways);
        n_open += open + usize::from(n_missing > 0 && open == 0 && rings.is_empty());
        rings
            .into_iter()
            .filter_map(|ring| {
                let points: Vec<(f64, f64)> = ring.iter().filter_map(|&n| coords.get(n)).collect();
                (points.len() == ring.len()).then_some(points)
            })
            .collect()
    };
    let outer = rings_of(true);
    let inner = rings_of(false);
    (rings::polygons(outer, inner), n_open)
}

/// A node id with its `(lon, lat)`.
type NodeAt = (i64, (f64, f64));

/// The walking network: each way's runs of nodes with coordinates, kept when a node lies in the
/// region, split at every node used more than once (by another way, or twice by one way).
/// Returns the pieces, the number of ways with a piece, and the number cut by missing nodes.
fn split_network(
    walk: &[WalkWay],
    coords: &NodeCoords,
    keep: &Keep,
) -> (Vec<OsmRoad>, usize, usize) {
    let mut n_incomplete = 0;
    // Runs of consecutive nodes with coordinates, per way.
    let mut runs: Vec<(usize, Vec<NodeAt>)> = Vec::new();
    for (way_idx, way) in walk.iter().enumerate() {
        let mut run: Vec<NodeAt> = Vec::new();
        let mut cut = false;
        let mut flush = |run: &mut Vec<NodeAt>| {
            let taken = std::mem::take(run);
            if taken.len() >= 2
                && taken
                    .iter()
                    .any(|(_, (lon, lat))| keep.contains(*lon, *lat))
            {
                runs.push((way_idx, taken));
            }
        };
        for &node in &way.refs {
            match coords.get(node) {
                Some(c) => run.push((node, c)),
                None => {
                    cut = true;
                    flush(&mut run);
                }
            }
        }
        flush(&mut run);
        n_incomplete += usize::from(cut);
    }
    let mut uses: Vec<i64> = runs
        .iter()
        .flat_map(|(_, r)| r.iter().map(|n| n.0))
        .collect();
    uses.par_sort_unstable();
    let shared: Vec<i64> = uses
        .chunk_by(|a, b| a == b)
        .filter(|c| c.len() > 1)
        .map(|c| c[0])
        .collect();
    let is_shared = |id: i64| shared.binary_search(&id).is_ok();
    let mut roads = Vec::new();
    let mut ways_kept = HashSet::new();
    for (way_idx, run) in runs {
        let way = &walk[way_idx];
        ways_kept.insert(way_idx);
        let mut piece: Vec<(f64, f64)> = Vec::new();
        for (i, &(node, c)) in run.iter().enumerate() {
            piece.push(c);
            let last = i + 1 == run.len();
            if piece.len() >= 2 && (last || is_shared(node)) {
                roads.push(OsmRoad {
                    way_id: way.id,
                    highway: Arc::clone(&way.highway),
                    name: way.name.clone(),
                    coords: std::mem::replace(&mut piece, vec![c]),
                });
            }
        }
    }
    (roads, ways_kept.len(), n_incomplete)
}

#[cfg(test)]
mod tests;
