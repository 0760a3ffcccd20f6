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
