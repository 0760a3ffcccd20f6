//! One attempt: build the signed request, send it, record what happened.
//!
//! Shared by the dispatcher (scheduled attempts) and the API (redelivery and the connectivity
//! test), so every attempt, whatever triggered it, is made and recorded the same way. It never
//! decides whether to attempt (that is the job's business, see `lease`); it sends and writes.
//! Sending and recording are two steps so the dispatcher can free the subscription's gate
//! between them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_signature::{Secret, SigningKey};
use herald_store::{
    Attempt, AttemptId, AttemptTrigger, DeliveryJob, DeliveryProgress, DeliveryQueue, Event,
    PayloadMode, SignatureScheme, Subscription,
};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use time::format_description::well_known::Rfc3339;

use super::attempt_log::AttemptLog;
use super::clock::Clock;
use super::schedule::RetrySchedule;
use crate::metrics::Metrics;
use crate::notices::FailureSink;
use crate::outbound::{Outbound, payload};
use crate::relay::RelayHub;

/// Makes and records attempts.
pub struct Deliverer {
    store: Arc<dyn DeliveryQueue>,
    outbound: Outbound,
    schedule: RetrySchedule,
    metrics: Arc<Metrics>,
    /// Attempt times and the next retry's due time (the dispatcher's clock).
    clock: Arc<dyn Clock>,
    /// One line per attempt, rate-limited per subscription (shared by every attempt this
    /// deliverer makes, so the limit holds across dispatcher, redelivery and test).
    log: AttemptLog,
    /// The server's public base URL: thin payloads point to events under it.
    public_url: String,
    /// Where deliveries that end `failed` are handed for notices (never waited on).
    failures: Option<FailureSink>,
    /// Where a relay subscription's attempts go instead of HTTP (`None`: none can be made).
    relay: Option<Arc<RelayHub>>,
}

impl Deliverer {
    /// Wires the parts.
    pub fn new(
        store: Arc<dyn DeliveryQueue>,
        outbound: Outbound,
        schedule: RetrySchedule,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            outbound,
            schedule,
            metrics,
            clock,
            log: AttemptLog::default(),
            public_url: String::new(),
            failures: None,
            relay: None,
        }
    }

    /// Sets the base URL that thin payloads point under (`public_url`, no trailing slash).
    pub fn with_public_url(mut self, public_url: String) -> Self {
        self.public_url = public_url;
        self
    }

    /// Hands each delivery that ends `failed` to `sink` (failure notices).
    pub fn with_failure_sink(mut self, sink: FailureSink) -> Self {
        self.failures = Some(sink);
        self
    }

    /// This deliverer, sending relay subscriptions' attempts through `relay`.
    pub fn with_relay(mut self, relay: Arc<RelayHub>) -> Self {
        self.relay = Some(relay);
        self
    }

    /// The relay's listeners (for the relay's WebSocket endpoint).
    pub fn relay(&self) -> Option<&Arc<RelayHub>> {
        self.relay.as_ref()
    }

    /// The outbound client (for URL checks at the API).
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Makes one attempt for a leased delivery and records it (which also releases the
    /// lease). Returns the recorded attempt. If recording fails even after retries, the lease
    /// expires and the delivery is attempted again: at least once, never lost.
    pub async fn attempt(&self, job: &DeliveryJob, trigger: AttemptTrigger) -> Attempt {
        let (attempt, progress) = self.send(job, trigger).await;
        self.record(job, &attempt, &progress).await;
        attempt
    }

    /// Sends the signed request and decides what follows (the retry schedule, on this
    /// deliverer's clock), without recording it yet. The dispatcher gives back the
    /// subscription's gate between the two steps, so a delivery already leased goes out at
    /// once, and wakes the claim loop, which then queues its next claim while this attempt is
    /// being recorded, so both share one commit (the store runs a batch's claims after its
    /// completions) instead of the claim waiting a commit more.
    pub async fn send(
        &self,
        job: &DeliveryJob,
        trigger: AttemptTrigger,
    ) -> (Attempt, DeliveryProgress) {
        let subscription = &job.subscription;
        let started_at = self.clock.now();
        let body = self.body(job);
        let headers = self.headers(job, started_at, &body);
        // The one branch point of the relay: the same signed headers and body, sent over a
        // listener's WebSocket instead of an HTTP request.
        let outcome = match &self.relay {
            Some(relay) if subscription.is_relay() => relay.deliver(job, &headers, body).await,
            _ => self.outbound.post_for(subscription, headers, body).await,
        };

        let attempt = Attempt {
            id: AttemptId::generate(),
            delivery_id: job.delivery.id.clone(),
            started_at,
            duration_ms: outcome.duration.as_millis() as u64,
            response_status: outcome.status,
            response_body: outcome.body.clone(),
            response_headers: outcome.headers.clone(),
            error: outcome.error,
            error_message: outcome.message.clone(),
            trigger,
        };
        let progress = self.schedule.progress(
            &job.delivery,
            trigger,
            outcome.succeeded(),
            outcome.retry_after,
            self.clock.now(),
        );
        self.metrics
            .record_attempt(&attempt, &progress, subscription.id.as_str());
        if let Some(info) = subscription
            .client_certificate_pem
            .as_deref()
            .and_then(crate::outbound::mtls::info)
        {
            self.metrics
                .client_certificate(subscription.id.as_str(), info.not_after);
        }
        (attempt, progress)
    }

    /// Records a sent attempt and moves its delivery on, releasing the lease, in one
    /// transaction. A failing store is retried a few times on real time (it is I/O, not the
    /// dispatcher's schedule); if it keeps failing the lease expires and the delivery is
    /// attempted again.
    pub async fn record(&self, job: &DeliveryJob, attempt: &Attempt, progress: &DeliveryProgress) {
        // Logged before it is written, so a store that keeps failing still shows the attempt
        // (its warnings follow); the log's limit runs on real time, like the retries below.
        self.log.note(
            std::time::Instant::now(),
            &job.subscription.id,
            &job.event,
            attempt,
            progress,
        );
        let mut wait = Duration::from_millis(50);
        for _ in 0..5 {
            match self.store.complete_attempt(attempt, progress).await {
                Ok(()) => {
                    if let Some(failures) = &self.failures {
                        failures.attempt_recorded(job, attempt, progress.status, self.clock.now());
                    }
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, delivery = %job.delivery.id, "recording an attempt failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
            }
        }
    }

    /// The request body, by the subscription's payload mode.
    fn body(&self, job: &DeliveryJob) -> Bytes {
        match job.subscription.payload_mode {
            PayloadMode::Full => envelope(&job.event),
            PayloadMode::Thin => payload::thin(&job.event, &self.public_url),
            PayloadMode::Akoya => {
                crate::akoya::envelope(&job.event, &job.subscription, &self.public_url)
            }
        }
    }

    fn headers(&self, job: &DeliveryJob, now: time::OffsetDateTime, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        // Custom headers first, so the protocol headers below always win.
        for (name, value) in &job.subscription.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        let id = job.event.id.as_str();
        let timestamp = now.unix_timestamp();
        let signature = signature(&job.subscription, now, id, body);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            (herald_signature::HEADER_ID, id.to_owned()),
            (herald_signature::HEADER_TIMESTAMP, timestamp.to_string()),
            (herald_signature::HEADER_SIGNATURE, signature),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        headers
    }
}

/// The `webhook-signature` value: one entry per live secret (`v1`) or key (`v1a`).
fn signature(
    subscription: &Subscription,
    now: time::OffsetDateTime,
    id: &str,
    body: &[u8],
) -> String {
    let timestamp = now.unix_timestamp();
    match subscription.signature_scheme {
        SignatureScheme::V1 => {
            let secrets: Vec<Secret> = subscription
                .signing_secrets(now)
                .filter_map(|s| Secret::parse(s).ok())
                .collect();
            let refs: Vec<&Secret> = secrets.iter().collect();
            herald_signature::sign_header(&refs, id, timestamp, body)
        }
        SignatureScheme::V1a => {
            let keys: Vec<SigningKey> = subscription
                .live_signing_keys(now)
                .filter_map(|k| SigningKey::parse(k).ok())
                .collect();
            let refs: Vec<&SigningKey> = keys.iter().collect();
            herald_signature::sign_header_asymmetric(&refs, id, timestamp, body)
        }
    }
}

/// The request body: `{"type":…,"timestamp":…,"data":<payload as published>}`. Built as text
/// so the payload goes out byte for byte, never re-serialised.
pub fn envelope(event: &Event) -> Bytes {
    let event_type = serde_json::Value::String(event.event_type.clone()).to_string();
    let timestamp = event
        .created_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| event.created_at.unix_timestamp().to_string());
    let mut body = String::with_capacity(event.payload_json.len() + event_type.len() + 64);
    body.push_str("{\"type\":");
    body.push_str(&event_type);
    body.push_str(",\"timestamp\":\"");
    body.push_str(&timestamp);
    body.push_str("\",\"data\":");
    body.push_str(&event.payload_json);
    body.push('}');
    Bytes::from(body)
}
