//! The manual-attempt entry: the connectivity test and redelivery ask the dispatcher for a
//! [`ManualTurn`] before they send, so a request by hand is held to the same limits as
//! scheduled work: a place in `max_concurrency`, a permit of the subscription's gate
//! (`max_in_flight`), and for a rate-limited subscription a send slot from the same sequence
//! the claims use (`DeliveryQueue::take_send_slot`), waited for when it is less than
//! `RATE_HORIZON` (1 s) ahead.
//!
//! It only hands out turns; it never sends or records (the API calls `Deliverer::attempt`
//! while it holds the turn). Why refuse rather than wait: a manual attempt has a caller
//! waiting on an HTTP request. Queueing it behind a busy subscription would let a client pile
//! up unbounded waiting requests (each holding a connection and a task); answering at once
//! with "busy, retry after a second" (429 with `Retry-After`) costs nothing and tells the
//! person what is happening. A subscription at its cap is, after all, busy with deliveries.

use std::sync::Arc;

use herald_store::{StoreError, Subscription};
use tokio::sync::OwnedSemaphorePermit;

use super::Intake;
use super::gates::GatePermit;
use super::job::wait_for_slot;
use super::lease::RATE_HORIZON;

/// The right to make one manual attempt now; held until the attempt is recorded.
#[derive(Debug)]
pub struct ManualTurn {
    /// The subscription's gate permit.
    _gate: GatePermit,
    /// The place in `max_concurrency`.
    _permit: OwnedSemaphorePermit,
}

/// Why a manual attempt may not go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Every place in `max_concurrency` on this node is taken.
    #[error(
        "this server has {max} attempts in flight, its limit (max_concurrency = {max}); retry \
         in a moment"
    )]
    Concurrency {
        /// The setting's value.
        max: usize,
    },
    /// The subscription has `max_in_flight` attempts in flight on this node.
    #[error(
        "the subscription has {max} attempts in flight, its limit (max_in_flight = {max}); \
         retry in a moment"
    )]
    InFlight {
        /// The subscription's limit.
        max: u32,
    },
    /// The subscription's send slots within the next second are all taken.
    #[error(
        "the subscription is sending at its rate limit (rate_limit_per_second = {per_second}); \
         retry in a moment"
    )]
    Rate {
        /// The subscription's limit.
        per_second: u32,
    },
}

/// Why no turn was given.
#[derive(Debug, thiserror::Error)]
pub enum TurnRefused {
    /// The subscription or the server is at a limit: answer 429.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The send slot could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Intake {
    /// A turn for a manual attempt to `subscription`, if one is free now (see the module).
    /// Returns once the turn's send slot has come (at most a second ahead).
    pub async fn manual_turn(
        &self,
        subscription: &Subscription,
    ) -> Result<ManualTurn, TurnRefused> {
        let core = &self.core;
        let permit =
            Arc::clone(&core.permits)
                .try_acquire_owned()
                .map_err(|_| Busy::Concurrency {
                    max: core.settings.max_concurrency,
                })?;
        let gate = core
            .gates
            .try_acquire(subscription.id.as_str(), subscription.max_in_flight)
            .ok_or(Busy::InFlight {
                max: subscription.max_in_flight,
            })?;
        // Taken last, so a refusal above spends no slot.
        if let Some(per_second) = subscription.rate_limit_per_second {
            let now = core.clock.now();
            let slot = core
                .store
                .take_send_slot(&subscription.id, per_second, now, RATE_HORIZON)
                .await?
                .ok_or(Busy::Rate { per_second })?;
            wait_for_slot(slot, core.clock.as_ref()).await;
        }
        Ok(ManualTurn {
            _gate: gate,
            _permit: permit,
        })
    }
}
