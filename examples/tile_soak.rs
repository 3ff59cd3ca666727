//! Cache soak: takes a running server's URL and process id, a duration and a number of clients;
//! requests random tile variants (facility tiles with random category filters and datums,
//! coverage heatmaps and bands of random ids and profiles, zoom 10–16 over the data) and prints
//! the server's resident memory against `cache.max_bytes` every ten seconds.
//!
//! ```sh
//! bash scripts/soak.sh            # starts the release server and runs this for 2 minutes
//! cargo run --release --example tile_soak -- URL PID SECONDS CLIENTS MAX_BYTES [COVERAGE_SHARE]
//! ```
//!
//! Resident memory is read from `/proc/PID/status` (Linux). "over base" is resident memory minus
//! what the server held before the soak began; the cache may use at most `max_bytes` of it, plus
//! a quarter for the allocator's slack.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, name: &str| -> String {
        args.get(i).cloned().unwrap_or_else(|| {
            panic!("usage: tile_soak URL PID SECONDS CLIENTS MAX_BYTES ({name} missing)")
        })
    };
    let base_url = arg(0, "URL").trim_end_matches('/').to_owned();
    let pid: u32 = arg(1, "PID").parse().expect("PID is a number");
    let seconds: u64 = arg(2, "SECONDS").parse().expect("SECONDS is a number");
    let n_clients: usize = arg(3, "CLIENTS").parse().expect("CLIENTS is a number");
    let max_bytes: f64 = arg(4, "MAX_BYTES").parse().expect("MAX_BYTES is a number");
    // Share of coverage tiles in the mix (the rest: facility tiles).
    let coverage_share: f64 = args.get(5).map_or(0.3, |a| a.parse().expect("a share"));

    let client = reqwest::blocking::Client::new();
    let catalog: serde_json::Value = client
        .get(format!("{base_url}/catalog"))
        .send()
        .and_then(|r| r.json())
        .expect("GET /catalog");
    let categories: Vec<String> = catalog["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let coverage_ids: Vec<String> = catalog["coverage"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let tilejson: serde_json::Value = client
        .get(format!("{base_url}/tiles/facilities.json"))
        .send()
        .and_then(|r| r.json())
        .expect("GET /tiles/facilities.json");
    let bounds: Vec<f64> = tilejson["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let base_rss = rss_bytes(pid);
    println!(
        "base: {:.1} MB resident; cache.max_bytes {:.1} MB; {n_clients} clients for {seconds} s",
        mb(base_rss),
        mb(max_bytes)
    );
    println!(
        "   t_s   requests   rss_MB   over_base_MB   over_base/max_bytes   cache_MB   entries"
    );

    let n_requests = Arc::new(AtomicU64::new(0));
    let n_errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let shared = Arc::new((categories, coverage_ids, bounds));
    let threads: Vec<_> = (0..n_clients)
        .map(|i| {
            let (shared, base_url) = (shared.clone(), base_url.clone());
            let (n_requests, n_errors) = (n_requests.clone(), n_errors.clone());
            std::thread::spawn(move || {
                let (categories, coverage_ids, bounds) = &*shared;
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(i as u64 + 1);
                while Instant::now() < deadline {
                    let path =
                        random_path(&mut rng, categories, coverage_ids, bounds, coverage_share);
                    match client.get(format!("{base_url}{path}")).send() {
                        Ok(response) if response.status().as_u16() < 500 => {
                            let _ = response.bytes();
                        }
                        _ => {
                            n_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n_requests.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut peak_ratio: f64 = 0.0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(10).min(deadline - Instant::now()));
        let ratio = report(
            &client,
            &base_url,
            pid,
            base_rss,
            max_bytes,
            started,
            &n_requests,
        );
        peak_ratio = peak_ratio.max(ratio);
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let last = report(
        &client,
        &base_url,
        pid,
        base_rss,
        max_bytes,
        started,
        &n_requests,
    );
    peak_ratio = peak_ratio.max(last);
    println!(
        "{} requests, {} failed; peak resident memory over base: {peak_ratio:.2} x cache.max_bytes (limit 1.25)",
        n_requests.load(Ordering::Relaxed),
        n_errors.load(Ordering::Relaxed)
    );
}

/// Prints one line; gives (resident - base) / max_bytes.
fn report(
    client: &reqwest::blocking::Client,
    base_url: &str,
    pid: u32,
    base_rss: f64,
    max_bytes: f64,
    started: Instant,
    n_requests: &AtomicU64,
) -> f64 {
    let rss = rss_bytes(pid);
    let metrics = client
        .get(format!("{base_url}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    let metric = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let over = rss - base_rss;
    let ratio = over / max_bytes;
    println!(
        "{:>6.0} {:>10} {:>8.1} {:>14.1} {:>21.2} {:>10.1} {:>9}",
        started.elapsed().as_secs_f64(),
        n_requests.load(Ordering::Relaxed),
        mb(rss),
        mb(over),
        ratio,
        mb(metric("lifecircle_tile_cache_bytes ")),
        metric("lifecircle_tile_cache_entries "),
    );
    ratio
}

fn mb(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn rss_bytes(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024.0
}

fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32;
    (x, y)
}

/// A random tile of a random variant inside `bounds`.
fn random_path(
    rng: &mut impl Rng,
    categories: &[String],
    coverage_ids: &[String],
    bounds: &[f64],
    coverage_share: f64,
) -> String {
    let z: u8 = rng.random_range(10..=16);
    let (x0, y0) = tile_of(bounds[0], bounds[3], z);
    let (x1, y1) = tile_of(bounds[2], bounds[1], z);
    let x = rng.random_range(x0..=x1);
    let y = rng.random_range(y0..=y1);
    if !rng.random_bool(coverage_share) {
        let chosen: Vec<&str> = categories
            .iter()
            .filter(|_| rng.random_bool(0.3))
            .map(String::as_str)
            .collect();
        let mut query = Vec::new();
        if !chosen.is_empty() {
            query.push(format!("categories={}", chosen.join(",")));
        }
        if rng.random_bool(0.3) {
            query.push("crs=gcj02".to_owned());
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        format!("/tiles/facilities/{z}/{x}/{y}.mvt{query}")
    } else {
        let id = &coverage_ids[rng.random_range(0..coverage_ids.len())];
        let ext = if rng.random_bool(0.5) { "png" } else { "mvt" };
        let profile = if rng.random_bool(0.5) {
            "standard"
        } else {
            "elderly"
        };
        format!("/coverage/{id}/{z}/{x}/{y}.{ext}?profile={profile}")
    }
}
