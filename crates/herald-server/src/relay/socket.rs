//! `GET /api/v1/relay?subscription=sub_…`: the WebSocket a `herald listen --relay` opens.
//!
//! The handshake is an API request like any other: the bearer token (the admin's, or the
//! subscription's own tenant's) is checked before the upgrade, and a subscription the caller
//! may not see is a 404, so a tenant cannot learn of, or read, another tenant's deliveries
//! through it. Once upgraded, one task runs the connection: it sends `attached` (with the
//! number of deliveries waiting), then the `deliver` frames the hub queues, routes `result`
//! frames back to the attempts waiting for them, pings, and moves the presence on.
//!
//! A dead connection is found by silence: the server pings every [`PING_EVERY`], and a
//! connection from which nothing (not even a pong) came for [`DEAD_AFTER`] is closed. Frames
//! from the listener are bounded ([`RESULT_FRAME_LIMIT`]); a larger one closes the connection.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use herald_store::{Subscription, SubscriptionId};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::hub::{Connection, RelayHub};
use super::protocol::{ClientFrame, ServerFrame};
use crate::api::AppState;
use crate::api::auth::Principal;
use crate::api::error::ApiError;

/// How often the server pings, and moves its presence on.
pub const PING_EVERY: Duration = Duration::from_secs(10);
/// Silence after which a connection is taken for dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(30);
/// The largest frame a listener may send: a `result` carries a body prefix and headers.
pub const RESULT_FRAME_LIMIT: usize = 256 * 1024;
/// Frames queued for one connection before senders wait.
const QUEUE: usize = 16;

/// The query of `GET /api/v1/relay`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayQuery {
    /// The relay subscription to attach to.
    subscription: String,
}

/// The handshake: authenticate, find the subscription, upgrade.
pub async fn handshake(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<RelayQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let subscription = relay_subscription(&state, &principal, &query.subscription).await?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::bad_request(
            "websocket-required",
            format!(
                "this route is a WebSocket ({rejection}); connect with `herald listen --relay`"
            ),
        )
    })?;
    let Some(hub) = state.deliverer.relay().cloned() else {
        return Err(ApiError::bad_request(
            "relay-unavailable",
            "this server runs without the relay",
        ));
    };
    let intake = state.intake.clone();
    Ok(upgrade
        .max_message_size(RESULT_FRAME_LIMIT)
        .max_frame_size(RESULT_FRAME_LIMIT)
        .on_upgrade(move |socket| async move {
            run(hub, subscription, socket, move || intake.wake()).await;
        })
        .into_response())
}

/// The subscription `id` if the caller may see it and it is a relay subscription.
async fn relay_subscription(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Subscription, ApiError> {
    let not_found = || ApiError::not_found("subscription", id);
    let parsed = SubscriptionId::parse(id).map_err(|_| not_found())?;
    let subscription = match state.catalog.get_subscription(&parsed).await? {
        Some(sub) if principal.can_see(&sub.tenant_id) => sub,
        _ => return Err(not_found()),
    };
    if !subscription.is_relay() {
        return Err(ApiError::validation(format!(
            "subscription {id} delivers to {}, not over the relay; create one with \
             \"url\": \"relay:\" to receive it with `herald listen --relay`",
            subscription.url
        )));
    }
    Ok(subscription)
}

/// Runs one connection to its end. `wake` asks the dispatcher to claim now (the deliveries
/// that waited for a listener are claimable from the moment it is attached).
async fn run(
    hub: Arc<RelayHub>,
    subscription: Subscription,
    mut socket: WebSocket,
    wake: impl Fn(),
) {
    let (frames, mut outgoing) = mpsc::channel::<Message>(QUEUE);
    let connection = match hub.attach(&subscription.id, frames).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, subscription = %subscription.id, "a relay listener could not attach");
            let _ = socket
                .send(close(close_code::ERROR, "the server's store failed"))
                .await;
            return;
        }
    };
    let waiting = hub
        .store()
        .relay_waiting(&subscription.id)
        .await
        .unwrap_or(0);
    let attached = ServerFrame::Attached {
        subscription: subscription.id.to_string(),
        waiting,
        max_in_flight: subscription.max_in_flight,
    };
    tracing::info!(subscription = %subscription.id, waiting, "a relay listener attached");
    if let Ok(text) = serde_json::to_string(&attached)
        && socket.send(Message::Text(text.into())).await.is_ok()
    {
        wake();
        serve(
            &hub,
            &subscription.id,
            &connection,
            &mut socket,
            &mut outgoing,
        )
        .await;
    }
    hub.detach(&subscription.id, &connection).await;
    tracing::info!(subscription = %subscription.id, "a relay listener left");
}

/// The connection's loop: frames out, results in, pings, presence; until either side closes,
/// the connection falls silent, or the server shuts down.
async fn serve(
    hub: &RelayHub,
    subscription: &SubscriptionId,
    connection: &Connection,
    socket: &mut WebSocket,
    outgoing: &mut mpsc::Receiver<Message>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            () = hub.shutdown.cancelled() => {
                let _ = socket.send(close(close_code::RESTART, "the server is shutting down")).await;
                return;
            }
            frame = outgoing.recv() => {
                let Some(frame) = frame else { return };
                if !sent(socket, frame).await {
                    return;
                }
            }
            received = socket.recv() => {
                let Some(Ok(message)) = received else { return };
                heard = Instant::now();
                match message {
                    Message::Text(text) => match serde_json::from_str::<ClientFrame>(&text) {
                        Ok(frame) => connection.answer(frame),
                        Err(error) => {
                            let reason = format!("unreadable frame: {error}");
                            let _ = socket.send(close(close_code::PROTOCOL, &reason)).await;
                            return;
                        }
                    },
                    Message::Close(_) => return,
                    // Pings are answered by the WebSocket layer; pongs only prove life.
                    Message::Ping(_) | Message::Pong(_) | Message::Binary(_) => {}
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() >= DEAD_AFTER {
                    tracing::info!(%subscription, "a relay listener fell silent; closing it");
                    return;
                }
                if !sent(socket, Message::Ping(Default::default())).await {
                    return;
                }
                hub.heartbeat(subscription).await;
            }
        }
    }
}

/// Sends `message`, within [`DEAD_AFTER`]: a peer that stopped reading (a sleeping laptop
/// whose TCP window filled) must not hold the loop, and with it the dead-connection check.
async fn sent(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(DEAD_AFTER, socket.send(message)).await,
        Ok(Ok(()))
    )
}

fn close(code: u16, reason: &str) -> Message {
    // A close reason is at most 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
