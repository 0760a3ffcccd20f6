//! The domain types. Field names here are the API's contract (they serialise as they are).
//!
//! Times are `OffsetDateTime` in UTC, serialised as RFC 3339. An event's payload is kept as the
//! exact text the producer sent (`payload_json`), because the body a subscriber verifies must be
//! byte for byte what was published; it is never parsed and re-serialised on the way out.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AttemptId, DeliveryId, EventId, SubscriptionId, TenantId};

/// One customer of the operator: an organisation that receives webhooks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// `ten_…`
    pub id: TenantId,
    /// A name for people.
    pub name: String,
    /// The OAuth2 client id this tenant authenticates with.
    pub client_id: String,
    /// SHA-256 (hex) of the client secret; the secret itself is shown once and never stored.
    #[serde(skip)]
    pub client_secret_hash: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// How long this tenant's events are kept, in seconds: `None` follows the server's
    /// `retention`, `Some(0)` keeps them forever.
    pub retention_seconds: Option<u64>,
}

/// A kind of event, by dotted name, optionally with a JSON Schema for its payloads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventType {
    /// Dotted name, e.g. `consent.revoked`.
    pub name: String,
    /// What the event means, for subscribers.
    pub description: Option<String>,
    /// A JSON Schema every published payload of this type must satisfy.
    pub schema: Option<serde_json::Value>,
    /// A sample payload, published by `herald trigger`; it satisfies the schema.
    pub example: Option<serde_json::Value>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Which subscriptions use an event type (a pattern of theirs covers it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventTypeUsage {
    /// How many subscriptions, of every tenant, active or paused.
    pub subscriptions: u64,
    /// The first of them by id (as many as asked for), to name in a message.
    pub first: Vec<SubscriptionId>,
}

/// Whether a subscription receives deliveries. Only a person changes it; failures never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Deliveries go out.
    Active,
    /// Deliveries are created and wait; they go out on resume.
    Paused,
}

impl SubscriptionStatus {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            _ => None,
        }
    }
}

/// One signing secret of a subscription. The current one has no expiry; after a rotation the
/// previous ones keep signing until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    /// `whsec_…`
    pub secret: String,
    /// When it stops signing; `None` for the current secret.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// What a delivery's body holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadMode {
    /// `{"type","timestamp","data"}` with the payload byte for byte as published.
    #[default]
    Full,
    /// A pointer to the event: `{"type","timestamp","id","url"}`; the receiver fetches the
    /// event from `url` with its tenant's token.
    Thin,
    /// The thin pointer in Akoya's field names (`category`, `type`, `notificationPayload`,
    /// `url{href, action}`, …), for subscriptions made through the Akoya profile.
    Akoya,
}

impl PayloadMode {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Thin => "thin",
            Self::Akoya => "akoya",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "full" => Some(Self::Full),
            "thin" => Some(Self::Thin),
            "akoya" => Some(Self::Akoya),
            _ => None,
        }
    }
}

/// How a subscription's deliveries are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// `v1,`: HMAC-SHA256 with the `whsec_` secrets.
    #[default]
    V1,
    /// `v1a,`: Ed25519 with the subscription's signing keys; receivers hold the public keys.
    V1a,
}

impl SignatureScheme {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1a => "v1a",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "v1" => Some(Self::V1),
            "v1a" => Some(Self::V1a),
            _ => None,
        }
    }
}
/// The URL of a relay subscription: its deliveries go over a `herald listen --relay`
/// WebSocket instead of an HTTP request (see docs/relay.md).
pub const RELAY_URL: &str = "relay:";

/// A tenant's URL plus the event types it wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `sub_…`
    pub id: SubscriptionId,
    /// The tenant that owns it.
    pub tenant_id: TenantId,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Exact names or trailing-`*` patterns (`consent.*`).
    pub event_types: Vec<String>,
    /// `active` or `paused`.
    pub status: SubscriptionStatus,
    /// For people.
    pub description: Option<String>,
    /// Extra headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    /// At most this many requests per second to the URL; `None` means unlimited.
    pub rate_limit_per_second: Option<u32>,
    /// At most this many requests in flight to the URL at once.
    pub max_in_flight: u32,
    /// Whom the operator contacts when the endpoint keeps failing.
    pub contact_email: Option<String>,
    /// The current secret first, then any previous ones still in their grace period.
    pub secrets: Vec<SigningSecret>,
    /// What a delivery's body holds (`full` unless the subscriber asked otherwise).
    pub payload_mode: PayloadMode,
    /// `v1` (HMAC with `secrets`) or `v1a` (Ed25519 with `signing_keys`).
    pub signature_scheme: SignatureScheme,
    /// Ed25519 private keys (`whsk_…`) for `v1a`, shaped like `secrets`: the current one
    /// first, then previous ones in their grace period. Secret material: never serialised.
    #[serde(skip)]
    pub signing_keys: Vec<SigningSecret>,
    /// Events published before this instant are not delivered to the subscription.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub effective_at: Option<OffsetDateTime>,
    /// mTLS: the certificate chain (PEM) Herald presents to the endpoint.
    pub client_certificate_pem: Option<String>,
    /// The private key (PEM) of `client_certificate_pem`. Secret material: never serialised.
    #[serde(skip)]
    pub client_key_pem: Option<String>,
    /// A CA bundle (PEM) the endpoint's certificate must chain to, instead of public roots.
    pub server_ca_pem: Option<String>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Subscription {
    /// Whether its deliveries go over the relay ([`RELAY_URL`]) rather than HTTP.
    pub fn is_relay(&self) -> bool {
        self.url == RELAY_URL
    }

    /// Whether this subscription wants events of `event_type`.
    pub fn matches(&self, event_type: &str) -> bool {
        self.event_types
            .iter()
            .any(|pattern| pattern_matches(pattern, event_type))
    }

    /// The secrets that sign a request made at `now`: the current one and unexpired old ones.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> impl Iterator<Item = &str> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|at| at > now))
            .map(|s| s.secret.as_str())
    }

    /// The Ed25519 keys that sign a request made at `now`: the current one and unexpired old
    /// ones (`v1a`).
    pub fn live_signing_keys(&self, now: OffsetDateTime) -> impl Iterator<Item = &str> {
        self.signing_keys
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|at| at > now))
            .map(|s| s.secret.as_str())
    }
}

/// Whether `pattern` (exact, or ending in `*`) covers `event_type`.
pub fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

/// Something that happened, to be delivered to every matching subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `evt_…`, also the `webhook-id` of every request that carries it.
    pub id: EventId,
    /// The event type's name.
    pub event_type: String,
    /// The payload exactly as published (valid JSON text), or empty once `payload_retention`
    /// dropped it ([`Event::payload_dropped`]).
    pub payload_json: String,
    /// The tenant it is for; `None` is a broadcast to every tenant's matching subscriptions.
    pub tenant_id: Option<TenantId>,
    /// The producer's key: the same key (per tenant) never creates a second event.
    pub idempotency_key: Option<String>,
    /// When it was accepted.
    pub created_at: OffsetDateTime,
}

impl Event {
    /// True when `payload_retention` emptied the payload (the event, its deliveries and
    /// attempts stay). No published payload is empty: an empty body is not JSON.
    pub fn payload_dropped(&self) -> bool {
        self.payload_json.is_empty()
    }
}

/// What `publish` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The new event's id, or the first event's id for a repeated idempotency key.
    pub event_id: EventId,
    /// How many deliveries the event has.
    pub deliveries: u64,
    /// True when the idempotency key was seen before and nothing was created.
    pub duplicate: bool,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// More attempts will be made.
    Pending,
    /// An attempt got a 2xx.
    Succeeded,
    /// The schedule is spent without success.
    Failed,
}

impl DeliveryStatus {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event to one subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_…`
    pub id: DeliveryId,
    /// The event delivered.
    pub event_id: EventId,
    /// The subscription it goes to.
    pub subscription_id: SubscriptionId,
    /// The subscription's tenant (kept here so tenant-scoped listing needs no join).
    pub tenant_id: TenantId,
    /// The event's type (kept for display and filtering).
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: DeliveryStatus,
    /// How many attempts were made (scheduled, redelivery and test alike).
    pub attempts: u32,
    /// Scheduled attempts made; this is what the retry schedule counts.
    #[serde(skip)]
    pub scheduled_attempts: u32,
    /// When the next scheduled attempt is due (`None` once it is no longer pending).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A delivery as a list shows it: where it goes and how its latest attempt went, read by the
/// list's own query (joins), so a page of deliveries costs one query, never one per row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverySummary {
    /// The delivery.
    pub delivery: Delivery,
    /// Its subscription's URL (`None` only if the subscription row is gone).
    pub subscription_url: Option<String>,
    /// The latest attempt (by start time), if one was made.
    pub last_attempt: Option<LastAttempt>,
}

/// What a list shows of a delivery's latest attempt: enough to say how it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastAttempt {
    /// When it started.
    pub started_at: OffsetDateTime,
    /// The response status, when a response came.
    pub response_status: Option<u16>,
    /// The failing step, if it failed.
    pub error: Option<AttemptError>,
    /// The failure in words, if it failed.
    pub error_message: Option<String>,
}

/// What made an attempt happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptTrigger {
    /// The retry schedule.
    Scheduled,
    /// A person asked for it.
    Redelivery,
    /// The connectivity test.
    Test,
}

impl AttemptTrigger {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Redelivery => "redelivery",
            Self::Test => "test",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "scheduled" => Some(Self::Scheduled),
            "redelivery" => Some(Self::Redelivery),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

/// Which step of an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptError {
    /// No answer within the request timeout.
    Timeout,
    /// The TCP connection could not be made.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The address is not allowed (SSRF guard).
    Blocked,
    /// The endpoint answered with a non-2xx status (redirects included).
    Status,
}

impl AttemptError {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Blocked => "blocked",
            Self::Status => "status",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "timeout" => Some(Self::Timeout),
            "connect" => Some(Self::Connect),
            "dns" => Some(Self::Dns),
            "tls" => Some(Self::Tls),
            "blocked" => Some(Self::Blocked),
            "status" => Some(Self::Status),
            _ => None,
        }
    }
}

/// One HTTP request of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// `att_…`
    pub id: AttemptId,
    /// The delivery it belongs to.
    pub delivery_id: DeliveryId,
    /// When the request started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The response status, when a response came.
    pub response_status: Option<u16>,
    /// A bounded prefix of the response body (lossy UTF-8).
    pub response_body: Option<String>,
    /// The response's headers, bounded, when a response came (none for attempts recorded
    /// before they were kept).
    pub response_headers: Option<crate::ResponseHeaders>,
    /// Which step failed, when it failed.
    pub error: Option<AttemptError>,
    /// A sentence for people saying what went wrong.
    pub error_message: Option<String>,
    /// What made it happen.
    pub trigger: AttemptTrigger,
}

impl Attempt {
    /// Whether the attempt succeeded (a 2xx answer).
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self
                .response_status
                .is_some_and(|s| (200..300).contains(&s))
    }
}

/// A delivery handed to the dispatcher, with everything needed to make the request.
#[derive(Clone, Debug)]
pub struct DeliveryJob {
    /// The delivery, as claimed.
    pub delivery: Delivery,
    /// Its event.
    pub event: Event,
    /// Its subscription.
    pub subscription: Subscription,
    /// Do not send before this instant: the delivery's slot under its subscription's
    /// `rate_limit_per_second`, shared by every node (equal to the claim's `now` when the
    /// subscription has no rate limit, and for manual leases).
    pub not_before: OffsetDateTime,
}

/// How a delivery stands after an attempt; decided by the dispatcher, persisted by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryProgress {
    /// The new status.
    pub status: DeliveryStatus,
    /// When the next scheduled attempt is due, if still pending.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Whether this attempt counts against the retry schedule (scheduled attempts only).
    pub counts_for_schedule: bool,
}

/// What the dispatcher asks for when it claims work.
#[derive(Clone, Debug)]
pub struct Claim {
    /// Deliveries due at or before this time are eligible.
    pub now: OffsetDateTime,
    /// Claimed deliveries are leased until then; nobody else claims them before.
    pub lease_until: OffsetDateTime,
    /// At most this many deliveries in all.
    pub limit: u32,
    /// How far ahead rate-limited sends may be scheduled: a subscription limited to `r` per
    /// second gets at most the deliveries whose send slots fall before `now + horizon`.
    pub rate_horizon: std::time::Duration,
    /// How many `max_in_flight`s of leases a subscription may hold (at least 1; 0 is taken
    /// as 1): up to `max_in_flight × lease_window` unexpired leases while the claiming node
    /// holds all of the subscription's leases, else `max_in_flight` in all; the dispatcher
    /// itself keeps at most `max_in_flight` attempts running per subscription. A window above
    /// 1 lets the next deliveries be leased while earlier attempts are still being recorded,
    /// so a finished attempt's slot never idles for a commit. Why that keeps every node
    /// together at `max_in_flight` requests: see `DeliveryQueue::claim_due`.
    pub lease_window: u32,
    /// Windows of particular subscriptions (by id), in place of `lease_window` for them. The
    /// dispatcher widens the window of a subscription whose endpoint answers fast enough that
    /// the last job of the wider window still goes out well within its lease
    /// (`herald_server::dispatch::lease`, point 3).
    pub lease_windows: HashMap<String, u32>,
}

impl Claim {
    /// The lease window of the subscription `subscription_id` in this claim.
    pub fn lease_window_of(&self, subscription_id: &str) -> u32 {
        self.lease_windows
            .get(subscription_id)
            .copied()
            .unwrap_or(self.lease_window)
    }
}

/// A page of results, newest first, with the cursor for the next page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which page to read: items after `cursor` (exclusive), at most `limit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The last item id (or name, for event types) of the previous page.
    pub cursor: Option<String>,
    /// At most this many items (0 is taken as 1: an empty page could never advance).
    pub limit: u32,
}

/// Narrows a subscription listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// Only this tenant's.
    pub tenant_id: Option<TenantId>,
}

/// Narrows an event listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this type.
    pub event_type: Option<String>,
    /// Only events for this tenant. With `include_broadcasts`, also events for no tenant.
    pub tenant_id: Option<TenantId>,
    /// With `tenant_id`, also list broadcasts (which every tenant receives).
    pub include_broadcasts: bool,
}

/// Narrows a delivery listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only this tenant's.
    pub tenant_id: Option<TenantId>,
    /// Only to this subscription.
    pub subscription_id: Option<SubscriptionId>,
    /// Only of this event.
    pub event_id: Option<EventId>,
    /// Only in this status.
    pub status: Option<DeliveryStatus>,
}

/// The delivery queue at a glance, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliveries still pending.
    pub pending: u64,
    /// Creation time of the oldest pending delivery.
    pub oldest_pending_created_at: Option<OffsetDateTime>,
}

/// What one retention batch deleted (`DeliveryQueue::delete_old_events`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionDeleted {
    /// Events (with their idempotency keys, which live on the event).
    pub events: u64,
    /// Their deliveries.
    pub deliveries: u64,
    /// Those deliveries' attempts.
    pub attempts: u64,
}

/// Whose events a retention batch deletes (`DeliveryQueue::delete_old_events`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetentionScope {
    /// Broadcasts and the events of every tenant without a retention of its own: the
    /// server's `retention` governs them.
    Server,
    /// The events of one tenant, which has a retention of its own.
    Tenant(TenantId),
}

/// What one `payload_retention` batch emptied (`DeliveryQueue::drop_old_payloads`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PayloadsDropped {
    /// Events whose payload was emptied.
    pub events: u64,
    /// Attempts whose response body was cleared.
    pub attempts: u64,
}

/// Which stored secrets a re-seal rewrites under the keyring's primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reseal {
    /// Only plaintext ones, written before sealing existed (done at every start).
    Plaintext,
    /// Every one not sealed by the primary key (`herald admin reencrypt`, after a rotation).
    NotPrimary,
}

/// How the stored secrets are sealed: what `herald admin reencrypt` reports, and what the
/// server checks at start against its keyring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretCensus {
    /// Subscriptions whose secrets are still plaintext.
    pub plaintext: u64,
    /// Subscriptions per id of the key that seals their secrets.
    pub sealed: BTreeMap<String, u64>,
}

/// The current time at the precision every store keeps (whole microseconds), so a value
/// written and read back compares equal.
pub fn timestamp_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// A delivery that ended `failed`, waiting for its subscription's next failure digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureNotice {
    /// The failed delivery (one notice per delivery).
    pub delivery_id: DeliveryId,
    /// Its subscription, whose contact the digest goes to.
    pub subscription_id: SubscriptionId,
    /// The event it carried.
    pub event_id: EventId,
    /// That event's type.
    pub event_type: String,
    /// The last attempt's error, in words.
    pub error: String,
    /// When the delivery ended `failed`.
    pub failed_at: OffsetDateTime,
}

/// A claimed digest: one subscription's failures, oldest first, to send in one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureDigest {
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// Its failures noted up to the claim.
    pub failures: Vec<FailureNotice>,
}
