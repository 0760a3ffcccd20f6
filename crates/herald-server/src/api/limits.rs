//! The body-read deadline: a request's whole body must arrive within `body_read_timeout` of its
//! headers, or the request is answered 408 and its connection closed.
//!
//! It owns only the deadline; the header timeout and the connection cap are the listener's
//! ([`crate::server`]). It must never buffer a body itself: it wraps the body's stream, so the
//! handler reads as before and body size limits still apply. The deadline is a total, not an
//! idle timeout (tower-http's `RequestBodyTimeoutLayer` restarts its timer on every frame), so
//! a client trickling one byte a second cannot hold a connection for ever.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use super::error::ApiError;

/// Middleware: gives the request's body a deadline, and answers 408 if the handler hit it.
pub async fn body_deadline(timeout: Duration, request: Request, next: Next) -> Response {
    if request.body().size_hint().exact() == Some(0) {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::from_stream(DeadlineStream {
            inner: body.into_data_stream(),
            sleep: Box::pin(tokio::time::sleep_until(Instant::now() + timeout)),
            expired: Arc::clone(&expired),
            done: false,
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let mut response = ApiError::bad_request(
        "request-timeout",
        format!(
            "the request body did not arrive within {} (body_read_timeout); send it at once",
            herald_duration::format(timeout)
        ),
    )
    .with_status(StatusCode::REQUEST_TIMEOUT)
    .into_response();
    // The rest of the body is never read, so the connection cannot carry another request.
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A body stream that fails once its deadline passes.
struct DeadlineStream {
    /// The request's own body.
    inner: BodyDataStream,
    /// Fires at the deadline.
    sleep: Pin<Box<Sleep>>,
    /// Tells [`body_deadline`] that the failure was the deadline, not the client.
    expired: Arc<AtomicBool>,
    /// After the deadline error the stream ends.
    done: bool,
}

impl Stream for DeadlineStream {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        // Data already there wins over the deadline.
        if let Poll::Ready(item) = self.inner.poll_next_unpin(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.done = true;
        self.expired.store(true, Ordering::Release);
        let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "body_read_timeout");
        Poll::Ready(Some(Err(axum::Error::new(error))))
    }
}
