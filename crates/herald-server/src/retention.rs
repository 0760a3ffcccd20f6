//! Retention: a background task of the server that deletes events older than `retention`
//! (with their deliveries, attempts and idempotency keys), and empties the payloads of events
//! older than `payload_retention`, in small batches, until its shutdown token is cancelled.
//!
//! It owns nothing but that deletion, and it must never delay a delivery: each batch is one
//! short transaction of at most [`BATCH`] events (on SQLite, one write among the writer's
//! others), batches are separated by a pause, and an event with a pending delivery is never
//! deleted or emptied (the store checks). One step ([`delete_expired`]) is a function of a
//! given instant, so tests call it with a fixed clock; the loop around it only waits and
//! repeats.
//!
//! A step has scopes, each swept to its end or for at most [`MAX_BATCHES`] full batches: the
//! server's `retention` (broadcasts and tenants without one of their own), then each tenant
//! with its own `retention_seconds` (0 keeps its events forever), then `payload_retention`
//! over every event. So a tenant's own setting, shorter or longer, wins over the server's,
//! and no scope can starve another. A zero duration sweeps nothing in its scope. Deleted rows
//! are counted in `/metrics` (`herald_retention_deleted_total{kind}`), emptied payloads and
//! response bodies in `herald_retention_payloads_dropped_total{kind}`.

use std::sync::Arc;
use std::time::Duration;

use herald_store::{DeliveryQueue, PayloadsDropped, RetentionDeleted, RetentionScope, StoreError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Events deleted (or emptied) per transaction.
pub const BATCH: u32 = 500;
/// Full batches per scope and step at most; a step that reaches it is followed by another at
/// once.
const MAX_BATCHES: u32 = 20;
/// Pause after a batch that changed something, so deletion yields the database to
/// deliveries.
const PAUSE: Duration = Duration::from_millis(50);
/// Time between steps when the last one found nothing more to delete.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// The settings a step follows (zero: nothing in that scope).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The server's `retention`, for tenants without one of their own and broadcasts.
    pub retention: Duration,
    /// `payload_retention`, for every event.
    pub payload_retention: Duration,
}

/// What one step did: the rows it deleted, the payloads it emptied, and whether it stopped
/// with more left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Rows deleted, by kind.
    pub deleted: RetentionDeleted,
    /// Payloads and response bodies emptied.
    pub dropped: PayloadsDropped,
    /// True when a scope stopped at [`MAX_BATCHES`] full batches (more may be old enough).
    pub more: bool,
}

/// The instant before which a scope's events go; `None` for a zero duration (keep) or one
/// reaching before the representable past.
fn cutoff(now: OffsetDateTime, keep: Duration) -> Option<OffsetDateTime> {
    if keep.is_zero() {
        return None;
    }
    now.checked_sub(time::Duration::try_from(keep).ok()?)
}

/// Deletes what is older than its scope's retention at `now`, then empties payloads older
/// than `payload_retention`, batch after batch (with `pause` after each batch that changed
/// something), each scope until a batch comes back short or after [`MAX_BATCHES`]; counts
/// what went in `metrics`.
pub async fn delete_expired(
    queue: &dyn DeliveryQueue,
    metrics: &Metrics,
    now: OffsetDateTime,
    policy: Policy,
    pause: Duration,
) -> Result<Step, StoreError> {
    let mut step = Step::default();
    let mut scopes = Vec::new();
    if let Some(before) = cutoff(now, policy.retention) {
        scopes.push((RetentionScope::Server, before));
    }
    for (tenant, seconds) in queue.tenant_retentions().await? {
        if let Some(before) = cutoff(now, Duration::from_secs(seconds)) {
            scopes.push((RetentionScope::Tenant(tenant), before));
        }
    }
    let rest = |pause: Duration| async move {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    };
    for (scope, before) in &scopes {
        let mut full = 0;
        loop {
            let deleted = queue.delete_old_events(scope, *before, BATCH).await?;
            metrics.retention_deleted(&deleted);
            step.deleted.events += deleted.events;
            step.deleted.deliveries += deleted.deliveries;
            step.deleted.attempts += deleted.attempts;
            if deleted.events > 0 {
                rest(pause).await;
            }
            if deleted.events < u64::from(BATCH) {
                break;
            }
            full += 1;
            if full == MAX_BATCHES {
                step.more = true;
                break;
            }
        }
    }
    if let Some(before) = cutoff(now, policy.payload_retention) {
        let mut full = 0;
        loop {
            let dropped = queue.drop_old_payloads(before, BATCH).await?;
            metrics.retention_payloads_dropped(&dropped);
            step.dropped.events += dropped.events;
            step.dropped.attempts += dropped.attempts;
            if dropped.events > 0 {
                rest(pause).await;
            }
            if dropped.events < u64::from(BATCH) {
                break;
            }
            full += 1;
            if full == MAX_BATCHES {
                step.more = true;
                break;
            }
        }
    }
    Ok(step)
}

/// Runs [`delete_expired`] every [`INTERVAL`] (at once again while there is more) until
/// `shutdown` is cancelled. It runs even when the server's `retention` is zero, since a
/// tenant may have one of its own. A failed step is logged and tried again at the next tick.
pub async fn run(
    queue: Arc<dyn DeliveryQueue>,
    metrics: Arc<Metrics>,
    policy: Policy,
    shutdown: CancellationToken,
) {
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let now = OffsetDateTime::now_utc();
        wait = match delete_expired(queue.as_ref(), &metrics, now, policy, PAUSE).await {
            Ok(step) => {
                if step.deleted.events > 0 || step.dropped.events > 0 {
                    tracing::debug!(
                        events = step.deleted.events,
                        deliveries = step.deleted.deliveries,
                        attempts = step.deleted.attempts,
                        payloads_dropped = step.dropped.events,
                        response_bodies_dropped = step.dropped.attempts,
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
    use herald_store::{AttemptTrigger, DeliveryStatus, Store};

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
        let policy = Policy {
            retention,
            payload_retention: Duration::ZERO,
        };
        let (step, ()) = tokio::join!(
            delete_expired(&store, &metrics, now, policy, Duration::ZERO),
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
        let kept = delete_expired(&store, &metrics, now, Policy::default(), Duration::ZERO);
        assert_eq!(kept.await.unwrap(), Step::default());
    }

    const DAY: i64 = 24 * 3600;

    /// A tenant's own retention wins over the server's both ways (shorter: its events go
    /// sooner; longer or 0: they stay past the server's), and `payload_retention` empties
    /// old payloads and response bodies while the event, its delivery and attempt stay; the
    /// metrics count both.
    async fn tenant_retention_and_payload_retention_follow_their_settings<S: Store>(store: &S) {
        let plain = new_tenant(store, "Plain").await;
        let short = new_tenant(store, "Short").await;
        let long = new_tenant(store, "Long").await;
        let forever = new_tenant(store, "Forever").await;
        for (tenant, seconds) in [(&short, DAY), (&long, 60 * DAY), (&forever, 0)] {
            let seconds = u64::try_from(seconds).unwrap();
            store
                .set_tenant_retention(&tenant.id, Some(seconds))
                .await
                .unwrap();
        }
        new_subscription(store, &plain.id, &["kept.*"]).await;
        let old =
            |tenant: &herald_store::Tenant, seconds| event("old.event", Some(&tenant.id), seconds);
        let gone = [old(&plain, 0), old(&short, 0), old(&short, 38 * DAY)];
        let kept = [old(&long, 0), old(&forever, 0)];
        let delivered = event("kept.event", Some(&plain.id), 30 * DAY);
        let fresh = event("fresh.event", Some(&plain.id), 39 * DAY + DAY / 2);
        for event in gone.iter().chain(&kept).chain([&delivered, &fresh]) {
            store.publish(event).await.unwrap();
        }
        let jobs = store.claim_due(&claim(30 * DAY)).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let done = attempt(
            &jobs[0].delivery.id,
            30 * DAY,
            Some(200),
            AttemptTrigger::Scheduled,
        );
        store
            .complete_attempt(&done, &finished(DeliveryStatus::Succeeded))
            .await
            .unwrap();

        let metrics = Metrics::new();
        let policy = Policy {
            retention: Duration::from_secs(30 * 24 * 3600),
            payload_retention: Duration::from_secs(7 * 24 * 3600),
        };
        let step = delete_expired(store, &metrics, at(40 * DAY), policy, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(step.deleted.events, 3);
        assert_eq!(
            step.dropped,
            PayloadsDropped {
                events: 3,
                attempts: 1,
            }
        );
        for event in &gone {
            assert_eq!(store.get_event(&event.id).await.unwrap(), None);
        }
        for event in kept.iter().chain([&delivered]) {
            let stored = store.get_event(&event.id).await.unwrap().expect("kept");
            assert!(stored.payload_dropped(), "{}", stored.event_type);
        }
        let stored = store.get_event(&fresh.id).await.unwrap().expect("kept");
        assert_eq!(stored.payload_json, fresh.payload_json);
        let delivery = store
            .get_delivery(&jobs[0].delivery.id)
            .await
            .unwrap()
            .expect("the delivery stays");
        assert_eq!(delivery.status, DeliveryStatus::Succeeded);
        let attempts = store.list_attempts(&delivery.id).await.unwrap();
        assert_eq!(
            (attempts.len(), attempts[0].response_status),
            (1, Some(200))
        );
        assert_eq!(attempts[0].response_body, None);
        let text = metrics.render(store.queue_stats().await.unwrap());
        for line in [
            "herald_retention_deleted_total{kind=\"events\"} 3",
            "herald_retention_payloads_dropped_total{kind=\"payloads\"} 3",
            "herald_retention_payloads_dropped_total{kind=\"response_bodies\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[tokio::test]
    async fn tenant_and_payload_retention_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("herald.db"), keyring())
            .await
            .unwrap();
        tenant_retention_and_payload_retention_follow_their_settings(&store).await;
    }

    #[tokio::test]
    async fn tenant_and_payload_retention_on_postgres() {
        let Some(database) = herald_testkit::TestDatabase::create()
            .await
            .expect("a test database")
        else {
            return;
        };
        let store = herald_store::postgres::PgStore::connect(
            database.url(),
            herald_store::postgres::PgOptions::default(),
            keyring(),
        )
        .await
        .unwrap();
        tenant_retention_and_payload_retention_follow_their_settings(&store).await;
        store.close().await;
    }
}
