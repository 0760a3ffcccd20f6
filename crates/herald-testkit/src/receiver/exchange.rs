//! The two halves of one exchange at the [`Receiver`](super::Receiver): the [`Request`] it
//! recorded and the [`Reply`] it was told to give. Plain values, so a test can build, clone
//! and compare them; nothing here does I/O.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// One request as the receiver got it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The HTTP method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query string, without the `?`, if there was one.
    pub query: Option<String>,
    /// Every header as sent.
    pub headers: HeaderMap,
    /// The body, byte for byte.
    pub body: Bytes,
    /// When the request (headers and body) had arrived.
    pub at: Instant,
    /// The status it was answered with; `None` while it is still open, or if it was never
    /// answered (a [`Reply::hang`], or the client gave up first).
    pub answered: Option<StatusCode>,
}

impl Request {
    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `authorization` header.
    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    /// The `webhook-id` header (Standard Webhooks: stable across retries of one message).
    pub fn webhook_id(&self) -> Option<&str> {
        self.header("webhook-id")
    }

    /// The body as text (invalid UTF-8 replaced, so a test can always print it).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    /// When the body is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Whether it was answered with a 2xx.
    pub fn succeeded(&self) -> bool {
        self.answered.is_some_and(|status| status.is_success())
    }
}

/// How the receiver answers one request: a status, headers and a body, optionally after a
/// delay, or never.
#[derive(Clone, Debug)]
pub struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    delay: Duration,
    hang: bool,
}

impl Reply {
    /// `code` with a short text body. A code outside 100..=999 becomes 500, so a typo shows
    /// as a failing answer rather than a panic inside the receiver.
    pub fn status(code: u16) -> Reply {
        Reply {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: Vec::new(),
            body: Bytes::from_static(b"reply body"),
            delay: Duration::ZERO,
            hang: false,
        }
    }

    /// `200 OK`.
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    /// Accept the request and never answer (a blackholed endpoint).
    pub fn hang() -> Reply {
        Reply {
            hang: true,
            ..Reply::ok()
        }
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::status(302).with_header("location", location)
    }

    /// `code` with a JSON body (`application/json`).
    pub fn json(code: u16, body: impl Into<String>) -> Reply {
        Reply::status(code).with_body("application/json", body)
    }

    /// The same with this body and `content-type`.
    pub fn with_body(self, content_type: &str, body: impl Into<String>) -> Reply {
        Reply {
            body: Bytes::from(body.into()),
            ..self.with_header("content-type", content_type)
        }
    }

    /// The same with one more header. A name or value that is not valid HTTP is left out
    /// (test code writes these as literals).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.push((name, value));
        }
        self
    }

    /// The same, answered only after `delay` (a slow endpoint).
    pub fn after(self, delay: Duration) -> Reply {
        Reply { delay, ..self }
    }

    pub(super) fn delay(&self) -> Duration {
        self.delay
    }

    pub(super) fn hangs(&self) -> bool {
        self.hang
    }

    pub(super) fn code(&self) -> StatusCode {
        self.status
    }

    pub(super) fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
