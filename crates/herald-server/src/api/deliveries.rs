//! `/api/v1/deliveries`: every delivery with its attempts (promise 6), and redelivery by hand.
//!
//! A delivery's attempts are read a page at a time (`/deliveries/{id}/attempts`; the delivery
//! itself embeds the first page), so a delivery redelivered thousands of times never makes
//! one unbounded answer. Redelivery takes a turn from the dispatcher (`Intake::manual_turn`)
//! and answers 429 when the subscription is at its `max_in_flight` or rate limit.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json as JsonResponse, Router};
use herald_store::{
    AttemptId, AttemptTrigger, Delivery, DeliveryFilter, DeliveryId, DeliveryStatus, EventId,
    PageRequest, StoreError, SubscriptionId,
};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;

use super::auth::Principal;
use super::error::ApiError;
use super::extract::{Path, Query};
use super::views::{AttemptView, DeliveryView, List};
use super::{AppState, page_request};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deliveries", get(list))
        .route("/deliveries/{id}", get(show))
        .route("/deliveries/{id}/attempts", get(attempts))
        .route("/deliveries/{id}/redeliver", post(redeliver))
}

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only to this subscription.
    #[param(nullable = false, pattern = "^sub_[0-9a-fA-F]{32}$")]
    pub subscription_id: Option<String>,
    /// Only of this event.
    #[param(nullable = false, pattern = "^evt_[0-9a-fA-F]{32}$")]
    pub event_id: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    #[param(schema_with = super::openapi::delivery_status)]
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(nullable = false, pattern = "^dlv_[0-9a-fA-F]{32}$")]
    pub cursor: Option<String>,
    /// Page size (1 to 200, default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn bad_query(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid-query", e.to_string())
}

/// List deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "deliveries",
    operation_id = "listDeliveries",
    params(DeliveryQuery), responses((status = 200, body = List<DeliveryView>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<DeliveryQuery>,
) -> Result<JsonResponse<List<DeliveryView>>, ApiError> {
    let filter = DeliveryFilter {
        tenant_id: principal.tenant().cloned(),
        subscription_id: query
            .subscription_id
            .map(|s| SubscriptionId::parse(&s).map_err(bad_query))
            .transpose()?,
        event_id: query
            .event_id
            .map(|e| EventId::parse(&e).map_err(bad_query))
            .transpose()?,
        status: query
            .status
            .map(|s| {
                DeliveryStatus::parse(&s).ok_or_else(|| {
                    bad_query(format!(
                        "status must be pending, succeeded or failed, not '{s}'"
                    ))
                })
            })
            .transpose()?,
    };
    let page = page_request(query.cursor, query.limit, |c| {
        DeliveryId::parse(c).map(|_| ())
    })?;
    let page = state.queue.list_deliveries(&filter, &page).await?;
    Ok(JsonResponse(List {
        data: page.items.into_iter().map(DeliveryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// How many attempts `GET /deliveries/{id}` embeds: every attempt of a delivery on the
/// default schedule (four) and many redeliveries besides; the rest are a page away.
const EMBEDDED_ATTEMPTS: u32 = 20;

/// Paging of a delivery's attempts.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttemptQuery {
    /// `next_cursor` of the previous page (or the delivery's `attempts_next_cursor`).
    #[param(nullable = false, pattern = "^att_[0-9a-fA-F]{32}$")]
    pub cursor: Option<String>,
    /// Page size (1 to 200, default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Loads a delivery the caller may see, else 404.
async fn load(state: &AppState, principal: &Principal, id: &str) -> Result<Delivery, ApiError> {
    let parsed = DeliveryId::parse(id).map_err(|_| ApiError::not_found("delivery", id))?;
    match state.queue.get_delivery(&parsed).await? {
        Some(d) if principal.can_see(&d.tenant_id) => Ok(d),
        _ => Err(ApiError::not_found("delivery", id)),
    }
}

/// One delivery with its first attempts (at most 20, oldest first); `attempts_next_cursor`
/// pages on through `GET /deliveries/{id}/attempts`.
#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries",
    operation_id = "getDelivery",
    params(("id" = String, Path, description = "`dlv_…`", pattern = "^dlv_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = DeliveryView), (status = 404)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<DeliveryView>, ApiError> {
    let delivery = load(&state, &principal, &id).await?;
    let first = PageRequest {
        cursor: None,
        limit: EMBEDDED_ATTEMPTS,
    };
    let attempts = state.queue.list_attempts_page(&delivery.id, &first).await?;
    let mut view = summary_view(&state, delivery).await?;
    view.attempts = Some(attempts.items.into_iter().map(AttemptView::from).collect());
    view.attempts_next_cursor = Some(attempts.next_cursor);
    Ok(JsonResponse(view))
}

/// The delivery as a list's row shows it (its subscription's URL, its latest attempt), so a
/// delivery reads alike in both: the one row of its event to its subscription.
async fn summary_view(state: &AppState, delivery: Delivery) -> Result<DeliveryView, ApiError> {
    let filter = DeliveryFilter {
        event_id: Some(delivery.event_id.clone()),
        subscription_id: Some(delivery.subscription_id.clone()),
        ..DeliveryFilter::default()
    };
    let one = PageRequest {
        cursor: None,
        limit: 1,
    };
    let rows = state.queue.list_deliveries(&filter, &one).await?;
    Ok(match rows.items.into_iter().next() {
        Some(summary) if summary.delivery.id == delivery.id => DeliveryView::from(summary),
        // An event reaches a subscription once, so this is the row; if not, the bare delivery.
        _ => DeliveryView::from(delivery),
    })
}

/// A delivery's attempts, a page at a time, oldest first.
#[utoipa::path(get, path = "/api/v1/deliveries/{id}/attempts", tag = "deliveries",
    operation_id = "listDeliveryAttempts",
    params(("id" = String, Path, description = "`dlv_…`", pattern = "^dlv_[0-9a-fA-F]{32}$"),
        AttemptQuery),
    responses((status = 200, body = List<AttemptView>), (status = 404)),
    security(("bearer" = [])))]
pub async fn attempts(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(query): Query<AttemptQuery>,
) -> Result<JsonResponse<List<AttemptView>>, ApiError> {
    let page = page_request(query.cursor, query.limit, |c| {
        AttemptId::parse(c).map(|_| ())
    })?;
    let delivery = load(&state, &principal, &id).await?;
    let page = state.queue.list_attempts_page(&delivery.id, &page).await?;
    Ok(JsonResponse(List {
        data: page.items.into_iter().map(AttemptView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Make a new attempt now (trigger `redelivery`); a failed delivery that then succeeds becomes
/// `succeeded`. Answers with the attempt. Held to the subscription's `max_in_flight` and rate
/// limit and the server's `max_concurrency` like scheduled attempts: at a cap it answers 429
/// with `Retry-After` and sends nothing. An event whose payload `payload_retention` removed
/// has nothing to send: 410.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/redeliver", tag = "deliveries",
    operation_id = "redeliverDelivery",
    params(("id" = String, Path, description = "`dlv_…`", pattern = "^dlv_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = AttemptView), (status = 404), (status = 409), (status = 410),
        (status = 429)),
    security(("bearer" = [])))]
pub async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<AttemptView>, ApiError> {
    let delivery = load(&state, &principal, &id).await?;
    let parsed = delivery.id.clone();
    let Some(subscription) = state
        .catalog
        .get_subscription(&delivery.subscription_id)
        .await?
    else {
        return Err(ApiError::not_found("delivery", &id));
    };
    let payload_removed =
        || super::events::payload_removed(&state.config, delivery.event_id.as_str());
    // Checked before the turn is taken, for a quick answer; the lease checks again, in the
    // transaction that reads the payload to send, since retention may empty it meanwhile.
    if let Some(event) = state.queue.get_event(&delivery.event_id).await?
        && event.payload_dropped()
    {
        return Err(payload_removed());
    }
    // Taken before the lease: a refused redelivery leaves the delivery as it was.
    let turn = state
        .intake
        .manual_turn(&subscription)
        .await
        .map_err(ApiError::manual_busy)?;
    let now = OffsetDateTime::now_utc();
    let lease_until = now + state.config.lease();
    let job = match state.queue.lease_delivery(&parsed, now, lease_until).await {
        Ok(Some(job)) => job,
        Ok(None) => return Err(ApiError::not_found("delivery", &id)),
        Err(StoreError::PayloadDropped(_)) => return Err(payload_removed()),
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict(
                "an attempt of this delivery is in flight; retry in a moment",
            ));
        }
        Err(other) => return Err(other.into()),
    };
    let attempt = state
        .deliverer
        .attempt(&job, AttemptTrigger::Redelivery)
        .await;
    drop(turn);
    Ok(JsonResponse(attempt.into()))
}
