//! The statements of the queue both dialects say alike: recording an attempt, leasing one
//! delivery, releasing leases, the next due time of unleased work, and reading attempts.
//!
//! Claims (which lock and rank differently: `FOR UPDATE SKIP LOCKED` on PostgreSQL, one writer
//! and `INDEXED BY` on SQLite), the leased half of `next_due_at` (`greatest` against `max`)
//! and the queue statistics (one statement against two index walks) stay in the backends.

use super::{Statement, statement};
use crate::model::{Attempt, AttemptError, DeliveryProgress, PageRequest};
use crate::rows::{attempt_columns, delivery_columns, micros, page_limit};

/// Moves a delivery on after an attempt and releases its lease.
pub(crate) fn complete_delivery<'a>(
    delivery_id: &'a str,
    progress: &DeliveryProgress,
    now: time::OffsetDateTime,
) -> Statement<'a, 5> {
    statement!(
        "UPDATE deliveries SET attempts = attempts + 1, \
         scheduled_attempts = scheduled_attempts + $1, status = $2, next_attempt_at = $3, \
         lease_until = NULL, updated_at = $4 WHERE id = $5",
        i64::from(progress.counts_for_schedule),
        progress.status.as_str(),
        progress.next_attempt_at.map(micros),
        micros(now),
        delivery_id,
    )
}

pub(crate) fn insert_attempt(attempt: &Attempt) -> Statement<'_, 10> {
    statement!(
        "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, response_status, \
         response_body, error, error_message, triggered_by, response_headers) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        attempt.id.as_str(),
        attempt.delivery_id.as_str(),
        micros(attempt.started_at),
        // Durations past i64::MAX milliseconds (292 million years) are clamped, not refused.
        i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
        attempt.response_status.map(i64::from),
        attempt.response_body.as_deref(),
        attempt.error.map(AttemptError::as_str),
        attempt.error_message.as_deref(),
        attempt.trigger.as_str(),
        attempt.response_headers.as_ref().map(|h| h.as_json()),
    )
}

/// Leases one delivery until `lease_until` and answers with it (none if it does not exist).
pub(crate) fn lease_one(id: &str, lease_until: i64) -> Statement<'_, 2> {
    statement!(
        concat!(
            "UPDATE deliveries SET lease_until = $1 WHERE id = $2 RETURNING ",
            delivery_columns!()
        ),
        lease_until,
        id,
    )
}

/// Takes the subscription's next send slot (column `slot`, unix µs) if it falls before
/// `$4` (the horizon's end), moving the persisted next slot on by `$3` (one interval): the
/// slot a manual attempt waits for, from the same sequence `claim_due` hands out. No row
/// when the next free slot is past the horizon. `CASE`, not `max`/`greatest`, so both
/// dialects say it alike.
pub(crate) fn take_send_slot(
    subscription_id: &str,
    now_us: i64,
    interval_us: i64,
    horizon_end_us: i64,
) -> Statement<'_, 4> {
    statement!(
        "UPDATE subscriptions SET rate_next_slot_us = \
           (CASE WHEN rate_next_slot_us > $2 THEN rate_next_slot_us ELSE $2 END) + $3 \
         WHERE id = $1 \
           AND (CASE WHEN rate_next_slot_us > $2 THEN rate_next_slot_us ELSE $2 END) < $4 \
         RETURNING rate_next_slot_us - $3 AS slot",
        subscription_id,
        now_us,
        interval_us,
        horizon_end_us,
    )
}

/// Drops every lease.
pub(crate) fn release_all_leases() -> Statement<'static, 0> {
    statement!("UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL")
}

/// The earliest due time of an unleased pending delivery of an active subscription (walks the
/// pending rows' index by due time).
pub(crate) fn next_due_unleased() -> Statement<'static, 0> {
    statement!(
        "SELECT d.next_attempt_at FROM deliveries d \
         JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE d.status = 'pending' AND d.lease_until IS NULL \
           AND d.next_attempt_at IS NOT NULL AND s.status = 'active' \
         ORDER BY d.next_attempt_at LIMIT 1"
    )
}

/// One page of a delivery's attempts in the order they were made (by id: ids are time
/// ordered), after the cursor's attempt id, `limit + 1` rows: a walk of `attempts
/// (delivery_id, id)`.
pub(crate) fn attempts_page<'a>(delivery_id: &'a str, page: &'a PageRequest) -> Statement<'a, 3> {
    statement!(
        concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE delivery_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ),
        delivery_id,
        page.cursor.as_deref(),
        i64::from(page_limit(page)) + 1,
    )
}

/// A delivery's attempts, oldest first.
pub(crate) fn list_attempts(delivery_id: &str) -> Statement<'_, 1> {
    statement!(
        concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE delivery_id = $1 ORDER BY started_at, id"
        ),
        delivery_id
    )
}
