//! How a delivery moves, in one place: where it waits, who claims it, how long the claim
//! holds, where its attempt is written, and why a job can be dropped without an attempt.
//! (The other half is the store's side: `DeliveryQueue::publish_and_lease`, `DeliveryQueue::claim_due` and
//! `DeliveryQueue::complete_attempt` in `herald_store::DeliveryQueue` (`crates/herald-store/src/seam/queue.rs`).)
//!
//! 1. **It waits in the store.** A publish writes one `pending` delivery per matching
//!    subscription, due at once (`next_attempt_at` = the event's time). Nothing waits in
//!    memory that is not also a row.
//! 2. **A lease claims it.** Either the [`super::Intake`] leases it to this node inside the
//!    publish's own transaction (`publish_and_lease`: fresh deliveries need no claim query),
//!    or a dispatcher [`step`](super::Dispatcher::step) claims due deliveries (`claim_due`:
//!    never-attempted ones first, then retries, oldest due first). Either way it is leased
//!    until `now + lease`; an unexpired lease is "in flight" for every node's claims.
//! 3. **The lease window.** The store leases a subscription at most `max_in_flight ×`
//!    [`LEASE_WINDOW`] deliveries while this node holds all of its leases, so the next
//!    deliveries are already leased when a response comes back and go out at once instead of
//!    waiting for the commit that records the attempt; the gate (point 4) keeps the requests
//!    at `max_in_flight`. As soon as another node (PostgreSQL) holds a lease of the
//!    subscription, the store counts every lease against `max_in_flight` itself, which then
//!    bounds the requests of all nodes together (`DeliveryQueue::claim_due` says why).
//! 4. **In this process a job waits three times**: for a place in `max_concurrency`, for its
//!    rate-limit send slot (`not_before`, handed out by the store so it holds across nodes),
//!    and for its subscription's gate ([`super::gates`]: `max_in_flight` requests at once).
//! 5. **Patience: why a job is dropped without an attempt.** An attempt may take up to the
//!    request timeout, and must be recorded before its lease ends, or another claimer could
//!    take the delivery and send it while this request still runs. So a job may wait at most
//!    `lease − request_timeout − `[`LEASE_MARGIN`] from when its lease began. A job that waited
//!    longer (its subscription's endpoint is slow, or the process is overloaded) is dropped
//!    unattempted: no request, no attempt row. Its lease simply expires and it is claimed
//!    again: at least once, never two concurrent sends of one delivery.
//! 6. **Its attempt is written in one transaction** by `Deliverer::record`
//!    (`DeliveryQueue::complete_attempt`): the attempt row, the delivery's new status and next due
//!    time from the [retry schedule](super::schedule), and the lease released.
//! 7. **A crash loses nothing**: leases of a dead process expire and are claimed again (on
//!    SQLite, a fresh start releases them all at once).

use std::time::{Duration, Instant};

use herald_store::{Claim, PublishLease};
use time::OffsetDateTime;

/// The lease window: a subscription may hold twice its `max_in_flight` in leases (while one
/// node holds them all), so that as many deliveries as can run are leased again while the
/// finished ones are being recorded.
pub const LEASE_WINDOW: u32 = 2;

/// What a job must have left of its lease, beyond the request timeout, to be attempted: the
/// time to sign, send and record around the request, and the publish's commit (an intake
/// job's lease starts before its publish commits).
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// How far ahead rate-limited send slots are claimed: enough to keep a limited subscription
/// busy between two claims, short enough that leases stay fresh.
pub const RATE_HORIZON: Duration = Duration::from_secs(1);

/// The terms every lease of this dispatcher is given, by a claim or by the intake.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTerms {
    /// How long a lease holds.
    pub lease: Duration,
    /// See point 3 of the module documentation.
    pub window: u32,
    /// How long after its lease began a job may still be attempted (point 5).
    pub patience: Duration,
}

impl LeaseTerms {
    /// The terms for leases of `lease`, with attempts of up to `request_timeout`.
    pub fn new(lease: Duration, request_timeout: Duration) -> Self {
        Self {
            lease,
            window: LEASE_WINDOW,
            patience: lease.saturating_sub(request_timeout + LEASE_MARGIN),
        }
    }

    /// A claim of at most `limit` deliveries due at `now`.
    pub fn claim(&self, now: OffsetDateTime, limit: u32) -> Claim {
        Claim {
            now,
            lease_until: now + self.lease,
            limit,
            rate_horizon: RATE_HORIZON,
            lease_window: self.window,
        }
    }

    /// The lease a publish at `now` gives the deliveries it hands to this node.
    pub fn publish(&self, now: OffsetDateTime) -> PublishLease {
        PublishLease {
            now,
            lease_until: now + self.lease,
            lease_window: self.window,
        }
    }

    /// Whether a job whose lease began at `leased` may still be attempted at `now` (point 5).
    pub fn within_patience(&self, leased: Instant, now: Instant) -> bool {
        now.saturating_duration_since(leased) <= self.patience
    }
}
