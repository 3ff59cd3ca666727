//! The generated district the service-load and report benchmarks share: 100,000 residential
//! places and 20,000 facilities (spread over the categories) at random on a 10 km square with
//! streets every 100 m, four subdistricts.

use std::sync::Arc;

use lifecircle::dataset::{Area, Dataset, Facility, FacilityText, Residential, Road};
use lifecircle::geom;
use lifecircle::taxonomy::CategoryId;
use rand::{Rng, SeedableRng};

/// 100,000 residential places and 20,000 facilities (spread over the categories) at random on a
/// 10 km square with streets every 100 m, four subdistricts.
pub fn district(taxonomy: Arc<lifecircle::taxonomy::Taxonomy>) -> Dataset {
    const ORIGIN: (f64, f64) = (121.40, 31.20);
    const SIDE_M: f64 = 10_000.0;
    const SPACING_M: f64 = 100.0;
    let (m_lon, m_lat) = geom::metres_per_degree(ORIGIN.1);
    let at = |x: f64, y: f64| (ORIGIN.0 + x / m_lon, ORIGIN.1 + y / m_lat);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let n_lines = (SIDE_M / SPACING_M) as usize + 1;
    let mut roads = Vec::new();
    for i in 0..n_lines {
        let c = i as f64 * SPACING_M;
        for j in 0..n_lines - 1 {
            let (s0, s1) = (j as f64 * SPACING_M, (j + 1) as f64 * SPACING_M);
            for coords in [vec![at(s0, c), at(s1, c)], vec![at(c, s0), at(c, s1)]] {
                roads.push(Road {
                    highway: "residential".into(),
                    name: None,
                    coords,
                });
            }
        }
    }
    let categories: Vec<CategoryId> = taxonomy
        .categories()
        .map(|(id, _)| id)
        .filter(|&id| id != taxonomy.fallback())
        .collect();
    let facilities: Vec<Facility> = (0..20_000u64)
        .map(|i| {
            let (lon, lat) = at(rng.random_range(0.0..SIDE_M), rng.random_range(0.0..SIDE_M));
            Facility::new(
                i + 1,
                categories[i as usize % categories.len()],
                (lon, lat),
                FacilityText {
                    source_id: &(i + 1).to_string(),
                    name: &format!("设施{i}"),
                    name_en: None,
                    address: None,
                },
                None,
            )
        })
        .collect();
    let residents: Vec<Residential> = (0..100_000)
        .map(|i| {
            let (lon, lat) = at(rng.random_range(0.0..SIDE_M), rng.random_range(0.0..SIDE_M));
            Residential {
                name: Some(format!("小区{i}")),
                population: rng.random_range(50..3000),
                subdistrict: None,
                lon,
                lat,
            }
        })
        .collect();
    let half = SIDE_M / 2.0;
    let areas: Vec<Area> = [(0.0, 0.0), (half, 0.0), (0.0, half), (half, half)]
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let ring: Vec<(f64, f64)> = [
                (x, y),
                (x + half, y),
                (x + half, y + half),
                (x, y + half),
                (x, y),
            ]
            .iter()
            .map(|&(px, py)| at(px, py))
            .collect();
            Area {
                name: format!("街道{i}"),
                name_en: None,
                polygon: geo::MultiPolygon(vec![geo::Polygon::new(ring.into(), vec![])]),
            }
        })
        .collect();
    Dataset::new(taxonomy, facilities, roads, areas, residents)
}
