//! Events and the deliveries they fan out to on PostgreSQL, and the read side of deliveries
//! and attempts.
//!
//! `publish` runs in one transaction: the event (`ON CONFLICT … DO NOTHING` on the idempotency
//! index, so two nodes publishing one key at once wait for each other and the second answers
//! with the first's event instead of failing), then every delivery in one multi-row insert,
//! then `pg_notify`, which PostgreSQL delivers to every listening node only at commit, so a
//! node woken by it always finds the deliveries committed.

use sqlx::{PgConnection, Postgres, QueryBuilder};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, micros};

type Result<T> = std::result::Result<T, StoreError>;

/// The channel every node listens on; the payload is empty (the wake-up is the message).
pub(super) const WORK_CHANNEL: &str = "herald_work";

/// Runs inside the caller's transaction.
pub(super) async fn publish(conn: &mut PgConnection, event: &Event) -> Result<Published> {
    Ok(publish_with_deliveries(conn, event).await?.0)
}

/// [`publish`], also returning each new delivery's id with its subscription id (none for a
/// duplicate), for `publish_and_lease`.
pub(super) async fn publish_with_deliveries(
    conn: &mut PgConnection,
    event: &Event,
) -> Result<(Published, Vec<(DeliveryId, String)>)> {
    let inserted: Option<String> = sqlx::query_scalar(
        "INSERT INTO events (id, event_type, payload_json, tenant_id, idempotency_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT ((coalesce(tenant_id, '')), idempotency_key) \
           WHERE idempotency_key IS NOT NULL DO NOTHING \
         RETURNING id",
    )
    .bind(event.id.as_str())
    .bind(&event.event_type)
    .bind(&event.payload_json)
    .bind(event.tenant_id.as_ref().map(TenantId::as_str))
    .bind(event.idempotency_key.as_deref())
    .bind(micros(event.created_at))
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        // Only the idempotency index arbitrates DO NOTHING, so the key is taken by a committed
        // event (ON CONFLICT waited for its transaction), which this statement's fresh
        // snapshot sees.
        let key = event.idempotency_key.as_deref().unwrap_or_default();
        let first = first_with_key(conn, event.tenant_id.as_ref(), key)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!("idempotency key {key:?} is being published"))
            })?;
        return Ok((first, Vec::new()));
    }
    let targets = matching_subscriptions(conn, &event.event_type, event.tenant_id.as_ref()).await?;
    let ids = insert_deliveries(conn, event, &targets, None).await?;
    if !targets.is_empty() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(WORK_CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    let published = Published {
        event_id: event.id.clone(),
        deliveries: targets.len() as u64,
        duplicate: false,
    };
    let created = ids
        .into_iter()
        .zip(targets.into_iter().map(|(subscription, _)| subscription))
        .collect();
    Ok((published, created))
}

/// The event already published under `(tenant, key)`, as a duplicate's answer.
async fn first_with_key(
    conn: &mut PgConnection,
    tenant_id: Option<&TenantId>,
    key: &str,
) -> Result<Option<Published>> {
    // The same expression as the unique index, so the index answers this lookup.
    let first: Option<(String, i64)> = sqlx::query_as(
        "SELECT e.id, (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) \
         FROM events e WHERE coalesce(e.tenant_id, '') = $1 AND e.idempotency_key = $2 \
           AND e.idempotency_key IS NOT NULL",
    )
    .bind(tenant_id.map_or("", TenantId::as_str))
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(first.map(|(id, deliveries)| Published {
        event_id: EventId::from_trusted(id),
        deliveries: u64::try_from(deliveries).unwrap_or(0),
        duplicate: true,
    }))
}

/// `(subscription id, its tenant id)` of every subscription, active or paused, that wants
/// `event_type`: the tenant's, or every tenant's when `tenant_id` is `None` (a broadcast).
async fn matching_subscriptions(
    conn: &mut PgConnection,
    event_type: &str,
    tenant_id: Option<&TenantId>,
) -> Result<Vec<(String, String)>> {
    let targets = sqlx::query_as(
        "SELECT DISTINCT s.id, s.tenant_id FROM subscription_event_types p \
         JOIN subscriptions s ON s.id = p.subscription_id \
         WHERE ((p.is_prefix = 0 AND p.pattern = $1) \
             OR (p.is_prefix = 1 AND starts_with($1, p.pattern))) \
           AND ($2::text IS NULL OR s.tenant_id = $2) \
         ORDER BY s.id",
    )
    .bind(event_type)
    .bind(tenant_id.map(TenantId::as_str))
    .fetch_all(conn)
    .await?;
    Ok(targets)
}

/// One pending delivery of `event` per target, due at its creation, in one statement.
async fn insert_deliveries(
    conn: &mut PgConnection,
    event: &Event,
    targets: &[(String, String)],
    lease_until: Option<OffsetDateTime>,
) -> Result<Vec<DeliveryId>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<DeliveryId> = targets.iter().map(|_| DeliveryId::generate()).collect();
    let id_texts: Vec<&str> = ids.iter().map(DeliveryId::as_str).collect();
    let (subscriptions, tenants): (Vec<&str>, Vec<&str>) = targets
        .iter()
        .map(|(subscription, tenant)| (subscription.as_str(), tenant.as_str()))
        .unzip();
    sqlx::query(
        "INSERT INTO deliveries (id, event_id, subscription_id, tenant_id, event_type, status, \
         attempts, scheduled_attempts, next_attempt_at, lease_until, created_at, updated_at) \
         SELECT t.id, $4, t.subscription_id, t.tenant_id, $5, 'pending', 0, 0, $6, $7, $6, $6 \
         FROM unnest($1::text[], $2::text[], $3::text[]) AS t (id, subscription_id, tenant_id)",
    )
    .bind(id_texts)
    .bind(subscriptions)
    .bind(tenants)
    .bind(event.id.as_str())
    .bind(&event.event_type)
    .bind(micros(event.created_at))
    .bind(lease_until.map(micros))
    .execute(conn)
    .await?;
    Ok(ids)
}

/// Runs inside the caller's transaction.
pub(super) async fn publish_to(
    conn: &mut PgConnection,
    event: &Event,
    subscription_id: &SubscriptionId,
    lease_until: OffsetDateTime,
) -> Result<Delivery> {
    let tenant_id: Option<String> =
        sqlx::query_scalar("SELECT tenant_id FROM subscriptions WHERE id = $1")
            .bind(subscription_id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    // The trait returns a delivery, not an option: a subscription deleted since the caller
    // looked it up is the database's "no such row".
    let tenant_id = tenant_id.ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))?;
    sqlx::query(
        "INSERT INTO events (id, event_type, payload_json, tenant_id, idempotency_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.id.as_str())
    .bind(&event.event_type)
    .bind(&event.payload_json)
    .bind(event.tenant_id.as_ref().map(TenantId::as_str))
    .bind(event.idempotency_key.as_deref())
    .bind(micros(event.created_at))
    .execute(&mut *conn)
    .await?;
    let target = [(subscription_id.as_str().to_owned(), tenant_id)];
    let ids = insert_deliveries(conn, event, &target, Some(lease_until)).await?;
    let id = ids
        .first()
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))?;
    get_delivery(conn, id.as_str())
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))
}

pub(super) async fn get_event(conn: &mut PgConnection, id: &str) -> Result<Option<Event>> {
    let sql = format!("SELECT {} FROM events WHERE id = $1", rows::EVENT_COLUMNS);
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::event).transpose()
}

/// Several events by id (for claimed jobs); missing ones are simply absent.
pub(super) async fn get_events(conn: &mut PgConnection, ids: &[&str]) -> Result<Vec<Event>> {
    let sql = format!(
        "SELECT {} FROM events WHERE id = ANY($1)",
        rows::EVENT_COLUMNS
    );
    let found = sqlx::query(&sql).bind(ids).fetch_all(conn).await?;
    found.iter().map(rows::event).collect()
}

pub(super) async fn list_events(
    conn: &mut PgConnection,
    filter: &EventFilter,
    page: &PageRequest,
) -> Result<Page<Event>> {
    let limit = rows::page_limit(page);
    let mut query = QueryBuilder::<Postgres>::new(format!(
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
fn push_page(query: &mut QueryBuilder<'_, Postgres>, page: &PageRequest, limit: u32) {
    if let Some(cursor) = &page.cursor {
        query.push(" AND id < ").push_bind(cursor.clone());
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
}

pub(super) async fn get_delivery(conn: &mut PgConnection, id: &str) -> Result<Option<Delivery>> {
    let sql = format!(
        "SELECT {} FROM deliveries WHERE id = $1",
        rows::DELIVERY_COLUMNS
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(rows::delivery).transpose()
}

pub(super) async fn list_deliveries(
    conn: &mut PgConnection,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    let limit = rows::page_limit(page);
    let mut query = QueryBuilder::<Postgres>::new(format!(
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
    conn: &mut PgConnection,
    delivery_id: &str,
) -> Result<Vec<Attempt>> {
    let sql = format!(
        "SELECT {} FROM attempts WHERE delivery_id = $1 ORDER BY started_at, id",
        rows::ATTEMPT_COLUMNS
    );
    let found = sqlx::query(&sql).bind(delivery_id).fetch_all(conn).await?;
    found.iter().map(rows::attempt).collect()
}
