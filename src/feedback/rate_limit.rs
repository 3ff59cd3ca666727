//! Per-client rate limit for submissions: a token bucket per client address.
//!
//! Takes a client address and the current instant, gives "go ahead" or "retry after this long".
//! IPv6 clients are keyed by their /64 network, since one host commonly holds a whole /64.
//! Memory is bounded: past [`MAX_TRACKED`] addresses, buckets that have refilled completely
//! (idle clients) are forgotten, which loses nothing.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most client addresses tracked before idle ones are forgotten.
pub const MAX_TRACKED: usize = 100_000;

/// Token buckets keyed by client address.
#[derive(Debug)]
pub struct RateLimiter {
    tokens_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// Allows `burst` requests at once, refilled at `per_minute` a minute.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            tokens_per_sec: f64::from(per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `client`'s bucket at `now`, or says how long until one is free.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = bucket_key(client);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            buckets.retain(|_, bucket| self.refilled(bucket, now) < self.burst);
            if buckets.len() >= MAX_TRACKED {
                tracing::warn!(
                    n_clients = buckets.len(),
                    "rate limiter tracks too many busy clients; starting afresh"
                );
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.updated = now.max(bucket.updated);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.tokens_per_sec,
            ))
        }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * self.tokens_per_sec).min(self.burst)
    }
}

/// IPv4 addresses as they are (IPv4-mapped IPv6 included); IPv6 addresses by their /64.
fn bucket_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn burst_then_sustained_rate() {
        let limiter = RateLimiter::new(60, 3);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(limiter.check(a, t0), Ok(()));
        }
        let wait = limiter.check(a, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        // One token a second comes back, never more than the burst.
        assert!(limiter.check(a, t0 + Duration::from_millis(500)).is_err());
        assert_eq!(limiter.check(a, t0 + Duration::from_millis(1000)), Ok(()));
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check(a, later), Ok(()));
        }
        assert!(limiter.check(a, later).is_err());
    }

    #[test]
    fn clients_are_separate_and_ipv6_counts_per_64() {
        let limiter = RateLimiter::new(1, 1);
        let t0 = Instant::now();
        assert!(limiter.check(ip("192.0.2.1"), t0).is_ok());
        assert!(limiter.check(ip("192.0.2.1"), t0).is_err());
        assert!(limiter.check(ip("::ffff:192.0.2.1"), t0).is_err());
        assert!(limiter.check(ip("192.0.2.2"), t0).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2::1"), t0).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9"), t0).is_err());
        assert!(limiter.check(ip("2001:db8:1:3::1"), t0).is_ok());
    }

    #[test]
    fn memory_is_bounded_and_busy_clients_stay_limited() {
        let limiter = RateLimiter::new(1, 1);
        let t0 = Instant::now();
        for n in 0..MAX_TRACKED as u32 - 1 {
            let client = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            assert!(limiter.check(client, t0).is_ok());
        }
        // Two minutes later the early clients' buckets are full again: a newcomer makes room by
        // forgetting them, while the client that just used its token stays limited.
        let t1 = t0 + Duration::from_secs(120);
        let busy = ip("198.51.100.7");
        assert!(limiter.check(busy, t1).is_ok());
        assert!(limiter.check(ip("198.51.100.8"), t1).is_ok());
        assert_eq!(limiter.buckets.lock().unwrap().len(), 2);
        assert!(limiter.check(busy, t1).is_err());
    }
}
