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
//! A gate that knows its endpoint's answer time stays idle in the map for [`REMEMBER`] after
//! its last answer, so that a subscription whose gate drains while the next claim commits
//! keeps its window; [`Gates::lease_windows`] removes it after that.
//! If a job carries a different `max_in_flight` than its gate's size (the subscription was
//! changed), a new gate of the new size replaces it; attempts holding permits of the old one
//! finish under it, so for that moment the old and the new limit overlap.
//!
//! A gate also keeps how long its endpoint takes to answer ([`GatePermit::answered`]), from
//! which the dispatcher sizes the subscription's lease window ([`Gates::lease_windows`]): the
//! time a leased job waits here is about its place in the queue times that.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// How long an idle gate keeps its endpoint's answer time.
const REMEMBER: Duration = Duration::from_secs(60);

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
    /// How long its endpoint takes to answer, and when it last did, once one attempt has:
    /// see [`GatePermit::answered`].
    answer: Option<(Duration, Instant)>,
}

impl Gate {
    /// Whether nobody holds or waits for its permits (only the map knows it).
    fn idle(&self) -> bool {
        Arc::strong_count(&self.permits) == 1
    }
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
    /// The answer time its attempt measured, told to the gate when the permit is given back
    /// ([`GatePermit::answered`]), under the lock that giving back takes anyway.
    answer: Option<(Duration, Instant)>,
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

    /// A place in the line of `subscription_id`'s gate of `max_in_flight` permits, taken now:
    /// turns taken one after the other get their permits in that order, however their tasks
    /// are scheduled (a relay listener catching up gets a subscription's jobs oldest first).
    pub fn line_up(&self, subscription_id: &str, max_in_flight: u32) -> Turn {
        let mut pass = self.pass(subscription_id, max_in_flight);
        let mut acquire: Acquire = Box::pin(Arc::clone(&pass.permits).acquire_owned());
        // Polled once here, so the wait is queued now; the task that waits for the turn polls
        // it again with its own waker (a semaphore's waiter keeps the latest waker).
        let mut context = Context::from_waker(Waker::noop());
        if let Poll::Ready(permit) = acquire.as_mut().poll(&mut context) {
            pass.permit = permit.ok();
            return Turn {
                acquire: None,
                pass,
            };
        }
        Turn {
            acquire: Some(acquire),
            pass,
        }
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
            answer: None,
        }
    }

    /// The lease window `window_for` gives each subscription whose gate knows its answer
    /// time, for those where it is not `base` (the window of a subscription not listed), at
    /// `now`; idle gates whose last answer is older than [`REMEMBER`] are removed first.
    ///
    /// No window is wider than the process's `places` (its `max_concurrency`, which every
    /// leased job holds one of until it is recorded) allow for every gate's `max_in_flight` at
    /// once, nor narrower than `base`: jobs leased beyond that could only wait at their gates
    /// holding places that other subscriptions' jobs would have sent with (measured: `fanout`,
    /// ten subscriptions, was 5 % slower with windows of 8 than of 2).
    pub fn lease_windows(
        &self,
        now: Instant,
        base: u32,
        places: usize,
        window_for: impl Fn(Duration) -> u32,
    ) -> HashMap<String, u32> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, gate| {
            !gate.idle()
                || gate
                    .answer
                    .is_some_and(|(_, at)| now.saturating_duration_since(at) < REMEMBER)
        });
        let sending: usize = map.values().map(|gate| gate.size as usize).sum();
        let widest = u32::try_from(places / sending.max(1))
            .unwrap_or(u32::MAX)
            .max(base);
        map.iter()
            .filter_map(|(id, gate)| {
                let window = window_for(gate.answer?.0).min(widest);
                (window != base).then(|| (id.clone(), window))
            })
            .collect()
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
            answer: None,
        }
    }
}

/// A semaphore wait, boxed so that it can be queued before its task runs.
type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// A place in a gate's line ([`Gates::line_up`]).
pub struct Turn {
    /// The queued wait, if the permit was not free at once. Declared first so that it is
    /// dropped first: the pass then sees only its own hold on the gate.
    acquire: Option<Acquire>,
    pass: GatePermit,
}

impl Turn {
    /// Waits for this turn's permit.
    pub async fn wait(mut self) -> GatePermit {
        if let Some(acquire) = self.acquire.take() {
            // Never closed: the semaphore is ours and nothing calls `close`.
            self.pass.permit = acquire.await.ok();
        }
        self.pass
    }
}

impl GatePermit {
    /// Gives the permit back, telling the gate that the attempt under it got its answer (or
    /// gave up) after `took`, at `now`. The gate's answer time follows a slower answer at once
    /// and a faster one by an eighth of the difference: a window sized from it shrinks as soon
    /// as the endpoint slows down, and widens only once it has been fast for a while.
    pub fn answered(mut self, took: Duration, now: Instant) {
        self.answer = Some((took, now));
    }
}

impl Gate {
    /// Takes in an answer time measured under one of its permits ([`GatePermit::answered`]).
    fn learn(&mut self, (took, now): (Duration, Instant)) {
        let time = match self.answer {
            Some((known, _)) if took < known => known - (known - took) / 8,
            _ => took,
        };
        self.answer = Some((time, now));
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
        let Some(gate) = map
            .get_mut(&self.subscription_id)
            .filter(|gate| Arc::ptr_eq(&gate.permits, &self.permits))
        else {
            return;
        };
        if let Some(answer) = self.answer.take() {
            gate.learn(answer);
        }
        // Only the map and this permit know the gate: no one else holds or waits on it (every
        // holder and waiter keeps a clone, taken under this lock), so all its permits are
        // back. One that knows its answer time is kept a while (see the module documentation).
        if Arc::strong_count(&self.permits) == 2 && gate.answer.is_none() {
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
    async fn answer_times_size_the_lease_windows_slow_at_once_fast_gradually() {
        let gates = Gates::new();
        let now = Instant::now();
        let windows = || {
            gates.lease_windows(now, 2, 1000, |took| {
                if took < Duration::from_millis(100) {
                    8
                } else {
                    2
                }
            })
        };
        let answer = async |took| gates.acquire("sub_a", 1).await.answered(took, now);
        let _b = gates.acquire("sub_b", 1).await;
        assert!(windows().is_empty(), "nothing answered yet");

        answer(Duration::from_millis(10)).await;
        assert_eq!(
            windows(),
            HashMap::from([("sub_a".to_owned(), 8)]),
            "sub_b has no answer time; sub_a is fast"
        );
        answer(Duration::from_secs(1)).await;
        assert!(
            windows().is_empty(),
            "one slow answer is enough to narrow it"
        );
        answer(Duration::from_millis(10)).await;
        assert!(
            windows().is_empty(),
            "one fast answer after it is not enough to widen it"
        );
        for _ in 0..40 {
            answer(Duration::from_millis(10)).await;
        }
        assert_eq!(windows().get("sub_a"), Some(&8));
    }

    #[tokio::test]
    async fn windows_leave_every_gate_its_share_of_the_places() {
        let gates = Gates::new();
        let now = Instant::now();
        let fast = |_| 8;
        for id in ["sub_a", "sub_b", "sub_c", "sub_d"] {
            let permit = gates.acquire(id, 16).await;
            permit.answered(Duration::from_millis(1), now);
        }
        // 4 gates of 16: 512 places leave each a window of 8, 160 of 2 (160 / 64).
        assert!(
            gates
                .lease_windows(now, 2, 512, fast)
                .values()
                .all(|&w| w == 8)
        );
        assert!(
            gates.lease_windows(now, 2, 160, fast).is_empty(),
            "all at the base"
        );
        assert!(
            gates.lease_windows(now, 2, 10, fast).is_empty(),
            "never below the base"
        );
        let windows = gates.lease_windows(now, 2, 192, fast);
        assert!(
            windows.len() == 4 && windows.values().all(|&w| w == 3),
            "{windows:?}"
        );
    }

    #[tokio::test]
    async fn an_idle_gate_keeps_its_answer_time_for_a_while() {
        let gates = Gates::new();
        let answered = Instant::now();
        let window_for = |_| 8;
        let held = gates.acquire("sub_a", 1).await;
        held.answered(Duration::from_millis(1), answered);
        assert_eq!(gates.len(), 1, "idle, but it knows its answer time");
        let later = answered + REMEMBER - Duration::from_secs(1);
        assert_eq!(gates.lease_windows(later, 2, 1000, window_for).len(), 1);
        // Waiting on it again: the same gate, with what it knew.
        let again = gates.acquire("sub_a", 1).await;
        drop(again);
        assert_eq!(gates.lease_windows(later, 2, 1000, window_for).len(), 1);

        let too_late = answered + REMEMBER;
        assert!(
            gates
                .lease_windows(too_late, 2, 1000, window_for)
                .is_empty()
        );
        assert_eq!(gates.len(), 0, "forgotten: removed");
    }

    #[tokio::test]
    async fn turns_get_their_permits_in_the_order_they_lined_up() {
        let gates = Gates::new();
        let held = gates.acquire("sub_a", 1).await;
        let turns: Vec<Turn> = (0..4).map(|_| gates.line_up("sub_a", 1)).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        // Waited for in reverse: the line, not the waiting, decides.
        for (n, turn) in turns.into_iter().enumerate().rev() {
            let order = Arc::clone(&order);
            tasks.spawn(async move {
                let permit = turn.wait().await;
                order.lock().expect("order").push(n);
                drop(permit);
            });
        }
        tokio::task::yield_now().await;
        drop(held);
        while tasks.join_next().await.is_some() {}
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2, 3]);
        assert_eq!(gates.len(), 0, "all given back: removed");
    }

    #[tokio::test]
    async fn a_turn_given_up_leaves_no_gate_behind() {
        let gates = Gates::new();
        let free = gates.line_up("sub_a", 1);
        let waiting = gates.line_up("sub_a", 1);
        drop(waiting);
        drop(free.wait().await);
        assert_eq!(gates.len(), 0);
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
