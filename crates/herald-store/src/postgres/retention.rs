//! Retention on PostgreSQL: one batch of old events deleted (or their payloads emptied) in
//! one transaction. Autovacuum reclaims the space; nothing else is needed. The delete checks
//! again that no delivery of an event is pending (another node may have redelivered one since
//! it was chosen).

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::TenantId;
use crate::model::{PayloadsDropped, RetentionDeleted, RetentionScope};
use crate::rows;
use crate::statements::retention as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn tenant_retentions(conn: &mut PgConnection) -> Result<Vec<(TenantId, u64)>> {
    run::all(conn, &sql::tenant_retentions(), rows::tenant_retention).await
}

/// Runs inside the caller's transaction.
pub(super) async fn delete_old_events(
    conn: &mut PgConnection,
    scope: &RetentionScope,
    before: OffsetDateTime,
    limit: u32,
) -> Result<RetentionDeleted> {
    let id = |row: &sqlx::postgres::PgRow| rows::get(row, "id");
    let ids: Vec<String> = match scope {
        RetentionScope::Server => run::all(&mut *conn, &sql::old_events(before, limit), id).await?,
        RetentionScope::Tenant(tenant) => {
            run::all(
                &mut *conn,
                &sql::old_events_of_tenant(tenant, before, limit),
                id,
            )
            .await?
        }
    };
    if ids.is_empty() {
        return Ok(RetentionDeleted::default());
    }
    let events: Vec<String> = sqlx::query_scalar(
        "DELETE FROM events e WHERE e.id = ANY($1) AND NOT EXISTS \
           (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending') \
         RETURNING e.id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    if events.is_empty() {
        return Ok(RetentionDeleted::default());
    }
    // Deliveries have no foreign key to their event (migrations/postgres/0011): they go
    // explicitly, and their attempts with them by theirs.
    let attempts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM attempts WHERE delivery_id IN \
           (SELECT id FROM deliveries WHERE event_id = ANY($1))",
    )
    .bind(&events)
    .fetch_one(&mut *conn)
    .await?;
    let deliveries = sqlx::query("DELETE FROM deliveries WHERE event_id = ANY($1)")
        .bind(&events)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(RetentionDeleted {
        events: events.len() as u64,
        deliveries,
        attempts: u64::try_from(attempts).unwrap_or(0),
    })
}

/// Runs inside the caller's transaction. Like the delete, the update checks again that no
/// delivery of an event is pending.
pub(super) async fn drop_old_payloads(
    conn: &mut PgConnection,
    before: OffsetDateTime,
    limit: u32,
) -> Result<PayloadsDropped> {
    let ids: Vec<String> = run::all(&mut *conn, &sql::old_payloads(before, limit), |row| {
        rows::get(row, "id")
    })
    .await?;
    if ids.is_empty() {
        return Ok(PayloadsDropped::default());
    }
    let events: Vec<String> = sqlx::query_scalar(
        "UPDATE events e SET payload_json = '' WHERE e.id = ANY($1) AND NOT EXISTS \
           (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending') \
         RETURNING e.id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let attempts = sqlx::query(
        "UPDATE attempts SET response_body = NULL WHERE response_body IS NOT NULL \
           AND delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1))",
    )
    .bind(&events)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(PayloadsDropped {
        events: events.len() as u64,
        attempts,
    })
}
