//! Tile cache: moka, weighted by stored bytes, keyed by snapshot version + what was asked.
//!
//! Takes a key and a render function; gives a [`CachedTile`] holding the raw bytes, their gzip
//! encoding (compressed once, when the tile is made) and a strong ETag. Concurrent misses for one
//! key render once. Keys carry the snapshot version, so tiles of replaced data are never served
//! and simply age out.

use std::io::Write;
use std::sync::Arc;

use axum::http::HeaderValue;
use bytes::Bytes;
use flate2::{Compression, write::GzEncoder};

use crate::geom::TileKey;

/// What a cached tile is: which snapshot, which tile set and variant (filter, profile…), which
/// tile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub version: u64,
    /// Tile set and variant, e.g. `facilities?categories=medical,park`.
    pub variant: Arc<str>,
    pub tile: TileKey,
}

/// A tile ready to send.
#[derive(Debug)]
pub struct CachedTile {
    /// Uncompressed body; empty for an empty tile.
    pub raw: Bytes,
    /// gzip of `raw`, when it saves bytes.
    pub gzip: Option<Bytes>,
    /// Strong ETag of `raw`, quoted.
    pub etag: String,
    /// `etag` as a header value, and the gzip body's ETag (`"…-gz"`) when there is one: made
    /// once with the tile, not per answer.
    pub etag_header: HeaderValue,
    pub gzip_etag_header: Option<HeaderValue>,
}

impl CachedTile {
    /// Wraps freshly rendered bytes: computes the ETag and the gzip encoding once.
    pub fn new(raw: Vec<u8>, compress: bool) -> CachedTile {
        let gzip = if compress && raw.len() > 64 {
            gzip(&raw).filter(|gz| gz.len() < raw.len())
        } else {
            None
        };
        CachedTile::assemble(raw, gzip)
    }

    /// The tile of `raw` and its gzip encoding, with the ETags and their header values.
    fn assemble(raw: Vec<u8>, gzip: Option<Vec<u8>>) -> CachedTile {
        let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&raw));
        let etag_header = HeaderValue::from_str(&etag).expect("hex ETag is a valid header");
        let gzip_etag_header = gzip.as_ref().map(|_| {
            HeaderValue::from_str(&format!("{}-gz\"", etag.trim_end_matches('"')))
                .expect("hex ETag is a valid header")
        });
        CachedTile {
            raw: exact_bytes(raw),
            gzip: gzip.map(exact_bytes),
            etag,
            etag_header,
            gzip_etag_header,
        }
    }

    /// Wraps a tile as an archive stores it (gzip, as `lifecircle export` writes vector tiles,
    /// or uncompressed): the same raw bytes, gzip and ETag as [`CachedTile::new`] gives for the
    /// rendered tile, since the archive holds the server's own gzip bytes.
    pub fn from_stored(stored: Vec<u8>) -> std::io::Result<CachedTile> {
        if !stored.starts_with(&[0x1f, 0x8b]) {
            return Ok(CachedTile::new(stored, false));
        }
        let mut raw = Vec::with_capacity(stored.len() * 3);
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&stored[..]), &mut raw)?;
        let gzip = (raw.len() > 64 && stored.len() < raw.len()).then_some(stored);
        Ok(CachedTile::assemble(raw, gzip))
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Memory the cache entry of this tile under `key` takes: the tile's bytes (both encodings),
    /// its key and headers, and the cache's own bookkeeping, each rounded as the allocator does.
    pub fn weight(&self, key: &CacheKey) -> u32 {
        let buffers = [
            self.raw.len(),
            self.gzip.as_ref().map_or(0, Bytes::len),
            self.etag.capacity(),
            self.etag_header.len(),
            self.gzip_etag_header.as_ref().map_or(0, HeaderValue::len),
            // The key's variant: `Arc<str>` header and text.
            16 + key.variant.len(),
        ];
        let bytes = ENTRY_OVERHEAD + buffers.into_iter().map(allocated).sum::<usize>();
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// Bytes one cache entry costs besides its buffers: the key and `Arc<CachedTile>` (header and
/// struct), each `Bytes`' shared control block once the tile has been sent, moka's per-entry
/// records (entry info, access-order node, hash-table slot at its load factor), and the
/// allocator's fragmentation as entries are evicted and replaced. Calibrated with the soak script
/// (`scripts/soak.sh`: random tile variants, so the cache churns): with 640 bytes resident
/// memory settled at 1.33 × `cache.max_bytes` over the idle process; this keeps it under 1.25.
const ENTRY_OVERHEAD: usize = 1536;

/// Bytes the allocator hands out for a request of `n`: nothing for an empty buffer, else `n`
/// rounded up to its size class (mimalloc spaces them at most an eighth apart).
fn allocated(n: usize) -> usize {
    match n {
        0 => 0,
        1..=64 => n.next_multiple_of(16),
        _ => n + n / 8,
    }
}

/// Vector capacity beyond the length would be held for the tile's lifetime; cached tiles keep
/// exactly their bytes.
fn exact_bytes(mut bytes: Vec<u8>) -> Bytes {
    bytes.shrink_to_fit();
    Bytes::from(bytes)
}

/// gzip at the level every tile is compressed with, so archives hold the bytes the server sends.
pub fn gzip(raw: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::new(6));
    encoder.write_all(raw).ok()?;
    encoder.finish().ok()
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: std::sync::atomic::AtomicU64,
    pub misses: std::sync::atomic::AtomicU64,
    /// Tiles rendered, by tile set (`facilities`, `basemap`, `coverage.png`, `coverage.mvt`).
    pub renders: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl CacheStats {
    fn count_render(&self, key: &CacheKey) {
        let variant = &*key.variant;
        let set = match variant.split(['?', '/']).next().unwrap_or(variant) {
            "coverage" => match variant.rsplit_once('.') {
                Some((_, ext)) => format!("coverage.{ext}"),
                None => "coverage".to_owned(),
            },
            other => other.to_owned(),
        };
        *self
            .renders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(set)
            .or_default() += 1;
    }
}

/// The shared tile cache.
#[derive(Clone)]
pub struct TileCache {
    inner: moka::sync::Cache<CacheKey, Arc<CachedTile>>,
    pub stats: Arc<CacheStats>,
}

impl TileCache {
    pub fn new(max_bytes: u64) -> TileCache {
        let inner = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &CacheKey, tile: &Arc<CachedTile>| tile.weight(key))
            .build();
        TileCache {
            inner,
            stats: Arc::default(),
        }
    }

    /// The cached tile, without rendering. Cheap; safe on the async executor.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<CachedTile>> {
        let hit = self.inner.get(key);
        let counter = if hit.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        hit
    }

    /// The cached tile if there is one and `take` accepts it, counted as a hit; otherwise
    /// `None`, counted as nothing (the caller asks again with [`TileCache::get`]).
    pub fn get_hit(
        &self,
        key: &CacheKey,
        take: impl FnOnce(&CachedTile) -> bool,
    ) -> Option<Arc<CachedTile>> {
        let hit = self.inner.get(key).filter(|tile| take(tile))?;
        self.stats
            .hits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(hit)
    }

    /// The cached tile, rendering and storing it on a miss. Blocks while rendering (or while
    /// another thread renders the same key): call from a blocking thread.
    pub fn get_or_render<E: Send + Sync + 'static>(
        &self,
        key: CacheKey,
        render: impl FnOnce() -> Result<CachedTile, E>,
    ) -> Result<Arc<CachedTile>, Arc<E>> {
        let stats = &self.stats;
        self.inner.try_get_with(key.clone(), || {
            stats.count_render(&key);
            render().map(Arc::new)
        })
    }

    /// Stores a tile made elsewhere (read from an archive).
    pub fn insert(&self, key: CacheKey, tile: Arc<CachedTile>) {
        self.inner.insert(key, tile);
    }

    pub fn contains(&self, key: &CacheKey) -> bool {
        self.inner.contains_key(key)
    }

    /// Stored bytes and entry count (approximate until pending maintenance runs).
    pub fn usage(&self) -> (u64, u64) {
        self.inner.run_pending_tasks();
        (self.inner.weighted_size(), self.inner.entry_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_made_once_and_round_trips() {
        let raw: Vec<u8> = (0..4000u32).flat_map(|i| (i % 7).to_le_bytes()).collect();
        let tile = CachedTile::new(raw.clone(), true);
        let gz = tile.gzip.as_ref().expect("repetitive bytes compress");
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, raw);
        assert!(tile.etag.starts_with('"') && tile.etag.ends_with('"'));
        assert!(CachedTile::new(Vec::new(), true).is_empty());
    }

    #[test]
    fn concurrent_misses_render_once() {
        let cache = TileCache::new(1 << 20);
        let renders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let key = CacheKey {
            version: 1,
            variant: "facilities".into(),
            tile: TileKey::new(0, 0, 0).unwrap(),
        };
        std::thread::scope(|s| {
            for _ in 0..8 {
                let (cache, renders, key) = (cache.clone(), renders.clone(), key.clone());
                s.spawn(move || {
                    cache
                        .get_or_render::<()>(key, || {
                            renders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            Ok(CachedTile::new(vec![1, 2, 3], true))
                        })
                        .unwrap();
                });
            }
        });
        assert_eq!(renders.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
