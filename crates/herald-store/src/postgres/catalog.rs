//! Tenants, access tokens, event types and subscriptions on PostgreSQL: the rows people
//! manage.
//!
//! Each function runs the shared statements of [`crate::statements::catalog`] on the
//! connection it is given; the caller ([`super::PgStore`]) opens the transaction when a write
//! takes more than one statement. What only PostgreSQL says is here: a subscription's
//! patterns in one `unnest` insert, many subscriptions by `ANY($1)`, and row locks. The one
//! choice worth a note: deleting a tenant first locks its subscriptions in id order, the order
//! in which claims lock them, so a deletion racing a claim waits for it instead of
//! deadlocking with it.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::{SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, subscription_columns};
use crate::sealing::Keyring;
use crate::statements::catalog as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn create_tenant(conn: &mut PgConnection, tenant: &Tenant) -> Result<()> {
    run::execute(conn, &sql::insert_tenant(tenant)).await?;
    Ok(())
}

pub(super) async fn get_tenant(conn: &mut PgConnection, id: &str) -> Result<Option<Tenant>> {
    run::optional(conn, &sql::tenant_by_id(id), rows::tenant).await
}

pub(super) async fn get_tenant_by_client_id(
    conn: &mut PgConnection,
    client_id: &str,
) -> Result<Option<Tenant>> {
    run::optional(conn, &sql::tenant_by_client_id(client_id), rows::tenant).await
}

pub(super) async fn list_tenants(
    conn: &mut PgConnection,
    page: &PageRequest,
) -> Result<Page<Tenant>> {
    let items = run::all(conn, &sql::list_tenants(page), rows::tenant).await?;
    Ok(rows::tenant_page(items, page))
}

pub(super) async fn rename_tenant(
    conn: &mut PgConnection,
    id: &TenantId,
    name: &str,
) -> Result<Option<Tenant>> {
    run::optional(conn, &sql::rename_tenant(id.as_str(), name), rows::tenant).await
}

pub(super) async fn set_tenant_retention(
    conn: &mut PgConnection,
    id: &TenantId,
    seconds: Option<u64>,
) -> Result<Option<Tenant>> {
    run::optional(
        conn,
        &sql::set_tenant_retention(id.as_str(), seconds),
        rows::tenant,
    )
    .await
}

/// Runs inside the caller's transaction.
pub(super) async fn delete_tenant(conn: &mut PgConnection, id: &TenantId) -> Result<bool> {
    // Lock the tenant's subscriptions in id order first: claims lock subscriptions in that
    // order, so taking them in any other order (as the cascade below would) could deadlock.
    sqlx::query("SELECT id FROM subscriptions WHERE tenant_id = $1 ORDER BY id FOR UPDATE")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    run::execute(conn, &sql::delete_events_of_tenant(id.as_str())).await?;
    let deleted = run::execute(conn, &sql::delete_tenant(id.as_str())).await? > 0;
    // The cascade took the tenant's subscriptions; their deliveries (all of which carry the
    // tenant, broadcasts' too) have no foreign key to follow (migrations/postgres/0011).
    delete_deliveries(conn, "tenant_id", id.as_str()).await?;
    Ok(deleted)
}

/// Deletes the deliveries (and by its foreign key their attempts) whose `column` is `value`:
/// what `ON DELETE CASCADE` from their subscription or tenant did before
/// migrations/postgres/0011. Run after the parent's own delete, in a statement of its own:
/// its fresh snapshot sees the deliveries of every publish that held the subscription's `KEY
/// SHARE` lock (taken when it matched the subscription) until the parent's delete could go on.
pub(super) async fn delete_deliveries(
    conn: &mut PgConnection,
    column: &'static str,
    value: &str,
) -> Result<u64> {
    let sql = format!("DELETE FROM deliveries WHERE {column} = $1");
    Ok(sqlx::query(&sql)
        .bind(value)
        .execute(conn)
        .await?
        .rows_affected())
}

pub(super) async fn insert_access_token(
    conn: &mut PgConnection,
    token_hash: &str,
    tenant_id: &TenantId,
    expires_at: OffsetDateTime,
) -> Result<()> {
    let insert = sql::insert_access_token(token_hash, tenant_id.as_str(), expires_at);
    run::execute(conn, &insert).await?;
    Ok(())
}

pub(super) async fn access_token_tenant(
    conn: &mut PgConnection,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<TenantId>> {
    run::optional(conn, &sql::access_token_tenant(token_hash, now), |row| {
        Ok(TenantId::from_trusted(rows::get(row, "tenant_id")?))
    })
    .await
}

pub(super) async fn revoke_access_token(
    conn: &mut PgConnection,
    token_hash: &str,
    tenant_id: &TenantId,
) -> Result<bool> {
    let delete = sql::delete_access_token(token_hash, tenant_id.as_str());
    Ok(run::execute(conn, &delete).await? > 0)
}

pub(super) async fn purge_expired_access_tokens(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    limit: u32,
) -> Result<u64> {
    run::execute(conn, &sql::purge_expired_access_tokens(now, limit)).await
}

/// Runs inside the caller's transaction, so the new hash and the deleted tokens commit
/// together.
pub(super) async fn rotate_tenant_credentials(
    conn: &mut PgConnection,
    id: &TenantId,
    client_secret_hash: &str,
) -> Result<Option<Tenant>> {
    let update = sql::set_client_secret_hash(id.as_str(), client_secret_hash);
    let tenant = run::optional(conn, &update, rows::tenant).await?;
    if tenant.is_some() {
        run::execute(conn, &sql::delete_access_tokens_of_tenant(id.as_str())).await?;
    }
    Ok(tenant)
}

pub(super) async fn create_event_type(
    conn: &mut PgConnection,
    event_type: &EventType,
) -> Result<()> {
    run::execute(conn, &sql::insert_event_type(event_type)?).await?;
    Ok(())
}

pub(super) async fn get_event_type(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<EventType>> {
    run::optional(conn, &sql::event_type_by_name(name), rows::event_type).await
}

pub(super) async fn list_event_types(
    conn: &mut PgConnection,
    page: &PageRequest,
) -> Result<Page<EventType>> {
    let items = run::all(conn, &sql::list_event_types(page), rows::event_type).await?;
    Ok(rows::event_type_page(items, page))
}

pub(super) async fn update_event_type(
    conn: &mut PgConnection,
    event_type: &EventType,
) -> Result<bool> {
    Ok(run::execute(conn, &sql::update_event_type(event_type)?).await? > 0)
}

pub(super) async fn delete_event_type(conn: &mut PgConnection, name: &str) -> Result<bool> {
    Ok(run::execute(conn, &sql::delete_event_type(name)).await? > 0)
}

pub(super) async fn event_type_names(
    conn: &mut PgConnection,
    prefix: &str,
    limit: u32,
) -> Result<Vec<String>> {
    run::all(conn, &sql::event_type_names(prefix, limit), |row| {
        rows::get(row, "name")
    })
    .await
}

pub(super) async fn event_type_usage(
    conn: &mut PgConnection,
    name: &str,
    sample: u32,
) -> Result<EventTypeUsage> {
    let found = run::all(conn, &sql::subscriptions_using(name, sample), |row| {
        Ok((rows::get(row, "subscription_id")?, rows::get(row, "total")?))
    })
    .await?;
    Ok(rows::event_type_usage(found))
}

pub(super) async fn count_subscriptions(conn: &mut PgConnection, tenant_id: &str) -> Result<u64> {
    let total: Option<i64> = run::optional(conn, &sql::count_subscriptions(tenant_id), |row| {
        rows::get(row, "total")
    })
    .await?;
    Ok(total.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// Runs inside the caller's transaction (the row and its patterns go together).
pub(super) async fn create_subscription(
    conn: &mut PgConnection,
    keyring: &Keyring,
    sub: &Subscription,
) -> Result<()> {
    run::execute(conn, &sql::insert_subscription(sub, keyring)?).await?;
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
    keyring: &Keyring,
    id: &str,
) -> Result<Option<Subscription>> {
    run::optional(conn, &sql::subscription_by_id(id), |row| {
        rows::subscription(row, keyring)
    })
    .await
}

/// Several subscriptions by id (for claimed jobs); missing ones are simply absent.
pub(super) async fn get_subscriptions(
    conn: &mut PgConnection,
    keyring: &Keyring,
    ids: &[&str],
) -> Result<Vec<Subscription>> {
    let found = sqlx::query(concat!(
        "SELECT ",
        subscription_columns!(),
        " FROM subscriptions WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    found
        .iter()
        .map(|row| rows::subscription(row, keyring))
        .collect()
}

pub(super) async fn list_subscriptions(
    conn: &mut PgConnection,
    keyring: &Keyring,
    filter: &SubscriptionFilter,
    page: &PageRequest,
) -> Result<Page<Subscription>> {
    let tenant = filter.tenant_id.as_ref().map(TenantId::as_str);
    let list = sql::list_subscriptions(tenant, page);
    let items = run::all(conn, &list, |row| rows::subscription(row, keyring)).await?;
    Ok(rows::subscription_page(items, page))
}

pub(super) async fn client_certificates(
    conn: &mut PgConnection,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<(SubscriptionId, String)>> {
    run::all(conn, &sql::client_certificates(after, limit), |row| {
        Ok((
            SubscriptionId::from_trusted(rows::get(row, "id")?),
            rows::get(row, "client_certificate_pem")?,
        ))
    })
    .await
}

/// Runs inside the caller's transaction. Returns `None` if the subscription does not exist,
/// else whether this update resumed it (paused before, active now): its waiting deliveries
/// became claimable, which other nodes must hear about.
pub(super) async fn update_subscription(
    conn: &mut PgConnection,
    keyring: &Keyring,
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
    run::execute(conn, &sql::update_subscription(sub, keyring)?).await?;
    run::execute(conn, &sql::delete_patterns(sub.id.as_str())).await?;
    insert_patterns(conn, &sub.id, &sub.event_types).await?;
    let resumed = SubscriptionStatus::parse(&before) == Some(SubscriptionStatus::Paused)
        && sub.status == SubscriptionStatus::Active;
    Ok(Some(resumed))
}

/// Runs inside the caller's transaction: the subscription first (which waits for publishes
/// holding its `KEY SHARE` lock), then its deliveries ([`delete_deliveries`]).
pub(super) async fn delete_subscription(
    conn: &mut PgConnection,
    id: &SubscriptionId,
) -> Result<bool> {
    let deleted = run::execute(conn, &sql::delete_subscription(id.as_str())).await? > 0;
    delete_deliveries(conn, "subscription_id", id.as_str()).await?;
    Ok(deleted)
}
