//! The single writer: every write to the database goes through one task that owns the one
//! write connection, and that task commits many callers' writes together (group commit).
//!
//! SQLite allows one writer at a time, and with `synchronous=FULL` each commit costs an fsync.
//! Serialising writes through one connection avoids `SQLITE_BUSY` between our own connections;
//! draining every queued write into one transaction makes the fsync cost per batch, not per
//! event, which is what lets many concurrent `publish` calls be durable and fast. Each write
//! runs inside its own `SAVEPOINT`, so one that fails (a unique clash, say) is undone alone and
//! the rest of the batch still commits. A caller hears back only after the commit.

use std::future::Future;
use std::pin::Pin;

use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use super::{events, publish};
use crate::error::StoreError;
use crate::model::{Event, Published};

/// A boxed future borrowing the write connection.
pub(super) type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// At most this many writes share one transaction, so a flood of writes still commits (and
/// answers) regularly instead of growing one transaction without bound.
const MAX_BATCH: usize = 1024;

/// How many writes may wait for the writer before callers wait to enqueue (back-pressure).
const QUEUE_DEPTH: usize = 8192;

/// One queued write, type-erased so that writes of every result type share the queue.
trait WriteJob: Send {
    /// Runs the write on the connection, inside the batch's transaction; keeps its result.
    /// Returns whether it succeeded (a failed write's savepoint is rolled back).
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool>;
    /// Answers the caller once the batch's fate is known: `commit` is the commit's outcome.
    fn finish(self: Box<Self>, commit: Result<(), &str>);
}

/// What a caller hears: the write's own error stands whether or not the batch committed; a
/// success counts only if the batch did.
fn answer<T>(
    commit: Result<(), &str>,
    output: Option<Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match (commit, output) {
        (_, Some(Err(error))) => Err(error),
        (Ok(()), Some(Ok(value))) => Ok(value),
        (Err(reason), _) => Err(batch_failed(reason)),
        (Ok(()), None) => Err(batch_failed("the write never ran")),
    }
}

/// Any write, as a closure over the connection.
struct Job<T, F> {
    op: Option<F>,
    output: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let Some(op) = self.op.take() else {
                return false;
            };
            let output = op(conn).await;
            let ok = output.is_ok();
            self.output = Some(output);
            ok
        })
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        // The caller may have given up (its future was dropped); nobody is left to tell.
        let _ = self.reply.send(answer(commit, self.output));
    }
}

/// A publish, kept apart from other writes so that a batch's publishes can be written
/// together by [`publish::publish_batch`]; run alone (as a [`WriteJob`]) it is the fallback.
struct PublishJob {
    event: Event,
    output: Option<Result<Published, StoreError>>,
    reply: oneshot::Sender<Result<Published, StoreError>>,
}

impl WriteJob for PublishJob {
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let output = events::publish(conn, &self.event).await;
            let ok = output.is_ok();
            self.output = Some(output);
            ok
        })
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        (*self).finish_unboxed(commit);
    }
}

impl PublishJob {
    fn finish_unboxed(self, commit: Result<(), &str>) {
        let _ = self.reply.send(answer(commit, self.output));
    }
}

enum Queued {
    Publish(Box<PublishJob>),
    Other(Box<dyn WriteJob>),
}

fn batch_failed(reason: &str) -> StoreError {
    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(format!(
        "the write transaction did not commit: {reason}"
    ))))
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable(sqlx::Error::PoolClosed)
}

/// The handle callers hold; cloning it is cheap. The writer task stops when every handle is
/// dropped (after finishing what is queued).
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Queued>,
}

impl Writer {
    /// Starts the writer task on `conn`; the returned handle stops when it ends.
    pub(super) fn spawn(conn: SqliteConnection) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(run(conn, jobs));
        (Self { queue }, task)
    }

    /// Runs `op` in the writer's next transaction and returns its result once committed.
    pub(super) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn WriteJob> = Box::new(Job {
            op: Some(op),
            output: None,
            reply,
        });
        self.queue
            .send(Queued::Other(job))
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Publishes `event` in the writer's next transaction, batched with the other publishes
    /// queued alongside it, and answers once committed.
    pub(super) async fn publish(&self, event: Event) -> Result<Published, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(PublishJob {
            event,
            output: None,
            reply,
        });
        self.queue
            .send(Queued::Publish(job))
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
}

impl Batch {
    fn len(&self) -> usize {
        self.done.len() + self.publishes.len()
    }

    fn finish(&mut self, commit: Result<(), &str>) {
        for job in self.done.drain(..) {
            job.finish(commit);
        }
        for job in self.publishes.drain(..) {
            job.finish_unboxed(commit);
        }
    }
}

async fn run(mut conn: SqliteConnection, mut jobs: mpsc::Receiver<Queued>) {
    let mut batch = Batch::default();
    while let Some(first) = jobs.recv().await {
        let outcome = run_batch(&mut conn, first, &mut jobs, &mut batch).await;
        let commit = outcome.as_ref().map(|_| ()).map_err(String::as_str);
        if let Err(reason) = commit {
            tracing::error!(writes = batch.len(), %reason, "write batch failed");
        }
        batch.finish(commit);
    }
    if let Err(error) = sqlx::Connection::close(conn).await {
        tracing::warn!(%error, "closing the write connection failed");
    }
}

/// Runs `first` and whatever else is queued (up to [`MAX_BATCH`]) in one transaction. Every
/// write taken is left in `batch`; the error says why nothing committed.
async fn run_batch(
    conn: &mut SqliteConnection,
    first: Queued,
    jobs: &mut mpsc::Receiver<Queued>,
    batch: &mut Batch,
) -> Result<(), String> {
    // IMMEDIATE takes the write lock now, so no statement in the batch can meet SQLITE_BUSY
    // half way (another process, such as the sqlite3 shell, may hold it; busy_timeout waits).
    if let Err(reason) = execute(conn, "BEGIN IMMEDIATE").await {
        take(batch, first);
        return Err(reason);
    }
    let mut next = Some(first);
    while let Some(queued) = next.take() {
        if let Err(reason) = take_and_run(conn, batch, queued).await {
            rollback(conn).await;
            return Err(reason);
        }
        if batch.len() < MAX_BATCH {
            next = jobs.try_recv().ok();
        }
    }
    if let Err(reason) = run_publishes(conn, batch).await {
        rollback(conn).await;
        return Err(reason);
    }
    if let Err(reason) = execute(conn, "COMMIT").await {
        rollback(conn).await;
        return Err(reason);
    }
    Ok(())
}

/// Adds a write to the batch without running it (the batch failed before it could run).
fn take(batch: &mut Batch, queued: Queued) {
    match queued {
        Queued::Publish(job) => batch.publishes.push(*job),
        Queued::Other(job) => batch.done.push(job),
    }
}

/// Runs a write now, or keeps a publish for [`run_publishes`].
async fn take_and_run(
    conn: &mut SqliteConnection,
    batch: &mut Batch,
    queued: Queued,
) -> Result<(), String> {
    match queued {
        Queued::Publish(job) if publish::batchable(&job.event) => {
            batch.publishes.push(*job);
            Ok(())
        }
        Queued::Publish(job) => run_one_kept(conn, batch, job).await,
        Queued::Other(job) => run_one_kept(conn, batch, job).await,
    }
}

async fn run_one_kept(
    conn: &mut SqliteConnection,
    batch: &mut Batch,
    mut job: Box<dyn WriteJob>,
) -> Result<(), String> {
    let outcome = run_one(conn, job.as_mut()).await;
    batch.done.push(job);
    outcome
}

/// Writes the batch's publishes together in a savepoint; if that fails, undoes it and runs
/// each publish alone, so one bad event cannot fail the others.
async fn run_publishes(conn: &mut SqliteConnection, batch: &mut Batch) -> Result<(), String> {
    if batch.publishes.is_empty() {
        return Ok(());
    }
    execute(conn, "SAVEPOINT publishes").await?;
    let events: Vec<&Event> = batch.publishes.iter().map(|job| &job.event).collect();
    match publish::publish_batch(conn, &events).await {
        Ok(answers) => {
            execute(conn, "RELEASE publishes").await?;
            for (job, published) in batch.publishes.iter_mut().zip(answers) {
                job.output = Some(Ok(published));
            }
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, events = events.len(), "batched publish failed; publishing one by one");
            execute(conn, "ROLLBACK TO publishes").await?;
            execute(conn, "RELEASE publishes").await?;
            for job in batch.publishes.iter_mut() {
                run_one(conn, job).await?;
            }
            Ok(())
        }
    }
}

/// Runs one write inside a savepoint. An error here means the transaction itself is broken.
async fn run_one(conn: &mut SqliteConnection, job: &mut dyn WriteJob) -> Result<(), String> {
    execute(conn, "SAVEPOINT write").await?;
    if job.run(conn).await {
        execute(conn, "RELEASE write").await
    } else {
        // Undo this write only; the savepoint must still be released to pop it.
        execute(conn, "ROLLBACK TO write").await?;
        execute(conn, "RELEASE write").await
    }
}

async fn execute(conn: &mut SqliteConnection, sql: &str) -> Result<(), String> {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|error| format!("{sql}: {error}"))
}

/// Ends a broken transaction. SQLite may already have rolled it back itself (on a full disk,
/// for instance), in which case ROLLBACK fails harmlessly.
async fn rollback(conn: &mut SqliteConnection) {
    if let Err(error) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
        tracing::debug!(%error, "rollback after a failed batch");
    }
}
