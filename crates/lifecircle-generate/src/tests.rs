//! Tests of the generator: determinism, and the written files read back with FlatGeobuf's own
//! reader.

use super::*;
use flatgeobuf::{FallibleStreamingIterator, FgbReader};
use geo::{Area, Contains};
use geozero::{FeatureProperties, ToGeo};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufReader;

const CHANGNING_SUBDISTRICTS: [&str; 10] = [
    "华阳路街道",
    "江苏路街道",
    "新华路街道",
    "周家桥街道",
    "天山路街道",
    "仙霞新村街道",
    "虹桥街道",
    "程家桥街道",
    "北新泾街道",
    "新泾镇",
];

/// A file read back: header facts and every feature.
struct Read {
    crs_code: Option<i32>,
    header_count: Option<u64>,
    has_index: bool,
    features: Vec<(Geometry<f64>, HashMap<String, String>)>,
}

fn read(path: &Path) -> Read {
    let mut file = BufReader::new(File::open(path).unwrap());
    let reader = FgbReader::open(&mut file).unwrap();
    let header = reader.header();
    let crs_code = header.crs().map(|c| c.code());
    let header_count = Some(header.features_count());
    let has_index = header.index_node_size() > 0;
    let mut iter = reader.select_all().unwrap();
    let mut features = Vec::new();
    while let Some(f) = iter.next().unwrap() {
        features.push((f.to_geo().unwrap(), f.properties().unwrap()));
    }
    Read {
        crs_code,
        header_count,
        has_index,
        features,
    }
}

fn generate(opts: &GenerateOptions) -> (tempfile::TempDir, GenerateSummary) {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_dataset(opts, dir.path()).unwrap();
    (dir, summary)
}

fn assert_same_files(a: &GenerateSummary, b: &GenerateSummary) {
    assert_eq!(a.files.len(), 4);
    for (fa, fb) in a.files.iter().zip(&b.files) {
        let (ba, bb) = (std::fs::read(fa).unwrap(), std::fs::read(fb).unwrap());
        assert!(!ba.is_empty());
        assert!(ba == bb, "{} differs between two runs", fa.display());
    }
}

/// Largest connected component of the road graph joined at bit-identical endpoints, as a share
/// of all segments.
fn largest_component_share(roads: &Read) -> f64 {
    let mut ids: HashMap<(u64, u64), usize> = HashMap::new();
    let mut edges = Vec::new();
    for (g, _) in &roads.features {
        let Geometry::LineString(ls) = g else {
            panic!("road is not a LineString: {g:?}");
        };
        let mut id = |c: Coord<f64>| {
            let n = ids.len();
            *ids.entry((c.x.to_bits(), c.y.to_bits())).or_insert(n)
        };
        let (a, b) = (id(ls.0[0]), id(*ls.0.last().unwrap()));
        edges.push((a, b));
    }
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for &(a, b) in &edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra] = rb;
    }
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for &(a, _) in &edges {
        *sizes.entry(find(&mut parent, a)).or_default() += 1;
    }
    *sizes.values().max().unwrap() as f64 / edges.len() as f64
}

/// Road segments that touch a river band of `spec` (exact width, sampled every metre).
fn segments_touching_rivers<'r>(spec: &Spec, roads: &'r Read) -> Vec<&'r HashMap<String, String>> {
    roads
        .features
        .iter()
        .filter(|(g, _)| {
            let Geometry::LineString(ls) = g else {
                return false;
            };
            let pts: Vec<[f64; 2]> = ls.0.iter().map(|c| spec.frame.xy([c.x, c.y])).collect();
            spec.rivers
                .iter()
                .any(|r| r.polyline_hits_band(&pts, 0.0, 1.0))
        })
        .map(|(_, p)| p)
        .collect()
}

/// The repository root (this crate lives in `crates/lifecircle-generate`).
fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Each kind of place is the taxonomy category [`Kind::id`] gives it: one kind per category, and
/// every raw alias a kind's names are written with classifies (by the server's taxonomy) to it.
#[test]
fn kinds_are_the_taxonomy_categories() {
    use rand::SeedableRng;
    let taxonomy = lifecircle::config::Config::embedded()
        .unwrap()
        .taxonomy()
        .unwrap();
    assert_eq!(Kind::ALL.len(), taxonomy.len());
    let road = names::changning_main_ew().remove(0);
    let ctx = NameCtx {
        road: &road,
        cross: Some(&road),
        place_zh: "仙霞",
        place_en: "Xianxia",
        district_zh: "长宁区",
        district_en: "Changning District",
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for kind in Kind::ALL {
        let id = taxonomy.by_id(kind.id()).expect("a taxonomy id");
        for _ in 0..50 {
            for alias in names::facility_name(&mut rng, kind, &ctx).aliases {
                assert_eq!(
                    taxonomy.classify(alias),
                    Some(id),
                    "{kind:?}: alias `{alias}` is not classified as {}",
                    kind.id()
                );
            }
        }
    }
}

/// Taxonomy ids, and aliases with the id each maps to, from the project's configuration file.
fn taxonomy() -> (HashSet<String>, HashMap<String, String>) {
    let path = repo_root().join("lifecircle.toml");
    let doc: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut ids = HashSet::new();
    let mut aliases = HashMap::new();
    for c in doc["categories"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap().to_string();
        for a in c["aliases"].as_array().unwrap() {
            aliases.insert(a.as_str().unwrap().to_string(), id.clone());
        }
        ids.insert(id);
    }
    (ids, aliases)
}

fn covering_polygon(polys: &[(String, Polygon<f64>)], p: Coord<f64>) -> Option<&str> {
    polys
        .iter()
        .find(|(_, poly)| poly.contains(&Point::from(p)))
        .map(|(n, _)| n.as_str())
}

#[test]
fn changning_preset_is_deterministic_and_valid() {
    let opts = GenerateOptions::changning();
    let (_d1, s1) = generate(&opts);
    let (_d2, s2) = generate(&opts);
    assert_same_files(&s1, &s2);

    let names: Vec<_> = s1
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "facilities.fgb",
            "roads.fgb",
            "subdistricts.fgb",
            "residents.fgb"
        ]
    );
    let [fac, roads, subs, res] = [0, 1, 2, 3].map(|i| read(&s1.files[i]));
    for (r, n) in [
        (&fac, s1.n_facilities),
        (&roads, s1.n_road_segments),
        (&subs, s1.n_subdistricts),
        (&res, s1.n_residential),
    ] {
        assert_eq!(r.crs_code, Some(4326));
        assert!(r.has_index);
        assert_eq!(r.header_count, Some(n as u64));
        assert_eq!(r.features.len(), n);
    }
    assert_eq!(s1.n_facilities, 4000, "the last 12 are planning projects");
    assert!(
        (600..=1200).contains(&s1.n_residential),
        "{}",
        s1.n_residential
    );
    assert!(
        (2000..=8000).contains(&s1.n_road_segments),
        "{}",
        s1.n_road_segments
    );

    // --- subdistricts: the ten, not overlapping, covering the district
    assert_eq!(s1.n_subdistricts, 10);
    let polys: Vec<(String, Polygon<f64>)> = subs
        .features
        .iter()
        .map(|(g, p)| {
            let Geometry::Polygon(poly) = g else {
                panic!("subdistrict is not a Polygon: {g:?}");
            };
            assert!(!p["name_en"].is_empty() && !p["code"].is_empty());
            (p["name"].clone(), poly.clone())
        })
        .collect();
    let mut sub_names: Vec<&str> = polys.iter().map(|(n, _)| n.as_str()).collect();
    sub_names.sort();
    let mut expected = CHANGNING_SUBDISTRICTS.to_vec();
    expected.sort();
    assert_eq!(sub_names, expected);
    let (mut inside, mut overlaps) = (0, 0);
    for i in 0..240 {
        for j in 0..100 {
            let p = Point::new(
                121.32 + 0.14 * i as f64 / 240.0,
                31.18 + 0.07 * j as f64 / 100.0,
            );
            let n = polys.iter().filter(|(_, poly)| poly.contains(&p)).count();
            inside += usize::from(n > 0);
            overlaps += usize::from(n > 1);
        }
    }
    assert_eq!(overlaps, 0);
    // The district covers a good part of its bounding box.
    assert!(inside > 240 * 100 / 3, "{inside}");

    // --- facilities
    let (ids, aliases) = taxonomy();
    let mut seen_ids = HashSet::new();
    let (mut n_en, mut n_no_addr, mut n_alias, mut n_unknown, mut n_poly) = (0, 0, 0, 0, 0);
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut per_sub: HashMap<&str, usize> = HashMap::new();
    let mut per_cat: HashMap<&str, usize> = HashMap::new();
    for (g, p) in &fac.features {
        let id: u64 = p["id"].parse().unwrap();
        assert!(id >= 100_001 && seen_ids.insert(id), "id {id} not unique");
        let sub = p["subdistrict"].as_str();
        assert!(CHANGNING_SUBDISTRICTS.contains(&sub), "{sub}");
        match g {
            Geometry::Point(pt) => {
                assert_eq!(covering_polygon(&polys, pt.0), Some(sub), "{p:?}");
            }
            Geometry::Polygon(poly) => {
                n_poly += 1;
                let cat = p["category"].as_str();
                let is_park = cat == "park" || aliases.get(cat).is_some_and(|id| id == "park");
                assert!(is_park || names::UNKNOWN_CATEGORIES.contains(&cat), "{p:?}");
                for c in poly.exterior().coords() {
                    assert!(covering_polygon(&polys, *c).is_some(), "{p:?}");
                }
            }
            other => panic!("unexpected facility geometry {other:?}"),
        }
        let cat = p["category"].as_str();
        if ids.contains(cat) {
            *per_cat.entry(cat).or_default() += 1;
        } else if aliases.contains_key(cat) {
            n_alias += 1;
        } else {
            assert!(names::UNKNOWN_CATEGORIES.contains(&cat), "category {cat:?}");
            n_unknown += 1;
        }
        n_en += usize::from(p.contains_key("name_en"));
        n_no_addr += usize::from(!p.contains_key("address"));
        by_name.entry(&p["name"]).or_default().push(sub);
        *per_sub.entry(sub).or_default() += 1;
    }
    let n = fac.features.len() as f64;
    assert!((0.2..0.4).contains(&(n_en as f64 / n)), "name_en {n_en}");
    assert!(
        (0.05..0.15).contains(&(n_no_addr as f64 / n)),
        "no address {n_no_addr}"
    );
    assert!(
        (0.10..0.20).contains(&(n_alias as f64 / n)),
        "aliases {n_alias}"
    );
    assert!(
        n_unknown >= 1 && (n_unknown as f64) < 0.015 * n,
        "unknown {n_unknown}"
    );
    assert!(
        n_poly >= 3 && (n_poly as f64) < 0.01 * n,
        "polygons {n_poly}"
    );
    assert!(per_cat["supermarket"] > per_cat["education"]);
    assert!(per_cat["transit"] > per_cat["market"]);
    assert!(per_cat["pharmacy"] > per_cat["medical"] / 2);
    // Exactly one HTML-looking name; some with ASCII and full-width letters.
    assert_eq!(by_name.keys().filter(|k| k.contains('<')).count(), 1);
    assert!(by_name.keys().any(|k| k.contains('Ｋ')));
    assert!(
        by_name
            .keys()
            .any(|k| k.chars().any(|c| c.is_ascii_alphabetic()))
    );
    assert!(by_name.contains_key("中山公园"));
    assert!(by_name.contains_key("华阳路街道社区卫生服务中心"));
    // A handful of chain names in two subdistricts, otherwise unique names.
    let dups: Vec<_> = by_name.iter().filter(|(_, subs)| subs.len() > 1).collect();
    assert!((3..=10).contains(&dups.len()), "{dups:?}");
    assert!(
        dups.iter().all(|(_, s)| s.len() == 2 && s[0] != s[1]),
        "{dups:?}"
    );
    // Denser in the east: facilities per unit area, east three vs west three.
    let density = |names: &[&str]| {
        let count: usize = names.iter().map(|n| per_sub[n]).sum();
        let area: f64 = polys
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, p)| p.unsigned_area())
            .sum();
        count as f64 / area
    };
    let east = density(&["华阳路街道", "江苏路街道", "新华路街道"]);
    let west = density(&["程家桥街道", "北新泾街道", "新泾镇"]);
    assert!(east > 1.8 * west, "east {east} west {west}");

    // --- roads
    let allowed = [
        "primary",
        "secondary",
        "tertiary",
        "residential",
        "footway",
        "path",
        "motorway",
    ];
    let mut per_highway: HashMap<&str, usize> = HashMap::new();
    for (_, p) in &roads.features {
        assert!(allowed.contains(&p["highway"].as_str()), "{p:?}");
        *per_highway.entry(&p["highway"]).or_default() += 1;
    }
    for h in allowed {
        assert!(per_highway.get(h).copied().unwrap_or(0) > 0, "no {h} roads");
    }
    assert!(
        roads
            .features
            .iter()
            .any(|(_, p)| p.get("name").is_some_and(|n| n == "延安西路"))
    );
    assert!(
        roads
            .features
            .iter()
            .any(|(_, p)| p.get("name").is_some_and(|n| n == "延安高架路"))
    );
    let share = largest_component_share(&roads);
    assert!(share >= 0.95, "largest component {share}");
    // Only the bridges cross the river, and bridges carry main roads.
    let spec = changning_spec();
    let crossing = segments_touching_rivers(&spec, &roads);
    assert_eq!(crossing.len(), spec.rivers[0].bridges, "{crossing:?}");
    assert!(
        crossing
            .iter()
            .all(|p| p["highway"] == "primary" || p["highway"] == "secondary")
    );

    // --- residents
    let mut compounds = HashSet::new();
    for (g, p) in &res.features {
        let Geometry::Point(pt) = g else {
            panic!("resident is not a Point: {g:?}");
        };
        let pop: i32 = p["population"].parse().unwrap();
        assert!((200..=5000).contains(&pop), "{pop}");
        assert_eq!(
            covering_polygon(&polys, pt.0),
            Some(p["subdistrict"].as_str())
        );
        assert!(
            compounds.insert(p["name"].clone()),
            "duplicate compound {}",
            p["name"]
        );
    }
}

/// `data/changning` must be exactly what the generator makes, so anyone can reproduce it.
#[test]
fn committed_sample_matches_the_generator() {
    let committed = repo_root().join("data/changning");
    let (_dir, s) = generate(&GenerateOptions::changning());
    for f in &s.files {
        let name = f.file_name().unwrap();
        let fresh = std::fs::read(f).unwrap();
        let old = std::fs::read(committed.join(name)).unwrap_or_default();
        assert!(
            fresh == old,
            "data/changning/{} is not what the generator makes; regenerate it with \
             `cargo run --release -p lifecircle-generate -- --out data/changning`",
            name.to_string_lossy()
        );
    }
}

#[test]
fn small_runs_are_deterministic_and_seed_dependent() {
    let opts = GenerateOptions {
        preset: Preset::Changning,
        seed: 7,
        n_facilities: 300,
    };
    let (_d1, a) = generate(&opts);
    let (_d2, b) = generate(&opts);
    assert_same_files(&a, &b);
    assert_eq!(a.n_facilities, 300);
    assert!(a.n_residential >= 10);
    let (_d3, c) = generate(&GenerateOptions { seed: 8, ..opts });
    assert_ne!(
        std::fs::read(&a.files[0]).unwrap(),
        std::fs::read(&c.files[0]).unwrap()
    );
}

#[test]
fn bad_options_and_paths_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let zero = GenerateOptions {
        n_facilities: 0,
        ..GenerateOptions::changning()
    };
    let e = write_dataset(&zero, dir.path()).unwrap_err();
    assert!(e.to_string().contains("n_facilities"), "{e}");

    // The output "directory" is a file.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let small = GenerateOptions {
        n_facilities: 20,
        ..GenerateOptions::changning()
    };
    let e = write_dataset(&small, &file).unwrap_err();
    assert!(e.to_string().contains("not-a-dir"), "{e}");
}

#[test]
fn changning_layout_has_one_outline_per_subdistrict() {
    let spec = changning_spec();
    let layout = Layout::build(
        &spec.layout,
        spec.regions.clone(),
        &spec.frame,
        &mut stream(15, 1),
    );
    for (i, rings) in layout.rings.iter().enumerate() {
        assert_eq!(
            rings.len(),
            1,
            "{} has {} rings",
            layout.regions[i].name,
            rings.len()
        );
    }
}

/// The city preset's street network does not depend on the facility count: check it with a
/// small facility count.
#[test]
fn shanghai_preset_network_is_connected_across_its_rivers() {
    let (_dir, s) = generate(&GenerateOptions::shanghai(2000));
    assert_eq!(s.n_facilities, 2000);
    assert_eq!(s.n_subdistricts, 16);
    assert!(s.n_road_segments >= 300_000, "{}", s.n_road_segments);
    let roads = read(&s.files[1]);
    assert_eq!(roads.crs_code, Some(4326));
    let share = largest_component_share(&roads);
    assert!(share >= 0.95, "largest component {share}");
    let spec = shanghai_spec();
    let crossing = segments_touching_rivers(&spec, &roads);
    let bridges: usize = spec.rivers.iter().map(|r| r.bridges).sum();
    assert_eq!(crossing.len(), bridges);
}
