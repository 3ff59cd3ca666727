//! `POST /feedback` against the real server: stored reports read back through the admin API,
//! every bad-input answer (each stores nothing), idempotent retries, the per-address rate limit,
//! and the crash test (the real binary killed with SIGKILL while reports are in flight).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::{self, TestServer};

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A sample-data server with the admin token set and a rate limit no test reaches.
pub fn server() -> TestServer {
    support::spawn(&format!(
        "[admin]\ntoken = \"{TOKEN}\"\n[cache]\nprecompute_maxzoom = 0\n\
         [feedback]\nrate_limit_per_minute = 1000000\nrate_limit_burst = 1000000\n"
    ))
}

/// Some facility of the server's data: `(id, category id, name)`.
pub fn facility(server: &TestServer, idx: usize) -> (u64, String, String) {
    let snapshot = server.state.snapshot.load_full();
    let dataset = &snapshot.dataset;
    let f = &dataset.facilities()[idx];
    let category = dataset.taxonomy.category(f.category).id.clone();
    (f.id, category, f.name().to_string())
}

/// POSTs `body` as it is, with `content_type` if given; returns the status and JSON answer.
pub fn post_raw(
    server: &TestServer,
    body: impl Into<reqwest::blocking::Body>,
    content_type: Option<&str>,
) -> (u16, Value) {
    let mut request = support::client().post(server.url("/feedback"));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.body(body).send().expect("POST /feedback");
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, json)
}

pub fn post(server: &TestServer, body: &Value) -> (u16, Value) {
    post_raw(server, body.to_string(), Some("application/json"))
}

/// GET an admin route with the right token, asserting 200.
pub fn admin_get(server: &TestServer, path: &str) -> Value {
    let response = support::client()
        .get(server.url(path))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().unwrap()
}

fn n_stored(server: &TestServer) -> u64 {
    admin_get(server, "/admin/feedback/stats")["total"]
        .as_u64()
        .unwrap()
}

#[test]
fn reports_are_acknowledged_with_an_id_and_stored_as_sent() {
    let server = server();
    let (facility_id, category, name) = facility(&server, 0);
    let (status, answer) = post(
        &server,
        &json!({
            "kind": "closed",
            "facility_id": facility_id,
            "message": "  这家已经关门两个月了 \n",
            "contact": " 13800000000 ",
        }),
    );
    assert_eq!(status, 201, "{answer}");
    let id = answer["id"].as_i64().unwrap();
    assert_eq!(answer.as_object().unwrap().len(), 1, "{answer}");

    let stored = admin_get(&server, &format!("/admin/feedback/{id}"));
    assert_eq!(stored["kind"], "closed");
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["message"], "这家已经关门两个月了");
    assert_eq!(stored["contact"], "13800000000");
    assert_eq!(stored["facility"]["id"], facility_id);
    assert_eq!(stored["facility"]["category"], category.as_str());
    assert_eq!(stored["facility"]["name"], name.as_str());
    assert_eq!(stored["data_version"], 1);
    assert_eq!(stored["location"], Value::Null);

    let (status, answer) = post(
        &server,
        &json!({
            "kind": "missing_facility",
            "location": { "lon": 121.4, "lat": 31.22 },
            "message": "这里新开了一个菜场",
        }),
    );
    assert_eq!(status, 201, "{answer}");
    let stored = admin_get(&server, &format!("/admin/feedback/{}", answer["id"]));
    assert_eq!(stored["location"], json!({ "lon": 121.4, "lat": 31.22 }));
    assert_eq!(stored["facility"], Value::Null);
    assert!(answer["id"].as_i64().unwrap() > id);
}

#[test]
fn sql_looking_and_unusual_text_is_stored_verbatim() {
    let server = server();
    let texts = [
        "Robert'); DROP TABLE feedback;--",
        "' OR '1'='1' --",
        "1; DELETE FROM feedback WHERE 1=1",
        "\"; UPDATE feedback SET status='resolved'; --",
        "%_\\ LIKE '%' ESCAPE '\\'",
        "<script>alert('x')</script>",
        "emoji 🙂 and 中文 and 𠀀 and \u{202e}rtl",
        "=HYPERLINK(\"http://example.invalid\")",
        "line one\nline two\r\n\ttabbed",
    ];
    let mut ids = Vec::new();
    for text in texts {
        let (status, answer) = post(&server, &json!({ "kind": "other", "message": text }));
        assert_eq!(status, 201, "{text}: {answer}");
        ids.push(answer["id"].as_i64().unwrap());
    }
    for (id, text) in ids.iter().zip(texts) {
        let stored = admin_get(&server, &format!("/admin/feedback/{id}"));
        assert_eq!(stored["message"], text);
        assert_eq!(stored["status"], "open");
    }
    assert_eq!(n_stored(&server), texts.len() as u64);
}

/// Sends `body` and checks the status and that the error message contains `fragment`.
fn check_rejected(
    server: &TestServer,
    body: impl Into<reqwest::blocking::Body>,
    content_type: Option<&str>,
    expected_status: u16,
    fragment: &str,
) {
    let (status, answer) = post_raw(server, body, content_type);
    let message = answer["error"].as_str().unwrap_or_default();
    assert_eq!(status, expected_status, "expected {fragment:?}: {answer}");
    assert_eq!(answer["status"], expected_status, "{answer}");
    assert_eq!(answer.as_object().unwrap().len(), 2, "{answer}");
    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    assert!(!message.contains('\n'), "{message:?}");
}

#[test]
fn every_bad_input_is_answered_and_nothing_gets_in() {
    let server = server();
    let (facility_id, _, _) = facility(&server, 1);
    let json = Some("application/json");
    let bad = |body: Value, fragment: &str| {
        check_rejected(&server, body.to_string(), json, 400, fragment)
    };
    let ok = json!({ "kind": "closed", "facility_id": facility_id, "message": "关门了" });
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };

    // Not JSON, or not one JSON object.
    check_rejected(
        &server,
        "{\"kind\": \"closed\",",
        json,
        400,
        "not valid JSON",
    );
    check_rejected(&server, "", json, 400, "not valid JSON");
    check_rejected(
        &server,
        format!("{ok} {ok}"),
        json,
        400,
        "trailing characters",
    );
    check_rejected(
        &server,
        "[]",
        json,
        400,
        "invalid type: sequence, expected a JSON object",
    );
    check_rejected(
        &server,
        "\"closed\"",
        json,
        400,
        "invalid type: string \"closed\", expected a JSON object",
    );
    check_rejected(
        &server,
        "null",
        json,
        400,
        "invalid type: null, expected a JSON object",
    );
    check_rejected(
        &server,
        format!("[{facility_id}, null, \"closed\", \"x\", null, null]"),
        json,
        400,
        "invalid type: sequence, expected a JSON object",
    );
    check_rejected(
        &server,
        b"{\"kind\": \"other\", \"message\": \"\xe5\x85\xb3\xff\"}".to_vec(),
        json,
        400,
        "not valid UTF-8",
    );
    check_rejected(
        &server,
        r#"{"kind": "closed", "facility_id": 1e999, "message": "x"}"#,
        json,
        400,
        "number out of range",
    );
    // Wrong types.
    bad(
        with("facility_id", json!(facility_id.to_string())),
        "`facility_id`: invalid type: string",
    );
    bad(
        with("facility_id", json!(-1)),
        "`facility_id`: invalid value",
    );
    bad(
        with("facility_id", json!(1.5)),
        "`facility_id`: invalid type: floating point",
    );
    bad(
        with("message", json!(42)),
        "`message`: invalid type: integer",
    );
    bad(
        with("message", json!(null)),
        "`message`: invalid type: null",
    );
    bad(
        with("kind", json!(["closed"])),
        "`kind`: invalid type: sequence",
    );
    bad(
        with("contact", json!({ "phone": "1" })),
        "`contact`: invalid type: map",
    );
    bad(
        with("location", json!([121.4, 31.2])),
        "`location`: invalid type: sequence, expected a JSON object",
    );
    bad(
        with("location", json!({ "lon": "121.4", "lat": 31.2 })),
        "`location.lon`: invalid type: string",
    );
    // Unknown, missing and repeated fields.
    bad(with("priority", json!("high")), "unknown field `priority`");
    bad(with("status", json!("resolved")), "unknown field `status`");
    bad(
        with("location", json!({ "lon": 121.4, "lat": 31.2, "alt": 3 })),
        "`location.alt`: unknown field `alt`",
    );
    bad(
        json!({ "facility_id": facility_id, "message": "x" }),
        "missing field `kind`",
    );
    bad(
        json!({ "kind": "closed", "facility_id": facility_id }),
        "missing field `message`",
    );
    bad(
        with("location", json!({ "lon": 121.4 })),
        "missing field `lat`",
    );
    check_rejected(
        &server,
        format!(
            "{{\"kind\": \"closed\", \"kind\": \"other\", \"facility_id\": {facility_id}, \"message\": \"x\"}}"
        ),
        json,
        400,
        "duplicate field `kind`",
    );
    // Values the server does not accept.
    bad(with("kind", json!("broken")), "kind: unknown kind `broken`");
    bad(with("message", json!(" \n ")), "message: must not be empty");
    bad(
        with("message", json!("长".repeat(2001))),
        "message: is 2001 characters long",
    );
    bad(
        with("message", json!("bell \u{7}")),
        "message: contains the control character U+0007",
    );
    bad(
        with("message", json!("nul \u{0} byte")),
        "message: contains the control character U+0000",
    );
    bad(
        with("contact", json!("x".repeat(201))),
        "contact: is 201 characters long",
    );
    bad(
        with("contact", json!("a\nb")),
        "contact: contains the control character U+000A",
    );
    bad(with("client_id", json!("has space")), "client_id:");
    bad(
        with("facility_id", json!(u64::MAX)),
        &format!("facility_id: no facility with id {}", u64::MAX),
    );
    bad(
        json!({ "kind": "wrong_info", "message": "x" }),
        "facility_id: a `wrong_info` report must name the facility",
    );
    bad(
        json!({ "kind": "missing_facility", "message": "x" }),
        "location: a `missing_facility` report needs the location",
    );
    bad(
        json!({ "kind": "missing_facility", "facility_id": facility_id, "location": { "lon": 121.4, "lat": 31.2 }, "message": "x" }),
        "facility_id: a `missing_facility` report is about a facility the map lacks",
    );
    bad(
        with("location", json!({ "lon": 181.0, "lat": 31.2 })),
        "location: (181, 31.2) is not a WGS84 coordinate",
    );
    bad(
        with("location", json!({ "lon": 121.4, "lat": -90.5 })),
        "location: (121.4, -90.5) is not a WGS84 coordinate",
    );
    bad(
        with("location", json!({ "lon": 31.2, "lat": 121.4 })),
        "location: (31.2, 121.4) is not a WGS84 coordinate",
    );
    bad(
        with("location", json!({ "lon": 0.0, "lat": 0.0 })),
        "location: (0, 0) is outside the area this map covers",
    );
    // Not JSON at all: 415.
    check_rejected(
        &server,
        ok.to_string(),
        None,
        415,
        "Content-Type: application/json",
    );
    check_rejected(
        &server,
        ok.to_string(),
        Some("text/plain"),
        415,
        "Content-Type: application/json",
    );
    check_rejected(
        &server,
        "kind=closed&message=x",
        Some("application/x-www-form-urlencoded"),
        415,
        "Content-Type: application/json",
    );

    assert_eq!(n_stored(&server), 0, "a rejected report was stored");
    // The same body with the field fixed is accepted.
    assert_eq!(post(&server, &ok).0, 201);
}

#[test]
fn oversized_bodies_are_413() {
    let server = support::spawn(&format!(
        "[admin]\ntoken = \"{TOKEN}\"\n[server]\nmax_body_bytes = 4096\n[feedback]\nmax_message_chars = 100000\nrate_limit_burst = 1000\n"
    ));
    let body = |n_bytes: usize| {
        let message = "x".repeat(n_bytes - r#"{"kind":"other","message":""}"#.len());
        json!({ "kind": "other", "message": message }).to_string()
    };
    assert_eq!(body(4096).len(), 4096);
    assert_eq!(
        post_raw(&server, body(4096), Some("application/json")).0,
        201
    );
    check_rejected(
        &server,
        body(4097),
        Some("application/json"),
        413,
        "larger than 4096 bytes",
    );
    check_rejected(
        &server,
        body(1 << 20),
        Some("application/json"),
        413,
        "larger than 4096 bytes",
    );
    assert_eq!(n_stored(&server), 1);
}

#[test]
fn a_client_id_makes_retries_safe() {
    let server = server();
    let body = json!({
        "kind": "suggestion",
        "message": "希望增加一个口袋公园",
        "location": { "lon": 121.41, "lat": 31.21 },
        "client_id": "5b1f0f8e-7d43-4c1e-9a57-0c9f1d2e3a4b",
    });
    let (status, first) = post(&server, &body);
    assert_eq!(status, 201);
    let (status, again) = post(&server, &body);
    assert_eq!((status, &again), (200, &first));
    let mut changed = body.clone();
    changed["message"] = json!("另一条意见");
    let (status, answer) = post(&server, &changed);
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("client_id"),
        "{answer}"
    );
    assert_eq!(n_stored(&server), 1);
}

#[test]
fn the_rate_limit_is_per_client_address() {
    let server = support::spawn(&format!(
        "[admin]\ntoken = \"{TOKEN}\"\n[feedback]\nrate_limit_per_minute = 1\nrate_limit_burst = 3\n"
    ));
    let body = json!({ "kind": "other", "message": "测试" });
    // Bad requests use up the allowance too.
    assert_eq!(post_raw(&server, "{", Some("application/json")).0, 400);
    assert_eq!(post(&server, &body).0, 201);
    assert_eq!(post(&server, &body).0, 201);
    for _ in 0..3 {
        let response = support::client()
            .post(server.url("/feedback"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let answer: Value = response.json().unwrap();
        assert_eq!(answer["status"], 429);
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("too many requests")
        );
    }
    // Another client address has its own allowance; other routes are not limited.
    let other_client = reqwest::blocking::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let response = other_client
        .post(server.url("/feedback"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(support::get(&server.url("/health")).status(), 200);
    assert_eq!(n_stored(&server), 3);
}

/// The real binary, started on a free port with `config`; SIGKILLed when dropped.
pub struct Process {
    child: Child,
    pub base: String,
}

impl Process {
    pub fn start(config: &Path) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifecircle"))
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("LIFECIRCLE_ADMIN_TOKEN", TOKEN)
            .env("LIFECIRCLE_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting lifecircle");
        // Keep reading stderr for the life of the process so it never blocks on a full pipe.
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
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "lifecircle did not report its address: {:?}",
                    child.try_wait()
                )
            });
        Process {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping lifecircle");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One report of the crash test: what was sent, and what came of it.
#[derive(Clone)]
pub struct Sent {
    pub client_id: String,
    pub body: Value,
    /// The id of a 201/200 answer.
    pub acked: Option<i64>,
    /// Whether the report was sent again after a kill left its outcome unknown.
    pub retried: bool,
    /// The status of the acknowledgement (200: it had been stored before).
    pub status: u16,
}

/// POSTs `sent.body` and records a 201/200 answer in it; `Ok(false)` when the connection
/// failed (the outcome is unknown), `Err` on any other answer.
pub fn send(
    client: &reqwest::blocking::Client,
    base: &str,
    sent: &mut Sent,
) -> Result<bool, String> {
    match client
        .post(format!("{base}/feedback"))
        .json(&sent.body)
        .send()
    {
        Err(_) => Ok(false),
        Ok(response) => {
            let status = response.status().as_u16();
            let Ok(answer) = response.json::<Value>() else {
                return Ok(false);
            };
            match (status, answer["id"].as_i64()) {
                (200 | 201, Some(id)) => {
                    sent.acked = Some(id);
                    sent.status = status;
                    Ok(true)
                }
                _ => Err(format!("{}: {status} {answer}", sent.client_id)),
            }
        }
    }
}

/// Every stored report, from the admin listing.
pub fn stored_reports(base: &str) -> Vec<Value> {
    let client = support::client();
    let mut reports = Vec::new();
    loop {
        let url = format!("{base}/admin/feedback?limit=1000&offset={}", reports.len());
        let page: Value = client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let items = page["reports"].as_array().unwrap();
        if items.is_empty() {
            return reports;
        }
        reports.extend(items.iter().cloned());
    }
}

/// Checks the store against what was sent: every stored report was sent (same content, no
/// partial fields), none is there twice, and every acknowledged one is there with its id.
pub fn verify(base: &str, sent: &HashMap<String, Sent>) {
    let mut seen = HashMap::new();
    for report in stored_reports(base) {
        let client_id = report["client_id"]
            .as_str()
            .expect("every report has a client_id");
        let original = sent
            .get(client_id)
            .unwrap_or_else(|| panic!("stored report that was never sent: {report}"));
        assert_eq!(report["kind"], original.body["kind"], "{report}");
        assert_eq!(report["message"], original.body["message"], "{report}");
        assert_eq!(report["contact"], original.body["contact"], "{report}");
        assert_eq!(report["location"], original.body["location"], "{report}");
        assert_eq!(
            report["facility"]["id"].as_u64(),
            original.body["facility_id"].as_u64(),
            "{report}"
        );
        let id = report["id"].as_i64().unwrap();
        assert!(
            seen.insert(client_id.to_owned(), id).is_none(),
            "report {client_id} stored twice"
        );
    }
    for (client_id, report) in sent {
        if let Some(id) = report.acked {
            assert_eq!(
                seen.get(client_id),
                Some(&id),
                "acknowledged report {client_id} (id {id}) is missing or changed id"
            );
        }
    }
}

#[test]
fn acknowledged_reports_survive_sigkill() {
    const ROUNDS: usize = 8;
    const N_CLIENTS: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let data = support::repo_root().join("data/changning");
    let path = |name: &str| toml::Value::from(data.join(name).display().to_string()).to_string();
    let config = dir.path().join("lifecircle.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\nfacilities = {}\nroads = {}\nsubdistricts = {}\nresidents = {}\n\
             [cache]\nprecompute_minzoom = 0\nprecompute_maxzoom = 0\n\
             [feedback]\nrate_limit_per_minute = 1000000\nrate_limit_burst = 1000000\n",
            path("facilities.fgb"),
            path("roads.fgb"),
            path("subdistricts.fgb"),
            path("residents.fgb"),
        ),
    )
    .unwrap();
    let facility_ids: Vec<u64> = {
        let config = lifecircle::config::Config::load(Some(&config)).unwrap();
        let snapshot = lifecircle::snapshot::build(&config, 1).unwrap();
        snapshot
            .dataset
            .facilities()
            .iter()
            .take(50)
            .map(|f| f.id)
            .collect()
    };
    let seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed: {seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    let mut sent: HashMap<String, Sent> = HashMap::new();
    let mut n_killed_in_flight = 0;
    for round in 0..ROUNDS {
        let process = Process::start(&config);
        verify(&process.base, &sent);
        // Reports whose outcome is unknown are sent again first, with the same client_id.
        let mut unknown: Vec<Sent> = sent
            .values()
            .filter(|s| s.acked.is_none())
            .cloned()
            .collect();
        unknown.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let n_acked = Arc::new(AtomicUsize::new(0));
        let killed = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..N_CLIENTS)
            .map(|thread_idx| {
                let mut retries: Vec<Sent> = unknown
                    .iter()
                    .skip(thread_idx)
                    .step_by(N_CLIENTS)
                    .cloned()
                    .collect();
                let base = process.base.clone();
                let (n_acked, killed) = (n_acked.clone(), killed.clone());
                let facility_ids = facility_ids.clone();
                let thread_seed = rng.random::<u64>();
                std::thread::spawn(move || {
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(thread_seed);
                    let client = reqwest::blocking::Client::new();
                    let mut results = Vec::new();
                    for n in 0.. {
                        let mut report = match retries.pop() {
                            Some(report) => Sent {
                                retried: true,
                                ..report
                            },
                            None => {
                                let client_id = format!("r{round}-t{thread_idx}-{n}");
                                Sent {
                                    body: crash_report(&mut rng, &client_id, &facility_ids),
                                    client_id,
                                    acked: None,
                                    retried: false,
                                    status: 0,
                                }
                            }
                        };
                        match send(&client, &base, &mut report) {
                            Ok(true) => {
                                n_acked.fetch_add(1, Ordering::SeqCst);
                                results.push(report);
                            }
                            Ok(false) => {
                                assert!(
                                    killed.load(Ordering::SeqCst),
                                    "request failed before the kill"
                                );
                                results.push(report);
                                return results;
                            }
                            Err(message) => panic!("unexpected answer: {message}"),
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        // Kill at a random moment once some reports are acknowledged.
        let target = rng.random_range(1..=300);
        let started = Instant::now();
        while n_acked.load(Ordering::SeqCst) < target {
            assert!(started.elapsed() < Duration::from_secs(60), "load stalled");
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        killed.store(true, Ordering::SeqCst);
        process.kill();
        for thread in threads {
            for report in thread.join().expect("client thread") {
                if report.acked.is_none() {
                    n_killed_in_flight += 1;
                }
                sent.insert(report.client_id.clone(), report);
            }
        }
    }

    // After the last kill: everything acknowledged is there once; then every report whose
    // outcome was unknown is sent again, and the store must hold each sent report exactly once.
    let process = Process::start(&config);
    verify(&process.base, &sent);
    let client = reqwest::blocking::Client::new();
    for report in sent.values_mut().filter(|s| s.acked.is_none()) {
        report.retried = true;
        assert!(
            send(&client, &process.base, report).unwrap(),
            "the server is up"
        );
    }
    verify(&process.base, &sent);
    assert_eq!(stored_reports(&process.base).len(), sent.len());
    let n_retried = sent.values().filter(|s| s.retried).count();
    let n_stored_before_retry = sent
        .values()
        .filter(|s| s.retried && s.status == 200)
        .count();
    eprintln!(
        "crash test: {ROUNDS} kills, {} reports; {n_killed_in_flight} were in flight at a kill, \
         {n_retried} sent again, {n_stored_before_retry} of them already stored",
        sent.len()
    );
    process.kill();

    let db = rusqlite::Connection::open(dir.path().join("feedback.sqlite")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

/// A random, valid report with `client_id`.
pub fn crash_report(rng: &mut impl Rng, client_id: &str, facility_ids: &[u64]) -> Value {
    let message = format!(
        "{client_id} {}",
        "设施信息有误，请核实。".repeat(rng.random_range(1..20))
    );
    let mut body = match rng.random_range(0..3) {
        0 => json!({
            "kind": "closed",
            "facility_id": facility_ids[rng.random_range(0..facility_ids.len())],
        }),
        1 => json!({
            "kind": "missing_facility",
            "location": {
                "lon": 121.35 + rng.random_range(0..1000) as f64 * 1e-4,
                "lat": 31.19 + rng.random_range(0..500) as f64 * 1e-4,
            },
        }),
        _ => json!({ "kind": "other" }),
    };
    body["message"] = json!(message);
    body["contact"] = if rng.random_bool(0.5) {
        json!(format!("139{:08}", rng.random_range(0..100_000_000)))
    } else {
        Value::Null
    };
    body["client_id"] = json!(client_id);
    body
}
