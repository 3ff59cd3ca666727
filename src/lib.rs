//! lifecircle: a vector tile server for 15-minute community life circles.
//!
//! Modules in pipeline order: `config` and `taxonomy` say what to serve; `ingest` reads
//! FlatGeobuf files; `dataset` indexes them; `tiles` renders facility MVT; `snapshot` bundles one
//! data version; `search` finds facilities by keyword and place, and `navigation` links them
//! to map apps; `cache` keeps rendered tiles; `feedback` stores residents' reports; `state` holds
//! what requests share; `http` answers.
//! `osm` imports OpenStreetMap extracts; `fgb_write` writes FlatGeobuf files (for it and the
//! generator, `crates/lifecircle-generate`). See
//! ARCHITECTURE.md for the map.

pub mod analysis_cache;
pub mod archive;
pub mod area;
pub mod attributes;
pub mod cache;
pub mod config;
pub mod coverage;
pub mod dataset;
pub mod evaluation;
pub mod export;
pub mod feedback;
pub mod fgb_write;
pub mod geom;
pub mod http;
pub mod ingest;
pub mod maps;
pub mod navigation;
pub mod osm;
pub mod report;
pub mod road_classes;
pub mod search;
pub mod service_load;
pub mod snapshot;
pub mod state;
pub mod taxonomy;
pub mod tilejson_doc;
pub mod tiles;
pub mod time;

use std::sync::Arc;

/// Tile rendering makes many small, short-lived allocations; glibc's allocator spends more time
/// consolidating them than the renderer spends encoding. Set here rather than in `main.rs` so
/// benchmarks and tests measure the allocator the server runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes the allocator hand freed memory back to the system at once instead of keeping it
/// committed for reuse. Tile renders on many threads free megabytes each; with mimalloc's
/// defaults (eagerly committed arenas, purging after 10 ms) the server held about 200 MB more
/// than its cache and data under the soak (`scripts/soak.sh`), which this removes at no
/// measurable cost in throughput. A `MIMALLOC_*` environment variable for an option wins. Call
/// it before the first allocation (the binary does, from a constructor).
pub fn tune_allocator() {
    // mimalloc's `mi_option_t` values, the same in its v2 and v3.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    for (option, env, value) in [
        (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0),
        (PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 0),
    ] {
        if std::env::var_os(env).is_none() {
            // SAFETY: mi_option_set only stores a value in mimalloc's option table; both
            // options are read at each arena reservation and purge.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests finish
/// for at most `server.shutdown_grace_s` and stops background work.
pub async fn serve(
    state: Arc<state::AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = http::router(state.clone());
    let result = http::server::serve(
        &state.config.server,
        state.connections.clone(),
        app,
        listener,
        shutdown,
    )
    .await;
    state.shut_down();
    result
}
