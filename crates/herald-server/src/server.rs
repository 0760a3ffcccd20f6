//! How the API's listener is served: accept under a cap on connections, read headers under a
//! timeout, and stop gracefully when the shutdown token is cancelled.
//!
//! It owns connections only; what a request means is [`crate::api`]'s, and the body-read
//! deadline is a layer there ([`crate::api::limits`]), because only the request knows when its
//! body starts. It must never buffer a connection it has no permit for: as in mini-redis, a
//! `Semaphore` permit is taken *before* `accept`, so clients over `max_connections` wait in the
//! kernel's listen backlog (costing this process nothing) until a connection closes. It serves
//! with hyper-util directly rather than `axum::serve`, which offers neither a header-read
//! timeout nor a connection cap.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// The connection limits [`serve`] applies.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's headers (HTTP/1; HTTP/2 frames its
    /// headers itself).
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then waits for the connections in
/// flight to finish their requests (live streams end with their own child token).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        // The permit first: a connection over the cap is not even accepted.
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                // Never closed: the semaphore lives in this function.
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            stream = accept(&listener) => stream,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(serve_one(connection, permit));
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Runs one connection to its end, holding its permit until then.
async fn serve_one<F, E>(connection: F, permit: OwnedSemaphorePermit)
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    if let Err(error) = connection.await {
        // A client that goes away or is cut off by a timeout is routine, not an error.
        tracing::debug!(%error, "HTTP connection ended with an error");
    }
    drop(permit);
}

/// The next connection. Errors that concern one client are skipped; others (out of file
/// descriptors) are logged and retried after a pause, as `axum::serve` does, so a burst cannot
/// make the loop spin.
async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return stream,
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                tracing::error!(%error, "accepting an HTTP connection failed; retrying in 1s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
