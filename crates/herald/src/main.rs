//! `herald`: the one binary of Herald.
//!
//! Wiring only: `serve` hands its flags to `herald_server::serve_main`,
//! `listen` to `herald_listen::run` with a shutdown signal, and the client
//! commands talk to a running server over the HTTP API.
//!
//! - `cli`: the command tree (clap).
//! - `commands`: one module per resource group of the API.
//! - `client`: the HTTP client and its error kinds.
//! - `table`: tables and `field: value` output for people.
//! - `exit`: exit codes, and the mapping from errors to them.

mod cli;
mod client;
mod commands;
mod exit;
mod table;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::{Ctx, deliveries, event_types, events, subscriptions, tenants};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return exit::report(&err.into()),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report(&err),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => herald_server::serve_main(args).await,
        Command::Listen(args) => herald_listen::run(args, shutdown_signal()).await,
        Command::Bench(args) => herald_bench::run(args).await,
        Command::Tenants { client, command } => tenants::run(&Ctx::new(client)?, command).await,
        Command::EventTypes { client, command } => {
            event_types::run(&Ctx::new(client)?, command).await
        }
        Command::Subscriptions { client, command } => {
            subscriptions::run(&Ctx::new(client)?, command).await
        }
        Command::Events { client, command } => events::run(&Ctx::new(client)?, command).await,
        Command::Deliveries { client, command } => {
            deliveries::run(&Ctx::new(client)?, command).await
        }
    }
}

/// Resolves on ctrl-c or, on Unix, SIGTERM: what a terminal and a service
/// manager send to ask for a clean stop.
async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, never resolve rather than stop.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
