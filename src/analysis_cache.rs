//! Bounded, shared analysis work: the answers of `/coverage/stats`, `/gaps` and `/suggest` cached
//! per (data version, route, parameters), and a limit on tile renders.
//!
//! [`Analyses::get_or_compute`] takes a key and a blocking computation and gives its result:
//! from the cache, or computed once on the blocking pool however many identical requests wait
//! for it (moka's `try_get_with`). At most `server.max_concurrent_analyses` computations run at
//! once; a distinct request beyond that is refused at once ([`Refusal::Busy`]) rather than
//! queued. The computation gets a cancellation flag, set when every request waiting for it has
//! gone (timed out, or the server shuts down); long loops poll it and stop early, and a cancelled
//! result is never cached.
//!
//! [`RenderLimit`] bounds tile renders on a cache miss: a few run, a bounded number wait, the
//! rest are refused.

use std::any::Any;
use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::coverage::stats;

/// What an analysis answer is: which data, which route, which parameters (canonical text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnalysisKey {
    pub version: u64,
    pub route: &'static str,
    pub params: String,
}

impl AnalysisKey {
    /// The key of `route`'s answer for `params` (anything that prints its values with `Debug`)
    /// on the data of `snapshot`.
    pub fn new(
        snapshot: &crate::snapshot::Snapshot,
        route: &'static str,
        params: impl std::fmt::Debug,
    ) -> AnalysisKey {
        AnalysisKey {
            version: snapshot.version,
            route,
            params: format!("{params:?}"),
        }
    }
}

/// Why a result is not given.
#[derive(Debug)]
pub enum Refusal<E> {
    /// The concurrency limit is reached; retry shortly.
    Busy,
    /// Every request that wanted the result went away, or the server is stopping.
    Cancelled,
    /// The computation failed (e.g. a bad parameter it checks itself).
    Failed(E),
    /// The computation panicked.
    Panicked(String),
}

/// Heap bytes a cached result holds, for the cache's weigher.
pub trait Weigh {
    fn heap_bytes(&self) -> usize;
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    weight: u32,
}

/// Bytes of bookkeeping per cache entry on top of the result itself (key, moka's nodes).
const ENTRY_OVERHEAD: usize = 512;

/// The analysis cache and its concurrency limit.
pub struct Analyses {
    cache: moka::future::Cache<AnalysisKey, Entry>,
    permits: Arc<Semaphore>,
    /// Computations started, by route.
    computations: Mutex<BTreeMap<&'static str, u64>>,
}

/// Sets the flag when dropped unless disarmed: the computation's waiter went away.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Analyses {
    pub fn new(max_bytes: u64, max_concurrent: usize) -> Analyses {
        Analyses {
            cache: moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_key: &AnalysisKey, entry: &Entry| entry.weight)
                .build(),
            permits: Arc::new(Semaphore::new(max_concurrent)),
            computations: Mutex::default(),
        }
    }

    /// The cached result for `key`, or `compute`'s, computed once on the blocking pool for all
    /// concurrent callers. `compute` gets a flag to poll in long loops: once set, its result is
    /// thrown away, so it may stop at once and return anything.
    pub async fn get_or_compute<T, E>(
        &self,
        key: AnalysisKey,
        compute: impl FnOnce(&AtomicBool) -> Result<T, E> + Send + 'static,
    ) -> Result<Arc<T>, Arc<Refusal<E>>>
    where
        T: Weigh + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let route = key.route;
        let entry = self
            .cache
            .try_get_with(key, async move {
                let permit = self
                    .permits
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| Refusal::Busy)?;
                self.count(route);
                let cancel = Arc::new(AtomicBool::new(false));
                // Dropped with this future when the request that runs it goes away; moka then
                // lets another waiting request start over.
                let _on_drop = CancelOnDrop(cancel.clone());
                let flag = cancel.clone();
                let outcome = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    compute(&flag)
                })
                .await
                .map_err(|e| Refusal::Panicked(e.to_string()))?;
                if cancel.load(Ordering::Relaxed) {
                    return Err(Refusal::Cancelled);
                }
                let value = outcome.map_err(Refusal::Failed)?;
                let weight = u32::try_from(value.heap_bytes() + ENTRY_OVERHEAD).unwrap_or(u32::MAX);
                Ok(Entry {
                    value: Arc::new(value),
                    weight,
                })
            })
            .await?;
        Ok(entry
            .value
            .downcast::<T>()
            .expect("one route caches one result type"))
    }

    fn count(&self, route: &'static str) {
        let mut map = self
            .computations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry(route).or_default() += 1;
    }

    /// Computations started so far, by route.
    pub fn computations(&self) -> Vec<(&'static str, u64)> {
        let map = self
            .computations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.iter().map(|(route, n)| (*route, *n)).collect()
    }

    /// Bytes and entries held (approximate until pending maintenance runs).
    pub async fn usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks().await;
        (self.cache.weighted_size(), self.cache.entry_count())
    }
}

/// At most `running` tile renders at once and `queued` more waiting; the rest refused.
pub struct RenderLimit {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RenderLimit {
    pub fn new(running: usize, queued: usize) -> RenderLimit {
        RenderLimit {
            permits: Arc::new(Semaphore::new(running)),
            waiting: AtomicUsize::new(0),
            max_waiting: queued,
        }
    }

    /// Runs the blocking `render` on the blocking pool when a turn is free.
    pub async fn run<T: Send + 'static, E: Send + 'static>(
        &self,
        render: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, Refusal<E>> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(Refusal::Busy);
                }
                let _waiting = Waiting(&self.waiting);
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| Refusal::Cancelled)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            render()
        })
        .await
        .map_err(|e| Refusal::Panicked(e.to_string()))?
        .map_err(Refusal::Failed)
    }
}

impl Weigh for stats::Stats {
    fn heap_bytes(&self) -> usize {
        let area = |a: &stats::AreaStats| {
            std::mem::size_of::<stats::AreaStats>()
                + a.name.len()
                + a.name_en.as_ref().map_or(0, String::len)
                + (a.categories.len() + a.groups.len()) * std::mem::size_of::<stats::Share>()
        };
        self.areas.iter().map(area).sum::<usize>()
            + self.outside_areas.as_ref().map_or(0, area)
            + area(&self.total)
            + self
                .group_members
                .iter()
                .map(|(_, members)| 32 + members.len() * 2)
                .sum::<usize>()
            + self.essential_categories.len() * 2
    }
}

impl Weigh for stats::Gaps {
    fn heap_bytes(&self) -> usize {
        self.gaps.capacity() * std::mem::size_of::<stats::Gap>()
    }
}

impl Weigh for stats::Suggestions {
    fn heap_bytes(&self) -> usize {
        self.picks.capacity() * std::mem::size_of::<stats::Suggestion>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Number(u64);

    impl Weigh for Number {
        fn heap_bytes(&self) -> usize {
            8
        }
    }

    fn key(params: &str) -> AnalysisKey {
        AnalysisKey {
            version: 1,
            route: "/test",
            params: params.into(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identical_requests_compute_once_and_distinct_ones_beyond_the_limit_are_refused() {
        let analyses = Arc::new(Analyses::new(1 << 20, 1));
        let slow = |n: u64| {
            move |_: &AtomicBool| {
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok::<_, ()>(Number(n))
            }
        };
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let analyses = analyses.clone();
            tasks.push(tokio::spawn(async move {
                analyses.get_or_compute(key("a"), slow(7)).await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let refused = analyses.get_or_compute(key("b"), slow(8)).await;
        assert!(matches!(
            refused.as_ref().map_err(|e| &**e),
            Err(Refusal::Busy)
        ));
        for task in tasks {
            assert_eq!(task.await.unwrap().ok().unwrap().0, 7);
        }
        assert_eq!(analyses.computations(), vec![("/test", 1)]);
        // Now cached: no further computation.
        analyses
            .get_or_compute(key("a"), slow(9))
            .await
            .ok()
            .unwrap();
        assert_eq!(analyses.computations(), vec![("/test", 1)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_computation_sees_its_flag_and_is_not_cached() {
        let analyses = Arc::new(Analyses::new(1 << 20, 1));
        let stopped = Arc::new(AtomicBool::new(false));
        let seen = stopped.clone();
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            analyses.get_or_compute(key("a"), move |cancel: &AtomicBool| {
                while !cancel.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                seen.store(true, Ordering::SeqCst);
                Ok::<_, ()>(Number(1))
            }),
        )
        .await;
        assert!(waiting.is_err(), "timed out");
        for _ in 0..100 {
            if stopped.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(stopped.load(Ordering::SeqCst), "the computation stopped");
        // Its permit is released as it returns.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let again = analyses
            .get_or_compute(key("a"), |_: &AtomicBool| Ok::<_, ()>(Number(2)))
            .await;
        assert_eq!(again.ok().unwrap().0, 2);
    }
}
