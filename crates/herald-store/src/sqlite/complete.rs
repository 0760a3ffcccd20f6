//! Recording a whole batch of attempts in two statements.
//!
//! The writer hands every `complete_attempt` queued for one transaction to
//! [`complete_batch`]: one `UPDATE … FROM json_each(?)` moves all their deliveries on (and
//! releases their leases), one `INSERT … SELECT FROM json_each(?)` records all the attempts
//! whose delivery still exists. Per attempt that was two statements, two round trips to
//! SQLite's worker thread, which at thousands of deliveries a second was a large share of the
//! CPU. The per-attempt path ([`super::dispatch::complete_attempt`]) stays for what the batch
//! cannot carry: a delivery completed twice in one batch (`UPDATE … FROM` would apply only
//! one of the two rows) and text holding NUL (SQLite's JSON text functions stop at it).

use std::collections::HashSet;

use serde::Serialize;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use super::dispatch;
use crate::error::StoreError;
use crate::model::{Attempt, AttemptError, DeliveryProgress};
use crate::rows::{micros, to_json};

type Result<T> = std::result::Result<T, StoreError>;

/// One attempt with its delivery's progress, as `json_each` reads it.
#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    delivery_id: &'a str,
    started_at: i64,
    duration_ms: i64,
    response_status: Option<u16>,
    response_body: Option<&'a str>,
    error: Option<&'a str>,
    error_message: Option<&'a str>,
    trigger: &'a str,
    counts: i64,
    status: &'a str,
    next_attempt_at: Option<i64>,
    updated_at: i64,
}

/// Whether the attempt's texts survive SQLite's JSON functions (no NUL in them).
fn batchable(attempt: &Attempt) -> bool {
    [&attempt.response_body, &attempt.error_message]
        .into_iter()
        .flatten()
        .all(|text| !text.contains('\0'))
}

/// Records `completions` (each with the `updated_at` to write) as if one after another, in the caller's transaction. On error
/// nothing is undone here (the writer's savepoint does it).
pub(super) async fn complete_batch(
    conn: &mut SqliteConnection,
    completions: &[(&Attempt, &DeliveryProgress, OffsetDateTime)],
) -> Result<()> {
    let mut seen = HashSet::with_capacity(completions.len());
    let mut rows = Vec::with_capacity(completions.len());
    let mut one_by_one = Vec::new();
    for &(attempt, progress, now) in completions {
        if !batchable(attempt) || !seen.insert(attempt.delivery_id.as_str()) {
            one_by_one.push((attempt, progress, now));
            continue;
        }
        rows.push(Row {
            id: attempt.id.as_str(),
            delivery_id: attempt.delivery_id.as_str(),
            started_at: micros(attempt.started_at),
            // Durations past i64::MAX milliseconds (292 million years) are clamped.
            duration_ms: i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
            response_status: attempt.response_status,
            response_body: attempt.response_body.as_deref(),
            error: attempt.error.map(AttemptError::as_str),
            error_message: attempt.error_message.as_deref(),
            trigger: attempt.trigger.as_str(),
            counts: i64::from(progress.counts_for_schedule),
            status: progress.status.as_str(),
            next_attempt_at: progress.next_attempt_at.map(micros),
            updated_at: micros(now),
        });
    }
    if !rows.is_empty() {
        let rows = to_json(&rows)?;
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, \
               scheduled_attempts = scheduled_attempts + (j.value ->> 'counts'), \
               status = j.value ->> 'status', next_attempt_at = j.value ->> 'next_attempt_at', \
               lease_until = NULL, updated_at = j.value ->> 'updated_at' \
             FROM json_each(?1) AS j WHERE deliveries.id = j.value ->> 'delivery_id'",
        )
        .bind(&rows)
        .execute(&mut *conn)
        .await?;
        // An attempt whose delivery was deleted meanwhile (with its subscription or tenant)
        // has nothing left to be recorded against, as in the per-attempt path.
        sqlx::query(
            "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, response_status, \
               response_body, error, error_message, triggered_by) \
             SELECT j.value ->> 'id', j.value ->> 'delivery_id', j.value ->> 'started_at', \
               j.value ->> 'duration_ms', j.value ->> 'response_status', \
               j.value ->> 'response_body', j.value ->> 'error', j.value ->> 'error_message', \
               j.value ->> 'trigger' \
             FROM json_each(?1) AS j \
             WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = j.value ->> 'delivery_id')",
        )
        .bind(&rows)
        .execute(&mut *conn)
        .await?;
    }
    for (attempt, progress, now) in one_by_one {
        dispatch::complete_attempt(conn, attempt, progress, now).await?;
    }
    Ok(())
}
