//! `herald listen`: the receiver for people who consume webhooks.
//!
//! It accepts Standard Webhooks requests from any sender, checks their signatures with
//! `herald-signature`, answers a repeated `webhook-id` without acting twice, prints each
//! request, and then acts: forwards it to a local app and/or runs commands chosen by event
//! type. It is a library so the `herald` binary only wires it in (`herald listen` flattens
//! [`ListenArgs`] and calls [`run`]) and so tests drive a real server through [`serve`] on
//! port 0.
//!
//! The modules, in the order a request meets them:
//! - `args`: the flags ([`ListenArgs`]); `config`: the checked [`Config`] built from them.
//! - `server`: the accept loop, timeouts, graceful shutdown ([`serve`]).
//! - `handler`: one request from method check to answer; `gate`: the checks before the body
//!   (browser origin, content type, id length); `verify`: the signature check;
//!   `dedup`: the bounded memory of handled ids.
//! - `forward`: the `--forward-to` client; `hooks`: the hooks file; `runner`: running its
//!   commands.
//! - `relay`: `--relay`, the same handling for deliveries received over an outbound
//!   WebSocket from `herald serve` instead of on a port.
//! - `output`: what is printed (`pretty`: JSON re-indented in the sender's key order;
//!   `escape`: control characters made visible); `problem`: RFC 9457 bodies of refusals.
//!
//! Nothing here panics on input: every refusal is a problem body with a 4xx (or a 5xx that
//! tells the sender to retry because the app or a command failed).
#![deny(missing_docs)]

mod args;
mod config;
mod dedup;
mod escape;
mod forward;
mod gate;
mod handler;
mod hooks;
mod output;
mod pretty;
mod problem;
mod relay;
mod runner;
mod server;
mod verify;

use std::future::Future;

pub use args::ListenArgs;
pub use config::{Config, ConfigError, Origins};
pub use hooks::{Hooks, HooksError, Pattern, Program, Rule};
pub use output::{Outcome, Output};
pub use problem::{PROBLEM_TYPE_PREFIX, Problem};
pub use relay::RelayError;
pub use runner::{OUTPUT_TAIL, RunOutcome, RunReport};
pub use server::{ServeError, serve};
pub use verify::Verdict;

/// Why [`run`] could not start or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The flags cannot make a receiver (the message names the flag).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another program already listens on `--host`:`--port`.
    #[error(
        "port {port} on {host} is already in use by another program; stop it, or choose \
         another port with --port (--port 0 picks a free one)"
    )]
    PortInUse {
        /// `--host` as given.
        host: String,
        /// `--port` as given.
        port: u16,
    },
    /// `--host`:`--port` cannot be bound for another reason (the cause follows as `source`).
    #[error("cannot listen on {host}:{port}; check --host and --port")]
    Bind {
        /// `--host` as given.
        host: String,
        /// `--port` as given.
        port: u16,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The receiver failed while serving or stopping.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// `--relay` could not start, or the server refused it.
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// Runs `herald listen --relay` with these flags and this checked `config` (tests pass one
/// whose output goes to buffers) until `shutdown` completes.
pub async fn relay(
    args: &ListenArgs,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    relay::run(args, config, shutdown).await
}

/// Runs `herald listen` with these flags until `shutdown` completes.
///
/// Checks the flags, binds `--host`:`--port` (or, with `--relay`, connects out to the
/// server instead), then [`serve`]s. The `herald` binary passes a
/// future that completes on SIGINT or SIGTERM; this crate installs no signal handler itself.
pub async fn run(args: ListenArgs, shutdown: impl Future<Output = ()>) -> Result<(), ListenError> {
    let config = Config::from_args(&args)?;
    if args.relay.is_some() {
        return Ok(relay::run(&args, config, shutdown).await?);
    }
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|source| match source.kind() {
            // Said in full, so the OS's own "Address already in use" is not printed after it.
            std::io::ErrorKind::AddrInUse => ListenError::PortInUse {
                host: args.host.clone(),
                port: args.port,
            },
            _ => ListenError::Bind {
                host: args.host.clone(),
                port: args.port,
                source,
            },
        })?;
    serve(listener, config, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ListenArgs,
    }

    #[tokio::test]
    async fn a_port_in_use_says_so_and_suggests_another_port() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let args = Cli::try_parse_from(["listen", "--port", &port])
            .unwrap()
            .args;
        let error = run(args, async {}).await.unwrap_err();
        assert!(
            matches!(&error, ListenError::PortInUse { host, .. } if host == "127.0.0.1"),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&format!("port {port} on 127.0.0.1")),
            "{message}"
        );
        assert!(message.contains("already in use"), "{message}");
        assert!(message.contains("--port"), "{message}");
        assert!(
            std::error::Error::source(&error).is_none(),
            "said once: {message}"
        );
    }
}
