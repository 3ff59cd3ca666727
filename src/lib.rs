//! lifecircle: a vector tile server for 15-minute community life circles.
//!
//! Modules in pipeline order: `config` and `taxonomy` say what to serve; `ingest` reads
//! FlatGeobuf files; `dataset` indexes them; `tiles` renders facility MVT; `snapshot` bundles one
//! data version; `cache` keeps rendered tiles; `state` holds what requests share; `http` answers.
//! `generate` writes the synthetic sample data. See ARCHITECTURE.md for the map.

pub mod cache;
pub mod config;
pub mod dataset;
pub mod generate;
pub mod geom;
pub mod http;
pub mod ingest;
pub mod snapshot;
pub mod state;
pub mod taxonomy;
pub mod tiles;

use std::sync::Arc;

/// Serves `state` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    state: Arc<state::AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
