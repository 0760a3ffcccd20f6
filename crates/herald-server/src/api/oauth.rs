//! `POST /oauth2/token`: the client-credentials grant (RFC 6749 §4.4). A tenant exchanges its
//! `client_id`/`client_secret` (HTTP Basic) for a bearer token that expires. `POST
//! /oauth2/revoke` (RFC 7009) deletes one of the tenant's tokens. Errors are problem documents
//! that also carry the RFC 6749 `error` code, so OAuth2 client libraries understand them.
//!
//! Both check the client's credentials from the headers *before* reading the body, and read
//! at most [`FORM_BODY_LIMIT`] of it: these routes face anyone, and a wrong password must cost
//! the server a header parse, not a megabyte upload.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::AppState;
use herald_store::Tenant;

use super::auth::{TENANT_TOKEN_PREFIX, hash_secret, secrets_equal};
use super::error::ApiError;

/// The most of a token or revocation request's form body that is read: its fields are a
/// grant type or one token, a few dozen bytes.
pub const FORM_BODY_LIMIT: usize = 4 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
}

/// The form body of a revocation request (documentation only: the handler reads the pairs
/// itself, after checking the client's credentials).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RevokeRequest {
    /// The access token to revoke. Unknown, expired or already revoked tokens are not an
    /// error (RFC 7009 §2.2).
    token: String,
    /// Accepted and ignored: Herald has one kind of token.
    token_type_hint: Option<String>,
}

/// The form body of a token request (documentation only: the handler reads the pairs itself,
/// so that a missing or unknown grant gets its RFC 6749 error code rather than a parse error).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// Always `client_credentials`.
    #[schema(pattern = "^client_credentials$")]
    grant_type: String,
}

/// A successful token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The scopes granted, when the request asked for some (Akoya profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// No usable HTTP Basic credentials at all.
fn missing_client() -> ApiError {
    ApiError::oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "send the tenant's client_id and client_secret with HTTP Basic authentication",
    )
}

/// Credentials were sent, but they do not match a tenant. One answer for an unknown
/// client_id and a wrong secret, so the answer does not tell which client ids exist.
fn wrong_client() -> ApiError {
    ApiError::oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "the client_id or client_secret is wrong: check both against the credentials shown \
         when the tenant was created",
    )
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The tenant whose client credentials the request carries (HTTP Basic), checked before any
/// of the body is read.
async fn authenticate_client(state: &AppState, headers: &HeaderMap) -> Result<Tenant, ApiError> {
    let (client_id, client_secret) = basic_credentials(headers).ok_or_else(missing_client)?;
    state
        .catalog
        .get_tenant_by_client_id(&client_id)
        .await?
        .filter(|t| secrets_equal(&hash_secret(&client_secret), &t.client_secret_hash))
        .ok_or_else(wrong_client)
}

/// Reads the form body, at most [`FORM_BODY_LIMIT`] bytes of it.
async fn read_form(body: Body) -> Result<Vec<(String, String)>, ApiError> {
    let bytes = axum::body::to_bytes(body, FORM_BODY_LIMIT)
        .await
        .map_err(|_| {
            ApiError::too_large(format!(
                "the form body is larger than {FORM_BODY_LIMIT} bytes; send only its fields"
            ))
        })?;
    Ok(serde_urlencoded_pairs(&bytes))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Exchange client credentials for an access token.
#[utoipa::path(post, path = "/oauth2/token", tag = "auth", operation_id = "createToken",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400), (status = 401),
        (status = 413)),
    security(("client_credentials" = [])))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = authenticate_client(&state, &headers).await?;
    let form = read_form(body).await?;
    match field(&form, "grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported; use client_credentials"),
            ));
        }
        None => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send grant_type=client_credentials as a form body",
            ));
        }
    }
    let scope = granted_scope(&state, field(&form, "scope"))?;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let access_token = format!("{TENANT_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let ttl = state.config.token_lifetime;
    let expires_at = OffsetDateTime::now_utc() + ttl;
    state
        .catalog
        .insert_access_token(&hash_secret(&access_token), &tenant.id, expires_at)
        .await?;
    let mut response = Json(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: ttl.as_secs(),
        scope,
    })
    .into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The scopes a token request is granted. Herald's tokens have no scopes, so without the
/// Akoya profile `scope` is ignored (RFC 6749 §3.3 lets a server do so). With the profile,
/// Akoya's scopes are granted and echoed, and any other is refused with `invalid_scope`.
fn granted_scope(state: &AppState, asked: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(asked) = asked.filter(|_| state.config.akoya_profile) else {
        return Ok(None);
    };
    let scopes: Vec<&str> = asked.split_whitespace().collect();
    if let Some(unknown) = scopes.iter().find(|s| !crate::akoya::SCOPES.contains(s)) {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "scope '{unknown}' is not granted here; ask for {}",
                crate::akoya::SCOPES.join(" ")
            ),
        ));
    }
    Ok((!scopes.is_empty()).then(|| scopes.join(" ")))
}

/// Revoke one of the tenant's access tokens (RFC 7009). Answers 200 whether or not the token
/// existed, so the answer tells nothing about other tokens.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "auth", operation_id = "revokeToken",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or was not a live token of this client"),
        (status = 400), (status = 401), (status = 413)),
    security(("client_credentials" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = authenticate_client(&state, &headers).await?;
    let form = read_form(body).await?;
    let token = field(&form, "token")
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the access token to revoke as the form field token",
            )
        })?;
    // Only this client's own token goes; another tenant's is left alone, silently (§2.1).
    state
        .catalog
        .revoke_access_token(&hash_secret(token), &tenant.id)
        .await?;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Parses `application/x-www-form-urlencoded` pairs (malformed pairs are skipped).
fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}
