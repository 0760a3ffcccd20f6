//! The API's one error type, rendered as RFC 9457 `application/problem+json`.
//!
//! Every client mistake maps to a 4xx whose `detail` says what to fix; store failures map to
//! 503 (unavailable) or 500 with a generic body, and the real cause goes to the log only, so
//! internals never leak.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The URI prefix of Herald's problem types (`urn:herald:problem:not-found`).
pub const PROBLEM_PREFIX: &str = "urn:herald:problem:";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Identifies the kind of problem, e.g. `urn:herald:problem:validation`.
    #[serde(rename = "type")]
    #[schema(pattern = "^urn:herald:problem:[a-z-]+$")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, and what to fix.
    pub detail: String,
    /// For schema failures: the JSON pointer into the payload that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// OAuth2 error code, on /oauth2/token failures (RFC 6749 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// An error an API handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    pointer: Option<String>,
    oauth_error: Option<&'static str>,
    /// Seconds for a `Retry-After` header (429 only).
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            pointer: None,
            oauth_error: None,
            retry_after: None,
        }
    }

    /// 422: a configured limit was exceeded; `detail` names the setting and its value, so the
    /// caller knows what bounds it and the operator which setting to raise.
    pub fn limit_exceeded(setting: &str, value: impl std::fmt::Display, detail: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit-exceeded",
            "Limit exceeded",
            format!("{detail} (limit {setting} = {value})"),
        )
    }

    /// 429: a manual attempt found its subscription (or the server) at its cap; retry after
    /// `retry_after` seconds.
    pub fn busy(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "limit-exceeded",
            "Limit exceeded",
            detail,
        );
        error.retry_after = Some(retry_after);
        error
    }

    /// 400: the request is malformed (bad JSON, bad query, bad cursor).
    pub fn bad_request(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, slug, "Bad request", detail)
    }

    /// 401: missing or invalid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    /// 403: valid credentials that may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 404: no such resource (or not visible to this caller).
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} '{id}' exists (or it belongs to another tenant)"),
        )
    }

    /// 404 with a detail of the caller's (one that says what exists and how to find it).
    pub fn not_found_because(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 409: the resource exists already, or is busy.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 410: what was asked for existed but is gone for good (a payload that
    /// `payload_retention` removed).
    pub fn gone(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, slug, "Gone", detail)
    }

    /// 413: the body or payload is too large.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            detail,
        )
    }

    /// 415: the body is not JSON.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    /// 422: well-formed but invalid (missing or unknown field, bad value).
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid request",
            detail,
        )
    }

    /// 422: the payload fails its event type's schema, at `pointer`.
    pub fn schema(pointer: String, detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "schema-validation",
            "Payload does not match the event type's schema",
            detail,
        );
        error.pointer = Some(pointer);
        error
    }

    /// 422: the URL may not be used (scheme, blocked address).
    pub fn invalid_url(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-url",
            "URL not allowed",
            detail,
        )
    }

    /// 422: publishing an event type that is not registered.
    pub fn unknown_event_type(name: &str) -> Self {
        Self::unknown_event_types(format!(
            "the event type '{name}' is not registered; register it with \
             `herald event-types create {name}` or POST /api/v1/event-types"
        ))
    }

    /// 422: subscription patterns that match no registered event type (`detail` names them).
    pub fn unknown_event_types(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-event-type",
            "Unknown event type",
            detail,
        )
    }

    /// An OAuth2 token endpoint error (RFC 6749 §5.2) as a problem.
    pub fn oauth(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        let mut error = Self::new(status, "oauth", "Token request refused", detail);
        error.oauth_error = Some(code);
        error
    }

    /// 503: the database is unreachable.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the database is unavailable; retry shortly",
        )
    }

    /// 500: a bug or a broken database; the cause is logged, not shown.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the cause is in its log",
        )
    }

    /// 429 for a manual attempt that found its subscription or the server at its cap (or
    /// the store's failure, as any).
    pub fn manual_busy(refused: crate::dispatch::TurnRefused) -> Self {
        match refused {
            crate::dispatch::TurnRefused::Busy(busy) => Self::busy(busy.to_string(), 1),
            crate::dispatch::TurnRefused::Store(error) => error.into(),
        }
    }

    /// The status this error renders with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The sentence a person reads (the Hub shows it next to the form that caused it).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => ApiError::conflict(what),
            StoreError::PayloadDropped(event) => ApiError::gone(
                "payload-removed",
                format!("the payload of event {event} was removed by payload_retention"),
            ),
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "store unavailable");
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            problem_type: format!("{PROBLEM_PREFIX}{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            pointer: self.pointer,
            error: self.oauth_error,
        };
        let mut response = (self.status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.oauth_error.is_some() {
                "Basic realm=\"herald\""
            } else {
                "Bearer"
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl ApiError {
    /// The same problem with another status (for routing fallbacks).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self.title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
            StatusCode::REQUEST_TIMEOUT => "Request timeout",
            _ => self.title,
        };
        self
    }
}
