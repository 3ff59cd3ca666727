//! A static nearest-segment index over the walking graph's edges: edge ids in Hilbert order of
//! their segments' centres, grouped in fixed-size nodes whose boxes (`f32`, rounded outward) form
//! a packed R-tree. It holds 4 bytes per edge plus a box per node: the segments themselves are
//! recomputed from the graph's nodes when a query needs them, so a distance is exactly the one the
//! segment's `rstar` [`Line`] gives.
//!
//! [`SegmentIndex::nearest`] finds the segment nearest to a point (ties to the lowest edge id),
//! among those a filter accepts and within a radius; a hint (the answer for a point nearby) bounds
//! the search from the start, so a run of queries in spatial order ([`hilbert_key`]) touches only
//! a few nodes each. While places are snapped in bulk, an `f32` copy of the segments in leaf order
//! rules most candidates out first (with a bound on its error, so the answer stays exact); it is
//! dropped afterwards ([`SegmentIndex::drop_bulk_copy`]).

use rstar::PointDistance;
use rstar::primitives::Line;

/// Children per node (and edges per leaf node).
const FANOUT: usize = 16;
/// Boxes are grown by this much (metres) beyond the rounding: a segment's computed distance
/// never falls below its box's.
const BOX_SLACK_M: f64 = 1e-3;

/// See the module documentation.
pub struct SegmentIndex {
    /// Edge ids, leaf node by leaf node.
    order: Vec<u32>,
    /// Node boxes `[min_x, min_y, max_x, max_y]`, level by level from the leaf nodes up: node `j`
    /// of level 0 covers `order[j·FANOUT..]`, node `j` of level `k` the nodes
    /// `j·FANOUT..` of level `k − 1`. The last level has at most `FANOUT` nodes.
    levels: Vec<Vec<[f32; 4]>>,
    /// `[min_x, min_y, max_x, max_y]` of every segment.
    bounds: [f64; 4],
    /// While places are snapped in bulk: each segment of `order` (same positions) in `f32`, read
    /// in order, so most segments are ruled out without looking their ends up in the graph.
    approx: Vec<[f32; 4]>,
    /// How far a distance to an `approx` segment can be from the exact one, metres.
    approx_err: f64,
}

/// The `[min_x, min_y, max_x, max_y]` of a segment.
fn segment_box(line: &Line<[f64; 2]>) -> [f64; 4] {
    [
        line.from[0].min(line.to[0]),
        line.from[1].min(line.to[1]),
        line.from[0].max(line.to[0]),
        line.from[1].max(line.to[1]),
    ]
}

/// `b` as `f32`, grown outward by the slack and the rounding.
fn round_out(b: [f64; 4]) -> [f32; 4] {
    let down = |v: f64| {
        let f = (v - BOX_SLACK_M) as f32;
        if f64::from(f) > v - BOX_SLACK_M {
            f.next_down()
        } else {
            f
        }
    };
    let up = |v: f64| {
        let f = (v + BOX_SLACK_M) as f32;
        if f64::from(f) < v + BOX_SLACK_M {
            f.next_up()
        } else {
            f
        }
    };
    [down(b[0]), down(b[1]), up(b[2]), up(b[3])]
}

fn union(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

const EMPTY_BOX: [f32; 4] = [
    f32::INFINITY,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NEG_INFINITY,
];

/// Squared distance from `xy` to the box `b` (0 inside).
fn box_distance_2(b: &[f32; 4], xy: [f64; 2]) -> f64 {
    let dx = (f64::from(b[0]) - xy[0])
        .max(xy[0] - f64::from(b[2]))
        .max(0.0);
    let dy = (f64::from(b[1]) - xy[1])
        .max(xy[1] - f64::from(b[3]))
        .max(0.0);
    dx * dx + dy * dy
}

/// Position along the Hilbert curve of order 16 of the cell `(x, y)` (each `< 2^16`).
fn hilbert(mut x: u32, mut y: u32) -> u32 {
    const N: u32 = 1 << 16;
    let mut d: u32 = 0;
    let mut s = N / 2;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d = d.wrapping_add(s.wrapping_mul(s).wrapping_mul((3 * rx) ^ ry));
        if ry == 0 {
            if rx == 1 {
                x = N - 1 - x;
                y = N - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// Hilbert position of `xy` within `bounds` (`[min_x, min_y, max_x, max_y]`): points close on
/// the curve are close in space, so queries sorted by it run in cache-friendly order.
pub fn hilbert_key(bounds: [f64; 4], xy: [f64; 2]) -> u32 {
    let scale = |v: f64, lo: f64, hi: f64| {
        if hi > lo {
            (((v - lo) / (hi - lo)) * 65535.0).clamp(0.0, 65535.0) as u32
        } else {
            0
        }
    };
    hilbert(
        scale(xy[0], bounds[0], bounds[2]),
        scale(xy[1], bounds[1], bounds[3]),
    )
}

impl SegmentIndex {
    /// Indexes the `n_edges` segments `line(edge)`.
    pub fn build(n_edges: usize, line: impl Fn(u32) -> Line<[f64; 2]> + Sync) -> SegmentIndex {
        use rayon::prelude::*;
        let boxes: Vec<[f64; 4]> = (0..n_edges as u32)
            .into_par_iter()
            .map(|e| segment_box(&line(e)))
            .collect();
        let bounds = boxes.iter().fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            },
        );
        let mut keyed: Vec<(u32, u32)> = boxes
            .par_iter()
            .enumerate()
            .map(|(e, b)| {
                let centre = [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
                (hilbert_key(bounds, centre), e as u32)
            })
            .collect();
        keyed.par_sort_unstable();
        let order: Vec<u32> = keyed.into_iter().map(|(_, e)| e).collect();
        let mut levels: Vec<Vec<[f32; 4]>> = Vec::new();
        let leaves: Vec<[f32; 4]> = order
            .chunks(FANOUT)
            .map(|chunk| {
                chunk.iter().fold(EMPTY_BOX, |acc, &e| {
                    union(acc, round_out(boxes[e as usize]))
                })
            })
            .collect();
        levels.push(leaves);
        while levels.last().is_some_and(|l| l.len() > FANOUT) {
            let below = levels.last().expect("a level");
            let above: Vec<[f32; 4]> = below
                .chunks(FANOUT)
                .map(|chunk| chunk.iter().copied().fold(EMPTY_BOX, union))
                .collect();
            levels.push(above);
        }
        for level in &mut levels {
            level.shrink_to_fit();
        }
        let approx: Vec<[f32; 4]> = order
            .par_iter()
            .map(|&e| {
                let l = line(e);
                [
                    l.from[0] as f32,
                    l.from[1] as f32,
                    l.to[0] as f32,
                    l.to[1] as f32,
                ]
            })
            .collect();
        // Rounding to f32 moves an end by at most |coordinate| · 2^-24 along each axis, and the
        // segment's every point by no more than its ends: so is its distance. Twice that, and a
        // micrometre for the arithmetic.
        let max_abs = bounds.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let approx_err = max_abs * 2f64.powi(-22) + 1e-6;
        SegmentIndex {
            order,
            levels,
            bounds,
            approx,
            approx_err,
        }
    }

    /// The segment nearest to `xy` among those `accept` takes, no farther than
    /// `sqrt(max_distance_2)`, with its squared distance (`Line::distance_2`); ties go to the
    /// lowest edge id. `hint`, an edge likely near, only speeds the search up.
    pub fn nearest(
        &self,
        xy: [f64; 2],
        line: impl Fn(u32) -> Line<[f64; 2]>,
        accept: impl Fn(u32) -> bool,
        max_distance_2: f64,
        hint: Option<u32>,
    ) -> Option<(u32, f64)> {
        let mut best: Option<(u32, f64)> = None;
        let mut bound = max_distance_2;
        // Past this squared distance to its `f32` copy, a segment is surely beyond `bound`.
        let copy_bound = |bound: f64| (bound.sqrt() + self.approx_err).powi(2);
        let mut approx_bound = copy_bound(bound);
        let offer =
            |e: u32, best: &mut Option<(u32, f64)>, bound: &mut f64, approx_bound: &mut f64| {
                if !accept(e) {
                    return;
                }
                let d = line(e).distance_2(&xy);
                let better = match *best {
                    None => d <= *bound,
                    Some((b, bd)) => d < bd || (d == bd && e < b),
                };
                if better {
                    *best = Some((e, d));
                    if d < *bound {
                        *bound = d;
                        *approx_bound = copy_bound(d);
                    }
                }
            };
        if let Some(e) = hint {
            offer(e, &mut best, &mut bound, &mut approx_bound);
        }
        let Some(top) = self.levels.len().checked_sub(1) else {
            return best;
        };
        // Depth first, nearer children first; a node whose box lies beyond the best so far
        // cannot hold a nearer segment (nor an equally near one: boxes are grown by the slack).
        let mut stack: Vec<(usize, usize)> = Vec::with_capacity(64);
        let mut order: Vec<(f64, usize)> = Vec::with_capacity(FANOUT);
        let push_children = |level: usize,
                             range: std::ops::Range<usize>,
                             stack: &mut Vec<(usize, usize)>,
                             order: &mut Vec<(f64, usize)>,
                             bound: f64| {
            order.clear();
            for j in range {
                let d = box_distance_2(&self.levels[level][j], xy);
                if d <= bound {
                    order.push((d, j));
                }
            }
            order.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
            stack.extend(order.iter().map(|&(_, j)| (level, j)));
        };
        push_children(
            top,
            0..self.levels[top].len(),
            &mut stack,
            &mut order,
            bound,
        );
        while let Some((level, j)) = stack.pop() {
            if box_distance_2(&self.levels[level][j], xy) > bound {
                continue;
            }
            if level == 0 {
                let end = ((j + 1) * FANOUT).min(self.order.len());
                for pos in j * FANOUT..end {
                    if let Some(a) = self.approx.get(pos)
                        && !self.copy_may_reach(a, xy, bound, approx_bound)
                    {
                        continue;
                    }
                    offer(self.order[pos], &mut best, &mut bound, &mut approx_bound);
                }
            } else {
                let end = ((j + 1) * FANOUT).min(self.levels[level - 1].len());
                push_children(level - 1, j * FANOUT..end, &mut stack, &mut order, bound);
            }
        }
        best
    }

    /// Whether the segment whose `f32` copy is `a` may lie within `sqrt(bound)` of `xy`
    /// (`approx_bound`: `bound` grown by the copy's error). `false` only when it surely does not.
    fn copy_may_reach(&self, a: &[f32; 4], xy: [f64; 2], bound: f64, approx_bound: f64) -> bool {
        // The copy's box grown by the error holds the segment: beyond the bound, nothing of it
        // is nearer.
        let err = self.approx_err;
        let (x0, x1) = (f64::from(a[0].min(a[2])), f64::from(a[0].max(a[2])));
        let (y0, y1) = (f64::from(a[1].min(a[3])), f64::from(a[1].max(a[3])));
        let dx = (x0 - err - xy[0]).max(xy[0] - x1 - err).max(0.0);
        let dy = (y0 - err - xy[1]).max(xy[1] - y1 - err).max(0.0);
        if dx * dx + dy * dy > bound {
            return false;
        }
        let near = Line::new(
            [f64::from(a[0]), f64::from(a[1])],
            [f64::from(a[2]), f64::from(a[3])],
        )
        .distance_2(&xy);
        near <= approx_bound
    }

    /// While the bulk copy is held ([`SegmentIndex::drop_bulk_copy`]): every segment that may
    /// lie within `radius` of `xy` (a superset: boxes are rounded outward), as its edge id and
    /// its `f32` copy, into `out` (cleared first). `false` without the copy.
    pub fn gather_within(&self, xy: [f64; 2], radius: f64, out: &mut Vec<(u32, [f32; 4])>) -> bool {
        out.clear();
        if self.approx.is_empty() {
            return false;
        }
        let Some(top) = self.levels.len().checked_sub(1) else {
            return true;
        };
        let radius_2 = radius * radius;
        let approx_radius_2 = (radius + self.approx_err).powi(2);
        let mut stack: Vec<(usize, usize)> =
            (0..self.levels[top].len()).map(|j| (top, j)).collect();
        while let Some((level, j)) = stack.pop() {
            if box_distance_2(&self.levels[level][j], xy) > radius_2 {
                continue;
            }
            if level == 0 {
                let end = ((j + 1) * FANOUT).min(self.order.len());
                for pos in j * FANOUT..end {
                    let a = &self.approx[pos];
                    if self.copy_may_reach(a, xy, radius_2, approx_radius_2) {
                        out.push((self.order[pos], *a));
                    }
                }
            } else {
                let end = ((j + 1) * FANOUT).min(self.levels[level - 1].len());
                stack.extend((j * FANOUT..end).map(|k| (level - 1, k)));
            }
        }
        true
    }

    /// [`SegmentIndex::nearest`] (every segment accepted, no radius) among `candidates`, which
    /// must hold every segment as near to `xy` as its nearest (e.g. [`SegmentIndex::gather_within`]
    /// around a point close by, with a radius covering the distance between them twice): the
    /// same answer, ties to the lowest edge id.
    pub fn nearest_among(
        &self,
        xy: [f64; 2],
        line: impl Fn(u32) -> Line<[f64; 2]>,
        candidates: &[(u32, [f32; 4])],
        hint: Option<u32>,
    ) -> Option<(u32, f64)> {
        let mut best: Option<(u32, f64)> = None;
        let mut bound = f64::INFINITY;
        let mut approx_bound = f64::INFINITY;
        let mut offer = |e: u32, bound: &mut f64, approx_bound: &mut f64| {
            let d = line(e).distance_2(&xy);
            let better = match best {
                None => d <= *bound,
                Some((b, bd)) => d < bd || (d == bd && e < b),
            };
            if better {
                best = Some((e, d));
                if d < *bound {
                    *bound = d;
                    *approx_bound = (d.sqrt() + self.approx_err).powi(2);
                }
            }
        };
        if let Some(e) = hint {
            offer(e, &mut bound, &mut approx_bound);
        }
        for (e, a) in candidates {
            if self.copy_may_reach(a, xy, bound, approx_bound) {
                offer(*e, &mut bound, &mut approx_bound);
            }
        }
        best
    }

    /// Frees what speeds bulk snapping up (4 × `f32` per segment); queries stay exact.
    pub fn drop_bulk_copy(&mut self) {
        self.approx = Vec::new();
    }

    /// [`hilbert_key`] of `xy` over the segments' extent.
    pub fn hilbert_key(&self, xy: [f64; 2]) -> u32 {
        hilbert_key(self.bounds, xy)
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.order.capacity() * 4
            + self.approx.capacity() * 16
            + self.levels.iter().map(|l| l.capacity() * 16).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Against a scan of every segment, on random short and long segments with shared ends
    /// (where ties are exact).
    #[test]
    fn nearest_is_the_lowest_id_among_the_nearest() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let nodes: Vec<[f64; 2]> = (0..400)
            .map(|_| {
                [
                    rng.random_range(-5000.0..5000.0),
                    rng.random_range(-5000.0..5000.0),
                ]
            })
            .collect();
        let ends: Vec<(usize, usize)> = (0..1500)
            .map(|_| (rng.random_range(0..400), rng.random_range(0..400)))
            .collect();
        let line = |e: u32| {
            let (a, b) = ends[e as usize];
            Line::new(nodes[a], nodes[b])
        };
        let index = SegmentIndex::build(ends.len(), line);
        let mut exact = SegmentIndex::build(ends.len(), line);
        exact.drop_bulk_copy();
        for i in 0..2000 {
            let xy = if i % 4 == 0 {
                // Exactly at a node: every segment there ties.
                nodes[rng.random_range(0..400)]
            } else {
                [
                    rng.random_range(-6000.0..6000.0),
                    rng.random_range(-6000.0..6000.0),
                ]
            };
            let odd_only = i % 3 == 0;
            let accept = |e: u32| !odd_only || e % 2 == 1;
            let max_d2 = if i % 5 == 0 {
                200.0 * 200.0
            } else {
                f64::INFINITY
            };
            let expected = (0..ends.len() as u32)
                .filter(|&e| accept(e))
                .map(|e| (e, line(e).distance_2(&xy)))
                .filter(|&(_, d)| d <= max_d2)
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let hint = Some(rng.random_range(0..ends.len() as u32));
            assert_eq!(index.nearest(xy, line, accept, max_d2, None), expected);
            assert_eq!(index.nearest(xy, line, accept, max_d2, hint), expected);
            assert_eq!(exact.nearest(xy, line, accept, max_d2, hint), expected);
        }
    }

    #[test]
    fn hilbert_keys_follow_the_curve() {
        // The order-1 curve visits (0,0), (0,1), (1,1), (1,0).
        let b = [0.0, 0.0, 1.0, 1.0];
        let keys: Vec<u32> = [[0.1, 0.1], [0.1, 0.9], [0.9, 0.9], [0.9, 0.1]]
            .iter()
            .map(|&xy| hilbert_key(b, xy))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    }
}
