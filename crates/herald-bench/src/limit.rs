//! The machine's own limit: the HTTP client Herald delivers with (reqwest, same settings),
//! the same concurrency and a 1 KiB body POSTed straight to the bench receiver, with nobody
//! in between. Every scenario's throughput is read as a fraction of this number.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::receiver::{Mode, Receiver};

/// Size of the request body, like a delivery of the bench's events.
pub const BODY_BYTES: usize = 1024;

/// What the limit run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LimitReport {
    /// Requests answered 2xx.
    pub requests: u64,
    /// Requests that failed (should be 0).
    pub errors: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Answered requests per second.
    pub requests_per_s: f64,
    /// False when the deadline stopped it early.
    pub complete: bool,
}

/// A client built like Herald's delivery client (`herald-server/src/outbound`): no
/// redirects, keep-alive pool per host, `TCP_NODELAY`, no proxy.
pub fn delivery_like_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .no_proxy()
        .user_agent("herald-bench")
        .build()
}

/// A JSON body of exactly [`BODY_BYTES`] bytes.
pub fn body() -> Bytes {
    let head = r#"{"type":"bench.limit","data":{"pad":""#;
    let tail = r#""}}"#;
    let pad = "x".repeat(BODY_BYTES - head.len() - tail.len());
    Bytes::from(format!("{head}{pad}{tail}"))
}

/// POSTs `requests` bodies with `concurrency` in flight to a fresh receiver.
pub async fn measure(
    requests: usize,
    concurrency: usize,
    deadline: Instant,
) -> Result<LimitReport, BenchError> {
    let receiver = Receiver::start(Mode::Answer)?;
    let client = delivery_like_client(Duration::from_secs(15)).map_err(BenchError::HttpClient)?;
    let url: Arc<str> = Arc::from(receiver.url(0));
    let body = body();
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, body) = (client.clone(), Arc::clone(&url), body.clone());
        let (next, ok, errors) = (Arc::clone(&next), Arc::clone(&ok), Arc::clone(&errors));
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let sent = client
                    .post(&*url)
                    .header("content-type", "application/json")
                    .header("webhook-id", format!("lim_{i}"))
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let answered = ok.load(Ordering::Relaxed);
    Ok(LimitReport {
        requests: answered,
        errors: errors.load(Ordering::Relaxed),
        concurrency,
        requests_per_s: answered as f64 / elapsed.max(1e-9),
        complete: answered as usize == requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_one_kib_of_json() {
        let body = body();
        assert_eq!(body.len(), BODY_BYTES);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    }
}
