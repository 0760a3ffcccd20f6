//! The one log setup of the process: a `tracing` subscriber writing to stderr, text for people
//! or one JSON object per line, filtered by `RUST_LOG` (default `info`).
//!
//! Logs go to stderr so stdout stays for what a command prints on purpose (the generated admin
//! token, `listen`'s records, `bench`'s report, `--json` output). It is installed once, by
//! `main`, before the subcommand runs, except for `serve`, which installs it as soon as its
//! config (and so its log format) is known.
//!
//! Text logs are coloured only when stderr is a terminal and `NO_COLOR` is unset or empty
//! (no-color.org): escape codes in a log file or a pipe are noise a reader has to strip.

use std::ffi::OsString;
use std::io::IsTerminal;

use herald_server::LogFormat;

/// Installs the subscriber. A second call keeps the first one (and says nothing): tests and
/// embedders may already have installed their own.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ));
    let _already_installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Whether to colour: on a terminal, unless `NO_COLOR` is set to something.
fn colour(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
