//! Tenants, access tokens, event types and subscriptions on SQLite: the rows people manage.
//!
//! Each function runs the shared statements of [`crate::statements::catalog`] on the
//! connection it is given: a reader's for reads, the writer's (inside its batch transaction,
//! never opening or committing one itself) for writes. A write that answers with a row reads
//! it on the writer's connection, which sees the batch's uncommitted writes. The one statement
//! only SQLite says is the pattern insert (`INSERT OR IGNORE`, one cached row at a time).

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::{SubscriptionId, TenantId};
use crate::model::*;
use crate::rows;
use crate::sealing::Keyring;
use crate::statements::{catalog as sql, statement};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn create_tenant(conn: &Connection, tenant: &Tenant) -> Result<()> {
    run::execute(conn, &sql::insert_tenant(tenant))?;
    Ok(())
}

pub(super) fn get_tenant(conn: &Connection, id: &str) -> Result<Option<Tenant>> {
    run::optional(conn, &sql::tenant_by_id(id), |row| rows::tenant(row))
}

pub(super) fn get_tenant_by_client_id(
    conn: &Connection,
    client_id: &str,
) -> Result<Option<Tenant>> {
    run::optional(conn, &sql::tenant_by_client_id(client_id), |row| {
        rows::tenant(row)
    })
}

pub(super) fn list_tenants(conn: &Connection, page: &PageRequest) -> Result<Page<Tenant>> {
    let items = run::all(conn, &sql::list_tenants(page), |row| rows::tenant(row))?;
    Ok(rows::tenant_page(items, page))
}

pub(super) fn rename_tenant(
    conn: &Connection,
    id: &TenantId,
    name: &str,
) -> Result<Option<Tenant>> {
    run::optional(conn, &sql::rename_tenant(id.as_str(), name), |row| {
        rows::tenant(row)
    })
}

/// Answers with the changed row (none if the tenant does not exist).
pub(super) fn set_tenant_retention(
    conn: &Connection,
    id: &TenantId,
    seconds: Option<u64>,
) -> Result<Option<Tenant>> {
    run::optional(
        conn,
        &sql::set_tenant_retention(id.as_str(), seconds),
        |row| rows::tenant(row),
    )
}

pub(super) fn delete_tenant(conn: &Connection, id: &TenantId) -> Result<bool> {
    run::execute(conn, &sql::delete_events_of_tenant(id.as_str()))?;
    Ok(run::execute(conn, &sql::delete_tenant(id.as_str()))? > 0)
}

pub(super) fn insert_access_token(
    conn: &Connection,
    token_hash: &str,
    tenant_id: &TenantId,
    expires_at: OffsetDateTime,
) -> Result<()> {
    let insert = sql::insert_access_token(token_hash, tenant_id.as_str(), expires_at);
    run::execute(conn, &insert)?;
    Ok(())
}

pub(super) fn access_token_tenant(
    conn: &Connection,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<TenantId>> {
    run::optional(conn, &sql::access_token_tenant(token_hash, now), |row| {
        Ok(TenantId::from_trusted(rows::get(row, "tenant_id")?))
    })
}

pub(super) fn revoke_access_token(
    conn: &Connection,
    token_hash: &str,
    tenant_id: &TenantId,
) -> Result<bool> {
    let delete = sql::delete_access_token(token_hash, tenant_id.as_str());
    Ok(run::execute(conn, &delete)? > 0)
}

pub(super) fn purge_expired_access_tokens(
    conn: &Connection,
    now: OffsetDateTime,
    limit: u32,
) -> Result<u64> {
    let purged = run::execute(conn, &sql::purge_expired_access_tokens(now, limit))?;
    Ok(u64::try_from(purged).unwrap_or(u64::MAX))
}

/// Runs inside the writer's batch transaction, so the new hash and the deleted tokens commit
/// together.
pub(super) fn rotate_tenant_credentials(
    conn: &Connection,
    id: &TenantId,
    client_secret_hash: &str,
) -> Result<Option<Tenant>> {
    let update = sql::set_client_secret_hash(id.as_str(), client_secret_hash);
    let tenant = run::optional(conn, &update, |row| rows::tenant(row))?;
    if tenant.is_some() {
        run::execute(conn, &sql::delete_access_tokens_of_tenant(id.as_str()))?;
    }
    Ok(tenant)
}

pub(super) fn create_event_type(conn: &Connection, event_type: &EventType) -> Result<()> {
    run::execute(conn, &sql::insert_event_type(event_type)?)?;
    Ok(())
}

pub(super) fn get_event_type(conn: &Connection, name: &str) -> Result<Option<EventType>> {
    run::optional(conn, &sql::event_type_by_name(name), |row| {
        rows::event_type(row)
    })
}

pub(super) fn list_event_types(conn: &Connection, page: &PageRequest) -> Result<Page<EventType>> {
    let items = run::all(conn, &sql::list_event_types(page), |row| {
        rows::event_type(row)
    })?;
    Ok(rows::event_type_page(items, page))
}

pub(super) fn update_event_type(conn: &Connection, event_type: &EventType) -> Result<bool> {
    Ok(run::execute(conn, &sql::update_event_type(event_type)?)? > 0)
}

pub(super) fn delete_event_type(conn: &Connection, name: &str) -> Result<bool> {
    Ok(run::execute(conn, &sql::delete_event_type(name))? > 0)
}

pub(super) fn event_type_names(conn: &Connection, prefix: &str, limit: u32) -> Result<Vec<String>> {
    run::all(conn, &sql::event_type_names(prefix, limit), |row| {
        rows::get(row, "name")
    })
}

pub(super) fn event_type_usage(
    conn: &Connection,
    name: &str,
    sample: u32,
) -> Result<EventTypeUsage> {
    let found = run::all(conn, &sql::subscriptions_using(name, sample), |row| {
        Ok((rows::get(row, "subscription_id")?, rows::get(row, "total")?))
    })?;
    Ok(rows::event_type_usage(found))
}

pub(super) fn count_subscriptions(conn: &Connection, tenant_id: &str) -> Result<u64> {
    let total: Option<i64> = run::optional(conn, &sql::count_subscriptions(tenant_id), |row| {
        rows::get(row, "total")
    })?;
    Ok(total.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

pub(super) fn create_subscription(
    conn: &Connection,
    keyring: &Keyring,
    sub: &Subscription,
) -> Result<()> {
    run::execute(conn, &sql::insert_subscription(sub, keyring)?)?;
    insert_patterns(conn, &sub.id, &sub.event_types)
}

fn insert_patterns(conn: &Connection, id: &SubscriptionId, patterns: &[String]) -> Result<()> {
    for pattern in patterns {
        let (text, is_prefix) = rows::pattern_row(pattern);
        // OR IGNORE: the same pattern listed twice is one pattern.
        let insert = statement!(
            "INSERT OR IGNORE INTO subscription_event_types (subscription_id, pattern, is_prefix) \
             VALUES ($1, $2, $3)",
            id.as_str(),
            text,
            i64::from(is_prefix),
        );
        run::execute(conn, &insert)?;
    }
    Ok(())
}

pub(super) fn get_subscription(
    conn: &Connection,
    keyring: &Keyring,
    id: &str,
) -> Result<Option<Subscription>> {
    run::optional(conn, &sql::subscription_by_id(id), |row| {
        rows::subscription(row, keyring)
    })
}

pub(super) fn list_subscriptions(
    conn: &Connection,
    keyring: &Keyring,
    filter: &SubscriptionFilter,
    page: &PageRequest,
) -> Result<Page<Subscription>> {
    let tenant = filter.tenant_id.as_ref().map(TenantId::as_str);
    let items = run::all(conn, &sql::list_subscriptions(tenant, page), |row| {
        rows::subscription(row, keyring)
    })?;
    Ok(rows::subscription_page(items, page))
}

pub(super) fn client_certificates(
    conn: &Connection,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<(SubscriptionId, String)>> {
    run::all(conn, &sql::client_certificates(after, limit), |row| {
        Ok((
            SubscriptionId::from_trusted(rows::get(row, "id")?),
            rows::get(row, "client_certificate_pem")?,
        ))
    })
}

pub(super) fn update_subscription(
    conn: &Connection,
    keyring: &Keyring,
    sub: &Subscription,
) -> Result<bool> {
    if run::execute(conn, &sql::update_subscription(sub, keyring)?)? == 0 {
        return Ok(false);
    }
    run::execute(conn, &sql::delete_patterns(sub.id.as_str()))?;
    insert_patterns(conn, &sub.id, &sub.event_types)?;
    Ok(true)
}

pub(super) fn delete_subscription(conn: &Connection, id: &SubscriptionId) -> Result<bool> {
    Ok(run::execute(conn, &sql::delete_subscription(id.as_str()))? > 0)
}
