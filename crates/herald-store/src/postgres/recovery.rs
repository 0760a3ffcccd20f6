//! Recoveries on PostgreSQL: the shared statements of [`crate::statements::recovery`].

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::{DeliveryId, SubscriptionId};
use crate::recovery::{Recovery, RecoveryStatus, recovery_row};
use crate::statements::recovery as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn start(conn: &mut PgConnection, recovery: &Recovery) -> Result<()> {
    run::execute(conn, &sql::insert(recovery)).await?;
    Ok(())
}

pub(super) async fn get(conn: &mut PgConnection, id: &str) -> Result<Option<Recovery>> {
    run::optional(conn, &sql::by_id(id), recovery_row).await
}

pub(super) async fn latest(
    conn: &mut PgConnection,
    subscription_id: &SubscriptionId,
) -> Result<Option<Recovery>> {
    run::optional(conn, &sql::latest(subscription_id.as_str()), recovery_row).await
}

pub(super) async fn count_failed(
    conn: &mut PgConnection,
    subscription_id: &SubscriptionId,
    since: OffsetDateTime,
) -> Result<u64> {
    let first = crate::hub::first_id_at(DeliveryId::PREFIX, since);
    let statement = sql::count_failed(subscription_id.as_str(), &first);
    let count: Option<i64> =
        run::optional(conn, &statement, |row| crate::rows::get(row, "failed")).await?;
    Ok(u64::try_from(count.unwrap_or(0)).unwrap_or(0))
}

/// One batch of a recovery, inside the caller's transaction.
pub(super) async fn step(
    conn: &mut PgConnection,
    id: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> Result<Option<Recovery>> {
    let Some(current) = run::optional(conn, &sql::renew(id, lease_until), recovery_row).await?
    else {
        return Ok(None);
    };
    let through = current.requeued_through.as_ref().map(DeliveryId::as_str);
    let after = crate::hub::range_start(DeliveryId::PREFIX, current.since, through);
    let statement = sql::requeue_failed(current.subscription_id.as_str(), &after, now, limit);
    let requeued = run::all(conn, &statement, |row| {
        Ok(DeliveryId::from_trusted(crate::rows::get(row, "id")?))
    })
    .await?;
    let status = RecoveryStatus::after_batch(requeued.len(), limit);
    let last = requeued.iter().max().map(DeliveryId::as_str);
    let advance = sql::advance(id, requeued.len() as u64, last, status.as_str(), now);
    run::optional(conn, &advance, recovery_row).await
}

pub(super) async fn claim_stalled(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<Recovery>> {
    run::optional(conn, &sql::claim_stalled(now, lease_until), recovery_row).await
}
