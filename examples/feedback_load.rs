//! Load generator for `POST /feedback`: takes a server URL, a number of concurrent clients and a
//! duration; gives acknowledged reports per second and latency percentiles.
//!
//! ```sh
//! cargo run --release --example feedback_load -- http://127.0.0.1:8080 32 10
//! ```
//!
//! Each client holds one keep-alive connection and sends valid reports (with a unique
//! `client_id`) back to back; only 201 answers count. The server's rate limit must allow the
//! load (raise `feedback.rate_limit_per_minute` and `rate_limit_burst`).

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .map_or("http://127.0.0.1:8080", String::as_str)
        .trim_end_matches('/')
        .to_owned();
    let n_clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());

    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..n_clients)
        .map(|client_idx| {
            let url = format!("{url}/feedback");
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut latencies = Vec::new();
                let mut n_failed = 0u64;
                for n in 0.. {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let body = serde_json::json!({
                        "kind": "suggestion",
                        "location": {
                            "lon": 121.38 + (n % 100) as f64 * 1e-4,
                            "lat": 31.21 + (client_idx % 100) as f64 * 1e-4,
                        },
                        "message": format!("负载测试 {n}：希望在小区附近增设一处社区食堂和健身点，方便老人就近用餐和锻炼。"),
                        "client_id": format!("load-{run_id}-{client_idx}-{n}"),
                    });
                    let sent_at = Instant::now();
                    match client.post(&url).json(&body).send() {
                        Ok(response) if response.status() == 201 => {
                            latencies.push(sent_at.elapsed());
                        }
                        Ok(response) => {
                            n_failed += 1;
                            if n_failed == 1 {
                                eprintln!("unexpected answer: {}", response.status());
                            }
                        }
                        Err(e) => {
                            n_failed += 1;
                            if n_failed == 1 {
                                eprintln!("request failed: {e}");
                            }
                        }
                    }
                }
                (latencies, n_failed)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut n_failed = 0;
    for thread in threads {
        let (l, f) = thread.join().expect("client thread");
        latencies.extend(l);
        n_failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{} acknowledged in {elapsed:.1} s with {n_clients} clients: {:.0} reports/s; latency p50 {:.1} ms, p99 {:.1} ms; {n_failed} failed",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.5),
        percentile(0.99),
    );
}
