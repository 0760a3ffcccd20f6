//! Akoya's error body, `{code, message, debugMessage}`, with Akoya's status codes.
//!
//! `code` is an integer, as Akoya returns it (the FDX specification says string; Akoya's docs
//! say integer): here it is the HTTP status, which is all a client may branch on.
//! `message` says what was wrong in the request and what to send instead; `debugMessage`
//! adds Herald's own wording where it has one, and is not for business logic (as Akoya says).
//! Store failures become 503/500 with a generic message; the cause goes to the log only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::error::ApiError;

/// The body of every error of the Akoya API.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    code: u16,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug_message: Option<String>,
}

/// An error of the Akoya API.
#[derive(Debug)]
pub struct AkoyaError {
    status: StatusCode,
    message: String,
    debug_message: Option<String>,
}

impl AkoyaError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            debug_message: None,
        }
    }

    /// 400: the request does not satisfy the API's specification.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no valid service token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404: no such subscription of the caller's.
    pub fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!(
                "no subscription '{id}' of yours exists; GET /notifications/v1/subscriptions \
                 lists them"
            ),
        )
    }

    /// 405: the route does not take that method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "this route does not accept that method",
        )
    }

    /// With Herald's own wording as `debugMessage`.
    fn debug(mut self, debug: impl Into<String>) -> Self {
        self.debug_message = Some(debug.into());
        self
    }

    /// The status it renders with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// Herald's checks (limits, URL rules, store failures) in Akoya's shape: a client mistake is
/// a 400 unless it has a status of its own Akoya uses (401, 404, 405, 429); a server failure
/// keeps its 5xx and its generic message.
impl From<ApiError> for AkoyaError {
    fn from(error: ApiError) -> Self {
        let status = match error.status() {
            status @ (StatusCode::UNAUTHORIZED
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::TOO_MANY_REQUESTS) => status,
            status if status.is_client_error() => StatusCode::BAD_REQUEST,
            status => status,
        };
        Self::new(status, error.detail()).debug(format!("herald: {}", error.status()))
    }
}

impl From<herald_store::StoreError> for AkoyaError {
    fn from(error: herald_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for AkoyaError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.status.as_u16(),
            message: self.message,
            debug_message: self.debug_message,
        };
        (self.status, Json(body)).into_response()
    }
}
