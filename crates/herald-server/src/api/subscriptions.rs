//! `/api/v1/subscriptions`: where a tenant wants which events, and the tools to check it
//! (connectivity test, secret rotation). Tenant tokens see only their own. Patterns are
//! checked against the registered event types by [`super::patterns`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json as JsonResponse, Router};
use herald_signature::Secret;
use herald_store::{
    AttemptTrigger, Event, EventId, SignatureScheme, SigningSecret, Subscription,
    SubscriptionFilter, SubscriptionId, SubscriptionStatus, TenantId,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Principal;
use super::error::ApiError;
use super::extract::{Json, Path, Query, nullable};
use super::patterns;
use super::views::{List, SubscriptionView, TestResult};
use super::{AppState, page_request};
use crate::outbound::explain;

pub(crate) mod checks;
pub mod forms;
pub(crate) mod recover;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", get(list).post(create))
        .route(
            "/subscriptions/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/subscriptions/{id}/test", post(test))
        .route("/subscriptions/{id}/secret/rotate", post(rotate_secret))
        .route("/subscriptions/{id}/recover", post(recover::recover))
        .route("/recoveries/{id}", get(recover::show))
}

/// Body of `POST /subscriptions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The owning tenant (admin only; implied by a tenant token).
    #[schema(pattern = "^ten_[0-9a-fA-F]{32}$")]
    pub tenant_id: Option<String>,
    /// Where deliveries are POSTed (https unless the server runs with --dev), or `relay:` for
    /// a relay subscription, received by `herald listen --relay` over `GET /api/v1/relay`
    /// (see docs/relay.md).
    pub url: String,
    /// Event type names, or prefixes ending in `*` such as `consent.*`.
    #[schema(schema_with = super::openapi::event_type_patterns)]
    pub event_types: Vec<String>,
    /// For people.
    pub description: Option<String>,
    /// Extra headers for every delivery.
    pub headers: Option<BTreeMap<String, String>>,
    /// Requests per second at most.
    #[schema(minimum = 1)]
    pub rate_limit_per_second: Option<u32>,
    /// Requests in flight at most (default from the server config, 16).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_in_flight: Option<u32>,
    /// Whom to contact when the endpoint keeps failing.
    #[schema(max_length = 254, pattern = "@")]
    pub contact_email: Option<String>,
    /// Accept patterns that match no registered event type (the answer's `warnings` name
    /// them); without it they are refused with suggestions.
    #[serde(default)]
    pub allow_unmatched: bool,
    /// What each delivery's body holds: `full` (default: the payload as published), `thin`
    /// (`{type, timestamp, id, url}`, the event read from `url` with the tenant's token) or
    /// `akoya` (the thin pointer in Akoya's field names).
    #[schema(schema_with = super::openapi::payload_mode)]
    pub payload_mode: Option<String>,
    /// `v1` (default: HMAC-SHA256 with `secret`) or `v1a` (Ed25519; the answer shows
    /// `public_key`, also published at `/.well-known/herald/keys/{id}`).
    #[schema(schema_with = super::openapi::signature_scheme)]
    pub signature_scheme: Option<String>,
    /// Events published before this time (RFC 3339) are not delivered to it.
    #[schema(format = DateTime)]
    pub effective_at: Option<String>,
    /// mTLS: a certificate and key Herald presents to the endpoint; the answer shows only its
    /// fingerprint and expiry.
    pub client_certificate: Option<forms::ClientCertificateInput>,
    /// A CA bundle (PEM) the endpoint's certificate must chain to, instead of public roots.
    pub server_ca: Option<String>,
}

/// Body of `PATCH /subscriptions/{id}`: only the fields given change; `null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    /// New URL (or `relay:`, see create).
    pub url: Option<String>,
    /// New event types.
    #[schema(schema_with = super::openapi::event_type_patterns_or_null)]
    pub event_types: Option<Vec<String>>,
    /// `active` or `paused`.
    #[schema(schema_with = super::openapi::subscription_status)]
    pub status: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New custom headers (replaces all).
    pub headers: Option<BTreeMap<String, String>>,
    /// New rate limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1)]
    pub rate_limit_per_second: Option<Option<u32>>,
    /// New in-flight limit.
    #[schema(minimum = 1, maximum = 1000)]
    pub max_in_flight: Option<u32>,
    /// New contact.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 254, pattern = "@")]
    pub contact_email: Option<Option<String>>,
    /// Accept new event types that match no registered one (see create).
    #[serde(default)]
    pub allow_unmatched: bool,
    /// New payload mode (see create).
    #[schema(schema_with = super::openapi::payload_mode)]
    pub payload_mode: Option<String>,
    /// New signature scheme; switching to `v1a` makes a key pair if there is none.
    #[schema(schema_with = super::openapi::signature_scheme)]
    pub signature_scheme: Option<String>,
    /// New start time (RFC 3339); `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub effective_at: Option<Option<String>>,
    /// New client certificate (see create); `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<forms::ClientCertificateInput>)]
    pub client_certificate: Option<Option<forms::ClientCertificateInput>>,
    /// New CA bundle (see create); `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub server_ca: Option<Option<String>>,
}

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionQuery {
    /// Only this tenant's (admin).
    #[param(nullable = false, pattern = "^ten_[0-9a-fA-F]{32}$")]
    pub tenant_id: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(nullable = false, pattern = "^sub_[0-9a-fA-F]{32}$")]
    pub cursor: Option<String>,
    /// Page size (1 to 200, default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

pub(crate) async fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    // A relay subscription makes no outbound request, so the URL rules do not apply.
    if url == herald_store::RELAY_URL {
        return Ok(url.to_owned());
    }
    checks::url_length(url, &state.config.limits)?;
    state
        .deliverer
        .outbound()
        .check_url_resolved(url)
        .await
        .map(|u| u.to_string())
        .map_err(|e| ApiError::invalid_url(e.to_string()))
}

/// Loads a subscription the caller may see, else 404.
pub(crate) async fn load(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Subscription, ApiError> {
    let parsed = SubscriptionId::parse(id).map_err(|_| ApiError::not_found("subscription", id))?;
    match state.catalog.get_subscription(&parsed).await? {
        Some(sub) if principal.can_see(&sub.tenant_id) => Ok(sub),
        _ => Err(ApiError::not_found("subscription", id)),
    }
}

/// The tenant a new subscription belongs to: a tenant token's own, or the admin's `tenant_id`,
/// which must exist.
async fn owning_tenant(
    state: &AppState,
    principal: &Principal,
    given: Option<String>,
) -> Result<TenantId, ApiError> {
    Ok(match (principal, given) {
        (Principal::Tenant(own), None) => own.clone(),
        (Principal::Tenant(own), Some(given)) if given == own.as_str() => own.clone(),
        (Principal::Tenant(_), Some(_)) => {
            return Err(ApiError::forbidden(
                "a tenant token can create subscriptions only for its own tenant",
            ));
        }
        (Principal::Admin, None) => {
            return Err(ApiError::validation(
                "tenant_id is required with the admin token",
            ));
        }
        (Principal::Admin, Some(given)) => {
            let id = TenantId::parse(&given).map_err(|e| ApiError::validation(e.to_string()))?;
            if state.catalog.get_tenant(&id).await?.is_none() {
                return Err(ApiError::validation(format!(
                    "no tenant '{given}' exists; see `herald tenants list` or GET /api/v1/tenants"
                )));
            }
            id
        }
    })
}

/// Create a subscription; the response carries its signing secret.
#[utoipa::path(post, path = "/api/v1/subscriptions", tag = "subscriptions",
    operation_id = "createSubscription", request_body = CreateSubscription,
    responses((status = 201, body = SubscriptionView), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateSubscription>,
) -> Result<(StatusCode, JsonResponse<SubscriptionView>), ApiError> {
    let limits = &state.config.limits;
    // Sizes first: each is cheap, and refuses before any work that grows with the input.
    checks::pattern_count(&body.event_types, limits)?;
    checks::description(body.description.as_deref(), limits)?;
    let headers = checks::headers(body.headers.unwrap_or_default(), limits)?;
    checks::rate_and_in_flight(body.rate_limit_per_second, body.max_in_flight)?;
    checks::email(&body.contact_email)?;
    let payload_mode = body
        .payload_mode
        .as_deref()
        .map(forms::payload_mode)
        .transpose()?;
    let scheme = body
        .signature_scheme
        .as_deref()
        .map(forms::signature_scheme)
        .transpose()?;
    let effective_at = body
        .effective_at
        .as_deref()
        .map(forms::effective_at)
        .transpose()?;
    let tenant_id = owning_tenant(&state, &principal, body.tenant_id).await?;
    checks::room_for_subscription(state.catalog.as_ref(), &tenant_id, limits).await?;
    let url = check_url(&state, &body.url).await?;
    let checked = patterns::check(
        state.catalog.as_ref(),
        &body.event_types,
        body.allow_unmatched,
    )
    .await?;
    let now = herald_store::timestamp_now();
    let mut subscription = Subscription {
        id: SubscriptionId::generate(),
        tenant_id,
        url,
        event_types: checked.patterns,
        status: SubscriptionStatus::Active,
        description: body.description,
        headers,
        rate_limit_per_second: body
            .rate_limit_per_second
            .or(state.config.default_rate_limit),
        max_in_flight: body
            .max_in_flight
            .unwrap_or(state.config.default_max_in_flight),
        contact_email: body.contact_email,
        secrets: vec![SigningSecret {
            secret: Secret::generate().to_string(),
            expires_at: None,
        }],
        created_at: now,
        updated_at: now,
        payload_mode: payload_mode.unwrap_or_default(),
        signature_scheme: Default::default(),
        signing_keys: Vec::new(),
        effective_at,
        client_certificate_pem: None,
        client_key_pem: None,
        server_ca_pem: None,
    };
    forms::set_scheme(&mut subscription, scheme.unwrap_or_default());
    if let Some(certificate) = body.client_certificate {
        forms::set_client_certificate(&mut subscription, Some(certificate), &state.metrics)?;
    }
    forms::set_server_ca(&mut subscription, body.server_ca)?;
    state.catalog.create_subscription(&subscription).await?;
    let mut view = SubscriptionView::from(subscription);
    view.warnings = checked.warnings;
    Ok((StatusCode::CREATED, JsonResponse(view)))
}

/// List subscriptions, newest first.
#[utoipa::path(get, path = "/api/v1/subscriptions", tag = "subscriptions",
    operation_id = "listSubscriptions", params(SubscriptionQuery),
    responses((status = 200, body = List<SubscriptionView>), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<SubscriptionQuery>,
) -> Result<JsonResponse<List<SubscriptionView>>, ApiError> {
    let requested = query
        .tenant_id
        .map(|t| {
            TenantId::parse(&t).map_err(|e| ApiError::bad_request("invalid-query", e.to_string()))
        })
        .transpose()?;
    let tenant_id = match (principal.tenant(), requested) {
        (Some(own), Some(other)) if *own != other => {
            return Err(ApiError::forbidden(
                "a tenant token can list only its own subscriptions",
            ));
        }
        (Some(own), _) => Some(own.clone()),
        (None, requested) => requested,
    };
    let page = page_request(query.cursor, query.limit, |c| {
        SubscriptionId::parse(c).map(|_| ())
    })?;
    let page = state
        .catalog
        .list_subscriptions(&SubscriptionFilter { tenant_id }, &page)
        .await?;
    Ok(JsonResponse(List {
        data: page.items.into_iter().map(SubscriptionView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One subscription.
#[utoipa::path(get, path = "/api/v1/subscriptions/{id}", tag = "subscriptions",
    operation_id = "getSubscription",
    params(("id" = String, Path, description = "`sub_…`", pattern = "^sub_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = SubscriptionView), (status = 404)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<SubscriptionView>, ApiError> {
    Ok(JsonResponse(load(&state, &principal, &id).await?.into()))
}

/// Change a subscription; `status` pauses or resumes it (paused deliveries wait, then go out).
#[utoipa::path(patch, path = "/api/v1/subscriptions/{id}", tag = "subscriptions",
    operation_id = "updateSubscription",
    params(("id" = String, Path, description = "`sub_…`", pattern = "^sub_[0-9a-fA-F]{32}$")),
    request_body = UpdateSubscription,
    responses((status = 200, body = SubscriptionView), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<UpdateSubscription>,
) -> Result<JsonResponse<SubscriptionView>, ApiError> {
    let limits = &state.config.limits;
    if let Some(types) = &body.event_types {
        checks::pattern_count(types, limits)?;
    }
    if let Some(description) = &body.description {
        checks::description(description.as_deref(), limits)?;
    }
    let mut sub = load(&state, &principal, &id).await?;
    let was_paused = sub.status == SubscriptionStatus::Paused;
    if let Some(url) = body.url {
        sub.url = check_url(&state, &url).await?;
    }
    let mut warnings = Vec::new();
    if let Some(types) = body.event_types {
        let checked = patterns::check(state.catalog.as_ref(), &types, body.allow_unmatched).await?;
        sub.event_types = checked.patterns;
        warnings = checked.warnings;
    }
    if let Some(status) = body.status {
        sub.status = SubscriptionStatus::parse(&status).ok_or_else(|| {
            ApiError::validation(format!(
                "status must be 'active' or 'paused', not '{status}'"
            ))
        })?;
    }
    if let Some(description) = body.description {
        sub.description = description;
    }
    if let Some(headers) = body.headers {
        sub.headers = checks::headers(headers, limits)?;
    }
    checks::rate_and_in_flight(body.rate_limit_per_second.flatten(), body.max_in_flight)?;
    if let Some(rate) = body.rate_limit_per_second {
        sub.rate_limit_per_second = rate;
    }
    if let Some(max) = body.max_in_flight {
        sub.max_in_flight = max;
    }
    if let Some(email) = body.contact_email {
        checks::email(&email)?;
        sub.contact_email = email;
    }
    if let Some(mode) = body.payload_mode {
        sub.payload_mode = forms::payload_mode(&mode)?;
    }
    if let Some(scheme) = body.signature_scheme {
        forms::set_scheme(&mut sub, forms::signature_scheme(&scheme)?);
    }
    if let Some(effective_at) = body.effective_at {
        sub.effective_at = effective_at
            .as_deref()
            .map(forms::effective_at)
            .transpose()?;
    }
    if let Some(certificate) = body.client_certificate {
        forms::set_client_certificate(&mut sub, certificate, &state.metrics)?;
    }
    if let Some(server_ca) = body.server_ca {
        forms::set_server_ca(&mut sub, server_ca)?;
    }
    sub.updated_at = herald_store::timestamp_now();
    if !state.catalog.update_subscription(&sub).await? {
        return Err(ApiError::not_found("subscription", &id));
    }
    if was_paused && sub.status == SubscriptionStatus::Active {
        state.intake.wake(); // its waiting deliveries are due now
    }
    let mut view = SubscriptionView::from(sub);
    view.warnings = warnings;
    Ok(JsonResponse(view))
}

/// Delete a subscription with its deliveries.
#[utoipa::path(delete, path = "/api/v1/subscriptions/{id}", tag = "subscriptions",
    operation_id = "deleteSubscription",
    params(("id" = String, Path, description = "`sub_…`", pattern = "^sub_[0-9a-fA-F]{32}$")),
    responses((status = 204), (status = 404)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sub = load(&state, &principal, &id).await?;
    if state.catalog.delete_subscription(&sub.id).await? {
        // This node's gauge at once; other nodes' at their next certificate scan.
        state.metrics.forget_client_certificate(sub.id.as_str());
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("subscription", &id))
    }
}

/// Header of the connectivity test's answer: the URL being tested.
pub const TEST_URL_HEADER: &str = "herald-test-url";
/// Header of the connectivity test's answer: how long the test may take at most, in ms.
pub const TEST_TIMEOUT_HEADER: &str = "herald-test-timeout-ms";

/// Send a `herald.test` event to this subscription now and report the attempt: the check a
/// subscriber runs when webhooks do not arrive.
///
/// A subscription with `max_in_flight` attempts in flight on this node, or no rate-limit
/// slot within a second (or a server at its `max_concurrency`), answers 429 with
/// `Retry-After` instead of queueing the test.
///
/// The status and the headers `herald-test-url` and `herald-test-timeout-ms` are sent at
/// once, before the attempt; the JSON body follows when the attempt is over, so a client can
/// say what it is waiting for, and for how long at most, while the endpoint hangs.
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/test", tag = "subscriptions",
    operation_id = "testSubscription",
    params(("id" = String, Path, description = "`sub_…`", pattern = "^sub_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = TestResult, headers(
        ("herald-test-url" = String, description = "The URL being tested."),
        ("herald-test-timeout-ms" = u64, description = "How long the attempt may take at most."))),
        (status = 404), (status = 429)),
    security(("bearer" = [])))]
pub async fn test(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sub = load(&state, &principal, &id).await?;
    let url = HeaderValue::from_str(&sub.url).ok();
    let attempt = start_test(&state, sub).await?;
    let body = futures::stream::once(async move {
        let result = attempt.await.map_err(std::io::Error::other)?;
        serde_json::to_vec(&result)
            .map(Bytes::from)
            .map_err(std::io::Error::other)
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(url) = url {
        headers.insert(TEST_URL_HEADER, url);
    }
    let limit = state.config.request_timeout.as_millis().to_string();
    if let Ok(limit) = HeaderValue::from_str(&limit) {
        headers.insert(TEST_TIMEOUT_HEADER, limit);
    }
    Ok(response)
}

/// Starts the connectivity test of `sub` (the API's and the Hub's): takes a manual turn,
/// publishes the `herald.test` event and makes the attempt in its own task, whose result it
/// hands back. A subscription at a limit is refused (429) before anything is written.
pub(crate) async fn start_test(
    state: &AppState,
    sub: Subscription,
) -> Result<tokio::task::JoinHandle<TestResult>, ApiError> {
    // Taken before the test event is written: a refused test leaves nothing behind.
    let turn = state
        .intake
        .manual_turn(&sub)
        .await
        .map_err(ApiError::manual_busy)?;
    let job = publish_test_event(state, sub).await?;
    let deliverer = Arc::clone(&state.deliverer);
    // The attempt runs in its own task: a caller that hangs up mid-test must not cut the
    // attempt short between sending it and recording it.
    Ok(tokio::spawn(async move {
        let attempt = deliverer.attempt(&job, AttemptTrigger::Test).await;
        drop(turn);
        TestResult {
            succeeded: attempt.succeeded(),
            event_id: job.event.id.to_string(),
            delivery_id: job.delivery.id.to_string(),
            explanation: attempt.error.map(explain),
            attempt: attempt.into(),
        }
    }))
}

/// Publishes the `herald.test` event to this one subscription, ready for its attempt.
pub(crate) async fn publish_test_event(
    state: &AppState,
    sub: Subscription,
) -> Result<herald_store::DeliveryJob, ApiError> {
    let now = herald_store::timestamp_now();
    let payload = serde_json::json!({
        "subscription_id": sub.id.as_str(),
        "message": "This is a connectivity test from Herald.",
    });
    let event = Event {
        id: EventId::generate(),
        event_type: "herald.test".to_owned(),
        payload_json: payload.to_string(),
        tenant_id: Some(sub.tenant_id.clone()),
        idempotency_key: None,
        created_at: now,
    };
    let lease_until = now + state.config.lease();
    let delivery = state.queue.publish_to(&event, &sub.id, lease_until).await?;
    Ok(herald_store::DeliveryJob {
        delivery,
        event,
        subscription: sub,
        not_before: now,
    })
}

/// Replace the signing secret (`v1`) or the Ed25519 key pair (`v1a`: the scheme in use); the
/// one it replaces keeps signing beside it for the grace period. At most two live: a rotation
/// drops any older grace secret, so however often a subscription rotates, a delivery carries
/// at most two signatures.
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/secret/rotate", tag = "subscriptions",
    operation_id = "rotateSubscriptionSecret",
    params(("id" = String, Path, description = "`sub_…`", pattern = "^sub_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = SubscriptionView), (status = 404)),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<SubscriptionView>, ApiError> {
    let mut sub = load(&state, &principal, &id).await?;
    let now = herald_store::timestamp_now();
    let grace_end = now + state.config.secret_grace_period;
    match sub.signature_scheme {
        SignatureScheme::V1 => {
            sub.secrets = rotated(sub.secrets, Secret::generate().to_string(), grace_end);
        }
        SignatureScheme::V1a => {
            let new = forms::new_signing_key().secret;
            sub.signing_keys = rotated(sub.signing_keys, new, grace_end);
        }
    }
    sub.updated_at = now;
    if !state.catalog.update_subscription(&sub).await? {
        return Err(ApiError::not_found("subscription", &id));
    }
    Ok(JsonResponse(sub.into()))
}

/// The secrets after a rotation: `new` as the current one, and the current one before it
/// (the one without an end; failing that, the first) signing until `grace_end`. Every older
/// grace secret is superseded: whoever verifies has moved past it already or never will.
fn rotated(
    secrets: Vec<SigningSecret>,
    new: String,
    grace_end: time::OffsetDateTime,
) -> Vec<SigningSecret> {
    let previous = secrets
        .iter()
        .position(|s| s.expires_at.is_none())
        .or((!secrets.is_empty()).then_some(0));
    let mut kept = vec![SigningSecret {
        secret: new,
        expires_at: None,
    }];
    if let Some(index) = previous
        && let Some(mut old) = secrets.into_iter().nth(index)
    {
        old.expires_at = Some(grace_end);
        kept.push(old);
    }
    kept
}
