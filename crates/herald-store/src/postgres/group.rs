//! Group commit on PostgreSQL: many callers' writes in one transaction, as the SQLite writer
//! batches them.
//!
//! One transaction per write pays its round trips (`BEGIN`, each statement, `COMMIT`) and one
//! WAL flush per call, and holds a connection while it does. A [`Group`] queues each call; a
//! batcher takes everything queued (up to its batch size) whenever one of its few running
//! transactions is free and hands the batch to the group's function, which writes it
//! set-based in one transaction and answers each caller. While the transactions are busy,
//! calls queue and the next batch grows: the load sets the batch size, and a lone call waits
//! for nobody. Callers are answered after the commit, so an answer still means durable.
//!
//! Users: publishes ([`super::publish`]) and attempt completions ([`super::completions`]),
//! which take turns ([`super::turns`]) so that a node accepts events no faster than it records
//! deliveries.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::turns::Turn;
use crate::error::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// One queued call and where its answer goes.
pub(super) struct Call<T, A> {
    /// What the caller asked for.
    pub(super) input: T,
    /// Its answer.
    pub(super) reply: oneshot::Sender<Result<A>>,
}

/// The queue of calls waiting for a batch. Dropping it stops the batcher once the batches in
/// progress end.
pub(super) struct Group<T, A> {
    queue: mpsc::UnboundedSender<Call<T, A>>,
    turn: Turn,
}

impl<T: Send + 'static, A: Send + 'static> Group<T, A> {
    /// Starts the batcher on the current Tokio runtime: batches of at most `max_batch` calls,
    /// at most `max_running` at once, each run by `run`, which must answer every call, taking
    /// `turn` with the node's other writer ([`super::turns`]).
    pub(super) fn start<F, Fut>(max_batch: usize, max_running: usize, turn: Turn, run: F) -> Self
    where
        F: Fn(Vec<Call<T, A>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (queue, calls) = mpsc::unbounded_channel();
        let limits = (max_batch.max(1), max_running.max(1));
        tokio::spawn(batcher(calls, limits, turn.clone(), run));
        Self { queue, turn }
    }

    /// Queues `input` for the next batch; its answer, after that batch committed.
    pub(super) async fn call(&self, input: T) -> Result<A> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the store is closing".into());
        self.turn.queued();
        if self.queue.send(Call { input, reply }).is_err() {
            self.turn.dropped();
            return Err(stopped());
        }
        answer.await.map_err(|_| stopped())?
    }
}

/// Takes every queued call (up to `max_batch`) as soon as a transaction is free and it is
/// this group's `turn`.
async fn batcher<T, A, F, Fut>(
    mut calls: mpsc::UnboundedReceiver<Call<T, A>>,
    (max_batch, max_running): (usize, usize),
    turn: Turn,
    run: F,
) where
    F: Fn(Vec<Call<T, A>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let running = Arc::new(Semaphore::new(max_running));
    let mut last_turn = 0;
    loop {
        // The permit first: while every transaction is busy, calls pile up for the next batch.
        let Ok(permit) = running.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = calls.recv().await else {
            return;
        };
        // Whatever queues while this side waits its turn goes in this batch too.
        turn.wait(&mut last_turn).await;
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match calls.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        let in_turn = turn.start(batch.len());
        let batch = run(batch);
        tokio::spawn(async move {
            batch.await;
            drop(in_turn);
            drop(permit);
        });
    }
}

/// Answers a batch's calls with their parts of `together` (the whole batch in one transaction)
/// if that succeeded, or all with its error if the database is unavailable (alone they would
/// only wait for it too). Otherwise gives the calls back, for the caller to run each by itself,
/// so that one bad call fails alone. `what` names the calls in the log.
pub(super) fn answer_together<T, A>(
    batch: Vec<Call<T, A>>,
    together: Result<Vec<A>>,
    what: &str,
) -> Vec<Call<T, A>> {
    let error = match together {
        Ok(answers) => {
            for (call, answer) in batch.into_iter().zip(answers) {
                let _ = call.reply.send(Ok(answer));
            }
            return Vec::new();
        }
        Err(error) => error,
    };
    if let StoreError::Unavailable(cause) = &error {
        let reason = cause.to_string();
        for call in batch {
            let _ = call
                .reply
                .send(Err(StoreError::Unavailable(reason.clone().into())));
        }
        return Vec::new();
    }
    if batch.len() > 1 {
        tracing::debug!(%error, calls = batch.len(), "a batch of {what} failed; running its calls one by one");
    }
    batch
}

/// How a group's transaction begins: with index walks as plain index scans, never bitmap
/// scans, in the same round trip. The claims' and hand-offs' in-flight count must walk
/// `deliveries_leased` with a plain index scan. Every lease leaves an entry there that is dead
/// once its outcome is recorded, until a vacuum; a plain index scan marks the dead entries it
/// meets (the next count skips them), a bitmap scan never does and visits their heap pages on
/// every call. The planner picks a bitmap scan for this count when it knows `now` (315
/// buffers per call mid-run against 11 with the index scan, docs/performance.md). The groups'
/// other statements are index probes, lookups by key and inserts: a sequential scan is never
/// right for any of them, and is turned off too. A connection keeps the generic plan it
/// settles on after a statement's fifth call until the table's statistics change (an
/// `ANALYZE`), and each writer's few connections ([`super::pools`]) settle within their first
/// second. On a new database the deliveries table is then nearly empty, and the outcomes'
/// `UPDATE … FROM unnest(…)` was planned as a hash join over a sequential scan of it, which it
/// kept while the table grew: 3.3 times the time per call in a run of 10,000 events.
const BEGIN: &str = "BEGIN; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off";

/// Runs `body` in a new transaction ([`BEGIN`]) and commits it if it succeeded.
pub(super) async fn in_transaction<T>(
    pool: &sqlx::PgPool,
    body: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T>,
) -> Result<T> {
    let mut tx = pool.begin_with(BEGIN).await?;
    let output = body(&mut tx).await?;
    tx.commit().await?;
    Ok(output)
}
