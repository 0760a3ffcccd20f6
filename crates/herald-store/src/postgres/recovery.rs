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

pub(super) async fn requeue(
    conn: &mut PgConnection,
    subscription_id: &SubscriptionId,
    after: &str,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<DeliveryId>> {
    let statement = sql::requeue_failed(subscription_id.as_str(), after, now, limit);
    run::all(conn, &statement, |row| {
        Ok(DeliveryId::from_trusted(crate::rows::get(row, "id")?))
    })
    .await
}

pub(super) async fn progress(
    conn: &mut PgConnection,
    id: &str,
    requeued: u64,
    status: RecoveryStatus,
    now: OffsetDateTime,
) -> Result<bool> {
    Ok(run::execute(conn, &sql::progress(id, requeued, status.as_str(), now)).await? > 0)
}
