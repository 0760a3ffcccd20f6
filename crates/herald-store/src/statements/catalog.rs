//! The catalog's statements: tenants, access tokens, event types, subscriptions.
//!
//! Each function is one statement, shared by both backends. What only one dialect can say
//! stays in that backend: writing a subscription's patterns (one `unnest` insert on
//! PostgreSQL, a cached single-row insert on SQLite) and the row locks PostgreSQL takes
//! before deleting a tenant or updating a subscription.

use super::{Arg, Statement, statement};
use crate::error::StoreError;
use crate::model::{EventType, PageRequest, Subscription, Tenant};
use crate::rows::{
    event_type_columns, micros, page_limit, secret_material, subscription_columns, tenant_columns,
    to_json,
};
use crate::sealing::Keyring;

/// `limit + 1`: the extra row says that another page exists.
fn fetch_limit(page: &PageRequest) -> i64 {
    i64::from(page_limit(page)) + 1
}

/// The ping: any answer means the database is there.
pub(crate) fn ping() -> Statement<'static, 0> {
    statement!("SELECT 1")
}

pub(crate) fn insert_tenant(tenant: &Tenant) -> Statement<'_, 6> {
    statement!(
        "INSERT INTO tenants \
           (id, name, client_id, client_secret_hash, created_at, retention_seconds) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        tenant.id.as_str(),
        tenant.name.as_str(),
        tenant.client_id.as_str(),
        tenant.client_secret_hash.as_str(),
        micros(tenant.created_at),
        retention_arg(tenant.retention_seconds),
    )
}

/// A tenant's retention as stored (the API bounds it far below `i64::MAX`).
fn retention_arg(seconds: Option<u64>) -> Option<i64> {
    seconds.map(|seconds| i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// Sets a tenant's own retention (`None`: the server's); answers with the changed row (none
/// if the tenant does not exist).
pub(crate) fn set_tenant_retention(id: &str, seconds: Option<u64>) -> Statement<'_, 2> {
    statement!(
        concat!(
            "UPDATE tenants SET retention_seconds = $1 WHERE id = $2 RETURNING ",
            tenant_columns!()
        ),
        retention_arg(seconds),
        id,
    )
}

pub(crate) fn tenant_by_id(id: &str) -> Statement<'_, 1> {
    statement!(
        concat!("SELECT ", tenant_columns!(), " FROM tenants WHERE id = $1"),
        id
    )
}

pub(crate) fn tenant_by_client_id(client_id: &str) -> Statement<'_, 1> {
    statement!(
        concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants WHERE client_id = $1"
        ),
        client_id
    )
}

/// Newest first; the cursor is the last id seen.
pub(crate) fn list_tenants(page: &PageRequest) -> Statement<'_, 2> {
    statement!(
        concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants WHERE (CAST($1 AS TEXT) IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        ),
        page.cursor.as_deref(),
        fetch_limit(page),
    )
}

/// Answers with the renamed row (none if the tenant does not exist).
pub(crate) fn rename_tenant<'a>(id: &'a str, name: &'a str) -> Statement<'a, 2> {
    statement!(
        concat!(
            "UPDATE tenants SET name = $1 WHERE id = $2 RETURNING ",
            tenant_columns!()
        ),
        name,
        id,
    )
}

/// Events name their tenant without a foreign key (broadcasts have none), so a tenant's
/// events are deleted explicitly; deleting them also deletes their deliveries.
pub(crate) fn delete_events_of_tenant(id: &str) -> Statement<'_, 1> {
    statement!("DELETE FROM events WHERE tenant_id = $1", id)
}

/// The tenant's subscriptions (and every delivery to them, and attempts) and tokens go by
/// ON DELETE CASCADE.
pub(crate) fn delete_tenant(id: &str) -> Statement<'_, 1> {
    statement!("DELETE FROM tenants WHERE id = $1", id)
}

pub(crate) fn insert_access_token<'a>(
    token_hash: &'a str,
    tenant_id: &'a str,
    expires_at: time::OffsetDateTime,
) -> Statement<'a, 3> {
    statement!(
        "INSERT INTO access_tokens (token_hash, tenant_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        tenant_id,
        micros(expires_at),
    )
}

/// The tenant of an unexpired token (one column, `tenant_id`).
pub(crate) fn access_token_tenant(token_hash: &str, now: time::OffsetDateTime) -> Statement<'_, 2> {
    statement!(
        "SELECT tenant_id FROM access_tokens WHERE token_hash = $1 AND expires_at > $2",
        token_hash,
        micros(now),
    )
}

/// Replaces a tenant's client secret hash; answers with the changed row (none if the tenant
/// does not exist).
pub(crate) fn set_client_secret_hash<'a>(id: &'a str, hash: &'a str) -> Statement<'a, 2> {
    statement!(
        concat!(
            "UPDATE tenants SET client_secret_hash = $1 WHERE id = $2 RETURNING ",
            tenant_columns!()
        ),
        hash,
        id,
    )
}

/// Every token of a tenant (its credentials were rotated).
pub(crate) fn delete_access_tokens_of_tenant(tenant_id: &str) -> Statement<'_, 1> {
    statement!("DELETE FROM access_tokens WHERE tenant_id = $1", tenant_id)
}

/// One token, only if it is the given tenant's: RFC 7009 lets a client revoke its own tokens
/// and no one else's.
pub(crate) fn delete_access_token<'a>(token_hash: &'a str, tenant_id: &'a str) -> Statement<'a, 2> {
    statement!(
        "DELETE FROM access_tokens WHERE token_hash = $1 AND tenant_id = $2",
        token_hash,
        tenant_id,
    )
}

/// At most `limit` expired tokens, so that one purge never holds the writer for long.
pub(crate) fn purge_expired_access_tokens(
    now: time::OffsetDateTime,
    limit: u32,
) -> Statement<'static, 2> {
    statement!(
        "DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash FROM access_tokens \
         WHERE expires_at <= $1 LIMIT $2)",
        micros(now),
        i64::from(limit),
    )
}

pub(crate) fn insert_event_type(event_type: &EventType) -> Result<Statement<'_, 6>, StoreError> {
    Ok(statement!(
        "INSERT INTO event_types (name, description, schema_json, example_json, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        event_type.name.as_str(),
        event_type.description.as_deref(),
        event_type.schema.as_ref().map(to_json).transpose()?,
        event_type.example.as_ref().map(to_json).transpose()?,
        micros(event_type.created_at),
        micros(event_type.updated_at),
    ))
}

pub(crate) fn event_type_by_name(name: &str) -> Statement<'_, 1> {
    statement!(
        concat!(
            "SELECT ",
            event_type_columns!(),
            " FROM event_types WHERE name = $1"
        ),
        name
    )
}

/// By name, ascending; the cursor is the last name seen.
pub(crate) fn list_event_types(page: &PageRequest) -> Statement<'_, 2> {
    statement!(
        concat!(
            "SELECT ",
            event_type_columns!(),
            " FROM event_types WHERE (CAST($1 AS TEXT) IS NULL OR name > $1) \
             ORDER BY name LIMIT $2"
        ),
        page.cursor.as_deref(),
        fetch_limit(page),
    )
}

pub(crate) fn update_event_type(event_type: &EventType) -> Result<Statement<'_, 5>, StoreError> {
    Ok(statement!(
        "UPDATE event_types SET description = $1, schema_json = $2, example_json = $3, \
         updated_at = $4 WHERE name = $5",
        event_type.description.as_deref(),
        event_type.schema.as_ref().map(to_json).transpose()?,
        event_type.example.as_ref().map(to_json).transpose()?,
        micros(event_type.updated_at),
        event_type.name.as_str(),
    ))
}

pub(crate) fn delete_event_type(name: &str) -> Statement<'_, 1> {
    statement!("DELETE FROM event_types WHERE name = $1", name)
}

/// Names that start with `prefix`, ascending, at most `limit`. `substr`, not LIKE, which would
/// read `_` and `%` in names as wildcards; both dialects say `substr` alike. It scans the table,
/// which is fine for the admin's and the subscriber's occasional check, never a publish.
pub(crate) fn event_type_names(prefix: &str, limit: u32) -> Statement<'_, 2> {
    statement!(
        "SELECT name FROM event_types \
         WHERE substr(name, 1, length(CAST($1 AS TEXT))) = $1 ORDER BY name LIMIT $2",
        prefix,
        i64::from(limit),
    )
}

/// The subscriptions (any tenant, active or paused) with a pattern covering the event type
/// `name` (an exact pattern equal to it, or a prefix it starts with: the publish match), each
/// once, by id, at most `limit` rows, every row carrying the total count in `total`.
pub(crate) fn subscriptions_using(name: &str, limit: u32) -> Statement<'_, 2> {
    statement!(
        "SELECT subscription_id, COUNT(*) OVER () AS total FROM ( \
             SELECT DISTINCT subscription_id FROM subscription_event_types \
             WHERE (is_prefix = 0 AND pattern = CAST($1 AS TEXT)) \
                OR (is_prefix = 1 AND substr(CAST($1 AS TEXT), 1, length(pattern)) = pattern) \
         ) AS used ORDER BY subscription_id LIMIT $2",
        name,
        // At least one row, so that the total is read whenever there is one.
        i64::from(limit.max(1)),
    )
}

pub(crate) fn insert_subscription<'a>(
    sub: &'a Subscription,
    keyring: &Keyring,
) -> Result<Statement<'a, 20>, StoreError> {
    Ok(Statement {
        sql: "INSERT INTO subscriptions (id, tenant_id, url, event_types_json, status, \
              description, headers_json, rate_limit_per_second, max_in_flight, contact_email, \
              secrets_json, created_at, updated_at, payload_mode, signature_scheme, \
              signing_keys_json, effective_at, client_certificate_pem, client_key_pem, \
              server_ca_pem) \
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
              $17, $18, $19, $20)",
        args: subscription_args(sub, keyring)?,
    })
}

/// A subscription's columns in table order: the arguments of both [`insert_subscription`]
/// and [`update_subscription`], so each column's value is bound in one place.
fn subscription_args<'a>(
    sub: &'a Subscription,
    keyring: &Keyring,
) -> Result<[Arg<'a>; 20], StoreError> {
    let material = secret_material(sub, keyring)?;
    Ok([
        sub.id.as_str().into(),
        sub.tenant_id.as_str().into(),
        sub.url.as_str().into(),
        to_json(&sub.event_types)?.into(),
        sub.status.as_str().into(),
        sub.description.as_deref().into(),
        material.headers.into(),
        sub.rate_limit_per_second.map(i64::from).into(),
        i64::from(sub.max_in_flight).into(),
        sub.contact_email.as_deref().into(),
        material.secrets.into(),
        micros(sub.created_at).into(),
        micros(sub.updated_at).into(),
        sub.payload_mode.as_str().into(),
        sub.signature_scheme.as_str().into(),
        material.signing_keys.into(),
        sub.effective_at.map(micros).into(),
        sub.client_certificate_pem.as_deref().into(),
        material.client_key.into(),
        sub.server_ca_pem.as_deref().into(),
    ])
}

pub(crate) fn subscription_by_id(id: &str) -> Statement<'_, 1> {
    statement!(
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE id = $1"
        ),
        id
    )
}

/// Newest first, optionally of one tenant; the cursor is the last id seen.
pub(crate) fn list_subscriptions<'a>(
    tenant_id: Option<&'a str>,
    page: &'a PageRequest,
) -> Statement<'a, 3> {
    statement!(
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        ),
        tenant_id,
        page.cursor.as_deref(),
        fetch_limit(page),
    )
}

/// Subscriptions with a client certificate after `$1` (null: from the first), by id, at most
/// `$2`: the primary key's order, so each page is one bounded index walk.
pub(crate) fn client_certificates(after: Option<&str>, limit: u32) -> Statement<'_, 2> {
    statement!(
        "SELECT id, client_certificate_pem FROM subscriptions \
         WHERE client_certificate_pem IS NOT NULL AND (CAST($1 AS TEXT) IS NULL OR id > $1) \
         ORDER BY id LIMIT $2",
        after,
        i64::from(limit),
    )
}

/// Replaces every mutable field; the patterns are rewritten apart (see the module docs). It
/// binds [`insert_subscription`]'s arguments: `$2` (tenant) and `$12` (creation time) never
/// change and go unused.
pub(crate) fn update_subscription<'a>(
    sub: &'a Subscription,
    keyring: &Keyring,
) -> Result<Statement<'a, 20>, StoreError> {
    Ok(Statement {
        sql: "UPDATE subscriptions SET url = $3, event_types_json = $4, status = $5, \
              description = $6, headers_json = $7, rate_limit_per_second = $8, \
              max_in_flight = $9, contact_email = $10, secrets_json = $11, updated_at = $13, \
              payload_mode = $14, signature_scheme = $15, signing_keys_json = $16, \
              effective_at = $17, client_certificate_pem = $18, client_key_pem = $19, \
              server_ca_pem = $20 WHERE id = $1",
        args: subscription_args(sub, keyring)?,
    })
}

/// How many subscriptions a tenant has (one column, `total`), for the per-tenant limit: an
/// index walk of `subscriptions (tenant_id, …)`.
pub(crate) fn count_subscriptions(tenant_id: &str) -> Statement<'_, 1> {
    statement!(
        "SELECT count(*) AS total FROM subscriptions WHERE tenant_id = $1",
        tenant_id
    )
}

pub(crate) fn delete_patterns(subscription_id: &str) -> Statement<'_, 1> {
    statement!(
        "DELETE FROM subscription_event_types WHERE subscription_id = $1",
        subscription_id
    )
}

pub(crate) fn delete_subscription(id: &str) -> Statement<'_, 1> {
    statement!("DELETE FROM subscriptions WHERE id = $1", id)
}
