//! The statements of events and deliveries: writing them (where both dialects agree) and
//! reading them back, with the list filters built once for both backends.
//!
//! Publishing differs by dialect and stays in the backends: PostgreSQL inserts an event with
//! `ON CONFLICT` on the idempotency index and all of an event's deliveries in one `unnest`
//! insert; SQLite (one writer, so no race on the key) inserts the plain event and one
//! delivery per cached statement execution, both below.

use super::{Built, Statement, statement};
use crate::ids::{EventId, SubscriptionId, TenantId};
use crate::model::{DeliveryFilter, Event, EventFilter, PageRequest};
use crate::rows::{delivery_columns, event_columns, micros, page_limit};

/// Writes an event as given (no idempotency arbitration: the caller has done it).
pub(crate) fn insert_event(event: &Event) -> Statement<'_, 6> {
    statement!(
        "INSERT INTO events (id, event_type, payload_json, tenant_id, idempotency_key, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        event.id.as_str(),
        event.event_type.as_str(),
        event.payload_json.as_str(),
        event.tenant_id.as_ref().map(TenantId::as_str),
        event.idempotency_key.as_deref(),
        micros(event.created_at),
    )
}

/// One pending delivery of `event`, due at its creation, leased until `lease_until` if given.
pub(crate) fn insert_delivery<'a>(
    id: &'a str,
    event: &'a Event,
    subscription_id: &'a str,
    tenant_id: &'a str,
    lease_until: Option<i64>,
) -> Statement<'a, 7> {
    statement!(
        "INSERT INTO deliveries (id, event_id, subscription_id, tenant_id, event_type, status, \
         attempts, scheduled_attempts, next_attempt_at, lease_until, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, 0, $6, $7, $6, $6)",
        id,
        event.id.as_str(),
        subscription_id,
        tenant_id,
        event.event_type.as_str(),
        micros(event.created_at),
        lease_until,
    )
}

/// The event already published under `(tenant, key)` and its delivery count (columns `id`,
/// `deliveries`). The same expression as the unique index, so the index answers it.
pub(crate) fn first_with_key<'a>(
    tenant_id: Option<&'a TenantId>,
    key: &'a str,
) -> Statement<'a, 2> {
    statement!(
        "SELECT e.id, (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id) AS deliveries \
         FROM events e WHERE coalesce(e.tenant_id, '') = $1 AND e.idempotency_key = $2 \
           AND e.idempotency_key IS NOT NULL",
        tenant_id.map_or("", TenantId::as_str),
        key,
    )
}

/// A subscription's tenant (column `tenant_id`), for the connectivity test's delivery.
pub(crate) fn subscription_tenant(id: &SubscriptionId) -> Statement<'_, 1> {
    statement!(
        "SELECT tenant_id FROM subscriptions WHERE id = $1",
        id.as_str()
    )
}

pub(crate) fn event_by_id(id: &str) -> Statement<'_, 1> {
    statement!(
        concat!("SELECT ", event_columns!(), " FROM events WHERE id = $1"),
        id
    )
}

/// Events, newest first, filtered by type and tenant (with or without broadcasts).
pub(crate) fn list_events<'a>(filter: &'a EventFilter, page: &'a PageRequest) -> Built<'a> {
    let mut query = Built::new(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events WHERE 1 = 1"
    ));
    if let Some(event_type) = &filter.event_type {
        query.push(" AND event_type = ").bind(event_type.as_str());
    }
    if let Some(tenant) = &filter.tenant_id {
        query.push(" AND (tenant_id = ").bind(tenant.as_str());
        if filter.include_broadcasts {
            query.push(" OR tenant_id IS NULL");
        }
        query.push(")");
    }
    newest_first(&mut query, page);
    query
}

/// Appends the newest-first cursor condition, order and `limit + 1`.
fn newest_first<'a>(query: &mut Built<'a>, page: &'a PageRequest) {
    if let Some(cursor) = &page.cursor {
        query.push(" AND id < ").bind(cursor.as_str());
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .bind(i64::from(page_limit(page)) + 1);
}

pub(crate) fn delivery_by_id(id: &str) -> Statement<'_, 1> {
    statement!(
        concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE id = $1"
        ),
        id
    )
}

/// Deliveries, newest first, filtered by any of tenant, subscription, event and status, each
/// with its subscription's URL and its latest attempt (columns `subscription_url` and
/// `last_*`, read by `rows::delivery_summary`). The filters and the page apply in the inner
/// query, so the joins run for one page of rows only; the latest attempt is found through the
/// `attempts (delivery_id, …)` index, one short lookup per row of the page, in this one query.
pub(crate) fn list_deliveries<'a>(filter: &'a DeliveryFilter, page: &'a PageRequest) -> Built<'a> {
    let mut query = Built::new(concat!(
        "SELECT d.*, s.url AS subscription_url, a.started_at AS last_attempt_at, \
         a.response_status AS last_response_status, a.error AS last_error, \
         a.error_message AS last_error_message FROM (SELECT ",
        delivery_columns!(),
        " FROM deliveries WHERE 1 = 1"
    ));
    let equal: [(&str, Option<&str>); 4] = [
        (
            " AND tenant_id = ",
            filter.tenant_id.as_ref().map(TenantId::as_str),
        ),
        (
            " AND subscription_id = ",
            filter.subscription_id.as_ref().map(SubscriptionId::as_str),
        ),
        (
            " AND event_id = ",
            filter.event_id.as_ref().map(EventId::as_str),
        ),
        (
            " AND status = ",
            filter.status.map(|status| status.as_str()),
        ),
    ];
    for (condition, value) in equal {
        if let Some(value) = value {
            query.push(condition).bind(value);
        }
    }
    newest_first(&mut query, page);
    query.push(
        ") d LEFT JOIN subscriptions s ON s.id = d.subscription_id \
         LEFT JOIN attempts a ON a.id = (SELECT id FROM attempts WHERE delivery_id = d.id \
         ORDER BY started_at DESC, id DESC LIMIT 1) ORDER BY d.id DESC",
    );
    query
}
