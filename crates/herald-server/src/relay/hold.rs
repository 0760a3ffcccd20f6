//! The hold bound: a relay subscription's deliveries wait for a listener, but not for ever.
//! Past `relay_hold` with no listener connected on any node, each fails with an attempt whose
//! error says "no relay client was connected for …", so the user sees why in the attempt log,
//! the CLI and the Hub, like any failed attempt.
//!
//! [`sweep`] is one step (tests call it with their own "now"); [`run`] only repeats it. The
//! store leases what it fails, so two nodes sweeping at once never fail one delivery twice.

use std::sync::Arc;
use std::time::Duration;

use herald_store::{
    Attempt, AttemptError, AttemptId, AttemptTrigger, DeliveryProgress, DeliveryStatus, StoreError,
};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::RelayHub;

/// Deliveries failed per store call at most.
const BATCH: u32 = 100;
/// How long a sweep's lease holds (only until its attempt is recorded, a moment later).
const SWEEP_LEASE: Duration = Duration::from_secs(60);

/// Fails, at `now`, every relay delivery that waited longer than the hold bound with no
/// listener connected since; returns how many it failed.
pub async fn sweep(hub: &RelayHub, now: OffsetDateTime) -> Result<usize, StoreError> {
    let hold = hub.settings.hold;
    let since = now - hold;
    let message = format!(
        "no relay client was connected for {} (relay_hold)",
        herald_duration::format(hold)
    );
    let mut failed = 0;
    loop {
        let leased = hub
            .store()
            .lease_unattended_relay(since, now, now + SWEEP_LEASE, BATCH)
            .await?;
        let count = leased.len();
        for delivery in leased {
            let attempt = Attempt {
                id: AttemptId::generate(),
                delivery_id: delivery.id.clone(),
                started_at: now,
                duration_ms: 0,
                response_status: None,
                response_body: None,
                response_headers: None,
                error: Some(AttemptError::Connect),
                error_message: Some(message.clone()),
                trigger: AttemptTrigger::Scheduled,
            };
            let progress = DeliveryProgress {
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                counts_for_schedule: true,
            };
            hub.store().complete_attempt(&attempt, &progress).await?;
            tracing::warn!(delivery = %delivery.id, subscription = %delivery.subscription_id,
                "{message}; the delivery failed");
            failed += 1;
        }
        if count < BATCH as usize {
            return Ok(failed);
        }
    }
}

/// Sweeps every so often (a fraction of the bound, between a second and a minute) until
/// `shutdown`.
pub async fn run(hub: Arc<RelayHub>, shutdown: CancellationToken) {
    let every = (hub.settings.hold / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(error) = sweep(&hub, hub.clock().now()).await {
            tracing::warn!(%error, "failing relay deliveries past relay_hold failed; retrying");
        }
    }
}
