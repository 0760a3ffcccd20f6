//! Recoveries' statements (see [`crate::recovery`]). A subscription's failed deliveries since
//! a time are found by the range of their ids on `deliveries_subscription (subscription_id,
//! id)`: ids begin with their creation time, so the first id at that time starts the range.
//! A step (renew, requeue, advance) runs in one transaction, so the cursor
//! (`requeued_through`) always names exactly what was requeued: a resumed recovery starts after
//! it and never requeues a delivery twice.

use super::{Statement, statement};
use crate::recovery::Recovery;
use crate::rows::micros;

/// The columns every recovery statement answers with (`recovery_row` decodes them).
macro_rules! recovery_columns {
    () => {
        "id, subscription_id, tenant_id, since, status, total, requeued, created_at, \
         updated_at, requeued_through, lease_until"
    };
}

pub(crate) fn insert(recovery: &Recovery) -> Statement<'_, 11> {
    statement!(
        "INSERT INTO recoveries (id, subscription_id, tenant_id, since, status, total, \
         requeued, created_at, updated_at, requeued_through, lease_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        recovery.id.as_str(),
        recovery.subscription_id.as_str(),
        recovery.tenant_id.as_str(),
        micros(recovery.since),
        recovery.status.as_str(),
        i64::try_from(recovery.total).unwrap_or(i64::MAX),
        i64::try_from(recovery.requeued).unwrap_or(i64::MAX),
        micros(recovery.created_at),
        micros(recovery.updated_at),
        recovery.requeued_through.as_ref().map(|id| id.as_str()),
        recovery.lease_until.map(micros),
    )
}

pub(crate) fn by_id(id: &str) -> Statement<'_, 1> {
    statement!(
        concat!(
            "SELECT ",
            recovery_columns!(),
            " FROM recoveries WHERE id = $1"
        ),
        id
    )
}

/// A subscription's newest recovery.
pub(crate) fn latest(subscription_id: &str) -> Statement<'_, 1> {
    statement!(
        concat!(
            "SELECT ",
            recovery_columns!(),
            " FROM recoveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT 1"
        ),
        subscription_id
    )
}

/// A step's first statement: renews a running recovery's lease and answers it as it stands.
/// Being an update, it also takes the row (PostgreSQL's row lock; SQLite's one writer), so two
/// nodes stepping the same recovery take turns and the second sees the first's cursor.
pub(crate) fn renew(id: &str, lease_until: time::OffsetDateTime) -> Statement<'_, 2> {
    statement!(
        concat!(
            "UPDATE recoveries SET lease_until = $2 WHERE id = $1 AND status = 'running' \
             RETURNING ",
            recovery_columns!()
        ),
        id,
        micros(lease_until),
    )
}

/// A step's last statement: `$2` more requeued, the cursor moved to `$3` (kept when null),
/// the status `$4`.
pub(crate) fn advance<'a>(
    id: &'a str,
    requeued: u64,
    through: Option<&'a str>,
    status: &'a str,
    now: time::OffsetDateTime,
) -> Statement<'a, 5> {
    statement!(
        concat!(
            "UPDATE recoveries SET requeued = requeued + $2, \
             requeued_through = coalesce($3, requeued_through), status = $4, updated_at = $5 \
             WHERE id = $1 RETURNING ",
            recovery_columns!()
        ),
        id,
        i64::try_from(requeued).unwrap_or(i64::MAX),
        through,
        status,
        micros(now),
    )
}

/// Takes one running recovery whose lease ended at or before `$1` (or that never had one),
/// leasing it until `$2`. The condition is repeated outside the subquery so that of two nodes
/// racing for the same row only one gets it (PostgreSQL re-checks it on the locked row).
pub(crate) fn claim_stalled(
    now: time::OffsetDateTime,
    lease_until: time::OffsetDateTime,
) -> Statement<'static, 2> {
    statement!(
        concat!(
            "UPDATE recoveries SET lease_until = $2 WHERE id = (SELECT id FROM recoveries \
             WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= $1) \
             ORDER BY id LIMIT 1) \
             AND status = 'running' AND (lease_until IS NULL OR lease_until <= $1) RETURNING ",
            recovery_columns!()
        ),
        micros(now),
        micros(lease_until),
    )
}

/// How many failed deliveries of `$1` have an id from `$2` on (column `failed`), leaving out
/// those whose event's payload `payload_retention` removed (there is nothing to send).
pub(crate) fn count_failed<'a>(subscription_id: &'a str, first_id: &'a str) -> Statement<'a, 2> {
    statement!(
        "SELECT count(*) AS failed FROM deliveries d WHERE d.subscription_id = $1 \
         AND d.id >= $2 AND d.status = 'failed' \
         AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.payload_json = '')",
        subscription_id,
        first_id,
    )
}

/// Makes up to `$4` failed deliveries of `$1` with ids above `$2` pending again, due at `$3`,
/// with a fresh retry schedule and no lease; answers their ids (column `id`). Deliveries of
/// an event whose payload was removed stay failed.
pub(crate) fn requeue_failed<'a>(
    subscription_id: &'a str,
    after_id: &'a str,
    now: time::OffsetDateTime,
    limit: u32,
) -> Statement<'a, 4> {
    statement!(
        "UPDATE deliveries SET status = 'pending', scheduled_attempts = 0, \
         next_attempt_at = $3, lease_until = NULL, updated_at = $3 WHERE id IN \
         (SELECT d.id FROM deliveries d WHERE d.subscription_id = $1 AND d.id > $2 \
         AND d.status = 'failed' AND NOT EXISTS \
           (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.payload_json = '') \
         ORDER BY d.id LIMIT $4) RETURNING id",
        subscription_id,
        after_id,
        micros(now),
        i64::from(limit),
    )
}
