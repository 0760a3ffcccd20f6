//! After a claim, on PostgreSQL: recording attempts, and what the dispatcher and the metrics
//! ask of the queue (when work is next due, how much is pending).
//!
//! The same statements as on SQLite, answered by the partial indexes of the PostgreSQL schema
//! (`deliveries_pending_due`, `deliveries_leased`, `deliveries_pending_created`), so each costs
//! the rows it returns, not the size of the table.

use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::model::*;
use crate::rows::{from_micros, micros};

type Result<T> = std::result::Result<T, StoreError>;

/// Runs inside the caller's transaction (the delivery moves on and its attempt is recorded
/// together).
pub(super) async fn complete_attempt(
    conn: &mut PgConnection,
    attempt: &Attempt,
    progress: &DeliveryProgress,
    now: OffsetDateTime,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE deliveries SET attempts = attempts + 1, \
         scheduled_attempts = scheduled_attempts + $1, status = $2, next_attempt_at = $3, \
         lease_until = NULL, updated_at = $4 WHERE id = $5",
    )
    .bind(i64::from(progress.counts_for_schedule))
    .bind(progress.status.as_str())
    .bind(progress.next_attempt_at.map(micros))
    .bind(micros(now))
    .bind(attempt.delivery_id.as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        // The delivery was deleted (with its subscription or tenant) while the request was in
        // flight: there is nothing left to record the attempt against.
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, response_status, \
         response_body, error, error_message, triggered_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(attempt.id.as_str())
    .bind(attempt.delivery_id.as_str())
    .bind(micros(attempt.started_at))
    // Durations past i64::MAX milliseconds (292 million years) are clamped, not refused.
    .bind(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX))
    .bind(attempt.response_status.map(i64::from))
    .bind(attempt.response_body.as_deref())
    .bind(attempt.error.map(AttemptError::as_str))
    .bind(attempt.error_message.as_deref())
    .bind(attempt.trigger.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn next_due_at(conn: &mut PgConnection) -> Result<Option<OffsetDateTime>> {
    // Unleased rows walk deliveries_pending_due in due order until one of an active
    // subscription; leased rows (few: the ones in flight) become claimable when their lease
    // ends, if that is later than their due time.
    let unleased: Option<i64> = sqlx::query_scalar(
        "SELECT d.next_attempt_at FROM deliveries d \
         JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE d.status = 'pending' AND d.lease_until IS NULL \
           AND d.next_attempt_at IS NOT NULL AND s.status = 'active' \
         ORDER BY d.next_attempt_at LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let leased: Option<i64> = sqlx::query_scalar(
        "SELECT min(greatest(d.next_attempt_at, d.lease_until)) FROM deliveries d \
         JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE d.lease_until IS NOT NULL AND d.status = 'pending' \
           AND d.next_attempt_at IS NOT NULL AND s.status = 'active'",
    )
    .fetch_one(conn)
    .await?;
    let earliest = match (unleased, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    earliest
        .map(|at| from_micros(at, "next_attempt_at"))
        .transpose()
}

pub(super) async fn release_all_leases(conn: &mut PgConnection) -> Result<u64> {
    let done =
        sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL")
            .execute(conn)
            .await?;
    Ok(done.rows_affected())
}

pub(super) async fn queue_stats(conn: &mut PgConnection) -> Result<QueueStats> {
    let (pending, oldest): (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), min(created_at) FROM deliveries WHERE status = 'pending'")
            .fetch_one(conn)
            .await?;
    Ok(QueueStats {
        pending: u64::try_from(pending).unwrap_or(0),
        oldest_pending_created_at: oldest.map(|at| from_micros(at, "created_at")).transpose()?,
    })
}
