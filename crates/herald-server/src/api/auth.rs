//! Who is calling: the admin (the operator's token) or a tenant (a bearer token issued at
//! `/oauth2/token`). Tenant tokens are stored as SHA-256 hashes, so a database leak does not
//! leak usable tokens; the admin token is compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use herald_store::TenantId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::AppState;
use super::error::ApiError;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The operator: sees and changes everything.
    Admin,
    /// A tenant: sees and changes only its own subscriptions, events and deliveries.
    Tenant(TenantId),
}

impl Principal {
    /// Refuses tenants.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Principal::Admin => Ok(()),
            Principal::Tenant(_) => {
                Err(ApiError::forbidden("this operation needs the admin token"))
            }
        }
    }

    /// The tenant this caller is limited to, if any.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Principal::Admin => None,
            Principal::Tenant(id) => Some(id),
        }
    }

    /// Whether the caller may see resources of `tenant`.
    pub fn can_see(&self, tenant: &TenantId) -> bool {
        self.tenant().is_none_or(|own| own == tenant)
    }
}

/// SHA-256 hex, for storing secrets and tokens.
pub fn hash_secret(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two secrets via their hashes (equal length by construction).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send 'Authorization: Bearer <token>'"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be 'Bearer <token>'")
            })?;
        if secrets_equal(token, &state.admin_token) {
            return Ok(Principal::Admin);
        }
        let tenant = state
            .catalog
            .access_token_tenant(&hash_secret(token), OffsetDateTime::now_utc())
            .await?;
        tenant
            .map(Principal::Tenant)
            .ok_or_else(|| ApiError::unauthorized(refusal(token)))
    }
}

/// Prefix of the admin tokens `herald serve` generates.
pub const ADMIN_TOKEN_PREFIX: &str = "hadm_";
/// Prefix of the tenant access tokens `/oauth2/token` issues.
pub const TENANT_TOKEN_PREFIX: &str = "hat_";

/// Why a bearer token was refused, pointing the way that fits what it looks like: an admin
/// token must not send its holder to `/oauth2/token`, where only tenants get tokens.
fn refusal(token: &str) -> &'static str {
    if token.starts_with(ADMIN_TOKEN_PREFIX) {
        "this looks like an admin token, but not this server's: use the admin token this \
         server printed at its first start (saved as admin-token in its data dir) or the one \
         set with admin_token"
    } else if token.starts_with(TENANT_TOKEN_PREFIX) {
        "this tenant token is unknown or has expired: get a new one at POST /oauth2/token \
         (`herald login`)"
    } else {
        "unknown bearer token: it is neither this server's admin token nor a tenant token; \
         tenants get one at POST /oauth2/token (`herald login`), the operator uses the admin \
         token"
    }
}
