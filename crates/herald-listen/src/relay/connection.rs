//! One relay connection: the WebSocket handshake, the `attached` frame, then each `deliver`
//! handled by exactly the code path a direct HTTP request takes (the receiver's own router:
//! verification, deduplication, `--forward-to`, `--hooks`, output), its answer sent back as
//! a `result`.
//!
//! Each delivery runs in its own task (the server sends at most the subscription's
//! `max_in_flight` at once, so these are bounded by the server). Silence for longer than
//! [`SILENT_AFTER`] (the server pings every 10 s) means the connection is dead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Limited};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tower::ServiceExt;
use url::Url;

use super::RelayError;
use super::protocol::{ClientFrame, ServerFrame};
use crate::handler::Shared;

/// Silence after which the server is taken for gone (it pings every 10 s).
pub(crate) const SILENT_AFTER: Duration = Duration::from_secs(30);
/// Bytes of the handler's response body sent back (the server keeps a prefix anyway).
const ANSWER_BODY_LIMIT: usize = 64 * 1024;

/// Why a connection ended.
pub(crate) enum Ended {
    /// The server or the network went away; reconnect. `attached` says whether it had been
    /// attached (a reconnect then starts its backoff afresh).
    Lost { reason: String, attached: bool },
    /// Shutdown was asked.
    Stopped,
}

/// Where and how to connect.
pub(crate) struct Target {
    /// `ws(s)://…/api/v1/relay?subscription=…`
    pub url: Url,
    pub token: String,
    /// Largest frame accepted from the server.
    pub max_frame: usize,
}

/// Connects, attaches and handles deliveries until the connection ends or `stop` fires.
pub(crate) async fn run(
    target: &Target,
    shared: &Arc<Shared>,
    router: &Router,
    path: &str,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<Ended, RelayError> {
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|error| RelayError::Url(error.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", target.token))
        .map_err(|_| RelayError::NoCredentials)?;
    request.headers_mut().insert(header::AUTHORIZATION, bearer);
    let config = WebSocketConfig::default()
        .max_message_size(Some(target.max_frame))
        .max_frame_size(Some(target.max_frame));
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
    let (socket, _) = tokio::select! {
        () = stop.cancelled() => return Ok(Ended::Stopped),
        connected = connect => match connected {
            Ok(connected) => connected,
            Err(error) => return handshake_failed(error),
        },
    };
    let (mut sink, mut stream) = socket.split();
    let (answers, mut outgoing) = mpsc::channel::<ClientFrame>(64);
    let mut attached = false;
    let mut heard = tokio::time::Instant::now();
    let mut silence = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                let _ = sink.send(Message::Close(None)).await;
                return Ok(Ended::Stopped);
            }
            answer = outgoing.recv() => {
                // The loop holds a sender: the channel never closes while it runs.
                let Some(answer) = answer else { continue };
                let Ok(text) = serde_json::to_string(&answer) else { continue };
                if let Err(error) = sink.send(Message::Text(text.into())).await {
                    return Ok(lost(error.to_string(), attached));
                }
            }
            message = stream.next() => {
                heard = tokio::time::Instant::now();
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => return Ok(lost(error.to_string(), attached)),
                    None => return Ok(lost("the server closed the connection".into(), attached)),
                };
                match message {
                    Message::Text(text) => match serde_json::from_str::<ServerFrame>(&text) {
                        Ok(ServerFrame::Attached { subscription, waiting, max_in_flight }) => {
                            attached = true;
                            shared.output.notice(&format!(
                                "herald listen: attached to {subscription} over the relay \
                                 (at most {max_in_flight} at once)"
                            ));
                            if waiting > 0 {
                                shared.output.notice(&format!(
                                    "herald listen: catching up: {waiting} waiting"
                                ));
                            }
                        }
                        Ok(ServerFrame::Deliver { seq, headers, body, .. }) => {
                            let (router, path) = (router.clone(), path.to_owned());
                            let answers = answers.clone();
                            shared.tracker.spawn(async move {
                                let answer = handle(seq, headers, body, router, &path).await;
                                let _ = answers.send(answer).await;
                            });
                        }
                        Err(error) => {
                            shared.output.notice(&format!(
                                "herald listen: ignoring an unreadable relay frame: {error}"
                            ));
                        }
                    },
                    Message::Close(frame) => {
                        let reason = frame
                            .map(|f| f.reason.to_string())
                            .filter(|r| !r.is_empty())
                            .unwrap_or_else(|| "the server closed the connection".into());
                        return Ok(lost(reason, attached));
                    }
                    // Pings are answered by the WebSocket layer as the stream is read.
                    _ => {}
                }
            }
            _ = silence.tick() => {
                if heard.elapsed() >= SILENT_AFTER {
                    return Ok(lost(
                        format!("nothing heard from the server for {}s", SILENT_AFTER.as_secs()),
                        attached,
                    ));
                }
            }
        }
    }
}

fn lost(reason: String, attached: bool) -> Ended {
    Ended::Lost { reason, attached }
}

/// A refused handshake (401, 403, 404, 422: bad token, another tenant's subscription, not a
/// relay one) ends the listener; anything else is a connection to retry.
fn handshake_failed(error: tokio_tungstenite::tungstenite::Error) -> Result<Ended, RelayError> {
    use tokio_tungstenite::tungstenite::Error;
    if let Error::Http(response) = &error {
        let status = response.status();
        if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            let detail = response
                .body()
                .as_deref()
                .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
                .and_then(|problem| problem.get("detail")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(RelayError::Refused(format!(
                "the server refused the relay connection ({status}): {detail}"
            )));
        }
    }
    Ok(lost(error.to_string(), false))
}

/// Handles one `deliver` as a direct request to this receiver, and says what it answered.
async fn handle(
    seq: u64,
    headers: Vec<(String, String)>,
    body: String,
    router: Router,
    path: &str,
) -> ClientFrame {
    let started = Instant::now();
    let answer = |status: u16, headers, body| ClientFrame::Result {
        seq,
        status,
        headers,
        body,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let Ok(body) = base64::engine::general_purpose::STANDARD.decode(body) else {
        return answer(400, Vec::new(), "the relayed body is not base64".into());
    };
    let mut request = Request::builder().method(Method::POST).uri(path);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let Ok(request) = request.body(Body::from(body)) else {
        return answer(400, Vec::new(), "the relayed headers are not valid".into());
    };
    let Ok(response) = router.oneshot(request).await;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body = Limited::new(response.into_body(), ANSWER_BODY_LIMIT)
        .collect()
        .await
        .map(|collected| String::from_utf8_lossy(&collected.to_bytes()).into_owned())
        .unwrap_or_default();
    answer(status, headers, body)
}
