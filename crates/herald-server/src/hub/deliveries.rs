//! The deliveries pages: the list filtered by status, subscription and (for the operator)
//! tenant, and one delivery with every attempt (time, trigger, duration, status, response
//! headers and body prefix, error in words) and, while it is pending, when the next retry is
//! due. Redeliver goes through the API's own handler, so it takes a turn from the dispatcher
//! like any manual attempt.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use herald_store::{
    AttemptId, DeliveryFilter, DeliveryId, DeliveryStatus, DeliverySummary, EventId, PageRequest,
    SubscriptionId,
};
use maud::{Markup, html};
use serde::Deserialize;
use time::OffsetDateTime;

use super::csrf;
use super::format;
use super::layout::{self, Section};
use super::session::Viewer;
use crate::api::AppState;
use crate::api::deliveries as api;
use crate::api::error::ApiError;
use crate::api::extract::Path;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deliveries", get(list))
        .route("/deliveries/{id}", get(show))
        .route("/deliveries/{id}/redeliver", post(redeliver))
}

/// Rows per page, and attempts per delivery page.
const PAGE: u32 = 50;

/// The list's filters.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    subscription_id: Option<String>,
    /// The operator's tenant switch; a subscriber always sees its own tenant only.
    tenant_id: Option<String>,
    event_id: Option<String>,
    cursor: Option<String>,
}

/// A table of deliveries, newest first (also on a subscription's and an event's page).
pub fn table(deliveries: &[DeliverySummary], now: OffsetDateTime, show_url: bool) -> Markup {
    html! {
        @if deliveries.is_empty() {
            p.empty { "No deliveries yet." }
        } @else {
            div.scroll {
            table.deliveries {
                thead { tr {
                    th scope="col" { "Created" }
                    th scope="col" { "Event type" }
                    @if show_url { th scope="col" { "Endpoint" } }
                    th scope="col" { "Status" }
                    th scope="col" { "Attempts" }
                    th scope="col" { "Latest attempt" }
                    th scope="col" { "Next retry" }
                } }
                tbody {
                    @for s in deliveries {
                        @let d = &s.delivery;
                        tr data-delivery=(d.id) data-status=(d.status.as_str()) {
                            td { a href={"/hub/deliveries/" (d.id)} { (format::relative(d.created_at, now)) } }
                            td { (d.event_type) }
                            @if show_url { td.url { (s.subscription_url.as_deref().unwrap_or("")) } }
                            td { (format::delivery_status(d.status)) }
                            td { (d.attempts) }
                            td { @match &s.last_attempt {
                                Some(a) => {
                                    @if let Some(status) = a.response_status { (status) " " }
                                    @if let Some(e) = a.error { span.error-text { (format::step(e)) } } @else { "ok" }
                                },
                                None => "none yet",
                            } }
                            td { @match (d.status, d.next_attempt_at) {
                                (DeliveryStatus::Pending, Some(at)) => (format::relative(at, now)),
                                _ => "—",
                            } }
                        }
                    }
                }
            }
            }
        }
    }
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(DeliveryStatus::parse);
    let subscription_id = query
        .subscription_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| SubscriptionId::parse(s).ok());
    let event_id = query
        .event_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| EventId::parse(s).ok());
    let tenant_id = super::subscriptions::tenant_filter(&viewer, query.tenant_id.as_deref());
    let filter = DeliveryFilter {
        tenant_id: tenant_id.clone(),
        subscription_id: subscription_id.clone(),
        event_id,
        status,
    };
    let page = PageRequest {
        cursor: query.cursor.filter(|c| DeliveryId::parse(c).is_ok()),
        limit: PAGE,
    };
    let page = match state.queue.list_deliveries(&filter, &page).await {
        Ok(page) => page,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let tenants = match super::subscriptions::tenant_choices(&state, &viewer).await {
        Ok(tenants) => tenants,
        Err(error) => return ApiError::from(error).into_response(),
    };
    // Only the operator's pick travels in links; a subscriber's own tenant is implied.
    let tenant = if viewer.is_operator() {
        tenant_id
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let now = OffsetDateTime::now_utc();
    let subscription = subscription_id
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/hub/deliveries" {
            label for="status" { "Status" }
            select #status name="status" {
                option value="" { "Any" }
                @for s in ["pending", "succeeded", "failed"] {
                    option value=(s) selected[status.is_some_and(|x| x.as_str() == s)] { (s) }
                }
            }
            label for="subscription_id" { "Subscription ID" }
            input #subscription_id type="text" name="subscription_id" value=(subscription) placeholder="sub_…";
            @if viewer.is_operator() {
                label for="tenant_id" { "Tenant" }
                select #tenant_id name="tenant_id" {
                    option value="" { "Every tenant" }
                    @for (id, name) in &tenants {
                        option value=(id) selected[tenant == *id] { (name) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        div data-live="deliveries" {
            (table(&page.items, now, true))
            @if let Some(next) = &page.next_cursor {
                p { a href={"/hub/deliveries?cursor=" (next) "&status=" (status.map(|s| s.as_str()).unwrap_or("")) "&subscription_id=" (subscription) "&tenant_id=" (tenant)} { "Older deliveries" } }
            }
        }
    };
    layout::page(&viewer, Section::Deliveries, "Deliveries", body).into_response()
}

/// The attempts page's query.
#[derive(Debug, Default, Deserialize)]
pub struct AttemptsQuery {
    cursor: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(query): Query<AttemptsQuery>,
) -> Response {
    detail(&state, &viewer, &id, query.cursor, None).await
}

/// One delivery and a page of its attempts, with an optional sentence about the last action.
async fn detail(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    cursor: Option<String>,
    notice: Option<Markup>,
) -> Response {
    let Ok(parsed) = DeliveryId::parse(id) else {
        return ApiError::not_found("delivery", id).into_response();
    };
    let delivery = match state.queue.get_delivery(&parsed).await {
        Ok(Some(d)) if viewer.principal.can_see(&d.tenant_id) => d,
        Ok(_) => return ApiError::not_found("delivery", id).into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let page = PageRequest {
        cursor: cursor.filter(|c| AttemptId::parse(c).is_ok()),
        limit: PAGE,
    };
    let attempts = match state.queue.list_attempts_page(&delivery.id, &page).await {
        Ok(page) => page,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let now = OffsetDateTime::now_utc();
    let body = html! {
        @if let Some(notice) = notice { (notice) }
        dl.facts data-live="delivery" {
            dt { "Status" } dd #delivery-status { (format::delivery_status(delivery.status)) }
            dt { "Event" } dd { a href={"/hub/events/" (delivery.event_id)} { (delivery.event_type) } " " code { (delivery.event_id) } }
            dt { "Subscription" } dd { a href={"/hub/subscriptions/" (delivery.subscription_id)} { code { (delivery.subscription_id) } } }
            dt { "Attempts" } dd { (delivery.attempts) }
            @if delivery.status == DeliveryStatus::Pending {
                dt { "Next retry" }
                dd #next-retry { @match delivery.next_attempt_at {
                    Some(at) => { (format::time(at)) " (" (format::relative(at, now)) ")" },
                    None => "not scheduled",
                } }
            }
            dt { "Created" } dd { (format::time(delivery.created_at)) }
        }
        form method="post" action={"/hub/deliveries/" (delivery.id) "/redeliver"} {
            input type="hidden" name="csrf" value=(viewer.csrf);
            button type="submit" { "Redeliver now" }
        }
        section aria-labelledby="att-h" {
            h2 #att-h { "Attempts" }
            div data-live="attempts" {
                @if attempts.items.is_empty() {
                    p.empty { "No attempt yet." }
                } @else {
                    ol.attempts {
                        @for a in &attempts.items {
                            li.attempt.ok[a.succeeded()].failed[!a.succeeded()] data-attempt=(a.id) {
                                p.head {
                                    (format::time(a.started_at)) " · " (a.trigger.as_str()) " · " (a.duration_ms) " ms · "
                                    @match a.response_status { Some(s) => { "status " strong.status { (s) } }, None => "no response" }
                                }
                                @if let Some(e) = a.error {
                                    p.error-text { (format::step(e)) @if let Some(m) = &a.error_message { ": " (m) } }
                                }
                                @if let Some(headers) = &a.response_headers {
                                    (response_headers(&headers.pairs()))
                                }
                                @if let Some(body) = &a.response_body {
                                    details { summary { "Response body (start)" } pre { (body) } }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &attempts.next_cursor {
                p { a href={"/hub/deliveries/" (delivery.id) "?cursor=" (next)} { "Later attempts" } }
            }
        }
    };
    layout::page(viewer, Section::Deliveries, "Delivery", body).into_response()
}

/// An attempt's response headers, folded; names and values are the endpoint's, so escaped
/// like everything else.
fn response_headers(pairs: &[(String, String)]) -> Markup {
    html! {
        details.response-headers {
            summary { "Response headers (" (pairs.len()) ")" }
            @if pairs.is_empty() {
                p.empty { "None." }
            } @else {
                table {
                    caption.sr { "Response headers, in the order they came" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                    tbody {
                        @for (name, value) in pairs {
                            tr { td { code { (name) } } td.header-value { (value) } }
                        }
                    }
                }
            }
        }
    }
}

/// The redeliver form.
#[derive(Debug, Deserialize)]
pub struct RedeliverForm {
    #[serde(default)]
    csrf: String,
}

async fn redeliver(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<RedeliverForm>,
) -> Response {
    if let Err(refused) = csrf::check(&headers, &viewer.csrf, &form.csrf) {
        return (StatusCode::FORBIDDEN, layout::refusal(refused.sentence())).into_response();
    }
    let result = api::redeliver(
        State(state.clone()),
        viewer.principal.clone(),
        Path(id.clone()),
    )
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/hub/deliveries/{id}")).into_response(),
        Err(error) => {
            let notice = html! { p.error role="alert" { (error.detail()) } };
            detail(&state, &viewer, &id, None, Some(notice)).await
        }
    }
}
