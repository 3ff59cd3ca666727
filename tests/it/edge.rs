//! The public edge: malformed requests, slow and surplus connections, proxy trust, shared and
//! bounded analysis work, and shutdown while precompute runs.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, TestServer};

const TOKEN: &str = "edge-test-token-0123456789";

/// A client that waits at most 5 s for any answer.
fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Asserts the error shape: one-line JSON `{"error", "status"}` matching the status, with CORS.
fn assert_error_shape(what: &str, status: u16, headers: &reqwest::header::HeaderMap, body: &str) {
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*"),
        "{what}: {status} without CORS"
    );
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {status} is {content_type:?}: {body:?}"
    );
    assert!(!body.trim_end().contains('\n'), "{what}: not one line");
    let json: Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body:?}"));
    assert_eq!(json["status"], status, "{what}: {body}");
    let message = json["error"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "{what}: empty message: {body}");
}

/// Sends one request and checks the answer: no 5xx, the error shape on every 4xx.
fn check(
    client: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    body: Option<(&str, Vec<u8>)>,
) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method.clone(), url).bearer_auth(TOKEN);
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let shown: String = url.chars().take(120).collect();
    let what = format!("{method} {shown}");
    let response = request
        .send()
        .unwrap_or_else(|e| panic!("{what}: no answer within 5 s: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().unwrap_or_default();
    assert!(status < 500, "{what}: {status} {text}");
    if (400..500).contains(&status) && method != reqwest::Method::HEAD {
        assert_error_shape(&what, status, &headers, &text);
    }
    if status == 405 {
        assert!(headers.contains_key("allow"), "{what}: 405 without Allow");
    }
    status
}

/// The path templates of every route family, with valid values to start from.
const FAMILIES: &[&str] = &[
    "/tiles/facilities/14/13713/6693.mvt",
    "/tiles/basemap/14/13713/6693.pbf",
    "/tiles/facilities.json",
    "/coverage/all/14/13713/6693.png",
    "/coverage/medical/14/13713/6693.mvt",
    "/coverage/medical.json",
    "/coverage/legend",
    "/coverage/legend.png",
    "/coverage/stats",
    "/coverage/gaps?category=medical",
    "/coverage/suggest?category=medical&k=2",
    "/coverage/at?lon=121.42&lat=31.22",
    "/styles/lifecircle.json",
    "/search?q=school",
    "/search/suggest?q=sch",
    "/features/1",
    "/catalog",
    "/health",
    "/ready",
    "/metrics",
    "/",
    "/assets/app.js",
    "/assets/maplibre-gl/maplibre-gl.mjs",
    "/feedback",
    "/admin/feedback",
    "/admin/feedback/1",
    "/admin/facilities/1",
    "/no/such/route",
];

/// Variants of `template`: each path segment replaced by bad percent-encodings, tile addresses
/// out of range and non-numeric, repeated and unknown parameters.
fn variants(template: &str) -> Vec<String> {
    let (path, query) = template.split_once('?').unwrap_or((template, ""));
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let with_query = |p: String| {
        if query.is_empty() {
            p
        } else {
            format!("{p}?{query}")
        }
    };
    let mut out = vec![template.to_owned()];
    for i in 0..segments.len() {
        for bad in ["%FF", "%ZZ", "%", "%C0%AF", "a%00b", "%E4%B8"] {
            let mut s = segments.clone();
            s[i] = bad;
            out.push(with_query(format!("/{}", s.join("/"))));
        }
    }
    if segments.len() >= 4 {
        let n = segments.len();
        for (z, x, y) in [
            ("30", "0", "0"),
            ("14", "99999999", "1"),
            ("14", "1", "99999999999999999999"),
            ("a", "b", "c"),
            ("-1", "0", "0"),
            ("1.5", "0", "0"),
        ] {
            let ext = segments[n - 1].rsplit_once('.').map_or("mvt", |(_, e)| e);
            let mut s = segments.clone();
            s[n - 3] = z;
            s[n - 2] = x;
            let y = format!("{y}.{ext}");
            s[n - 1] = &y;
            out.push(with_query(format!("/{}", s.join("/"))));
        }
    }
    let sep = if query.is_empty() { '?' } else { '&' };
    out.push(format!("{template}{sep}profile=standard&profile=elderly"));
    out.push(format!("{template}{sep}bogus=1"));
    out.push(format!("{template}{sep}k=%FF&q=%ZZ&category="));
    out.push(format!("{template}{sep}=&&=="));
    out
}

#[test]
fn malformed_requests_get_the_json_error_shape() {
    // A stand-in MapLibre GL JS install, so asset ranges are served by the real file server.
    let maplibre = tempfile::tempdir().unwrap();
    let dist = maplibre.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(
        maplibre.path().join("package.json"),
        r#"{"version": "0.0.0"}"#,
    )
    .unwrap();
    std::fs::write(dist.join("maplibre-gl.mjs"), "export default {};\n").unwrap();
    let server = support::spawn(&format!(
        "[admin]\ntoken = \"{TOKEN}\"\n[feedback]\nrate_limit_burst = 100000\nrate_limit_per_minute = 100000\n[web]\nmaplibre_dist = \"{}\"\n",
        dist.display()
    ));
    let client = client();
    let mut n_requests = 0;
    let mut n_4xx = 0;
    for template in FAMILIES {
        for path in variants(template) {
            for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
                let status = check(&client, method, &server.url(&path), None);
                n_requests += 1;
                n_4xx += usize::from((400..500).contains(&status));
            }
        }
        // Oversized target: JSON 414 below hyper's own limit.
        let long = format!("{template}{}", "x".repeat(9000));
        assert_eq!(check(&client, "GET", &server.url(&long), None), 414);
        let long_query = format!("{template}?q={}", "%E4%B8%AD".repeat(3000));
        assert_eq!(check(&client, "GET", &server.url(&long_query), None), 414);
        // Bodies: oversized, wrong type, bad JSON, on every method that takes one.
        for method in ["POST", "PATCH", "PUT"] {
            for (content_type, body) in [
                ("application/json", vec![b'{'; 70_000]),
                (
                    "text/plain",
                    b"{\"kind\":\"other\",\"message\":\"x\"}".to_vec(),
                ),
                ("application/x-www-form-urlencoded", b"kind=other".to_vec()),
                ("application/json", b"{\"kind\": ".to_vec()),
                ("application/json", b"\xff\xfe\x00".to_vec()),
                ("application/json", b"[1, 2]".to_vec()),
                (
                    "application/json",
                    b"{\"kind\":\"other\",\"message\":1e999}".to_vec(),
                ),
            ] {
                let status = check(
                    &client,
                    method,
                    &server.url(template),
                    Some((content_type, body.clone())),
                );
                n_requests += 1;
                n_4xx += usize::from((400..500).contains(&status));
                if body.len() > 65_536 {
                    assert_eq!(status, 413, "{method} {template} with a 70 KB body");
                }
            }
        }
    }
    // The documented answers of the feedback route.
    let feedback = server.url("/feedback");
    let post = |content_type: &str, body: &[u8]| {
        check(
            &client,
            "POST",
            &feedback,
            Some((content_type, body.to_vec())),
        )
    };
    assert_eq!(post("application/json", &[b' '; 70_000]), 413);
    assert_eq!(post("text/plain", b"{}"), 415);
    assert_eq!(post("application/json", b"not json"), 400);
    // A range the asset cannot satisfy.
    let response = client
        .get(server.url("/assets/maplibre-gl/maplibre-gl.mjs"))
        .header("range", "bytes=999999999-")
        .send()
        .unwrap();
    assert_eq!(response.status(), 416);
    let headers = response.headers().clone();
    assert_eq!(headers["content-range"], "bytes */19");
    assert_error_shape("range", 416, &headers, &response.text().unwrap());
    // A method the route does not take: 405 naming the allowed ones.
    let response = client.delete(server.url("/catalog")).send().unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    let json: Value = response.json().unwrap();
    assert!(json["error"].as_str().unwrap().contains("DELETE"), "{json}");
    eprintln!("{n_requests} malformed requests, {n_4xx} answered 4xx");
    assert!(n_4xx > n_requests / 2, "most of these requests are bad");
}

/// Reads from `stream` until the server closes it; gives what was read.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(out),
            Err(_) => return None,
        }
    }
}

#[test]
fn slow_connections_are_closed_while_health_answers() {
    let server = support::spawn(&format!(
        "[admin]\ntoken = \"{TOKEN}\"\n[server]\nheader_read_timeout_s = 1.0\nbody_read_timeout_s = 1.0\nkeep_alive_timeout_s = 0.5\n"
    ));
    let addr = server.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..200 {
        let mut stream = TcpStream::connect(&addr).unwrap();
        let head = match i % 4 {
            // Headers never finished.
            0 => "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_owned(),
            1 => "GET /tiles/facilit".to_owned(),
            // Bodies never finished, public and admin.
            2 => "POST /feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"kind\":".to_owned(),
            _ => format!(
                "PATCH /admin/feedback/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"st"
            ),
        };
        stream.write_all(head.as_bytes()).unwrap();
        slow.push((i, stream));
    }
    // A kept-alive connection that goes idle after one answer.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Meanwhile the server answers.
    let client = client();
    for _ in 0..5 {
        let response = client.get(server.url("/health")).send().unwrap();
        assert_eq!(response.status(), 200);
    }
    for (i, stream) in &mut slow {
        let answer = read_until_closed(stream, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("slow connection {i} still open"));
        let text = String::from_utf8_lossy(&answer);
        if *i % 4 < 2 {
            // hyper closes a connection whose head did not arrive in time without an answer.
            assert!(answer.is_empty(), "connection {i}: {text}");
        } else {
            assert!(text.starts_with("HTTP/1.1 408"), "connection {i}: {text}");
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{text}"));
            assert_eq!(json["status"], 408);
        }
    }
    let answer = read_until_closed(&mut idle, Duration::from_secs(10)).expect("idle closed");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    // With 1 s limits everything closed well before the client timeouts would have.
    let elapsed = started.elapsed();
    eprintln!("200 slow connections closed within {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metric(&metrics, "lifecircle_http_connections_idle_closed_total") >= 1.0);
}

#[test]
fn connections_beyond_the_cap_get_503() {
    let server = support::spawn("[server]\nmax_connections = 3\n");
    let addr = server.base.trim_start_matches("http://").to_owned();
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 64];
            stream.read_exact(&mut buf).unwrap();
            stream
        })
        .collect();
    let mut extra = TcpStream::connect(&addr).unwrap();
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answer = read_until_closed(&mut extra, Duration::from_secs(5)).expect("answered");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    let json: Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], 503);
    drop(held);
}

/// The value of an unlabelled metric, or of the labelled one `name{labels}`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

fn post_feedback(server: &TestServer, headers: &[(&str, &str)]) -> u16 {
    let mut request = client()
        .post(server.url("/feedback"))
        .header("content-type", "application/json")
        .body(r#"{"kind": "suggestion", "message": "more benches in the park"}"#);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().unwrap().status().as_u16()
}

fn tilejson_tiles_url(server: &TestServer, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = client().get(server.url("/tiles/facilities.json"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().unwrap();
    assert_eq!(response.status(), 200);
    let vary: Vec<String> = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let json: Value = response.json().unwrap();
    (
        json["tiles"][0].as_str().unwrap().to_owned(),
        vary.join(", "),
    )
}

const SPOOFED: &[(&str, &str)] = &[
    ("x-forwarded-host", "attacker.example"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-for", "203.0.113.7"),
];

#[test]
fn forwarded_headers_from_an_untrusted_peer_change_nothing() {
    let server = support::spawn("[feedback]\nrate_limit_burst = 2\nrate_limit_per_minute = 1\n");
    let (url, vary) = tilejson_tiles_url(&server, SPOOFED);
    assert!(url.starts_with(&format!("{}/tiles/", server.base)), "{url}");
    assert!(vary.contains("Host"), "{vary}");
    let (url, _) = tilejson_tiles_url(
        &server,
        &[(
            "forwarded",
            "for=203.0.113.7;host=attacker.example;proto=https",
        )],
    );
    assert!(url.starts_with(&format!("{}/tiles/", server.base)), "{url}");
    // One bucket for the peer, whatever address the headers claim.
    for i in 0..2 {
        let claimed = format!("198.51.100.{i}");
        assert_eq!(
            post_feedback(&server, &[("x-forwarded-for", &claimed)]),
            201
        );
    }
    assert_eq!(
        post_feedback(&server, &[("x-forwarded-for", "198.51.100.99")]),
        429
    );
}

#[test]
fn forwarded_headers_from_a_trusted_proxy_set_the_url_and_the_client() {
    let server = support::spawn(
        "[server]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n[feedback]\nrate_limit_burst = 2\nrate_limit_per_minute = 1\n",
    );
    let (url, vary) = tilejson_tiles_url(&server, SPOOFED);
    assert!(
        url.starts_with("https://attacker.example/tiles/facilities/"),
        "{url}"
    );
    assert!(vary.contains("X-Forwarded-Host"), "{vary}");
    let (url, _) = tilejson_tiles_url(
        &server,
        &[(
            "forwarded",
            "for=203.0.113.7;host=maps.example.cn;proto=https",
        )],
    );
    assert!(url.starts_with("https://maps.example.cn/"), "{url}");
    // Without headers the peer's own Host applies.
    let (url, _) = tilejson_tiles_url(&server, &[]);
    assert!(url.starts_with(&server.base), "{url}");
    // The rate limit keys on the forwarded client.
    let alice = [("x-forwarded-for", "198.51.100.1")];
    assert_eq!(post_feedback(&server, &alice), 201);
    assert_eq!(post_feedback(&server, &alice), 201);
    assert_eq!(post_feedback(&server, &alice), 429);
    let bob = [("x-forwarded-for", "198.51.100.2")];
    assert_eq!(post_feedback(&server, &bob), 201);
    // A client-forged hop before the proxy's does not escape the bucket.
    let forged = [("x-forwarded-for", "10.9.9.9, 198.51.100.1")];
    assert_eq!(post_feedback(&server, &forged), 429);
}

#[test]
fn identical_analyses_compute_once_and_distinct_ones_beyond_the_limit_get_503() {
    let server = support::spawn("[server]\nmax_concurrent_analyses = 1\n");
    let route = "lifecircle_analysis_computations_total{route=\"/coverage/suggest\"}";
    let computed = || {
        let text = client()
            .get(server.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        metric(&text, route)
    };
    let before = computed();
    let url = server.url("/coverage/suggest?category=elderly&k=7");
    let barrier = Arc::new(Barrier::new(50));
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (barrier, url) = (barrier.clone(), url.clone());
                s.spawn(move || {
                    let client = client();
                    barrier.wait();
                    let response = client.get(&url).send().unwrap();
                    (response.status().as_u16(), response.text().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, &answers[0].1);
    }
    assert_eq!(
        computed(),
        before + 1.0,
        "fifty identical requests, one computation"
    );

    // Distinct requests beyond the limit of one: refused with 503 and Retry-After, not queued.
    let categories = [
        "medical",
        "education",
        "kindergarten",
        "market",
        "park",
        "pharmacy",
    ];
    let mut n_busy = 0;
    for round in 0..5 {
        let barrier = Arc::new(Barrier::new(12));
        let statuses: Vec<(u16, Option<String>, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..12)
                .map(|i| {
                    let barrier = barrier.clone();
                    let url = server.url(&format!(
                        "/coverage/suggest?category={}&k={}",
                        categories[i % categories.len()],
                        10 + round * 12 + i / categories.len()
                    ));
                    s.spawn(move || {
                        let client = client();
                        barrier.wait();
                        let response = client.get(&url).send().unwrap();
                        let retry = response
                            .headers()
                            .get("retry-after")
                            .map(|v| v.to_str().unwrap().to_owned());
                        (response.status().as_u16(), retry, response.json().unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (status, retry, json) in statuses {
            match status {
                200 => {}
                503 => {
                    n_busy += 1;
                    assert_eq!(retry.as_deref(), Some("1"), "{json}");
                    assert_eq!(json["status"], 503);
                }
                other => panic!("{other}: {json}"),
            }
        }
        if n_busy > 0 {
            break;
        }
    }
    assert!(
        n_busy > 0,
        "some of twelve distinct concurrent requests were refused"
    );
}

/// The real binary on a generated data set; SIGKILLed if still running when dropped.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    fn start(config: &std::path::Path) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifecircle"))
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("LIFECIRCLE_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting lifecircle");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':'))
                        .collect();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("lifecircle did not start: {:?}", child.try_wait()));
        Process {
            child,
            base: format!("http://{addr}"),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn analyses_answer_while_precompute_runs_and_sigterm_exits_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    lifecircle_generate::write_dataset(
        &lifecircle_generate::GenerateOptions::shanghai(20_000),
        &data,
    )
    .unwrap();
    let config = dir.path().join("lifecircle.toml");
    std::fs::write(
        &config,
        "[data]\nfacilities = \"data/facilities.fgb\"\nroads = \"data/roads.fgb\"\n\
         subdistricts = \"data/subdistricts.fgb\"\nresidents = \"data/residents.fgb\"\n\
         [cache]\nprecompute_maxzoom = 16\n[coverage]\ncell_m = 100.0\nprecompute_maxzoom = 16\n",
    )
    .unwrap();
    let process = Process::start(&config);
    let client = client();
    let ready = || -> Value {
        client
            .get(format!("{}/ready", process.base))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    // Wait until the precompute has rendered something: it is working, not just started.
    let waiting = Instant::now();
    let before = loop {
        let answer = ready();
        let done = answer["precompute"]["done"].as_u64();
        if done.unwrap_or_else(|| panic!("GET /ready: {answer}")) > 0
            || waiting.elapsed() > Duration::from_secs(30)
        {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(before["ready"], true, "{before}");
    assert_eq!(before["precompute"]["state"], "running", "{before}");
    assert!(
        before["precompute"]["done"].as_u64().unwrap() > 0,
        "{before}"
    );
    let stats = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("{}/coverage/stats", process.base))
        .send()
        .unwrap();
    assert_eq!(stats.status(), 200);
    let stats: Value = stats.json().unwrap();
    assert!(stats["total"]["population"].as_u64().unwrap() > 0);
    let after = ready();
    assert_eq!(after["precompute"]["state"], "running", "{after}");
    let (done, total) = (
        after["precompute"]["done"].as_u64().unwrap(),
        after["precompute"]["total"].as_u64().unwrap(),
    );
    assert!(done < total, "{after}");
    eprintln!("precompute at {done} of {total} tiles when /coverage/stats answered");

    let mut process = process;
    let pid = process.child.id() as libc::pid_t;
    // SAFETY: kill has no memory-safety preconditions; pid is our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("exited {status} {:?} after SIGTERM", signalled.elapsed());
    assert!(status.success(), "{status}");
}

#[test]
fn ready_reports_the_last_reload_and_versions_count_only_successes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    support::copy_sample_data(&data);
    let server = support::spawn_with(
        &format!(
            "[admin]\ntoken = \"{TOKEN}\"\n[cache]\nprecompute_maxzoom = 0\n[data]\nfacilities = \"data/facilities.fgb\"\nroads = \"data/roads.fgb\"\nsubdistricts = \"data/subdistricts.fgb\"\nresidents = \"data/residents.fgb\"\n"
        ),
        dir.path(),
    );
    let ready = || support::get_json(&server.url("/ready"));
    let reload = || {
        client()
            .post(server.url("/admin/reload"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let first = ready();
    assert_eq!(first["ready"], true);
    assert_eq!(first["data"]["version"], 1);
    assert_eq!(first["last_reload"], Value::Null);
    // Precompute is not started by the test server until a reload.
    assert_eq!(first["precompute"]["state"], "idle");
    let health = support::get_json(&server.url("/health"));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["data_version"], 1);

    let original = std::fs::read(data.join("facilities.fgb")).unwrap();
    std::fs::write(data.join("facilities.fgb"), b"not a flatgeobuf file").unwrap();
    for _ in 0..2 {
        assert_eq!(reload(), 422);
    }
    let after_failures = ready();
    assert_eq!(after_failures["data"]["version"], 1);
    assert_eq!(after_failures["last_reload"]["result"], "failed");
    assert!(
        after_failures["last_reload"]["error"]
            .as_str()
            .unwrap()
            .contains("facilities.fgb"),
        "{after_failures}"
    );

    std::fs::write(data.join("facilities.fgb"), &original).unwrap();
    assert_eq!(reload(), 200);
    let reloaded = ready();
    assert_eq!(
        reloaded["data"]["version"], 2,
        "failed reloads took no number"
    );
    assert_eq!(reloaded["last_reload"]["result"], "ok");
    assert_eq!(reloaded["last_reload"]["data_version"], 2);
    assert_eq!(reloaded["precompute"]["data_version"], 2);
    let state = reloaded["precompute"]["state"].as_str().unwrap();
    assert!(["running", "finished"].contains(&state), "{reloaded}");
    assert_eq!(post_feedback(&server, &[]), 201);
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let reports = |status: &str| {
        metric(
            &metrics,
            &format!("lifecircle_feedback_reports{{status=\"{status}\"}}"),
        )
    };
    assert_eq!(reports("open"), 1.0, "{metrics}");
    assert_eq!(reports("resolved"), 0.0, "{metrics}");
    assert!(metrics.contains("lifecircle_feedback_reports{status=\"resolved\"} 0"));
}
