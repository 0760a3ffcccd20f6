//! `herald admin`: operator commands that work on the database directly rather than through
//! the HTTP API, with the same settings as `herald serve`.
//!
//! - `reencrypt`: re-seal every stored secret under the first encryption key, so the others
//!   can be removed (docs/security.md, "Rotating the encryption key").
//! - `vacuum`: compact a stopped server's SQLite file, once for a file made before
//!   retention existed (docs/security.md, "Retention").

use clap::Subcommand;

use crate::wiring::{self, Reencrypted};

/// `herald admin …`.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Re-encrypt every stored secret with the first encryption key, so the keys after it
    /// can be removed. Give it the settings `herald serve` runs with (same config file,
    /// variables and flags). On SQLite, stop the server first; on PostgreSQL it runs beside
    /// the nodes. Safe to run again.
    Reencrypt(Box<herald_server::ServeArgs>),
    /// Compact the SQLite database of a stopped server, and switch a file made before
    /// retention existed to incremental auto-vacuum so that deletions shrink it from then on.
    /// Give it the settings `herald serve` runs with.
    Vacuum(Box<herald_server::ServeArgs>),
}

/// Runs an admin command.
pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Reencrypt(args) => {
            let done = wiring::reencrypt(&args).await?;
            println!("{}", summary(&done));
            Ok(())
        }
        AdminCommand::Vacuum(args) => {
            let (before, after) = wiring::vacuum(&args).await?;
            println!("Compacted the database: {before} bytes before, {after} bytes now.");
            Ok(())
        }
    }
}

/// One line for people: how many were rewritten, and what seals them now.
fn summary(done: &Reencrypted) -> String {
    let others: Vec<String> = done
        .census
        .sealed
        .iter()
        .filter(|(id, _)| **id != done.primary)
        .map(|(id, n)| format!("{n} with key {id}"))
        .collect();
    let current = done.census.sealed.get(&done.primary).copied().unwrap_or(0);
    let mut line = format!(
        "Re-encrypted {} subscription(s); {current} now encrypted with key {}.",
        done.resealed, done.primary
    );
    if others.is_empty() && done.census.plaintext == 0 {
        line.push_str(" No other key is in use: keys after the first can be removed.");
    } else {
        // Rows changed by a running node with another primary key, or written meanwhile.
        line.push_str(&format!(
            " Still left: {} plaintext, {}; run it again once every node has the same first key.",
            done.census.plaintext,
            if others.is_empty() {
                "none sealed by other keys".to_owned()
            } else {
                others.join(", ")
            }
        ));
    }
    line
}
