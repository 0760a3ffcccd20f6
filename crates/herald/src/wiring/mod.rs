//! Process wiring: what every `herald` subcommand needs from the process around it, written
//! once here rather than inside the libraries.
//!
//! - `signals`: the one SIGINT/SIGTERM handler, as a `CancellationToken`.
//! - `logging`: the one `tracing` subscriber (text or JSON on stderr, `RUST_LOG` filter).
//! - `data_dir`: creating the data directory, private to the server's user.
//! - `lock`: one `herald serve` per data directory (an OS file lock held for its life).
//! - `admin_token`: the admin token file (read, or generate, print once, save 0600).
//! - `encryption_key`: the keyring that seals stored secrets (configured, or generated 0600).
//! - `store`: PostgreSQL when a URL is configured, else SQLite in the data dir.
//! - `secrets`: stored secrets against the keyring (seal plaintext at start, check keys,
//!   re-seal for `herald admin reencrypt`).
//! - `reencrypt`: `herald admin reencrypt`, the store opened as `serve` opens it.
//! - `vacuum`: `herald admin vacuum`, compacting a stopped server's SQLite file.
//! - `serve`: `herald serve`, the parts above in order, then `herald_server::run`.
//!
//! The libraries (`herald-server`, `herald-listen`, `herald-bench`) never install a signal
//! handler or a log subscriber and never pick a store: a process has one of each, and a
//! library that took them would fight the tests and any other program that embeds it.
//! Errors here are `anyhow` with context, because they end at `exit::report`, not in code
//! that branches on them.

mod admin_token;
mod data_dir;
mod encryption_key;
mod lock;
pub mod logging;
mod reencrypt;
mod secrets;
mod serve;
pub mod signals;
mod store;
mod vacuum;

pub use reencrypt::{Reencrypted, reencrypt};
pub use serve::serve;
pub use vacuum::vacuum;
