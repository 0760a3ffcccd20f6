//! The events pages: events filtered by type, tenant and time, and one event with its
//! payload pretty-printed and the deliveries it made.
//!
//! The time filter needs no query of its own: event ids are UUIDv7, which begin with their
//! creation time in milliseconds, so "created before T" is the list's own cursor with T's
//! milliseconds and zeroes after them (the list reads ids below its cursor, newest first).

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_store::{DeliveryFilter, EventFilter, EventId, PageRequest, TenantId};
use maud::html;
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::format;
use super::layout::{self, Section};
use super::session::Viewer;
use crate::api::AppState;
use crate::api::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(list))
        .route("/events/{id}", get(show))
}

const PAGE: u32 = 50;

/// The list's filters; `before` is `YYYY-MM-DDTHH:MM` in UTC (what a datetime-local input
/// sends).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    event_type: Option<String>,
    tenant_id: Option<String>,
    before: Option<String>,
    cursor: Option<String>,
}

/// The cursor that lists events created before `before`.
fn cursor_before(before: &str) -> Option<String> {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let at = time::PrimitiveDateTime::parse(before, format)
        .ok()?
        .assume_utc();
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    // UUIDv7: 48 bits of milliseconds, then version and random bits; zeroes sort first.
    Some(format!(
        "{}{:012x}{}",
        EventId::PREFIX,
        millis,
        "0".repeat(20)
    ))
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let event_type = query.event_type.clone().filter(|t| !t.trim().is_empty());
    let filter = match viewer.principal.tenant() {
        Some(own) => EventFilter {
            event_type: event_type.clone(),
            tenant_id: Some(own.clone()),
            include_broadcasts: true,
        },
        None => EventFilter {
            event_type: event_type.clone(),
            tenant_id: query
                .tenant_id
                .as_deref()
                .filter(|t| !t.is_empty())
                .and_then(|t| TenantId::parse(t).ok()),
            include_broadcasts: false,
        },
    };
    let before = query.before.clone().filter(|b| !b.is_empty());
    let cursor = query
        .cursor
        .filter(|c| EventId::parse(c).is_ok())
        .or_else(|| before.as_deref().and_then(cursor_before));
    let page = PageRequest {
        cursor,
        limit: PAGE,
    };
    let page = match state.queue.list_events(&filter, &page).await {
        Ok(page) => page,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let now = OffsetDateTime::now_utc();
    let tenant = filter
        .tenant_id
        .as_ref()
        .map(|t| t.to_string())
        .unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/hub/events" {
            label for="event_type" { "Event type" }
            input #event_type type="text" name="event_type" value=(event_type.as_deref().unwrap_or("")) placeholder="consent.revoked";
            @if viewer.is_operator() {
                label for="tenant_id" { "Tenant ID" }
                input #tenant_id type="text" name="tenant_id" value=(tenant) placeholder="ten_…";
            }
            label for="before" { "Created before (UTC)" }
            input #before type="datetime-local" name="before" value=(before.as_deref().unwrap_or(""));
            button type="submit" { "Filter" }
        }
        div data-live="events" {
            @if page.items.is_empty() {
                p.empty { "No events match." }
            } @else {
                div.scroll {
                table {
                    thead { tr {
                        th scope="col" { "Created" }
                        th scope="col" { "Event type" }
                        th scope="col" { "Tenant" }
                        th scope="col" { "ID" }
                    } }
                    tbody {
                        @for e in &page.items {
                            tr {
                                td { a href={"/hub/events/" (e.id)} { (format::relative(e.created_at, now)) } }
                                td { (e.event_type) }
                                td { @match &e.tenant_id { Some(t) => code { (t) }, None => "every tenant (broadcast)" } }
                                td { code { (e.id) } }
                            }
                        }
                    }
                }
                }
                @if let Some(next) = &page.next_cursor {
                    p { a href={"/hub/events?cursor=" (next) "&event_type=" (event_type.as_deref().unwrap_or("")) "&tenant_id=" (tenant)} { "Older events" } }
                }
            }
        }
    };
    layout::page(&viewer, Section::Events, "Events", body).into_response()
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(parsed) = EventId::parse(&id) else {
        return ApiError::not_found("event", &id).into_response();
    };
    let event = match state.queue.get_event(&parsed).await {
        Ok(Some(e))
            if e.tenant_id
                .as_ref()
                .is_none_or(|t| viewer.principal.can_see(t)) =>
        {
            e
        }
        Ok(_) => return ApiError::not_found("event", &id).into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let filter = DeliveryFilter {
        tenant_id: viewer.principal.tenant().cloned(),
        event_id: Some(event.id.clone()),
        ..DeliveryFilter::default()
    };
    let page = PageRequest {
        cursor: None,
        limit: PAGE,
    };
    let deliveries = match state.queue.list_deliveries(&filter, &page).await {
        Ok(page) => page.items,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let now = OffsetDateTime::now_utc();
    let body = html! {
        dl.facts {
            dt { "Type" } dd { (event.event_type) }
            dt { "ID" } dd { code { (event.id) } }
            dt { "Tenant" } dd { @match &event.tenant_id { Some(t) => code { (t) }, None => "every tenant (broadcast)" } }
            dt { "Created" } dd { (format::time(event.created_at)) }
            @if let Some(key) = &event.idempotency_key { dt { "Idempotency key" } dd { code { (key) } } }
        }
        h2 { "Payload" }
        @if event.payload_dropped() {
            p { "The payload was removed by the server's payload_retention setting; the event and its deliveries are kept." }
        } @else {
            pre.payload { (format::pretty_json(&event.payload_json)) }
        }
        h2 { "Deliveries" }
        div data-live="deliveries" { (super::deliveries::table(&deliveries, now, true)) }
    };
    layout::page(&viewer, Section::Events, "Event", body).into_response()
}
