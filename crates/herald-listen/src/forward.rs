//! Forwarding to the local app (`--forward-to`): same body, same `webhook-*` headers.
//!
//! The app must be able to verify the signature itself, so the body and the `webhook-*` and
//! `content-type` header values are passed through as bytes, never re-encoded. The sender is
//! answered with the app's status and body, so what the sender records is what the app said.
//! Redirects are not followed (the app's 3xx goes back as is) and no proxy from the
//! environment is used: the target is a local app, and an `HTTP_PROXY` meant for the internet
//! must not capture it.

use std::error::Error as _;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Why the app gave no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// Connection refused, reset, DNS… (answered 502).
    #[error("the app at {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    /// No answer within `--forward-timeout` (answered 504).
    #[error("the app at {url} did not answer within {}s", .timeout.as_secs())]
    TimedOut { url: String, timeout: Duration },
}

/// The app's answer.
#[derive(Debug)]
pub(crate) struct Forwarded {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

/// Sends accepted webhooks to one URL.
#[derive(Debug, Clone)]
pub(crate) struct Forwarder {
    client: reqwest::Client,
    url: url::Url,
    timeout: Duration,
    /// The app's body is read up to this size and cut there: it goes back to the sender,
    /// which keeps only a prefix anyway.
    max_response: usize,
}

impl Forwarder {
    pub(crate) fn new(
        url: url::Url,
        timeout: Duration,
        max_response: usize,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .build()?;
        Ok(Self {
            client,
            url,
            timeout,
            max_response,
        })
    }

    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// POSTs `body` with the pass-through headers of `headers`, and reads the app's answer.
    pub(crate) async fn forward(
        &self,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Forwarded, ForwardError> {
        let mut passed = HeaderMap::new();
        for (name, value) in headers {
            if name.as_str().starts_with("webhook-") || name == header::CONTENT_TYPE {
                passed.append(name.clone(), value.clone());
            }
        }
        let response = self
            .client
            .post(self.url.clone())
            .headers(passed)
            .body(body)
            .send()
            .await
            .map_err(|err| self.error(&err))?;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let mut response = response;
        let mut body = BytesMut::new();
        while body.len() < self.max_response {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.max_response - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                // The status is what matters; a body cut short is still passed on.
                Err(_) => break,
            }
        }
        Ok(Forwarded {
            status,
            content_type,
            body: body.freeze(),
        })
    }

    fn error(&self, err: &reqwest::Error) -> ForwardError {
        let url = self.url.to_string();
        if err.is_timeout() {
            return ForwardError::TimedOut {
                url,
                timeout: self.timeout,
            };
        }
        // reqwest's own message is generic; the innermost cause says what happened.
        let mut reason = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            reason = cause.to_string();
            source = cause.source();
        }
        ForwardError::Unreachable { url, reason }
    }
}
