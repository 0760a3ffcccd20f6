//! After a claim, on PostgreSQL: what the dispatcher and the metrics ask of the queue (when
//! work is next due, how much is pending). Recording attempts is batched in
//! [`super::completions`].
//!
//! Mostly the statements SQLite runs too ([`crate::statements::queue`]), answered by the
//! partial indexes of the PostgreSQL schema (`deliveries_pending_due`, `deliveries_leased`,
//! `deliveries_pending_created`), so each costs the rows it returns, not the size of the
//! table. The leased half of `next_due_at` (`greatest`) and the statistics (one statement
//! where SQLite walks its index twice) are PostgreSQL's own.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::model::*;
use crate::rows;
use crate::statements::queue as sql;

type Result<T> = std::result::Result<T, StoreError>;

/// `args` is `(interval, now, horizon end)` in µs (`claiming::manual_slot`).
pub(super) async fn take_send_slot(
    conn: &mut PgConnection,
    subscription_id: &str,
    (interval, now, end): (i64, i64, i64),
) -> Result<Option<OffsetDateTime>> {
    let take = sql::take_send_slot(subscription_id, now, interval, end);
    let slot: Option<i64> = run::optional(conn, &take, |row| rows::get(row, "slot")).await?;
    slot.map(|us| rows::from_micros(us, "slot")).transpose()
}

pub(super) async fn next_due_at(conn: &mut PgConnection) -> Result<Option<OffsetDateTime>> {
    // Unleased rows walk deliveries_pending_due in due order until one of an active
    // subscription; leased rows (few: the ones in flight) become claimable when their lease
    // ends, if that is later than their due time.
    let unleased: Option<i64> = run::optional(conn, &sql::next_due_unleased(), |row| {
        rows::get(row, "next_attempt_at")
    })
    .await?;
    let leased: Option<i64> = sqlx::query_scalar(
        "SELECT min(greatest(d.next_attempt_at, d.lease_until)) FROM deliveries d \
         JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE d.lease_until IS NOT NULL AND d.status = 'pending' \
           AND d.next_attempt_at IS NOT NULL AND s.status = 'active'",
    )
    .fetch_one(conn)
    .await?;
    rows::earliest_due(unleased, leased)
}

pub(super) async fn release_all_leases(conn: &mut PgConnection) -> Result<u64> {
    run::execute(conn, &sql::release_all_leases()).await
}

pub(super) async fn queue_stats(conn: &mut PgConnection) -> Result<QueueStats> {
    let (pending, oldest): (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), min(created_at) FROM deliveries WHERE status = 'pending'")
            .fetch_one(conn)
            .await?;
    rows::queue_stats(pending, oldest)
}
