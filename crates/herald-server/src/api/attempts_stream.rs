//! `GET /api/v1/attempts/stream`: every attempt as it happens, as server-sent events, filtered
//! like the lists and narrowed to the caller's tenant. Each event's `id:` is the attempt id
//! (UUIDv7, so ids sort by when attempts were made) and a client that reconnects with
//! `Last-Event-ID` gets what it missed, without repeats.
//!
//! It owns the stream's loop and its bounds, and never holds a fact the store does not: each
//! stream polls the store's attempt feed (`DeliveryQueue::attempts_between`) every
//! [`POLL_INTERVAL`], so it works on every PostgreSQL node (an attempt made by another node is
//! seen too) and survives restarts. The choice to know: a poll reads only attempts made more
//! than [`SETTLE`] ago. An attempt's id is made just before it is committed, so an attempt
//! still committing when a poll runs would otherwise be passed over for good; with the delay
//! it is read on a later poll. Attempts therefore show about a second after they happen, and
//! nodes' clocks must agree to well within that second. The work a client can cause is
//! bounded: at most [`MAX_STREAMS`] streams at once per server (then 503), one query of at
//! most [`PAGE_SIZE`] rows per poll, and a stream is only read as fast as its client reads.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use herald_store::{
    AttemptFeedFilter, AttemptId, AttemptOutcome, DeliveryQueue, FeedAttempt, FeedPosition,
    SubscriptionId, TenantId,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;
use super::extract::Query;

/// At most this many streams at once per server; more are refused with 503.
pub const MAX_STREAMS: usize = 64;
/// How often a stream asks the store for new attempts.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Attempts are read once they are this old (see the module).
pub const SETTLE: Duration = Duration::from_secs(1);
/// At most this many attempts per query.
pub const PAGE_SIZE: u32 = 100;
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Event types are at most this long (a longer filter cannot match anything).
const MAX_EVENT_TYPE_LEN: usize = 200;

/// What every stream of one server shares: the cap on streams and the server's shutdown,
/// which ends every stream so a graceful shutdown does not wait for clients to hang up.
#[derive(Clone, Debug)]
pub struct LiveStreams {
    permits: Arc<Semaphore>,
    shutdown: CancellationToken,
}

impl LiveStreams {
    /// Streams that end when `shutdown` is cancelled, at most [`MAX_STREAMS`] at once.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(MAX_STREAMS)),
            shutdown,
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/attempts/stream", get(stream))
}

/// Filters; every one given must match.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Only attempts to this subscription.
    pub subscription_id: Option<String>,
    /// Only this tenant's attempts (admin; a tenant token always sees only its own).
    pub tenant_id: Option<String>,
    /// `succeeded` or `failed`: how the attempt ended (not the delivery's status).
    pub status: Option<String>,
    /// Only attempts of events of this type.
    pub event_type: Option<String>,
}

/// The data of one `attempt` event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptStreamItem {
    /// `att_…`, also the event's SSE `id`.
    pub id: String,
    /// Its delivery.
    pub delivery_id: String,
    /// The delivery's subscription.
    pub subscription_id: String,
    /// The subscription's tenant.
    pub tenant_id: String,
    /// The event delivered (the `webhook-id`).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// `succeeded` (a 2xx answer) or `failed`.
    pub outcome: String,
    /// The response status, if a response came.
    pub response_status: Option<u16>,
    /// The failing step: `timeout`, `connect`, `dns`, `tls`, `blocked` or `status`.
    pub error: Option<String>,
    /// What went wrong, for people.
    pub error_message: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// `scheduled`, `redelivery` or `test`.
    pub trigger: String,
    /// The delivery's status when the attempt was read: `pending`, `succeeded` or `failed`.
    pub delivery_status: String,
    /// What followed: the start of the delivery's next attempt if one was made since, else
    /// its next scheduled attempt when read; null: no more retries.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
}

impl From<FeedAttempt> for AttemptStreamItem {
    fn from(item: FeedAttempt) -> Self {
        let attempt = item.attempt;
        Self {
            outcome: AttemptOutcome::of(&attempt).as_str().to_owned(),
            id: attempt.id.to_string(),
            delivery_id: attempt.delivery_id.to_string(),
            subscription_id: item.subscription_id.to_string(),
            tenant_id: item.tenant_id.to_string(),
            event_id: item.event_id.to_string(),
            event_type: item.event_type,
            response_status: attempt.response_status,
            error: attempt.error.map(|step| step.as_str().to_owned()),
            error_message: attempt.error_message,
            duration_ms: attempt.duration_ms,
            started_at: attempt.started_at,
            trigger: attempt.trigger.as_str().to_owned(),
            delivery_status: item.delivery_status.as_str().to_owned(),
            next_attempt_at: item.next_attempt_at,
        }
    }
}

/// Stream attempts as they happen (server-sent events). Each event is `event: attempt`, `id:`
/// the attempt id and `data:` an `AttemptStreamItem`; send `Last-Event-ID` to resume after an
/// attempt. Without it the stream starts with the attempts of the last second. Comment lines
/// keep the connection alive. Attempts appear about a second after they are made.
#[utoipa::path(get, path = "/api/v1/attempts/stream", tag = "deliveries",
    operation_id = "streamAttempts", params(StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "resume after this attempt id")),
    responses(
        (status = 200, description = "a stream of `attempt` events", content_type = "text/event-stream", body = AttemptStreamItem),
        (status = 400, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "too many streams are open", body = super::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    Extension(streams): Extension<LiveStreams>,
    principal: Principal,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let filter = feed_filter(&principal, query)?;
    let position = match headers.get("last-event-id") {
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let id = AttemptId::parse(text).map_err(|e| {
                ApiError::bad_request("invalid-last-event-id", format!("Last-Event-ID: {e}"))
            })?;
            FeedPosition::after(&id)
        }
        None => settled_until(),
    };
    let permit = Arc::clone(&streams.permits)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::bad_request(
                "too-many-streams",
                format!(
                    "this server already serves {MAX_STREAMS} live streams; close one or retry \
                     in a moment"
                ),
            )
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
        })?;
    let feed = Feed {
        queue: Arc::clone(&state.queue),
        filter,
        position,
        pending: VecDeque::new(),
        shutdown: streams.shutdown,
        read_now: true,
        failing: false,
        _permit: permit,
    };
    let events = futures::stream::unfold(feed, |mut feed| async move {
        let item = feed.next().await?;
        Some((Ok(sse_event(item)), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The filter the query asks for, narrowed to the caller's tenant.
fn feed_filter(principal: &Principal, query: StreamQuery) -> Result<AttemptFeedFilter, ApiError> {
    let bad = |e: String| ApiError::bad_request("invalid-query", e);
    let asked_tenant = query
        .tenant_id
        .map(|t| TenantId::parse(&t).map_err(|e| bad(e.to_string())))
        .transpose()?;
    let tenant_id = match (principal.tenant(), asked_tenant) {
        (Some(own), Some(asked)) if own != &asked => {
            return Err(ApiError::forbidden(
                "a tenant token sees only its own tenant's attempts; drop tenant_id",
            ));
        }
        (Some(own), _) => Some(own.clone()),
        (None, asked) => asked,
    };
    if query
        .event_type
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > MAX_EVENT_TYPE_LEN)
    {
        return Err(bad(format!(
            "event_type must be 1 to {MAX_EVENT_TYPE_LEN} characters"
        )));
    }
    Ok(AttemptFeedFilter {
        tenant_id,
        subscription_id: query
            .subscription_id
            .map(|s| SubscriptionId::parse(&s).map_err(|e| bad(e.to_string())))
            .transpose()?,
        event_type: query.event_type,
        outcome: query
            .status
            .map(|s| {
                AttemptOutcome::parse(&s)
                    .ok_or_else(|| bad(format!("status must be succeeded or failed, not '{s}'")))
            })
            .transpose()?,
    })
}

/// The newest position a poll may read up to now (see [`SETTLE`]).
fn settled_until() -> FeedPosition {
    FeedPosition::at(OffsetDateTime::now_utc() - SETTLE)
}

fn sse_event(item: FeedAttempt) -> SseEvent {
    let id = item.attempt.id.to_string();
    let data =
        serde_json::to_string(&AttemptStreamItem::from(item)).unwrap_or_else(|_| "{}".to_owned());
    SseEvent::default().event("attempt").id(id).data(data)
}

/// One stream's place in the feed.
struct Feed {
    queue: Arc<dyn DeliveryQueue>,
    filter: AttemptFeedFilter,
    /// Everything up to here was read (or sent, for the attempts in `pending`).
    position: FeedPosition,
    /// Read, not yet sent.
    pending: VecDeque<FeedAttempt>,
    shutdown: CancellationToken,
    /// Read again without waiting (the first read, and after a full page).
    read_now: bool,
    /// The last read failed (so the next failure is not logged again).
    failing: bool,
    /// Held for the stream's life: its place under [`MAX_STREAMS`].
    _permit: OwnedSemaphorePermit,
}

impl Feed {
    /// The next attempt to send, waiting for one; `None` when the server shuts down.
    async fn next(&mut self) -> Option<FeedAttempt> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if !self.read_now {
                tokio::select! {
                    () = self.shutdown.cancelled() => return None,
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
            if self.shutdown.is_cancelled() {
                return None;
            }
            self.read().await;
        }
    }

    /// One query of the feed. A failing store is logged and asked again at the next poll.
    async fn read(&mut self) {
        let until = settled_until();
        match self
            .queue
            .attempts_between(&self.position, &until, &self.filter, PAGE_SIZE)
            .await
        {
            Ok(page) => {
                self.failing = false;
                self.read_now = page.items.len() >= PAGE_SIZE as usize;
                // Never move back (a clock stepping back, or a Last-Event-ID from the
                // future): what lies behind the position was sent already.
                self.position = self.position.clone().max(page.position);
                self.pending.extend(page.items);
            }
            Err(error) => {
                // Once per outage, not once per poll of every stream.
                if !self.failing {
                    tracing::warn!(%error, "reading the attempt feed failed; retrying");
                }
                self.failing = true;
                self.read_now = false;
            }
        }
    }
}
