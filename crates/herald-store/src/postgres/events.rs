//! Events and the deliveries they fan out to on PostgreSQL, and the read side of deliveries
//! and attempts.
//!
//! Publishes run in batches ([`super::group`]); this module holds what they share with
//! `publish_to`: the wake-up (`pg_notify`, which PostgreSQL delivers to every listening node
//! only at commit, so a node woken by it always finds the deliveries committed) and the answer
//! to a repeated idempotency key. PostgreSQL's own statements are written here; the rest are
//! [`crate::statements`]'s, shared with SQLite.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::{DeliveryId, SubscriptionId};
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

/// What an event whose idempotency key was taken answers: the first event with that key.
pub(super) async fn first_published(conn: &mut PgConnection, event: &Event) -> Result<Published> {
    // Only the idempotency index arbitrates DO NOTHING, so the key is taken by a committed
    // event (ON CONFLICT waited for its transaction) or by one earlier in this transaction,
    // which this statement's fresh snapshot sees.
    let key = event.idempotency_key.as_deref().unwrap_or_default();
    run::optional(
        conn,
        &sql::first_with_key(event.tenant_id.as_ref(), key),
        rows::duplicate,
    )
    .await?
    .ok_or_else(|| StoreError::Conflict(format!("idempotency key {key:?} is being published")))
}

/// Runs inside the caller's transaction.
pub(super) async fn publish_to(
    conn: &mut PgConnection,
    event: &Event,
    subscription_id: &SubscriptionId,
    lease_until: OffsetDateTime,
) -> Result<Delivery> {
    let tenant_id: Option<String> =
        sqlx::query_scalar("SELECT tenant_id FROM subscriptions WHERE id = $1 FOR KEY SHARE")
            .bind(subscription_id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    // Locked `FOR KEY SHARE` as a publish's matching subscriptions are (super::publish): the
    // delivery has no foreign key to it. The trait returns a delivery, not an option: a
    // subscription deleted since the caller looked it up is the database's "no such row".
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
