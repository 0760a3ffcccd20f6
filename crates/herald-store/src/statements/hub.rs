//! The Hub's statements: its sign-in sessions (see [`crate::hub`]).

use super::{Statement, statement};
use crate::rows::micros;

/// How many expired sessions one sign-in sweeps away: bounded, so a sign-in never holds the
/// writer long, and enough that sessions cannot pile up faster than sign-ins remove them.
pub(crate) const EXPIRED_SESSIONS_PER_SIGN_IN: i64 = 16;

pub(crate) fn insert_hub_session<'a>(
    session_hash: &'a str,
    tenant_id: Option<&'a str>,
    expires_at: time::OffsetDateTime,
) -> Statement<'a, 3> {
    statement!(
        "INSERT INTO hub_sessions (session_hash, tenant_id, expires_at) VALUES ($1, $2, $3)",
        session_hash,
        tenant_id,
        micros(expires_at),
    )
}

/// Some expired sessions (index-backed by `hub_sessions_expiry`).
pub(crate) fn purge_expired_hub_sessions(now: time::OffsetDateTime) -> Statement<'static, 2> {
    statement!(
        "DELETE FROM hub_sessions WHERE session_hash IN (SELECT session_hash FROM hub_sessions \
         WHERE expires_at <= $1 LIMIT $2)",
        micros(now),
        EXPIRED_SESSIONS_PER_SIGN_IN,
    )
}

/// An unexpired session (columns `tenant_id`, `expires_at`).
pub(crate) fn hub_session(session_hash: &str, now: time::OffsetDateTime) -> Statement<'_, 2> {
    statement!(
        "SELECT tenant_id, expires_at FROM hub_sessions WHERE session_hash = $1 \
         AND expires_at > $2",
        session_hash,
        micros(now),
    )
}

pub(crate) fn delete_hub_session(session_hash: &str) -> Statement<'_, 1> {
    statement!(
        "DELETE FROM hub_sessions WHERE session_hash = $1",
        session_hash
    )
}

/// The attempts since `$2` (the first id at that time is `$1`: a primary-key range), per
/// bucket of `$3` µs. Sums are cast because PostgreSQL sums integers into NUMERIC.
macro_rules! attempt_buckets_head {
    () => {
        "SELECT (a.started_at - $2) / $3 AS bucket, count(*) AS attempts, \
         CAST(sum(CASE WHEN a.error IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS succeeded, \
         CAST(sum(a.duration_ms) AS BIGINT) AS duration_sum, \
         CAST(max(a.duration_ms) AS BIGINT) AS duration_max FROM attempts a "
    };
}

pub(crate) fn attempt_buckets(
    first_id: &str,
    since: time::OffsetDateTime,
    bucket_micros: i64,
) -> Statement<'_, 3> {
    statement!(
        concat!(
            attempt_buckets_head!(),
            "WHERE a.id >= $1 AND a.started_at >= $2 GROUP BY bucket"
        ),
        first_id,
        micros(since),
        bucket_micros,
    )
}

pub(crate) fn attempt_buckets_of_tenant<'a>(
    first_id: &'a str,
    since: time::OffsetDateTime,
    bucket_micros: i64,
    tenant_id: &'a str,
) -> Statement<'a, 4> {
    statement!(
        concat!(
            attempt_buckets_head!(),
            "JOIN deliveries d ON d.id = a.delivery_id \
             WHERE a.id >= $1 AND a.started_at >= $2 AND d.tenant_id = $4 GROUP BY bucket"
        ),
        first_id,
        micros(since),
        bucket_micros,
        tenant_id,
    )
}

/// Events accepted since `$2` (first id `$1`), per bucket of `$3` µs.
pub(crate) fn event_buckets(
    first_id: &str,
    since: time::OffsetDateTime,
    bucket_micros: i64,
) -> Statement<'_, 3> {
    statement!(
        "SELECT (created_at - $2) / $3 AS bucket, count(*) AS events FROM events \
         WHERE id >= $1 AND created_at >= $2 GROUP BY bucket",
        first_id,
        micros(since),
        bucket_micros,
    )
}

/// The same for one tenant: its own events and broadcasts.
pub(crate) fn event_buckets_of_tenant<'a>(
    first_id: &'a str,
    since: time::OffsetDateTime,
    bucket_micros: i64,
    tenant_id: &'a str,
) -> Statement<'a, 4> {
    statement!(
        "SELECT (created_at - $2) / $3 AS bucket, count(*) AS events FROM events \
         WHERE id >= $1 AND created_at >= $2 AND (tenant_id = $4 OR tenant_id IS NULL) \
         GROUP BY bucket",
        first_id,
        micros(since),
        bucket_micros,
        tenant_id,
    )
}

/// Each subscription's latest attempt since the first attempt id `$1`, where it failed,
/// newest first, at most `$2`.
macro_rules! failing_head {
    () => {
        "SELECT d.subscription_id, d.tenant_id, s.url, a.started_at, a.error, a.error_message, \
         a.response_status FROM attempts a JOIN deliveries d ON d.id = a.delivery_id \
         JOIN subscriptions s ON s.id = d.subscription_id WHERE a.error IS NOT NULL AND a.id IN \
         (SELECT max(a2.id) FROM attempts a2 JOIN deliveries d2 ON d2.id = a2.delivery_id \
         WHERE a2.id >= $1 "
    };
}

pub(crate) fn failing_subscriptions(first_id: &str, limit: u32) -> Statement<'_, 2> {
    statement!(
        concat!(
            failing_head!(),
            "GROUP BY d2.subscription_id) ORDER BY a.id DESC LIMIT $2"
        ),
        first_id,
        i64::from(limit),
    )
}

pub(crate) fn failing_subscriptions_of_tenant<'a>(
    first_id: &'a str,
    limit: u32,
    tenant_id: &'a str,
) -> Statement<'a, 3> {
    statement!(
        concat!(
            failing_head!(),
            "AND d2.tenant_id = $3 GROUP BY d2.subscription_id) ORDER BY a.id DESC LIMIT $2"
        ),
        first_id,
        i64::from(limit),
        tenant_id,
    )
}
