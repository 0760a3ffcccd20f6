//! One leased job in this process, step by step: wait for its rate-limit slot and its
//! subscription's gate, check its patience, send, record.
//!
//! Each step is its own function and [`work`] only strings them together, so the order that
//! the lease rules depend on (see `lease`, points 4 and 5) reads top to bottom. A job never
//! decides what the store holds: dropping one unattempted leaves its lease to expire.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_store::{AttemptTrigger, DeliveryJob};
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;

use super::Core;
use super::clock::Clock;
use super::gates::GatePermit;

/// Works one leased job. `leased` is when its lease began (on the dispatcher's clock);
/// `permit` is its place in `max_concurrency`, held until the attempt is recorded.
pub(super) async fn work(
    job: DeliveryJob,
    leased: Instant,
    permit: OwnedSemaphorePermit,
    core: Arc<Core>,
) {
    let gate = wait_turn(&job, &core).await;
    if !core.terms.within_patience(leased, core.clock.instant()) {
        drop_unattempted(&job, leased, &core);
        drop(gate);
        drop(permit);
        core.wake.notify_one(); // capacity freed: its subscription may have more due work
        return;
    }
    let (attempt, progress) = core.deliverer.send(&job, AttemptTrigger::Scheduled).await;
    // The request is over: the subscription's next leased job may go now, and the claim loop
    // may queue its next claim to share this attempt's commit.
    drop(gate);
    core.wake.notify_one();
    core.deliverer.record(&job, &attempt, &progress).await;
    drop(permit);
    core.wake.notify_one(); // capacity freed (now committed)
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
async fn wait_for_slot(not_before: OffsetDateTime, clock: &dyn Clock) {
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
