//! Problem details (RFC 9457): the body of every refusal `herald listen` sends.
//!
//! A sender records the body prefix of a failed attempt, so each problem names one thing to
//! fix. The `type` is a stable URN per kind of failure (tests and scripts match on it); the
//! `detail` is for people and never carries a secret or a command's output, which stay in the
//! local output only.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The prefix of every problem `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:herald:problem:";

/// One RFC 9457 problem: `{type, title, status, detail}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// `urn:herald:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of failure, the same for every occurrence.
    pub title: String,
    /// The HTTP status answered.
    pub status: u16,
    /// What went wrong with this request, and what to change.
    pub detail: String,
}

impl Problem {
    /// A problem of kind `slug` answered with `status`.
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{PROBLEM_TYPE_PREFIX}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    /// The slug after [`PROBLEM_TYPE_PREFIX`].
    pub fn slug(&self) -> &str {
        self.kind
            .strip_prefix(PROBLEM_TYPE_PREFIX)
            .unwrap_or(&self.kind)
    }

    /// The status as a `StatusCode` (500 if it were ever out of range).
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        // Serialising four strings and a number cannot fail; fall back to a bare body anyway.
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
