//! What the API returns: the JSON contract, separate from the stored model so that storage can
//! change without changing the API, and so that secrets are shown only where they must be.

use std::collections::BTreeMap;

use herald_store::{
    Attempt, Delivery, DeliverySummary, Event, EventType, LastAttempt, Subscription, Tenant,
};
use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// A page of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    /// The items, newest first (event types: by name).
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// `ten_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// OAuth2 client id for `POST /oauth2/token`.
    pub client_id: String,
    /// Shown only in the response that creates the tenant or rotates its credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// How long this tenant's events are kept, in seconds: null follows the server's
    /// `retention`, 0 keeps them forever.
    pub retention_seconds: Option<u64>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            client_id: t.client_id,
            client_secret: None,
            created_at: t.created_at,
            retention_seconds: t.retention_seconds,
        }
    }
}

/// An event type.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeView {
    /// Dotted name.
    pub name: String,
    /// What it means.
    pub description: Option<String>,
    /// JSON Schema for payloads.
    pub schema: Option<serde_json::Value>,
    /// Sample payload, published by `herald trigger`.
    pub example: Option<serde_json::Value>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<EventType> for EventTypeView {
    fn from(e: EventType) -> Self {
        Self {
            name: e.name,
            description: e.description,
            schema: e.schema,
            example: e.example,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// `sub_…`
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// Delivery URL.
    pub url: String,
    /// Event types wanted (exact or trailing `*`).
    pub event_types: Vec<String>,
    /// `active` or `paused`.
    pub status: String,
    /// The current signing secret (`whsec_…`).
    pub secret: String,
    /// For people.
    pub description: Option<String>,
    /// Custom headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    /// Requests per second at most (null: unlimited).
    pub rate_limit_per_second: Option<u32>,
    /// Requests in flight at most.
    pub max_in_flight: u32,
    /// Contact for operators.
    pub contact_email: Option<String>,
    /// What each delivery's body holds: `full`, `thin` or `akoya`.
    pub payload_mode: String,
    /// `v1` (HMAC with `secret`) or `v1a` (Ed25519, verified with `public_key`).
    pub signature_scheme: String,
    /// The current Ed25519 public key (`whpk_…`) when there is one; the current and previous
    /// ones are also at `/.well-known/herald/keys/{id}` as a JWK Set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Events published before this time are not delivered to it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub effective_at: Option<OffsetDateTime>,
    /// The client certificate Herald presents (mTLS), if any: never the key.
    pub client_certificate: Option<ClientCertificateView>,
    /// Whether a CA bundle pins the endpoint's certificate.
    pub server_ca_pinned: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// On create and update with `allow_unmatched`: one sentence per pattern that matches no
    /// registered event type. Absent when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        let secret = s
            .secrets
            .iter()
            .find(|secret| secret.expires_at.is_none())
            .or(s.secrets.first())
            .map(|secret| secret.secret.clone())
            .unwrap_or_default();
        let public_key = super::subscriptions::forms::current_public_key(&s);
        let client_certificate = s
            .client_certificate_pem
            .as_deref()
            .and_then(crate::outbound::mtls::info)
            .map(|info| ClientCertificateView {
                fingerprint_sha256: info.fingerprint_sha256,
                not_after: info.not_after,
            });
        Self {
            id: s.id.to_string(),
            tenant_id: s.tenant_id.to_string(),
            url: s.url,
            event_types: s.event_types,
            status: s.status.as_str().to_owned(),
            secret,
            description: s.description,
            headers: s.headers,
            rate_limit_per_second: s.rate_limit_per_second,
            max_in_flight: s.max_in_flight,
            public_key,
            payload_mode: s.payload_mode.as_str().to_owned(),
            signature_scheme: s.signature_scheme.as_str().to_owned(),
            effective_at: s.effective_at,
            client_certificate,
            server_ca_pinned: s.server_ca_pem.is_some(),
            contact_email: s.contact_email,
            created_at: s.created_at,
            updated_at: s.updated_at,
            warnings: Vec::new(),
        }
    }
}

/// What the API shows of a subscription's client certificate.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCertificateView {
    /// SHA-256 of the certificate (DER), lowercase hex.
    pub fingerprint_sha256: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// An event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// `evt_…`, the `webhook-id` of its deliveries.
    pub id: String,
    /// Event type name.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The tenant it is for; null for a broadcast.
    pub tenant_id: Option<String>,
    /// The payload exactly as published: any JSON value; null once `payload_removed`.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// True when `payload_retention` removed the payload (the event, its deliveries and
    /// attempts are kept; it cannot be redelivered).
    pub payload_removed: bool,
    /// The producer's idempotency key.
    pub idempotency_key: Option<String>,
    /// Acceptance time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl EventView {
    /// Converts, failing only if stored payload text is not JSON (corruption); a removed
    /// payload reads as null.
    pub fn try_from_event(e: Event) -> Option<Self> {
        let payload_removed = e.payload_dropped();
        let payload = if payload_removed {
            RawValue::from_string("null".to_owned()).ok()?
        } else {
            RawValue::from_string(e.payload_json).ok()?
        };
        Some(Self {
            id: e.id.to_string(),
            event_type: e.event_type,
            tenant_id: e.tenant_id.map(|t| t.to_string()),
            payload,
            payload_removed,
            idempotency_key: e.idempotency_key,
            created_at: e.created_at,
        })
    }
}

/// The answer to a publish.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishResponse {
    /// The event id (the first event's, for a repeated idempotency key).
    pub id: String,
    /// How many deliveries the event has.
    pub deliveries: u64,
    /// True when the idempotency key was seen before and nothing new was created.
    pub duplicate: bool,
    /// Why a new event made no delivery (no subscription matches it); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// `dlv_…`
    pub id: String,
    /// The event.
    pub event_id: String,
    /// The subscription.
    pub subscription_id: String,
    /// The subscription's tenant.
    pub tenant_id: String,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The subscription's URL, where the delivery goes.
    pub subscription_url: Option<String>,
    /// Attempts made so far.
    pub attempt_count: u32,
    /// How the latest attempt went (`null` before the first one).
    pub last_attempt: Option<LastAttemptView>,
    /// When the next scheduled attempt is due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The first attempts, oldest first, at most 20 (only on `GET /deliveries/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptView>>,
    /// When the delivery has more attempts than `attempts` holds: pass as `cursor` to
    /// `GET /deliveries/{id}/attempts` for the next ones; null when `attempts` holds them all
    /// (only on `GET /deliveries/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub attempts_next_cursor: Option<Option<String>>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            subscription_id: d.subscription_id.to_string(),
            tenant_id: d.tenant_id.to_string(),
            event_type: d.event_type,
            status: d.status.as_str().to_owned(),
            subscription_url: None,
            attempt_count: d.attempts,
            last_attempt: None,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
            attempts: None,
            attempts_next_cursor: None,
        }
    }
}

impl From<DeliverySummary> for DeliveryView {
    fn from(summary: DeliverySummary) -> Self {
        Self {
            subscription_url: summary.subscription_url,
            last_attempt: summary.last_attempt.map(LastAttemptView::from),
            ..Self::from(summary.delivery)
        }
    }
}

/// A delivery's latest attempt, as lists show it: enough to say how it went without
/// fetching the delivery's attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastAttemptView {
    /// Start time.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Response status, if a response came.
    pub response_status: Option<u16>,
    /// The failing step: `timeout`, `connect`, `dns`, `tls`, `blocked` or `status`.
    pub error: Option<String>,
    /// What went wrong, for people.
    pub error_message: Option<String>,
}

impl From<LastAttempt> for LastAttemptView {
    fn from(a: LastAttempt) -> Self {
        Self {
            started_at: a.started_at,
            response_status: a.response_status,
            error: a.error.map(|e| e.as_str().to_owned()),
            error_message: a.error_message,
        }
    }
}

impl From<&AttemptView> for LastAttemptView {
    fn from(a: &AttemptView) -> Self {
        Self {
            started_at: a.started_at,
            response_status: a.response_status,
            error: a.error.clone(),
            error_message: a.error_message.clone(),
        }
    }
}

/// One attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// `att_…`
    pub id: String,
    /// Its delivery.
    pub delivery_id: String,
    /// True for a 2xx answer.
    pub succeeded: bool,
    /// Start time.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Response status, if a response came.
    pub response_status: Option<u16>,
    /// Start of the response body.
    pub response_body: Option<String>,
    /// The response's headers in the order they came, names lowercased (at most 32 and
    /// 4 KiB; the rest is not kept); null when no response came or for attempts recorded
    /// before headers were kept.
    pub response_headers: Option<Vec<ResponseHeaderView>>,
    /// The failing step: `timeout`, `connect`, `dns`, `tls`, `blocked` or `status`.
    pub error: Option<String>,
    /// What went wrong, for people.
    pub error_message: Option<String>,
    /// `scheduled`, `redelivery` or `test`.
    pub trigger: String,
}

/// One response header of an attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseHeaderView {
    /// Lowercased.
    pub name: String,
    /// As sent (bytes that are not UTF-8 replaced).
    pub value: String,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id.to_string(),
            delivery_id: a.delivery_id.to_string(),
            succeeded: a.succeeded(),
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            response_status: a.response_status,
            response_body: a.response_body,
            response_headers: a.response_headers.map(|headers| {
                headers
                    .pairs()
                    .into_iter()
                    .map(|(name, value)| ResponseHeaderView { name, value })
                    .collect()
            }),
            error: a.error.map(|e| e.as_str().to_owned()),
            error_message: a.error_message,
            trigger: a.trigger.as_str().to_owned(),
        }
    }
}

/// The connectivity test's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// True when the endpoint answered 2xx.
    pub succeeded: bool,
    /// The `herald.test` event sent.
    pub event_id: String,
    /// Its delivery.
    pub delivery_id: String,
    /// The attempt, with the failing step and a sentence when it failed.
    pub attempt: AttemptView,
    /// When it failed: what the failing step means and what to do about it.
    pub explanation: Option<crate::outbound::Explanation>,
}
