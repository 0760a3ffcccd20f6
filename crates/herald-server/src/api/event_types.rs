//! `/api/v1/event-types`: the catalogue of events. Admin writes; every caller reads.
//!
//! An event type may carry an `example` payload (what `herald trigger` publishes), which must
//! satisfy its schema whenever either changes. Deleting a type that subscriptions still use
//! is refused (409) unless forced: the check and the delete are two statements, so a
//! subscription created between them is not seen; the refusal guards a person's mistake, not a
//! race, and a subscription left without its type keeps working (it simply matches nothing).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json as JsonResponse, Router};
use herald_store::EventType;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Principal;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::sample::{SampleView, sample};
use super::schema::compile;
use super::views::{EventTypeView, List};
use super::{AppState, page_request};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/event-types", get(list).post(create))
        .route(
            "/event-types/{name}",
            get(show).patch(update).delete(remove),
        )
        .route("/event-types/{name}/sample", get(show_sample))
}

/// How many subscription ids a refused delete names.
const USAGE_SAMPLE: u32 = 3;

/// Body of `POST /event-types`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventType {
    /// Dotted name: lowercase letters, digits, `_` and `-`, segments separated by `.`.
    #[schema(max_length = 128, pattern = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$")]
    pub name: String,
    /// What the event means.
    pub description: Option<String>,
    /// A JSON Schema that published payloads must satisfy (an object or a boolean).
    #[schema(schema_with = super::openapi::json_schema_document)]
    pub schema: Option<serde_json::Value>,
    /// A sample payload (it must satisfy the schema), published by `herald trigger`.
    pub example: Option<serde_json::Value>,
}

/// Body of `PATCH /event-types/{name}`; `null` clears a field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventType {
    /// New description.
    #[serde(default, deserialize_with = "super::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New schema (an object or a boolean).
    #[serde(default, deserialize_with = "super::extract::nullable")]
    #[schema(schema_with = super::openapi::json_schema_document)]
    pub schema: Option<Option<serde_json::Value>>,
    /// New example payload, any JSON value (it must satisfy the schema).
    #[serde(default, deserialize_with = "super::extract::nullable")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub example: Option<Option<serde_json::Value>>,
}

/// Parameters of `DELETE /event-types/{name}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Delete even when subscriptions use the type (they are kept, and match nothing more).
    pub force: Option<bool>,
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventTypeQuery {
    /// `next_cursor` of the previous page (the last name).
    #[param(
        nullable = false,
        max_length = 128,
        pattern = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$"
    )]
    pub cursor: Option<String>,
    /// Page size (1 to 200, default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Checks an event type name: `segment(.segment)*` of `[a-z0-9_-]`, at most 128 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid_segment = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if name.len() <= 128 && name.split('.').all(valid_segment) {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a valid event type name: use dotted lowercase segments such as consent.revoked"
        ))
    }
}

/// Register an event type.
#[utoipa::path(post, path = "/api/v1/event-types", tag = "event-types",
    operation_id = "createEventType",
    request_body = CreateEventType,
    responses((status = 201, body = EventTypeView), (status = 403), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateEventType>,
) -> Result<(StatusCode, JsonResponse<EventTypeView>), ApiError> {
    principal.require_admin()?;
    check_name(&body.name).map_err(ApiError::validation)?;
    let now = herald_store::timestamp_now();
    let event_type = EventType {
        name: body.name,
        description: body.description,
        schema: body.schema,
        example: body.example,
        created_at: now,
        updated_at: now,
    };
    check_schema_and_example(&state, &event_type)?;
    state
        .catalog
        .create_event_type(&event_type)
        .await
        .map_err(|e| match e {
            herald_store::StoreError::Conflict(_) => ApiError::conflict(format!(
                "the event type '{name}' exists already; change it with \
                 `herald event-types update {name}` or PATCH /api/v1/event-types/{name}",
                name = event_type.name
            )),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, JsonResponse(event_type.into())))
}

/// List event types by name.
#[utoipa::path(get, path = "/api/v1/event-types", tag = "event-types",
    operation_id = "listEventTypes",
    params(EventTypeQuery), responses((status = 200, body = List<EventTypeView>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _principal: Principal,
    Query(query): Query<EventTypeQuery>,
) -> Result<JsonResponse<List<EventTypeView>>, ApiError> {
    let page = page_request(query.cursor, query.limit, check_name)?;
    let page = state.catalog.list_event_types(&page).await?;
    Ok(JsonResponse(List {
        data: page.items.into_iter().map(EventTypeView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn load(state: &AppState, name: &str) -> Result<EventType, ApiError> {
    state.catalog.get_event_type(name).await?.ok_or_else(|| {
        ApiError::not_found_because(format!(
            "no event type '{name}' is registered; see `herald event-types list` \
                 (GET /api/v1/event-types), or register it with `herald event-types create {name}`"
        ))
    })
}

/// One event type.
#[utoipa::path(get, path = "/api/v1/event-types/{name}", tag = "event-types",
    operation_id = "getEventType",
    params(("name" = String, Path, description = "The event type name", max_length = 128,
        pattern = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$")),
    responses((status = 200, body = EventTypeView), (status = 404)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    _principal: Principal,
    Path(name): Path<String>,
) -> Result<JsonResponse<EventTypeView>, ApiError> {
    Ok(JsonResponse(load(&state, &name).await?.into()))
}

/// Change an event type's description, schema or example.
#[utoipa::path(patch, path = "/api/v1/event-types/{name}", tag = "event-types",
    operation_id = "updateEventType",
    params(("name" = String, Path, description = "The event type name", max_length = 128,
        pattern = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$")),
    request_body = UpdateEventType,
    responses((status = 200, body = EventTypeView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Json(body): Json<UpdateEventType>,
) -> Result<JsonResponse<EventTypeView>, ApiError> {
    principal.require_admin()?;
    let mut event_type = load(&state, &name).await?;
    if let Some(description) = body.description {
        event_type.description = description;
    }
    if let Some(schema) = body.schema {
        event_type.schema = schema;
    }
    if let Some(example) = body.example {
        event_type.example = example;
    }
    check_schema_and_example(&state, &event_type)?;
    event_type.updated_at = herald_store::timestamp_now();
    if !state.catalog.update_event_type(&event_type).await? {
        return Err(ApiError::not_found("event type", &name));
    }
    Ok(JsonResponse(event_type.into()))
}

/// Delete an event type. Refused (409) while subscriptions use it, unless `force=true`; forced,
/// the subscriptions are kept.
#[utoipa::path(delete, path = "/api/v1/event-types/{name}", tag = "event-types",
    operation_id = "deleteEventType",
    params(("name" = String, Path, description = "The event type name", max_length = 128,
        pattern = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$"), DeleteQuery),
    responses((status = 204), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    principal.require_admin()?;
    load(&state, &name).await?;
    if query.force != Some(true) {
        let usage = state.catalog.event_type_usage(&name, USAGE_SAMPLE).await?;
        if usage.subscriptions > 0 {
            return Err(in_use(&name, &usage));
        }
    }
    if state.catalog.delete_event_type(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("event type", &name))
    }
}

/// 409: `name` is used by subscriptions; names a few and says how to delete anyway.
fn in_use(name: &str, usage: &herald_store::EventTypeUsage) -> ApiError {
    let count = usage.subscriptions;
    let noun = if count == 1 {
        "subscription"
    } else {
        "subscriptions"
    };
    let mut ids: Vec<&str> = usage.first.iter().map(|id| id.as_str()).collect();
    if count > ids.len() as u64 {
        ids.push("…");
    }
    ApiError::conflict(format!(
        "the event type '{name}' is used by {count} {noun} ({}); change or delete them first, \
         or delete it anyway with `herald event-types delete {name} --force` \
         (DELETE /api/v1/event-types/{name}?force=true), which keeps the subscriptions",
        ids.join(", ")
    ))
}

/// The schema compiles, and the example (at most the payload limit) satisfies it.
fn check_schema_and_example(state: &AppState, event_type: &EventType) -> Result<(), ApiError> {
    let validator = event_type.schema.as_ref().map(compile).transpose()?;
    let Some(example) = &event_type.example else {
        return Ok(());
    };
    let size = example.to_string().len();
    if size > state.config.max_payload_size {
        return Err(ApiError::validation(format!(
            "the example is {size} bytes; the payload limit is {} bytes",
            state.config.max_payload_size
        )));
    }
    if let Some(error) = validator.and_then(|v| v.validate(example).err().map(|e| e.to_string())) {
        return Err(ApiError::validation(format!(
            "the example does not satisfy the schema of '{}': {error}",
            event_type.name
        )));
    }
    Ok(())
}

/// A payload to publish for this event type: its example, one generated from its schema, or
/// `{}`; a note says when it is not the stored example's.
#[utoipa::path(get, path = "/api/v1/event-types/{name}/sample", tag = "event-types",
    operation_id = "getEventTypeSample",
    responses((status = 200, body = SampleView), (status = 404, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn show_sample(
    State(state): State<AppState>,
    _principal: Principal,
    Path(name): Path<String>,
) -> Result<JsonResponse<SampleView>, ApiError> {
    Ok(JsonResponse(sample(&load(&state, &name).await?)))
}
