//! Failure notices: failures noted for a subscription's next digest, and the digest claim.
//! Every statement here is shared: upserts with `ON CONFLICT … DO UPDATE … WHERE` and
//! `RETURNING` read the same in both dialects.

use time::OffsetDateTime;

use super::{Statement, statement};
use crate::model::FailureNotice;
use crate::rows::micros;

/// Notes a failure; a delivery already noted (failed again after a redelivery) is kept once.
pub(crate) fn insert_failure(failure: &FailureNotice) -> Statement<'_, 6> {
    statement!(
        "INSERT INTO notice_failures (delivery_id, subscription_id, event_id, event_type, \
         error, failed_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id) DO NOTHING",
        failure.delivery_id.as_str(),
        failure.subscription_id.as_str(),
        failure.event_id.as_str(),
        failure.event_type.as_str(),
        failure.error.as_str(),
        micros(failure.failed_at),
    )
}

/// A subscription with a failure noted at or before `noted_before` whose last digest was
/// claimed at or before `sent_before` (or never): the oldest failure's first.
pub(crate) fn digest_candidate(
    sent_before: OffsetDateTime,
    noted_before: OffsetDateTime,
) -> Statement<'static, 2> {
    statement!(
        "SELECT f.subscription_id FROM notice_failures f LEFT JOIN notice_digests d \
         ON d.subscription_id = f.subscription_id \
         WHERE (d.last_sent_at IS NULL OR d.last_sent_at <= $1) AND f.failed_at <= $2 \
         ORDER BY f.failed_at LIMIT 1",
        micros(sent_before),
        micros(noted_before),
    )
}

/// Claims the subscription's digest: moves its last-sent time to `now` only if it was at or
/// before `sent_before` (or absent). Returns a row only to the one claimer that moved it; a
/// concurrent claimer waits for that row and then finds the condition false.
pub(crate) fn claim_digest(
    subscription_id: &str,
    now: OffsetDateTime,
    sent_before: OffsetDateTime,
) -> Statement<'_, 3> {
    statement!(
        "INSERT INTO notice_digests (subscription_id, last_sent_at) VALUES ($1, $2) \
         ON CONFLICT (subscription_id) DO UPDATE SET last_sent_at = excluded.last_sent_at \
         WHERE notice_digests.last_sent_at <= $3 RETURNING subscription_id",
        subscription_id,
        micros(now),
        micros(sent_before),
    )
}

/// Takes (deletes and returns) the subscription's failures noted up to `now`.
pub(crate) fn take_failures(subscription_id: &str, now: OffsetDateTime) -> Statement<'_, 2> {
    statement!(
        "DELETE FROM notice_failures WHERE subscription_id = $1 AND failed_at <= $2 \
         RETURNING delivery_id, subscription_id, event_id, event_type, error, failed_at",
        subscription_id,
        micros(now),
    )
}
