//! The delivery-queue half of the store seam: how a delivery moves, from the publish that
//! writes it, through the claim or lease that hands it to a dispatcher, to the attempt that
//! completes it, with the reads of events, deliveries and attempts.
//!
//! It owns every write to events, deliveries and attempts; it must never decide anything (what
//! status follows an attempt, when the next is due): the dispatcher decides and hands that
//! down. No method has a default body: `publish_and_lease`, `single_process` and
//! `work_notifier` change how the dispatcher behaves, so every backend (and every wrapper)
//! states its answer, and forgetting one is a compile error.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::Result;
use crate::feed::{AttemptFeedFilter, FeedPage, FeedPosition};
use crate::hub::{ActivityBucket, ActivityQuery, FailingSubscription};
use crate::ids::{DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::recovery::Recovery;

/// What [`DeliveryQueue::publish_and_lease`] leases with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishLease {
    /// Leases ending at or before this time are expired (not in flight).
    pub now: OffsetDateTime,
    /// The leases given run until then.
    pub lease_until: OffsetDateTime,
    /// As [`Claim::lease_window`]: up to `max_in_flight × lease_window` unexpired leases while
    /// this node holds all of the subscription's leases, else `max_in_flight`; the dispatcher
    /// itself keeps at most `max_in_flight` attempts running per subscription (at least 1; 0
    /// is taken as 1).
    pub lease_window: u32,
}

/// An accepted event, and the deliveries leased to the publisher to attempt.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// What [`DeliveryQueue::publish`] answers.
    pub published: Published,
    /// Leased, committed deliveries to attempt now (none for a duplicate).
    pub jobs: Vec<DeliveryJob>,
}

/// Events, deliveries, attempts and the dispatcher's side. Implementations:
/// [`crate::sqlite::SqliteStore`] and [`crate::postgres::PgStore`].
///
/// Every method is one transaction. Lookups of a missing row return `Ok(None)`. Times are kept
/// to the microsecond (what PostgreSQL keeps too); [`crate::timestamp_now`] gives a "now" that
/// reads back equal.
#[async_trait]
pub trait DeliveryQueue: Send + Sync + 'static {
    // --- events ----------------------------------------------------------------------------
    /// Accepts an event: in one transaction, writes it and one `pending` delivery (due at
    /// `event.created_at`) per matching subscription, active or paused: the event's tenant's
    /// subscriptions, or every tenant's for a broadcast. A repeated `(tenant_id,
    /// idempotency_key)` writes nothing and returns the first event's id with `duplicate`.
    /// Returns only once committed (durable).
    async fn publish(&self, event: &Event) -> Result<Published>;
    /// [`DeliveryQueue::publish`], and in the same transaction leases to the caller the new
    /// deliveries it may start at once, so they need no claim (the dispatcher of the node
    /// that accepted the event gets them straight from the API).
    ///
    /// Handed out, per subscription, are the event's deliveries to `active` subscriptions
    /// without a `rate_limit_per_second` (rate slots are the claim's business), up to what
    /// the same cap as `claim_due` leaves free under the same count (unexpired leases, any
    /// node), leased until `lease.lease_until` with `not_before =
    /// lease.now`. The rest
    /// stay unleased for `claim_due`. A backend may hand out fewer (never more), e.g. when
    /// another node is claiming for that subscription right now, or none at all.
    async fn publish_and_lease(&self, event: &Event, lease: &PublishLease) -> Result<Accepted>;
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
    /// Deliveries, newest first, each with its subscription's URL and latest attempt, in one
    /// query per page.
    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<DeliverySummary>>;
    /// A delivery's attempts, oldest first.
    async fn list_attempts(&self, delivery_id: &DeliveryId) -> Result<Vec<Attempt>>;
    /// One page of a delivery's attempts, in the order they were made (by id, which is time
    /// ordered); the cursor is the last attempt id of the previous page. What the API reads:
    /// a delivery redelivered by hand many times never makes one unbounded answer.
    async fn list_attempts_page(
        &self,
        delivery_id: &DeliveryId,
        page: &PageRequest,
    ) -> Result<Page<Attempt>>;
    /// The attempt feed: attempts made strictly between `after` and `until` (ids compared as
    /// positions, see [`FeedPosition`]) whose delivery matches `filter`, oldest first, at
    /// most `limit` (0 is taken as 1), each with its delivery's subscription, tenant, event
    /// and current status. The page's position is where the next read starts.
    async fn attempts_between(
        &self,
        after: &FeedPosition,
        until: &FeedPosition,
        filter: &AttemptFeedFilter,
        limit: u32,
    ) -> Result<FeedPage>;

    // --- the dispatcher's side -------------------------------------------------------------
    /// Claims due work: `pending` deliveries with `next_attempt_at <= claim.now`, whose lease is
    /// absent or expired, whose subscription is `active`, at most `claim.limit` in all.
    ///
    /// Per-subscription limits hold across every node sharing the database, because they are
    /// computed from the database alone:
    /// - in flight = the subscription's deliveries (any status) holding an unexpired lease;
    ///   at most `cap - in flight` more are claimed for it, where the cap is `max_in_flight ×
    ///   claim.lease_window` while every such lease is the claiming node's own, and
    ///   `max_in_flight` as soon as another node (or a lease taken by hand) holds one. So
    ///   requests stay at `max_in_flight` across nodes: one node alone keeps its running
    ///   attempts there itself (its gate), and leases of two nodes at once only arise from a
    ///   claim that left `max_in_flight` leases in all, which every later claim keeps;
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
    /// `Ok(None)` if it does not exist; `PayloadDropped` if retention removed its event's
    /// payload (nothing is leased, and no empty body can be sent); `Conflict` if someone else
    /// holds an unexpired lease.
    async fn lease_delivery(
        &self,
        id: &DeliveryId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<DeliveryJob>>;
    /// A send slot for a manual attempt (connectivity test, redelivery) to a subscription
    /// limited to `rate_per_second`: the subscription's next free slot from the same
    /// sequence `claim_due` hands out (so the pace holds across nodes), if it falls before
    /// `now + horizon`; the persisted next slot moves on by one interval. `Ok(None)` when the
    /// next free slot is past the horizon (the caller answers "busy"), or the subscription does
    /// not exist. A rate of 0 is no limit: `Ok(Some(now))`, nothing written.
    async fn take_send_slot(
        &self,
        subscription_id: &SubscriptionId,
        rate_per_second: u32,
        now: OffsetDateTime,
        horizon: std::time::Duration,
    ) -> Result<Option<OffsetDateTime>>;
    /// Records an attempt and moves its delivery on, releasing the lease, in one transaction:
    /// `attempts + 1`, `scheduled_attempts + 1` when `progress.counts_for_schedule`, the new
    /// status and `next_attempt_at`. If the delivery no longer exists (its subscription or
    /// tenant was deleted during the attempt), nothing is recorded and the result is `Ok(())`.
    async fn complete_attempt(&self, attempt: &Attempt, progress: &DeliveryProgress) -> Result<()>;
    /// The earliest time a pending delivery of an active subscription becomes claimable (so
    /// the dispatcher knows how long it may sleep): its `next_attempt_at`, or for a leased
    /// delivery the end of its lease when that is later.
    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>>;
    // --- failure notices --------------------------------------------------------------------
    /// Notes a delivery that ended `failed` for its subscription's next digest; a delivery
    /// already noted is kept once.
    async fn note_failure(&self, failure: &FailureNotice) -> Result<()>;
    /// Claims one due digest: a subscription with a failure noted at or before `noted_before`
    /// (a burst of failures gathers into one digest) whose last digest was claimed at or
    /// before `sent_before` (or never). In one transaction its last-sent time becomes
    /// `now` and its failures noted up to `now` are taken (deleted) and returned, so of two
    /// claimers (two nodes, or a restart) only one gets them. `Ok(None)` when none is due, or
    /// when another claimer took the one found.
    async fn claim_failure_digest(
        &self,
        now: OffsetDateTime,
        sent_before: OffsetDateTime,
        noted_before: OffsetDateTime,
    ) -> Result<Option<FailureDigest>>;
    /// Drops every lease (single-node start-up: nothing can be in flight in a fresh process).
    async fn release_all_leases(&self) -> Result<u64>;
    /// Counts for metrics.
    async fn queue_stats(&self) -> Result<QueueStats>;
    // --- the relay (docs/relay.md) ------------------------------------------------------------
    /// Records that this store's node (one per store handle, i.e. per process) holds a relay
    /// connection for the subscription until `until`: heartbeats move it on, and a node whose
    /// last listener left records `until = now`, which keeps when a listener was last seen.
    /// [`DeliveryQueue::claim_due`] claims a relay subscription's deliveries ([`RELAY_URL`])
    /// only for a node whose presence for it has not ended at `claim.now`, and
    /// [`DeliveryQueue::publish_and_lease`] never hands them out, so they wait, unattempted,
    /// while no listener is connected, and go only to a node that can send them.
    async fn relay_present(
        &self,
        subscription_id: &SubscriptionId,
        until: OffsetDateTime,
    ) -> Result<()>;
    /// The subscription's pending deliveries (what a listener attaching has to catch up on).
    async fn relay_waiting(&self, subscription_id: &SubscriptionId) -> Result<u64>;
    /// Leases until `lease_until`, oldest first and at most `limit`, the pending deliveries of
    /// active relay subscriptions created at or before `since` whose subscription has had no
    /// listener on any node since `since` (the hold bound ago), so the caller can fail them;
    /// and forgets presences that ended before `since`. Leases held at `now` are skipped.
    async fn lease_unattended_relay(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>>;

    /// The Hub's overview: events accepted and attempts made (how they went, how long they
    /// took) since `query.since`, per bucket, for every tenant or one (a tenant's own events
    /// and broadcasts). Read by id range from the first id made at `since`, so it costs what
    /// the window holds, not what the store holds.
    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityBucket>>;
    // --- recoveries (crate::recovery) ----------------------------------------------------
    /// Records a new recovery.
    async fn start_recovery(&self, recovery: &Recovery) -> Result<()>;
    /// One recovery by id.
    async fn get_recovery(&self, id: &str) -> Result<Option<Recovery>>;
    /// A subscription's newest recovery.
    async fn latest_recovery(&self, subscription_id: &SubscriptionId) -> Result<Option<Recovery>>;
    /// How many deliveries of the subscription created since `since` have failed.
    async fn count_failed_deliveries(
        &self,
        subscription_id: &SubscriptionId,
        since: OffsetDateTime,
    ) -> Result<u64>;
    /// One batch of a running recovery, in one transaction: renews its lease until
    /// `lease_until`; makes up to `limit` failed deliveries of its subscription, created since
    /// its `since` and with ids above its cursor (`requeued_through`), pending again, due at
    /// `now`, with a fresh retry schedule and no lease; moves the cursor and the count on, and
    /// marks it done when fewer than `limit` were found. Answers it as it now stands; `None`
    /// if it is done or gone (its subscription was deleted). Two nodes stepping the same
    /// recovery take turns, each after the other's cursor. Deliveries of an event whose
    /// payload `payload_retention` removed are left out (here and in
    /// [`DeliveryQueue::count_failed_deliveries`]): there is nothing to send.
    async fn recovery_step(
        &self,
        id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Option<Recovery>>;
    /// Takes one running recovery whose lease ended at or before `now` (the node running it
    /// stopped), leasing it until `lease_until`; `None` if there is none. Atomic: of several
    /// nodes asking at once, one gets it.
    async fn claim_stalled_recovery(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<Recovery>>;

    /// The subscriptions (every tenant's, or one tenant's) whose latest attempt since `since`
    /// failed, newest failure first, at most `limit`.
    async fn failing_subscriptions(
        &self,
        since: OffsetDateTime,
        tenant_id: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<FailingSubscription>>;
    /// Whether only this process uses the database (SQLite), so leases left by an earlier run
    /// of it can all be released at start. Every backend answers for itself (no default), so
    /// a wrapper cannot forget to pass the answer on.
    fn single_process(&self) -> bool;
    /// Signalled when another process committed new work (PostgreSQL `LISTEN/NOTIFY`), so
    /// an idle dispatcher wakes without polling. `None` when only this process writes
    /// (SQLite): the API wakes the dispatcher directly. Required for the same reason as
    /// [`DeliveryQueue::single_process`].
    fn work_notifier(&self) -> Option<std::sync::Arc<tokio::sync::Notify>>;

    /// Retention: the tenants with a retention of their own (`retention_seconds` set, 0 for
    /// forever), which the server's `retention` does not govern. Read here, not through the
    /// catalog, because the retention task holds the queue half only.
    async fn tenant_retentions(&self) -> Result<Vec<(TenantId, u64)>>;
    /// Retention: deletes at most `limit` events in `scope` created before `before` that have
    /// no pending delivery, with their deliveries and attempts, in one short transaction
    /// (oldest first), and answers how many of each went. An event with a pending delivery is
    /// never deleted. SQLite also returns the freed pages to the file system (incremental
    /// vacuum).
    async fn delete_old_events(
        &self,
        scope: &RetentionScope,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<RetentionDeleted>;
    /// `payload_retention`: empties the payload of at most `limit` events created before
    /// `before` that still have one and no pending delivery (oldest first), and clears the
    /// response bodies of their attempts, in one short transaction. The events, deliveries
    /// and attempts stay; [`Event::payload_dropped`] tells such an event.
    async fn drop_old_payloads(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<PayloadsDropped>;
}
