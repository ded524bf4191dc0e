//! Deterministic batching for relation loaders (docs/batching.md says why it replaces
//! async-graphql's `DataLoader`).
//!
//! async-graphql's `DataLoader` collects keys for a fixed delay and then fetches on another
//! task; when resolving a level of the query takes longer than the delay (a debug build, a
//! busy machine, a large page), one level splits into several batches and the number of
//! statements starts to depend on the number of rows. Here the first request for a key type
//! becomes the batch *leader*: it yields to the executor until no sibling adds a key any
//! more — every resolver of one GraphQL request runs inside the same task, so yielding lets
//! all the sibling resolvers of the level register their keys — and only then fetches, once,
//! for everybody. Results are cached for the rest of the request.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::dataloader::Loader;
use tokio::sync::Notify;

/// How many times a leader yields at most before fetching (a safety bound; levels settle
/// after a few yields).
const MAX_YIELDS: usize = 64;

struct Batch<K, V, E> {
    keys: Mutex<Vec<K>>,
    result: OnceLock<Result<HashMap<K, V>, E>>,
    done: Notify,
}

struct Slot<K, V, E> {
    /// The batch still accepting keys.
    open: Option<Arc<Batch<K, V, E>>>,
    /// Everything fetched so far in this request (`None`: fetched, not found).
    cache: HashMap<K, Option<V>>,
}

/// The slots of a request's loader, one per key type.
type Slots = HashMap<TypeId, Box<dyn Any + Send>>;

/// The slot of key type `K` (created empty on first use).
fn slot<K, V, E>(slots: &mut Slots) -> &mut Slot<K, V, E>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    slots
        .entry(TypeId::of::<K>())
        .or_insert_with(|| {
            Box::new(Slot::<K, V, E> {
                open: None,
                cache: HashMap::new(),
            })
        })
        .downcast_mut::<Slot<K, V, E>>()
        .expect("one slot type per key type")
}

/// A per-request loader over a [`Loader`] implementation.
pub struct BatchLoader<T> {
    loader: T,
    slots: Mutex<Slots>,
    /// Fetches running now; a leader waits for them, since their results wake resolvers
    /// that may add keys to its batch (two branches of the query reaching the same key
    /// type at the same depth end up in one batch, whichever database answer comes first).
    in_flight: std::sync::atomic::AtomicUsize,
    idle: Notify,
}

impl<T> BatchLoader<T> {
    /// Wraps `loader`.
    pub fn new(loader: T) -> Self {
        Self {
            loader,
            slots: Mutex::new(HashMap::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    /// Yields until `batch` stops growing, and no other fetch is running.
    async fn settle<K, V, E>(&self, batch: &Batch<K, V, E>) {
        use std::sync::atomic::Ordering;
        for _ in 0..MAX_YIELDS {
            let mut seen = 0;
            for _ in 0..MAX_YIELDS {
                tokio::task::yield_now().await;
                let now = batch.keys.lock().expect("batch lock").len();
                if now == seen {
                    break;
                }
                seen = now;
            }
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Records what a load of `key` would answer (`None`: not found), read by another
    /// statement of the request (a page that read its rows' relations); a key already
    /// fetched keeps its answer.
    pub fn prime<K>(&self, key: K, value: Option<T::Value>)
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        T: Loader<K>,
        T::Error: Sync,
    {
        let mut slots = self.slots.lock().expect("loader lock");
        slot::<K, T::Value, T::Error>(&mut slots)
            .cache
            .entry(key)
            .or_insert(value);
    }

    /// Loads one key, batched with every other key requested by the same level.
    pub async fn load_one<K>(&self, key: K) -> Result<Option<T::Value>, T::Error>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        T: Loader<K>,
        T::Error: Sync,
    {
        let (batch, leader) = {
            let mut slots = self.slots.lock().expect("loader lock");
            let slot = slot::<K, T::Value, T::Error>(&mut slots);
            if let Some(hit) = slot.cache.get(&key) {
                return Ok(hit.clone());
            }
            match &slot.open {
                Some(batch) => {
                    batch.keys.lock().expect("batch lock").push(key.clone());
                    (batch.clone(), false)
                }
                None => {
                    let batch = Arc::new(Batch {
                        keys: Mutex::new(vec![key.clone()]),
                        result: OnceLock::new(),
                        done: Notify::new(),
                    });
                    slot.open = Some(batch.clone());
                    (batch, true)
                }
            }
        };

        if leader {
            // Let the siblings of this level register their keys.
            self.settle(&batch).await;
            // Close the batch: later keys start a new one.
            let keys: Vec<K> = {
                let mut slots = self.slots.lock().expect("loader lock");
                if let Some(slot) = slots
                    .get_mut(&TypeId::of::<K>())
                    .and_then(|s| s.downcast_mut::<Slot<K, T::Value, T::Error>>())
                    && slot.open.as_ref().is_some_and(|b| Arc::ptr_eq(b, &batch))
                {
                    slot.open = None;
                }
                let keys = batch.keys.lock().expect("batch lock").clone();
                let mut seen = std::collections::HashSet::with_capacity(keys.len());
                keys.into_iter()
                    .filter(|k| seen.insert(k.clone()))
                    .collect()
            };
            self.in_flight
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let result = self.loader.load(&keys).await;
            if let Ok(found) = &result {
                let mut slots = self.slots.lock().expect("loader lock");
                if let Some(slot) = slots
                    .get_mut(&TypeId::of::<K>())
                    .and_then(|s| s.downcast_mut::<Slot<K, T::Value, T::Error>>())
                {
                    for k in &keys {
                        slot.cache.insert(k.clone(), found.get(k).cloned());
                    }
                }
            }
            let _ = batch.result.set(result);
            batch.done.notify_waiters();
            if self
                .in_flight
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
                == 1
            {
                self.idle.notify_waiters();
            }
        } else {
            loop {
                let notified = batch.done.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if batch.result.get().is_some() {
                    break;
                }
                notified.await;
            }
        }
        match batch.result.get().expect("batch finished") {
            Ok(found) => Ok(found.get(&key).cloned()),
            Err(e) => Err(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::join_all;

    use super::*;

    /// Doubles even keys, has no odd ones, fails on 13; records every call.
    #[derive(Default)]
    struct Doubler {
        calls: Mutex<Vec<Vec<u32>>>,
        slow: AtomicUsize,
    }

    impl Loader<u32> for Doubler {
        type Value = u32;
        type Error = String;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, String> {
            self.calls.lock().unwrap().push(keys.to_vec());
            // A fetch that takes several turns of the executor, like a database round trip.
            for _ in 0..self.slow.load(Ordering::SeqCst) {
                tokio::task::yield_now().await;
            }
            if keys.contains(&13) {
                return Err("thirteen".into());
            }
            Ok(keys
                .iter()
                .filter(|k| *k % 2 == 0)
                .map(|k| (*k, k * 2))
                .collect())
        }
    }

    fn calls(loader: &BatchLoader<Doubler>) -> Vec<Vec<u32>> {
        loader.loader.calls.lock().unwrap().clone()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn siblings_of_one_level_share_one_fetch_with_each_key_once() {
        let loader = BatchLoader::new(Doubler::default());
        let found = join_all([2, 4, 2, 5].map(|k| loader.load_one(k))).await;
        assert_eq!(found, vec![Ok(Some(4)), Ok(Some(8)), Ok(Some(4)), Ok(None)]);
        assert_eq!(calls(&loader), vec![vec![2, 4, 5]]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn primed_keys_answer_without_a_fetch_and_fetched_ones_keep_their_answer() {
        let loader = BatchLoader::new(Doubler::default());
        assert_eq!(loader.load_one(2).await, Ok(Some(4)));
        loader.prime(2, Some(99));
        loader.prime(6, Some(7));
        loader.prime(8, None);
        let found = join_all([2, 6, 8, 10].map(|k| loader.load_one(k))).await;
        assert_eq!(
            found,
            vec![Ok(Some(4)), Ok(Some(7)), Ok(None), Ok(Some(20))]
        );
        assert_eq!(calls(&loader), vec![vec![2], vec![10]]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn results_are_cached_for_the_request_found_or_not() {
        let loader = BatchLoader::new(Doubler::default());
        assert_eq!(loader.load_one(2).await, Ok(Some(4)));
        assert_eq!(loader.load_one(3).await, Ok(None));
        assert_eq!(loader.load_one(2).await, Ok(Some(4)));
        assert_eq!(loader.load_one(3).await, Ok(None));
        assert_eq!(calls(&loader), vec![vec![2], vec![3]]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_error_reaches_every_waiter_and_is_not_cached() {
        let loader = BatchLoader::new(Doubler::default());
        let found = join_all([13, 2].map(|k| loader.load_one(k))).await;
        assert_eq!(found, vec![Err("thirteen".into()), Err("thirteen".into())]);
        assert_eq!(loader.load_one(2).await, Ok(Some(4)));
        assert_eq!(calls(&loader), vec![vec![13, 2], vec![2]]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn keys_asked_while_a_slow_fetch_runs_join_the_next_level_batch() {
        // Level one: two keys; while their fetch runs, level two's resolvers (woken by an
        // earlier answer elsewhere) ask for more keys: they wait for the running fetch and
        // then go out together, not one statement each.
        let loader = BatchLoader::new(Doubler::default());
        loader.loader.slow.store(5, Ordering::SeqCst);
        let first = async { join_all([2, 4].map(|k| loader.load_one(k))).await };
        let second = async {
            tokio::task::yield_now().await;
            join_all([6, 8, 10].map(|k| loader.load_one(k))).await
        };
        let (a, b) = tokio::join!(first, second);
        assert_eq!(a, vec![Ok(Some(4)), Ok(Some(8))]);
        assert_eq!(b, vec![Ok(Some(12)), Ok(Some(16)), Ok(Some(20))]);
        assert!(
            calls(&loader).len() <= 2,
            "two levels, at most two fetches: {:?}",
            calls(&loader)
        );
    }
}
