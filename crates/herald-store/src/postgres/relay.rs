//! The relay's presence and hold bound on PostgreSQL: the shared statements of
//! [`crate::statements::relay`]. The presence filter of claims is in `claim.rs`.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::model::Delivery;
use crate::rows::{self, micros};
use crate::statements::relay as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn present(
    conn: &mut PgConnection,
    subscription_id: &str,
    node_id: &str,
    until: OffsetDateTime,
) -> Result<()> {
    run::execute(
        conn,
        &sql::mark_present(subscription_id, node_id, micros(until)),
    )
    .await?;
    Ok(())
}

pub(super) async fn waiting(conn: &mut PgConnection, subscription_id: &str) -> Result<u64> {
    let count: Option<i64> = run::optional(conn, &sql::waiting(subscription_id), |row| {
        rows::get(row, "waiting")
    })
    .await?;
    Ok(u64::try_from(count.unwrap_or(0)).unwrap_or(0))
}

/// Runs inside the caller's transaction.
pub(super) async fn lease_unattended(
    conn: &mut PgConnection,
    since: OffsetDateTime,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let lease = sql::lease_unattended(
        micros(lease_until),
        micros(now),
        micros(since),
        i64::from(limit),
    );
    let mut leased = run::all(conn, &lease, rows::delivery).await?;
    // RETURNING comes in no promised order; fail the oldest first.
    leased.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    run::execute(conn, &sql::prune(micros(since))).await?;
    Ok(leased)
}
