//! Events and the deliveries they fan out to, and the read side of deliveries and attempts.
//!
//! `publish` matches subscriptions in SQL against `subscription_event_types` (exact names by
//! index, wildcard prefixes with `substr`, never LIKE, whose `_` and `%` are wildcards), then
//! writes one delivery per subscription. Writes are synchronous functions on the writer thread's
//! `rusqlite::Connection`, inside its batch transaction (cached statements, no transaction of
//! their own), so an event and its deliveries commit together, with other callers' events.
//! Reads (events, deliveries, attempts) are async, on a sqlx read-pool connection.

use rusqlite::{Connection, OptionalExtension, params};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, micros};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn publish(conn: &Connection, event: &Event) -> Result<Published> {
    if let Some(key) = &event.idempotency_key
        && let Some(first) = first_with_key(conn, event.tenant_id.as_ref(), key)?
    {
        return Ok(first);
    }
    insert_event(conn, event)?;
    let targets = matching_subscriptions(conn, &event.event_type, event.tenant_id.as_ref())?;
    for (subscription_id, tenant_id) in &targets {
        insert_delivery(conn, event, subscription_id, tenant_id, None)?;
    }
    Ok(Published {
        event_id: event.id.clone(),
        deliveries: targets.len() as u64,
        duplicate: false,
    })
}

/// The event already published under `(tenant, key)`, as a duplicate's answer.
pub(super) fn first_with_key(
    conn: &Connection,
    tenant_id: Option<&TenantId>,
    key: &str,
) -> Result<Option<Published>> {
    // The same expression as the unique index, so the index answers this lookup.
    let first: Option<String> = conn
        .prepare_cached(
            "SELECT id FROM events WHERE coalesce(tenant_id, '') = ? AND idempotency_key = ? \
             AND idempotency_key IS NOT NULL",
        )?
        .query_row(params![tenant_id.map_or("", |t| t.as_str()), key], |row| {
            row.get(0)
        })
        .optional()?;
    let Some(first) = first else {
        return Ok(None);
    };
    let deliveries: i64 = conn
        .prepare_cached("SELECT count(*) FROM deliveries WHERE event_id = ?")?
        .query_row(params![first], |row| row.get(0))?;
    Ok(Some(Published {
        event_id: EventId::from_trusted(first),
        deliveries: u64::try_from(deliveries).unwrap_or(0),
        duplicate: true,
    }))
}

/// `(subscription id, its tenant id)` of every subscription, active or paused, that wants
/// `event_type`: the tenant's, or every tenant's when `tenant_id` is `None` (a broadcast).
pub(super) fn matching_subscriptions(
    conn: &Connection,
    event_type: &str,
    tenant_id: Option<&TenantId>,
) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT s.id, s.tenant_id FROM subscription_event_types p \
         JOIN subscriptions s ON s.id = p.subscription_id \
         WHERE ((p.is_prefix = 0 AND p.pattern = ?1) \
             OR (p.is_prefix = 1 AND substr(?1, 1, length(p.pattern)) = p.pattern)) \
           AND (?2 IS NULL OR s.tenant_id = ?2) \
         ORDER BY s.id",
    )?;
    let targets = stmt
        .query_map(params![event_type, tenant_id.map(|t| t.as_str())], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(targets)
}

pub(super) fn publish_to(
    conn: &Connection,
    event: &Event,
    subscription_id: &SubscriptionId,
    lease_until: OffsetDateTime,
) -> Result<Delivery> {
    let tenant_id: Option<String> = conn
        .prepare_cached("SELECT tenant_id FROM subscriptions WHERE id = ?")?
        .query_row(params![subscription_id.as_str()], |row| row.get(0))
        .optional()?;
    // The trait returns a delivery, not an option: a subscription deleted since the caller
    // looked it up is the database's "no such row" (sqlx's, as the trait documents).
    let tenant_id = tenant_id.ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))?;
    insert_event(conn, event)?;
    let id = insert_delivery(
        conn,
        event,
        subscription_id.as_str(),
        &tenant_id,
        Some(lease_until),
    )?;
    delivery_on(conn, id.as_str())?.ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))
}

pub(super) fn insert_event(conn: &Connection, event: &Event) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (id, event_type, payload_json, tenant_id, idempotency_key, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        event.id.as_str(),
        event.event_type,
        event.payload_json,
        event.tenant_id.as_ref().map(|t| t.as_str()),
        event.idempotency_key.as_deref(),
        micros(event.created_at),
    ])?;
    Ok(())
}

pub(super) fn insert_delivery(
    conn: &Connection,
    event: &Event,
    subscription_id: &str,
    tenant_id: &str,
    lease_until: Option<OffsetDateTime>,
) -> Result<DeliveryId> {
    let id = DeliveryId::generate();
    let created = micros(event.created_at);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO deliveries (id, event_id, subscription_id, tenant_id, event_type, status, \
         attempts, scheduled_attempts, next_attempt_at, lease_until, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        id.as_str(),
        event.id.as_str(),
        subscription_id,
        tenant_id,
        event.event_type,
        created,
        lease_until.map(micros),
        created,
        created,
    ])?;
    Ok(id)
}

pub(super) async fn get_event(conn: &mut SqliteConnection, id: &str) -> Result<Option<Event>> {
    let sql = format!("SELECT {} FROM events WHERE id = ?", rows::EVENT_COLUMNS);
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::event).transpose()
}

pub(super) async fn list_events(
    conn: &mut SqliteConnection,
    filter: &EventFilter,
    page: &PageRequest,
) -> Result<Page<Event>> {
    let limit = rows::page_limit(page);
    let mut query = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {} FROM events WHERE 1 = 1",
        rows::EVENT_COLUMNS
    ));
    if let Some(event_type) = &filter.event_type {
        query
            .push(" AND event_type = ")
            .push_bind(event_type.clone());
    }
    if let Some(tenant) = &filter.tenant_id {
        query
            .push(" AND (tenant_id = ")
            .push_bind(tenant.as_str().to_owned());
        if filter.include_broadcasts {
            query.push(" OR tenant_id IS NULL");
        }
        query.push(")");
    }
    push_page(&mut query, page, limit);
    let found = query.build().fetch_all(conn).await?;
    let items = found.iter().map(rows::event).collect::<Result<Vec<_>>>()?;
    Ok(rows::page(items, limit, |e| e.id.to_string()))
}

/// Appends the newest-first cursor condition, order and `limit + 1`.
fn push_page(query: &mut QueryBuilder<'_, Sqlite>, page: &PageRequest, limit: u32) {
    if let Some(cursor) = &page.cursor {
        query.push(" AND id < ").push_bind(cursor.clone());
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
}

pub(super) async fn get_delivery(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Delivery>> {
    let sql = format!(
        "SELECT {} FROM deliveries WHERE id = ?",
        rows::DELIVERY_COLUMNS
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::delivery).transpose()
}

/// [`get_delivery`] on the writer's connection, for writes that answer with the delivery they
/// wrote or leased (it sees the batch's uncommitted writes, which a read-pool connection would
/// not).
pub(super) fn delivery_on(conn: &Connection, id: &str) -> Result<Option<Delivery>> {
    let sql = format!(
        "SELECT {} FROM deliveries WHERE id = ?",
        rows::DELIVERY_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found = stmt.query(params![id])?;
    found.next()?.map(rows::delivery).transpose()
}

pub(super) async fn list_deliveries(
    conn: &mut SqliteConnection,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    let limit = rows::page_limit(page);
    let mut query = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {} FROM deliveries WHERE 1 = 1",
        rows::DELIVERY_COLUMNS
    ));
    let ids: [(&str, Option<&str>); 3] = [
        ("tenant_id", filter.tenant_id.as_ref().map(TenantId::as_str)),
        (
            "subscription_id",
            filter.subscription_id.as_ref().map(SubscriptionId::as_str),
        ),
        ("event_id", filter.event_id.as_ref().map(EventId::as_str)),
    ];
    for (column, value) in ids {
        if let Some(value) = value {
            query
                .push(format!(" AND {column} = "))
                .push_bind(value.to_owned());
        }
    }
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
    push_page(&mut query, page, limit);
    let found = query.build().fetch_all(conn).await?;
    let items = found
        .iter()
        .map(rows::delivery)
        .collect::<Result<Vec<_>>>()?;
    Ok(rows::page(items, limit, |d| d.id.to_string()))
}

pub(super) async fn list_attempts(
    conn: &mut SqliteConnection,
    delivery_id: &str,
) -> Result<Vec<Attempt>> {
    let sql = format!(
        "SELECT {} FROM attempts WHERE delivery_id = ? ORDER BY started_at, id",
        rows::ATTEMPT_COLUMNS
    );
    let found = sqlx::query(&sql).bind(delivery_id).fetch_all(conn).await?;
    found.iter().map(rows::attempt).collect()
}
