//! The answer to a cached tile, given before the layer stack: a `GET` of a default facility or
//! basemap tile (`/tiles/{source}/{z}/{x}/{y}.mvt|.pbf`, no query) that is in the tile cache
//! takes its bytes and headers straight from the cache, the CORS headers the stack would add,
//! and its count in the request metrics; everything else goes through the stack.
//!
//! The answer is the stack's answer, header for header (a test compares them): only answers the
//! stack would pass through unchanged are given here (gzip bytes, 204, 304: nothing for the
//! compression layer to do; a short target; no body; no error), and none while the request
//! log of `tower_http` is enabled at debug level, so that log stays complete. What it skips is
//! the per-request cost of the stack: its boxed futures and clones, the request span, the
//! routing and extractors, which make most of a cached tile's time besides writing it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use tower::{Layer, Service};
use tower_http::cors::CorsLayer;

use super::meta::RequestMetrics;
use super::respond::{self, TileRequest};
use super::tiles::{MVT_CONTENT_TYPE, parse_tile_address};
use crate::attributes::StatusSet;
use crate::state::{AppState, FACILITIES_SOURCE, VectorTileSet};
use crate::tiles::basemap::BASEMAP_SOURCE;
use crate::tiles::{CategoryFilter, Datum};

/// The route template the request metrics count tiles under.
const TILE_ROUTE: &str = "/tiles/{source}/{z}/{x}/{y}";

/// Answers cached tiles in front of the service it wraps.
#[derive(Clone)]
pub struct CachedTilesLayer {
    shared: Arc<Shared>,
}

struct Shared {
    state: Arc<AppState>,
    metrics: Arc<RequestMetrics>,
    /// The headers the CORS layer adds to a `GET` answer.
    cors: HeaderMap,
    max_uri_bytes: usize,
}

impl CachedTilesLayer {
    /// `None` when the CORS layer's headers depend on the request (then every tile goes
    /// through the stack).
    pub fn new(
        state: Arc<AppState>,
        metrics: Arc<RequestMetrics>,
        cors: &CorsLayer,
    ) -> Option<CachedTilesLayer> {
        let plain = cors_headers(cors, None)?;
        let with_origin = cors_headers(cors, Some("http://client.example"))?;
        if plain != with_origin {
            return None;
        }
        let max_uri_bytes = state.config.server.max_uri_bytes;
        Some(CachedTilesLayer {
            shared: Arc::new(Shared {
                state,
                metrics,
                cors: plain,
                max_uri_bytes,
            }),
        })
    }
}

impl<S> Layer<S> for CachedTilesLayer {
    type Service = CachedTiles<S>;

    fn layer(&self, inner: S) -> CachedTiles<S> {
        CachedTiles {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service of [`CachedTilesLayer`].
#[derive(Clone)]
pub struct CachedTiles<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request> for CachedTiles<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.shared.answer(&request) {
            Some(response) => Answer::Cached(Some(response)),
            None => Answer::Stack(self.inner.call(request)),
        }
    }
}

/// A cached tile's answer, or the stack's.
pub enum Answer<F> {
    Cached(Option<Response>),
    Stack(F),
}

impl<F: Future<Output = Result<Response, Infallible>> + Unpin> Future for Answer<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Cached(response) => Poll::Ready(Ok(response
                .take()
                .expect("an answer is polled to its end once"))),
            Answer::Stack(future) => Pin::new(future).poll(cx),
        }
    }
}

impl Shared {
    /// The answer when `request` asks for a cached default tile that the stack would send as
    /// it is; `None` to let the stack answer.
    fn answer(&self, request: &Request) -> Option<Response> {
        let started = Instant::now();
        let uri = request.uri();
        if request.method() != Method::GET
            || uri.query().is_some()
            || uri.path().len() > self.max_uri_bytes
            || axum::body::HttpBody::size_hint(request.body()).exact() != Some(0)
            || tracing::enabled!(target: "tower_http::trace::on_request", tracing::Level::DEBUG)
            || tracing::enabled!(target: "tower_http::trace::on_response", tracing::Level::DEBUG)
        {
            return None;
        }
        let mut segments = uri.path().strip_prefix("/tiles/")?.split('/');
        let (source, z, x, y_ext) = (
            segments.next()?,
            segments.next()?,
            segments.next()?,
            segments.next()?,
        );
        if segments.next().is_some() {
            return None;
        }
        let set = match source {
            FACILITIES_SOURCE => VectorTileSet::Facilities {
                filter: CategoryFilter::all(),
                datum: Datum::Wgs84,
                statuses: StatusSet::EXISTING,
            },
            BASEMAP_SOURCE => VectorTileSet::Basemap,
            _ => return None,
        };
        let tile = parse_tile_address(z, x, y_ext, &["mvt", "pbf"]).ok()?;
        let snapshot = self.state.snapshot.load();
        let key = set.cache_key(&snapshot, tile);
        let reading = TileRequest::from_headers(request.headers());
        let cached = self.state.cache.get_hit(&key, |cached| {
            // What the compression layer would leave alone: no body, or gzip bytes.
            cached.is_empty() || reading.gets_gzip(cached)
        })?;
        self.state
            .requests_in_flight
            .fetch_add(1, Ordering::Relaxed);
        let mut response = respond::tile_for(&cached, MVT_CONTENT_TYPE, &reading);
        let headers = response.headers_mut();
        for (name, value) in &self.cors {
            headers.append(name, value.clone());
        }
        self.metrics
            .record(TILE_ROUTE, response.status().as_u16(), started.elapsed());
        self.state
            .requests_in_flight
            .fetch_sub(1, Ordering::Relaxed);
        Some(response)
    }
}

/// The headers `cors` adds to the answer of a `GET` (with an `Origin` header, or without).
fn cors_headers(cors: &CorsLayer, origin: Option<&str>) -> Option<HeaderMap> {
    let mut service = cors.clone().layer(tower::service_fn(|_: Request| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }));
    let mut request = Request::get("/tiles/facilities/0/0/0.mvt");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    let request = request.body(Body::empty()).ok()?;
    let mut cx = Context::from_waker(Waker::noop());
    if !matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
        return None;
    }
    let mut future = std::pin::pin!(service.call(request));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(response)) => Some(response.headers().clone()),
        _ => None,
    }
}
