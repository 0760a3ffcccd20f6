//! `/api/v1/events`: the operator's services publish here; everyone reads what concerns them.
//!
//! A publish answers 202 only after the store committed the event and its deliveries (promise
//! 1). The handler validates and hands the event to the dispatcher's intake
//! (`dispatch::Intake`), which commits it and starts or wakes the dispatch; the handler never
//! orchestrates the dispatcher.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json as JsonResponse, Router};
use herald_store::{Event, EventFilter, EventId, TenantId};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::auth::Principal;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::views::{EventView, List, PublishResponse};
use super::{AppState, page_request};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(list).post(publish))
        .route("/events/{id}", get(show))
}

/// Body of `POST /events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishEvent {
    /// A registered event type.
    #[serde(rename = "type")]
    #[schema(max_length = 128, pattern = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$")]
    pub event_type: String,
    /// Any JSON value; delivered byte for byte as `data`.
    #[schema(value_type = serde_json::Value)]
    pub payload: Box<RawValue>,
    /// Only this tenant's subscriptions receive it; omit to broadcast to every tenant.
    #[schema(pattern = "^ten_[0-9a-fA-F]{32}$")]
    pub tenant_id: Option<String>,
    /// Publishing the same key again (for the same tenant) returns the first event.
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
}

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only this event type.
    #[serde(rename = "type")]
    #[param(rename = "type", nullable = false)]
    pub event_type: Option<String>,
    /// Only events for this tenant (admin).
    #[param(nullable = false, pattern = "^ten_[0-9a-fA-F]{32}$")]
    pub tenant_id: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(nullable = false, pattern = "^evt_[0-9a-fA-F]{32}$")]
    pub cursor: Option<String>,
    /// Page size (1 to 200, default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Publish an event to every matching subscription.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", operation_id = "publishEvent",
    request_body = PublishEvent,
    responses((status = 202, body = PublishResponse), (status = 403), (status = 413),
        (status = 422)),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<PublishEvent>,
) -> Result<(StatusCode, JsonResponse<PublishResponse>), ApiError> {
    principal.require_admin()?;
    let payload = body.payload.get();
    if payload.len() > state.config.max_payload_size {
        return Err(ApiError::too_large(format!(
            "the payload is {} bytes; the limit is {} bytes",
            payload.len(),
            state.config.max_payload_size
        )));
    }
    // Cached for a second at most (see `catalog_cache`): these two lookups were a store round
    // trip each per publish.
    let event_type = state
        .catalog_cache
        .event_type(state.catalog.as_ref(), &body.event_type)
        .await?
        .ok_or_else(|| ApiError::unknown_event_type(&body.event_type))?;
    state.schemas.check(&event_type, payload)?;
    let tenant_id = match body.tenant_id {
        Some(text) => Some(existing_tenant(&state, &text).await?),
        None => None,
    };
    if let Some(key) = &body.idempotency_key
        && (key.is_empty() || key.len() > 255)
    {
        return Err(ApiError::validation(
            "idempotency_key must be 1 to 255 characters",
        ));
    }
    let event = Event {
        id: EventId::generate(),
        event_type: body.event_type,
        payload_json: payload.to_owned(),
        tenant_id,
        idempotency_key: body.idempotency_key,
        created_at: herald_store::timestamp_now(),
    };
    let published = state.intake.publish(&event).await?;
    if !published.duplicate {
        state.metrics.events_accepted(1);
    }
    let note = (published.deliveries == 0 && !published.duplicate).then(|| no_delivery(&event));
    Ok((
        StatusCode::ACCEPTED,
        JsonResponse(PublishResponse {
            id: published.event_id.to_string(),
            deliveries: published.deliveries,
            duplicate: published.duplicate,
            note,
        }),
    ))
}

/// Why an accepted event made no delivery, and how to make the next one reach someone. (A
/// subscription, active or paused, gets a delivery of every event its patterns match, so none
/// matching is the only reason.)
fn no_delivery(event: &Event) -> String {
    let name = &event.event_type;
    let (why, tenant) = match &event.tenant_id {
        Some(tenant) => (
            format!("no subscription matches {name} for tenant {tenant}"),
            tenant.to_string(),
        ),
        None => (
            format!("no tenant has a subscription matching {name}"),
            "TENANT_ID".to_owned(),
        ),
    };
    format!(
        "{why}: the event is stored and nothing was sent; subscribe with `herald subscriptions \
         create --tenant {tenant} --event-types {name} --url URL` (POST /api/v1/subscriptions)"
    )
}

/// The tenant a publish names, which must exist (read through the catalog cache).
async fn existing_tenant(state: &AppState, text: &str) -> Result<TenantId, ApiError> {
    let id = TenantId::parse(text).map_err(|e| ApiError::validation(e.to_string()))?;
    if state
        .catalog_cache
        .tenant_exists(state.catalog.as_ref(), &id)
        .await?
    {
        Ok(id)
    } else {
        Err(ApiError::validation(format!(
            "no tenant '{text}' exists; see `herald tenants list` or GET /api/v1/tenants"
        )))
    }
}

/// The answer for an event whose payload `payload_retention` removed: 410, saying when and
/// what remains. For `GET /events/{id}` (what a thin delivery's receiver fetches) and for a
/// redelivery, which has nothing to send.
pub(crate) fn payload_removed(config: &crate::config::Config, event_id: &str) -> ApiError {
    let after = match config.payload_retention.as_secs() {
        0 => String::new(),
        seconds if seconds % 86_400 == 0 => format!(" after {} days", seconds / 86_400),
        seconds if seconds % 3_600 == 0 => format!(" after {} hours", seconds / 3_600),
        seconds => format!(" after {seconds} seconds"),
    };
    ApiError::gone(
        "payload-removed",
        format!(
            "the payload of event {} was removed{after} by payload_retention; the event, its \
             deliveries and attempts are kept, but the payload cannot be read or sent again",
            event_id
        ),
    )
}

fn view(event: Event) -> Result<EventView, ApiError> {
    let id = event.id.to_string();
    EventView::try_from_event(event).ok_or_else(|| {
        tracing::error!(event = %id, "stored payload is not JSON");
        ApiError::internal()
    })
}

/// List events, newest first. Tenant tokens see their own events and broadcasts.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", operation_id = "listEvents",
    params(EventQuery), responses((status = 200, body = List<EventView>), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<EventQuery>,
) -> Result<JsonResponse<List<EventView>>, ApiError> {
    let requested = query
        .tenant_id
        .map(|t| {
            TenantId::parse(&t).map_err(|e| ApiError::bad_request("invalid-query", e.to_string()))
        })
        .transpose()?;
    let filter = match principal.tenant() {
        Some(own) => {
            if requested.as_ref().is_some_and(|r| r != own) {
                return Err(ApiError::forbidden(
                    "a tenant token can list only its own events",
                ));
            }
            EventFilter {
                event_type: query.event_type,
                tenant_id: Some(own.clone()),
                include_broadcasts: true,
            }
        }
        None => EventFilter {
            event_type: query.event_type,
            tenant_id: requested,
            include_broadcasts: false,
        },
    };
    let page = page_request(query.cursor, query.limit, |c| EventId::parse(c).map(|_| ()))?;
    let page = state.queue.list_events(&filter, &page).await?;
    Ok(JsonResponse(List {
        data: page.items.into_iter().map(view).collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    }))
}

/// One event; 410 once `payload_retention` removed its payload.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", operation_id = "getEvent",
    params(("id" = String, Path, description = "`evt_…`", pattern = "^evt_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = EventView), (status = 404), (status = 410)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<EventView>, ApiError> {
    let parsed = EventId::parse(&id).map_err(|_| ApiError::not_found("event", &id))?;
    match state.queue.get_event(&parsed).await? {
        Some(event)
            if event
                .tenant_id
                .as_ref()
                .is_none_or(|t| principal.can_see(t)) =>
        {
            if event.payload_dropped() {
                return Err(payload_removed(&state.config, event.id.as_str()));
            }
            Ok(JsonResponse(view(event)?))
        }
        _ => Err(ApiError::not_found("event", &id)),
    }
}
