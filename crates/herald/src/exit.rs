//! Exit codes, and the mapping from an error to one (0, success, is
//! `ExitCode::SUCCESS`).
//!
//! Scripts tell outcomes apart by exit code alone, so every failure the CLI
//! can meet is one of a few typed errors, and `main` turns the error into a
//! code here. Anything untyped (a failing `serve` or `listen`, an I/O error)
//! is treated like an API error: code 1.
//!
//! An error is printed once, on one line: the message, then each cause that
//! adds something. Library errors keep their cause as `source` rather than in
//! their text, but one that says it in its text too (or a context that quotes
//! it) must not make the user read it twice, so a cause already present in
//! what is printed is skipped here, once for every command.

use std::process::ExitCode;

use crate::client::ApiError;

/// The API answered with an error (the problem is printed on stderr), or
/// `serve` / `listen` failed.
pub const API_ERROR: u8 = 1;
/// The command line was wrong: clap's own code, reused for input the CLI
/// checks itself (a `--data` that is not JSON, an unreadable file, …).
pub const USAGE: u8 = 2;
/// The server could not be reached (connection refused, DNS, timeout).
pub const UNREACHABLE: u8 = 3;
/// `subscriptions test` ran, but the test attempt failed.
pub const TEST_FAILED: u8 = 4;

/// A mistake on the command line that clap cannot see (bad JSON, a missing
/// file, nothing to update).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error as an `anyhow::Error`, for `return Err(usage(...))`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The connectivity test reached its verdict: the subscriber's endpoint
/// failed. The details were already printed.
#[derive(Debug)]
pub struct TestFailed;

impl std::fmt::Display for TestFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the test attempt failed")
    }
}

impl std::error::Error for TestFailed {}

/// Prints `err` on stderr the way a person needs it, and returns its code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let code = if let Some(api) = err.downcast_ref::<ApiError>() {
        eprintln!("error: {api}");
        match api {
            ApiError::Unreachable { .. } => UNREACHABLE,
            _ => API_ERROR,
        }
    } else if let Some(usage) = err.downcast_ref::<UsageError>() {
        eprintln!("error: {usage}");
        USAGE
    } else if err.downcast_ref::<TestFailed>().is_some() {
        TEST_FAILED
    } else {
        eprintln!("error: {}", one_line(err));
        API_ERROR
    };
    ExitCode::from(code)
}

/// The message and its causes joined by `: `, leaving out a cause whose text
/// is already there.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    use anyhow::Context;

    fn failing(cause: &str, context: &str) -> anyhow::Error {
        let result: Result<(), _> = Err(std::io::Error::other(cause.to_owned()));
        result.context(context.to_owned()).unwrap_err()
    }

    #[test]
    fn each_cause_is_printed_after_the_message() {
        let err = failing("permission denied", "cannot open herald.db");
        assert_eq!(one_line(&err), "cannot open herald.db: permission denied");
    }

    #[test]
    fn a_cause_the_message_already_says_is_not_printed_twice() {
        let err = failing("disk full", "cannot save the token: disk full");
        assert_eq!(one_line(&err), "cannot save the token: disk full");
    }
}
