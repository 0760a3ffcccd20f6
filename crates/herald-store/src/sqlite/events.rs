//! Events and the deliveries they fan out to on SQLite, and the read side of deliveries and
//! attempts.
//!
//! `publish` matches subscriptions in SQL against `subscription_event_types` (exact names by
//! index, wildcard prefixes with `substr`, never LIKE, whose `_` and `%` are wildcards), then
//! writes one delivery per subscription. Writes run on the writer thread's connection, inside
//! its batch transaction (cached statements, no transaction of their own), so an event and
//! its deliveries commit together, with other callers' events. No idempotency race is
//! possible: one writer looks the key up and inserts in turn. Reads run on a reader's
//! connection, or on the writer's when a write answers with what it wrote.

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::{DeliveryId, SubscriptionId, TenantId};
use crate::model::*;
use crate::rows::{self, micros};
use crate::statements::{events as sql, queue, statement};

type Result<T> = std::result::Result<T, StoreError>;

/// One event alone (the writer's fallback when a batch of publishes fails).
pub(super) fn publish(conn: &Connection, event: &Event) -> Result<Published> {
    if let Some(key) = &event.idempotency_key
        && let Some(first) = first_with_key(conn, event.tenant_id.as_ref(), key)?
    {
        return Ok(first);
    }
    insert_event(conn, event)?;
    let targets = matching_subscriptions(conn, &event.event_type, event.tenant_id.as_ref())?;
    let targets: Vec<&Target> = targets.iter().filter(|t| t.takes(event)).collect();
    for target in &targets {
        insert_delivery(
            conn,
            &DeliveryId::generate(),
            event,
            &target.subscription_id,
            &target.tenant_id,
            None,
        )?;
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
    run::optional(conn, &sql::first_with_key(tenant_id, key), |row| {
        rows::duplicate(row)
    })
}

/// A subscription that an event type matches.
pub(super) struct Target {
    /// Its id.
    pub subscription_id: String,
    /// Its tenant's id.
    pub tenant_id: String,
    /// Unix µs before which it takes no events (see [`Target::takes`]).
    pub effective_at: Option<i64>,
}

impl Target {
    /// Whether `event` is delivered to it: events published before its `effective_at` are
    /// not. Checked per event rather than in the matching query, so that a batch's events of
    /// one type and tenant still share one match.
    pub fn takes(&self, event: &Event) -> bool {
        self.effective_at
            .is_none_or(|at| at <= micros(event.created_at))
    }
}

/// Every subscription, active or paused, that wants `event_type`: the tenant's, or every
/// tenant's when `tenant_id` is `None` (a broadcast).
pub(super) fn matching_subscriptions(
    conn: &Connection,
    event_type: &str,
    tenant_id: Option<&TenantId>,
) -> Result<Vec<Target>> {
    let matching = statement!(
        "SELECT DISTINCT s.id, s.tenant_id, s.effective_at FROM subscription_event_types p \
         JOIN subscriptions s ON s.id = p.subscription_id \
         WHERE ((p.is_prefix = 0 AND p.pattern = $1) \
             OR (p.is_prefix = 1 AND substr($1, 1, length(p.pattern)) = p.pattern)) \
           AND ($2 IS NULL OR s.tenant_id = $2) \
         ORDER BY s.id",
        event_type,
        tenant_id.map(TenantId::as_str),
    );
    run::all(conn, &matching, |row| {
        Ok(Target {
            subscription_id: row.get(0)?,
            tenant_id: row.get(1)?,
            effective_at: row.get(2)?,
        })
    })
}

pub(super) fn publish_to(
    conn: &Connection,
    event: &Event,
    subscription_id: &SubscriptionId,
    lease_until: OffsetDateTime,
) -> Result<Delivery> {
    let tenant_id: Option<String> =
        run::optional(conn, &sql::subscription_tenant(subscription_id), |row| {
            rows::get(row, "tenant_id")
        })?;
    // The trait returns a delivery, not an option: a subscription deleted since the caller
    // looked it up is the database's "no such row" (sqlx's, as the trait documents).
    let tenant_id = tenant_id.ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))?;
    insert_event(conn, event)?;
    let id = DeliveryId::generate();
    let lease = Some(micros(lease_until));
    insert_delivery(
        conn,
        &id,
        event,
        subscription_id.as_str(),
        &tenant_id,
        lease,
    )?;
    get_delivery(conn, id.as_str())?.ok_or(StoreError::Database(sqlx::Error::RowNotFound.into()))
}

pub(super) fn insert_event(conn: &Connection, event: &Event) -> Result<()> {
    run::execute(conn, &sql::insert_event(event))?;
    Ok(())
}

/// One pending delivery of `event` (leased until `lease_until`, unix µs, if given).
pub(super) fn insert_delivery(
    conn: &Connection,
    id: &DeliveryId,
    event: &Event,
    subscription_id: &str,
    tenant_id: &str,
    lease_until: Option<i64>,
) -> Result<()> {
    let insert = sql::insert_delivery(id.as_str(), event, subscription_id, tenant_id, lease_until);
    run::execute(conn, &insert)?;
    Ok(())
}

pub(super) fn get_event(conn: &Connection, id: &str) -> Result<Option<Event>> {
    run::optional(conn, &sql::event_by_id(id), |row| rows::event(row))
}

pub(super) fn list_events(
    conn: &Connection,
    filter: &EventFilter,
    page: &PageRequest,
) -> Result<Page<Event>> {
    let items = run::all(conn, &sql::list_events(filter, page), |row| {
        rows::event(row)
    })?;
    Ok(rows::event_page(items, page))
}

pub(super) fn get_delivery(conn: &Connection, id: &str) -> Result<Option<Delivery>> {
    run::optional(conn, &sql::delivery_by_id(id), |row| rows::delivery(row))
}

pub(super) fn list_deliveries(
    conn: &Connection,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<DeliverySummary>> {
    let items = run::all(conn, &sql::list_deliveries(filter, page), |row| {
        rows::delivery_summary(row)
    })?;
    Ok(rows::delivery_page(items, page))
}

pub(super) fn list_attempts_page(
    conn: &Connection,
    delivery_id: &str,
    page: &PageRequest,
) -> Result<Page<Attempt>> {
    let items = run::all(conn, &queue::attempts_page(delivery_id, page), |row| {
        rows::attempt(row)
    })?;
    Ok(rows::attempt_page(items, page))
}

pub(super) fn list_attempts(conn: &Connection, delivery_id: &str) -> Result<Vec<Attempt>> {
    run::all(conn, &queue::list_attempts(delivery_id), |row| {
        rows::attempt(row)
    })
}
