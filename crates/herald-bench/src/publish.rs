//! The publisher: POSTs events to Herald with a bounded number of requests in flight, either
//! as fast as Herald accepts them ([`burst`]) or at a fixed rate ([`paced`]).
//!
//! Each accepted event is remembered with the instant taken right before its request was
//! sent; its id comes back in the answer and is the `webhook-id` the receiver records, so
//! publish→arrival latency is matched per event. With several nodes, requests go to them
//! round-robin (by publisher in a burst, by event when paced). Every loop stops at its count
//! or deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::limit::BODY_BYTES;
use crate::setup::{Api, EVENT_TYPE};

/// Accepted events and when each was sent.
#[derive(Debug, Default)]
pub struct Published {
    /// `(event id, instant before sending)` of every accepted event.
    pub accepted: Vec<(String, Instant)>,
    /// Publish requests that failed.
    pub errors: u64,
    /// The first error, to show.
    pub first_error: Option<String>,
    /// When publishing started and ended.
    pub started: Option<Instant>,
    /// When the last answer came.
    pub finished: Option<Instant>,
    /// True if the deadline stopped it before its count.
    pub cut_short: bool,
}

impl Published {
    /// Accepted events per second while publishing.
    pub fn accepted_per_s(&self) -> Option<f64> {
        let seconds = self.finished?.duration_since(self.started?).as_secs_f64();
        Some(self.accepted.len() as f64 / seconds.max(1e-9))
    }
}

/// Builds publish request bodies whose deliveries are about [`BODY_BYTES`] long.
#[derive(Clone)]
pub struct EventBody {
    tenant: Arc<str>,
    pad: Arc<str>,
}

impl EventBody {
    /// Bodies for events to `tenant`.
    pub fn new(tenant: &str) -> Self {
        // The delivery wraps the payload in {"type":…,"timestamp":…,"data":…}: ~75 bytes.
        Self {
            tenant: Arc::from(tenant),
            pad: Arc::from("x".repeat(BODY_BYTES - 75 - 24)),
        }
    }

    fn build(&self, seq: usize) -> Bytes {
        Bytes::from(format!(
            r#"{{"type":"{EVENT_TYPE}","tenant_id":"{}","payload":{{"seq":{seq},"pad":"{}"}}}}"#,
            self.tenant, self.pad
        ))
    }
}

/// Collects results from concurrent publish tasks.
#[derive(Default)]
struct Sink {
    /// A std `Mutex`: one push per event, never held across an `.await`.
    accepted: Mutex<Vec<(String, Instant)>>,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Sink {
    async fn publish_one(&self, api: &Api, body: Bytes) {
        let sent = Instant::now();
        match api.publish(body).await {
            Ok(id) => self
                .accepted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((id, sent)),
            Err(error) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let mut first = self
                    .first_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                first.get_or_insert_with(|| crate::error::chain(&error));
            }
        }
    }

    fn finish(self, started: Instant, cut_short: bool) -> Published {
        Published {
            accepted: self
                .accepted
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            errors: self.errors.into_inner(),
            first_error: self
                .first_error
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            started: Some(started),
            finished: Some(Instant::now()),
            cut_short,
        }
    }
}

/// Publishes `count` events as fast as Herald accepts them, `in_flight` requests at a time,
/// publisher `i` to node `i mod apis.len()`.
pub async fn burst(
    apis: &[Api],
    body: &EventBody,
    count: usize,
    in_flight: usize,
    deadline: Instant,
) -> Published {
    let sink = Arc::new(Sink::default());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..in_flight.clamp(1, count.max(1)) {
        let Some(api) = node(apis, i) else { break };
        let (body, sink, next) = (body.clone(), Arc::clone(&sink), Arc::clone(&next));
        tasks.spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= count || Instant::now() >= deadline {
                    break;
                }
                sink.publish_one(&api, body.build(seq)).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let cut_short = next.load(Ordering::Relaxed) < count;
    finish(sink, started, cut_short)
}

/// Publishes up to `count` events at `rate` per second (at most `in_flight` outstanding; a
/// send that finds none free goes late rather than being dropped), until `stop` is set or
/// `deadline` passes. Event `n` goes to node `n mod apis.len()`.
pub async fn paced(
    apis: &[Api],
    body: &EventBody,
    count: usize,
    rate: f64,
    in_flight: usize,
    stop: Option<Arc<AtomicBool>>,
    deadline: Instant,
) -> Published {
    let sink = Arc::new(Sink::default());
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut sent = 0;
    while sent < count {
        let stopped = stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));
        if stopped || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep_until((started + interval.mul_f64(sent as f64)).into()).await;
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let Some(api) = node(apis, sent) else { break };
        let (sink, request) = (Arc::clone(&sink), body.build(sent));
        tasks.spawn(async move {
            sink.publish_one(&api, request).await;
            drop(permit);
        });
        sent += 1;
        // Reap finished tasks so a long paced run does not hold them all.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let cut_short = sent < count && stop.is_none_or(|s| !s.load(Ordering::Relaxed));
    finish(sink, started, cut_short)
}

/// The node the `i`th publisher or event goes to (`None` only when there is no node).
fn node(apis: &[Api], i: usize) -> Option<Api> {
    apis.get(i.checked_rem(apis.len())?).cloned()
}

fn finish(sink: Arc<Sink>, started: Instant, cut_short: bool) -> Published {
    match Arc::try_unwrap(sink) {
        Ok(sink) => sink.finish(started, cut_short),
        // Every task was joined, so this cannot happen; report nothing rather than panic.
        Err(_) => Published::default(),
    }
}
