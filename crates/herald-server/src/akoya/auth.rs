//! The Akoya API's caller: a tenant with a service token (a tenant token from
//! `/oauth2/token`). Herald's own bearer check, with its refusals in Akoya's shape; the admin
//! token is refused, because every Akoya call is made as one subscriber.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use herald_store::TenantId;

use super::error::AkoyaError;
use crate::api::AppState;
use crate::api::auth::Principal;

/// The tenant whose service token the request carries.
pub struct ServiceToken(pub TenantId);

impl FromRequestParts<AppState> for ServiceToken {
    type Rejection = AkoyaError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AkoyaError> {
        match Principal::from_request_parts(parts, state).await {
            Ok(Principal::Tenant(id)) => Ok(Self(id)),
            Ok(Principal::Admin) => Err(AkoyaError::unauthorized(
                "the notifications API takes a service token, not the admin token: get one \
                 at POST /oauth2/token with the subscriber's client credentials",
            )),
            Err(error) => Err(error.into()),
        }
    }
}
