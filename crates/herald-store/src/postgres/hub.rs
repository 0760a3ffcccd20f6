//! The Hub's sign-in sessions on PostgreSQL: the shared statements of
//! [`crate::statements::hub`]; the caller opens the transaction a sign-in writes in.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::hub::{HubSession, hub_session_row};
use crate::ids::TenantId;
use crate::statements::hub as sql;

type Result<T> = std::result::Result<T, StoreError>;

/// Sweeps a few expired sessions, then writes the new one.
pub(super) async fn insert_hub_session(
    conn: &mut PgConnection,
    session_hash: &str,
    tenant_id: Option<&TenantId>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<()> {
    run::execute(conn, &sql::purge_expired_hub_sessions(now)).await?;
    let insert = sql::insert_hub_session(session_hash, tenant_id.map(TenantId::as_str), expires_at);
    run::execute(conn, &insert).await?;
    Ok(())
}

pub(super) async fn hub_session(
    conn: &mut PgConnection,
    session_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<HubSession>> {
    run::optional(conn, &sql::hub_session(session_hash, now), hub_session_row).await
}

pub(super) async fn delete_hub_session(
    conn: &mut PgConnection,
    session_hash: &str,
) -> Result<bool> {
    Ok(run::execute(conn, &sql::delete_hub_session(session_hash)).await? > 0)
}
