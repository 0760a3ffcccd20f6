//! The one duration parser of Herald: every duration a person writes (server settings in the
//! TOML file, `HERALD_*` variables and `herald serve` flags, `herald listen` flags and hook
//! rules, client flags) goes through [`parse`], so `15`, `15s`, `1m`, `250ms` and `1h30m` mean
//! the same everywhere. `docs/configuration.md` ("Durations") documents these forms once.
//!
//! A bare number is seconds, because that is what `timeout = 15` means to most people and
//! what the receiver always accepted; everything else is humantime's grammar (a number and a
//! unit, units may be chained). The crate does no I/O and knows no setting: callers name the
//! setting in their own error, with this one as its cause.
//!
//! ```
//! use std::time::Duration;
//!
//! assert_eq!(herald_duration::parse("15"), Ok(Duration::from_secs(15)));
//! assert_eq!(herald_duration::parse("250ms"), Ok(Duration::from_millis(250)));
//! assert!(herald_duration::parse("soon").is_err());
//! ```
#![deny(missing_docs)]

use std::time::Duration;

/// The forms [`parse`] accepts, in words, for help texts and error messages.
pub const FORMS: &str = "seconds (15) or a number and a unit (250ms, 15s, 1m, 2h, 1h30m)";

/// A text that is not a duration. Its message is the reason and the accepted forms, and it
/// does not repeat the text: the caller's error names the setting and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}; write {FORMS}")]
pub struct DurationError {
    /// What is wrong with it, in the parser's words.
    reason: String,
}

/// Shows a duration in the form [`parse`] reads back (`1m`, `1h 30m`, `250ms`), for messages.
pub fn format(duration: Duration) -> impl std::fmt::Display {
    humantime::format_duration(duration)
}

/// Parses a duration: a bare whole number is seconds, anything else a number and a unit
/// (`ms`, `s`, `m`, `h`, `d`, …, as in humantime), possibly chained (`1h30m`). Surrounding
/// whitespace is ignored.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|err| DurationError {
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_number_is_seconds() {
        assert_eq!(parse("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse(" 0 "), Ok(Duration::ZERO));
    }

    #[test]
    fn units_from_milliseconds_to_hours_and_chained() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2days"), Ok(Duration::from_secs(2 * 86400)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86400)));
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_that_work() {
        for text in ["soon", "", "-5s", "1.5x", "5 parsecs"] {
            let err = parse(text).expect_err(text);
            assert!(err.to_string().contains(FORMS), "{text}: {err}");
        }
    }
}
