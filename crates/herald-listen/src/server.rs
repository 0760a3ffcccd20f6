//! The accept loop and the shutdown of a receiver.
//!
//! [`serve`] takes its listener and its shutdown future as arguments (tests bind port 0 and
//! end the server by completing a future). Connections are served by hyper's HTTP/1 directly,
//! rather than `axum::serve`, because that is where a header-read timeout can be set: a client
//! that trickles its headers is cut off after `--read-timeout`. A connection permit is taken
//! *before* accepting, so a flood of connections waits in the kernel backlog instead of
//! growing memory here.
//!
//! On shutdown the listener is closed first, then running requests (and the commands they
//! wait for) get `shutdown_grace` to finish; whatever still runs after that is reported by name
//! and returned as an error, and its commands are killed when their tasks are dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::handler::{self, Shared};

/// Most connections served at once.
const MAX_CONNECTIONS: usize = 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why a receiver stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The HTTP client for `--forward-to` could not be built.
    #[error("cannot build the HTTP client for --forward-to; check the machine's TLS setup")]
    HttpClient(#[from] reqwest::Error),
    /// Commands were still running when the shutdown grace period ended; they were stopped.
    #[error("stopped {} command(s) still running after the shutdown grace period: {}", .0.len(), .0.join("; "))]
    CommandsStopped(Vec<String>),
}

/// Serves webhooks on `listener` until `shutdown` completes, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let grace = config.shutdown_grace;
    let header_timeout = config.read_timeout;
    let shared = Arc::new(Shared::new(config)?);
    announce(&shared, listener.local_addr().ok());

    let service = TowerToHyperService::new(handler::router(Arc::clone(&shared)));
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);

    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    shared.output.notice(&format!("herald listen: accept failed: {err}"));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up or times out ends its connection; nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);

    shared
        .output
        .notice("herald listen: shutting down; letting running requests finish");
    let tracker = shared.tracker.clone();
    let finished = tokio::time::timeout(grace, async move {
        graceful.shutdown().await;
        tracker.close();
        tracker.wait().await;
    })
    .await;
    if finished.is_ok() {
        return Ok(());
    }
    let running = shared.running_commands();
    if running.is_empty() {
        shared.output.notice(
            "herald listen: some connections were still open after the grace period; closed them",
        );
        return Ok(());
    }
    for command in &running {
        shared.output.notice(&format!(
            "herald listen: still running after {}s, stopping: {command}",
            grace.as_secs()
        ));
    }
    Err(ServeError::CommandsStopped(running))
}

/// The start banner, with the loud warning when nothing is verified.
fn announce(shared: &Shared, addr: Option<SocketAddr>) {
    let output = &shared.output;
    let address = addr.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
    let path = shared.path.as_deref().unwrap_or("/ (any path)");
    output.notice(&format!(
        "herald listen: receiving webhooks on http://{address}{path}"
    ));
    match &shared.verifier {
        Some(verifier) => output.notice(&format!(
            "herald listen: verifying Standard Webhooks signatures (tolerance {}s)",
            verifier.tolerance_seconds()
        )),
        None => {
            output.notice("WARNING: no --secret given: signatures are NOT checked.");
            output.notice(
                "WARNING: every request is accepted and shown as `unverified`; anyone who can \
                 reach this port can trigger your forward target and hooks.",
            );
            if addr.is_some_and(|a| !a.ip().is_loopback()) {
                output.notice(
                    "WARNING: this address is reachable from other machines. Give --secret.",
                );
            }
        }
    }
    for (pattern, forwarder) in &shared.routes {
        output.notice(&format!(
            "herald listen: forwarding {} to {}",
            pattern.describe(),
            forwarder.url()
        ));
    }
    if let Some(forwarder) = &shared.forwarder {
        output.notice(&format!("herald listen: forwarding to {}", forwarder.url()));
    }
    if shared.dedup.is_none() {
        output.notice(
            "herald listen: deduplication off (--no-dedup): a repeated webhook-id runs again",
        );
    }
    if let Some(count) = shared.hook_count() {
        output.notice(&format!("herald listen: {count} hook rule(s) loaded"));
    }
}
