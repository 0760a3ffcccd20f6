//! The one signal handler of the process: SIGINT (ctrl-c) or SIGTERM (a service manager's
//! stop) cancels a [`CancellationToken`] that the running subcommand watches.
//!
//! It is installed only by the subcommands that stop cleanly (`serve`, `listen`, `bench`):
//! once a handler is installed the signal no longer ends the process by itself, and a client
//! command, one request long, is better killed at once. It never touches global state: what
//! "stop" means belongs to the subcommand that holds the token. The one exception to "never
//! exits" is [`shutdown_token_or_exit`]: a second signal to `serve` means "stop waiting", and
//! only the process can stop waiting for requests already sent; exiting is safe there because
//! the store is durable and a lease left behind expires (or is released at the next start).

use tokio_util::sync::CancellationToken;

/// The conventional exit code after SIGINT (128 + 2), used when a second signal cuts a
/// graceful stop short.
pub const INTERRUPTED: i32 = 130;

/// A token cancelled at the first SIGINT or SIGTERM, after logging `announce` (if any) at
/// `info`: the subcommand says what stopping means for it (`listen` prints its own notice, so
/// it passes none). Must be called inside the runtime; the handlers are registered before it
/// returns, so a signal sent right after is not lost.
pub fn shutdown_token(announce: Option<&'static str>) -> CancellationToken {
    install(announce, false)
}

/// The same, and a second SIGINT or SIGTERM ends the process at once with [`INTERRUPTED`],
/// without waiting for what the first one let finish.
pub fn shutdown_token_or_exit(announce: &'static str) -> CancellationToken {
    install(Some(announce), true)
}

fn install(announce: Option<&'static str>, exit_on_second: bool) -> CancellationToken {
    let token = CancellationToken::new();
    let mut signals = Signals::register();
    let cancel = token.clone();
    tokio::spawn(async move {
        signals.next().await;
        if let Some(announce) = announce {
            tracing::info!("{announce}");
        }
        cancel.cancel();
        if exit_on_second {
            signals.next().await;
            tracing::warn!(
                "second signal: exiting now; deliveries in flight are sent again after their \
                 lease"
            );
            std::process::exit(INTERRUPTED);
        }
    });
    token
}

/// The registered handlers; [`Signals::next`] resolves at each signal.
#[cfg(unix)]
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    /// Registers the handlers now, so a signal sent right after is not lost.
    fn register() -> Self {
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
        Self {
            interrupt: register(SignalKind::interrupt(), "SIGINT"),
            terminate: register(SignalKind::terminate(), "SIGTERM"),
        }
    }

    /// The next SIGINT or SIGTERM.
    async fn next(&mut self) {
        async fn one(stream: &mut Option<tokio::signal::unix::Signal>) {
            match stream {
                Some(stream) => {
                    stream.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = one(&mut self.interrupt) => {}
            () = one(&mut self.terminate) => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn register() -> Self {
        Self
    }

    /// The next ctrl-c.
    async fn next(&mut self) {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
