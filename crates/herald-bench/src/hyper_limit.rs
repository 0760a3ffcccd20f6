//! The fastest loopback client as a second limit: hyper 1 directly, as wrk would, on
//! `connections` keep-alive HTTP/1.1 connections each with one request in flight, POSTing the
//! same 1 KiB body to the same kind of receiver. Where the reqwest limit says what Herald's
//! own client can do, this one says what the machine can: the ratio against it tells how
//! close Herald is to the hardware.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::BenchError;
use crate::limit::{LimitReport, body};
use crate::receiver::{Mode, Receiver};

/// POSTs `requests` bodies over `connections` connections to a fresh receiver.
pub async fn measure(
    requests: usize,
    connections: usize,
    deadline: Instant,
) -> Result<LimitReport, BenchError> {
    let receiver = Receiver::start(Mode::Answer)?;
    let addr = receiver.addr();
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..connections.max(1) {
        let (next, ok, errors) = (Arc::clone(&next), Arc::clone(&ok), Arc::clone(&errors));
        workers.spawn(async move {
            // A connection that fails counts one error and its worker stops: the others go on.
            if connection(addr, requests, deadline, &next, &ok)
                .await
                .is_err()
            {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let answered = ok.load(Ordering::Relaxed);
    Ok(LimitReport {
        requests: answered,
        errors: errors.load(Ordering::Relaxed),
        concurrency: connections,
        requests_per_s: answered as f64 / elapsed.max(1e-9),
        complete: answered as usize == requests,
    })
}

/// One keep-alive connection sending requests one after another until the shared count or
/// the deadline is reached.
async fn connection(
    addr: std::net::SocketAddr,
    requests: usize,
    deadline: Instant,
    next: &AtomicUsize,
    ok: &AtomicU64,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let (url, host, payload) = (format!("http://{addr}/s/0"), addr.to_string(), body());
    let result = async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= requests || Instant::now() >= deadline {
                return Ok(());
            }
            sender.ready().await?;
            let request = Request::builder()
                .method(Method::POST)
                .uri(&url)
                .header("host", &host)
                .header("content-type", "application/json")
                .header("webhook-id", format!("lim_{i}"))
                .body(Full::new(Bytes::clone(&payload)))?;
            let response = sender.send_request(request).await?;
            let success = response.status().is_success();
            response.into_body().collect().await?;
            if !success {
                return Err("the receiver answered an error".into());
            }
            ok.fetch_add(1, Ordering::Relaxed);
        }
    }
    .await;
    drop(sender);
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn every_request_is_answered_over_keep_alive_connections() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let report = measure(200, 4, deadline).await.expect("measure");
        assert_eq!((report.requests, report.errors), (200, 0), "{report:?}");
        assert!(report.complete && report.requests_per_s > 0.0, "{report:?}");
    }
}
