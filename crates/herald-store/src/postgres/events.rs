//! Events and the deliveries they fan out to on PostgreSQL, and the read side of deliveries
//! and attempts.
//!
//! `publish` runs in one transaction: the event (`ON CONFLICT … DO NOTHING` on the idempotency
//! index, so two nodes publishing one key at once wait for each other and the second answers
//! with the first's event instead of failing), then every delivery in one multi-row insert,
//! then `pg_notify`, which PostgreSQL delivers to every listening node only at commit, so a
//! node woken by it always finds the deliveries committed. Those three statements are
//! PostgreSQL's own; the rest are [`crate::statements`]'s, shared with SQLite.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::{DeliveryId, SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, event_columns, micros};
use crate::statements::{events as sql, queue};

type Result<T> = std::result::Result<T, StoreError>;

/// The channel every node listens on; the payload is empty (the wake-up is the message).
pub(super) const WORK_CHANNEL: &str = "herald_work";

/// Wakes every listening node when the transaction commits.
pub(super) async fn notify_work(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WORK_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

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
    if !insert_event_once(conn, event).await? {
        // Only the idempotency index arbitrates DO NOTHING, so the key is taken by a committed
        // event (ON CONFLICT waited for its transaction), which this statement's fresh
        // snapshot sees.
        let key = event.idempotency_key.as_deref().unwrap_or_default();
        let first = run::optional(
            conn,
            &sql::first_with_key(event.tenant_id.as_ref(), key),
            rows::duplicate,
        )
        .await?
        .ok_or_else(|| {
            StoreError::Conflict(format!("idempotency key {key:?} is being published"))
        })?;
        return Ok((first, Vec::new()));
    }
    let targets = matching_subscriptions(conn, event).await?;
    let ids = insert_deliveries(conn, event, &targets, None).await?;
    if !targets.is_empty() {
        notify_work(conn).await?;
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

/// Inserts the event unless its idempotency key is taken; whether it was inserted.
async fn insert_event_once(conn: &mut PgConnection, event: &Event) -> Result<bool> {
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
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// `(subscription id, its tenant id)` of every subscription, active or paused, that wants
/// `event`'s type: the tenant's, or every tenant's when it has none (a broadcast); and only
/// those effective when it was published (`effective_at` at or before its creation).
async fn matching_subscriptions(
    conn: &mut PgConnection,
    event: &Event,
) -> Result<Vec<(String, String)>> {
    let targets = sqlx::query_as(
        "SELECT DISTINCT s.id, s.tenant_id FROM subscription_event_types p \
         JOIN subscriptions s ON s.id = p.subscription_id \
         WHERE ((p.is_prefix = 0 AND p.pattern = $1) \
             OR (p.is_prefix = 1 AND starts_with($1, p.pattern))) \
           AND ($2::text IS NULL OR s.tenant_id = $2) \
           AND (s.effective_at IS NULL OR s.effective_at <= $3) \
         ORDER BY s.id",
    )
    .bind(&event.event_type)
    .bind(event.tenant_id.as_ref().map(TenantId::as_str))
    .bind(micros(event.created_at))
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
        run::optional(conn, &sql::subscription_tenant(subscription_id), |row| {
            rows::get(row, "tenant_id")
        })
        .await?;
    // The trait returns a delivery, not an option: a subscription deleted since the caller
    // looked it up is the database's "no such row".
    let tenant_id = tenant_id.ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))?;
    run::execute(conn, &sql::insert_event(event)).await?;
    let id = DeliveryId::generate();
    let lease = Some(micros(lease_until));
    let insert = sql::insert_delivery(
        id.as_str(),
        event,
        subscription_id.as_str(),
        &tenant_id,
        lease,
    );
    run::execute(conn, &insert).await?;
    get_delivery(conn, id.as_str())
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))
}

pub(super) async fn get_event(conn: &mut PgConnection, id: &str) -> Result<Option<Event>> {
    run::optional(conn, &sql::event_by_id(id), rows::event).await
}

/// Several events by id (for claimed jobs); missing ones are simply absent.
pub(super) async fn get_events(conn: &mut PgConnection, ids: &[&str]) -> Result<Vec<Event>> {
    let found = sqlx::query(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    found.iter().map(rows::event).collect()
}

pub(super) async fn list_events(
    conn: &mut PgConnection,
    filter: &EventFilter,
    page: &PageRequest,
) -> Result<Page<Event>> {
    let items = run::all(conn, &sql::list_events(filter, page), rows::event).await?;
    Ok(rows::event_page(items, page))
}

pub(super) async fn get_delivery(conn: &mut PgConnection, id: &str) -> Result<Option<Delivery>> {
    run::optional(conn, &sql::delivery_by_id(id), rows::delivery).await
}

pub(super) async fn list_deliveries(
    conn: &mut PgConnection,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<DeliverySummary>> {
    let items = run::all(
        conn,
        &sql::list_deliveries(filter, page),
        rows::delivery_summary,
    )
    .await?;
    Ok(rows::delivery_page(items, page))
}

pub(super) async fn list_attempts_page(
    conn: &mut PgConnection,
    delivery_id: &str,
    page: &PageRequest,
) -> Result<Page<Attempt>> {
    let items = run::all(
        conn,
        &queue::attempts_page(delivery_id, page),
        rows::attempt,
    )
    .await?;
    Ok(rows::attempt_page(items, page))
}

pub(super) async fn list_attempts(
    conn: &mut PgConnection,
    delivery_id: &str,
) -> Result<Vec<Attempt>> {
    run::all(conn, &queue::list_attempts(delivery_id), rows::attempt).await
}
