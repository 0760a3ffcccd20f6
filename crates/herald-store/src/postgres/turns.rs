//! Turns between the two writers of a node on PostgreSQL: while outcomes are being written, a
//! publish batch starts only after an outcome batch has ended since its last one.
//!
//! SQLite's one writer takes publishes and outcomes in the same batches, so a node accepts
//! events only as fast as it also records what it delivered. On PostgreSQL the two writers
//! ([`super::publish`], [`super::completions`]) run transactions of their own, and a publish
//! batch started whenever its transaction was free. Flat out, with 64 publishers, a node
//! accepted 1.1 events for each one it delivered, and its queue grew for as long as the load
//! lasted (docs/performance.md). Taking turns at the database, not at the endpoints, keeps the
//! two rates together: an outcome batch is a transaction of a few milliseconds, and a slow
//! endpoint holds up no publish, since its request is not an outcome until it is answered. A
//! publish batch never waits longer than [`MAX_WAIT`], so publishing goes on if the outcome
//! batcher stalls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// The longest a publish batch waits for its turn.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// What the outcome batcher tells the publish batcher.
#[derive(Default)]
pub(super) struct Turns {
    /// Outcome calls queued and not yet in a batch.
    waiting: AtomicUsize,
    /// Outcome batches running.
    running: AtomicUsize,
    /// Outcome batches ended.
    ended: AtomicU64,
    /// Signalled whenever an outcome batch ends.
    ended_one: Notify,
}

/// A group's part in the turns.
#[derive(Clone)]
pub(super) enum Turn {
    /// Goes first: counts its queued calls and its batches (outcomes).
    First(Arc<Turns>),
    /// Waits its turn while the other side has work (publishes).
    After(Arc<Turns>),
}

impl Turn {
    /// A call was queued (`First` only).
    pub(super) fn queued(&self) {
        if let Self::First(turns) = self {
            turns.waiting.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A queued call was dropped unbatched (`First` only).
    pub(super) fn dropped(&self) {
        if let Self::First(turns) = self {
            turns.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A batch of `calls` starts; it ends when the answer is dropped (`First` only: for the
    /// other side the answer does nothing). Dropped, not called: a batch that panics ends too.
    pub(super) fn start(&self, calls: usize) -> Running {
        if let Self::First(turns) = self {
            turns.waiting.fetch_sub(calls, Ordering::SeqCst);
            turns.running.fetch_add(1, Ordering::SeqCst);
            return Running(Some(Arc::clone(turns)));
        }
        Running(None)
    }

    /// Waits until this side may start a batch (`After` only): see [`Turns::wait_turn`].
    pub(super) async fn wait(&self, last: &mut u64) {
        if let Self::After(turns) = self {
            turns.wait_turn(last, MAX_WAIT).await;
        }
    }
}

/// A batch of the first side in progress; dropping it ends the batch.
pub(super) struct Running(Option<Arc<Turns>>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(turns) = self.0.take() {
            turns.running.fetch_sub(1, Ordering::SeqCst);
            turns.ended.fetch_add(1, Ordering::SeqCst);
            turns.ended_one.notify_waiters();
        }
    }
}

impl Turns {
    /// Returns at once if no outcome is queued or being written, else once an outcome batch
    /// has ended since `last` (the count when the publish side last started a batch), or after
    /// `max_wait`. Updates `last`.
    async fn wait_turn(&self, last: &mut u64, max_wait: Duration) {
        let deadline = tokio::time::sleep(max_wait);
        tokio::pin!(deadline);
        loop {
            let ended_one = self.ended_one.notified();
            tokio::pin!(ended_one);
            // Registered before the check, so a batch that ends in between still wakes us.
            ended_one.as_mut().enable();
            let ended = self.ended.load(Ordering::SeqCst);
            let idle = self.waiting.load(Ordering::SeqCst) == 0
                && self.running.load(Ordering::SeqCst) == 0;
            if idle || ended != *last {
                *last = ended;
                return;
            }
            tokio::select! {
                () = &mut ended_one => {}
                () = &mut deadline => {
                    *last = ended;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    /// A publish batch's wait, spawned; its `last` when it returns.
    fn publish_waits(turns: &Arc<Turns>, max_wait: Duration) -> tokio::task::JoinHandle<u64> {
        let turns = Arc::clone(turns);
        tokio::spawn(async move {
            let mut last = 0;
            turns.wait_turn(&mut last, max_wait).await;
            last
        })
    }

    /// Whether `waiter` is still waiting after a while (it cannot have been woken early).
    async fn still_waiting(waiter: &mut tokio::task::JoinHandle<u64>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), waiter)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn publishes_go_at_once_while_no_outcome_is_queued_or_written() {
        let turns = Arc::new(Turns::default());
        let outcomes = Turn::First(Arc::clone(&turns));
        outcomes.queued();
        drop(outcomes.start(1));
        let last = tokio::time::timeout(LONG, publish_waits(&turns, LONG))
            .await
            .expect("nothing of the outcomes' left: the publish batch starts")
            .expect("waiter");
        assert_eq!(last, 1);
    }

    #[tokio::test]
    async fn publishes_wait_for_an_outcome_batch_to_end_while_outcomes_are_queued() {
        let turns = Arc::new(Turns::default());
        let outcomes = Turn::First(Arc::clone(&turns));
        outcomes.queued();
        let mut waiter = publish_waits(&turns, LONG);
        assert!(
            still_waiting(&mut waiter).await,
            "started while an outcome was queued"
        );
        let batch = outcomes.start(1);
        assert!(
            still_waiting(&mut waiter).await,
            "started while an outcome batch ran"
        );
        drop(batch);
        let last = tokio::time::timeout(LONG, waiter)
            .await
            .expect("the outcome batch ended: the publish batch starts")
            .expect("waiter");
        assert_eq!(last, 1);
    }

    #[tokio::test]
    async fn a_publish_batch_waits_at_most_its_bound() {
        let turns = Arc::new(Turns::default());
        Turn::First(Arc::clone(&turns)).queued();
        let last = tokio::time::timeout(LONG, publish_waits(&turns, Duration::from_millis(1)))
            .await
            .expect("the bound ends the wait although no outcome batch ended")
            .expect("waiter");
        assert_eq!(last, 0);
    }
}
