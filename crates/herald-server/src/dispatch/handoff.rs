//! Deliveries handed straight from a publish to this node's dispatcher, so a fresh event's
//! first attempt needs no claim query.
//!
//! The API publishes with `Store::publish_and_lease`: in the publish's own transaction the
//! store leases to this node what each subscription's `max_in_flight × lease_window` leaves
//! free (the dispatcher's window, see [`super`]), and the API
//! sends those committed, leased jobs here. Nothing is decided in memory that the database
//! does not also hold: the leases count as in flight for every node's claims, and if this
//! process dies before attempting them they expire and are claimed again (at least once).
//!
//! The channel is unbounded on purpose: everything in it holds a lease, so its length is
//! bounded by the sum of the subscriptions' `max_in_flight × lease_window`, and a publish
//! never waits on it.

use std::time::Duration;

use herald_store::{DeliveryJob, PublishLease};
use tokio::sync::mpsc;

/// The API's end: how long to lease, and where to send the jobs.
#[derive(Clone, Debug)]
pub struct Handoff {
    /// Into [`super::Dispatcher::run`].
    jobs: mpsc::UnboundedSender<DeliveryJob>,
    /// The same lease as the dispatcher's claims.
    lease: Duration,
    /// The same lease window as the dispatcher's claims ([`super::lease_window`]).
    lease_window: u32,
}

/// The dispatcher's end.
pub type HandoffReceiver = mpsc::UnboundedReceiver<DeliveryJob>;

/// A connected pair; `lease` and `lease_window` are the dispatcher's.
pub fn channel(lease: Duration, lease_window: u32) -> (Handoff, HandoffReceiver) {
    let (jobs, receiver) = mpsc::unbounded_channel();
    let handoff = Handoff {
        jobs,
        lease,
        lease_window,
    };
    (handoff, receiver)
}

impl Handoff {
    /// The lease to publish with, starting now.
    pub fn lease(&self) -> PublishLease {
        let now = herald_store::timestamp_now();
        PublishLease {
            now,
            lease_until: now + self.lease,
            lease_window: self.lease_window,
        }
    }

    /// Gives committed, leased jobs to the dispatcher. If it has stopped (shutting down), the
    /// leases simply expire and the deliveries are claimed again later.
    pub fn send(&self, jobs: Vec<DeliveryJob>) {
        for job in jobs {
            if self.jobs.send(job).is_err() {
                tracing::debug!("dispatcher stopped; handed-off deliveries wait for their lease");
                return;
            }
        }
    }
}
