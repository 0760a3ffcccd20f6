//! The command tree: `serve` and `listen` take their flags from the crates
//! that own them; the client commands are defined in `commands`.
//!
//! `serve` and `listen` flags are flattened as they are (`Serve(ServeArgs)`),
//! so `herald serve --help` is herald-server's own documentation of every
//! setting and nothing here can drift from it.

use clap::{Parser, Subcommand};

use crate::commands::ClientArgs;
use crate::commands::admin::AdminCommand;
use crate::commands::deliveries::DeliveriesCommand;
use crate::commands::event_types::EventTypesCommand;
use crate::commands::events::EventsCommand;
use crate::commands::subscriptions::SubscriptionsCommand;
use crate::commands::tenants::TenantsCommand;
use crate::commands::tokens::{LoginArgs, TokensCommand};
use crate::commands::trigger::TriggerArgs;
use crate::generate::{CompletionsArgs, ManArgs};

const ABOUT: &str = "Herald: durable, signed, retried webhooks.";
const LONG_ABOUT: &str = "\
Herald: durable, signed, retried webhooks.

`herald serve` runs the sender, `herald listen` a local receiver; the other
commands drive a running server over its HTTP API. They read the server's
address from HERALD_URL (or --server, default http://127.0.0.1:8080) and the
bearer token from HERALD_TOKEN (or --token).

Exit codes: 0 success, 1 the API answered with an error, 2 usage error,
3 the server could not be reached, 4 `subscriptions test` attempt failed.";

/// `herald`.
#[derive(Parser)]
#[command(name = "herald", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Every `herald` subcommand.
#[derive(Subcommand)]
pub enum Command {
    /// Run the Herald server: HTTP API and dispatcher. Every setting
    /// can come from a TOML file, HERALD_* variables or flags.
    Serve(Box<herald_server::ServeArgs>),
    /// Receive webhooks locally: verify, show, forward them or run a
    /// command for each.
    Listen(herald_listen::ListenArgs),
    /// Measure delivery speed against this machine's own limit (starts its own receiver
    /// and, unless --url is given, its own `herald serve`).
    Bench(herald_bench::BenchArgs),
    /// Manage tenants (admin).
    Tenants {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Manage event types.
    EventTypes {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: EventTypesCommand,
    },
    /// Manage subscriptions, test endpoints, rotate signing secrets.
    Subscriptions {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: SubscriptionsCommand,
    },
    /// Publish events and look at published ones.
    Events {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Look at deliveries and their attempts; redeliver.
    Deliveries {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: DeliveriesCommand,
    },
    /// Log in as a tenant: exchange its client credentials for an access
    /// token and save it (0600, in ~/.config/herald) for this server; later
    /// commands to this server send it.
    Login {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        args: LoginArgs,
    },
    /// Forget the token `herald login` saved.
    Logout,
    /// Get a tenant access token without saving it (for scripts).
    Tokens {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Publish a sample event of a registered type (its example, or one
    /// generated from its schema), to see a delivery happen.
    Trigger {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        args: TriggerArgs,
    },
    /// Operator commands on the database itself (same settings as `serve`): re-encrypt
    /// stored secrets after an encryption key rotation, compact a SQLite file.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, …) to stdout.
    #[command(after_help = COMPLETIONS_EXAMPLE)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write every page with --dir.
    #[command(after_help = MAN_EXAMPLE)]
    Man(ManArgs),
}

const COMPLETIONS_EXAMPLE: &str = "\
Examples:
  herald completions bash > ~/.local/share/bash-completion/completions/herald
  herald completions zsh > \"${fpath[1]}/_herald\"
  herald completions fish > ~/.config/fish/completions/herald.fish";

const MAN_EXAMPLE: &str = "\
Examples:
  herald man | man -l -
  herald man --dir ~/.local/share/man/man1";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap checks the whole tree here (duplicate flags between `serve`,
    /// `listen` and the client commands, bad references), which it would
    /// otherwise only do when that subcommand is first used.
    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// clap wraps help text to the terminal's width. Examples are indented lines in
    /// `after_help`; one that fits in 79 columns is never cut mid-command on a terminal of
    /// 80 columns or more.
    #[test]
    fn help_examples_fit_in_80_columns() {
        fn check(command: &clap::Command, path: &str) {
            let texts = [command.get_after_help(), command.get_after_long_help()];
            for text in texts.into_iter().flatten() {
                for line in text.to_string().lines() {
                    let example = line.starts_with("  ");
                    assert!(
                        !example || line.chars().count() < 80,
                        "`{path} --help` has an example line of {} columns: {line}",
                        line.chars().count()
                    );
                }
            }
            for sub in command.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&Cli::command(), "herald");
    }
}
