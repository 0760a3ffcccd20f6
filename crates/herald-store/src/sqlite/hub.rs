//! The Hub's sign-in sessions on SQLite: the shared statements of
//! [`crate::statements::hub`], writes on the writer's connection inside its batch.

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::hub::{HubSession, hub_session_row};
use crate::ids::TenantId;
use crate::statements::hub as sql;

type Result<T> = std::result::Result<T, StoreError>;

/// Sweeps a few expired sessions, then writes the new one, in the writer's one transaction.
pub(super) fn insert_hub_session(
    conn: &Connection,
    session_hash: &str,
    tenant_id: Option<&TenantId>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<()> {
    run::execute(conn, &sql::purge_expired_hub_sessions(now))?;
    let insert = sql::insert_hub_session(session_hash, tenant_id.map(TenantId::as_str), expires_at);
    run::execute(conn, &insert)?;
    Ok(())
}

pub(super) fn hub_session(
    conn: &Connection,
    session_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<HubSession>> {
    run::optional(conn, &sql::hub_session(session_hash, now), |row| {
        hub_session_row(row)
    })
}

pub(super) fn delete_hub_session(conn: &Connection, session_hash: &str) -> Result<bool> {
    Ok(run::execute(conn, &sql::delete_hub_session(session_hash))? > 0)
}
