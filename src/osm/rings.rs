//! Ring assembly for multipolygon and boundary relations: member ways (node id sequences, in any
//! order and direction) → closed rings → polygons with holes.
//!
//! Ways are joined end to end where they share an end node (reversed as needed), as OSM draws a
//! boundary from many ways. A chain that cannot be closed (a member missing from the extract, a
//! gap in the data) is counted, not guessed.

use geo::{Contains, Coord, InteriorPoint, LineString, MultiPolygon, Polygon};

/// Joins `ways` into closed rings (first node = last node). Returns the rings and the number of
/// chains left open.
pub fn assemble(ways: Vec<Vec<i64>>) -> (Vec<Vec<i64>>, usize) {
    let mut rings = Vec::new();
    let mut open: Vec<Vec<i64>> = Vec::new();
    for way in ways.into_iter().filter(|w| w.len() >= 2) {
        if way.len() >= 4 && way.first() == way.last() {
            rings.push(way);
        } else {
            open.push(way);
        }
    }
    let mut n_unclosed = 0;
    while let Some(mut chain) = open.pop() {
        loop {
            if chain.len() >= 4 && chain.first() == chain.last() {
                rings.push(chain);
                break;
            }
            let (first, last) = (chain[0], chain[chain.len() - 1]);
            let next = open.iter().position(|w| {
                let (a, b) = (w[0], w[w.len() - 1]);
                a == last || b == last || a == first || b == first
            });
            let Some(idx) = next else {
                n_unclosed += 1;
                break;
            };
            let mut way = open.swap_remove(idx);
            let (a, b) = (way[0], way[way.len() - 1]);
            if a == last {
                chain.extend_from_slice(&way[1..]);
            } else if b == last {
                way.reverse();
                chain.extend_from_slice(&way[1..]);
            } else {
                // Joins at the chain's start: prepend.
                if a == first {
                    way.reverse();
                }
                way.pop();
                way.extend_from_slice(&chain);
                chain = way;
            }
        }
    }
    (rings, n_unclosed)
}

/// Polygons from outer and inner rings (lon/lat): each inner ring becomes a hole of the first
/// outer ring containing it (judged by a point inside the hole); inner rings inside no outer
/// ring are dropped.
pub fn polygons(outer: Vec<Vec<(f64, f64)>>, inner: Vec<Vec<(f64, f64)>>) -> MultiPolygon<f64> {
    let to_line = |ring: Vec<(f64, f64)>| {
        LineString::new(ring.into_iter().map(|(x, y)| Coord { x, y }).collect())
    };
    let mut polygons: Vec<Polygon<f64>> = outer
        .into_iter()
        .map(|ring| Polygon::new(to_line(ring), Vec::new()))
        .collect();
    for ring in inner {
        let line = to_line(ring);
        // A point inside the hole, not a vertex: holes may touch their outer ring.
        let Some(inside) = Polygon::new(line.clone(), Vec::new()).interior_point() else {
            continue;
        };
        if let Some(p) = polygons.iter_mut().find(|p| p.contains(&inside)) {
            p.interiors_push(line);
        }
    }
    MultiPolygon(polygons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ways_in_any_order_and_direction_close() {
        // A square 1-2-3-4-1 drawn as three ways, one reversed, out of order.
        let (rings, open) = assemble(vec![vec![3, 4, 1], vec![1, 2], vec![3, 2]]);
        assert_eq!(open, 0);
        assert_eq!(rings.len(), 1);
        let ring = &rings[0];
        assert_eq!(ring.first(), ring.last());
        assert_eq!(ring.len(), 5);
        let mut nodes = ring[..4].to_vec();
        nodes.sort();
        assert_eq!(nodes, vec![1, 2, 3, 4]);
    }

    #[test]
    fn closed_ways_are_rings_and_gaps_are_counted() {
        let (rings, open) = assemble(vec![vec![1, 2, 3, 1], vec![10, 11], vec![12, 13]]);
        assert_eq!(rings, vec![vec![1, 2, 3, 1]]);
        assert_eq!(open, 2);
    }

    #[test]
    fn holes_go_into_their_outer_ring() {
        let square =
            |x0: f64, s: f64| vec![(x0, 0.0), (x0 + s, 0.0), (x0 + s, s), (x0, s), (x0, 0.0)];
        let mp = polygons(
            vec![square(0.0, 10.0), square(20.0, 10.0)],
            vec![square(22.0, 2.0), square(50.0, 1.0)],
        );
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 0);
        assert_eq!(mp.0[1].interiors().len(), 1);
    }
}
