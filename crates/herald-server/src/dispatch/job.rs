//! One leased job in this process, step by step: wait for its rate-limit slot and its
//! subscription's gate, check its patience, send, record.
//!
//! Each step is its own function and [`work`] only strings them together, so the order that
//! the lease rules depend on (see `lease`, points 4 and 5) reads top to bottom. A job never
//! decides what the store holds: dropping one unattempted leaves its lease to expire.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use herald_store::{AttemptTrigger, DeliveryJob};
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;

use super::Core;
use super::clock::Clock;
use super::gates::{GatePermit, Turn};

/// Works one leased job. `leased` is when its lease began (on the dispatcher's clock);
/// `permit` is its place in `max_concurrency`, held until the attempt is recorded; `turn` its
/// place in its subscription's gate's line if it took one already (then it waits for that
/// rather than for its send slot and a place of its own).
pub(super) async fn work(
    job: DeliveryJob,
    leased: Instant,
    permit: OwnedSemaphorePermit,
    turn: Option<Turn>,
    core: Arc<Core>,
) {
    // Shutdown while waiting, or before the request: no request, the lease stays.
    let gate = match turn {
        Some(turn) => match core.until_stopped(turn.wait()).await {
            Some(gate) => gate,
            None => return,
        },
        None => match core.until_stopped(wait_turn(&job, &core)).await {
            Some(gate) => gate,
            None => return,
        },
    };
    let Some(_sending) = Sending::begin(&core) else {
        return;
    };
    if !core.terms.within_patience(leased, core.clock.instant()) {
        drop_unattempted(&job, leased, &core);
        drop(gate);
        drop(permit);
        core.wake.notify_one(); // capacity freed: its subscription may have more due work
        return;
    }
    let sent = core.clock.instant();
    let (attempt, progress) = core.deliverer.send(&job, AttemptTrigger::Scheduled).await;
    // The request is over: the subscription's next leased job may go now, and the claim loop
    // may queue its next claim to share this attempt's commit.
    let answered = core.clock.instant();
    gate.answered(answered.saturating_duration_since(sent), answered);
    core.wake.notify_one();
    core.deliverer.record(&job, &attempt, &progress).await;
    drop(permit);
    core.wake.notify_one(); // capacity freed (now committed)
}

/// One attempt counted in `Core::in_flight` from just before its request until it is
/// recorded (or dropped), so shutdown can say how many it waits for.
struct Sending<'a> {
    core: &'a Core,
}

impl<'a> Sending<'a> {
    /// Counts the attempt, unless shutdown was asked: counted first and checked second, so an
    /// attempt that goes ahead is always in the count shutdown reads after cancelling.
    fn begin(core: &'a Core) -> Option<Self> {
        core.in_flight.fetch_add(1, Ordering::SeqCst);
        let sending = Self { core };
        (!core.stopped.is_cancelled()).then_some(sending)
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.core.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits for the job's send slot, then for a permit of its subscription's gate.
async fn wait_turn(job: &DeliveryJob, core: &Core) -> GatePermit {
    wait_for_slot(job.not_before, core.clock.as_ref()).await;
    let subscription = &job.subscription;
    core.gates
        .acquire(subscription.id.as_str(), subscription.max_in_flight)
        .await
}

/// Waits until the wall time `not_before` (a rate-limit slot); at once for a time passed.
pub(super) async fn wait_for_slot(not_before: OffsetDateTime, clock: &dyn Clock) {
    if let Ok(ahead) = Duration::try_from(not_before - clock.now())
        && !ahead.is_zero()
    {
        clock.sleep(ahead).await;
    }
}

/// Leaves a job that ran out of patience to its lease (see `lease`, point 5).
fn drop_unattempted(job: &DeliveryJob, leased: Instant, core: &Core) {
    tracing::debug!(
        delivery = %job.delivery.id,
        waited = ?core.clock.instant().saturating_duration_since(leased),
        "a delivery waited too long for its subscription; it is retried when its lease ends"
    );
}
