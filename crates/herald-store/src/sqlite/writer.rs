//! The single writer: every write to the database goes through one thread that owns the one
//! write connection, and that thread commits many callers' writes together (group commit).
//!
//! SQLite allows one writer at a time, and with `synchronous=FULL` each commit costs an fsync.
//! Serialising writes through one connection avoids `SQLITE_BUSY` between our own connections;
//! draining every queued write into one transaction makes the fsync cost per batch, not per
//! event, which is what lets many concurrent `publish` calls be durable and fast. Each write
//! runs inside its own `SAVEPOINT`, so one that fails (a unique clash, say) is undone alone and
//! the rest of the batch still commits. A caller hears back only after the commit.
//!
//! Publishes and attempt completions, the two writes of the hot path, are not run one by one:
//! each group is written together in one savepoint (a publish group matches subscriptions and
//! reads hand-off room once for all its events), falling back to one savepoint each only if
//! the group fails. Completions
//! are flushed before any other write runs, so a claim queued after them sees their leases
//! released, exactly as if each had run in turn. Claims run last in their batch, after its
//! completions and publishes: a claim queued while attempts are being recorded then sees their
//! places freed and the new deliveries in the same commit, instead of a commit later (each
//! commit is an fsync in the cycle attempt → record → claim → attempt).
//!
//! The connection is a `rusqlite` one on a dedicated OS thread, and a whole batch runs there
//! in one go with cached prepared statements. (sqlx, which served the reads before, runs each
//! statement on a worker thread of its own and hands every statement and result across
//! threads; for the writer, which runs tens of thousands of small statements a second, those
//! hand-offs were a fifth of Herald's CPU.) sqlx only applies the migrations, on the same
//! `libsqlite3-sys`.

use rusqlite::Connection;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::write_jobs::{CompleteJob, Job, PublishJob, Queued, WriteJob, writer_gone};
use super::{publish, queue};
use crate::error::StoreError;
use crate::model::{Attempt, DeliveryProgress, Event};
use crate::sealing::Keyring;
use crate::seam::{Accepted, PublishLease};

/// At most this many writes share one transaction, so a flood of writes still commits (and
/// answers) regularly instead of growing one transaction without bound.
const MAX_BATCH: usize = 1024;

/// How many writes may wait for the writer before callers wait to enqueue (back-pressure).
const QUEUE_DEPTH: usize = 8192;

/// The handle callers hold; cloning it is cheap. The writer thread stops when every handle is
/// dropped (after finishing what is queued).
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Queued>,
}

impl Writer {
    /// Starts the writer thread on `conn`; the returned handle ends when it has stopped.
    /// `keyring` opens the secrets of the subscriptions a publish hands deliveries to.
    pub(super) fn spawn(
        conn: Connection,
        keyring: Keyring,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("herald-sqlite-writer".into())
            .spawn(move || run(conn, &keyring, jobs))?;
        Ok((Self { queue }, thread))
    }

    /// Runs `op` in the writer's next transaction and returns its result once committed.
    pub(super) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.enqueue(op, false).await
    }

    /// Like [`Self::write`], but `op` runs after every other write of its batch.
    pub(super) async fn write_last<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.enqueue(op, true).await
    }

    async fn enqueue<T, F>(&self, op: F, last: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn WriteJob> = Box::new(Job {
            op: Some(op),
            output: None,
            reply,
        });
        let queued = if last {
            Queued::Last(job)
        } else {
            Queued::Other(job)
        };
        self.queue.send(queued).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Publishes `event` in the writer's next transaction, batched with the other publishes
    /// queued alongside it, and answers once committed.
    pub(super) async fn publish(
        &self,
        event: Event,
        lease: Option<PublishLease>,
    ) -> Result<Accepted, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(PublishJob {
            event,
            lease,
            output: None,
            reply,
        });
        self.queue
            .send(Queued::Publish(job))
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Records an attempt in the writer's next transaction, with the other attempts queued
    /// alongside it, and answers once committed.
    pub(super) async fn complete(
        &self,
        attempt: Attempt,
        progress: DeliveryProgress,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(CompleteJob {
            attempt,
            progress,
            now,
            output: None,
            reply,
        });
        self.queue
            .send(Queued::Complete(job))
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

/// The writes of one transaction, every one of which must be answered.
#[derive(Default)]
struct Batch {
    /// Writes already run (each in its own savepoint), in order.
    done: Vec<Box<dyn WriteJob>>,
    /// Publishes waiting to be written together at the end of the batch.
    publishes: Vec<PublishJob>,
    /// Completions waiting to be written together before the next other write.
    completions: Vec<CompleteJob>,
    /// Writes to run after all the others (claims).
    last: Vec<Box<dyn WriteJob>>,
}

impl Batch {
    fn len(&self) -> usize {
        self.done.len() + self.publishes.len() + self.completions.len() + self.last.len()
    }

    fn finish(&mut self, commit: Result<(), &str>) {
        for job in self.done.drain(..).chain(self.last.drain(..)) {
            job.finish(commit);
        }
        for job in self.publishes.drain(..) {
            job.finish_unboxed(commit);
        }
        for job in self.completions.drain(..) {
            Box::new(job).finish(commit);
        }
    }
}

fn run(conn: Connection, keyring: &Keyring, mut jobs: mpsc::Receiver<Queued>) {
    let mut batch = Batch::default();
    while let Some(first) = jobs.blocking_recv() {
        let outcome = run_batch(&conn, keyring, first, &mut jobs, &mut batch);
        let commit = outcome.as_ref().map(|_| ()).map_err(String::as_str);
        if let Err(reason) = commit {
            tracing::error!(writes = batch.len(), %reason, "write batch failed");
        }
        batch.finish(commit);
    }
    if let Err((_, error)) = conn.close() {
        tracing::warn!(%error, "closing the write connection failed");
    }
}

/// Runs `first` and whatever else is queued (up to [`MAX_BATCH`]) in one transaction. Every
/// write taken is left in `batch`; the error says why nothing committed.
fn run_batch(
    conn: &Connection,
    keyring: &Keyring,
    first: Queued,
    jobs: &mut mpsc::Receiver<Queued>,
    batch: &mut Batch,
) -> Result<(), String> {
    // IMMEDIATE takes the write lock now, so no statement in the batch can meet SQLITE_BUSY
    // half way (another process, such as the sqlite3 shell, may hold it; busy_timeout waits).
    if let Err(reason) = execute(conn, "BEGIN IMMEDIATE") {
        take(batch, first);
        return Err(reason);
    }
    let outcome = run_in_transaction(conn, keyring, first, jobs, batch)
        .and_then(|()| execute(conn, "COMMIT"));
    if outcome.is_err() {
        rollback(conn);
    }
    outcome
}

fn run_in_transaction(
    conn: &Connection,
    keyring: &Keyring,
    first: Queued,
    jobs: &mut mpsc::Receiver<Queued>,
    batch: &mut Batch,
) -> Result<(), String> {
    let mut next = Some(first);
    while let Some(queued) = next.take() {
        take_and_run(conn, batch, queued)?;
        if batch.len() < MAX_BATCH {
            next = jobs.try_recv().ok();
        }
    }
    run_completions(conn, batch)?;
    run_publishes(conn, keyring, batch)?;
    for mut job in std::mem::take(&mut batch.last) {
        let outcome = run_one(conn, job.as_mut());
        batch.done.push(job);
        outcome?;
    }
    Ok(())
}

/// Adds a write to the batch without running it (the batch failed before it could run).
fn take(batch: &mut Batch, queued: Queued) {
    match queued {
        Queued::Publish(job) => batch.publishes.push(*job),
        Queued::Complete(job) => batch.completions.push(*job),
        Queued::Last(job) | Queued::Other(job) => batch.done.push(job),
    }
}

/// Runs a write now, or keeps a publish or completion for the bulk step.
fn take_and_run(conn: &Connection, batch: &mut Batch, queued: Queued) -> Result<(), String> {
    match queued {
        Queued::Publish(job) => {
            batch.publishes.push(*job);
            Ok(())
        }
        Queued::Complete(job) => {
            batch.completions.push(*job);
            Ok(())
        }
        Queued::Last(job) => {
            batch.last.push(job);
            Ok(())
        }
        Queued::Other(mut job) => {
            // Earlier completions first: this write (a lease, say) must see them.
            run_completions(conn, batch)?;
            let outcome = run_one(conn, job.as_mut());
            batch.done.push(job);
            outcome
        }
    }
}

/// Writes the batch's publishes together in a savepoint; if that fails, undoes it and runs
/// each publish alone, so one bad event cannot fail the others.
fn run_publishes(conn: &Connection, keyring: &Keyring, batch: &mut Batch) -> Result<(), String> {
    if batch.publishes.is_empty() {
        return Ok(());
    }
    execute(conn, "SAVEPOINT publishes")?;
    let events: Vec<_> = batch
        .publishes
        .iter()
        .map(|job| (&job.event, job.lease.as_ref()))
        .collect();
    match publish::publish_batch(conn, keyring, &events) {
        Ok(answers) => {
            execute(conn, "RELEASE publishes")?;
            for (job, published) in batch.publishes.iter_mut().zip(answers) {
                job.output = Some(Ok(published));
            }
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, events = events.len(), "batched publish failed; publishing one by one");
            execute(conn, "ROLLBACK TO publishes")?;
            execute(conn, "RELEASE publishes")?;
            for job in batch.publishes.iter_mut() {
                run_one(conn, job)?;
            }
            Ok(())
        }
    }
}

/// Records the waiting completions together in a savepoint (then keeps them in `done` for
/// their answers); if that fails, undoes it and records each alone.
fn run_completions(conn: &Connection, batch: &mut Batch) -> Result<(), String> {
    if batch.completions.is_empty() {
        return Ok(());
    }
    let mut jobs = std::mem::take(&mut batch.completions);
    let result = complete_together(conn, &mut jobs);
    batch.done.extend(
        jobs.into_iter()
            .map(|job| Box::new(job) as Box<dyn WriteJob>),
    );
    result
}

fn complete_together(conn: &Connection, jobs: &mut [CompleteJob]) -> Result<(), String> {
    execute(conn, "SAVEPOINT completions")?;
    let together = jobs
        .iter()
        .try_for_each(|job| queue::complete_attempt(conn, &job.attempt, &job.progress, job.now));
    match together {
        Ok(()) => {
            for job in jobs.iter_mut() {
                job.output = Some(Ok(()));
            }
            execute(conn, "RELEASE completions")
        }
        Err(error) => {
            tracing::warn!(%error, attempts = jobs.len(), "recording attempts together failed; recording one by one");
            execute(conn, "ROLLBACK TO completions")?;
            execute(conn, "RELEASE completions")?;
            jobs.iter_mut()
                .try_for_each(|job| run_one(conn, job as &mut dyn WriteJob))
        }
    }
}

/// Runs one write inside a savepoint. An error here means the transaction itself is broken.
fn run_one(conn: &Connection, job: &mut dyn WriteJob) -> Result<(), String> {
    execute(conn, "SAVEPOINT write")?;
    if job.run(conn) {
        execute(conn, "RELEASE write")
    } else {
        // Undo this write only; the savepoint must still be released to pop it.
        execute(conn, "ROLLBACK TO write")?;
        execute(conn, "RELEASE write")
    }
}

fn execute(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(|_| ())
        .map_err(|error| format!("{sql}: {error}"))
}

/// Ends a broken transaction. SQLite may already have rolled it back itself (on a full disk,
/// for instance), in which case ROLLBACK fails harmlessly.
fn rollback(conn: &Connection) {
    if let Err(error) = conn.execute_batch("ROLLBACK") {
        tracing::debug!(%error, "rollback after a failed batch");
    }
}
