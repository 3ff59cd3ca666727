//! The connection layer: a TCP listener and a router → served HTTP/1.1 connections, each under
//! the `[server]` limits.
//!
//! hyper reads each request head within `header_read_timeout_s`; a watchdog closes a keep-alive
//! connection idle for `keep_alive_timeout_s`; at most `max_connections` are served at once, and
//! a connection beyond that gets a one-line JSON 503 and is closed without being read. On
//! shutdown the listener closes, every connection finishes its current request (for at most
//! `shutdown_grace_s`) and the rest are dropped, which cancels their work.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::config::ServerConfig;

/// The limits of the connection layer, from `[server]`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    keep_alive_timeout: Duration,
    shutdown_grace: Duration,
    max_connections: usize,
}

impl From<&ServerConfig> for Limits {
    fn from(config: &ServerConfig) -> Limits {
        Limits {
            header_read_timeout: config.header_read_timeout(),
            keep_alive_timeout: config.keep_alive_timeout(),
            shutdown_grace: config.shutdown_grace(),
            max_connections: config.max_connections,
        }
    }
}

/// Connection counts for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    pub open: AtomicUsize,
    pub accepted: AtomicU64,
    /// Connections turned away with 503 because `max_connections` were open.
    pub refused: AtomicU64,
    pub idle_closed: AtomicU64,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains connections for at most
/// the grace period.
pub async fn serve(
    config: &ServerConfig,
    stats: Arc<ConnectionStats>,
    app: Router,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::from(config);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, or a connection reset before it was taken:
                        // back off briefly rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (app, stop, stats) = (app.clone(), stop_rx.clone(), stats.clone());
                        connections.spawn(async move {
                            stats.open.fetch_add(1, Ordering::Relaxed);
                            serve_connection(stream, peer, app, limits, stop, &stats).await;
                            stats.open.fetch_sub(1, Ordering::Relaxed);
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        stats.refused.fetch_add(1, Ordering::Relaxed);
                        connections.spawn(refuse(stream));
                    }
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            n_connections = connections.len(),
            grace_s = limits.shutdown_grace.as_secs_f64(),
            "requests still running after the shutdown grace period; dropping them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// When the connection last finished a request, and how many it is answering now.
#[derive(Debug)]
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` of the last request's end (or of the connection's start).
    last_done_ms: AtomicU64,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_done_ms.load(Ordering::SeqCst));
        Some(self.started.elapsed().saturating_sub(last))
    }
}

/// Marks one request in flight on a connection until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now_ms = self.0.started.elapsed().as_millis() as u64;
        self.0.last_done_ms.store(now_ms, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    stats: &ConnectionStats,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity {
        started: Instant::now(),
        in_flight: AtomicUsize::new(0),
        last_done_ms: AtomicU64::new(0),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::begin(&activity);
            let answer = app.clone().oneshot(request.map(Body::new));
            async move {
                let response = answer.await;
                drop(in_flight);
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let check_every =
        (limits.keep_alive_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !closing => {
                let _ = changed;
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(check_every), if !closing => {
                if activity.idle_for().is_some_and(|idle| idle >= limits.keep_alive_timeout) {
                    closing = true;
                    stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The answer to a connection beyond `max_connections`, written before reading the request.
const OVERLOADED: &str = "HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
cache-control: no-store\r\n\
access-control-allow-origin: *\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 82\r\n\
\r\n\
{\"error\":\"the server is at its connection limit; retry in a second\",\"status\":503}\n";

/// Answers 503 without reading the request, then closes; reads (and discards) what the client
/// sent for a moment first so the close does not reset the connection before the answer is read.
async fn refuse(mut stream: TcpStream) {
    let deadline = Duration::from_secs(1);
    let _ = tokio::time::timeout(deadline, async {
        stream.write_all(OVERLOADED.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut n_read = 0;
        while n_read < 65_536 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => n_read += n,
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_answer_is_well_formed() {
        let (head, body) = OVERLOADED.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 503);
    }
}
