//! `POST /oauth2/token`: the client-credentials grant (RFC 6749 §4.4). A tenant exchanges its
//! `client_id`/`client_secret` (HTTP Basic) for a bearer token that expires. Errors are problem
//! documents that also carry the RFC 6749 `error` code, so OAuth2 client libraries understand
//! them.

use axum::body::Bytes;
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
use super::auth::{TENANT_TOKEN_PREFIX, hash_secret, secrets_equal};
use super::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/oauth2/token", post(token))
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

/// Exchange client credentials for an access token.
#[utoipa::path(post, path = "/oauth2/token", tag = "auth", operation_id = "createToken",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400), (status = 401)),
    security(("client_credentials" = [])))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form: Vec<(String, String)> = serde_urlencoded_pairs(&body);
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str());
    let (client_id, client_secret) = basic_credentials(&headers).ok_or_else(missing_client)?;
    match grant {
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
    let tenant = state
        .catalog
        .get_tenant_by_client_id(&client_id)
        .await?
        .filter(|t| secrets_equal(&hash_secret(&client_secret), &t.client_secret_hash))
        .ok_or_else(wrong_client)?;
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
    })
    .into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Parses `application/x-www-form-urlencoded` pairs (malformed pairs are skipped).
fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}
