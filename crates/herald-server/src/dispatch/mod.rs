//! The dispatcher: claims due deliveries from the store and works them with attempts.
//!
//! One loop per process claims batches (leased, so a crash never strands a delivery: the lease
//! expires and the work is claimed again), and each claimed delivery runs as its own task. The
//! loop sleeps until it is woken (a publish committed new deliveries, or an attempt freed
//! capacity) or the next delivery falls due, so a fresh event's first attempt never waits for a
//! poll interval.
//!
//! Isolation (promise 5) comes from the claim itself: the store never hands out more than a
//! subscription's remaining `max_in_flight` (counted from leases in the database, so across
//! every node), so a blackholed endpoint holds at most that many tasks while every other
//! subscription's deliveries keep being claimed. Rate limits are send slots the store hands
//! out with each claim (`not_before`), so they too hold across nodes.
//!
//! Fresh deliveries mostly skip the claim: the API's publish leases them to this node in its
//! own transaction and hands them over through [`handoff`]; they run like claimed ones.

mod attempt;
pub mod handoff;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use herald_store::{AttemptTrigger, Claim, DeliveryJob, Store};
use time::OffsetDateTime;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use attempt::Deliverer;
pub use handoff::{Handoff, HandoffReceiver};

/// How long the loop sleeps at most when nothing wakes it (a safety net, not the mechanism).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How far ahead rate-limited send slots are claimed: enough to keep a limited subscription
/// busy between two claims, short enough that leases stay fresh.
const RATE_HORIZON: Duration = Duration::from_secs(1);

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
    /// Jobs the API leased to this node at publish time (none without [`Self::with_handoff`]).
    handoff: Option<HandoffReceiver>,
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
            handoff: None,
        }
    }

    /// Also runs the jobs the API hands over (see [`handoff`]).
    pub fn with_handoff(mut self, jobs: HandoffReceiver) -> Self {
        self.handoff = Some(jobs);
        self
    }

    /// Runs until `shutdown`, then waits for attempts in flight (bounded by their timeout).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.settings.max_concurrency));
        let tasks = TaskTracker::new();
        if let Some(jobs) = self.handoff.take() {
            tasks.spawn(run_handed(
                jobs,
                Arc::clone(&permits),
                tasks.clone(),
                Arc::clone(&self.deliverer),
                Arc::clone(&self.wake),
                shutdown.clone(),
            ));
        }
        let mut backoff = Duration::from_millis(100);
        let remote = self.store.work_notifier();
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
                    rate_horizon: RATE_HORIZON,
                };
                match self.store.claim_due(&claim).await {
                    Ok(jobs) => {
                        backoff = Duration::from_millis(100);
                        claimed = jobs.len() as u32;
                        for job in jobs {
                            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                                break; // cannot happen: we claimed no more than were free
                            };
                            tasks.spawn(work(
                                job,
                                permit,
                                Arc::clone(&self.deliverer),
                                Arc::clone(&self.wake),
                            ));
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
                () = other_nodes_wrote(remote.as_deref()) => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => break,
            }
        }
        tasks.close();
        tasks.wait().await;
    }

    /// How long to sleep when nothing more can be claimed now.
    ///
    /// A due delivery that cannot be claimed (its subscription is at `max_in_flight`, or all
    /// permits are taken) is picked up when a finishing attempt wakes the loop.
    async fn idle_wait(&self) -> Duration {
        let now = OffsetDateTime::now_utc();
        match self.store.next_due_at().await {
            // Due in the future: sleep until then.
            Ok(Some(due)) if due > now => {
                Duration::try_from(due - now).map_or(IDLE_POLL, |d| d.min(IDLE_POLL))
            }
            _ => IDLE_POLL,
        }
    }
}

/// One leased job: wait for its slot, attempt it, free the permit, wake the claim loop.
async fn work(
    job: DeliveryJob,
    permit: OwnedSemaphorePermit,
    deliverer: Arc<Deliverer>,
    wake: Arc<Notify>,
) {
    wait_until(job.not_before).await;
    deliverer
        .attempt_waking(&job, AttemptTrigger::Scheduled, Some(&wake))
        .await;
    drop(permit);
    // Capacity freed (now committed): its subscription may have more due work.
    wake.notify_one();
}

/// Runs handed-over jobs until `shutdown`. Each waits for a permit in its own task, so a full
/// dispatcher delays them (their leases keep them from being claimed twice meanwhile) without
/// ever blocking the channel.
async fn run_handed(
    mut jobs: HandoffReceiver,
    permits: Arc<Semaphore>,
    tasks: TaskTracker,
    deliverer: Arc<Deliverer>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        let job = tokio::select! {
            job = jobs.recv() => job,
            () = shutdown.cancelled() => None,
        };
        let Some(job) = job else {
            return;
        };
        let permits = Arc::clone(&permits);
        let deliverer = Arc::clone(&deliverer);
        let wake = Arc::clone(&wake);
        tasks.spawn(async move {
            // Closed only if the dispatcher is gone; the lease then expires as after a crash.
            if let Ok(permit) = permits.acquire_owned().await {
                work(job, permit, deliverer, wake).await;
            }
        });
    }
}

/// Resolves when another node committed work (never, without a notifier).
async fn other_nodes_wrote(notifier: Option<&Notify>) {
    match notifier {
        Some(notify) => notify.notified().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at` (a rate-limit slot); returns at once for a time in the past.
async fn wait_until(at: OffsetDateTime) {
    let ahead = at - OffsetDateTime::now_utc();
    if let Ok(ahead) = Duration::try_from(ahead)
        && !ahead.is_zero()
    {
        tokio::time::sleep(ahead).await;
    }
}
