//! The writes the [`super::writer`] queues: a type-erased job per caller, and the two kinds
//! it writes together (publishes and attempt completions), each of which can also run alone
//! (the fallback when the group fails, so one bad write cannot fail the others).

use rusqlite::Connection;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::events;
use super::queue;
use crate::error::StoreError;
use crate::model::{Attempt, DeliveryProgress, Event};
use crate::seam::{Accepted, PublishLease};

/// One queued write, type-erased so that writes of every result type share the queue.
pub(super) trait WriteJob: Send {
    /// Runs the write on the connection, inside the batch's transaction; keeps its result.
    /// Returns whether it succeeded (a failed write's savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
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
pub(super) struct Job<T, F> {
    /// The write, taken when it runs.
    pub(super) op: Option<F>,
    /// Its result, kept until the batch commits.
    pub(super) output: Option<Result<T, StoreError>>,
    /// Where the caller waits.
    pub(super) reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        let output = op(conn);
        let ok = output.is_ok();
        self.output = Some(output);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        // The caller may have given up (its future was dropped); nobody is left to tell.
        let _ = self.reply.send(answer(commit, self.output));
    }
}

/// A publish, kept apart from other writes so that a batch's publishes can be written
/// together by [`super::publish::publish_batch`]; run alone (as a [`WriteJob`]) it is the fallback.
pub(super) struct PublishJob {
    /// The event to publish.
    pub(super) event: Event,
    /// Set when the caller takes the deliveries it may start (`publish_and_lease`).
    pub(super) lease: Option<PublishLease>,
    /// Its answer, kept until the batch commits.
    pub(super) output: Option<Result<Accepted, StoreError>>,
    /// Where the caller waits.
    pub(super) reply: oneshot::Sender<Result<Accepted, StoreError>>,
}

impl WriteJob for PublishJob {
    fn run(&mut self, conn: &Connection) -> bool {
        // Alone (the fallback), a publish hands nothing out: its deliveries are claimed.
        let output = events::publish(conn, &self.event).map(|published| Accepted {
            published,
            jobs: Vec::new(),
        });
        let ok = output.is_ok();
        self.output = Some(output);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        (*self).finish_unboxed(commit);
    }
}

impl PublishJob {
    pub(super) fn finish_unboxed(self, commit: Result<(), &str>) {
        let _ = self.reply.send(answer(commit, self.output));
    }
}

/// What callers queue for the writer.
pub(super) enum Queued {
    /// A publish (written with the batch's other publishes).
    Publish(Box<PublishJob>),
    /// An attempt to record (written with the batch's other completions).
    Complete(Box<CompleteJob>),
    /// A write that should see everything else in its batch (a claim): run last.
    Last(Box<dyn WriteJob>),
    /// Any other write, run in turn.
    Other(Box<dyn WriteJob>),
}

pub(super) fn batch_failed(reason: &str) -> StoreError {
    StoreError::Unavailable(format!("the write transaction did not commit: {reason}").into())
}

pub(super) fn writer_gone() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

/// An attempt to record, kept apart so that a batch's completions are written together (in
/// one savepoint); run alone (as a [`WriteJob`]) it is the fallback.
pub(super) struct CompleteJob {
    /// The attempt.
    pub(super) attempt: Attempt,
    /// Its delivery's new state.
    pub(super) progress: DeliveryProgress,
    /// The `updated_at` to write.
    pub(super) now: OffsetDateTime,
    /// Its answer, kept until the batch commits.
    pub(super) output: Option<Result<(), StoreError>>,
    /// Where the caller waits.
    pub(super) reply: oneshot::Sender<Result<(), StoreError>>,
}

impl WriteJob for CompleteJob {
    fn run(&mut self, conn: &Connection) -> bool {
        let output = queue::complete_attempt(conn, &self.attempt, &self.progress, self.now);
        let ok = output.is_ok();
        self.output = Some(output);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        let _ = self.reply.send(answer(commit, self.output));
    }
}
