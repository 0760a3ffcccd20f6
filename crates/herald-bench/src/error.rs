//! Why the bench stopped: [`BenchError`], one kind per thing that can go wrong before a report
//! exists (this machine, the spawned server, or the API it prepares).
//!
//! A scenario that runs out of time is not an error: it is reported incomplete. Errors are
//! for what makes a measurement impossible, and each says what to check.

use std::path::PathBuf;

/// The bench could not measure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The running executable cannot be found, so it cannot spawn itself as the server.
    #[error("cannot find the current executable; pass --herald-bin")]
    CurrentExe(#[source] std::io::Error),
    /// A local resource the bench needs (a port, a directory, a file, a runtime).
    #[error("cannot {what}")]
    Local {
        /// What the bench tried, e.g. "listen on 127.0.0.1:4000 again".
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The `herald serve` child could not be started.
    #[error("cannot start {}; check --herald-bin", bin.display())]
    Spawn {
        /// The binary given or found.
        bin: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The `herald serve` child exited or did not become ready.
    #[error("{reason}\nserver log:\n{log_tail}")]
    ServerStart {
        /// What happened ("exited at start (exit status: 1)", "did not become ready…").
        reason: String,
        /// The last lines of the server's log.
        log_tail: String,
    },
    /// An HTTP client could not be built.
    #[error("cannot build an HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A request to the server under test did not get an answer.
    #[error("{call}: no answer from the server under test")]
    Request {
        /// `METHOD /path`.
        call: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The server under test answered with an error status.
    #[error("{call}: {status}: {body}")]
    Api {
        /// `METHOD /path`.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The response body, as text.
        body: String,
    },
    /// The server under test answered 2xx with a body the bench cannot read.
    #[error("{call}: unexpected answer {body}")]
    UnexpectedAnswer {
        /// `METHOD /path`.
        call: String,
        /// The response body, as text.
        body: String,
    },
    /// No server to measure (no `--url`, and no node spawned).
    #[error("no server to measure")]
    NoServer,
    /// `--database-url` is not a PostgreSQL URL.
    #[error("--database-url {0}: not a postgres:// URL with a host")]
    DatabaseUrl(String),
    /// The scenario's database could not be created.
    #[error(
        "cannot create database {name}; the role in --database-url needs CREATEDB \
         (ALTER ROLE … CREATEDB), as the bench makes a fresh database per scenario"
    )]
    CreateDatabase {
        /// The database's name.
        name: String,
        /// What PostgreSQL said.
        source: sqlx::Error,
    },
    /// Another PostgreSQL step failed.
    #[error("cannot {what}")]
    Database {
        /// What the bench tried.
        what: String,
        /// What PostgreSQL said.
        source: sqlx::Error,
    },
    /// The report could not be written as JSON.
    #[error("cannot write the report as JSON")]
    Report(#[source] serde_json::Error),
}

impl BenchError {
    /// A failed local step, described as "cannot {what}".
    pub(crate) fn local(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Local { what, source }
    }
}

/// `error` and its sources, outermost first, joined by ": " (what `{:#}` of an `anyhow` error
/// prints), for notes in a report.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
