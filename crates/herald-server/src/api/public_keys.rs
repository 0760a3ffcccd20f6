//! `GET /.well-known/herald/keys/{subscription_id}`: the Ed25519 public keys that verify a
//! `v1a` subscription's deliveries, as a JWK Set (RFC 7517, keys per RFC 8037).
//!
//! No authentication: the keys are public by nature, and a receiver that discovers them
//! should need nothing but the subscription id it was given. The set holds the current key
//! first and a rotated-out key while its grace period lasts, so a receiver that fetches the set
//! during a rotation accepts both signatures. A `v1` subscription has no public keys (404):
//! its HMAC secret must never be published.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_store::{SignatureScheme, SubscriptionId};
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use super::extract::Path;
use super::subscriptions::forms;

pub fn router() -> Router<AppState> {
    Router::new().route("/.well-known/herald/keys/{id}", get(show))
}

/// A JWK Set.
#[derive(Debug, Serialize)]
pub struct KeySet {
    /// The current key first.
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key as a JWK.
#[derive(Debug, Serialize)]
pub struct Jwk {
    /// Always `OKP` (octet key pair).
    pub kty: &'static str,
    /// Always `Ed25519`.
    pub crv: &'static str,
    /// The raw public key, base64url without padding.
    pub x: String,
    /// The key as the API shows it (`whpk_…`).
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: &'static str,
    /// Always `EdDSA`.
    pub alg: &'static str,
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::not_found_because(format!(
            "no subscription '{id}' signs with v1a (Ed25519), so it has no public keys"
        ))
    };
    let parsed = SubscriptionId::parse(&id).map_err(|_| not_found())?;
    let sub = state
        .catalog
        .get_subscription(&parsed)
        .await?
        .filter(|sub| sub.signature_scheme == SignatureScheme::V1a)
        .ok_or_else(not_found)?;
    let keys = forms::live_public_keys(&sub, herald_store::timestamp_now())
        .into_iter()
        .map(|key| Jwk {
            kty: "OKP",
            crv: "Ed25519",
            x: URL_SAFE_NO_PAD.encode(key.to_bytes()),
            kid: key.to_string(),
            key_use: "sig",
            alg: "EdDSA",
        })
        .collect();
    let mut response = Json(KeySet { keys }).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // Short: a rotation should reach receivers well within the grace period.
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
