//! Recoveries on SQLite: the shared statements of [`crate::statements::recovery`].

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::{DeliveryId, SubscriptionId};
use crate::recovery::{Recovery, RecoveryStatus, recovery_row};
use crate::statements::recovery as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn start(conn: &Connection, recovery: &Recovery) -> Result<()> {
    run::execute(conn, &sql::insert(recovery))?;
    Ok(())
}

pub(super) fn get(conn: &Connection, id: &str) -> Result<Option<Recovery>> {
    run::optional(conn, &sql::by_id(id), |row| recovery_row(row))
}

pub(super) fn latest(
    conn: &Connection,
    subscription_id: &SubscriptionId,
) -> Result<Option<Recovery>> {
    run::optional(conn, &sql::latest(subscription_id.as_str()), |row| {
        recovery_row(row)
    })
}

pub(super) fn count_failed(
    conn: &Connection,
    subscription_id: &SubscriptionId,
    since: OffsetDateTime,
) -> Result<u64> {
    let first = crate::hub::first_id_at(DeliveryId::PREFIX, since);
    let count: Option<i64> = run::optional(
        conn,
        &sql::count_failed(subscription_id.as_str(), &first),
        |row| crate::rows::get(row, "failed"),
    )?;
    Ok(u64::try_from(count.unwrap_or(0)).unwrap_or(0))
}

pub(super) fn requeue(
    conn: &Connection,
    subscription_id: &SubscriptionId,
    after: &str,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<DeliveryId>> {
    let statement = sql::requeue_failed(subscription_id.as_str(), after, now, limit);
    run::all(conn, &statement, |row| {
        Ok(DeliveryId::from_trusted(crate::rows::get(row, "id")?))
    })
}

pub(super) fn progress(
    conn: &Connection,
    id: &str,
    requeued: u64,
    status: RecoveryStatus,
    now: OffsetDateTime,
) -> Result<bool> {
    Ok(run::execute(conn, &sql::progress(id, requeued, status.as_str(), now))? > 0)
}
