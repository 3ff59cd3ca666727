//! The shared feedback store: two real server processes (the binary, each on its own
//! 127.0.0.1 port) writing to one PostgreSQL database, as replicas behind a load balancer would.
//! The same client_id sent to both is one report; a SIGKILL of one replica under load loses no
//! acknowledged report and duplicates none.
//!
//! They need a PostgreSQL server named by `LIFECIRCLE_TEST_POSTGRES_URL` (`scripts/test.sh`
//! starts a throwaway one) and are ignored otherwise; `--include-ignored` without it fails them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::feedback::{Process, Sent, TOKEN, crash_report, send, stored_reports, verify};
use crate::support;

const URL_ENV: &str = "LIFECIRCLE_TEST_POSTGRES_URL";

/// Creates an empty database on the test server; its URL.
fn fresh_database(label: &str) -> String {
    let base = std::env::var(URL_ENV).unwrap_or_else(|_| {
        panic!("{URL_ENV} is not set: run scripts/test.sh, which starts a PostgreSQL server")
    });
    let name = format!("lc_it_{label}_{}", std::process::id());
    let mut client = postgres::Client::connect(&base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL server: {e}"));
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client.batch_execute(&statement).unwrap();
    }
    let (server, _) = base
        .rsplit_once('/')
        .expect("postgres://user@host:port/dbname");
    format!("{server}/{name}")
}

/// A config file for a replica of the sample data that keeps feedback in `database_url`, and
/// the ids of some of the sample's facilities.
fn replica_config(dir: &Path, database_url: &str) -> (PathBuf, Vec<u64>) {
    let data = support::repo_root().join("data/changning");
    let quoted = |text: &str| toml::Value::from(text).to_string();
    let path = |name: &str| quoted(&data.join(name).display().to_string());
    let config = dir.join("lifecircle.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\nfacilities = {}\nroads = {}\nsubdistricts = {}\nresidents = {}\n\
             [cache]\nprecompute_minzoom = 0\nprecompute_maxzoom = 0\n\
             [feedback]\nstore = \"postgres\"\nurl = {}\n\
             rate_limit_per_minute = 1000000\nrate_limit_burst = 1000000\n",
            path("facilities.fgb"),
            path("roads.fgb"),
            path("subdistricts.fgb"),
            path("residents.fgb"),
            quoted(database_url),
        ),
    )
    .unwrap();
    let loaded = lifecircle::config::Config::load(Some(&config)).unwrap();
    let snapshot = lifecircle::snapshot::build(&loaded, 1).unwrap();
    let ids = snapshot
        .dataset
        .facilities()
        .iter()
        .take(50)
        .map(|f| f.id)
        .collect();
    (config, ids)
}

#[test]
#[ignore = "needs PostgreSQL: set LIFECIRCLE_TEST_POSTGRES_URL and pass --include-ignored (scripts/test.sh does)"]
fn two_replicas_store_a_client_id_once() {
    let dir = tempfile::tempdir().unwrap();
    let (config, facility_ids) = replica_config(dir.path(), &fresh_database("once"));
    let replicas = [Process::start(&config), Process::start(&config)];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
    let bodies: Vec<Value> = (0..40)
        .map(|n| crash_report(&mut rng, &format!("both-{n}"), &facility_ids))
        .collect();
    // Each report goes to both replicas at the same moment, as a client retrying through a
    // load balancer might send it.
    let answers: Vec<Vec<(u16, Value)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|body| {
                let replicas = &replicas;
                scope.spawn(move || {
                    let barrier = std::sync::Barrier::new(2);
                    std::thread::scope(|inner| {
                        let posts: Vec<_> = replicas
                            .iter()
                            .map(|replica| {
                                let barrier = &barrier;
                                inner.spawn(move || {
                                    let client = support::client();
                                    barrier.wait();
                                    let response = client
                                        .post(format!("{}/feedback", replica.base))
                                        .json(body)
                                        .send()
                                        .unwrap();
                                    (response.status().as_u16(), response.json().unwrap())
                                })
                            })
                            .collect();
                        posts.into_iter().map(|p| p.join().unwrap()).collect()
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (body, answers) in bodies.iter().zip(&answers) {
        let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        statuses.sort();
        assert_eq!(statuses, [200, 201], "{body}: {answers:?}");
        assert_eq!(answers[0].1["id"], answers[1].1["id"], "{answers:?}");
    }
    // Both replicas list the same reports, each once.
    for replica in &replicas {
        let stored = stored_reports(&replica.base);
        assert_eq!(stored.len(), bodies.len());
        let mut client_ids: Vec<&str> = stored
            .iter()
            .map(|r| r["client_id"].as_str().unwrap())
            .collect();
        client_ids.sort();
        client_ids.dedup();
        assert_eq!(client_ids.len(), bodies.len());
    }
    // The same client_id with other content is a conflict on either replica, whichever stored it.
    let mut changed = bodies[0].clone();
    changed["message"] = json!("另一条反馈");
    for replica in &replicas {
        let response = support::client()
            .post(format!("{}/feedback", replica.base))
            .json(&changed)
            .send()
            .unwrap();
        assert_eq!(response.status(), 409);
    }
    // Triage on one replica is what the other lists.
    let id = answers[1][0].1["id"].as_i64().unwrap();
    let patched = support::client()
        .patch(format!("{}/admin/feedback/{id}", replicas[0].base))
        .bearer_auth(TOKEN)
        .json(&json!({ "status": "resolved", "note": "已核实" }))
        .send()
        .unwrap();
    assert_eq!(patched.status(), 200);
    let seen: Value = support::client()
        .get(format!("{}/admin/feedback/{id}", replicas[1].base))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (&seen["status"], &seen["note"]),
        (&json!("resolved"), &json!("已核实"))
    );
}

#[test]
#[ignore = "needs PostgreSQL: set LIFECIRCLE_TEST_POSTGRES_URL and pass --include-ignored (scripts/test.sh does)"]
fn a_replica_killed_under_load_loses_and_duplicates_nothing() {
    const N_CLIENTS: usize = 12;
    const ROUNDS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let (config, facility_ids) = replica_config(dir.path(), &fresh_database("kill"));
    let seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("replica kill test seed: {seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut sent: HashMap<String, Sent> = HashMap::new();
    let mut survivor = Process::start(&config);
    let mut n_unknown = 0;
    for round in 0..ROUNDS {
        let victim = Process::start(&config);
        let bases = [victim.base.clone(), survivor.base.clone()];
        let n_acked = Arc::new(AtomicUsize::new(0));
        let killed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        // Half the clients talk to the replica that will be killed, half to the survivor.
        let threads: Vec<_> = (0..N_CLIENTS)
            .map(|thread_idx| {
                let base = bases[thread_idx % 2].clone();
                let to_victim = thread_idx % 2 == 0;
                let (n_acked, killed, stop) = (n_acked.clone(), killed.clone(), stop.clone());
                let facility_ids = facility_ids.clone();
                let thread_seed = rng.random::<u64>();
                std::thread::spawn(move || {
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(thread_seed);
                    let client = reqwest::blocking::Client::new();
                    let mut results = Vec::new();
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let client_id = format!("k{round}-t{thread_idx}-{n}");
                        let mut report = Sent {
                            body: crash_report(&mut rng, &client_id, &facility_ids),
                            client_id,
                            acked: None,
                            retried: false,
                            status: 0,
                        };
                        match send(&client, &base, &mut report) {
                            Ok(true) => {
                                n_acked.fetch_add(1, Ordering::SeqCst);
                                results.push(report);
                            }
                            Ok(false) => {
                                assert!(
                                    to_victim && killed.load(Ordering::SeqCst),
                                    "a request failed that no kill explains"
                                );
                                results.push(report);
                                break;
                            }
                            Err(message) => panic!("unexpected answer: {message}"),
                        }
                    }
                    results
                })
            })
            .collect();
        let target = rng.random_range(20..=300);
        let started = Instant::now();
        while n_acked.load(Ordering::SeqCst) < target {
            assert!(started.elapsed() < Duration::from_secs(60), "load stalled");
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        killed.store(true, Ordering::SeqCst);
        victim.kill();
        // The survivor keeps taking reports after the kill.
        let after_kill = n_acked.load(Ordering::SeqCst) + 50;
        while n_acked.load(Ordering::SeqCst) < after_kill {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the survivor stalled"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        stop.store(true, Ordering::SeqCst);
        for thread in threads {
            for report in thread.join().expect("client thread") {
                n_unknown += usize::from(report.acked.is_none());
                sent.insert(report.client_id.clone(), report);
            }
        }
        // Everything acknowledged by either replica is in the shared store, once.
        verify(&survivor.base, &sent);
        if round + 1 < ROUNDS {
            // Next round, the survivor is the one killed.
            let next = Process::start(&config);
            let old = std::mem::replace(&mut survivor, next);
            old.kill();
        }
    }
    // Reports whose outcome the kill left unknown are sent again to the survivor with the
    // same client_id: each is then stored exactly once.
    let client = reqwest::blocking::Client::new();
    for report in sent.values_mut().filter(|s| s.acked.is_none()) {
        report.retried = true;
        assert!(
            send(&client, &survivor.base, report).unwrap(),
            "the survivor is up"
        );
    }
    verify(&survivor.base, &sent);
    assert_eq!(stored_reports(&survivor.base).len(), sent.len());
    let n_stored_before_retry = sent
        .values()
        .filter(|s| s.retried && s.status == 200)
        .count();
    eprintln!(
        "replica kill test: {ROUNDS} kills, {} reports; {n_unknown} in flight at a kill, \
         {n_stored_before_retry} of them had been stored",
        sent.len()
    );
}
