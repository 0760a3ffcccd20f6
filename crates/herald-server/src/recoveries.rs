//! Recoveries in the background: [`drive`] takes a recovery to its end one store step at a
//! time (a batch requeued, its cursor moved and its lease renewed in one transaction), and
//! [`run`] claims, at start and every [`SWEEP`], the running recoveries whose lease ended —
//! their node crashed or stopped — and drives them on from their cursor. A recovery is
//! therefore finished by some node even if the one that started it dies, and never requeues
//! a delivery twice (`herald_store::DeliveryQueue::recovery_step`). The API starts them
//! (`api/subscriptions/recover.rs`); the Hub and the CLI read their progress.

use std::sync::Arc;
use std::time::Duration;

use herald_store::{DeliveryQueue, RecoveryStatus};
use tokio_util::sync::CancellationToken;

use crate::dispatch::Intake;

/// How long a node holds a recovery it drives; each batch renews it, so only a node that
/// stopped lets it end.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a node looks for recoveries whose lease ended.
pub const SWEEP: Duration = Duration::from_secs(30);
/// How many deliveries one batch requeues: small enough that a batch never holds the writer
/// long, large enough that a big recovery is quick.
const BATCH: u32 = 100;
/// The most stalled recoveries one sweep takes up (the next sweep takes the rest).
const CLAIMS_PER_SWEEP: usize = 100;

/// The end of a lease taken at `now` (also a new recovery's first).
pub fn lease_from(now: time::OffsetDateTime) -> time::OffsetDateTime {
    now + LEASE
}

/// Requeues batch after batch of recovery `id` until it is done (or gone). A store error
/// stops it here; its lease then ends and a sweep (of any node) continues it.
pub async fn drive(queue: Arc<dyn DeliveryQueue>, intake: Intake, id: String) {
    let mut requeued = None;
    loop {
        let now = herald_store::timestamp_now();
        let step = queue.recovery_step(&id, now, lease_from(now), BATCH).await;
        let recovery = match step {
            Ok(Some(recovery)) => recovery,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, recovery = %id, "recovery paused: the store failed; it resumes when its lease ends");
                return;
            }
        };
        if requeued.is_none_or(|before| recovery.requeued > before) {
            intake.wake();
        }
        requeued = Some(recovery.requeued);
        if recovery.status == RecoveryStatus::Done {
            return;
        }
    }
}

/// Takes up the recoveries whose lease ended, each driven in its own task; answers how many.
pub async fn resume_stalled(queue: &Arc<dyn DeliveryQueue>, intake: &Intake) -> usize {
    let mut resumed = 0;
    while resumed < CLAIMS_PER_SWEEP {
        let now = herald_store::timestamp_now();
        let claimed = match queue.claim_stalled_recovery(now, lease_from(now)).await {
            Ok(Some(recovery)) => recovery,
            Ok(None) => break,
            Err(error) => {
                tracing::warn!(%error, "looking for interrupted recoveries failed");
                break;
            }
        };
        tracing::info!(recovery = %claimed.id, requeued = claimed.requeued, "resuming an interrupted recovery");
        tokio::spawn(drive(Arc::clone(queue), intake.clone(), claimed.id));
        resumed += 1;
    }
    resumed
}

/// The sweep: at start, then every [`SWEEP`], until `shutdown`.
pub async fn run(queue: Arc<dyn DeliveryQueue>, intake: Intake, shutdown: CancellationToken) {
    loop {
        resume_stalled(&queue, &intake).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(SWEEP) => {}
        }
    }
}
