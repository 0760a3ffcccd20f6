//! Per-subscription gates: at most `max_in_flight` attempts of one subscription run at once
//! in this process.
//!
//! With a lease window above 1 (only where this process is the database's only claimer, see
//! `DeliveryQueue::single_process`) the store leases a subscription up to `max_in_flight × window`
//! deliveries, so that the next ones are already leased when an attempt's response comes
//! back. The gate is what still keeps the subscription's endpoint at `max_in_flight`
//! concurrent requests: a leased job waits here for a permit before it is sent, and gives it
//! back as soon as its response is in.
//!
//! A gate is a [`Semaphore`] of `max_in_flight` permits, kept in a map by subscription id
//! while anyone holds or waits for one of its permits, and removed when it falls idle, so the
//! map holds only the subscriptions that have work right now (deleted ones do not pile up).
//! If a job carries a different `max_in_flight` than its gate's size (the subscription was
//! changed), a new gate of the new size replaces it; attempts holding permits of the old one
//! finish under it, so for that moment the old and the new limit overlap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The gates of every subscription with work in this process. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct Gates {
    /// A std `Mutex`: it is held only to look a gate up or drop it, never across an await.
    map: Arc<Mutex<HashMap<String, Gate>>>,
}

/// One subscription's gate.
#[derive(Debug)]
struct Gate {
    /// Its permits: the subscription's `max_in_flight` when the gate was made.
    size: u32,
    permits: Arc<Semaphore>,
}

/// A permit of a subscription's gate (or the wait for one). Dropping it gives the permit
/// back, and removes the gate from the map if nobody else holds or waits on it.
#[derive(Debug)]
pub struct GatePermit {
    gates: Gates,
    subscription_id: String,
    /// The gate this permit belongs to (compared by pointer: it may have been replaced).
    permits: Arc<Semaphore>,
    /// `None` while waiting, and once given back.
    permit: Option<OwnedSemaphorePermit>,
}

impl Gates {
    /// An empty set of gates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for a permit of `subscription_id`'s gate, a gate of `max_in_flight` permits
    /// (made, or remade at that size, if needed; a limit of 0 is taken as 1).
    pub async fn acquire(&self, subscription_id: &str, max_in_flight: u32) -> GatePermit {
        let mut pass = self.pass(subscription_id, max_in_flight);
        // Never closed: the semaphore is ours and nothing calls `close`.
        pass.permit = Arc::clone(&pass.permits).acquire_owned().await.ok();
        pass
    }

    /// A permit of `subscription_id`'s gate if one is free now, else `None` (a manual
    /// attempt answers "busy" rather than queue behind the subscription's work).
    pub fn try_acquire(&self, subscription_id: &str, max_in_flight: u32) -> Option<GatePermit> {
        let mut pass = self.pass(subscription_id, max_in_flight);
        pass.permit = Arc::clone(&pass.permits).try_acquire_owned().ok();
        pass.permit.is_some().then_some(pass)
    }

    /// A pass without its permit yet, on `subscription_id`'s gate of `max_in_flight` permits
    /// (made, or remade at that size, if needed; a limit of 0 is taken as 1). Made before any
    /// wait, so that a wait given up or a refusal (the pass dropped) still tidies up.
    fn pass(&self, subscription_id: &str, max_in_flight: u32) -> GatePermit {
        let size = max_in_flight.max(1);
        let permits = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            let gate = map
                .entry(subscription_id.to_owned())
                .or_insert_with(|| Gate::new(size));
            if gate.size != size {
                *gate = Gate::new(size);
            }
            Arc::clone(&gate.permits)
        };
        GatePermit {
            gates: self.clone(),
            subscription_id: subscription_id.to_owned(),
            permits,
            permit: None,
        }
    }

    /// How many subscriptions have a gate (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Gate {
    fn new(size: u32) -> Self {
        Self {
            size,
            permits: Arc::new(Semaphore::new(size as usize)),
        }
    }
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut map = self
            .gates
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(gate) = map.get(&self.subscription_id)
            && Arc::ptr_eq(&gate.permits, &self.permits)
            // Only the map and this permit know the gate: no one else holds or waits on it
            // (every holder and waiter keeps a clone, taken under this lock), so all its
            // permits are back.
            && Arc::strong_count(&self.permits) == 2
        {
            map.remove(&self.subscription_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::{Pin, pin};
    use std::task::Poll;

    /// Polls `future` once: whether it is still waiting (a permit wait registers at once).
    async fn waits<F: Future>(mut future: Pin<&mut F>) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
    }

    #[tokio::test]
    async fn a_subscription_gets_at_most_max_in_flight_permits() {
        let gates = Gates::new();
        let first = gates.acquire("sub_a", 2).await;
        let _second = gates.acquire("sub_a", 2).await;
        let mut third = pin!(gates.acquire("sub_a", 2));
        assert!(waits(third.as_mut()).await, "2 held");
        // Another subscription has its own gate.
        let _other = gates.acquire("sub_b", 2).await;
        drop(first);
        assert!(
            !waits(third.as_mut()).await,
            "a permit given back goes to the waiter"
        );
    }

    #[tokio::test]
    async fn a_changed_max_in_flight_replaces_the_gate() {
        let gates = Gates::new();
        let old = gates.acquire("sub_a", 1).await;
        // The old gate is full, but a job with the new limit gets a gate of that size.
        let _a = gates.acquire("sub_a", 2).await;
        let _b = gates.acquire("sub_a", 2).await;
        assert!(waits(pin!(gates.acquire("sub_a", 2))).await, "2 held");
        // The old permit, given back, leaves the new gate alone.
        drop(old);
        assert_eq!(gates.len(), 1);
        assert!(waits(pin!(gates.acquire("sub_a", 2))).await, "still 2 held");
    }

    #[tokio::test]
    async fn try_acquire_refuses_a_full_gate_and_leaves_no_gate_behind() {
        let gates = Gates::new();
        let held = gates.try_acquire("sub_a", 1);
        assert!(held.is_some());
        assert!(gates.try_acquire("sub_a", 1).is_none(), "1 held");
        drop(held);
        assert_eq!(gates.len(), 0);
        assert!(gates.try_acquire("sub_a", 1).is_some());
    }

    #[tokio::test]
    async fn an_idle_gate_is_removed() {
        let gates = Gates::new();
        let first = gates.acquire("sub_a", 1).await;
        let mut waiting = pin!(gates.acquire("sub_a", 1));
        assert!(waits(waiting.as_mut()).await);
        drop(first);
        assert_eq!(gates.len(), 1, "a waiter keeps the gate");
        let second = waiting.await;
        assert_eq!(gates.len(), 1, "a holder keeps the gate");
        drop(second);
        assert_eq!(gates.len(), 0, "idle: removed");
    }

    #[tokio::test]
    async fn a_given_up_wait_leaves_no_gate_behind() {
        let gates = Gates::new();
        let held = gates.acquire("sub_a", 1).await;
        {
            let mut waiting = pin!(gates.acquire("sub_a", 1));
            assert!(waits(waiting.as_mut()).await);
        }
        assert_eq!(gates.len(), 1, "the holder keeps the gate");
        drop(held);
        assert_eq!(gates.len(), 0);

        // Given up after the permit was passed to it: the permit goes back, the gate too.
        let held = gates.acquire("sub_a", 1).await;
        {
            let mut waiting = pin!(gates.acquire("sub_a", 1));
            assert!(waits(waiting.as_mut()).await);
            drop(held);
            assert_eq!(gates.len(), 1, "the waiter keeps the gate");
        }
        assert_eq!(gates.len(), 0);
    }
}
