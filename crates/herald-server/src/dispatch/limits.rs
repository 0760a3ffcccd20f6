//! Per-subscription limits (DESIGN promise 5): how many requests are in flight to each
//! subscription, and a pacing rate limiter.
//!
//! Held in memory by the one dispatcher of this process; a std `Mutex` is enough because no
//! lock is held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_store::SubscriptionId;
use tokio::time::Instant;

#[derive(Default)]
struct SubscriptionState {
    in_flight: u32,
    max_in_flight: u32,
    /// The earliest instant the next request may start (pacing, not a bucket: requests are
    /// spread evenly, which is what a rate-limited receiver wants).
    next_slot: Option<Instant>,
}

/// In-flight counts and rate pacing for every subscription this dispatcher serves.
#[derive(Clone, Default)]
pub struct Limits {
    inner: Arc<Mutex<HashMap<SubscriptionId, SubscriptionState>>>,
}

impl Limits {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SubscriptionId, SubscriptionState>> {
        // A poisoned map only means a panic elsewhere; the counts are still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remaining capacity of every subscription that has requests in flight (a claim passes
    /// this so the store never hands out more than `max_in_flight`).
    pub fn remaining(&self) -> BTreeMap<SubscriptionId, u32> {
        self.lock()
            .iter()
            .filter(|(_, s)| s.in_flight > 0)
            .map(|(id, s)| (id.clone(), s.max_in_flight.saturating_sub(s.in_flight)))
            .collect()
    }

    /// Counts a request as started. Returns a guard that counts it finished on drop.
    pub fn start(&self, id: &SubscriptionId, max_in_flight: u32) -> InFlight {
        let mut map = self.lock();
        let state = map.entry(id.clone()).or_default();
        state.in_flight += 1;
        state.max_in_flight = max_in_flight;
        InFlight {
            limits: self.clone(),
            id: id.clone(),
        }
    }

    /// Reserves the next send slot under `per_second` and returns when it may start.
    pub fn reserve_slot(&self, id: &SubscriptionId, per_second: u32) -> Instant {
        let interval = Duration::from_secs(1) / per_second.max(1);
        let now = Instant::now();
        let mut map = self.lock();
        let state = map.entry(id.clone()).or_default();
        let slot = state.next_slot.map_or(now, |next| next.max(now));
        state.next_slot = Some(slot + interval);
        slot
    }

    /// Requests in flight to `id` now.
    pub fn in_flight(&self, id: &SubscriptionId) -> u32 {
        self.lock().get(id).map_or(0, |s| s.in_flight)
    }
}

/// Counts one request in flight until dropped.
pub struct InFlight {
    limits: Limits,
    id: SubscriptionId,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut map = self.limits.lock();
        if let Some(state) = map.get_mut(&self.id) {
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight == 0 && state.next_slot.is_none_or(|s| s <= Instant::now()) {
                map.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_capacity_follows_requests_in_flight() {
        let limits = Limits::default();
        let id = SubscriptionId::generate();
        let a = limits.start(&id, 2);
        assert_eq!(limits.remaining().get(&id), Some(&1));
        let b = limits.start(&id, 2);
        assert_eq!(limits.remaining().get(&id), Some(&0));
        drop(a);
        drop(b);
        assert_eq!(limits.in_flight(&id), 0);
        assert!(!limits.remaining().contains_key(&id));
    }

    #[test]
    fn slots_are_spaced_by_the_rate() {
        let limits = Limits::default();
        let id = SubscriptionId::generate();
        let first = limits.reserve_slot(&id, 10);
        let second = limits.reserve_slot(&id, 10);
        assert_eq!(second - first, Duration::from_millis(100));
    }
}
