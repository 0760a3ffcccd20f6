//! The one signal handler of the process: SIGINT (ctrl-c) or SIGTERM (a service manager's
//! stop) cancels a [`CancellationToken`] that the running subcommand watches.
//!
//! It is installed only by the subcommands that stop cleanly (`serve`, `listen`, `bench`):
//! once a handler is installed the signal no longer ends the process by itself, and a client
//! command, one request long, is better killed at once. It never exits the process and never
//! touches global state: what "stop" means belongs to the subcommand that holds the token.

use tokio_util::sync::CancellationToken;

/// A token cancelled at the first SIGINT or SIGTERM, after logging `announce` (if any) at
/// `info`: the subcommand says what stopping means for it (`listen` prints its own notice, so
/// it passes none). Must be called inside the runtime; the handlers are registered before it
/// returns, so a signal sent right after is not lost.
pub fn shutdown_token(announce: Option<&'static str>) -> CancellationToken {
    let token = CancellationToken::new();
    let wait = stop_requested();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait.await;
        if let Some(announce) = announce {
            tracing::info!("{announce}");
        }
        cancel.cancel();
    });
    token
}

/// Registers the handlers now and returns the future that resolves on the first signal.
#[cfg(unix)]
fn stop_requested() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    // A handler that cannot be registered leaves the signal's default (end the process),
    // which is still a stop: warn and wait for the other one.
    let register = |kind: SignalKind, name: &str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::warn!(%error, "cannot handle {name}; it will end the process at once");
            None
        }
    };
    let interrupt = register(SignalKind::interrupt(), "SIGINT");
    let terminate = register(SignalKind::terminate(), "SIGTERM");
    async move {
        let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
            match stream {
                Some(mut stream) => {
                    stream.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}

#[cfg(not(unix))]
fn stop_requested() -> impl Future<Output = ()> + Send + 'static {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
