//! The dispatcher: claims due deliveries from the store and works them with attempts.
//!
//! One loop per process claims batches (leased, so a crash never strands a delivery: the lease
//! expires and the work is claimed again), and each claimed delivery runs as its own task. The
//! loop sleeps until it is woken (a publish committed new deliveries, or an attempt freed
//! capacity) or the next delivery falls due, so a fresh event's first attempt never waits for a
//! poll interval.
//!
//! Isolation (promise 5) comes from the claim and from [`gates`]. The store never leases a
//! subscription more than `max_in_flight × lease_window` deliveries (counted from leases in
//! the database, so across every node), so a blackholed endpoint holds at most that many
//! tasks while every other subscription's deliveries keep being claimed; and in this process
//! a job waits for its subscription's gate (`max_in_flight` permits) before it is sent, so an
//! endpoint never sees more than `max_in_flight` concurrent requests from this node. The
//! window is 1 unless the store is this process's alone ([`Store::single_process`], SQLite),
//! where it is [`SINGLE_PROCESS_LEASE_WINDOW`]: the next deliveries are then already leased
//! when a response comes back, and go out at once instead of waiting for the commit that
//! records the attempt and releases its lease. With several nodes each could hold leases, so
//! only the database's count, window 1, keeps the endpoint at `max_in_flight`. A job that
//! waited so long for its gate that its lease could end during its attempt is dropped
//! unattempted: its lease expires and it is claimed again (at least once, never two
//! concurrent sends of it). Rate limits are send slots the store hands out with each claim
//! (`not_before`), so they too hold across nodes.
//!
//! Fresh deliveries mostly skip the claim: the API's publish leases them to this node in its
//! own transaction (under the same window) and hands them over through [`handoff`]; they run
//! like claimed ones.

mod attempt;
pub mod gates;
pub mod handoff;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use herald_store::{AttemptTrigger, Claim, DeliveryJob, Store};
use time::OffsetDateTime;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use attempt::Deliverer;
use gates::Gates;
pub use handoff::{Handoff, HandoffReceiver};

/// How long the loop sleeps at most when nothing wakes it (a safety net, not the mechanism).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How far ahead rate-limited send slots are claimed: enough to keep a limited subscription
/// busy between two claims, short enough that leases stay fresh.
const RATE_HORIZON: Duration = Duration::from_secs(1);

/// The lease window where this process is the database's only claimer: a subscription may
/// hold twice its `max_in_flight` in leases, so that as many deliveries as can run are leased
/// again while the finished ones are being recorded.
pub const SINGLE_PROCESS_LEASE_WINDOW: u32 = 2;

/// What a job must have left of its lease, beyond the request timeout, to be attempted: the
/// time to sign, send and record around the request, and the hand-off's commit (a handed-over
/// job's lease starts before its publish commits, its wait is counted from its arrival).
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The lease window for `store`: see the module documentation.
pub fn lease_window(store: &dyn Store) -> u32 {
    if store.single_process() {
        SINGLE_PROCESS_LEASE_WINDOW
    } else {
        1
    }
}

/// Tunables of the dispatch loop.
#[derive(Clone, Debug)]
pub struct DispatchSettings {
    /// Attempts in flight at once across all subscriptions.
    pub max_concurrency: usize,
    /// Deliveries claimed per query at most.
    pub batch_size: u32,
    /// How long a claim holds a delivery before another claimer may take it. Longer than
    /// `request_timeout` plus a few seconds, or every job is dropped before its attempt.
    pub lease: Duration,
    /// The outbound request timeout: how long an attempt may take at most, so a job is only
    /// attempted while its lease outlasts that (plus a margin).
    pub request_timeout: Duration,
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
        let lease_window = lease_window(self.store.as_ref());
        let worker = Arc::new(Worker {
            deliverer: Arc::clone(&self.deliverer),
            wake: Arc::clone(&self.wake),
            gates: Gates::new(),
            patience: self
                .settings
                .lease
                .saturating_sub(self.settings.request_timeout + LEASE_MARGIN),
        });
        if worker.patience.is_zero() {
            tracing::warn!(
                lease = ?self.settings.lease,
                request_timeout = ?self.settings.request_timeout,
                "the lease leaves no time to wait for a subscription's gate"
            );
        }
        if let Some(jobs) = self.handoff.take() {
            tasks.spawn(run_handed(
                jobs,
                Arc::clone(&permits),
                tasks.clone(),
                Arc::clone(&worker),
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
                // Taken before the lease starts, so a job's wait is never undercounted.
                let received = Instant::now();
                let now = OffsetDateTime::now_utc();
                let claim = Claim {
                    now,
                    lease_until: now + self.settings.lease,
                    limit,
                    rate_horizon: RATE_HORIZON,
                    lease_window,
                };
                match self.store.claim_due(&claim).await {
                    Ok(jobs) => {
                        backoff = Duration::from_millis(100);
                        claimed = jobs.len() as u32;
                        for job in jobs {
                            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                                break; // cannot happen: we claimed no more than were free
                            };
                            tasks.spawn(work(job, received, permit, Arc::clone(&worker)));
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
    /// A due delivery that cannot be claimed (its subscription holds all its leases, or all
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

/// What every job's task needs.
struct Worker {
    deliverer: Arc<Deliverer>,
    /// Woken when capacity frees up (a response came in, an attempt was recorded, a job was
    /// dropped): its subscription may have more due work.
    wake: Arc<Notify>,
    /// Per-subscription `max_in_flight` in this process.
    gates: Gates,
    /// How long after it was received a job may still be attempted: its lease minus the
    /// request timeout and [`LEASE_MARGIN`].
    patience: Duration,
}

/// One leased job: wait for its slot and its subscription's gate, attempt it, free the permits,
/// wake the claim loop. `received` is when it was claimed or handed over, about when its lease
/// began; `permit` is its place in the global `max_concurrency`.
async fn work(
    job: DeliveryJob,
    received: Instant,
    permit: OwnedSemaphorePermit,
    worker: Arc<Worker>,
) {
    wait_until(job.not_before).await;
    let subscription = &job.subscription;
    let gate = worker
        .gates
        .acquire(subscription.id.as_str(), subscription.max_in_flight)
        .await;
    if received.elapsed() > worker.patience {
        // Its lease could end while the request runs, and another claim send it meanwhile:
        // leave it to expire and be claimed again instead (at least once, never twice at
        // the same time).
        tracing::debug!(
            delivery = %job.delivery.id,
            waited = ?received.elapsed(),
            "a delivery waited too long for its subscription; it is retried when its lease ends"
        );
        drop(gate);
        drop(permit);
        worker.wake.notify_one();
        return;
    }
    let wake = &worker.wake;
    worker
        .deliverer
        .attempt_then(&job, AttemptTrigger::Scheduled, move || {
            // The request is over: the subscription's next leased job may go now.
            drop(gate);
            wake.notify_one();
        })
        .await;
    drop(permit);
    // Capacity freed (now committed): its subscription may have more due work.
    worker.wake.notify_one();
}

/// Runs handed-over jobs until `shutdown`. Each waits for a permit in its own task, so a full
/// dispatcher delays them (their leases keep them from being claimed twice meanwhile) without
/// ever blocking the channel.
async fn run_handed(
    mut jobs: HandoffReceiver,
    permits: Arc<Semaphore>,
    tasks: TaskTracker,
    worker: Arc<Worker>,
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
        let received = Instant::now();
        let permits = Arc::clone(&permits);
        let worker = Arc::clone(&worker);
        tasks.spawn(async move {
            // Closed only if the dispatcher is gone; the lease then expires as after a crash.
            if let Ok(permit) = permits.acquire_owned().await {
                work(job, received, permit, worker).await;
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
