//! Reading one attempt's outcome, as `subscriptions test` (the attempt
//! under `attempt`) and `deliveries redeliver` (the attempt itself) answer.
//!
//! The answer's exact shape is the server's business: `succeeded` may sit
//! at the top or inside `attempt`, and when it is missing the verdict is
//! derived from the attempt (no error and a 2xx status), so the CLI keeps
//! giving the right exit code if the server moves the field.

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
    format!("failed at step `{step}`{status}{duration}\n{message}\n")
}
