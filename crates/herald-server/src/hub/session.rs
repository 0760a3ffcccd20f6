//! Signing in and out of the Hub, and who is looking at a page.
//!
//! The operator signs in with the admin token, a subscriber with its tenant's client id and
//! secret (checked as `/oauth2/token` checks them). A sign-in writes a session to the store
//! (by the SHA-256 of a random id, so the store never holds a usable session, and every node
//! on one PostgreSQL database knows it) and gives the browser the id in an HttpOnly,
//! `SameSite=Strict` cookie, `Secure` when the request came over https. The cookie never
//! holds a credential. Sign-out deletes the session. [`Viewer`] is the extractor every page
//! uses: no valid session, and the page answers with the sign-in page's address instead.

use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::csrf;
use super::layout;
use crate::api::AppState;
use crate::api::auth::{Principal, hash_secret, secrets_equal};
use crate::api::error::ApiError;

/// The cookie's name.
const COOKIE_NAME: &str = "herald_hub";
/// How long a sign-in lasts.
const SESSION_LIFETIME: Duration = Duration::hours(12);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signin", get(sign_in_page).post(sign_in))
        .route("/signout", post(sign_out))
}

/// Who is looking at a page: a signed-in operator or tenant, with the token its forms carry.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// What the API would let this caller do: the Hub applies the same rules.
    pub principal: Principal,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    /// The tenant's name for the header (subscribers only).
    pub tenant_name: Option<String>,
    /// The SHA-256 of the session id (sign-out deletes by it).
    session_hash: String,
}

impl Viewer {
    /// Whether this is the operator.
    pub fn is_operator(&self) -> bool {
        self.principal == Principal::Admin
    }
}

/// The session id the request's cookie holds, if any.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/hub/signin").into_response();
        let Some(id) = session_id(&parts.headers) else {
            return Err(to_sign_in());
        };
        let session_hash = hash_secret(&id);
        let session = state
            .catalog
            .hub_session(&session_hash, OffsetDateTime::now_utc())
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let Some(session) = session else {
            return Err(to_sign_in());
        };
        let (principal, tenant_name) = match session.tenant_id {
            None => (Principal::Admin, None),
            Some(tenant_id) => {
                let tenant = state
                    .catalog
                    .get_tenant(&tenant_id)
                    .await
                    .map_err(|e| ApiError::from(e).into_response())?;
                let Some(tenant) = tenant else {
                    return Err(to_sign_in());
                };
                (Principal::Tenant(tenant_id), Some(tenant.name))
            }
        };
        Ok(Viewer {
            principal,
            csrf: csrf::token_for(&id),
            tenant_name,
            session_hash,
        })
    }
}

/// The sign-in forms.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// `operator` or `tenant`: which form was sent.
    #[serde(rename = "as")]
    role: String,
    #[serde(default)]
    admin_token: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

async fn sign_in_page() -> Markup {
    page(None, None)
}

/// The sign-in page, with a sentence next to the form that failed.
fn page(operator_error: Option<&str>, tenant_error: Option<&str>) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to the Herald Hub" }
            div.signin {
                section aria-labelledby="op-h" {
                    h2 #op-h { "Operator" }
                    p.hint { "Use the admin token: " code { "herald serve" } " printed it at its first start and saved it as "
                        code { "admin-token" } " in its data directory." }
                    form method="post" action="/hub/signin" {
                        input type="hidden" name="as" value="operator";
                        label for="admin_token" { "Admin token" }
                        input #admin_token type="password" name="admin_token" autocomplete="current-password" required;
                        @if let Some(error) = operator_error { p.error role="alert" { (error) } }
                        button type="submit" { "Sign in as operator" }
                    }
                }
                section aria-labelledby="tenant-h" {
                    h2 #tenant-h { "Subscriber" }
                    p.hint { "Use your tenant's client ID and client secret, as given by the operator." }
                    form method="post" action="/hub/signin" {
                        input type="hidden" name="as" value="tenant";
                        label for="client_id" { "Client ID" }
                        input #client_id type="text" name="client_id" autocomplete="username" required;
                        label for="client_secret" { "Client secret" }
                        input #client_secret type="password" name="client_secret" autocomplete="current-password" required;
                        @if let Some(error) = tenant_error { p.error role="alert" { (error) } }
                        button type="submit" { "Sign in as subscriber" }
                    }
                }
            }
        },
    )
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    // A sign-in form sent from another site would sign the victim in as the attacker.
    if let Err(refused) = csrf::same_origin(&headers) {
        return (StatusCode::FORBIDDEN, layout::refusal(refused.sentence())).into_response();
    }
    let tenant = match form.role.as_str() {
        "operator" => {
            if !secrets_equal(form.admin_token.trim(), &state.admin_token) {
                let sentence = "That is not this server's admin token. It is in the file \
                                admin-token in the server's data directory.";
                return (StatusCode::UNAUTHORIZED, page(Some(sentence), None)).into_response();
            }
            None
        }
        _ => match check_tenant(&state, form.client_id.trim(), form.client_secret.trim()).await {
            Ok(Some(tenant)) => Some(tenant),
            Ok(None) => {
                let sentence = "The client ID or the client secret is wrong. Check both against \
                                the credentials the operator gave you.";
                return (StatusCode::UNAUTHORIZED, page(None, Some(sentence))).into_response();
            }
            Err(error) => return error.into_response(),
        },
    };
    let id: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let now = OffsetDateTime::now_utc();
    if let Err(error) = state
        .catalog
        .insert_hub_session(
            &hash_secret(&id),
            tenant.as_ref(),
            now,
            now + SESSION_LIFETIME,
        )
        .await
    {
        return ApiError::from(error).into_response();
    }
    let secure = if came_over_https(&headers) {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE_NAME}={id}; Path=/hub; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_LIFETIME.whole_seconds()
    );
    let mut response = Redirect::to("/hub").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// The tenant whose credentials these are, checked as `/oauth2/token` checks them.
async fn check_tenant(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
) -> Result<Option<herald_store::TenantId>, ApiError> {
    if client_id.is_empty() || client_secret.is_empty() {
        return Ok(None);
    }
    let tenant = state.catalog.get_tenant_by_client_id(client_id).await?;
    Ok(tenant
        .filter(|t| secrets_equal(&hash_secret(client_secret), &t.client_secret_hash))
        .map(|t| t.id))
}

/// Herald serves plain HTTP; https ends at a proxy, which says so.
fn came_over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct SignOut {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    if let Err(refused) = csrf::check(&headers, &viewer.csrf, &form.csrf) {
        return (StatusCode::FORBIDDEN, layout::refusal(refused.sentence())).into_response();
    }
    if let Err(error) = state.catalog.delete_hub_session(&viewer.session_hash).await {
        return ApiError::from(error).into_response();
    }
    let mut response = Redirect::to("/hub/signin").into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("herald_hub=; Path=/hub; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
