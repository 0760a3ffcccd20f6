//! Recoveries' statements (see [`crate::recovery`]). A subscription's failed deliveries since
//! a time are found by the range of their ids on `deliveries_subscription (subscription_id,
//! id)`: ids begin with their creation time, so the first id at that time starts the range.

use super::{Statement, statement};
use crate::recovery::Recovery;
use crate::rows::micros;

pub(crate) fn insert(recovery: &Recovery) -> Statement<'_, 9> {
    statement!(
        "INSERT INTO recoveries (id, subscription_id, tenant_id, since, status, total, \
         requeued, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        recovery.id.as_str(),
        recovery.subscription_id.as_str(),
        recovery.tenant_id.as_str(),
        micros(recovery.since),
        recovery.status.as_str(),
        i64::try_from(recovery.total).unwrap_or(i64::MAX),
        i64::try_from(recovery.requeued).unwrap_or(i64::MAX),
        micros(recovery.created_at),
        micros(recovery.updated_at),
    )
}

pub(crate) fn by_id(id: &str) -> Statement<'_, 1> {
    statement!(
        "SELECT id, subscription_id, tenant_id, since, status, total, requeued, created_at, \
         updated_at FROM recoveries WHERE id = $1",
        id
    )
}

/// A subscription's newest recovery.
pub(crate) fn latest(subscription_id: &str) -> Statement<'_, 1> {
    statement!(
        "SELECT id, subscription_id, tenant_id, since, status, total, requeued, created_at, \
         updated_at FROM recoveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT 1",
        subscription_id
    )
}

pub(crate) fn progress<'a>(
    id: &'a str,
    requeued: u64,
    status: &'a str,
    now: time::OffsetDateTime,
) -> Statement<'a, 4> {
    statement!(
        "UPDATE recoveries SET requeued = $2, status = $3, updated_at = $4 WHERE id = $1",
        id,
        i64::try_from(requeued).unwrap_or(i64::MAX),
        status,
        micros(now),
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
