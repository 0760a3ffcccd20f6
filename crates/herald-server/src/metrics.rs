//! Prometheus metrics (`/metrics`). Counters are updated where things happen; the queue
//! gauges are read from the store at scrape time, so they are true across restarts and nodes.
//!
//! `herald_deliveries_failed_total` is labelled by subscription: it is how an operator sees a
//! subscription that keeps failing (promise 4: failures are reported, never silenced by
//! disabling the subscription).

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};

use herald_store::{
    Attempt, DeliveryProgress, DeliveryStatus, PayloadsDropped, QueueStats, RetentionDeleted,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use time::OffsetDateTime;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabels {
    subscription_id: String,
}

/// Herald's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    events_accepted: Counter,
    attempts: Family<OutcomeLabels, Counter>,
    attempt_duration: Histogram,
    deliveries_failed: Family<SubscriptionLabels, Counter>,
    pending: Gauge,
    oldest_pending_age: Gauge<f64, AtomicU64>,
    client_certificate_not_after: Family<SubscriptionLabels, Gauge>,
    /// The subscriptions that have a certificate gauge, so that a scan of the store can
    /// remove those of subscriptions deleted since (the family cannot list its labels).
    certificate_gauges: Mutex<HashSet<String>>,
    retention_deleted: Family<KindLabels, Counter>,
    retention_payloads_dropped: Family<KindLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let events_accepted = Counter::default();
        registry.register(
            "events_accepted",
            "Events accepted (committed) by POST /api/v1/events",
            events_accepted.clone(),
        );
        let attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "attempts",
            "Delivery attempts by outcome (success, or the failing step)",
            attempts.clone(),
        );
        let attempt_duration = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]);
        registry.register(
            "attempt_duration_seconds",
            "Duration of delivery attempts",
            attempt_duration.clone(),
        );
        let deliveries_failed = Family::<SubscriptionLabels, Counter>::default();
        registry.register(
            "deliveries_failed",
            "Deliveries whose retry schedule was spent without success, by subscription",
            deliveries_failed.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "deliveries_pending",
            "Deliveries still pending",
            pending.clone(),
        );
        let oldest_pending_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_pending_delivery_age_seconds",
            "Age of the oldest pending delivery (0 when none)",
            oldest_pending_age.clone(),
        );
        let client_certificate_not_after = Family::<SubscriptionLabels, Gauge>::default();
        registry.register(
            "client_certificate_not_after_seconds",
            "When a subscription's mTLS client certificate expires (Unix seconds), for every \
             subscription with one (read from the store at start and hourly, and when one is \
             stored or used); alert on this minus time() below a few weeks",
            client_certificate_not_after.clone(),
        );
        let retention_deleted = Family::<KindLabels, Counter>::default();
        registry.register(
            "retention_deleted",
            "Rows deleted by retention, by kind (events, deliveries, attempts)",
            retention_deleted.clone(),
        );
        let retention_payloads_dropped = Family::<KindLabels, Counter>::default();
        registry.register(
            "retention_payloads_dropped",
            "What payload_retention emptied, by kind (payloads, response_bodies)",
            retention_payloads_dropped.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            client_certificate_not_after,
            certificate_gauges: Mutex::default(),
            events_accepted,
            attempts,
            attempt_duration,
            deliveries_failed,
            pending,
            oldest_pending_age,
            retention_deleted,
            retention_payloads_dropped,
        }
    }

    /// Counts what one retention batch deleted.
    pub fn retention_deleted(&self, deleted: &RetentionDeleted) {
        for (kind, count) in [
            ("events", deleted.events),
            ("deliveries", deleted.deliveries),
            ("attempts", deleted.attempts),
        ] {
            self.retention_deleted
                .get_or_create(&KindLabels { kind })
                .inc_by(count);
        }
    }

    /// Counts what one `payload_retention` batch emptied.
    pub fn retention_payloads_dropped(&self, dropped: &PayloadsDropped) {
        for (kind, count) in [
            ("payloads", dropped.events),
            ("response_bodies", dropped.attempts),
        ] {
            self.retention_payloads_dropped
                .get_or_create(&KindLabels { kind })
                .inc_by(count);
        }
    }

    /// Counts accepted events.
    pub fn events_accepted(&self, count: u64) {
        self.events_accepted.inc_by(count);
    }

    /// Counts one attempt and, when it ends a delivery in failure, that failure.
    pub fn record_attempt(
        &self,
        attempt: &Attempt,
        progress: &DeliveryProgress,
        subscription: &str,
    ) {
        let outcome = match attempt.error {
            None => "success",
            Some(error) => error.as_str(),
        };
        self.attempts
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.attempt_duration
            .observe(attempt.duration_ms as f64 / 1000.0);
        if progress.status == DeliveryStatus::Failed && progress.counts_for_schedule {
            self.deliveries_failed
                .get_or_create(&SubscriptionLabels {
                    subscription_id: subscription.to_owned(),
                })
                .inc();
        }
    }

    /// Notes when a subscription's client certificate expires (certificates close to expiry
    /// show as `herald_client_certificate_not_after_seconds - time()` running low).
    pub fn client_certificate(&self, subscription: &str, not_after: OffsetDateTime) {
        self.client_certificate_not_after
            .get_or_create(&SubscriptionLabels {
                subscription_id: subscription.to_owned(),
            })
            .set(not_after.unix_timestamp());
        self.certificate_gauges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(subscription.to_owned());
    }

    /// The subscriptions that have a certificate gauge now.
    pub fn client_certificate_gauges(&self) -> HashSet<String> {
        self.certificate_gauges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes a subscription's certificate gauge (it was deleted, or lost its certificate).
    pub fn forget_client_certificate(&self, subscription: &str) {
        self.client_certificate_not_after
            .remove(&SubscriptionLabels {
                subscription_id: subscription.to_owned(),
            });
        self.certificate_gauges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subscription);
    }

    /// The text exposition, with the queue gauges set from `stats`.
    pub fn render(&self, stats: QueueStats) -> String {
        self.pending.set(stats.pending as i64);
        let age = stats.oldest_pending_created_at.map_or(0.0, |at| {
            (OffsetDateTime::now_utc() - at).as_seconds_f64().max(0.0)
        });
        self.oldest_pending_age.set(age);
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}
