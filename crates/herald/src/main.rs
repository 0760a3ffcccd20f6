//! `herald`: the one binary of Herald.
//!
//! Wiring only. The libraries own the behaviour: `herald-server` serves (`herald_server::run`),
//! `herald-listen` receives, `herald-bench` measures. This crate owns the process around them:
//! - `wiring`: the one signal handler, the one log setup, the data dir, the admin token file
//!   and store selection, and the `serve` start sequence built from them.
//! - `cli`: the command tree (clap).
//! - `commands`: the client commands, one module per resource group of the API.
//! - `client`: the HTTP client and its error kinds.
//! - `credentials`: which bearer token a command sends (flag, variable, `herald login`'s file,
//!   the local admin token file) and where it came from.
//! - `table`: tables and `field: value` output for people.
//! - `generate`: shell completions and man pages, from the command tree.
//! - `exit`: exit codes, and the mapping from errors to them.
//!
//! `anyhow` lives here and nowhere else: the libraries return typed errors, and this binary
//! only adds context and turns them into one printed sentence and an exit code.

mod cli;
mod client;
mod commands;
mod credentials;
mod exit;
mod generate;
mod table;
mod wiring;

use std::process::ExitCode;

use anyhow::bail;

/// mimalloc, not the system allocator: serving and delivering allocate many small, short-lived
/// buffers from several threads at once, where glibc's allocator spent about an eighth of
/// Herald's CPU in `herald bench` (docs/performance.md, "Results, issue 15 continued"). With
/// the `override` feature the bundled SQLite allocates from it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::Parser;
use herald_server::LogFormat;

use crate::cli::{Cli, Command};
use crate::commands::{
    Ctx, admin, deliveries, event_types, events, subscriptions, tenants, tokens, trigger,
};
use crate::wiring::{logging, signals};

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
    // `serve` sets up logging itself, once its config says which format.
    if !matches!(command, Command::Serve(_)) {
        logging::init(LogFormat::Text);
    }
    match command {
        Command::Serve(args) => wiring::serve(*args).await,
        Command::Listen(args) => {
            // The receiver prints its own notice when it stops.
            let shutdown = signals::shutdown_token(None);
            herald_listen::run(args, shutdown.cancelled_owned()).await?;
            Ok(())
        }
        Command::Bench(args) => bench(args).await,
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
        Command::Login { client, args } => tokens::login(client, args).await,
        Command::Logout => tokens::logout(),
        Command::Tokens { client, command } => tokens::run(client, command).await,
        Command::Trigger { client, args } => trigger::run(&Ctx::new(client)?, args).await,
        Command::Admin { command } => admin::run(command).await,
        Command::Completions(args) => generate::completions(&args),
        Command::Man(args) => generate::man(&args),
    }
}

/// `herald bench` until it finishes or a signal stops it. Dropping the bench on a signal
/// kills the servers it spawned and removes their data directories, which a signal's default
/// (ending the process) would leave behind.
async fn bench(args: herald_bench::BenchArgs) -> anyhow::Result<()> {
    let shutdown = signals::shutdown_token(Some("stopping the bench and the servers it started"));
    tokio::select! {
        result = herald_bench::run(args) => Ok(result?),
        () = shutdown.cancelled() => {
            bail!("the bench was stopped by a signal before it finished; no report was made")
        }
    }
}
