//! The dispatcher: takes leased deliveries (claimed by its own [`Dispatcher::step`], or
//! handed over by the [`Intake`] at publish) and works each with an attempt.
//!
//! How a delivery moves, from publish to recorded attempt, including the lease window and why
//! a job can be dropped without an attempt, is told once, in [`lease`]. This module only
//! wires the parts: [`clock`] (the one source of time), `job` (one job's steps), [`gates`]
//! (per-subscription `max_in_flight`), [`Deliverer`] (send and record), [`attempt_log`] (one
//! rate-limited log line per attempt), [`schedule`] (what
//! follows a failure), [`Intake`] (publish) and `manual` (the turn a connectivity test or a
//! redelivery takes, under the same limits).
//!
//! [`Dispatcher::step`] is one claim and the start of what it claimed; [`Dispatcher::run`]
//! only repeats it and waits (for a wake-up, another node's commit, the next due time). Tests
//! call `step` on a [`ManualClock`] instead of polling a running server. Each job runs as its
//! own task, tracked so shutdown waits for attempts in flight.
//!
//! Shutdown stops claiming at once: the moment `run`'s token is cancelled, no job starts a
//! request any more (not one claimed by a step still running, not one handed over by a
//! publish, not one waiting for its gate or send slot); only the requests already sent are
//! waited for, at most the request timeout, and the log says how many. A job left unstarted
//! keeps its lease, which expires (or, on SQLite, is released at the next start), so stopping
//! never loses a delivery and never sends one twice at once.
//!
//! It must never hold a fact the store does not: every job it runs is leased in the database,
//! so a job it gives up (shutdown, patience) only leaves a lease to expire. Publishes go
//! through the dispatcher's [`Intake`] rather than from the API to the store, because the
//! lease a publish takes is the dispatcher's (its length, window and the job's start time):
//! one owner, not a handler wiring the two together.

mod attempt;
pub mod attempt_log;
pub mod clock;
pub mod gates;
mod intake;
mod job;
pub mod lease;
mod manual;
pub mod schedule;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use herald_store::{DeliveryJob, DeliveryQueue, StoreError};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use attempt::Deliverer;
pub use clock::{Clock, ManualClock, SystemClock};
pub use intake::Intake;
pub use lease::{LEASE_WINDOW, LeaseTerms, MAX_LEASE_WINDOW};
pub use manual::{Busy, ManualTurn, TurnRefused};

use gates::Gates;

/// How long the loop sleeps at most when nothing wakes it (a safety net, not the mechanism).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Tunables of the dispatcher.
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

/// What one [`Dispatcher::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Deliveries claimed and started.
    pub claimed: u32,
    /// The most it could claim (free places in `max_concurrency`, at most a batch).
    pub limit: u32,
}

impl Step {
    /// A full batch: more may be due right now, so the loop claims again at once.
    pub fn full(&self) -> bool {
        self.claimed > 0 && self.claimed == self.limit
    }
}

/// The claim loop and the jobs it runs. Cloning shares them.
#[derive(Clone)]
pub struct Dispatcher {
    core: Arc<Core>,
}

/// What the dispatcher, its jobs and its intake share.
struct Core {
    store: Arc<dyn DeliveryQueue>,
    deliverer: Arc<Deliverer>,
    clock: Arc<dyn Clock>,
    settings: DispatchSettings,
    /// Lease, window and patience of every lease this dispatcher takes.
    terms: LeaseTerms,
    /// Places in `max_concurrency`: a job holds one from its start until it is recorded.
    permits: Arc<Semaphore>,
    /// Per-subscription `max_in_flight` in this process.
    gates: Gates,
    /// Every job's task, so shutdown (and tests) can wait for them.
    tasks: TaskTracker,
    /// Wakes the loop: a publish left deliveries unleased, capacity freed, a subscription
    /// resumed.
    wake: Notify,
    /// Cancelled the moment shutdown is asked: no job starts a request after it, and the
    /// intake leaves its leases to expire.
    stopped: CancellationToken,
    /// Attempts whose request is being sent or recorded: what shutdown waits for.
    in_flight: AtomicUsize,
}

impl Dispatcher {
    /// A dispatcher over `store`, making attempts with `deliverer`, on `clock`.
    pub fn new(
        store: Arc<dyn DeliveryQueue>,
        deliverer: Arc<Deliverer>,
        clock: Arc<dyn Clock>,
        settings: DispatchSettings,
    ) -> Self {
        let terms = LeaseTerms::new(settings.lease, settings.request_timeout);
        if terms.patience.is_zero() {
            tracing::warn!(lease = ?settings.lease, request_timeout = ?settings.request_timeout,
                "the lease leaves no time to wait for a subscription's gate");
        }
        let core = Core {
            permits: Arc::new(Semaphore::new(settings.max_concurrency)),
            store,
            deliverer,
            clock,
            settings,
            terms,
            gates: Gates::new(),
            tasks: TaskTracker::new(),
            wake: Notify::new(),
            stopped: CancellationToken::new(),
            in_flight: AtomicUsize::new(0),
        };
        Self {
            core: Arc::new(core),
        }
    }

    /// The publish side of this dispatcher, for the API.
    pub fn intake(&self) -> Intake {
        Intake::new(Arc::clone(&self.core))
    }

    /// Claims once (at the clock's now, up to the free places in `max_concurrency`, at most
    /// a batch) and starts every claimed job. Returns without waiting for them.
    pub async fn step(&self) -> Result<Step, StoreError> {
        let core = &self.core;
        let free = u32::try_from(core.permits.available_permits()).unwrap_or(u32::MAX);
        let limit = free.min(core.settings.batch_size);
        if limit == 0 {
            return Ok(Step { claimed: 0, limit });
        }
        // Read before the lease starts, so a job's wait is never undercounted.
        let leased = core.clock.instant();
        let windows = core.gates.lease_windows(
            core.clock.instant(),
            core.terms.window,
            core.settings.max_concurrency,
            |took| core.terms.window_for(took),
        );
        let claim = core.terms.claim(core.clock.now(), limit, windows);
        let jobs = core.store.claim_due(&claim).await?;
        let claimed = u32::try_from(jobs.len()).unwrap_or(u32::MAX);
        for job in jobs {
            core.start(job, leased);
        }
        Ok(Step { claimed, limit })
    }

    /// Waits until every job started so far is done (attempted and recorded, or dropped).
    pub async fn settle(&self) {
        let tasks = &self.core.tasks;
        tasks.close();
        tasks.wait().await;
        tasks.reopen();
    }

    /// Steps until `shutdown`, then waits for attempts in flight (bounded by their timeout).
    ///
    /// The loop is dropped as soon as `shutdown` fires, even inside a claim: a claim cut short
    /// rolls back or leaves leases to expire, and every job already started sees `stopped`
    /// before it sends.
    pub async fn run(self, shutdown: CancellationToken) {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {}
            () = self.claim_loop() => {}
        }
        self.core.stopped.cancel();
        let in_flight = self.core.in_flight.load(Ordering::SeqCst);
        if in_flight > 0 {
            let attempts = if in_flight == 1 {
                "attempt"
            } else {
                "attempts"
            };
            tracing::info!(
                in_flight,
                "waiting for {in_flight} {attempts} in flight, at most {}",
                herald_duration::format(self.core.settings.request_timeout)
            );
        } else {
            tracing::info!("no attempts in flight; stopping now");
        }
        self.settle().await;
        tracing::info!("the dispatcher stopped");
    }

    /// Claims and starts jobs forever; [`run`](Self::run) drops it at shutdown.
    async fn claim_loop(&self) {
        let remote = self.core.store.work_notifier();
        let mut backoff = Duration::from_millis(100);
        loop {
            let wait = match self.step().await {
                Ok(step) if step.full() => continue,
                // Jobs just started: each wakes the loop when it finishes, so the next due
                // time need not be asked for (on PostgreSQL two statements per claim).
                Ok(step) if step.claimed > 0 => IDLE_POLL,
                Ok(_) => self.idle_wait().await,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "claiming deliveries failed");
                    self.core.clock.sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            tokio::select! {
                () = self.core.wake.notified() => {}
                () = other_nodes_wrote(remote.as_deref()) => {}
                () = self.core.clock.sleep(wait) => {}
            }
        }
    }

    /// How long to sleep when nothing more can be claimed now: until the next delivery falls
    /// due, at most [`IDLE_POLL`]. A due delivery that cannot be claimed (its subscription
    /// holds all its leases, or all places are taken) is picked up when a finishing job wakes
    /// the loop.
    async fn idle_wait(&self) -> Duration {
        let now = self.core.clock.now();
        match self.core.store.next_due_at().await {
            Ok(Some(due)) if due > now => {
                Duration::try_from(due - now).map_or(IDLE_POLL, |d| d.min(IDLE_POLL))
            }
            _ => IDLE_POLL,
        }
    }
}

impl Core {
    /// Starts a leased job (whose lease began at `leased`) in its own task. It takes a free
    /// place in `max_concurrency` now if there is one (so the next step's limit counts it),
    /// else waits for one in its task; its lease keeps it from being claimed twice meanwhile.
    /// After shutdown it starts nothing: the job keeps its lease.
    fn start(self: &Arc<Self>, job: DeliveryJob, leased: Instant) {
        if self.stopped.is_cancelled() {
            return;
        }
        let core = Arc::clone(self);
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                // Its place in its gate's line too, if the job need not wait for a send slot:
                // taken here, in claim order, so a subscription's jobs start oldest first (a
                // relay listener catching up gets them in order) rather than in whatever order
                // their tasks first run, however many a wide lease window holds.
                let turn = (job.not_before <= self.clock.now()).then(|| {
                    let subscription = &job.subscription;
                    self.gates
                        .line_up(subscription.id.as_str(), subscription.max_in_flight)
                });
                self.tasks.spawn(job::work(job, leased, permit, turn, core));
            }
            Err(_) => {
                self.tasks.spawn(async move {
                    // The semaphore is never closed: the wait ends with a permit, or with
                    // shutdown, which leaves the job to its lease.
                    let permits = Arc::clone(&core.permits);
                    let acquired = core.until_stopped(permits.acquire_owned()).await;
                    if let Some(Ok(permit)) = acquired {
                        job::work(job, leased, permit, None, core).await;
                    }
                });
            }
        }
    }
}

impl Core {
    /// `wait`'s output, or `None` if shutdown came first (or had come already).
    async fn until_stopped<T>(&self, wait: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.stopped.cancelled() => None,
            output = wait => Some(output),
        }
    }
}

/// Resolves when another node committed work (never, without a notifier).
async fn other_nodes_wrote(notifier: Option<&Notify>) {
    match notifier {
        Some(notify) => notify.notified().await,
        None => std::future::pending().await,
    }
}
