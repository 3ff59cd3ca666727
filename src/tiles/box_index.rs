//! A static packed R-tree over boxes in `u32` world units, for the basemap's road pieces.
//!
//! Takes boxes (normalised Web Mercator, rounded outwards to `u32` world units so a box never
//! shrinks) with an item number each; gives the items whose box meets a query rectangle. Boxes
//! are sorted by the Z-order of their centres and packed 16 to a node, level over level, as
//! Flatbush does: about 21 bytes an item, against some 100 for an `rstar` tree of `f64`
//! rectangles (each leaf a 64-byte node). Rounding outwards makes the answer a superset of the
//! exact one; callers that need the exact set check the items' own geometry.

/// Children per node.
const NODE_SIZE: usize = 16;

/// A box `[min_x, min_y, max_x, max_y]` in `u32` world units (`2^32` per world axis).
pub type WorldBox = [u32; 4];

/// `v` (normalised Mercator) in `u32` world units, rounded down or up, clamped to the world.
pub fn world_units(v: f64, round_up: bool) -> u32 {
    let scaled = v * 4_294_967_296.0;
    // `as` saturates: below the world → 0, beyond it → u32::MAX.
    if round_up {
        scaled.ceil() as u32
    } else {
        scaled.floor() as u32
    }
}

/// The world box holding `[min, max]` (normalised Mercator), rounded outwards.
pub fn world_box(min: (f64, f64), max: (f64, f64)) -> WorldBox {
    [
        world_units(min.0, false),
        world_units(min.1, false),
        world_units(max.0, true),
        world_units(max.1, true),
    ]
}

pub struct BoxIndex {
    /// The leaves' boxes (in packed order), then each level of nodes up to the root.
    boxes: Vec<WorldBox>,
    /// The item of each leaf.
    items: Vec<u32>,
    /// Where each level starts in `boxes`: leaves first, the root last (plus the end).
    level_starts: Vec<usize>,
}

fn intersects(a: &WorldBox, b: &WorldBox) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

/// The Z-order key of a box's centre (16 bits of each axis).
fn z_order(b: &WorldBox) -> u32 {
    let centre = |lo: u32, hi: u32| (((u64::from(lo) + u64::from(hi)) / 2) >> 16) as u32;
    let spread = |mut v: u32| {
        v = (v | (v << 8)) & 0x00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    };
    spread(centre(b[0], b[2])) | (spread(centre(b[1], b[3])) << 1)
}

impl BoxIndex {
    pub fn new(mut entries: Vec<(WorldBox, u32)>) -> BoxIndex {
        entries.sort_unstable_by_key(|(b, item)| (z_order(b), *item));
        let mut boxes: Vec<WorldBox> = entries.iter().map(|e| e.0).collect();
        let items: Vec<u32> = entries.iter().map(|e| e.1).collect();
        drop(entries);
        let mut level_starts = vec![0];
        let mut level = 0..boxes.len();
        while level.len() > 1 {
            let parents: Vec<WorldBox> = boxes[level.clone()]
                .chunks(NODE_SIZE)
                .map(|children| {
                    children
                        .iter()
                        .fold([u32::MAX, u32::MAX, 0, 0], |[x0, y0, x1, y1], b| {
                            [x0.min(b[0]), y0.min(b[1]), x1.max(b[2]), y1.max(b[3])]
                        })
                })
                .collect();
            let start = boxes.len();
            boxes.extend(parents);
            level_starts.push(start);
            level = start..boxes.len();
        }
        level_starts.push(boxes.len());
        boxes.shrink_to_fit();
        BoxIndex {
            boxes,
            items,
            level_starts,
        }
    }

    /// The items whose box meets `query` (edges included), in no particular order.
    pub fn query(&self, query: &WorldBox) -> Vec<u32> {
        let mut out = Vec::new();
        if self.items.is_empty() {
            return out;
        }
        let top = self.level_starts.len() - 2;
        // (level, position within the level) of nodes whose box meets the query.
        let mut stack = vec![(top, 0usize)];
        while let Some((level, pos)) = stack.pop() {
            let node = &self.boxes[self.level_starts[level] + pos];
            if !intersects(node, query) {
                continue;
            }
            if level == 0 {
                out.push(self.items[pos]);
                continue;
            }
            let below = self.level_starts[level - 1]..self.level_starts[level];
            let first = pos * NODE_SIZE;
            let last = (first + NODE_SIZE).min(below.len());
            stack.extend((first..last).map(|child| (level - 1, child)));
        }
        out
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.boxes.capacity() * 16 + self.items.capacity() * 4 + self.level_starts.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The index answers exactly the boxes a scan of every box finds.
        #[test]
        fn query_matches_a_scan(
            boxes in prop::collection::vec((0u32..1000, 0u32..1000, 0u32..60, 0u32..60), 0..700),
            query in (0u32..1100, 0u32..1100, 0u32..300, 0u32..300),
        ) {
            let entries: Vec<(WorldBox, u32)> = boxes
                .iter()
                .enumerate()
                .map(|(i, &(x, y, w, h))| ([x << 20, y << 20, (x + w) << 20, (y + h) << 20], i as u32))
                .collect();
            let q = [query.0 << 20, query.1 << 20, (query.0 + query.2) << 20, (query.1 + query.3) << 20];
            let index = BoxIndex::new(entries.clone());
            let mut got = index.query(&q);
            got.sort_unstable();
            let expected: Vec<u32> = entries
                .iter()
                .filter(|(b, _)| intersects(b, &q))
                .map(|e| e.1)
                .collect();
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn world_boxes_round_outwards_and_clamp() {
        let b = world_box((0.25, -0.5), (0.5 + 1e-12, 2.0));
        assert_eq!(b, [1 << 30, 0, (1 << 31) + 1, u32::MAX]);
    }
}
