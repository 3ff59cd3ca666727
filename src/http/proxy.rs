//! Who is asking, behind which proxies: the TCP peer, `server.trusted_proxies` and the request's
//! `Forwarded` / `X-Forwarded-For/-Host/-Proto` headers → [`ClientInfo`] (the client's address for
//! rate limits and logs; the host and scheme a trusted proxy was asked for).
//!
//! Forwarding headers are believed only from a trusted peer, and only as far back as the chain of
//! hops stays trusted: the client is the rightmost address in `for=` / `X-Forwarded-For` (after
//! the peer) that is not itself a trusted proxy. From any other peer the headers change nothing.
//! `Forwarded` (RFC 7239) is preferred over the `X-Forwarded-*` headers when both are present.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The request's client, as far as the trusted proxies let us know it.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub addr: IpAddr,
    /// Host (with port) and scheme the client asked a trusted proxy for.
    pub forwarded_host: Option<String>,
    pub forwarded_proto: Option<String>,
    /// Set when the answer's URLs were derived from request headers, so it needs `Vary`.
    pub(super) url_from_headers: Arc<AtomicBool>,
}

impl ClientInfo {
    /// The client of `request`, or the unspecified address for a router driven in-process
    /// (without connection info).
    pub fn of(request: &Request) -> IpAddr {
        request.extensions().get::<ClientInfo>().map_or_else(
            || {
                request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip())
            },
            |info| info.addr,
        )
    }

    pub(super) fn mark_url_from_headers(&self) {
        self.url_from_headers.store(true, Ordering::Relaxed);
    }
}

/// The trusted proxy ranges.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(nets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client behind `peer`, given the request's headers.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> ClientInfo {
        let mut info = ClientInfo {
            addr: canonical(peer),
            forwarded_host: None,
            forwarded_proto: None,
            url_from_headers: Arc::default(),
        };
        if !self.contains(peer) {
            return info;
        }
        let hops = match forwarded_elements(headers) {
            Some(elements) => elements,
            None => x_forwarded(headers),
        };
        // Walk back from the peer while the hops are trusted proxies.
        for hop in hops.iter().rev() {
            if hop.host.is_some() && info.forwarded_host.is_none() {
                info.forwarded_host = hop.host.clone();
            }
            if hop.proto.is_some() && info.forwarded_proto.is_none() {
                info.forwarded_proto = hop.proto.clone();
            }
            match hop.client {
                Some(addr) => {
                    info.addr = canonical(addr);
                    if !self.contains(addr) {
                        break;
                    }
                }
                // `unknown` or an obfuscated name: nothing more can be believed.
                None => break,
            }
        }
        info
    }
}

/// One hop of a forwarding chain: who the proxy got the request from, and what it was asked for.
#[derive(Debug, Default, Clone, PartialEq)]
struct Hop {
    client: Option<IpAddr>,
    host: Option<String>,
    proto: Option<String>,
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The `Forwarded` elements, oldest hop first; `None` without the header.
fn forwarded_elements(headers: &HeaderMap) -> Option<Vec<Hop>> {
    headers.get(header::FORWARDED)?;
    let hops = header_values(headers, "forwarded")
        .map(|element| {
            let mut hop = Hop::default();
            for pair in element.split(';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.client = parse_node(value),
                    "host" => hop.host = Some(value.to_owned()),
                    "proto" => hop.proto = Some(value.to_ascii_lowercase()),
                    _ => {}
                }
            }
            hop
        })
        .collect();
    Some(hops)
}

/// The `X-Forwarded-For` addresses as hops, the last carrying `X-Forwarded-Host/-Proto` (the
/// nearest proxy's view).
fn x_forwarded(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops: Vec<Hop> = header_values(headers, "x-forwarded-for")
        .map(|text| Hop {
            client: parse_node(text),
            ..Hop::default()
        })
        .collect();
    let last = |name| header_values(headers, name).last().map(str::to_owned);
    let (host, proto) = (last("x-forwarded-host"), last("x-forwarded-proto"));
    if host.is_some() || proto.is_some() {
        if hops.is_empty() {
            // Host and scheme without a client address: the peer stays the client.
            hops.push(Hop {
                client: None,
                ..Hop::default()
            });
        }
        let nearest = hops.last_mut().expect("not empty");
        nearest.host = host;
        nearest.proto = proto.map(|p| p.to_ascii_lowercase());
    }
    hops
}

/// An address as forwarding headers write it: `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80`, `::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(addr, _)| addr.parse().ok())
}

/// The `Vary` names an answer with URLs derived from the request needs.
fn url_vary(trusted: &TrustedProxies) -> &'static str {
    if trusted.is_empty() {
        "Host"
    } else {
        "Host, Forwarded, X-Forwarded-Host, X-Forwarded-Proto"
    }
}

/// Middleware: resolves the [`ClientInfo`] of the request; marks answers whose URLs came from
/// the request's headers with `Vary`.
pub async fn client_info(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let info = match peer {
        Some(peer) => trusted.resolve(peer, request.headers()),
        None => ClientInfo {
            addr: IpAddr::from([0, 0, 0, 0]),
            forwarded_host: None,
            forwarded_proto: None,
            url_from_headers: Arc::default(),
        },
    };
    let url_from_headers = info.url_from_headers.clone();
    request.extensions_mut().insert(info);
    let mut response = next.run(request).await;
    if url_from_headers.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static(url_vary(&trusted)));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            list.iter()
                .map(|t| {
                    t.parse::<IpNet>()
                        .unwrap_or_else(|_| IpNet::from(t.parse::<IpAddr>().unwrap()))
                })
                .collect(),
        )
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_headers_change_nothing() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-host", "attacker.example"),
            ("forwarded", "for=5.6.7.8;host=evil;proto=https"),
        ]);
        let info = proxies.resolve(ip("192.0.2.1"), &h);
        assert_eq!(info.addr, ip("192.0.2.1"));
        assert_eq!(info.forwarded_host, None);
        assert_eq!(info.forwarded_proto, None);
    }

    #[test]
    fn trusted_chain_is_walked_back_to_the_first_untrusted_hop() {
        let proxies = trusted(&["10.0.0.0/8", "127.0.0.1"]);
        // The client forged the first entry; the edge proxy 10.0.0.5 appended the real address.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.5"),
            ("x-forwarded-host", "tiles.example.org"),
            ("x-forwarded-proto", "HTTPS"),
        ]);
        let info = proxies.resolve(ip("127.0.0.1"), &h);
        assert_eq!(info.addr, ip("203.0.113.9"));
        assert_eq!(info.forwarded_host.as_deref(), Some("tiles.example.org"));
        assert_eq!(info.forwarded_proto.as_deref(), Some("https"));
    }

    #[test]
    fn forwarded_header_is_preferred_and_parsed() {
        let proxies = trusted(&["::1", "127.0.0.1"]);
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https;host=maps.example.cn",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        let info = proxies.resolve(ip("::ffff:127.0.0.1"), &h);
        assert_eq!(info.addr, ip("2001:db8::7"));
        assert_eq!(info.forwarded_host.as_deref(), Some("maps.example.cn"));
        assert_eq!(info.forwarded_proto.as_deref(), Some("https"));
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(proxies.resolve(ip("::1"), &unknown).addr, ip("::1"));
    }
}
