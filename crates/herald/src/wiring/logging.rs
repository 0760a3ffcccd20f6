//! The one log setup of the process: a `tracing` subscriber writing to stderr, text for people
//! or one JSON object per line, filtered by `RUST_LOG` (default `info`).
//!
//! Logs go to stderr so stdout stays for what a command prints on purpose (the generated admin
//! token, `listen`'s records, `bench`'s report, `--json` output). It is installed once, by
//! `main`, before the subcommand runs, except for `serve`, which installs it as soon as its
//! config (and so its log format) is known.

use herald_server::LogFormat;

/// Installs the subscriber. A second call keeps the first one (and says nothing): tests and
/// embedders may already have installed their own.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
