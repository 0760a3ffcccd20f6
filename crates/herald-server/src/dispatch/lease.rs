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
//! 3. **The lease window.** The store leases a subscription at most `max_in_flight ×` its
//!    window deliveries while this node holds all of its leases, so the next deliveries are
//!    already leased when a response comes back and go out at once instead of waiting for the
//!    commit that records the attempt; the gate (point 4) keeps the requests at
//!    `max_in_flight`. As soon as another node (PostgreSQL) holds a lease of the
//!    subscription, the store counts every lease against `max_in_flight` itself, which then
//!    bounds the requests of all nodes together (`DeliveryQueue::claim_due` says why). The
//!    window is [`LEASE_WINDOW`] at first, and widens up to [`MAX_LEASE_WINDOW`] for an
//!    endpoint that answers fast ([`LeaseTerms::window_for`]): the last job of a window of `w`
//!    waits at the gate for `w − 1` answers in a row, which must leave it well inside its
//!    patience (point 5). A wider window means fewer, larger claims and no gate left idle while
//!    a claim commits: on PostgreSQL, a third more deliveries per second for one fast endpoint
//!    (docs/performance.md).
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

use std::collections::HashMap;
use std::time::{Duration, Instant};

use herald_store::{Claim, PublishLease};
use time::OffsetDateTime;

/// The lease window of a subscription whose endpoint has not answered yet (or answers
/// slowly): it may hold twice its `max_in_flight` in leases (while one node holds them all),
/// so that as many deliveries as can run are leased again while the finished ones are being
/// recorded.
pub const LEASE_WINDOW: u32 = 2;

/// The widest lease window, for an endpoint that answers fast (point 3): `max_in_flight × 8`
/// leases. Past this, measured, claims were no faster.
pub const MAX_LEASE_WINDOW: u32 = 8;

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

    /// The lease window of a subscription whose endpoint answers in `answer_time` (point 3):
    /// the widest (up to [`MAX_LEASE_WINDOW`]) whose last job, waiting for `window − 1`
    /// answers at the gate, still has half its patience left; never below the base window.
    pub fn window_for(&self, answer_time: Duration) -> u32 {
        let spare = (self.patience / 2).as_nanos();
        let waits = spare
            .checked_div(answer_time.as_nanos())
            .unwrap_or(u128::MAX);
        let window = u32::try_from(waits.saturating_add(1)).unwrap_or(u32::MAX);
        window.clamp(self.window, MAX_LEASE_WINDOW.max(self.window))
    }

    /// A claim of at most `limit` deliveries due at `now`, with `lease_windows` for the
    /// subscriptions whose window is not the base one ([`Self::window_for`]).
    pub fn claim(
        &self,
        now: OffsetDateTime,
        limit: u32,
        lease_windows: HashMap<String, u32>,
    ) -> Claim {
        Claim {
            now,
            lease_until: now + self.lease,
            limit,
            rate_horizon: RATE_HORIZON,
            lease_window: self.window,
            lease_windows,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The default terms: a 15 s request timeout, a 30 s lease, 10 s of patience.
    fn terms() -> LeaseTerms {
        LeaseTerms::new(Duration::from_secs(30), Duration::from_secs(15))
    }

    #[test]
    fn a_fast_endpoint_gets_the_widest_window() {
        assert_eq!(
            terms().window_for(Duration::from_millis(1)),
            MAX_LEASE_WINDOW
        );
        assert_eq!(terms().window_for(Duration::ZERO), MAX_LEASE_WINDOW);
    }

    #[test]
    fn the_last_job_of_a_window_waits_at_most_half_the_patience() {
        // 5 s to spare: 1 + 5 s / answer time.
        assert_eq!(terms().window_for(Duration::from_secs(1)), 6);
        assert_eq!(terms().window_for(Duration::from_millis(2_500)), 3);
        for answer in [1, 250, 999, 1_000, 1_700, 2_500, 4_000] {
            let answer = Duration::from_millis(answer);
            let window = terms().window_for(answer);
            assert!(
                answer * (window - 1) <= terms().patience / 2 || window == LEASE_WINDOW,
                "{answer:?}: window {window}"
            );
        }
    }

    #[test]
    fn a_slow_endpoint_keeps_the_base_window() {
        assert_eq!(terms().window_for(Duration::from_secs(5)), LEASE_WINDOW);
        assert_eq!(terms().window_for(Duration::from_secs(60)), LEASE_WINDOW);
    }
}
