//! Deduplication by `webhook-id`, in bounded memory.
//!
//! A sender that retries (or a network that replays) sends the same `webhook-id` again; the
//! action must run once. An id is *claimed* when its request starts and *remembered* only if
//! the request was answered 2xx: a failed action must run again when the sender retries, so a
//! failure releases the claim. A second request for an id whose first is still running is told
//! to come back later (409) rather than racing it.
//!
//! Remembered ids are forgotten after the window (the timestamp tolerance: an older request
//! would be refused as stale anyway) or, oldest first, when `capacity` is reached. The lock is
//! a std `Mutex`: it is held for a few map operations and never across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a request may do with its id.
pub(crate) enum Claim {
    /// First sighting: run the action, then [`ClaimGuard::remember`] on success.
    New(ClaimGuard),
    /// Already handled successfully within the window.
    Duplicate,
    /// Another request with this id is being handled right now.
    InFlight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    InFlight,
    Done { at: i64 },
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Remembered ids in the order they were remembered, for expiry and eviction.
    order: VecDeque<(String, i64)>,
}

/// The set of recently handled ids.
#[derive(Debug)]
pub(crate) struct Dedup {
    inner: Mutex<Inner>,
    window_seconds: i64,
    capacity: usize,
}

impl Dedup {
    /// Remembers ids for `window_seconds`, at most `capacity` of them.
    pub(crate) fn new(window_seconds: i64, capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            window_seconds,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves the maps consistent (each operation is a
        // single insert or remove), so a poisoned lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims `id` at time `now` (Unix seconds).
    pub(crate) fn claim(self: &Arc<Self>, id: &str, now: i64) -> Claim {
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        match inner.entries.get(id) {
            Some(Entry::Done { .. }) => Claim::Duplicate,
            Some(Entry::InFlight) => Claim::InFlight,
            None => {
                inner.entries.insert(id.to_owned(), Entry::InFlight);
                Claim::New(ClaimGuard {
                    dedup: Arc::clone(self),
                    id: Some(id.to_owned()),
                })
            }
        }
    }

    fn expire(&self, inner: &mut Inner, now: i64) {
        while let Some((id, at)) = inner.order.front().cloned() {
            let expired = now.saturating_sub(at) > self.window_seconds;
            let over = inner.order.len() > self.capacity;
            if !expired && !over {
                break;
            }
            inner.order.pop_front();
            if inner.entries.get(&id) == Some(&Entry::Done { at }) {
                inner.entries.remove(&id);
            }
        }
    }

    /// How many ids are remembered or in flight.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

/// A claimed id. Dropped without [`remember`](Self::remember), it releases the claim so a
/// retry runs the action again.
pub(crate) struct ClaimGuard {
    dedup: Arc<Dedup>,
    /// `None` once remembered.
    id: Option<String>,
}

impl ClaimGuard {
    /// The request succeeded: answer later requests with this id as duplicates.
    pub(crate) fn remember(mut self, now: i64) {
        if let Some(id) = self.id.take() {
            let mut inner = self.dedup.lock();
            inner.entries.insert(id.clone(), Entry::Done { at: now });
            inner.order.push_back((id, now));
            self.dedup.expire(&mut inner, now);
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.dedup.lock().entries.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedup(window: i64, capacity: usize) -> Arc<Dedup> {
        Arc::new(Dedup::new(window, capacity))
    }

    #[test]
    fn a_remembered_id_is_a_duplicate_within_the_window_and_forgotten_after() {
        let d = dedup(300, 10);
        let Claim::New(guard) = d.claim("a", 1000) else {
            panic!("first claim")
        };
        guard.remember(1000);
        assert!(matches!(d.claim("a", 1300), Claim::Duplicate));
        assert!(matches!(d.claim("a", 1301), Claim::New(_)));
    }

    #[test]
    fn a_failed_request_releases_its_id_for_the_retry() {
        let d = dedup(300, 10);
        let Claim::New(guard) = d.claim("a", 0) else {
            panic!("first claim")
        };
        assert!(matches!(d.claim("a", 0), Claim::InFlight));
        drop(guard);
        assert!(matches!(d.claim("a", 0), Claim::New(_)));
    }

    #[test]
    fn memory_stays_within_capacity_by_forgetting_the_oldest() {
        let d = dedup(300, 3);
        for i in 0..10 {
            let Claim::New(guard) = d.claim(&format!("id{i}"), 0) else {
                panic!("claim")
            };
            guard.remember(0);
        }
        assert_eq!(d.len(), 3);
        assert!(matches!(d.claim("id9", 0), Claim::Duplicate));
        assert!(matches!(d.claim("id0", 0), Claim::New(_)));
    }
}
