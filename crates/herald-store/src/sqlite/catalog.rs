//! Tenants, access tokens, event types and subscriptions: the rows people manage.
//!
//! Each function is one statement or a few, on a connection the caller supplies: a read-pool
//! connection for reads, the writer's connection (inside its batch transaction) for writes.
//! They never open transactions themselves; the writer owns that.

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, micros, to_json};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn create_tenant(conn: &mut SqliteConnection, tenant: &Tenant) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenants (id, name, client_id, client_secret_hash, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(tenant.id.as_str())
    .bind(&tenant.name)
    .bind(&tenant.client_id)
    .bind(&tenant.client_secret_hash)
    .bind(micros(tenant.created_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn get_tenant(conn: &mut SqliteConnection, id: &str) -> Result<Option<Tenant>> {
    let sql = format!("SELECT {} FROM tenants WHERE id = ?", rows::TENANT_COLUMNS);
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::tenant).transpose()
}

pub(super) async fn get_tenant_by_client_id(
    conn: &mut SqliteConnection,
    client_id: &str,
) -> Result<Option<Tenant>> {
    let sql = format!(
        "SELECT {} FROM tenants WHERE client_id = ?",
        rows::TENANT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(rows::tenant).transpose()
}

pub(super) async fn list_tenants(
    conn: &mut SqliteConnection,
    page: &PageRequest,
) -> Result<Page<Tenant>> {
    let limit = rows::page_limit(page);
    let sql = format!(
        "SELECT {} FROM tenants WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2",
        rows::TENANT_COLUMNS
    );
    let found = sqlx::query(&sql)
        .bind(page.cursor.as_deref())
        .bind(i64::from(limit) + 1)
        .fetch_all(conn)
        .await?;
    let items = found.iter().map(rows::tenant).collect::<Result<Vec<_>>>()?;
    Ok(rows::page(items, limit, |t| t.id.to_string()))
}

pub(super) async fn rename_tenant(
    conn: &mut SqliteConnection,
    id: &TenantId,
    name: &str,
) -> Result<Option<Tenant>> {
    let done = sqlx::query("UPDATE tenants SET name = ? WHERE id = ?")
        .bind(name)
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    get_tenant(conn, id.as_str()).await
}

pub(super) async fn delete_tenant(conn: &mut SqliteConnection, id: &TenantId) -> Result<bool> {
    // Events name their tenant without a foreign key (broadcasts have none), so they go
    // explicitly; deleting them also deletes their deliveries. The tenant's subscriptions (and
    // with them every delivery to it, and attempts) and tokens go by ON DELETE CASCADE.
    sqlx::query("DELETE FROM events WHERE tenant_id = ?")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM tenants WHERE id = ?")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn insert_access_token(
    conn: &mut SqliteConnection,
    token_hash: &str,
    tenant_id: &TenantId,
    expires_at: OffsetDateTime,
) -> Result<()> {
    sqlx::query("INSERT INTO access_tokens (token_hash, tenant_id, expires_at) VALUES (?, ?, ?)")
        .bind(token_hash)
        .bind(tenant_id.as_str())
        .bind(micros(expires_at))
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn access_token_tenant(
    conn: &mut SqliteConnection,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<TenantId>> {
    let tenant: Option<String> = sqlx::query_scalar(
        "SELECT tenant_id FROM access_tokens WHERE token_hash = ? AND expires_at > ?",
    )
    .bind(token_hash)
    .bind(micros(now))
    .fetch_optional(conn)
    .await?;
    Ok(tenant.map(TenantId::from_trusted))
}

pub(super) async fn create_event_type(
    conn: &mut SqliteConnection,
    event_type: &EventType,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO event_types (name, description, schema_json, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&event_type.name)
    .bind(event_type.description.as_deref())
    .bind(event_type.schema.as_ref().map(to_json).transpose()?)
    .bind(micros(event_type.created_at))
    .bind(micros(event_type.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn get_event_type(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Option<EventType>> {
    let sql = format!(
        "SELECT {} FROM event_types WHERE name = ?",
        rows::EVENT_TYPE_COLUMNS
    );
    let row = sqlx::query(&sql).bind(name).fetch_optional(conn).await?;
    row.as_ref().map(rows::event_type).transpose()
}

pub(super) async fn list_event_types(
    conn: &mut SqliteConnection,
    page: &PageRequest,
) -> Result<Page<EventType>> {
    let limit = rows::page_limit(page);
    let sql = format!(
        "SELECT {} FROM event_types WHERE (?1 IS NULL OR name > ?1) ORDER BY name LIMIT ?2",
        rows::EVENT_TYPE_COLUMNS
    );
    let found = sqlx::query(&sql)
        .bind(page.cursor.as_deref())
        .bind(i64::from(limit) + 1)
        .fetch_all(conn)
        .await?;
    let items = found
        .iter()
        .map(rows::event_type)
        .collect::<Result<Vec<_>>>()?;
    Ok(rows::page(items, limit, |t| t.name.clone()))
}

pub(super) async fn update_event_type(
    conn: &mut SqliteConnection,
    event_type: &EventType,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE event_types SET description = ?, schema_json = ?, updated_at = ? WHERE name = ?",
    )
    .bind(event_type.description.as_deref())
    .bind(event_type.schema.as_ref().map(to_json).transpose()?)
    .bind(micros(event_type.updated_at))
    .bind(&event_type.name)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_event_type(conn: &mut SqliteConnection, name: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM event_types WHERE name = ?")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn create_subscription(
    conn: &mut SqliteConnection,
    sub: &Subscription,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, url, event_types_json, status, description, \
         headers_json, rate_limit_per_second, max_in_flight, contact_email, secrets_json, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(sub.id.as_str())
    .bind(sub.tenant_id.as_str())
    .bind(&sub.url)
    .bind(to_json(&sub.event_types)?)
    .bind(sub.status.as_str())
    .bind(sub.description.as_deref())
    .bind(to_json(&sub.headers)?)
    .bind(sub.rate_limit_per_second.map(i64::from))
    .bind(i64::from(sub.max_in_flight))
    .bind(sub.contact_email.as_deref())
    .bind(to_json(&sub.secrets)?)
    .bind(micros(sub.created_at))
    .bind(micros(sub.updated_at))
    .execute(&mut *conn)
    .await?;
    insert_patterns(conn, &sub.id, &sub.event_types).await
}

async fn insert_patterns(
    conn: &mut SqliteConnection,
    id: &SubscriptionId,
    patterns: &[String],
) -> Result<()> {
    for pattern in patterns {
        let (text, is_prefix) = rows::pattern_row(pattern);
        // OR IGNORE: the same pattern listed twice is one pattern.
        sqlx::query(
            "INSERT OR IGNORE INTO subscription_event_types (subscription_id, pattern, is_prefix) \
             VALUES (?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(text)
        .bind(is_prefix)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn get_subscription(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Subscription>> {
    let sql = format!(
        "SELECT {} FROM subscriptions WHERE id = ?",
        rows::SUBSCRIPTION_COLUMNS
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::subscription).transpose()
}

pub(super) async fn list_subscriptions(
    conn: &mut SqliteConnection,
    filter: &SubscriptionFilter,
    page: &PageRequest,
) -> Result<Page<Subscription>> {
    let limit = rows::page_limit(page);
    let sql = format!(
        "SELECT {} FROM subscriptions WHERE (?1 IS NULL OR tenant_id = ?1) \
         AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        rows::SUBSCRIPTION_COLUMNS
    );
    let found = sqlx::query(&sql)
        .bind(filter.tenant_id.as_ref().map(|t| t.as_str()))
        .bind(page.cursor.as_deref())
        .bind(i64::from(limit) + 1)
        .fetch_all(conn)
        .await?;
    let items = found
        .iter()
        .map(rows::subscription)
        .collect::<Result<Vec<_>>>()?;
    Ok(rows::page(items, limit, |s| s.id.to_string()))
}

pub(super) async fn update_subscription(
    conn: &mut SqliteConnection,
    sub: &Subscription,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE subscriptions SET url = ?, event_types_json = ?, status = ?, description = ?, \
         headers_json = ?, rate_limit_per_second = ?, max_in_flight = ?, contact_email = ?, \
         secrets_json = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&sub.url)
    .bind(to_json(&sub.event_types)?)
    .bind(sub.status.as_str())
    .bind(sub.description.as_deref())
    .bind(to_json(&sub.headers)?)
    .bind(sub.rate_limit_per_second.map(i64::from))
    .bind(i64::from(sub.max_in_flight))
    .bind(sub.contact_email.as_deref())
    .bind(to_json(&sub.secrets)?)
    .bind(micros(sub.updated_at))
    .bind(sub.id.as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM subscription_event_types WHERE subscription_id = ?")
        .bind(sub.id.as_str())
        .execute(&mut *conn)
        .await?;
    insert_patterns(conn, &sub.id, &sub.event_types).await?;
    Ok(true)
}

pub(super) async fn delete_subscription(
    conn: &mut SqliteConnection,
    id: &SubscriptionId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM subscriptions WHERE id = ?")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
