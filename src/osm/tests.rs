use super::*;

#[test]
fn node_coords_round_trip_at_osm_precision() {
    let coords = NodeCoords::new(vec![-5, 3, 7, 1_000_000_000_000]);
    coords.set(3, 121.4473817, 31.2304572);
    coords.set(-5, -0.0000001, -89.9999999);
    coords.set(8, 1.0, 1.0);
    let (lon, lat) = coords.get(3).unwrap();
    assert!((lon - 121.4473817).abs() < 1e-9 && (lat - 31.2304572).abs() < 1e-9);
    let (lon, lat) = coords.get(-5).unwrap();
    assert!((lon + 0.0000001).abs() < 1e-12 && (lat + 89.9999999).abs() < 1e-9);
    assert_eq!(coords.get(7), None, "asked for, never seen");
    assert_eq!(coords.get(8), None, "not asked for");
}

#[test]
fn ways_split_at_shared_nodes_and_runs_break_at_missing_nodes() {
    let coords = NodeCoords::new((1..=9).collect());
    for id in 1..=9 {
        if id != 8 {
            coords.set(id, 121.0 + id as f64 * 0.001, 31.0);
        }
    }
    let way = |id: i64, refs: &[i64]| WalkWay {
        id,
        refs: refs.into(),
        highway: "residential".into(),
        name: None,
    };
    // Way 1 runs 1-2-3-4-5; way 2 crosses it at 3 (shares a node in both middles); way 3 has a
    // node (8) missing from the extract.
    let walk = vec![
        way(1, &[1, 2, 3, 4, 5]),
        way(2, &[6, 3, 7]),
        way(3, &[5, 9, 8, 6]),
    ];
    let keep = Keep::new(&Region::All, 0.0);
    let (roads, n_ways, n_incomplete) = split_network(&walk, &coords, &keep);
    assert_eq!(n_ways, 3);
    assert_eq!(n_incomplete, 1);
    let pieces: Vec<(String, usize)> = roads
        .iter()
        .map(|r| (format!("osm:w{}", r.way_id), r.coords.len()))
        .collect();
    assert_eq!(
        pieces,
        vec![
            ("osm:w1".into(), 3),
            ("osm:w1".into(), 3),
            ("osm:w2".into(), 2),
            ("osm:w2".into(), 2),
            ("osm:w3".into(), 2),
        ]
    );
    // Outside the region: nothing.
    let keep = Keep::new(&Region::Bbox([100.0, 10.0, 101.0, 11.0]), 1000.0);
    assert!(split_network(&walk, &coords, &keep).0.is_empty());
}

#[test]
fn region_margin_is_ground_metres() {
    let keep = Keep::new(&Region::Bbox([121.0, 31.0, 121.1, 31.1]), 1000.0);
    let (m_lon, _) = geom::metres_per_degree(31.1);
    assert!(keep.contains(121.1 + 990.0 / m_lon, 31.05));
    assert!(!keep.contains(121.1 + 1010.0 / m_lon, 31.05));
}
