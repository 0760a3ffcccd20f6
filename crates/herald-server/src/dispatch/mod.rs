//! The dispatcher: claims due deliveries from the store and works them with attempts.
//!
//! One loop per process claims batches (leased, so a crash never strands a delivery: the lease
//! expires and the work is claimed again), and each claimed delivery runs as its own task. The
//! loop sleeps until it is woken (a publish committed new deliveries, or an attempt freed
//! capacity) or the next delivery falls due, so a fresh event's first attempt never waits for a
//! poll interval.
//!
//! Isolation (promise 5) comes from the claim itself: the store never hands out more than a
//! subscription's remaining `max_in_flight`, so a blackholed endpoint holds at most that many
//! tasks while every other subscription's deliveries keep being claimed.

mod attempt;
pub mod limits;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use herald_store::{AttemptTrigger, Claim, Store};
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use attempt::Deliverer;

/// How long the loop sleeps at most when nothing wakes it (a safety net, not the mechanism).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Tunables of the dispatch loop.
#[derive(Clone, Debug)]
pub struct DispatchSettings {
    /// Attempts in flight at once across all subscriptions.
    pub max_concurrency: usize,
    /// Deliveries claimed per query at most.
    pub batch_size: u32,
    /// How long a claim holds a delivery before another claimer may take it.
    pub lease: Duration,
}

/// The claim loop. Cloning shares the wake-up signal.
pub struct Dispatcher {
    deliverer: Arc<Deliverer>,
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    settings: DispatchSettings,
}

impl Dispatcher {
    /// A dispatcher over `store`, making attempts with `deliverer`.
    pub fn new(
        store: Arc<dyn Store>,
        deliverer: Arc<Deliverer>,
        wake: Arc<Notify>,
        settings: DispatchSettings,
    ) -> Self {
        Self {
            deliverer,
            store,
            wake,
            settings,
        }
    }

    /// Runs until `shutdown`, then waits for attempts in flight (bounded by their timeout).
    pub async fn run(self, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.settings.max_concurrency));
        let tasks = TaskTracker::new();
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let available = permits.available_permits() as u32;
            let limit = available.min(self.settings.batch_size);
            let mut claimed = 0;
            if limit > 0 {
                let now = OffsetDateTime::now_utc();
                let claim = Claim {
                    now,
                    lease_until: now + self.settings.lease,
                    limit,
                    per_subscription: self.deliverer.limits().remaining(),
                    default_per_subscription: u32::MAX,
                };
                match self.store.claim_due(&claim).await {
                    Ok(jobs) => {
                        backoff = Duration::from_millis(100);
                        claimed = jobs.len() as u32;
                        for job in jobs {
                            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                                break; // cannot happen: we claimed no more than were free
                            };
                            let in_flight = self
                                .deliverer
                                .limits()
                                .start(&job.subscription.id, job.subscription.max_in_flight);
                            let deliverer = Arc::clone(&self.deliverer);
                            let wake = Arc::clone(&self.wake);
                            tasks.spawn(async move {
                                deliverer.attempt(&job, AttemptTrigger::Scheduled).await;
                                drop(in_flight);
                                drop(permit);
                                wake.notify_one();
                            });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, retry_in = ?backoff, "claiming deliveries failed");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = shutdown.cancelled() => break,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        continue;
                    }
                }
            }
            if claimed > 0 && claimed == limit {
                continue; // a full batch: more may be due right now
            }
            let wait = self.idle_wait().await;
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => break,
            }
        }
        tasks.close();
        tasks.wait().await;
    }

    /// How long to sleep when nothing more can be claimed now.
    async fn idle_wait(&self) -> Duration {
        let now = OffsetDateTime::now_utc();
        match self.store.next_due_at().await {
            // Due in the future: sleep until then.
            Ok(Some(due)) if due > now => {
                Duration::try_from(due - now).map_or(IDLE_POLL, |d| d.min(IDLE_POLL))
            }
            // Due now but not claimable (its subscription is at max_in_flight, or no permits):
            // a finishing attempt wakes the loop.
            _ => IDLE_POLL,
        }
    }
}
