//! Reading one attempt's outcome, as `subscriptions test` (the attempt
//! under `attempt`) and `deliveries redeliver` (the attempt itself) answer.
//!
//! The answer's exact shape is the server's business: `succeeded` may sit
//! at the top or inside `attempt`, and when it is missing the verdict is
//! derived from the attempt (no error and a 2xx status), so the CLI keeps
//! giving the right exit code if the server moves the field.
//!
//! Everything printed here comes from the server and, through it, from the
//! endpoint (its URL, a prefix of its body): control characters are
//! replaced before they reach the terminal.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// The attempt: under `attempt` (test), or the answer itself (redeliver).
fn attempt(value: &Value) -> &Value {
    value.get("attempt").unwrap_or(value)
}

/// `succeeded` where the server puts it (top level or in the attempt);
/// failing that, a 2xx status with no error.
pub fn succeeded(value: &Value) -> bool {
    let attempt = attempt(value);
    if let Some(ok) = value
        .get("succeeded")
        .or_else(|| attempt.get("succeeded"))
        .and_then(Value::as_bool)
    {
        return ok;
    }
    let status = attempt.get("response_status").and_then(Value::as_u64);
    attempt.get("error").is_none_or(Value::is_null)
        && status.is_some_and(|s| (200..300).contains(&s))
}

/// For a person: what happened and in how long; on failure, the step
/// that failed and the server's sentence about it.
pub fn describe(value: &Value) -> String {
    let attempt = attempt(value);
    let duration = attempt
        .get("duration_ms")
        .and_then(Value::as_u64)
        .map_or_else(String::new, |ms| format!(" in {ms} ms"));
    let status = attempt
        .get("response_status")
        .and_then(Value::as_u64)
        .map_or_else(String::new, |s| format!(" HTTP {s}"));
    if succeeded(value) {
        return format!("succeeded:{status}{duration}\n");
    }
    let step = attempt
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("status");
    let message = attempt
        .get("error_message")
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = if status.is_empty() {
        status
    } else {
        format!(":{status}")
    };
    let mut out = format!(
        "failed at step `{}`{status}{duration}\n{}\n",
        printable(step),
        printable(message)
    );
    if let Some(explanation) = value.get("explanation") {
        for field in ["meaning", "advice"] {
            if let Some(text) = explanation.get(field).and_then(Value::as_str) {
                out.push_str(&format!("{field}: {}\n", printable(text)));
            }
        }
    }
    out
}

/// The server's limit for a connectivity test's attempt, from the headers
/// it sends before the attempt.
pub fn limit(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("herald-test-timeout-ms")?
        .to_str()
        .ok()?
        .parse()
        .ok()
        .map(Duration::from_millis)
}

/// The line to show while a connectivity test runs, from the headers the
/// server sends before the attempt: "waiting for URL (up to 15s)".
pub fn waiting(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let url = printable(header("herald-test-url")?);
    let limit = limit(headers).map(|d| d.as_millis());
    Some(match limit {
        Some(ms) if ms % 1000 == 0 => format!("waiting for {url} (up to {}s)", ms / 1000),
        Some(ms) => format!("waiting for {url} (up to {ms}ms)"),
        None => format!("waiting for {url}"),
    })
}

/// `text` with every control character but newlines shown as `\u{..}`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_prints_the_sentence_then_meaning_and_advice_without_control_characters() {
        let value = serde_json::json!({
            "succeeded": false,
            "attempt": {"error": "status", "response_status": 500, "duration_ms": 3,
                        "error_message": "the endpoint answered 500\u{1b}[2J"},
            "explanation": {"meaning": "It means this.", "advice": "Do that."},
        });
        assert_eq!(
            describe(&value),
            "failed at step `status`: HTTP 500 in 3 ms\n\
             the endpoint answered 500\\u{1b}[2J\n\
             meaning: It means this.\n\
             advice: Do that.\n"
        );
    }

    #[test]
    fn the_waiting_line_names_the_url_and_the_limit() {
        let mut headers = HeaderMap::new();
        headers.insert("herald-test-url", "https://h.example/x".parse().unwrap());
        headers.insert("herald-test-timeout-ms", "15000".parse().unwrap());
        assert_eq!(
            waiting(&headers).as_deref(),
            Some("waiting for https://h.example/x (up to 15s)")
        );
        assert_eq!(waiting(&HeaderMap::new()), None);
    }
}
