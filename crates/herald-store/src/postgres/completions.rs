//! Recording attempts on PostgreSQL, group-committed ([`super::group`]): the outcomes of many
//! attempts, from any of this node's dispatcher tasks, in one transaction of two statements,
//! and the dispatcher's next claim in the same transaction.
//!
//! One transaction per attempt cost four round trips and a WAL flush per delivery, and every
//! attempt's outcome arrives on its own task. Worse, the places an attempt frees could only be
//! claimed after its own commit, so each delivery cycle of a subscription cost two commits in
//! a row (record, then claim). A claim queued while outcomes wait therefore joins their batch
//! and runs last, after every lease of the batch is released: recording and refilling share
//! one commit, as on SQLite, whose writer runs claims last in its batches.
//!
//! A batch moves every delivery on in one `UPDATE …
//! FROM unnest(…)` (releasing its lease, as [`crate::statements::queue::complete_delivery`]
//! does for one) and inserts the attempts of the deliveries that still exist in one `INSERT`
//! (a delivery deleted with its subscription while its request was in flight has nothing to
//! record against). A delivery appears at most once in a statement: a batch holding two
//! outcomes of one delivery writes them in rounds, in the order they came.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::claim;
use super::floors::Floors;
use super::group::{self, Call, Group, in_transaction};
use super::turns::Turn;
use crate::error::StoreError;
use crate::model::*;
use crate::rows::micros;
use crate::sealing::Keyring;

type Result<T> = std::result::Result<T, StoreError>;

/// Most outcomes in one transaction.
const MAX_BATCH: usize = 256;
/// Completion transactions running at once per node.
pub(super) const MAX_RUNNING: usize = 2;

/// An attempt, how its delivery moves on, and when that was decided.
type Outcome = (Attempt, DeliveryProgress, OffsetDateTime);

/// What the batcher is asked for.
enum Input {
    /// Record an attempt.
    Complete(Outcome),
    /// Claim due deliveries for this node (run after the batch's outcomes).
    Claim(Claim),
}

/// This node's attempt completions and claims, batched.
pub(super) struct Completions(Group<Input, Vec<DeliveryJob>>);

impl Completions {
    /// Starts the batcher on the current Tokio runtime; claims name this node `node_id`;
    /// batches go first in their `turn` ([`super::turns`]).
    pub(super) fn start(pool: PgPool, keyring: Keyring, node_id: String, turn: Turn) -> Self {
        let node = Arc::new(Node {
            keyring,
            node_id,
            floors: Floors::default(),
        });
        Self(Group::start(MAX_BATCH, MAX_RUNNING, turn, move |batch| {
            let (pool, node) = (pool.clone(), Arc::clone(&node));
            async move { run_batch(&pool, &node, batch).await }
        }))
    }

    /// Records `attempt` and moves its delivery on, in the next batch.
    pub(super) async fn complete(
        &self,
        attempt: &Attempt,
        progress: &DeliveryProgress,
        now: OffsetDateTime,
    ) -> Result<()> {
        let outcome = (attempt.clone(), *progress, now);
        self.0.call(Input::Complete(outcome)).await.map(drop)
    }

    /// Claims due deliveries in the next batch, after the outcomes queued before it.
    pub(super) async fn claim(&self, claim: &Claim) -> Result<Vec<DeliveryJob>> {
        self.0.call(Input::Claim(claim.clone())).await
    }
}

/// What a batch needs of its node: the keyring that opens the jobs' secrets, the node id
/// their leases are held by, and where its claims' walks start ([`Floors`]).
struct Node {
    keyring: Keyring,
    node_id: String,
    floors: Floors,
}

/// Runs one batch and answers its callers: together if it commits, else each alone
/// ([`group::answer_together`]). Only committed claims move the walks' floors on.
async fn run_batch(pool: &PgPool, node: &Node, batch: Vec<Call<Input, Vec<DeliveryJob>>>) {
    let inputs: Vec<&Input> = batch.iter().map(|call| &call.input).collect();
    let together = in_transaction(pool, async |conn| run_inputs(conn, node, &inputs).await).await;
    drop(inputs);
    if let Ok(answers) = &together {
        answers.iter().for_each(|jobs| node.floors.leased(jobs));
    }
    for call in group::answer_together(batch, together, "attempt outcomes") {
        let answer = in_transaction(pool, async |conn| {
            run_inputs(conn, node, &[&call.input]).await
        })
        .await
        .map(|mut answers| answers.pop().unwrap_or_default());
        if let Ok(jobs) = &answer {
            node.floors.leased(jobs);
        }
        let _ = call.reply.send(answer);
    }
}

/// Runs the batch's outcomes, then its claims, in the caller's transaction; one answer per
/// input (the jobs of a claim, none for an outcome).
async fn run_inputs(
    conn: &mut PgConnection,
    node: &Node,
    inputs: &[&Input],
) -> Result<Vec<Vec<DeliveryJob>>> {
    let outcomes: Vec<&Outcome> = inputs
        .iter()
        .filter_map(|input| match input {
            Input::Complete(outcome) => Some(outcome),
            Input::Claim(_) => None,
        })
        .collect();
    complete_batch(conn, &outcomes).await?;
    let mut answers = Vec::with_capacity(inputs.len());
    for input in inputs {
        answers.push(match input {
            Input::Complete(_) => Vec::new(),
            Input::Claim(claim) => {
                claim::claim_due(conn, &node.keyring, claim, &node.node_id, &node.floors).await?
            }
        });
    }
    Ok(answers)
}

/// Records every outcome in the caller's transaction, in rounds of distinct deliveries.
async fn complete_batch(conn: &mut PgConnection, inputs: &[&Outcome]) -> Result<()> {
    let mut rest: Vec<&Outcome> = inputs.to_vec();
    while !rest.is_empty() {
        let mut seen = HashSet::new();
        let (round, later): (Vec<&Outcome>, Vec<&Outcome>) = rest
            .into_iter()
            .partition(|(attempt, _, _)| seen.insert(attempt.delivery_id.as_str().to_owned()));
        complete_round(conn, &round).await?;
        rest = later;
    }
    Ok(())
}

/// Moves each delivery on and records the attempts of those that still exist.
async fn complete_round(conn: &mut PgConnection, round: &[&Outcome]) -> Result<()> {
    let ids: Vec<&str> = round
        .iter()
        .map(|(a, _, _)| a.delivery_id.as_str())
        .collect();
    let counts: Vec<i64> = round
        .iter()
        .map(|(_, p, _)| i64::from(p.counts_for_schedule))
        .collect();
    let statuses: Vec<&str> = round.iter().map(|(_, p, _)| p.status.as_str()).collect();
    let next: Vec<Option<i64>> = round
        .iter()
        .map(|(_, p, _)| p.next_attempt_at.map(micros))
        .collect();
    let now: Vec<i64> = round.iter().map(|(_, _, now)| micros(*now)).collect();
    let moved: Vec<String> = sqlx::query_scalar(
        "UPDATE deliveries d SET attempts = d.attempts + 1, \
           scheduled_attempts = d.scheduled_attempts + u.counts, status = u.status, \
           next_attempt_at = u.next, lease_until = NULL, updated_at = u.now \
         FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::int8[]) \
           AS u (id, counts, status, next, now) \
         WHERE d.id = u.id RETURNING d.id",
    )
    .bind(ids)
    .bind(counts)
    .bind(statuses)
    .bind(next)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let moved: HashSet<String> = moved.into_iter().collect();
    let attempts: Vec<&Attempt> = round
        .iter()
        .map(|(attempt, _, _)| attempt)
        .filter(|attempt| moved.contains(attempt.delivery_id.as_str()))
        .collect();
    if attempts.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Attempt) -> Option<&str>| -> Vec<Option<&str>> {
        attempts.iter().map(|a| f(a)).collect()
    };
    let int = |f: fn(&Attempt) -> Option<i64>| -> Vec<Option<i64>> {
        attempts.iter().map(|a| f(a)).collect()
    };
    let headers: Vec<Option<&str>> = attempts
        .iter()
        .map(|a| a.response_headers.as_ref().map(|h| h.as_json()))
        .collect();
    sqlx::query(
        "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, response_status, \
           response_body, error, error_message, triggered_by, response_headers) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], \
                              $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])",
    )
    .bind(column(|a| Some(a.id.as_str())))
    .bind(column(|a| Some(a.delivery_id.as_str())))
    .bind(int(|a| Some(micros(a.started_at))))
    // Durations past i64::MAX milliseconds (292 million years) are clamped, not refused.
    .bind(int(|a| {
        Some(i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
    }))
    .bind(int(|a| a.response_status.map(i64::from)))
    .bind(column(|a| a.response_body.as_deref()))
    .bind(column(|a| a.error.map(AttemptError::as_str)))
    .bind(column(|a| a.error_message.as_deref()))
    .bind(column(|a| Some(a.trigger.as_str())))
    .bind(headers)
    .execute(conn)
    .await?;
    Ok(())
}
