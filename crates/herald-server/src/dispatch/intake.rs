//! The dispatcher's publish side: the API's publish handler calls [`Intake::publish`] and
//! nothing else, so a fresh event's first attempt needs no claim query and the handler does
//! not orchestrate the dispatcher.
//!
//! `publish` runs `DeliveryQueue::publish_and_lease` with the dispatcher's own lease terms: in the
//! publish's transaction the store leases to this node what each subscription's `max_in_flight
//! × window` leaves free (see `lease`, point 2). Those committed, leased jobs start here like
//! claimed ones; if any delivery was left unleased, the dispatcher is woken to claim it.
//! Nothing is decided in memory that the database does not also hold: if this process dies
//! before attempting them, the leases expire and the deliveries are claimed again.

use std::sync::Arc;

use herald_store::{Event, Published, StoreError};

use super::Core;

/// Where the API publishes. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    pub(super) core: Arc<Core>,
}

impl Intake {
    pub(super) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Accepts `event` (durable once this returns `Ok`) and starts the deliveries leased to
    /// this node.
    pub async fn publish(&self, event: &Event) -> Result<Published, StoreError> {
        let core = &self.core;
        // Read before the lease starts, so a job's wait is never undercounted.
        let leased = core.clock.instant();
        let lease = core.terms.publish(core.clock.now());
        let accepted = core.store.publish_and_lease(event, &lease).await?;
        let handed = accepted.jobs.len() as u64;
        // Once shutdown was asked nothing more starts (`Core::start` checks it too): the
        // leases expire, or are released at the next start on SQLite.
        if !core.stopped.is_cancelled() {
            for job in accepted.jobs {
                core.start(job, leased);
            }
        }
        if !accepted.published.duplicate && accepted.published.deliveries > handed {
            core.wake.notify_one();
        }
        Ok(accepted.published)
    }

    /// Wakes the dispatcher to claim now (a paused subscription was resumed: its waiting
    /// deliveries are due).
    pub fn wake(&self) {
        self.core.wake.notify_one();
    }
}
