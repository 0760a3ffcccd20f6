//! The relay's presence and hold bound on SQLite: the shared statements of
//! [`crate::statements::relay`], run on the writer's connection (writes) or a reader's (the
//! waiting count). The presence filter of claims is in `claim.rs`.

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::model::Delivery;
use crate::rows::{self, micros};
use crate::statements::relay as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn present(
    conn: &Connection,
    subscription_id: &str,
    node_id: &str,
    until: OffsetDateTime,
) -> Result<()> {
    run::execute(
        conn,
        &sql::mark_present(subscription_id, node_id, micros(until)),
    )?;
    Ok(())
}

pub(super) fn waiting(conn: &Connection, subscription_id: &str) -> Result<u64> {
    let count: Option<i64> = run::optional(conn, &sql::waiting(subscription_id), |row| {
        rows::get(row, "waiting")
    })?;
    Ok(u64::try_from(count.unwrap_or(0)).unwrap_or(0))
}

pub(super) fn lease_unattended(
    conn: &Connection,
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
    let mut leased = run::all(conn, &lease, |row| rows::delivery(row))?;
    // RETURNING comes in no promised order; fail the oldest first.
    leased.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    run::execute(conn, &sql::prune(micros(since)))?;
    Ok(leased)
}
