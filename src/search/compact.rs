//! Compact lists of numbers for the search index: each token's (or category's) documents
//! ([`Postings`]), stored as variable-length integers (LEB128: seven bits a byte) instead of four
//! bytes an entry, and each document's tokens ([`DocTokens`]), kept plain for the hot path.
//!
//! Takes the lists as plain numbers while the index is built; gives them back one row at a
//! time. Posting lists store the gaps between ascending documents, a byte for most. Posting
//! lists are cut into blocks of [`BLOCK`] documents whose first document is kept in full, so
//! restricting a list to a band of documents starts with a binary search over its blocks, as
//! it did over the plain list.

use std::ops::Range;

/// Documents per posting block.
const BLOCK: usize = 64;

fn write_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one number at `*at`, moving `*at` past it.
#[inline]
fn read_varint(bytes: &[u8], at: &mut usize) -> u32 {
    let mut value = 0u32;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

/// Each document's tokens: token id and field, in the order they occur. Plain `u32`s, unlike
/// the postings: every candidate of a search reads its row, so a row is a slice to copy, not a
/// run of variable-length numbers to decode (about 20 MB more at 1M facilities, for a radius
/// search's p99).
#[derive(Debug, Default)]
pub struct DocTokens {
    /// `items[start[doc]..start[doc + 1]]` is the row of `doc`, each entry `token << 2 | field`.
    start: Vec<u32>,
    items: Vec<u32>,
}

impl DocTokens {
    pub fn with_capacity(n_docs: usize) -> DocTokens {
        let mut start = Vec::with_capacity(n_docs + 1);
        start.push(0);
        DocTokens {
            start,
            items: Vec::new(),
        }
    }

    /// Appends the next document's row: `(token, field)` pairs, field in 0..4.
    pub fn push_row(&mut self, tokens: impl Iterator<Item = (u32, u32)>) {
        self.items
            .extend(tokens.map(|(token, field)| token << 2 | field));
        self.start.push(self.items.len() as u32);
    }

    pub fn shrink_to_fit(&mut self) {
        self.start.shrink_to_fit();
        self.items.shrink_to_fit();
    }

    /// The row of `doc` into `out` (cleared first), each entry `token | field << field_shift`.
    #[inline]
    pub fn row_into(&self, doc: u32, field_shift: u32, out: &mut Vec<u32>) {
        out.clear();
        let doc = doc as usize;
        let row = &self.items[self.start[doc] as usize..self.start[doc + 1] as usize];
        out.extend(row.iter().map(|&v| v >> 2 | (v & 3) << field_shift));
    }

    pub fn memory_bytes(&self) -> usize {
        (self.start.capacity() + self.items.capacity()) * 4
    }
}

/// Each token's documents, ascending.
#[derive(Debug, Default)]
pub struct Postings {
    /// Token → its documents' count.
    lens: Vec<u32>,
    /// `token_blocks[tok]..token_blocks[tok + 1]` are the blocks of `tok`.
    token_blocks: Vec<u32>,
    /// Per block: its first document, and where its gaps start in `bytes` (one more entry
    /// than there are blocks: the end).
    block_first: Vec<u32>,
    block_at: Vec<u32>,
    /// Gaps between consecutive documents of a block.
    bytes: Vec<u8>,
}

impl Postings {
    pub fn with_capacity(n_tokens: usize) -> Postings {
        let mut token_blocks = Vec::with_capacity(n_tokens + 1);
        token_blocks.push(0);
        Postings {
            lens: Vec::with_capacity(n_tokens),
            token_blocks,
            block_first: Vec::new(),
            block_at: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// Appends the next token's documents (ascending, distinct).
    pub fn push_list(&mut self, docs: &[u32]) {
        debug_assert!(docs.windows(2).all(|w| w[0] < w[1]));
        for block in docs.chunks(BLOCK) {
            self.block_first.push(block[0]);
            self.block_at.push(self.bytes.len() as u32);
            for w in block.windows(2) {
                write_varint(&mut self.bytes, w[1] - w[0]);
            }
        }
        self.lens.push(docs.len() as u32);
        self.token_blocks.push(self.block_first.len() as u32);
    }

    /// Closes the lists: call once, after the last [`Postings::push_list`].
    pub fn finish(&mut self) {
        self.block_at.push(self.bytes.len() as u32);
        self.lens.shrink_to_fit();
        self.token_blocks.shrink_to_fit();
        self.block_first.shrink_to_fit();
        self.block_at.shrink_to_fit();
        self.bytes.shrink_to_fit();
    }

    /// Number of documents holding `tok`.
    pub fn len(&self, tok: u32) -> usize {
        self.lens[tok as usize] as usize
    }

    /// Number of lists.
    pub fn n_lists(&self) -> usize {
        self.lens.len()
    }

    pub fn n_items(&self) -> usize {
        self.lens.iter().map(|&n| n as usize).sum()
    }

    /// Appends the documents of `tok` that fall in `ranges` (ascending, disjoint, non-empty):
    /// one forward walk over the list that decodes the documents inside the ranges' blocks and
    /// jumps over whole blocks lying between two ranges (a radius is a few dozen narrow ranges,
    /// one per grid row, spread over a wide band of documents), never decoding a gap twice.
    pub fn restrict(&self, tok: u32, ranges: &[Range<u32>], out: &mut Vec<u32>) {
        let tok = tok as usize;
        let blocks = self.token_blocks[tok] as usize..self.token_blocks[tok + 1] as usize;
        let firsts = &self.block_first[blocks.clone()];
        let Some(first_range) = ranges.first() else {
            return;
        };
        if firsts.is_empty() {
            return;
        }
        // The cursor: block `b`, its next gap at `at` (ending at `end`), the current document.
        let mut b = firsts
            .partition_point(|&d| d <= first_range.start)
            .saturating_sub(1);
        let block_bytes = |b: usize| {
            (
                self.block_at[blocks.start + b] as usize,
                self.block_at[blocks.start + b + 1] as usize,
            )
        };
        let (mut at, mut end) = block_bytes(b);
        let mut doc = firsts[b];
        for range in ranges {
            // Jump to the last block starting at or before the range, without decoding.
            while b + 1 < firsts.len() && firsts[b + 1] <= range.start {
                b += 1;
                (at, end) = block_bytes(b);
                doc = firsts[b];
            }
            while doc < range.end {
                if doc >= range.start {
                    out.push(doc);
                }
                if at < end {
                    doc += read_varint(&self.bytes, &mut at);
                } else if b + 1 < firsts.len() {
                    b += 1;
                    (at, end) = block_bytes(b);
                    doc = firsts[b];
                } else {
                    return;
                }
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        (self.lens.capacity()
            + self.token_blocks.capacity()
            + self.block_first.capacity()
            + self.block_at.capacity())
            * 4
            + self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain-list answer `Postings::restrict` must give.
    fn restrict_plain(list: &[u32], ranges: &[Range<u32>]) -> Vec<u32> {
        list.iter()
            .copied()
            .filter(|d| ranges.iter().any(|r| r.contains(d)))
            .collect()
    }

    proptest! {
        #[test]
        fn postings_give_back_their_lists_restricted(
            lists in prop::collection::vec(prop::collection::btree_set(0u32..5000, 0..300), 1..6),
            cuts in prop::collection::btree_set(0u32..5100, 2..12),
        ) {
            let lists: Vec<Vec<u32>> = lists.into_iter().map(|s| s.into_iter().collect()).collect();
            let mut postings = Postings::with_capacity(lists.len());
            for list in &lists {
                postings.push_list(list);
            }
            postings.finish();
            // Every other gap between cuts is a range.
            let cuts: Vec<u32> = cuts.into_iter().collect();
            let ranges: Vec<Range<u32>> = cuts
                .chunks(2)
                .filter(|c| c.len() == 2 && c[0] < c[1])
                .map(|c| c[0]..c[1])
                .collect();
            let everything = std::slice::from_ref(&(0..u32::MAX));
            for (tok, list) in lists.iter().enumerate() {
                prop_assert_eq!(postings.len(tok as u32), list.len());
                let mut all = Vec::new();
                postings.restrict(tok as u32, everything, &mut all);
                prop_assert_eq!(&all, list);
                let mut some = Vec::new();
                postings.restrict(tok as u32, &ranges, &mut some);
                prop_assert_eq!(some, restrict_plain(list, &ranges));
            }
        }

        #[test]
        fn doc_rows_give_back_their_tokens(
            rows in prop::collection::vec(
                prop::collection::vec((0u32..(1 << 28), 0u32..4), 0..20), 0..40),
        ) {
            let mut docs = DocTokens::with_capacity(rows.len());
            for row in &rows {
                docs.push_row(row.iter().copied());
            }
            let mut out = Vec::new();
            for (doc, row) in rows.iter().enumerate() {
                docs.row_into(doc as u32, 30, &mut out);
                let expected: Vec<u32> = row.iter().map(|&(t, f)| t | f << 30).collect();
                prop_assert_eq!(&out, &expected);
            }
        }
    }
}
