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

use crate::error::StoreError;

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
        let answer = match (commit, self.output) {
            // The write's own error stands whether or not the batch committed.
            (_, Some(Err(error))) => Err(error),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(reason), _) => Err(batch_failed(reason)),
            (Ok(()), None) => Err(batch_failed("the write never ran")),
        };
        // The caller may have given up (its future was dropped); nobody is left to tell.
        let _ = self.reply.send(answer);
    }
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
    queue: mpsc::Sender<Box<dyn WriteJob>>,
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
        self.queue.send(job).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

async fn run(mut conn: SqliteConnection, mut jobs: mpsc::Receiver<Box<dyn WriteJob>>) {
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        batch.push(first);
        let outcome = run_batch(&mut conn, &mut jobs, &mut batch).await;
        let commit = outcome.as_ref().map(|_| ()).map_err(String::as_str);
        if let Err(reason) = commit {
            tracing::error!(writes = batch.len(), %reason, "write batch failed");
        }
        for job in batch.drain(..) {
            job.finish(commit);
        }
    }
    if let Err(error) = sqlx::Connection::close(conn).await {
        tracing::warn!(%error, "closing the write connection failed");
    }
}

/// Runs the first queued write and whatever else is queued (up to [`MAX_BATCH`]) in one
/// transaction. Every write run is left in `batch`; the error says why nothing committed.
async fn run_batch(
    conn: &mut SqliteConnection,
    jobs: &mut mpsc::Receiver<Box<dyn WriteJob>>,
    batch: &mut Vec<Box<dyn WriteJob>>,
) -> Result<(), String> {
    // IMMEDIATE takes the write lock now, so no statement in the batch can meet SQLITE_BUSY
    // half way (another process, such as the sqlite3 shell, may hold it; busy_timeout waits).
    execute(conn, "BEGIN IMMEDIATE").await?;
    let mut index = 0;
    loop {
        if let Err(reason) = run_one(conn, batch[index].as_mut()).await {
            rollback(conn).await;
            return Err(reason);
        }
        index += 1;
        if batch.len() >= MAX_BATCH {
            break;
        }
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    if let Err(reason) = execute(conn, "COMMIT").await {
        rollback(conn).await;
        return Err(reason);
    }
    Ok(())
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
