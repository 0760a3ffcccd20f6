//! `/api/v1/tenants`: the operator's customers. Admin only, except that a tenant may reset
//! its own client secret (`credentials/rotate`), which also revokes every token it holds.
//! The admin may give a tenant a retention of its own (`retention_seconds`: null follows the
//! server's `retention`, 0 keeps its events forever), which the retention task honours.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as JsonResponse, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_store::{Tenant, TenantId};
use rand::RngCore;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Principal, hash_secret};
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::views::{List, TenantView};
use super::{AppState, page_request};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{id}", get(show).patch(update).delete(remove))
        .route("/tenants/{id}/credentials/rotate", post(rotate_credentials))
}

/// Body of `POST /tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Display name (1 to 200 characters, not only spaces).
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// How long this tenant's events are kept, in seconds (at most 100 years): absent or
    /// null follows the server's `retention`, 0 keeps them forever.
    #[serde(default, deserialize_with = "whole_seconds")]
    #[schema(minimum = 0, maximum = 3_153_600_000_u64)]
    pub retention_seconds: Option<u64>,
}

/// Body of `PATCH /tenants/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// New display name.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// How long this tenant's events are kept, in seconds (at most 100 years): null returns
    /// it to the server's `retention`, 0 keeps them forever; absent leaves it as it is.
    #[serde(default, deserialize_with = "nullable_whole_seconds")]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 3_153_600_000_u64)]
    pub retention_seconds: Option<Option<u64>>,
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TenantQuery {
    /// `next_cursor` of the previous page.
    #[param(nullable = false, pattern = "^ten_[0-9a-fA-F]{32}$")]
    pub cursor: Option<String>,
    /// Page size (1 to 200, default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn check_name(name: &str) -> Result<String, ApiError> {
    // The length counts what was sent, as the schema's `maxLength` does; only the emptiness
    // check looks at the trimmed name.
    let trimmed = name.trim();
    if trimmed.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("name must be 1 to 200 characters"));
    }
    Ok(trimmed.to_owned())
}

/// Seconds as JSON Schema counts an integer: `485` or `485.0` (schema-driven clients send
/// either); a fraction or a negative number is refused, naming the field.
fn whole_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let number: Option<serde_json::Number> = Deserialize::deserialize(deserializer)?;
    number
        .map(|number| {
            let whole = number.as_u64().or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(f))
                    .map(|f| f as u64)
            });
            whole.ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{number} is not a whole number of seconds from 0"
                ))
            })
        })
        .transpose()
}

/// [`whole_seconds`] for a patch: absent (`None`, by `default`) differs from null.
fn nullable_whole_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<u64>>, D::Error> {
    whole_seconds(deserializer).map(Some)
}

/// The longest retention a tenant can be given: 100 years (of 365 days).
const MAX_RETENTION_SECONDS: u64 = 100 * 365 * 24 * 3600;

fn check_retention(seconds: Option<u64>) -> Result<Option<u64>, ApiError> {
    match seconds {
        Some(seconds) if seconds > MAX_RETENTION_SECONDS => Err(ApiError::validation(format!(
            "retention_seconds must be at most {MAX_RETENTION_SECONDS} (100 years); \
             0 keeps events forever"
        ))),
        _ => Ok(seconds),
    }
}

fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// A new client secret: 256 random bits, shown once, stored as its hash.
fn new_client_secret() -> String {
    format!("hcs_{}", random_token(32))
}

fn parse_id(id: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(id).map_err(|_| ApiError::not_found("tenant", id))
}

/// Create a tenant; the response is the only one that shows `client_secret`.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", operation_id = "createTenant",
    request_body = CreateTenant,
    responses((status = 201, body = TenantView), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateTenant>,
) -> Result<(StatusCode, JsonResponse<TenantView>), ApiError> {
    principal.require_admin()?;
    let client_secret = new_client_secret();
    let tenant = Tenant {
        id: TenantId::generate(),
        name: check_name(&body.name)?,
        client_id: format!("hci_{}", random_token(12)),
        client_secret_hash: hash_secret(&client_secret),
        created_at: herald_store::timestamp_now(),
        retention_seconds: check_retention(body.retention_seconds)?,
    };
    state.catalog.create_tenant(&tenant).await?;
    let mut view = TenantView::from(tenant);
    view.client_secret = Some(client_secret);
    Ok((StatusCode::CREATED, JsonResponse(view)))
}

/// List tenants, newest first.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", operation_id = "listTenants",
    params(TenantQuery), responses((status = 200, body = List<TenantView>), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<TenantQuery>,
) -> Result<JsonResponse<List<TenantView>>, ApiError> {
    principal.require_admin()?;
    let page = page_request(query.cursor, query.limit, |c| {
        TenantId::parse(c).map(|_| ())
    })?;
    let page = state.catalog.list_tenants(&page).await?;
    Ok(JsonResponse(List {
        data: page.items.into_iter().map(TenantView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "tenants", operation_id = "getTenant",
    params(("id" = String, Path, description = "`ten_…`", pattern = "^ten_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = TenantView), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<TenantView>, ApiError> {
    principal.require_admin()?;
    let tenant = state
        .catalog
        .get_tenant(&parse_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant", &id))?;
    Ok(JsonResponse(tenant.into()))
}

/// Rename a tenant, or set its own retention.
#[utoipa::path(patch, path = "/api/v1/tenants/{id}", tag = "tenants", operation_id = "updateTenant",
    params(("id" = String, Path, description = "`ten_…`", pattern = "^ten_[0-9a-fA-F]{32}$")),
    request_body = UpdateTenant,
    responses((status = 200, body = TenantView), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<UpdateTenant>,
) -> Result<JsonResponse<TenantView>, ApiError> {
    principal.require_admin()?;
    let tenant_id = parse_id(&id)?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    let retention = body.retention_seconds.map(check_retention).transpose()?;
    if let Some(name) = name {
        state.catalog.rename_tenant(&tenant_id, &name).await?;
    }
    if let Some(seconds) = retention {
        state
            .catalog
            .set_tenant_retention(&tenant_id, seconds)
            .await?;
    }
    let tenant = state.catalog.get_tenant(&tenant_id).await?;
    Ok(JsonResponse(
        tenant
            .ok_or_else(|| ApiError::not_found("tenant", &id))?
            .into(),
    ))
}

/// Delete a tenant with its subscriptions and their deliveries.
#[utoipa::path(delete, path = "/api/v1/tenants/{id}", tag = "tenants",
    operation_id = "deleteTenant",
    params(("id" = String, Path, description = "`ten_…`", pattern = "^ten_[0-9a-fA-F]{32}$")),
    responses((status = 204), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require_admin()?;
    if state.catalog.delete_tenant(&parse_id(&id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("tenant", &id))
    }
}

/// Reset a tenant's client secret: the new one is shown in this response only, the old one
/// stops working at once, and every access token of the tenant is revoked. The admin, or the
/// tenant itself.
#[utoipa::path(post, path = "/api/v1/tenants/{id}/credentials/rotate", tag = "tenants",
    operation_id = "rotateTenantCredentials",
    params(("id" = String, Path, description = "`ten_…`", pattern = "^ten_[0-9a-fA-F]{32}$")),
    responses((status = 200, body = TenantView), (status = 404)),
    security(("bearer" = [])))]
pub async fn rotate_credentials(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<TenantView>, ApiError> {
    let tenant_id = parse_id(&id)?;
    // Another tenant's id reads as unknown, as everywhere a tenant cannot see.
    if !principal.can_see(&tenant_id) {
        return Err(ApiError::not_found("tenant", &id));
    }
    let client_secret = new_client_secret();
    let tenant = state
        .catalog
        .rotate_tenant_credentials(&tenant_id, &hash_secret(&client_secret))
        .await?
        .ok_or_else(|| ApiError::not_found("tenant", &id))?;
    let mut view = TenantView::from(tenant);
    view.client_secret = Some(client_secret);
    Ok(JsonResponse(view))
}
