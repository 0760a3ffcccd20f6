//! `/notifications/v1/subscriptions`: create, list and delete, as views of the tenant's
//! Herald subscriptions.
//!
//! A subscription made here is a Herald subscription to the kind's one event type, with
//! `payload_mode: akoya`, `contact_email` from `callbackEmail` and `effective_at` from
//! `effectiveDate` (midnight UTC of that day: events published before it are not delivered to
//! it). The list shows every subscription of the tenant whose one pattern is a kind's event
//! type, however it was made. The same checks as Herald's API apply (URL rules, limits), their
//! refusals in Akoya's shape.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use herald_signature::Secret;
use herald_store::{
    PageRequest, PayloadMode, SigningSecret, Subscription, SubscriptionFilter, SubscriptionId,
    SubscriptionStatus, TenantId,
};
use serde::{Deserialize, Serialize};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::auth::ServiceToken;
use super::error::AkoyaError;
use super::kinds::{self, Kind};
use crate::api::AppState;
use crate::api::subscriptions::{check_url, checks};

/// `effectiveDate`'s form, `2021-07-15`.
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

/// The body of a create, every field optional here so that a missing one gets its own message.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequest {
    category: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    callback_url: Option<String>,
    effective_date: Option<String>,
    callback_email: Option<String>,
}

/// One subscription as Akoya shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    category: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    callback_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_email: Option<String>,
    subscription_id: String,
}

impl SubscriptionView {
    fn new(kind: Kind, sub: Subscription) -> Self {
        Self {
            category: kind.category,
            kind: kind.kind,
            callback_url: sub.url,
            effective_date: sub.effective_at.and_then(|at| at.date().format(DATE).ok()),
            callback_email: sub.contact_email,
            subscription_id: sub.id.to_string(),
        }
    }
}

/// The list's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionList {
    notification_subscriptions: Vec<SubscriptionView>,
}

fn required(value: Option<String>, field: &str, example: &str) -> Result<String, AkoyaError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        AkoyaError::bad_request(format!(
            "{field} is required, e.g. \"{field}\": \"{example}\""
        ))
    })
}

fn effective_at(date: &str) -> Result<OffsetDateTime, AkoyaError> {
    Date::parse(date.trim(), DATE)
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| {
            AkoyaError::bad_request(format!(
                "effectiveDate must be a date such as 2021-07-15, not '{date}'"
            ))
        })
}

/// `POST /notifications/v1/subscriptions`.
pub async fn create(
    State(state): State<AppState>,
    ServiceToken(tenant_id): ServiceToken,
    body: Bytes,
) -> Result<Json<SubscriptionView>, AkoyaError> {
    let request: CreateRequest = serde_json::from_slice(&body).map_err(|error| {
        AkoyaError::bad_request(format!(
            "the body must be a JSON object with category, type and callbackUrl ({error})"
        ))
    })?;
    let category = required(request.category, "category", "CONSENT")?;
    let kind_name = required(request.kind, "type", "CONSENT_REVOKED")?;
    let kind = kinds::by_names(&category, &kind_name).ok_or_else(|| {
        AkoyaError::bad_request(format!(
            "{category}/{kind_name} is not a known category/type; use one of {}",
            kinds::known()
        ))
    })?;
    let url = required(
        request.callback_url,
        "callbackUrl",
        "https://abc.com/notification",
    )?;
    let effective_at = request
        .effective_date
        .as_deref()
        .map(effective_at)
        .transpose()?;
    checks::email(&request.callback_email).map_err(|_| {
        AkoyaError::bad_request("callbackEmail must be an email address (at most 254 bytes)")
    })?;
    let limits = &state.config.limits;
    checks::room_for_subscription(state.catalog.as_ref(), &tenant_id, limits).await?;
    checks::url_length(&url, limits)?;
    let url = check_url(&state, &url).await.map_err(|error| {
        AkoyaError::bad_request(format!(
            "callbackUrl is not usable: {} (it must be HTTPS)",
            error.detail()
        ))
    })?;
    let subscription = new_subscription(
        &state,
        tenant_id,
        kind,
        url,
        request.callback_email,
        effective_at,
    );
    state.catalog.create_subscription(&subscription).await?;
    Ok(Json(SubscriptionView::new(kind, subscription)))
}

fn new_subscription(
    state: &AppState,
    tenant_id: TenantId,
    kind: Kind,
    url: String,
    contact_email: Option<String>,
    effective_at: Option<OffsetDateTime>,
) -> Subscription {
    let now = herald_store::timestamp_now();
    Subscription {
        id: SubscriptionId::generate(),
        tenant_id,
        url,
        event_types: vec![kind.event_type.to_owned()],
        status: SubscriptionStatus::Active,
        description: Some(format!("Akoya {}/{}", kind.category, kind.kind)),
        headers: Default::default(),
        rate_limit_per_second: state.config.default_rate_limit,
        max_in_flight: state.config.default_max_in_flight,
        contact_email,
        secrets: vec![SigningSecret {
            secret: Secret::generate().to_string(),
            expires_at: None,
        }],
        created_at: now,
        updated_at: now,
        payload_mode: PayloadMode::Akoya,
        signature_scheme: Default::default(),
        signing_keys: Vec::new(),
        effective_at,
        client_certificate_pem: None,
        client_key_pem: None,
        server_ca_pem: None,
    }
}

/// `GET /notifications/v1/subscriptions`: the tenant's subscriptions that are Akoya kinds.
/// A tenant holds at most `max_subscriptions_per_tenant`, so reading every page is bounded.
pub async fn list(
    State(state): State<AppState>,
    ServiceToken(tenant_id): ServiceToken,
) -> Result<Json<SubscriptionList>, AkoyaError> {
    let filter = SubscriptionFilter {
        tenant_id: Some(tenant_id),
    };
    let mut page = PageRequest {
        cursor: None,
        limit: 200,
    };
    let mut views = Vec::new();
    loop {
        let found = state.catalog.list_subscriptions(&filter, &page).await?;
        for sub in found.items {
            if let Some(kind) = kinds::of_patterns(&sub.event_types) {
                views.push(SubscriptionView::new(kind, sub));
            }
        }
        match found.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(Json(SubscriptionList {
        notification_subscriptions: views,
    }))
}

/// The caller's subscription `id`, else 404.
pub(super) async fn load(
    state: &AppState,
    tenant_id: &TenantId,
    id: &str,
) -> Result<Subscription, AkoyaError> {
    let parsed = SubscriptionId::parse(id).map_err(|_| AkoyaError::not_found(id))?;
    match state.catalog.get_subscription(&parsed).await? {
        Some(sub) if sub.tenant_id == *tenant_id => Ok(sub),
        _ => Err(AkoyaError::not_found(id)),
    }
}

/// `DELETE /notifications/v1/subscriptions/{subscriptionId}`: 204.
pub async fn remove(
    State(state): State<AppState>,
    ServiceToken(tenant_id): ServiceToken,
    Path(id): Path<String>,
) -> Result<StatusCode, AkoyaError> {
    let sub = load(&state, &tenant_id, &id).await?;
    if state.catalog.delete_subscription(&sub.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AkoyaError::not_found(&id))
    }
}
