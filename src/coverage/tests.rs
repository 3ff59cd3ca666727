//! Coverage checked against brute force on small hand-made inputs: straight-line fields against
//! the nearest haversine distance, network fields against a plain Dijkstra built from scratch per
//! cell, and the derived tiles, statistics and suggestions against direct counts.

use std::collections::HashMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};

use super::field::{FAR, MAX_STORED_M, UNREACHABLE};
use super::*;
use crate::config::Config;
use crate::dataset::{Area, Facility, FacilityText, Residential, Road};
use crate::geom::{self, TileKey};

const LON0: f64 = 121.40;
const LAT0: f64 = 31.20;

/// lon/lat of a point `x_m` east and `y_m` north of (LON0, LAT0), on the ground.
fn at_m(x_m: f64, y_m: f64) -> (f64, f64) {
    let (m_per_deg_lon, m_per_deg_lat) = geom::metres_per_degree(LAT0);
    (LON0 + x_m / m_per_deg_lon, LAT0 + y_m / m_per_deg_lat)
}

fn taxonomy() -> Arc<Taxonomy> {
    Arc::new(Config::embedded().unwrap().taxonomy().unwrap())
}

fn category(id: &str) -> CategoryId {
    taxonomy().by_id(id).unwrap()
}

fn facility(id: u64, (lon, lat): (f64, f64), category_id: &str) -> Facility {
    Facility::new(
        id,
        category(category_id),
        (lon, lat),
        FacilityText {
            source_id: &id.to_string(),
            name: &format!("设施{id}"),
            name_en: None,
            address: None,
        },
        None,
    )
}

fn road(highway: &str, points_m: &[(f64, f64)]) -> Road {
    Road {
        highway: highway.into(),
        name: None,
        coords: points_m.iter().map(|&(x, y)| at_m(x, y)).collect(),
    }
}

fn resident(population: u32, (lon, lat): (f64, f64)) -> Residential {
    Residential {
        name: None,
        population,
        subdistrict: None,
        lon,
        lat,
    }
}

fn params(mode: CoverageMode, cell_m: f64) -> CoverageParams {
    let mut params = CoverageParams::from(&Config::embedded().unwrap().coverage);
    params.mode = mode;
    params.cell_m = cell_m;
    params.padding_m = 200.0;
    params
}

fn dataset(
    facilities: Vec<Facility>,
    roads: Vec<Road>,
    areas: Vec<Area>,
    residents: Vec<Residential>,
) -> Dataset {
    Dataset::new(taxonomy(), facilities, roads, areas, residents)
}

/// Random facilities of a few categories over a 2 km square.
fn scattered_facilities(seed: u64) -> Vec<Facility> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (category_id, n) in [("medical", 6), ("park", 1), ("market", 3)] {
        for _ in 0..n {
            let p = at_m(rng.random_range(0.0..2000.0), rng.random_range(0.0..2000.0));
            out.push(facility(out.len() as u64 + 1, p, category_id));
        }
    }
    out
}

fn brute_nearest_m(dataset: &Dataset, category: CategoryId, p: (f64, f64)) -> Option<f64> {
    dataset
        .facilities()
        .iter()
        .filter(|f| f.category == category)
        .map(|f| geom::haversine_m(p, (f.lon, f.lat)))
        .min_by(f64::total_cmp)
}

#[test]
fn euclidean_field_is_the_nearest_ground_distance() {
    let data = dataset(scattered_facilities(7), vec![], vec![], vec![]);
    let coverage = Coverage::build(&data, &params(CoverageMode::Auto, 37.0)).unwrap();
    assert_eq!(
        coverage.mode,
        Mode::Euclidean,
        "no roads: straight-line fallback"
    );
    for category_id in ["medical", "park", "market", "kindergarten"] {
        let c = category(category_id);
        let field = coverage.field_m(c);
        for (cell, &value) in field.iter().enumerate() {
            let centre = coverage.grid.centre_lonlat(cell);
            match brute_nearest_m(&data, c, centre) {
                None => assert_eq!(value, UNREACHABLE, "{category_id} has no facility"),
                Some(d) => assert!(
                    (f64::from(value) - d).abs() <= 0.5 + 1e-6,
                    "{category_id} cell {cell}: field {value}, brute force {d:.2}"
                ),
            }
        }
    }
    // The border cells are cells like any other: all four corners were checked above, and the
    // grid reaches the padding on every side.
    let [w, s, e, n] = coverage.grid.lonlat_bounds();
    let [dw, ds, de, dn] = data.bounds;
    assert!(w < dw && s < ds && e > de && n > dn);
    assert!(geom::haversine_m((w, s), (dw, s)) >= 199.0);
}

#[test]
fn nine_hundred_metres_is_nine_hundred_on_the_ground() {
    let data = dataset(
        vec![facility(1, at_m(0.0, 0.0), "medical")],
        vec![],
        vec![],
        vec![],
    );
    let mut p = params(CoverageMode::Euclidean, 25.0);
    p.padding_m = 1000.0;
    let coverage = Coverage::build(&data, &p).unwrap();
    let standard = coverage.profile_id("standard").unwrap();
    let elderly = coverage.profile_id("elderly").unwrap();
    let medical = category("medical");
    assert_eq!(coverage.threshold_m(medical, standard), 900.0);
    assert_eq!(coverage.threshold_m(medical, elderly), 720.0);
    for (east_m, within) in [(899.0, true), (905.0, false)] {
        let (lon, lat) = at_m(east_m, 0.0);
        let report = stats::at(&coverage, &data, lon, lat, standard).unwrap();
        let reach = &report.reach[medical.0 as usize];
        assert!((reach.dist_m.unwrap() - east_m).abs() < 0.05, "{reach:?}");
        assert_eq!(reach.within, within, "{east_m} m east");
    }
    // The same 900 m measured in Web-Mercator units would be only about 770 m on the ground.
    let (m_per_deg_lon, _) = geom::metres_per_degree(LAT0);
    let merc_900 = 900.0 / (geom::EARTH_RADIUS_M * std::f64::consts::PI / 180.0);
    let ground = merc_900 * m_per_deg_lon;
    assert!((ground - 900.0 * LAT0.to_radians().cos()).abs() < 0.5);
    // Every cell within 900 m of the facility on the ground is within 15 minutes, and no other.
    let limit = stats::limit_m(&coverage, medical, standard);
    for (cell, &value) in coverage.field_m(medical).iter().enumerate() {
        let d = geom::haversine_m(coverage.grid.centre_lonlat(cell), at_m(0.0, 0.0));
        if (d - 900.0).abs() > 1.0 {
            assert_eq!(value <= limit, d <= 900.0, "cell at {d:.1} m");
        }
    }
}

/// A hand-made street network around a river: two streets along the banks, joined only by a
/// bridge far to the east; a motorway (not walkable) that does cross; a footpath island with no
/// facility; a park far off the network.
fn river_town() -> Dataset {
    let south: Vec<(f64, f64)> = [
        0.0, 250.0, 300.0, 500.0, 750.0, 1000.0, 1250.0, 1500.0, 1830.0,
    ]
    .iter()
    .map(|&x| (x, 0.0))
    .collect();
    let north: Vec<(f64, f64)> = [0.0, 300.0, 620.0, 1000.0, 1400.0, 1830.0]
        .iter()
        .map(|&x| (x, 290.0))
        .collect();
    let roads = vec![
        road("residential", &south),
        road("residential", &north),
        road("primary", &[(1830.0, 0.0), (1830.0, 290.0)]),
        road("footway", &[(500.0, 0.0), (520.0, -160.0), (760.0, -170.0)]),
        // The motorway shares vertices with both banks but must not connect them.
        road("motorway", &[(300.0, 0.0), (300.0, 290.0)]),
        // An island path in the river, reachable from nowhere.
        road("path", &[(900.0, 130.0), (1200.0, 150.0)]),
        road(
            "residential",
            &[(620.0, 290.0), (640.0, 520.0), (1000.0, 530.0)],
        ),
    ];
    let facilities = vec![
        facility(1, at_m(210.0, -43.0), "medical"),
        facility(2, at_m(1610.0, 331.0), "medical"),
        facility(3, at_m(1000.0, 1210.0), "park"),
        facility(4, at_m(700.0, -120.0), "market"),
        facility(5, at_m(707.0, -133.0), "market"),
    ];
    let residents = vec![
        resident(120, at_m(230.0, 320.0)),
        resident(80, at_m(1300.0, 40.0)),
        resident(300, at_m(1010.0, 140.0)),
    ];
    // The area: the facilities' and places' extent and 200 m around it.
    let [w, s] = [at_m(10.0, -333.0).0, at_m(10.0, -333.0).1];
    let [e, n] = [at_m(1810.0, 1410.0).0, at_m(1810.0, 1410.0).1];
    dataset(facilities, roads, vec![], residents).with_area(crate::area::AnalysisArea::from_bbox(
        crate::area::AreaSource::Bbox,
        [w, s, e, n],
        900.0,
    ))
}

/// A plain graph for the brute force: adjacency lists with ground lengths.
struct PlainGraph {
    adj: Vec<Vec<(usize, f64)>>,
}

impl PlainGraph {
    fn add_node(&mut self) -> usize {
        self.adj.push(Vec::new());
        self.adj.len() - 1
    }

    fn link(&mut self, a: usize, b: usize, len: f64) {
        self.adj[a].push((b, len));
        self.adj[b].push((a, len));
    }

    fn dijkstra(&self, from: usize) -> Vec<f64> {
        let mut dist = vec![f64::INFINITY; self.adj.len()];
        let mut done = vec![false; self.adj.len()];
        dist[from] = 0.0;
        // O(n²) on purpose: nothing shared with the production search.
        loop {
            let next = (0..dist.len())
                .filter(|&n| !done[n] && dist[n].is_finite())
                .min_by(|&a, &b| dist[a].total_cmp(&dist[b]));
            let Some(n) = next else { break };
            done[n] = true;
            for &(m, len) in &self.adj[n] {
                dist[m] = dist[m].min(dist[n] + len);
            }
        }
        dist
    }
}

/// Walking distance from `origin` to the nearest of `targets`, by a Dijkstra on a graph built
/// from scratch: street vertices, every place joined straight to its nearest street point, and
/// the streets split at those points.
fn brute_network_m(
    roads: &[Road],
    excluded: &[&str],
    origin: (f64, f64),
    targets: &[(f64, f64)],
) -> f64 {
    let mut graph = PlainGraph { adj: Vec::new() };
    let mut vertex: HashMap<(u64, u64), usize> = HashMap::new();
    // (node a, node b, lon/lat a, lon/lat b)
    type Segment = (usize, usize, (f64, f64), (f64, f64));
    let mut segments: Vec<Segment> = Vec::new();
    for road in roads {
        if excluded.contains(&&*road.highway) {
            continue;
        }
        for pair in road.coords.windows(2) {
            let mut id = |p: (f64, f64)| {
                *vertex
                    .entry((p.0.to_bits(), p.1.to_bits()))
                    .or_insert_with(|| graph.add_node())
            };
            let (a, b) = (id(pair[0]), id(pair[1]));
            segments.push((a, b, pair[0], pair[1]));
        }
    }
    // Points to attach, per segment: (fraction along, node).
    let mut on_segment: Vec<Vec<(f64, usize)>> = vec![Vec::new(); segments.len()];
    let mut attach = |graph: &mut PlainGraph, p: (f64, f64)| -> usize {
        let (m_per_deg_lon, m_per_deg_lat) = geom::metres_per_degree(p.1);
        let local = |q: (f64, f64)| ((q.0 - p.0) * m_per_deg_lon, (q.1 - p.1) * m_per_deg_lat);
        let mut best = (f64::INFINITY, 0usize, 0.0f64);
        for (s, &(_, _, a, b)) in segments.iter().enumerate() {
            let (ax, ay) = local(a);
            let (bx, by) = local(b);
            let (dx, dy) = (bx - ax, by - ay);
            let t = ((-ax * dx - ay * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
            let (cx, cy) = (ax + t * dx, ay + t * dy);
            let d2 = cx * cx + cy * cy;
            if d2 < best.0 {
                best = (d2, s, t);
            }
        }
        let (_, s, t) = best;
        let (_, _, a, b) = segments[s];
        let foot = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        let place = graph.add_node();
        let foot_node = graph.add_node();
        graph.link(place, foot_node, geom::haversine_m(p, foot));
        on_segment[s].push((t, foot_node));
        place
    };
    let origin_node = attach(&mut graph, origin);
    let target_nodes: Vec<usize> = targets.iter().map(|&t| attach(&mut graph, t)).collect();
    for (s, &(a, b, pa, pb)) in segments.iter().enumerate() {
        let len = geom::haversine_m(pa, pb);
        let mut stops = vec![(0.0, a)];
        let mut inner = on_segment[s].clone();
        inner.sort_by(|x, y| x.0.total_cmp(&y.0));
        stops.extend(inner);
        stops.push((1.0, b));
        for w in stops.windows(2) {
            graph.link(w[0].1, w[1].1, (w[1].0 - w[0].0) * len);
        }
    }
    let dist = graph.dijkstra(origin_node);
    target_nodes
        .iter()
        .map(|&n| dist[n])
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn network_field_equals_plain_dijkstra_per_cell() {
    let data = river_town();
    let mut p = params(CoverageMode::Auto, 43.0);
    // A long cut-off, so the detour over the bridge is computed rather than cut.
    p.cutoff_margin_min = 60;
    let coverage = Coverage::build(&data, &p).unwrap();
    assert_eq!(coverage.mode, Mode::Network);
    assert_eq!(
        coverage.info.n_components, 2,
        "banks + bridge, and the island"
    );
    let cutoff = coverage.cutoff_m();
    assert_eq!(cutoff, 75.0 * 60.0);
    let excluded = ["motorway"];
    let mut n_checked = 0;
    for category_id in ["medical", "park", "market", "kindergarten"] {
        let c = category(category_id);
        let targets: Vec<(f64, f64)> = data
            .facilities()
            .iter()
            .filter(|f| f.category == c)
            .map(|f| (f.lon, f.lat))
            .collect();
        for (cell, &value) in coverage.field_m(c).iter().enumerate() {
            let centre = coverage.grid.centre_lonlat(cell);
            let brute = if targets.is_empty() {
                f64::INFINITY
            } else {
                brute_network_m(&data.roads, &excluded, centre, &targets)
            };
            if brute.is_infinite() {
                assert_eq!(value, UNREACHABLE, "{category_id} cell {cell}");
            } else if brute > cutoff + 1.0 {
                assert_eq!(value, FAR, "{category_id} cell {cell}: brute {brute:.1}");
            } else if brute < cutoff - 1.0 {
                assert!(
                    (f64::from(value) - brute).abs() <= 1.0,
                    "{category_id} cell {cell} at {centre:?}: field {value}, brute force {brute:.2}"
                );
            }
            n_checked += 1;
        }
    }
    assert!(n_checked > 1000);

    // Across the river from the clinic, straight-line distance would lie.
    let medical = category("medical");
    let (lon, lat) = at_m(215.0, 330.0);
    let straight = brute_nearest_m(&data, medical, (lon, lat)).unwrap();
    let walked = f64::from(coverage.field_value_at(medical, lon, lat).unwrap());
    assert!(
        straight < 400.0 && walked > 1400.0,
        "{straight} vs {walked}"
    );
    // The island path has no facility: unreachable, not merely far.
    let (lon, lat) = at_m(1050.0, 141.0);
    assert_eq!(
        coverage.field_value_at(medical, lon, lat),
        Some(UNREACHABLE)
    );
}

#[test]
fn facility_off_the_network_walks_its_own_leg() {
    let data = river_town();
    let coverage = Coverage::build(&data, &params(CoverageMode::Network, 40.0)).unwrap();
    let park = category("park");
    // The park is about 680 m north of the nearest street: from that street point, 680 m.
    let (lon, lat) = at_m(1000.0, 530.0);
    let report = stats::at(&coverage, &data, lon, lat, ProfileId(0)).unwrap();
    let reach = &report.reach[park.0 as usize];
    assert!((reach.dist_m.unwrap() - 680.0).abs() < 1.0, "{reach:?}");
    assert_eq!(reach.facility, Some(2), "the park (index 2 by id)");
    // Next to the park itself: straight there would be 10 m, but the rule is the street leg,
    // there and back (the network mode's own rule, shown as it is).
    let (lon, lat) = at_m(1000.0, 1200.0);
    let reach = &stats::at(&coverage, &data, lon, lat, ProfileId(0))
        .unwrap()
        .reach[park.0 as usize];
    assert!(reach.dist_m.unwrap() > 1300.0, "{reach:?}");
}

#[test]
fn at_agrees_with_plain_dijkstra_and_names_the_facility() {
    let data = river_town();
    let coverage = Coverage::build(&data, &params(CoverageMode::Network, 40.0)).unwrap();
    let standard = coverage.profile_id("standard").unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for _ in 0..60 {
        let p = at_m(
            rng.random_range(50.0..1750.0),
            rng.random_range(-150.0..600.0),
        );
        let report = stats::at(&coverage, &data, p.0, p.1, standard).unwrap();
        for reach in &report.reach {
            let members: Vec<&Facility> = data
                .facilities()
                .iter()
                .filter(|f| f.category == reach.category)
                .collect();
            let targets: Vec<(f64, f64)> = members.iter().map(|f| (f.lon, f.lat)).collect();
            let brute = if targets.is_empty() {
                f64::INFINITY
            } else {
                brute_network_m(&data.roads, &["motorway"], p, &targets)
            };
            match reach.dist_m {
                None => assert!(brute.is_infinite(), "{reach:?} vs {brute}"),
                Some(d) => {
                    assert!((d - brute).abs() < 0.5, "{reach:?} vs {brute}");
                    // The facility named is one at that distance.
                    let f = data.facility(reach.facility.unwrap());
                    let alone = brute_network_m(&data.roads, &["motorway"], p, &[(f.lon, f.lat)]);
                    assert!((alone - d).abs() < 0.5);
                }
            }
        }
    }
}

#[test]
fn category_without_facilities_is_unreachable_everywhere() {
    for mode in [CoverageMode::Euclidean, CoverageMode::Network] {
        let data = river_town();
        let coverage = Coverage::build(&data, &params(mode, 50.0)).unwrap();
        let kindergarten = category("kindergarten");
        assert!(
            coverage
                .field_m(kindergarten)
                .iter()
                .all(|&v| v == UNREACHABLE)
        );
        let (lon, lat) = at_m(500.0, 100.0);
        let report = stats::at(&coverage, &data, lon, lat, ProfileId(0)).unwrap();
        let reach = &report.reach[kindergarten.0 as usize];
        assert!(reach.dist_m.is_none() && reach.facility.is_none() && !reach.within);
        let tile = TileKey::containing(geom::lonlat_to_merc(lon, lat), 15);
        let id = CoverageId::Category(kindergarten);
        let png = raster::render_png(&coverage, id, ProfileId(0), tile).unwrap();
        let pixels = decode_png(&png);
        assert!(
            pixels
                .iter()
                .all(|p| p[3] == 0 || raster::UNREACHABLE_RGBA.contains(p))
        );
        let mvt = bands::render_mvt(&coverage, id, ProfileId(0), tile, 4096, 64).unwrap();
        let bands = decode_bands(&mvt);
        assert!(bands.iter().all(|b| b.beyond), "only the beyond band");
        let gaps = stats::gaps(&coverage, &data, kindergarten, ProfileId(0));
        let suggestions = stats::suggest(&coverage, &data, kindergarten, 2, ProfileId(0)).unwrap();
        assert!(!gaps.gaps.is_empty());
        assert_eq!(suggestions.uncovered_before, 500);
    }
}

#[test]
fn network_mode_needs_streets_and_auto_falls_back() {
    let data = dataset(scattered_facilities(1), vec![], vec![], vec![]);
    assert!(matches!(
        Coverage::build(&data, &params(CoverageMode::Network, 40.0)),
        Err(Error::NoWalkableStreets)
    ));
    // Only motorways: nothing walkable either.
    let motorway = vec![road("motorway", &[(0.0, 0.0), (2000.0, 0.0)])];
    let data = dataset(scattered_facilities(1), motorway, vec![], vec![]);
    let coverage = Coverage::build(&data, &params(CoverageMode::Auto, 40.0)).unwrap();
    assert_eq!(coverage.mode, Mode::Euclidean);
    let mut p = params(CoverageMode::Auto, 5.0);
    p.max_grid_cells = 1000;
    assert!(matches!(
        Coverage::build(&data, &p),
        Err(Error::GridTooLarge { .. })
    ));
    // Nothing at all: an empty grid, and nothing panics.
    let empty = dataset(vec![], vec![], vec![], vec![]);
    let coverage = Coverage::build(&empty, &params(CoverageMode::Auto, 40.0)).unwrap();
    assert_eq!(coverage.grid.n_cells(), 0);
    let tile = TileKey::new(10, 857, 418).unwrap();
    assert!(
        raster::render_png(&coverage, CoverageId::All, ProfileId(0), tile)
            .unwrap()
            .is_empty()
    );
    assert!(
        bands::render_mvt(&coverage, CoverageId::All, ProfileId(0), tile, 4096, 64)
            .unwrap()
            .is_empty()
    );
    assert!(stats::at(&coverage, &empty, LON0, LAT0, ProfileId(0)).is_err());
    assert_eq!(
        stats::stats(&coverage, &empty, ProfileId(0))
            .total
            .population,
        0
    );
}

#[test]
fn composite_counts_categories_within_their_own_threshold() {
    let data = dataset(scattered_facilities(11), vec![], vec![], vec![]);
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    for profile in [ProfileId(0), ProfileId(1)] {
        let all = coverage.composite_scores(CoverageId::All, profile);
        let living = coverage.taxonomy().group_by_id("living").unwrap();
        let group = coverage.composite_scores(CoverageId::Group(living), profile);
        for cell in (0..coverage.grid.n_cells()).step_by(7) {
            let centre = coverage.grid.centre_lonlat(cell);
            let within = |c: CategoryId| {
                brute_nearest_m(&data, c, centre)
                    .is_some_and(|d| d.round() <= coverage.threshold_m(c, profile).floor())
            };
            // A category with no facility is within reach nowhere: it counts 0 either way.
            let expected_all = coverage
                .taxonomy()
                .categories()
                .filter(|(id, _)| *id != coverage.taxonomy().fallback() && within(*id))
                .count();
            assert_eq!(usize::from(all.get(cell)), expected_all);
            // Living: market, supermarket, community_service (and not `other`).
            let expected_living = ["market", "supermarket", "community_service"]
                .iter()
                .filter(|id| within(category(id)))
                .count();
            assert_eq!(usize::from(group.get(cell)), expected_living);
        }
    }
    // Every category with facilities (medical, park, market), not the empty ones.
    assert_eq!(coverage.composite_members(CoverageId::All).len(), 3);
    assert_eq!(
        coverage.categories_without_data().len(),
        coverage.taxonomy().len() - 4
    );
}

fn decode_png(bytes: &[u8]) -> Vec<[u8; 4]> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (256, 256));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf[..info.buffer_size()]
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect()
}

#[test]
fn png_tiles_use_only_legend_colours() {
    let data = river_town();
    let coverage = Coverage::build(&data, &params(CoverageMode::Network, 40.0)).unwrap();
    let mut legend: Vec<[u8; 4]> =
        raster::time_ramp(&coverage.params.band_minutes, coverage.ramp_max_min());
    legend.push(raster::FAR_RGBA);
    legend.extend(raster::UNREACHABLE_RGBA);
    let score_legend = raster::score_ramp(coverage.composite_members(CoverageId::All).len() as u32);
    let centre = at_m(900.0, 150.0);
    let mut n_opaque = 0;
    for z in [13, 15, 17] {
        let tile = TileKey::containing(geom::lonlat_to_merc(centre.0, centre.1), z);
        for (id, colours) in [
            (CoverageId::Category(category("medical")), &legend),
            (CoverageId::All, &score_legend),
        ] {
            for profile in [ProfileId(0), ProfileId(1)] {
                let png = raster::render_png(&coverage, id, profile, tile).unwrap();
                for p in decode_png(&png) {
                    if p[3] != 0 {
                        assert!(colours.contains(&p), "{p:?} not in the legend");
                        n_opaque += 1;
                    }
                }
            }
        }
    }
    assert!(n_opaque > 100_000);
    // A tile far away is empty.
    let far = TileKey::containing(geom::lonlat_to_merc(116.4, 39.9), 12);
    assert!(
        raster::render_png(&coverage, CoverageId::All, ProfileId(0), far)
            .unwrap()
            .is_empty()
    );
    // The legend image decodes.
    for id in [CoverageId::Category(category("park")), CoverageId::All] {
        let png = raster::legend_png(&coverage, id).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png[..]));
        assert!(decoder.read_info().unwrap().info().width > 50);
    }
}

#[test]
fn png_pixels_follow_the_field() {
    // An area wide enough to cover the whole z15 tile.
    let (w, s) = at_m(-1000.0, -1000.0);
    let (e, n) = at_m(2000.0, 2000.0);
    let data = dataset(
        vec![facility(1, at_m(500.0, 500.0), "medical")],
        vec![],
        vec![],
        vec![],
    )
    .with_area(crate::area::AnalysisArea::from_bbox(
        crate::area::AreaSource::Bbox,
        [w, s, e, n],
        900.0,
    ));
    let p = params(CoverageMode::Euclidean, 30.0);
    let coverage = Coverage::build(&data, &p).unwrap();
    let ramp = raster::time_ramp(&coverage.params.band_minutes, coverage.ramp_max_min());
    let tile = TileKey::containing(
        geom::lonlat_to_merc(at_m(500.0, 500.0).0, at_m(500.0, 500.0).1),
        15,
    );
    let elderly = coverage.profile_id("elderly").unwrap();
    let pixels = decode_png(
        &raster::render_png(
            &coverage,
            CoverageId::Category(category("medical")),
            elderly,
            tile,
        )
        .unwrap(),
    );
    let (min, max) = tile.merc_bounds();
    let mut n_checked = 0;
    for py in (0..256).step_by(9) {
        for px in (0..256).step_by(9) {
            let merc = geom::MercPoint {
                x: min.x + (max.x - min.x) * (px as f64 + 0.5) / 256.0,
                y: min.y + (max.y - min.y) * (py as f64 + 0.5) / 256.0,
            };
            let (lon, lat) = geom::merc_to_lonlat(merc);
            let minutes = geom::haversine_m((lon, lat), at_m(500.0, 500.0)) / 0.8 / 60.0;
            // Away from minute boundaries, the pixel shows the minute of the true distance
            // (interpolation between cell centres is exact to a few metres here).
            if (minutes - minutes.round()).abs() > 0.15 && minutes > 1.0 && minutes < 19.5 {
                assert_eq!(
                    pixels[py * 256 + px],
                    ramp[minutes.floor() as usize],
                    "{minutes}"
                );
                n_checked += 1;
            }
        }
    }
    assert!(n_checked > 300);
}

#[derive(Debug)]
struct DecodedBand {
    minutes: Option<u64>,
    score: Option<u64>,
    beyond: bool,
    shape: geo::MultiPolygon<f32>,
}

fn decode_bands(bytes: &[u8]) -> Vec<DecodedBand> {
    if bytes.is_empty() {
        return vec![];
    }
    let reader = mvt_reader::Reader::new(bytes.to_vec()).unwrap();
    let names = reader.get_layer_names().unwrap();
    assert_eq!(names, vec![bands::BANDS_LAYER.to_string()]);
    reader
        .get_features(0)
        .unwrap()
        .into_iter()
        .map(|f| {
            let props = f.properties.clone().unwrap_or_default();
            let uint = |name: &str| match props.get(name) {
                Some(mvt_reader::feature::Value::UInt(v)) => Some(*v),
                _ => None,
            };
            let shape = match f.get_geometry() {
                geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p.clone()]),
                geo::Geometry::MultiPolygon(mp) => mp.clone(),
                other => panic!("a band is a polygon, not {other:?}"),
            };
            DecodedBand {
                minutes: uint("minutes"),
                score: uint("score"),
                beyond: matches!(
                    props.get("beyond"),
                    Some(mvt_reader::feature::Value::Bool(true))
                ),
                shape,
            }
        })
        .collect()
}

#[test]
fn bands_nest_and_follow_the_field() {
    use geo::Contains;
    let data = river_town();
    let coverage = Coverage::build(&data, &params(CoverageMode::Network, 40.0)).unwrap();
    let medical = category("medical");
    let field = coverage.field_m(medical);
    let far_m = (coverage.cutoff_m() + coverage.grid.cell_m) as f32;
    let centre = at_m(900.0, 150.0);
    for (z, profile) in [
        (13, ProfileId(0)),
        (14, ProfileId(0)),
        (15, ProfileId(0)),
        (16, ProfileId(1)),
    ] {
        let tile = TileKey::containing(geom::lonlat_to_merc(centre.0, centre.1), z);
        let bytes = bands::render_mvt(
            &coverage,
            CoverageId::Category(medical),
            profile,
            tile,
            4096,
            64,
        )
        .unwrap();
        let bands = decode_bands(&bytes);
        let by_minutes = |m: u64| bands.iter().find(|b| b.minutes == Some(m));
        let (le5, le10, le15) = (
            by_minutes(5).unwrap(),
            by_minutes(10).unwrap(),
            by_minutes(15).unwrap(),
        );
        let beyond = bands.iter().find(|b| b.beyond).unwrap();
        let speed = coverage.profile(profile).speed_m_s;
        let (min, max) = tile.merc_bounds();
        let mut n_checked = 0;
        for j in 0..64 {
            for i in 0..64 {
                let (x, y) = (i as f32 * 64.0 + 17.3, j as f32 * 64.0 + 29.7);
                let p = geo::Point::new(x, y);
                let inside = [le5, le10, le15].map(|b| b.shape.contains(&p));
                assert!(!inside[0] || inside[1], "≤5 outside ≤10 at {x},{y}");
                assert!(!inside[1] || inside[2], "≤10 outside ≤15 at {x},{y}");
                // Compare with the field sampled where the point is.
                let merc = geom::MercPoint {
                    x: min.x + (max.x - min.x) * f64::from(x) / 4096.0,
                    y: min.y + (max.y - min.y) * f64::from(y) / 4096.0,
                };
                let (lon, lat) = geom::merc_to_lonlat(merc);
                let (gx, gy) = coverage.grid.grid_coords(lon, lat);
                let (n_cols, n_rows) = (coverage.grid.n_cols as f64, coverage.grid.n_rows as f64);
                if gx < 1.0 || gy < 1.0 || gx > n_cols - 2.0 || gy > n_rows - 2.0 {
                    continue;
                }
                // Where all four cells around the point are on one side of a limit, the outline
                // cannot pass between them: the point must be on that side too.
                let (c0, r0) = (gx.floor() as usize, gy.floor() as usize);
                let corner_cells: Vec<usize> =
                    [(c0, r0), (c0 + 1, r0), (c0, r0 + 1), (c0 + 1, r0 + 1)]
                        .iter()
                        .map(|&(c, r)| r * coverage.grid.n_cols + c)
                        .collect();
                // Bands exist inside the analysis area only.
                if !corner_cells.iter().all(|&cell| coverage.in_area(cell)) {
                    continue;
                }
                let corners: Vec<u16> = corner_cells.iter().map(|&cell| field[cell]).collect();
                let minutes = |v: u16| match v {
                    UNREACHABLE => f64::INFINITY,
                    FAR => f64::from(far_m) / speed / 60.0,
                    m => f64::from(m) / speed / 60.0,
                };
                for (limit, shape_inside) in
                    [(5.0, inside[0]), (10.0, inside[1]), (15.0, inside[2])]
                {
                    if corners.iter().all(|&v| minutes(v) < limit) {
                        assert!(shape_inside, "≤{limit} misses {x},{y} z{z} ({corners:?})");
                    } else if corners.iter().all(|&v| minutes(v) > limit) {
                        assert!(!shape_inside, "≤{limit} holds {x},{y} z{z} ({corners:?})");
                    }
                }
                if corners.iter().all(|&v| minutes(v) > 15.0) {
                    assert!(beyond.shape.contains(&p), "beyond misses {x},{y}");
                } else if corners.iter().all(|&v| minutes(v) < 15.0) {
                    assert!(!beyond.shape.contains(&p), "beyond holds {x},{y}");
                }
                n_checked += 1;
            }
        }
        assert!(n_checked > 100, "z{z}: {n_checked}");
    }
    // Composite bands nest too.
    let tile = TileKey::containing(geom::lonlat_to_merc(centre.0, centre.1), 15);
    let bytes =
        bands::render_mvt(&coverage, CoverageId::All, ProfileId(0), tile, 4096, 64).unwrap();
    let bands = decode_bands(&bytes);
    assert!(!bands.is_empty());
    for pair in bands.windows(2) {
        let (lo, hi) = (&pair[0], &pair[1]);
        assert_eq!(lo.score.unwrap() + 1, hi.score.unwrap());
        for j in 0..40 {
            for i in 0..40 {
                let p = geo::Point::new(i as f32 * 102.4 + 11.1, j as f32 * 102.4 + 7.7);
                assert!(!hi.shape.contains(&p) || lo.shape.contains(&p));
            }
        }
    }
}

fn two_areas() -> Vec<Area> {
    use geo::{LineString, MultiPolygon, Polygon};
    let rect = |x0: f64, y0: f64, x1: f64, y1: f64| {
        let ring: Vec<(f64, f64)> = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
            .iter()
            .map(|&(x, y)| at_m(x, y))
            .collect();
        MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])])
    };
    vec![
        Area {
            name: "西区".into(),
            name_en: Some("West".into()),
            polygon: rect(0.0, 0.0, 1000.0, 2000.0),
        },
        Area {
            name: "东区".into(),
            name_en: Some("East".into()),
            polygon: rect(1000.0, 0.0, 2000.0, 2000.0),
        },
    ]
}

fn populated() -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let residents: Vec<Residential> = (0..300)
        .map(|_| {
            resident(
                rng.random_range(0..500),
                // Some fall outside both areas (x beyond 2000 m).
                at_m(rng.random_range(0.0..2300.0), rng.random_range(0.0..2000.0)),
            )
        })
        .collect();
    dataset(scattered_facilities(9), vec![], two_areas(), residents)
}

#[test]
fn statistics_add_up_and_match_direct_counts() {
    let data = populated();
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    let elderly = coverage.profile_id("elderly").unwrap();
    let stats = stats::stats(&coverage, &data, elderly);
    // The analysis area is the two subdistricts: the places east of both are not counted.
    let (m_per_deg_lon, _) = geom::metres_per_degree(LAT0);
    let in_areas: u64 = data
        .residents
        .iter()
        .filter(|r| (r.lon - LON0) * m_per_deg_lon < 2000.0)
        .map(|r| u64::from(r.population))
        .sum();
    let all: u64 = data.residents.iter().map(|r| u64::from(r.population)).sum();
    assert!(in_areas < all);
    assert_eq!(stats.total.population, in_areas);
    assert!(stats.outside_areas.is_none());
    let sum: u64 = stats.areas.iter().map(|a| a.population).sum::<u64>();
    assert_eq!(sum, in_areas);
    let cells: u64 = stats.areas.iter().map(|a| a.n_cells).sum();
    assert_eq!(cells, stats.total.n_cells);
    // 2 km × 2 km of areas.
    assert!(
        (stats.total.area_km2 - 4.0).abs() < 0.1,
        "{}",
        stats.total.area_km2
    );
    // Direct count per area, per category.
    let medical = category("medical");
    let limit_m = coverage.threshold_m(medical, elderly);
    for (a, area_stats) in stats.areas.iter().enumerate() {
        let x_range = if a == 0 { 0.0..1000.0 } else { 1000.0..2000.0 };
        let (mut within, mut total) = (0u64, 0u64);
        for r in &data.residents {
            let (m_per_deg_lon, _) = geom::metres_per_degree(LAT0);
            let x = (r.lon - LON0) * m_per_deg_lon;
            if x_range.contains(&x) {
                total += u64::from(r.population);
                let d = brute_nearest_m(&data, medical, (r.lon, r.lat)).unwrap();
                if d.round() <= limit_m {
                    within += u64::from(r.population);
                }
            }
        }
        let share = area_stats.categories[medical.0 as usize].population;
        assert_eq!((share.within, share.total), (within, total), "area {a}");
        // Shares are within [0, 1], the headline never exceeds any essential category.
        let essential = area_stats.essential.population.share().unwrap();
        for &c in &stats.essential_categories {
            assert!(
                essential
                    <= area_stats.categories[c.0 as usize]
                        .population
                        .share()
                        .unwrap()
            );
        }
    }
}

#[test]
fn gaps_are_contiguous_uncovered_areas_largest_first() {
    let data = populated();
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    let park = category("park");
    let gaps = stats::gaps(&coverage, &data, park, ProfileId(0));
    assert!(!gaps.gaps.is_empty());
    for pair in gaps.gaps.windows(2) {
        assert!(pair[0].n_cells >= pair[1].n_cells);
    }
    // The gap cells are exactly the uncovered study cells.
    let limit = stats::limit_m(&coverage, park, ProfileId(0));
    let uncovered = (0..coverage.grid.n_cells())
        .filter(|&c| coverage.in_area(c) && coverage.field_m(park)[c] > limit)
        .count() as u64;
    assert_eq!(gaps.gaps.iter().map(|g| g.n_cells).sum::<u64>(), uncovered);
    // One park covers a disc: within the 2 km square what is left out is connected unless the
    // disc cuts it apart; either way every gap's centroid lies in its bounds.
    for gap in &gaps.gaps {
        let [w, s, e, n] = gap.bounds;
        assert!((w..=e).contains(&gap.centroid.0) && (s..=n).contains(&gap.centroid.1));
        assert!((gap.area_m2 - gap.n_cells as f64 * 1600.0).abs() < 1e-6);
    }
}

#[test]
fn suggestions_are_greedy_and_count_new_residents() {
    let data = populated();
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    let market = category("market");
    let profile = ProfileId(0);
    let result = stats::suggest(&coverage, &data, market, 3, profile).unwrap();
    let limit = coverage.threshold_m(market, profile);
    // Places east of both subdistricts are outside the analysis area.
    let (m_per_deg_lon, _) = geom::metres_per_degree(LAT0);
    let uncovered: Vec<&Residential> = data
        .residents
        .iter()
        .filter(|r| {
            r.population > 0
                && (r.lon - LON0) * m_per_deg_lon < 2000.0
                && brute_nearest_m(&data, market, (r.lon, r.lat))
                    .unwrap()
                    .round()
                    > limit
        })
        .collect();
    assert_eq!(
        result.uncovered_before,
        uncovered
            .iter()
            .map(|r| u64::from(r.population))
            .sum::<u64>()
    );
    // Brute force for the first pick: the best gain over every uncovered place as a site.
    let gain = |site: &Residential| -> u64 {
        uncovered
            .iter()
            .filter(|r| geom::haversine_m((site.lon, site.lat), (r.lon, r.lat)) <= limit)
            .map(|r| u64::from(r.population))
            .sum()
    };
    let best = uncovered.iter().map(|s| gain(s)).max().unwrap();
    assert_eq!(result.picks[0].newly_covered, best);
    let first = &data.residents[result.picks[0].resident];
    assert_eq!(gain(first), best);
    for pair in result.picks.windows(2) {
        assert!(pair[0].newly_covered >= pair[1].newly_covered);
        assert_eq!(
            pair[1].cumulative,
            pair[0].cumulative + pair[1].newly_covered
        );
    }
    assert!(matches!(
        stats::suggest(&coverage, &data, market, 0, profile),
        Err(Error::BadParameter { name: "k", .. })
    ));
}

#[test]
fn network_suggestions_walk_the_streets() {
    let data = river_town();
    let coverage = Coverage::build(&data, &params(CoverageMode::Network, 40.0)).unwrap();
    let medical = category("medical");
    let result = stats::suggest(&coverage, &data, medical, 3, ProfileId(0)).unwrap();
    // Every place's medical walk, by brute force.
    let targets: Vec<(f64, f64)> = data
        .facilities()
        .iter()
        .filter(|f| f.category == medical)
        .map(|f| (f.lon, f.lat))
        .collect();
    let uncovered: u64 = data
        .residents
        .iter()
        .filter(|r| brute_network_m(&data.roads, &["motorway"], (r.lon, r.lat), &targets) > 900.0)
        .map(|r| u64::from(r.population))
        .sum();
    assert_eq!(result.uncovered_before, uncovered);
    // Sites cover each other only when the walk between them is within 900 m.
    for pick in &result.picks {
        let site = &data.residents[pick.resident];
        let reached: u64 = data
            .residents
            .iter()
            .filter(|r| {
                let d = brute_network_m(&data.roads, &["motorway"], (r.lon, r.lat), &targets);
                let from_site = brute_network_m(
                    &data.roads,
                    &["motorway"],
                    (r.lon, r.lat),
                    &[(site.lon, site.lat)],
                );
                d > 900.0 && (from_site <= 900.0 || std::ptr::eq(*r, site))
            })
            .map(|r| u64::from(r.population))
            .sum();
        if pick.cumulative == pick.newly_covered {
            assert_eq!(pick.newly_covered, reached, "{pick:?}");
        }
    }
}

#[test]
fn at_agrees_with_the_field_within_one_cell() {
    let data = populated();
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    let half_diagonal = coverage.grid.cell_m * std::f64::consts::SQRT_2 / 2.0;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    for _ in 0..200 {
        let (lon, lat) = at_m(rng.random_range(0.0..2000.0), rng.random_range(0.0..2000.0));
        let report = stats::at(&coverage, &data, lon, lat, ProfileId(0)).unwrap();
        for reach in &report.reach {
            let cell = coverage.field_value_at(reach.category, lon, lat).unwrap();
            match reach.dist_m {
                None => assert_eq!(cell, UNREACHABLE),
                Some(d) => {
                    assert!(cell <= MAX_STORED_M);
                    assert!(
                        (d - f64::from(cell)).abs() <= half_diagonal + 0.5,
                        "{d} vs {cell}"
                    );
                    let brute = brute_nearest_m(&data, reach.category, (lon, lat)).unwrap();
                    assert!((d - brute).abs() < 1e-6);
                }
            }
        }
    }
    let outside = at_m(-5000.0, 0.0);
    assert!(matches!(
        stats::at(&coverage, &data, outside.0, outside.1, ProfileId(0)),
        Err(Error::BadParameter { name: "lon", .. })
    ));
}

#[test]
fn ids_and_profiles_parse_with_helpful_errors() {
    let data = populated();
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 100.0)).unwrap();
    assert!(matches!(
        coverage.coverage_id("medical"),
        Ok(CoverageId::Category(_))
    ));
    assert_eq!(coverage.coverage_id("all").unwrap(), CoverageId::All);
    assert!(matches!(
        coverage.coverage_id("care"),
        Ok(CoverageId::Group(_))
    ));
    let err = coverage.coverage_id("zoo").unwrap_err().to_string();
    assert!(
        err.contains("unknown coverage id `zoo`") && err.contains("all") && err.contains("care"),
        "{err}"
    );
    let err = coverage.profile_id("bike").unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown profile `bike`; valid profiles: standard, elderly"
    );
    assert_eq!(coverage.profile_or_default(None).unwrap(), ProfileId(0));
}

/// A street grid every 200 m from -400 m to 2400 m both ways, joined at every crossing.
fn street_grid() -> Vec<Road> {
    let at = |i: i32| -400.0 + 200.0 * f64::from(i);
    let mut roads = Vec::new();
    for i in 0..=14 {
        let along: Vec<(f64, f64)> = (0..=14).map(|j| (at(j), at(i))).collect();
        let across: Vec<(f64, f64)> = (0..=14).map(|j| (at(i), at(j))).collect();
        roads.push(road("residential", &along));
        roads.push(road("residential", &across));
    }
    roads
}

/// The west half of [`two_areas`] with its north-east corner cut off diagonally.
fn cut_area() -> crate::area::AnalysisArea {
    use geo::{LineString, MultiPolygon, Polygon};
    let ring: Vec<(f64, f64)> = [
        (0.0, 0.0),
        (1000.0, 0.0),
        (1000.0, 1500.0),
        (500.0, 2000.0),
        (0.0, 2000.0),
        (0.0, 0.0),
    ]
    .iter()
    .map(|&(x, y)| at_m(x, y))
    .collect();
    let outline = MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])]);
    crate::area::AnalysisArea::from_outline(
        crate::area::AreaSource::Boundary("cut.fgb".into()),
        outline,
        900.0,
    )
    .unwrap()
}

/// Facilities and residents over 2.3 km × 2 km and a street grid, with the analysis area
/// [`cut_area`] (about 1 km × 2 km); the only pharmacy stands 150 m east of the area.
fn small_area_town() -> Dataset {
    let mut facilities = scattered_facilities(9);
    facilities.push(facility(100, at_m(1150.0, 700.0), "pharmacy"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let residents: Vec<Residential> = (0..400)
        .map(|_| {
            resident(
                rng.random_range(1..500),
                at_m(rng.random_range(0.0..2300.0), rng.random_range(0.0..2000.0)),
            )
        })
        .collect();
    dataset(facilities, street_grid(), two_areas(), residents).with_area(cut_area())
}

#[test]
fn grid_covers_the_analysis_area_not_the_data() {
    let data = small_area_town();
    for mode in [CoverageMode::Euclidean, CoverageMode::Network] {
        let coverage = Coverage::build(&data, &params(mode, 40.0)).unwrap();
        // 1000 m + 2 × 200 m of padding across, 2000 m + 400 m up: not the 2.3 km of data.
        let grid = &coverage.grid;
        assert!(
            (35..=36).contains(&grid.n_cols) && (60..=61).contains(&grid.n_rows),
            "{mode:?}: {} × {}",
            grid.n_cols,
            grid.n_rows
        );
        let [w, _, e, _] = grid.lonlat_bounds();
        let width_m = geom::haversine_m((w, LAT0), (e, LAT0));
        assert!((width_m - 1400.0).abs() < 41.0, "{width_m}");
    }
}

#[test]
fn heatmap_is_transparent_outside_the_analysis_area() {
    let data = small_area_town();
    let area = data.area.clone();
    for mode in [CoverageMode::Euclidean, CoverageMode::Network] {
        let coverage = Coverage::build(&data, &params(mode, 40.0)).unwrap();
        let [gw, gs, ge, gn] = coverage.grid.lonlat_bounds();
        let (mut n_inside, mut n_outside) = (0, 0);
        for z in [15, 16] {
            // Every tile over the area and its padding.
            let (min, _) = TileKey::containing(geom::lonlat_to_merc(gw, gn), z).merc_bounds();
            let (_, max) = TileKey::containing(geom::lonlat_to_merc(ge, gs), z).merc_bounds();
            let n = f64::from(1u32 << z);
            let (x0, y0) = ((min.x * n).round() as u32, (min.y * n).round() as u32);
            let (x1, y1) = ((max.x * n).round() as u32, (max.y * n).round() as u32);
            for (x, y) in (x0..x1).flat_map(|x| (y0..y1).map(move |y| (x, y))) {
                let tile = TileKey { z, x, y };
                for id in [CoverageId::Category(category("medical")), CoverageId::All] {
                    let png = raster::render_png(&coverage, id, ProfileId(0), tile).unwrap();
                    let pixels = if png.is_empty() {
                        vec![[0; 4]; 256 * 256]
                    } else {
                        decode_png(&png)
                    };
                    let (min, max) = tile.merc_bounds();
                    for (i, p) in pixels.iter().enumerate() {
                        let (px, py) = (i % 256, i / 256);
                        let (lon, lat) = geom::merc_to_lonlat(geom::MercPoint {
                            x: min.x + (max.x - min.x) * (px as f64 + 0.5) / 256.0,
                            y: min.y + (max.y - min.y) * (py as f64 + 0.5) / 256.0,
                        });
                        if area.contains(lon, lat) {
                            assert_ne!(p[3], 0, "{mode:?} z{z} pixel {lon},{lat} is inside");
                            n_inside += 1;
                        } else {
                            assert_eq!(p[3], 0, "{mode:?} z{z} pixel {lon},{lat} is outside");
                            n_outside += 1;
                        }
                    }
                }
            }
        }
        assert!(
            n_inside > 100_000 && n_outside > 100_000,
            "{n_inside} {n_outside}"
        );
    }
}

#[test]
fn bands_stay_inside_the_analysis_area() {
    let data = small_area_town();
    let coverage = Coverage::build(&data, &params(CoverageMode::Network, 40.0)).unwrap();
    // The area's rectangle grown by one cell: band edges follow the outline to within a cell.
    let [w, s, e, n] = crate::area::grow_bbox(data.area.bbox, 40.0);
    let centre = at_m(500.0, 1000.0);
    for id in [CoverageId::Category(category("market")), CoverageId::All] {
        let tile = TileKey::containing(geom::lonlat_to_merc(centre.0, centre.1), 14);
        let mvt = bands::render_mvt(&coverage, id, ProfileId(0), tile, 4096, 64).unwrap();
        let bands = decode_bands(&mvt);
        assert!(!bands.is_empty());
        let (min, max) = tile.merc_bounds();
        for band in &bands {
            for polygon in &band.shape.0 {
                for c in polygon.exterior().0.iter() {
                    let (lon, lat) = geom::merc_to_lonlat(geom::MercPoint {
                        x: min.x + (max.x - min.x) * f64::from(c.x) / 4096.0,
                        y: min.y + (max.y - min.y) * f64::from(c.y) / 4096.0,
                    });
                    assert!(
                        (w..=e).contains(&lon) && (s..=n).contains(&lat),
                        "{id:?}: band vertex {lon},{lat} outside the area"
                    );
                }
            }
        }
    }
}

#[test]
fn statistics_count_only_the_analysis_area() {
    let data = small_area_town();
    let area = data.area.clone();
    for mode in [CoverageMode::Euclidean, CoverageMode::Network] {
        let coverage = Coverage::build(&data, &params(mode, 40.0)).unwrap();
        let stats = stats::stats(&coverage, &data, ProfileId(0));
        // Independently: the cells whose centre is in the area, by the outline itself.
        let grid = &coverage.grid;
        let inside: Vec<usize> = (0..grid.n_cells())
            .filter(|&cell| {
                let (lon, lat) = grid.centre_lonlat(cell);
                area.contains(lon, lat)
            })
            .collect();
        assert_eq!(stats.total.n_cells, inside.len() as u64, "{mode:?}");
        for (id, c) in coverage.taxonomy().categories() {
            let limit = stats::limit_m(&coverage, id, ProfileId(0));
            let within = inside
                .iter()
                .filter(|&&cell| coverage.field_m(id)[cell] <= limit)
                .count() as u64;
            assert_eq!(
                stats.total.categories[id.0 as usize].cells,
                stats::Count {
                    within,
                    total: inside.len() as u64
                },
                "{mode:?} {}",
                c.id
            );
        }
        // Residents: those inside the area.
        let population: u64 = data
            .residents
            .iter()
            .filter(|r| area.contains(r.lon, r.lat))
            .map(|r| u64::from(r.population))
            .sum();
        let all: u64 = data.residents.iter().map(|r| u64::from(r.population)).sum();
        assert_eq!(stats.total.population, population);
        assert!(population < all * 3 / 5, "{population} of {all}");
        // Only the west subdistrict meets the area.
        let names: Vec<&str> = stats.areas.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["西区"]);
        // Blind spots lie in the area only.
        let gaps = stats::gaps(&coverage, &data, category("park"), ProfileId(0));
        let limit = stats::limit_m(&coverage, category("park"), ProfileId(0));
        let uncovered = inside
            .iter()
            .filter(|&&cell| coverage.field_m(category("park"))[cell] > limit)
            .count() as u64;
        assert_eq!(gaps.gaps.iter().map(|g| g.n_cells).sum::<u64>(), uncovered);
    }
}

#[test]
fn a_facility_just_outside_the_area_serves_places_just_inside() {
    let data = small_area_town();
    let pharmacy = category("pharmacy");
    let place = at_m(960.0, 700.0);
    assert!(data.area.contains(place.0, place.1));
    assert!(
        !data
            .area
            .contains(at_m(1150.0, 700.0).0, at_m(1150.0, 700.0).1)
    );
    // Straight: 190 m. Along the streets: 40 m to x = 1000, 100 m north to y = 800, 200 m
    // east, 100 m south and the last 50 m off the street: 490 m.
    for (mode, expected_m) in [
        (CoverageMode::Euclidean, 190.0),
        (CoverageMode::Network, 490.0),
    ] {
        let coverage = Coverage::build(&data, &params(mode, 40.0)).unwrap();
        let report = stats::at(&coverage, &data, place.0, place.1, ProfileId(0)).unwrap();
        let reach = &report.reach[pharmacy.0 as usize];
        assert!(
            (reach.dist_m.unwrap() - expected_m).abs() < 1.0,
            "{mode:?}: {:?}",
            reach.dist_m
        );
        assert!(reach.within);
        assert_eq!(data.facility(reach.facility.unwrap()).id, 100);
        // Its cell, and the statistics, count the pharmacy.
        let value = coverage.field_value_at(pharmacy, place.0, place.1).unwrap();
        assert!(f64::from(value) < expected_m + 60.0, "{mode:?}: {value}");
        let stats = stats::stats(&coverage, &data, ProfileId(0));
        assert!(stats.total.categories[pharmacy.0 as usize].cells.within > 0);
        assert!(
            stats.total.categories[pharmacy.0 as usize]
                .population
                .within
                > 0
        );
    }
}

#[test]
fn essential_category_without_data_is_left_out_and_named() {
    // Every essential category near every place, except kindergartens: none in the data.
    let taxonomy = taxonomy();
    let mut facilities = Vec::new();
    for (id, c) in taxonomy.categories() {
        if c.essential && c.id != "kindergarten" {
            facilities.push(facility(u64::from(id.0) + 1, at_m(500.0, 500.0), &c.id));
        }
    }
    let residents = vec![
        resident(100, at_m(450.0, 450.0)),
        resident(50, at_m(520.0, 560.0)),
    ];
    let data = dataset(facilities, vec![], vec![], residents).with_area(
        crate::area::AnalysisArea::from_bbox(
            crate::area::AreaSource::Bbox,
            [
                at_m(0.0, 0.0).0,
                at_m(0.0, 0.0).1,
                at_m(1000.0, 1000.0).0,
                at_m(1000.0, 1000.0).1,
            ],
            900.0,
        ),
    );
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    let kindergarten = category("kindergarten");
    assert!(coverage.categories_without_data().contains(&kindergarten));
    assert!(
        !coverage
            .composite_members(CoverageId::All)
            .contains(&kindergarten)
    );
    let stats = stats::stats(&coverage, &data, ProfileId(0));
    assert_eq!(stats.essential_without_data, vec![kindergarten]);
    assert!(!stats.essential_categories.contains(&kindergarten));
    assert!(!stats.essential_categories.is_empty());
    // Everyone has every essential category that exists next door: 100 %, not 0 %.
    assert_eq!(stats.total.essential.population.share(), Some(1.0));
    let report = stats::at(
        &coverage,
        &data,
        at_m(450.0, 450.0).0,
        at_m(450.0, 450.0).1,
        ProfileId(0),
    )
    .unwrap();
    assert!(report.essential_within);
    assert_eq!(report.score, report.n_composite);
}

#[test]
fn suggest_says_why_it_suggests_nothing() {
    let with = |residents: Vec<Residential>| {
        let data =
            dataset(scattered_facilities(3), vec![], vec![], residents).with_area(cut_area());
        let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
        stats::suggest(&coverage, &data, category("medical"), 3, ProfileId(0))
            .unwrap()
            .empty_reason
    };
    assert_eq!(with(vec![]), Some(stats::EmptyReason::NoResidentsData));
    // Only east of the area.
    assert_eq!(
        with(vec![resident(80, at_m(1800.0, 300.0))]),
        Some(stats::EmptyReason::NoResidentsInArea)
    );
    // Next to a clinic (scattered_facilities has six), or far from any kindergarten.
    let square = crate::area::AnalysisArea::from_bbox(
        crate::area::AreaSource::Bbox,
        [
            at_m(0.0, 0.0).0,
            at_m(0.0, 0.0).1,
            at_m(2000.0, 2000.0).0,
            at_m(2000.0, 2000.0).1,
        ],
        900.0,
    );
    let clinics = dataset(scattered_facilities(3), vec![], vec![], vec![]);
    let clinic = clinics.facility(clinics.facilities_of(category("medical"))[0]);
    let (lon, lat) = (clinic.lon, clinic.lat);
    let data = dataset(
        scattered_facilities(3),
        vec![],
        vec![],
        vec![resident(80, (lon + 0.0001, lat))],
    )
    .with_area(square.clone());
    let coverage = Coverage::build(&data, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    let result = stats::suggest(&coverage, &data, category("medical"), 3, ProfileId(0)).unwrap();
    assert_eq!(result.empty_reason, Some(stats::EmptyReason::AllCovered));
    let far = dataset(
        scattered_facilities(3),
        vec![],
        vec![],
        vec![resident(80, at_m(1000.0, 1000.0))],
    )
    .with_area(square);
    let coverage = Coverage::build(&far, &params(CoverageMode::Euclidean, 40.0)).unwrap();
    let result =
        stats::suggest(&coverage, &far, category("kindergarten"), 3, ProfileId(0)).unwrap();
    assert_eq!(result.picks.len(), 1);
    assert_eq!(result.empty_reason, None);
}
