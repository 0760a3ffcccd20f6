//! The recording receiver: a real HTTP server on 127.0.0.1 (port chosen by the kernel) that
//! records every request (method, path, headers, body bytes, arrival time, the answer) and
//! answers as the test scripted it: a fixed [`Reply`] per method and path, then replies taken
//! one per call in order, then a default. It counts how many requests are open at once, and
//! notices two open at once with the same `webhook-id`, so tests can assert concurrency limits
//! and "never attempted twice at the same time" without timing anything. A test can
//! [`hold`](Receiver::hold) it: requests then stay open, unanswered, until it
//! [`release`](Receiver::release)s them, so "how many are open now" is a state the test sets
//! up rather than a race it hopes to win.
//!
//! It must never reach beyond 127.0.0.1, and never decide anything about Herald: what a reply
//! means is the test's business. The bench's receiver (`herald-bench/src/receiver.rs`) stays
//! separate on purpose: it is production code of `herald bench`, built for speed on a runtime
//! of its own, and records only first arrivals.
//!
//! A std `Mutex` guards the state: it is held for a push or a lookup, never across an
//! `.await`, and a poisoned lock (a panicking test thread) is read through rather than
//! propagated, so one failure does not hide the others. Holding is a `watch` channel rather
//! than a `Notify`: a request that arrives just as the test releases reads the current value
//! instead of waiting for a wake-up it may have missed.

mod exchange;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use exchange::{Reply, Request};

use crate::Error;

/// A running receiver. Clones share it; it serves until the test's runtime ends.
#[derive(Clone)]
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    log: Mutex<Log>,
    script: Mutex<Script>,
    /// While `true`, requests wait before answering (see [`Receiver::hold`]).
    held: watch::Sender<bool>,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            log: Mutex::default(),
            script: Mutex::default(),
            held: watch::Sender::new(false),
        }
    }
}

/// What arrived, and what is open now.
#[derive(Default)]
struct Log {
    requests: Vec<Request>,
    open: usize,
    peak: usize,
    /// Open requests per `webhook-id`.
    open_ids: HashMap<String, usize>,
    /// Requests that arrived while another with the same `webhook-id` was open.
    overlaps: usize,
}

/// How to answer: a fixed reply per route, else the next per-call reply, else the default.
#[derive(Default)]
struct Script {
    routes: Vec<(Method, String, Reply)>,
    calls: VecDeque<Reply>,
    otherwise: Option<Reply>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Receiver {
    /// A receiver that answers `200` to everything.
    ///
    /// # Errors
    /// When no port on 127.0.0.1 can be bound.
    pub async fn start() -> Result<Receiver, Error> {
        Receiver::answering(Reply::ok()).await
    }

    /// A receiver that answers `reply` to everything not scripted otherwise.
    ///
    /// # Errors
    /// When no port on 127.0.0.1 can be bound.
    pub async fn answering(reply: Reply) -> Result<Receiver, Error> {
        Receiver::scripted(Vec::new(), reply).await
    }

    /// A receiver that answers `calls` in order, one per request, then `otherwise`.
    ///
    /// # Errors
    /// When no port on 127.0.0.1 can be bound.
    pub async fn scripted(calls: Vec<Reply>, otherwise: Reply) -> Result<Receiver, Error> {
        let shared = Arc::new(Shared::default());
        {
            let mut script = lock(&shared.script);
            script.calls = calls.into();
            script.otherwise = Some(otherwise);
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { addr, shared })
    }

    /// Answers every `method` request to `path` with `reply` (replacing an earlier reply for
    /// the same route). Routes come before per-call replies.
    pub fn on(&self, method: Method, path: &str, reply: Reply) -> &Self {
        let mut script = lock(&self.shared.script);
        script
            .routes
            .retain(|(m, p, _)| !(*m == method && p == path));
        script.routes.push((method, path.to_owned(), reply));
        self
    }

    /// Answers the next request that no route matches with `reply` (after those queued
    /// before it).
    pub fn then(&self, reply: Reply) -> &Self {
        lock(&self.shared.script).calls.push_back(reply);
        self
    }

    /// Answers `reply` once routes and queued replies do not apply.
    pub fn otherwise(&self, reply: Reply) -> &Self {
        lock(&self.shared.script).otherwise = Some(reply);
        self
    }

    /// Holds every request that arrives from now on unanswered until
    /// [`release`](Self::release) (one already past the hold, in its reply's delay, is not
    /// stopped). Held requests count as open ([`in_flight`](Self::in_flight)); their reply,
    /// chosen at arrival, and its delay come after the release.
    pub fn hold(&self) -> &Self {
        self.shared.held.send_replace(true);
        self
    }

    /// Lets every held request be answered, and stops holding new ones.
    pub fn release(&self) -> &Self {
        self.shared.held.send_replace(false);
        self
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for clients that append their own paths.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>/hook`: a URL to subscribe or forward to.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.log).requests.clone()
    }

    /// The `webhook-id` of every request so far, in order of arrival (requests without one
    /// are left out).
    pub fn webhook_ids(&self) -> Vec<String> {
        let log = lock(&self.shared.log);
        log.requests
            .iter()
            .filter_map(|r| r.webhook_id().map(str::to_owned))
            .collect()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        lock(&self.shared.log).requests.len()
    }

    /// The only request so far.
    ///
    /// # Panics
    /// When there were none or several (listing them).
    pub fn only_request(&self) -> Request {
        let mut requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests.remove(0)
    }

    /// Waits until at least `n` requests arrived and returns them all.
    ///
    /// # Panics
    /// When `within` passes first.
    pub async fn wait_for_count(&self, n: usize, within: Duration) -> Vec<Request> {
        crate::wait_for(&format!("{n} requests at the receiver"), within, || {
            let requests = self.requests();
            std::future::ready((requests.len() >= n).then_some(requests))
        })
        .await
    }

    /// How many requests were answered with a 2xx.
    pub fn succeeded_count(&self) -> usize {
        let log = lock(&self.shared.log);
        log.requests.iter().filter(|r| r.succeeded()).count()
    }

    /// The distinct `webhook-id`s of the requests answered with a 2xx.
    pub fn succeeded_ids(&self) -> HashSet<String> {
        let log = lock(&self.shared.log);
        log.requests
            .iter()
            .filter(|r| r.succeeded())
            .filter_map(|r| r.webhook_id().map(str::to_owned))
            .collect()
    }

    /// Waits until every one of `ids` was answered with a 2xx (as a `webhook-id`).
    ///
    /// # Panics
    /// When `within` passes first.
    pub async fn wait_for_succeeded_ids(&self, ids: &HashSet<String>, within: Duration) {
        crate::wait_until(
            &format!("{} webhook-ids answered 2xx", ids.len()),
            within,
            || self.succeeded_ids().is_superset(ids),
        )
        .await;
    }

    /// Requests open (arrived, not answered) right now.
    pub fn in_flight(&self) -> usize {
        lock(&self.shared.log).open
    }

    /// The most requests that were ever open at once.
    pub fn max_in_flight(&self) -> usize {
        lock(&self.shared.log).peak
    }

    /// Requests that arrived while another with the same `webhook-id` was still open: the
    /// same message attempted twice at the same time.
    pub fn overlaps(&self) -> usize {
        lock(&self.shared.log).overlaps
    }
}

impl Shared {
    fn reply_for(&self, method: &Method, path: &str) -> Reply {
        let mut script = lock(&self.script);
        let route = script
            .routes
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, reply)| reply.clone());
        route
            .or_else(|| script.calls.pop_front())
            .or_else(|| script.otherwise.clone())
            .unwrap_or_else(Reply::ok)
    }
}

/// One open request: counted from arrival until answered or dropped (the client went away,
/// or the runtime ended), so the counts stay true even for requests never answered.
struct Open {
    shared: Arc<Shared>,
    index: usize,
    id: Option<String>,
}

impl Open {
    fn arrive(shared: &Arc<Shared>, request: Request) -> Open {
        let id = request.webhook_id().map(str::to_owned);
        let mut log = lock(&shared.log);
        log.open += 1;
        log.peak = log.peak.max(log.open);
        if let Some(id) = &id {
            let same = log.open_ids.entry(id.clone()).or_default();
            *same += 1;
            if *same > 1 {
                log.overlaps += 1;
            }
        }
        log.requests.push(request);
        Open {
            shared: Arc::clone(shared),
            index: log.requests.len() - 1,
            id,
        }
    }

    fn answer(self, reply: Reply) -> Response {
        if let Some(request) = lock(&self.shared.log).requests.get_mut(self.index) {
            request.answered = Some(reply.code());
        }
        reply.into_response()
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut log = lock(&self.shared.log);
        log.open = log.open.saturating_sub(1);
        let Some(id) = &self.id else { return };
        if let Some(same) = log.open_ids.get_mut(id) {
            *same -= 1;
            if *same == 0 {
                log.open_ids.remove(id);
            }
        }
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = shared.reply_for(&method, uri.path());
    let open = Open::arrive(
        &shared,
        Request {
            method,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            body,
            at: Instant::now(),
            answered: None,
        },
    );
    // The sender lives in `shared`, which this handler holds, so the wait cannot fail.
    let _ = shared.held.subscribe().wait_for(|held| !held).await;
    if !reply.delay().is_zero() {
        tokio::time::sleep(reply.delay()).await;
    }
    if reply.hangs() {
        std::future::pending::<()>().await;
    }
    open.answer(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn routes_come_before_per_call_replies_which_come_before_the_default() {
        let receiver = Receiver::scripted(vec![Reply::status(500)], Reply::status(204))
            .await
            .expect("receiver");
        receiver.on(Method::GET, "/fixed", Reply::json(201, "{}"));
        let client = reqwest::Client::new();
        let status = |path: &'static str, get: bool| {
            let url = format!("{}{path}", receiver.base_url());
            let request = if get {
                client.get(url)
            } else {
                client.post(url)
            };
            async move { request.send().await.expect("send").status().as_u16() }
        };
        assert_eq!(status("/fixed", true).await, 201);
        assert_eq!(status("/fixed", false).await, 500);
        assert_eq!(status("/fixed", false).await, 204);
        let requests = receiver.requests();
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[0].path, "/fixed");
        assert!(requests[0].succeeded() && !requests[1].succeeded());
    }

    #[tokio::test]
    async fn open_requests_are_counted_and_same_id_overlaps_noticed() {
        let receiver = Receiver::answering(Reply::hang()).await.expect("receiver");
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let request = client.post(receiver.url()).header("webhook-id", "msg_1");
            tokio::spawn(request.send());
        }
        receiver.wait_for_count(2, Duration::from_secs(10)).await;
        assert_eq!((receiver.in_flight(), receiver.max_in_flight()), (2, 2));
        assert_eq!(receiver.overlaps(), 1);
        assert_eq!(receiver.succeeded_count(), 0);
    }

    #[tokio::test]
    async fn held_requests_stay_open_until_released() {
        let receiver = Receiver::start().await.expect("receiver");
        receiver.hold();
        let client = reqwest::Client::new();
        let mut sends = Vec::new();
        for (n, id) in ["msg_1", "msg_2"].into_iter().enumerate() {
            let request = client.post(receiver.url()).header("webhook-id", id);
            sends.push(tokio::spawn(request.send()));
            // One at a time, so the arrival order is known.
            receiver
                .wait_for_count(n + 1, Duration::from_secs(10))
                .await;
        }
        assert_eq!(receiver.in_flight(), 2, "both held open");
        assert_eq!(receiver.succeeded_count(), 0, "none answered while held");

        receiver.release();
        for send in sends {
            let response = send.await.expect("task").expect("send");
            assert_eq!(response.status().as_u16(), 200);
        }
        assert_eq!((receiver.in_flight(), receiver.max_in_flight()), (0, 2));
        assert_eq!(receiver.webhook_ids(), ["msg_1", "msg_2"]);
    }
}
