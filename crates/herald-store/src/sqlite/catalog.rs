//! Tenants, access tokens, event types and subscriptions: the rows people manage.
//!
//! Each function is one statement or a few, on a connection the caller supplies. Reads are
//! async, on a sqlx read-pool connection. Writes are synchronous, on the writer thread's
//! `rusqlite::Connection` inside its batch transaction, through cached statements: they never
//! open or commit transactions themselves; the writer owns that.

use rusqlite::{Connection, params};
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, micros, to_json};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn create_tenant(conn: &Connection, tenant: &Tenant) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO tenants (id, name, client_id, client_secret_hash, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        tenant.id.as_str(),
        tenant.name,
        tenant.client_id,
        tenant.client_secret_hash,
        micros(tenant.created_at),
    ])?;
    Ok(())
}

pub(super) async fn get_tenant(conn: &mut SqliteConnection, id: &str) -> Result<Option<Tenant>> {
    let sql = format!("SELECT {} FROM tenants WHERE id = ?", rows::TENANT_COLUMNS);
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::tenant).transpose()
}

/// [`get_tenant`] on the writer's connection, for writes that answer with the row they changed
/// (it sees the batch's uncommitted writes, which a read-pool connection would not).
fn tenant_on(conn: &Connection, id: &str) -> Result<Option<Tenant>> {
    let sql = format!("SELECT {} FROM tenants WHERE id = ?", rows::TENANT_COLUMNS);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found = stmt.query(params![id])?;
    found.next()?.map(rows::tenant).transpose()
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

pub(super) fn rename_tenant(
    conn: &Connection,
    id: &TenantId,
    name: &str,
) -> Result<Option<Tenant>> {
    let mut stmt = conn.prepare_cached("UPDATE tenants SET name = ? WHERE id = ?")?;
    if stmt.execute(params![name, id.as_str()])? == 0 {
        return Ok(None);
    }
    tenant_on(conn, id.as_str())
}

pub(super) fn delete_tenant(conn: &Connection, id: &TenantId) -> Result<bool> {
    // Events name their tenant without a foreign key (broadcasts have none), so they go
    // explicitly; deleting them also deletes their deliveries. The tenant's subscriptions (and
    // with them every delivery to it, and attempts) and tokens go by ON DELETE CASCADE.
    conn.prepare_cached("DELETE FROM events WHERE tenant_id = ?")?
        .execute(params![id.as_str()])?;
    let deleted = conn
        .prepare_cached("DELETE FROM tenants WHERE id = ?")?
        .execute(params![id.as_str()])?;
    Ok(deleted > 0)
}

pub(super) fn insert_access_token(
    conn: &Connection,
    token_hash: &str,
    tenant_id: &TenantId,
    expires_at: OffsetDateTime,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO access_tokens (token_hash, tenant_id, expires_at) VALUES (?, ?, ?)",
    )?;
    stmt.execute(params![token_hash, tenant_id.as_str(), micros(expires_at)])?;
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

pub(super) fn create_event_type(conn: &Connection, event_type: &EventType) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO event_types (name, description, schema_json, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        event_type.name,
        event_type.description.as_deref(),
        event_type.schema.as_ref().map(to_json).transpose()?,
        micros(event_type.created_at),
        micros(event_type.updated_at),
    ])?;
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

pub(super) fn update_event_type(conn: &Connection, event_type: &EventType) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE event_types SET description = ?, schema_json = ?, updated_at = ? WHERE name = ?",
    )?;
    let updated = stmt.execute(params![
        event_type.description.as_deref(),
        event_type.schema.as_ref().map(to_json).transpose()?,
        micros(event_type.updated_at),
        event_type.name,
    ])?;
    Ok(updated > 0)
}

pub(super) fn delete_event_type(conn: &Connection, name: &str) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM event_types WHERE name = ?")?
        .execute(params![name])?;
    Ok(deleted > 0)
}

pub(super) fn create_subscription(conn: &Connection, sub: &Subscription) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO subscriptions (id, tenant_id, url, event_types_json, status, description, \
         headers_json, rate_limit_per_second, max_in_flight, contact_email, secrets_json, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        sub.id.as_str(),
        sub.tenant_id.as_str(),
        sub.url,
        to_json(&sub.event_types)?,
        sub.status.as_str(),
        sub.description.as_deref(),
        to_json(&sub.headers)?,
        sub.rate_limit_per_second.map(i64::from),
        i64::from(sub.max_in_flight),
        sub.contact_email.as_deref(),
        to_json(&sub.secrets)?,
        micros(sub.created_at),
        micros(sub.updated_at),
    ])?;
    insert_patterns(conn, &sub.id, &sub.event_types)
}

fn insert_patterns(conn: &Connection, id: &SubscriptionId, patterns: &[String]) -> Result<()> {
    // OR IGNORE: the same pattern listed twice is one pattern.
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO subscription_event_types (subscription_id, pattern, is_prefix) \
         VALUES (?, ?, ?)",
    )?;
    for pattern in patterns {
        let (text, is_prefix) = rows::pattern_row(pattern);
        stmt.execute(params![id.as_str(), text, is_prefix])?;
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

pub(super) fn update_subscription(conn: &Connection, sub: &Subscription) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE subscriptions SET url = ?, event_types_json = ?, status = ?, description = ?, \
         headers_json = ?, rate_limit_per_second = ?, max_in_flight = ?, contact_email = ?, \
         secrets_json = ?, updated_at = ? WHERE id = ?",
    )?;
    let updated = stmt.execute(params![
        sub.url,
        to_json(&sub.event_types)?,
        sub.status.as_str(),
        sub.description.as_deref(),
        to_json(&sub.headers)?,
        sub.rate_limit_per_second.map(i64::from),
        i64::from(sub.max_in_flight),
        sub.contact_email.as_deref(),
        to_json(&sub.secrets)?,
        micros(sub.updated_at),
        sub.id.as_str(),
    ])?;
    if updated == 0 {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM subscription_event_types WHERE subscription_id = ?")?
        .execute(params![sub.id.as_str()])?;
    insert_patterns(conn, &sub.id, &sub.event_types)?;
    Ok(true)
}

pub(super) fn delete_subscription(conn: &Connection, id: &SubscriptionId) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM subscriptions WHERE id = ?")?
        .execute(params![id.as_str()])?;
    Ok(deleted > 0)
}
