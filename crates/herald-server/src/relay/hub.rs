//! The listeners connected to this node, per subscription, and the one thing the dispatcher
//! asks of them: [`RelayHub::deliver`], which sends an attempt to one listener and waits for
//! its answer, as `Outbound::post` does for an HTTP attempt.
//!
//! Several listeners on one subscription share its deliveries: each attempt goes to exactly
//! one, the one with the fewest answers outstanding. Flow control needs nothing more here: the
//! dispatcher's gate already keeps a subscription at `max_in_flight` attempts at once on this
//! node, and each waits here for its answer, so no connection ever has more outstanding.
//!
//! The hub also keeps the store's presence for each subscription it holds a listener for
//! (`DeliveryQueue::relay_present`): recorded when the first listener attaches, refreshed by
//! each connection's heartbeat, and ended when the last one leaves, under one lock so an
//! attach and a leave never interleave their writes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ws::Message;
use base64::Engine;
use bytes::Bytes;
use herald_store::{AttemptError, DeliveryJob, DeliveryQueue, ResponseHeaders, SubscriptionId};
use reqwest::header::HeaderMap;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::RelaySettings;
use super::protocol::{ClientFrame, ServerFrame};
use crate::dispatch::Clock;
use crate::outbound::Outcome;

/// How long a presence holds without a heartbeat: a node that dies stops claiming for its
/// listeners' subscriptions after this at most.
pub const PRESENCE_TTL: Duration = Duration::from_secs(30);

/// The listeners of this node. Share it behind an `Arc`.
pub struct RelayHub {
    store: Arc<dyn DeliveryQueue>,
    clock: Arc<dyn Clock>,
    pub(super) settings: RelaySettings,
    /// A std `Mutex`: held only to look up or change the map, never across an await.
    listeners: Mutex<HashMap<SubscriptionId, Vec<Arc<Connection>>>>,
    /// Serialises presence writes (attach, heartbeat, leave), which await the store.
    presence: tokio::sync::Mutex<()>,
    next_seq: AtomicU64,
    next_connection: AtomicU64,
    /// Cancelled at shutdown: every connection closes.
    pub(super) shutdown: CancellationToken,
}

/// One listener's connection, as the hub sees it.
pub(super) struct Connection {
    id: u64,
    /// Frames for the socket task to send.
    frames: mpsc::Sender<Message>,
    /// Attempts sent and not answered yet, by `seq`.
    waiting: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    /// How many of `waiting` (read without the lock, to pick the least busy listener).
    outstanding: AtomicUsize,
}

/// What a listener answered.
#[derive(Debug)]
pub(super) struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RelayHub {
    /// A hub with no listeners; `shutdown` closes every connection it will hold.
    pub fn new(
        store: Arc<dyn DeliveryQueue>,
        clock: Arc<dyn Clock>,
        settings: RelaySettings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
            listeners: Mutex::new(HashMap::new()),
            presence: tokio::sync::Mutex::new(()),
            next_seq: AtomicU64::new(1),
            next_connection: AtomicU64::new(1),
            shutdown,
        }
    }

    /// The store (for the socket's attach count and the hold sweep).
    pub(super) fn store(&self) -> &dyn DeliveryQueue {
        self.store.as_ref()
    }

    /// The clock claims run on.
    pub(super) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// How many listeners are attached to `subscription` on this node.
    pub fn listeners(&self, subscription: &SubscriptionId) -> usize {
        self.map().get(subscription).map_or(0, Vec::len)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<SubscriptionId, Vec<Arc<Connection>>>> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a listener of `subscription` whose socket task sends what arrives on
    /// `frames`, and records this node's presence for it.
    pub(super) async fn attach(
        &self,
        subscription: &SubscriptionId,
        frames: mpsc::Sender<Message>,
    ) -> Result<Arc<Connection>, herald_store::StoreError> {
        let connection = Arc::new(Connection {
            id: self.next_connection.fetch_add(1, Ordering::Relaxed),
            frames,
            waiting: Mutex::new(HashMap::new()),
            outstanding: AtomicUsize::new(0),
        });
        let _presence = self.presence.lock().await;
        self.store
            .relay_present(subscription, self.clock.now() + PRESENCE_TTL)
            .await?;
        self.map()
            .entry(subscription.clone())
            .or_default()
            .push(Arc::clone(&connection));
        Ok(connection)
    }

    /// Moves this node's presence for `subscription` on (a connection's heartbeat).
    pub(super) async fn heartbeat(&self, subscription: &SubscriptionId) {
        let _presence = self.presence.lock().await;
        if self.listeners(subscription) == 0 {
            return;
        }
        let until = self.clock.now() + PRESENCE_TTL;
        if let Err(error) = self.store.relay_present(subscription, until).await {
            tracing::warn!(%error, %subscription, "recording the relay presence failed");
        }
    }

    /// Removes a listener; its unanswered attempts fail at once (their senders are dropped).
    /// If it was the subscription's last here, this node's presence ends now.
    pub(super) async fn detach(&self, subscription: &SubscriptionId, connection: &Connection) {
        let _presence = self.presence.lock().await;
        let last = {
            let mut map = self.map();
            let remaining = map.get_mut(subscription).map(|list| {
                list.retain(|c| c.id != connection.id);
                list.len()
            });
            if remaining == Some(0) {
                map.remove(subscription);
            }
            remaining.unwrap_or(0) == 0
        };
        connection
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        if last
            && let Err(error) = self
                .store
                .relay_present(subscription, self.clock.now())
                .await
        {
            // The presence then ends by itself within PRESENCE_TTL.
            tracing::warn!(%error, %subscription, "recording that the relay listener left failed");
        }
    }

    /// Sends one attempt of `job` to a listener of its subscription and waits for the answer,
    /// at most the request timeout. Never fails: every outcome is an attempt to record.
    pub async fn deliver(&self, job: &DeliveryJob, headers: &HeaderMap, body: Bytes) -> Outcome {
        let started = Instant::now();
        let Some(connection) = self.least_busy(&job.subscription.id) else {
            return failed(
                started,
                AttemptError::Connect,
                "no relay client is connected to this subscription".to_owned(),
            );
        };
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let frame = ServerFrame::Deliver {
            seq,
            delivery_id: job.delivery.id.to_string(),
            attempt: job.delivery.attempts.saturating_add(1),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: base64::engine::general_purpose::STANDARD.encode(&body),
        };
        let text = match serde_json::to_string(&frame) {
            Ok(text) => text,
            Err(error) => {
                return failed(started, AttemptError::Connect, error.to_string());
            }
        };
        let (answer_tx, answer_rx) = oneshot::channel();
        let _outstanding = Outstanding::new(&connection, seq, answer_tx);
        let exchange = async {
            connection
                .frames
                .send(Message::Text(text.into()))
                .await
                .ok()?;
            answer_rx.await.ok()
        };
        let timeout = self.settings.request_timeout;
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Some(answer)) => answered(started, answer, self.settings.response_body_limit),
            Ok(None) => failed(
                started,
                AttemptError::Connect,
                "the relay client disconnected before it answered".to_owned(),
            ),
            Err(_) => failed(
                started,
                AttemptError::Timeout,
                format!(
                    "the relay client did not answer within {} (request_timeout)",
                    herald_duration::format(timeout)
                ),
            ),
        }
    }

    /// The listener of `subscription` with the fewest answers outstanding.
    fn least_busy(&self, subscription: &SubscriptionId) -> Option<Arc<Connection>> {
        self.map()
            .get(subscription)?
            .iter()
            .min_by_key(|c| c.outstanding.load(Ordering::Relaxed))
            .cloned()
    }
}

impl Connection {
    /// Hands a listener's answer to the attempt waiting for it; an answer nobody waits for
    /// (timed out, or a `seq` never sent) is ignored.
    pub(super) fn answer(&self, frame: ClientFrame) {
        let ClientFrame::Result {
            seq,
            status,
            headers,
            body,
            ..
        } = frame;
        let waiter = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&seq);
        if let Some(waiter) = waiter {
            let _ = waiter.send(Answer {
                status,
                headers,
                body,
            });
        }
    }
}

/// An attempt waiting on a connection: counted and registered while it lives.
struct Outstanding<'a> {
    connection: &'a Connection,
    seq: u64,
}

impl<'a> Outstanding<'a> {
    fn new(connection: &'a Connection, seq: u64, answer: oneshot::Sender<Answer>) -> Self {
        connection
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(seq, answer);
        connection.outstanding.fetch_add(1, Ordering::Relaxed);
        Self { connection, seq }
    }
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        self.connection
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.seq);
        self.connection.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The outcome of an answered attempt: a non-2xx is a failed one, as over HTTP.
fn answered(started: Instant, answer: Answer, body_limit: usize) -> Outcome {
    let status = answer.status;
    let success = (200..300).contains(&status);
    let mut body = answer.body;
    if body.len() > body_limit {
        let mut end = body_limit;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
    }
    // Retry-After means "come back later" only on 429 and 503 (RFC 9110 §10.2.3).
    let retry_after = matches!(status, 429 | 503)
        .then(|| {
            answer
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
                .and_then(|(_, value)| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        })
        .flatten();
    let headers = ResponseHeaders::bounded(
        answer
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    );
    Outcome {
        duration: started.elapsed(),
        status: Some(status),
        headers: Some(headers),
        retry_after,
        error: (!success).then_some(AttemptError::Status),
        message: (!success).then(|| format!("the relay client answered {status}")),
        body: Some(body),
    }
}

fn failed(started: Instant, error: AttemptError, message: String) -> Outcome {
    Outcome {
        duration: started.elapsed(),
        status: None,
        body: None,
        headers: None,
        retry_after: None,
        error: Some(error),
        message: Some(message),
    }
}
