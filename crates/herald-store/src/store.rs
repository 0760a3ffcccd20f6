//! The `Store` trait: everything Herald persists, and nothing it decides.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What [`Store::publish_and_lease`] leases with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishLease {
    /// Leases ending at or before this time are expired (not in flight).
    pub now: OffsetDateTime,
    /// The leases given run until then.
    pub lease_until: OffsetDateTime,
    /// As [`Claim::lease_window`]: a subscription may hold up to `max_in_flight ×
    /// lease_window` unexpired leases; the dispatcher itself keeps at most `max_in_flight`
    /// attempts running per subscription (at least 1; 0 is taken as 1).
    pub lease_window: u32,
}

/// An accepted event, and the deliveries leased to the publisher to attempt.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// What [`Store::publish`] answers.
    pub published: Published,
    /// Leased, committed deliveries to attempt now (none for a duplicate).
    pub jobs: Vec<DeliveryJob>,
}

/// Herald's persistence. Implementations: [`crate::sqlite::SqliteStore`] and
/// [`crate::postgres::PgStore`].
///
/// Every method is one transaction. Lookups of a missing row return `Ok(None)` / `Ok(false)`;
/// a unique-key clash returns [`StoreError::Conflict`]. Times are kept to the microsecond
/// (what PostgreSQL keeps too); [`crate::timestamp_now`] gives a "now" that reads back equal.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    // --- tenants ---------------------------------------------------------------------------
    /// Inserts a tenant (its id and client id are unique).
    async fn create_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// One tenant by id.
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>>;
    /// One tenant by OAuth2 client id.
    async fn get_tenant_by_client_id(&self, client_id: &str) -> Result<Option<Tenant>>;
    /// Tenants, newest first.
    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>>;
    /// Changes a tenant's name; `None` if it does not exist.
    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<Option<Tenant>>;
    /// Deletes a tenant with its subscriptions, their deliveries and attempts, its tokens, and
    /// the events addressed to it (broadcasts stay).
    async fn delete_tenant(&self, id: &TenantId) -> Result<bool>;

    // --- access tokens (issued at /oauth2/token) ---------------------------------------------
    /// Records an issued token by the SHA-256 hex of its value.
    async fn insert_access_token(
        &self,
        token_hash: &str,
        tenant_id: &TenantId,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// The tenant of an unexpired token, by the SHA-256 hex of its value.
    async fn access_token_tenant(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TenantId>>;

    // --- event types -----------------------------------------------------------------------
    /// Inserts an event type (names are unique).
    async fn create_event_type(&self, event_type: &EventType) -> Result<()>;
    /// One event type by name.
    async fn get_event_type(&self, name: &str) -> Result<Option<EventType>>;
    /// Event types by name, ascending; the cursor is the last name.
    async fn list_event_types(&self, page: &PageRequest) -> Result<Page<EventType>>;
    /// Replaces description, schema and `updated_at`; false if it does not exist.
    async fn update_event_type(&self, event_type: &EventType) -> Result<bool>;
    /// Deletes an event type (subscriptions naming it are left as they are).
    async fn delete_event_type(&self, name: &str) -> Result<bool>;

    // --- subscriptions ---------------------------------------------------------------------
    /// Inserts a subscription.
    async fn create_subscription(&self, subscription: &Subscription) -> Result<()>;
    /// One subscription by id.
    async fn get_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>>;
    /// Subscriptions, newest first.
    async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>>;
    /// Replaces every mutable field (url, event types, status, secrets, …); false if missing.
    async fn update_subscription(&self, subscription: &Subscription) -> Result<bool>;
    /// Deletes a subscription with its deliveries and their attempts.
    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool>;

    // --- events ----------------------------------------------------------------------------
    /// Accepts an event: in one transaction, writes it and one `pending` delivery (due at
    /// `event.created_at`) per matching subscription, active or paused: the event's tenant's
    /// subscriptions, or every tenant's for a broadcast. A repeated `(tenant_id,
    /// idempotency_key)` writes nothing and returns the first event's id with `duplicate`.
    /// Returns only once committed (durable).
    async fn publish(&self, event: &Event) -> Result<Published>;
    /// [`Store::publish`], and in the same transaction leases to the caller the new
    /// deliveries it may start at once, so they need no claim (the dispatcher of the node
    /// that accepted the event gets them straight from the API).
    ///
    /// Handed out, per subscription, are the event's deliveries to `active` subscriptions
    /// without a `rate_limit_per_second` (rate slots are the claim's business), up to what
    /// `max_in_flight × lease.lease_window` leaves free under the same count `claim_due` uses
    /// (unexpired leases, any node), leased until `lease.lease_until` with `not_before =
    /// lease.now`. The rest
    /// stay unleased for `claim_due`. A backend may hand out fewer (never more), e.g. when
    /// another node is claiming for that subscription right now; the default hands out none.
    async fn publish_and_lease(&self, event: &Event, lease: &PublishLease) -> Result<Accepted> {
        let _ = lease;
        Ok(Accepted {
            published: self.publish(event).await?,
            jobs: Vec::new(),
        })
    }
    /// Writes an event and one delivery to the given subscription only (the connectivity
    /// test), returning the delivery. The delivery is leased until `lease_until`, so the
    /// dispatcher does not also pick it up. A subscription that does not exist (deleted since
    /// the caller read it) is `StoreError::Database(sqlx::Error::RowNotFound)`.
    async fn publish_to(
        &self,
        event: &Event,
        subscription_id: &SubscriptionId,
        lease_until: OffsetDateTime,
    ) -> Result<Delivery>;
    /// One event by id.
    async fn get_event(&self, id: &EventId) -> Result<Option<Event>>;
    /// Events, newest first.
    async fn list_events(&self, filter: &EventFilter, page: &PageRequest) -> Result<Page<Event>>;

    // --- deliveries and attempts -------------------------------------------------------------
    /// One delivery by id.
    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<Delivery>>;
    /// Deliveries, newest first.
    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>>;
    /// A delivery's attempts, oldest first.
    async fn list_attempts(&self, delivery_id: &DeliveryId) -> Result<Vec<Attempt>>;

    // --- the dispatcher's side -------------------------------------------------------------
    /// Claims due work: `pending` deliveries with `next_attempt_at <= claim.now`, whose lease is
    /// absent or expired, whose subscription is `active`, at most `claim.limit` in all.
    ///
    /// Per-subscription limits hold across every node sharing the database, because they are
    /// computed from the database alone:
    /// - in flight = the subscription's deliveries (any status) holding an unexpired lease;
    ///   at most `max_in_flight × claim.lease_window - in flight` more are claimed for it
    ///   (with a window of 1, `max_in_flight` bounds the leases themselves; above 1 the
    ///   claimer bounds its running attempts in memory, see [`Store::single_process`]);
    /// - with `rate_limit_per_second = r`, each claimed delivery gets a send slot (its
    ///   `not_before`) spaced `1/r` s after the previous one handed out by any node (the
    ///   subscription's next free slot is persisted), and only slots before
    ///   `claim.now + claim.rate_horizon` are handed out.
    ///
    /// Deliveries never attempted come before retries, then oldest due first, so a backlog of
    /// retries cannot starve fresh events. Claimed rows are leased until `claim.lease_until`.
    /// Two concurrent claims (two nodes) never return the same delivery.
    async fn claim_due(&self, claim: &Claim) -> Result<Vec<DeliveryJob>>;
    /// Leases one delivery for a manual attempt (redelivery), whatever its status or schedule.
    /// `Ok(None)` if it does not exist; `Conflict` if someone else holds an unexpired lease.
    async fn lease_delivery(
        &self,
        id: &DeliveryId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<DeliveryJob>>;
    /// Records an attempt and moves its delivery on, releasing the lease, in one transaction:
    /// `attempts + 1`, `scheduled_attempts + 1` when `progress.counts_for_schedule`, the new
    /// status and `next_attempt_at`. If the delivery no longer exists (its subscription or
    /// tenant was deleted during the attempt), nothing is recorded and the result is `Ok(())`.
    async fn complete_attempt(&self, attempt: &Attempt, progress: &DeliveryProgress) -> Result<()>;
    /// The earliest time a pending delivery of an active subscription becomes claimable (so
    /// the dispatcher knows how long it may sleep): its `next_attempt_at`, or for a leased
    /// delivery the end of its lease when that is later.
    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>>;
    /// Drops every lease (single-node start-up: nothing can be in flight in a fresh process).
    async fn release_all_leases(&self) -> Result<u64>;
    /// Counts for metrics.
    async fn queue_stats(&self) -> Result<QueueStats>;
    /// Whether only this process uses the database, so in-memory limits hold for every
    /// claimer. A dispatcher may then claim with a [`Claim::lease_window`] above 1 and keep
    /// each subscription at `max_in_flight` attempts itself; with several processes only the
    /// count in the database is shared, so it must claim with a window of 1. `false` unless
    /// the backend knows better.
    fn single_process(&self) -> bool {
        false
    }
    /// Signalled when another process committed new work (PostgreSQL `LISTEN/NOTIFY`), so
    /// an idle dispatcher wakes without polling. `None` when only this process writes
    /// (SQLite): the API wakes the dispatcher directly.
    fn work_notifier(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}
