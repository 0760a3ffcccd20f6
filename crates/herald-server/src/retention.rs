//! Retention: a background task of the server that deletes events older than `retention`
//! (with their deliveries, attempts and idempotency keys) in small batches, until its
//! shutdown token is cancelled.
//!
//! It owns nothing but that deletion, and it must never delay a delivery: each batch is one
//! short transaction of at most [`BATCH`] events (on SQLite, one write among the writer's
//! others), batches are separated by a pause, and an event with a pending delivery is never
//! deleted (the store checks). One step ([`delete_expired`]) is a function of a given instant,
//! so tests call it with a fixed clock; the loop around it only waits and repeats. A zero
//! `retention` keeps everything. Deleted rows are counted in `/metrics`
//! (`herald_retention_deleted_total{kind}`).

use std::sync::Arc;
use std::time::Duration;

use herald_store::{DeliveryQueue, RetentionDeleted, StoreError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Events deleted per transaction.
pub const BATCH: u32 = 500;
/// Batches per step at most; a step that reaches it is followed by another at once.
const MAX_BATCHES: u32 = 20;
/// Pause between two batches, so deletion yields the database to deliveries.
const PAUSE: Duration = Duration::from_millis(50);
/// Time between steps when the last one found nothing more to delete.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// What one step did: the rows it deleted, and whether it stopped with more left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Rows deleted, by kind.
    pub deleted: RetentionDeleted,
    /// True when the step stopped at [`MAX_BATCHES`] full batches (more may be old enough).
    pub more: bool,
}

/// Deletes what is older than `retention` at `now`, batch after batch (with `pause` between
/// them), until a batch comes back short or after [`MAX_BATCHES`]; counts what went in
/// `metrics`.
pub async fn delete_expired(
    queue: &dyn DeliveryQueue,
    metrics: &Metrics,
    now: OffsetDateTime,
    retention: Duration,
    pause: Duration,
) -> Result<Step, StoreError> {
    let mut step = Step::default();
    if retention.is_zero() {
        return Ok(step);
    }
    let before = now - retention;
    for batch in 0..MAX_BATCHES {
        if batch > 0 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let deleted = queue.delete_old_events(before, BATCH).await?;
        metrics.retention_deleted(&deleted);
        step.deleted.events += deleted.events;
        step.deleted.deliveries += deleted.deliveries;
        step.deleted.attempts += deleted.attempts;
        if deleted.events < u64::from(BATCH) {
            return Ok(step);
        }
    }
    step.more = true;
    Ok(step)
}

/// Runs [`delete_expired`] every [`INTERVAL`] (at once again while there is more) until
/// `shutdown` is cancelled. A failed step is logged and tried again at the next tick.
pub async fn run(
    queue: Arc<dyn DeliveryQueue>,
    metrics: Arc<Metrics>,
    retention: Duration,
    shutdown: CancellationToken,
) {
    if retention.is_zero() {
        return;
    }
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let now = OffsetDateTime::now_utc();
        wait = match delete_expired(queue.as_ref(), &metrics, now, retention, PAUSE).await {
            Ok(step) => {
                if step.deleted.events > 0 {
                    tracing::debug!(
                        events = step.deleted.events,
                        deliveries = step.deleted.deliveries,
                        attempts = step.deleted.attempts,
                        "retention deleted old events"
                    );
                }
                if step.more { PAUSE } else { INTERVAL }
            }
            Err(error) => {
                tracing::warn!(%error, "retention failed; trying again later");
                INTERVAL
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_store::conformance::{
        at, attempt, claim, event, finished, keyring, new_subscription, new_tenant,
    };
    use herald_store::sqlite::SqliteStore;
    use herald_store::{AttemptTrigger, DeliveryStatus};

    /// Old finished events go while a pending old one stays and a new event is still
    /// published, claimed and delivered in between: retention and deliveries share the store.
    #[tokio::test]
    async fn old_rows_go_while_deliveries_continue_and_the_metrics_count_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("herald.db"), keyring())
            .await
            .unwrap();
        let tenant = new_tenant(&store, "Acme").await;
        new_subscription(&store, &tenant.id, &["*"]).await;
        // BATCH + 3 old events, all delivered, and one old event still pending.
        for n in 0..(BATCH + 3) {
            store
                .publish(&event("old.event", Some(&tenant.id), i64::from(n % 60)))
                .await
                .unwrap();
        }
        // Claims take at most max_in_flight (16) at a time: claim and complete until none.
        loop {
            let jobs = store.claim_due(&claim(100)).await.unwrap();
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                let done = attempt(&job.delivery.id, 100, Some(200), AttemptTrigger::Scheduled);
                store
                    .complete_attempt(&done, &finished(DeliveryStatus::Succeeded))
                    .await
                    .unwrap();
            }
        }
        let waiting = event("old.event", Some(&tenant.id), 61);
        store.publish(&waiting).await.unwrap();

        let metrics = Metrics::new();
        let now = at(31 * 24 * 3600);
        let retention = Duration::from_secs(30 * 24 * 3600);
        // Retention runs while a new event is published and delivered.
        let fresh = event("new.event", Some(&tenant.id), 31 * 24 * 3600);
        let deliver = async {
            store.publish(&fresh).await.unwrap();
            let jobs = store.claim_due(&claim(31 * 24 * 3600)).await.unwrap();
            let job = jobs
                .iter()
                .find(|j| j.event.id == fresh.id)
                .expect("claimed");
            let done = attempt(&job.delivery.id, 0, Some(200), AttemptTrigger::Scheduled);
            store
                .complete_attempt(&done, &finished(DeliveryStatus::Succeeded))
                .await
                .unwrap();
        };
        let (step, ()) = tokio::join!(
            delete_expired(&store, &metrics, now, retention, Duration::ZERO),
            deliver
        );
        let step = step.unwrap();
        let old = u64::from(BATCH + 3);
        assert_eq!(
            step.deleted,
            RetentionDeleted {
                events: old,
                deliveries: old,
                attempts: old,
            }
        );
        assert!(!step.more);
        assert!(store.get_event(&waiting.id).await.unwrap().is_some());
        assert!(store.get_event(&fresh.id).await.unwrap().is_some());
        let text = metrics.render(store.queue_stats().await.unwrap());
        for kind in ["events", "deliveries", "attempts"] {
            let line = format!("herald_retention_deleted_total{{kind=\"{kind}\"}} {old}");
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        // A zero retention keeps everything.
        let kept = delete_expired(&store, &metrics, now, Duration::ZERO, Duration::ZERO);
        assert_eq!(kept.await.unwrap(), Step::default());
    }
}
