//! Deduplication by `webhook-id`, in memory bounded in entries and in bytes.
//!
//! A sender that retries (or a network that replays) sends the same `webhook-id` again; the
//! action must run once. An id is *claimed* when its request starts and *remembered* only if
//! the request was answered 2xx: a failed action must run again when the sender retries, so a
//! failure releases the claim. A second request for an id whose first is still running is told
//! to come back later (409) rather than racing it.
//!
//! An id is remembered until the message's own timestamp leaves the tolerance, the moment a
//! replay of it would be refused as stale anyway; not for a window counted from when it was
//! received, which a message signed "in the future" would outlive. The choice a reader may
//! question: when the memory is full of ids still inside their window, a new id is refused
//! ([`Claim::Full`], answered 503 so the sender retries) instead of evicting the oldest,
//! because an evicted id could be replayed while its signature still verifies. Ids longer than
//! [`MAX_ID_BYTES`] are refused before they get here. The lock is a std `Mutex`: it is held
//! for a few map operations and never across an `.await`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// The longest `webhook-id` accepted, in bytes (Herald's are about 30; Svix's similar).
pub const MAX_ID_BYTES: usize = 256;

/// What one remembered id costs beyond its own bytes: the map slot, the expiry index entry and
/// two allocations' headers. An estimate that keeps `--dedup-memory` close to real memory.
pub(crate) const ENTRY_OVERHEAD: usize = 64;

/// What a request may do with its id.
pub(crate) enum Claim {
    /// First sighting: run the action, then [`ClaimGuard::remember`] on success.
    New(ClaimGuard),
    /// Already handled successfully within the window.
    Duplicate,
    /// Another request with this id is being handled right now.
    InFlight,
    /// The memory is full of ids still inside their window: refuse, do not forget one.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    InFlight,
    /// Remembered until this Unix time (the message's timestamp plus the tolerance).
    Done {
        until: i64,
    },
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Remembered ids by expiry, so expiring is a walk from the front.
    expiries: BTreeSet<(i64, String)>,
    /// Bytes of every id in `entries`, each plus [`ENTRY_OVERHEAD`].
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, id: &str) {
        if self.entries.remove(id).is_some() {
            self.bytes = self.bytes.saturating_sub(cost(id));
        }
    }
}

fn cost(id: &str) -> usize {
    id.len() + ENTRY_OVERHEAD
}

/// The set of recently handled ids.
#[derive(Debug)]
pub(crate) struct Dedup {
    inner: Mutex<Inner>,
    capacity: usize,
    max_bytes: usize,
}

impl Dedup {
    /// Remembers at most `capacity` ids taking at most `max_bytes`.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            max_bytes,
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
        expire(&mut inner, now);
        match inner.entries.get(id) {
            Some(Entry::Done { .. }) => Claim::Duplicate,
            Some(Entry::InFlight) => Claim::InFlight,
            None if inner.entries.len() >= self.capacity
                || inner.bytes + cost(id) > self.max_bytes =>
            {
                Claim::Full
            }
            None => {
                inner.entries.insert(id.to_owned(), Entry::InFlight);
                inner.bytes += cost(id);
                Claim::New(ClaimGuard {
                    dedup: Arc::clone(self),
                    id: Some(id.to_owned()),
                })
            }
        }
    }

    /// How many ids are remembered or in flight, and the bytes they count for.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

/// Forgets the ids whose window ended before `now`.
fn expire(inner: &mut Inner, now: i64) {
    while let Some((until, _)) = inner.expiries.first()
        && *until < now
    {
        let Some((until, id)) = inner.expiries.pop_first() else {
            break;
        };
        if inner.entries.get(&id) == Some(&Entry::Done { until }) {
            inner.remove(&id);
        }
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
    /// The request succeeded: answer later requests with this id as duplicates until `until`
    /// (the message's timestamp plus the tolerance, Unix seconds).
    pub(crate) fn remember(mut self, until: i64) {
        if let Some(id) = self.id.take() {
            let mut inner = self.dedup.lock();
            inner.entries.insert(id.clone(), Entry::Done { until });
            inner.expiries.insert((until, id));
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.dedup.lock().remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedup(capacity: usize, max_bytes: usize) -> Arc<Dedup> {
        Arc::new(Dedup::new(capacity, max_bytes))
    }

    fn handle(d: &Arc<Dedup>, id: &str, now: i64, until: i64) {
        let Claim::New(guard) = d.claim(id, now) else {
            panic!("{id} should be new")
        };
        guard.remember(until);
    }

    #[test]
    fn a_remembered_id_is_a_duplicate_until_its_window_ends_and_forgotten_after() {
        let d = dedup(10, 1 << 20);
        handle(&d, "a", 1000, 1300);
        assert!(matches!(d.claim("a", 1300), Claim::Duplicate));
        assert!(matches!(d.claim("a", 1301), Claim::New(_)));
    }

    #[test]
    fn the_window_follows_the_message_timestamp_not_the_time_it_arrived() {
        // Signed 250 s in the future with a 300 s tolerance: a replay verifies until 1550.
        let d = dedup(10, 1 << 20);
        handle(&d, "future", 1000, 1250 + 300);
        assert!(matches!(d.claim("future", 1549), Claim::Duplicate));
        assert!(matches!(d.claim("future", 1551), Claim::New(_)));
    }

    #[test]
    fn a_failed_request_releases_its_id_for_the_retry() {
        let d = dedup(10, 1 << 20);
        let Claim::New(guard) = d.claim("a", 0) else {
            panic!("first claim")
        };
        assert!(matches!(d.claim("a", 0), Claim::InFlight));
        drop(guard);
        assert_eq!(d.usage(), (0, 0));
        let retry = d.claim("a", 0);
        assert!(matches!(retry, Claim::New(_)));
        assert_eq!(d.usage(), (1, cost("a")));
    }

    #[test]
    fn when_full_of_ids_inside_their_window_new_ids_are_refused_not_old_ones_forgotten() {
        let d = dedup(3, 1 << 20);
        for i in 0..3 {
            handle(&d, &format!("id{i}"), 0, 300);
        }
        assert!(matches!(d.claim("id3", 0), Claim::Full));
        assert!(matches!(d.claim("id0", 0), Claim::Duplicate));
        // Once their window ends they make room.
        let claim = d.claim("id3", 301);
        assert!(matches!(claim, Claim::New(_)));
        assert_eq!(d.usage().0, 1);
    }

    #[test]
    fn memory_is_bounded_in_bytes_as_well_as_entries() {
        let long = "x".repeat(MAX_ID_BYTES);
        let d = dedup(1000, 2 * cost(&long));
        handle(&d, &format!("{long}1")[1..], 0, 300);
        handle(&d, &format!("{long}2")[1..], 0, 300);
        assert!(matches!(d.claim("short", 0), Claim::Full));
        let (entries, bytes) = d.usage();
        assert_eq!(entries, 2);
        assert!(bytes <= 2 * cost(&long));
    }
}
