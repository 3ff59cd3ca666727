//! The search index's lists of numbers: each document's tokens ([`DocTokens`]) and each token's
//! (or category's) documents ([`Postings`]), each kept as one flat `u32` array with row offsets
//! instead of a vector per row (no per-row allocation or capacity; 4 bytes an entry).
//!
//! Takes the lists as plain numbers while the index is built; gives them back one row at a
//! time, or a posting list cut to a set of document ranges.

use std::ops::Range;

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

/// Each token's documents, ascending, as plain `u32`: a radius search cuts every candidate
/// list to a few dozen grid ranges, one binary search each.
#[derive(Debug, Default)]
pub struct Postings {
    /// `docs[start[tok]..start[tok + 1]]` are the documents of `tok`.
    start: Vec<u32>,
    docs: Vec<u32>,
}

impl Postings {
    pub fn with_capacity(n_tokens: usize) -> Postings {
        let mut start = Vec::with_capacity(n_tokens + 1);
        start.push(0);
        Postings {
            start,
            docs: Vec::new(),
        }
    }

    /// Appends the next token's documents (ascending, distinct).
    pub fn push_list(&mut self, docs: &[u32]) {
        debug_assert!(docs.windows(2).all(|w| w[0] < w[1]));
        self.docs.extend_from_slice(docs);
        self.start.push(self.docs.len() as u32);
    }

    /// Closes the lists: call once, after the last [`Postings::push_list`].
    pub fn finish(&mut self) {
        self.start.shrink_to_fit();
        self.docs.shrink_to_fit();
    }

    fn list(&self, tok: u32) -> &[u32] {
        let tok = tok as usize;
        &self.docs[self.start[tok] as usize..self.start[tok + 1] as usize]
    }

    /// Number of documents holding `tok`.
    pub fn len(&self, tok: u32) -> usize {
        self.list(tok).len()
    }

    /// Number of lists.
    pub fn n_lists(&self) -> usize {
        self.start.len() - 1
    }

    pub fn n_items(&self) -> usize {
        self.docs.len()
    }

    /// Appends the documents of `tok` that fall in `ranges` (ascending, disjoint, non-empty):
    /// per range, two binary searches over the rest of the list.
    pub fn restrict(&self, tok: u32, ranges: &[Range<u32>], out: &mut Vec<u32>) {
        let mut rest = self.list(tok);
        for range in ranges {
            let from = rest.partition_point(|&d| d < range.start);
            rest = &rest[from..];
            let to = rest.partition_point(|&d| d < range.end);
            out.extend_from_slice(&rest[..to]);
            rest = &rest[to..];
        }
    }

    pub fn memory_bytes(&self) -> usize {
        (self.start.capacity() + self.docs.capacity()) * 4
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
