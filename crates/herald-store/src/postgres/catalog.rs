//! Tenants, access tokens, event types and subscriptions on PostgreSQL: the rows people
//! manage.
//!
//! Each function runs on the connection it is given; the caller ([`super::PgStore`]) opens
//! the transaction when a write takes more than one statement. The one choice worth a note:
//! deleting a tenant first locks its subscriptions in id order, the order in which claims lock
//! them, so a deletion racing a claim waits for it instead of deadlocking with it.

use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, micros, to_json};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn create_tenant(conn: &mut PgConnection, tenant: &Tenant) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenants (id, name, client_id, client_secret_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
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

/// One tenant by a unique column (`id` or `client_id`).
pub(super) async fn get_tenant_by(
    conn: &mut PgConnection,
    column: TenantKey,
    value: &str,
) -> Result<Option<Tenant>> {
    let column = match column {
        TenantKey::Id => "id",
        TenantKey::ClientId => "client_id",
    };
    let sql = format!(
        "SELECT {} FROM tenants WHERE {column} = $1",
        rows::TENANT_COLUMNS
    );
    let row = sqlx::query(&sql).bind(value).fetch_optional(conn).await?;
    row.as_ref().map(rows::tenant).transpose()
}

/// Which unique column [`get_tenant_by`] looks up (a closed set, so never user text in SQL).
#[derive(Clone, Copy)]
pub(super) enum TenantKey {
    Id,
    ClientId,
}

pub(super) async fn list_tenants(
    conn: &mut PgConnection,
    page: &PageRequest,
) -> Result<Page<Tenant>> {
    let limit = rows::page_limit(page);
    let sql = format!(
        "SELECT {} FROM tenants WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
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
    conn: &mut PgConnection,
    id: &TenantId,
    name: &str,
) -> Result<Option<Tenant>> {
    let sql = format!(
        "UPDATE tenants SET name = $1 WHERE id = $2 RETURNING {}",
        rows::TENANT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(name)
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(rows::tenant).transpose()
}

/// Runs inside the caller's transaction.
pub(super) async fn delete_tenant(conn: &mut PgConnection, id: &TenantId) -> Result<bool> {
    // Lock the tenant's subscriptions in id order first: claims lock subscriptions in that
    // order, so taking them in any other order (as the cascade below would) could deadlock.
    sqlx::query("SELECT id FROM subscriptions WHERE tenant_id = $1 ORDER BY id FOR UPDATE")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    // Events name their tenant without a foreign key (broadcasts have none), so they go
    // explicitly; deleting them also deletes their deliveries. The tenant's subscriptions (and
    // with them every delivery to it, and attempts) and tokens go by ON DELETE CASCADE.
    sqlx::query("DELETE FROM events WHERE tenant_id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn insert_access_token(
    conn: &mut PgConnection,
    token_hash: &str,
    tenant_id: &TenantId,
    expires_at: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO access_tokens (token_hash, tenant_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash)
    .bind(tenant_id.as_str())
    .bind(micros(expires_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn access_token_tenant(
    conn: &mut PgConnection,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<TenantId>> {
    let tenant: Option<String> = sqlx::query_scalar(
        "SELECT tenant_id FROM access_tokens WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(micros(now))
    .fetch_optional(conn)
    .await?;
    Ok(tenant.map(TenantId::from_trusted))
}

pub(super) async fn create_event_type(
    conn: &mut PgConnection,
    event_type: &EventType,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO event_types (name, description, schema_json, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
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
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<EventType>> {
    let sql = format!(
        "SELECT {} FROM event_types WHERE name = $1",
        rows::EVENT_TYPE_COLUMNS
    );
    let row = sqlx::query(&sql).bind(name).fetch_optional(conn).await?;
    row.as_ref().map(rows::event_type).transpose()
}

pub(super) async fn list_event_types(
    conn: &mut PgConnection,
    page: &PageRequest,
) -> Result<Page<EventType>> {
    let limit = rows::page_limit(page);
    let sql = format!(
        "SELECT {} FROM event_types WHERE ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2",
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
    conn: &mut PgConnection,
    event_type: &EventType,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE event_types SET description = $1, schema_json = $2, updated_at = $3 \
         WHERE name = $4",
    )
    .bind(event_type.description.as_deref())
    .bind(event_type.schema.as_ref().map(to_json).transpose()?)
    .bind(micros(event_type.updated_at))
    .bind(&event_type.name)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_event_type(conn: &mut PgConnection, name: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM event_types WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Runs inside the caller's transaction (the row and its patterns go together).
pub(super) async fn create_subscription(conn: &mut PgConnection, sub: &Subscription) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, url, event_types_json, status, description, \
         headers_json, rate_limit_per_second, max_in_flight, contact_email, secrets_json, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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

/// Writes a subscription's patterns in one statement.
async fn insert_patterns(
    conn: &mut PgConnection,
    id: &SubscriptionId,
    patterns: &[String],
) -> Result<()> {
    let (texts, prefixes): (Vec<&str>, Vec<i64>) = patterns
        .iter()
        .map(|pattern| {
            let (text, is_prefix) = rows::pattern_row(pattern);
            (text, i64::from(is_prefix))
        })
        .unzip();
    // DO NOTHING: the same pattern listed twice is one pattern.
    sqlx::query(
        "INSERT INTO subscription_event_types (subscription_id, pattern, is_prefix) \
         SELECT $1, pattern, is_prefix FROM unnest($2::text[], $3::int8[]) AS p (pattern, is_prefix) \
         ON CONFLICT DO NOTHING",
    )
    .bind(id.as_str())
    .bind(texts)
    .bind(prefixes)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn get_subscription(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<Subscription>> {
    let sql = format!(
        "SELECT {} FROM subscriptions WHERE id = $1",
        rows::SUBSCRIPTION_COLUMNS
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::subscription).transpose()
}

/// Several subscriptions by id (for claimed jobs); missing ones are simply absent.
pub(super) async fn get_subscriptions(
    conn: &mut PgConnection,
    ids: &[&str],
) -> Result<Vec<Subscription>> {
    let sql = format!(
        "SELECT {} FROM subscriptions WHERE id = ANY($1)",
        rows::SUBSCRIPTION_COLUMNS
    );
    let found = sqlx::query(&sql).bind(ids).fetch_all(conn).await?;
    found.iter().map(rows::subscription).collect()
}

pub(super) async fn list_subscriptions(
    conn: &mut PgConnection,
    filter: &SubscriptionFilter,
    page: &PageRequest,
) -> Result<Page<Subscription>> {
    let limit = rows::page_limit(page);
    let sql = format!(
        "SELECT {} FROM subscriptions WHERE ($1::text IS NULL OR tenant_id = $1) \
         AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
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

/// Runs inside the caller's transaction. Returns `None` if the subscription does not exist,
/// else whether this update resumed it (paused before, active now): its waiting deliveries
/// became claimable, which other nodes must hear about.
pub(super) async fn update_subscription(
    conn: &mut PgConnection,
    sub: &Subscription,
) -> Result<Option<bool>> {
    let before: Option<String> =
        sqlx::query_scalar("SELECT status FROM subscriptions WHERE id = $1 FOR NO KEY UPDATE")
            .bind(sub.id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(before) = before else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE subscriptions SET url = $1, event_types_json = $2, status = $3, \
         description = $4, headers_json = $5, rate_limit_per_second = $6, max_in_flight = $7, \
         contact_email = $8, secrets_json = $9, updated_at = $10 WHERE id = $11",
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
    sqlx::query("DELETE FROM subscription_event_types WHERE subscription_id = $1")
        .bind(sub.id.as_str())
        .execute(&mut *conn)
        .await?;
    insert_patterns(conn, &sub.id, &sub.event_types).await?;
    let resumed = SubscriptionStatus::parse(&before) == Some(SubscriptionStatus::Paused)
        && sub.status == SubscriptionStatus::Active;
    Ok(Some(resumed))
}

pub(super) async fn delete_subscription(
    conn: &mut PgConnection,
    id: &SubscriptionId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM subscriptions WHERE id = $1")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
