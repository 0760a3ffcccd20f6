//! `herald deliveries watch` and `herald events tail`: attempts as they happen, read from the
//! server's `GET /api/v1/attempts/stream` (server-sent events), one line each for people or
//! one JSON object per line with `--json`.
//!
//! It owns reading the stream, reconnecting, and the line format; it never decides what the
//! caller may see (the server narrows a tenant token to its tenant). The choice to know: the
//! command never gives up on a stream that worked once. When the connection drops (the server
//! restarts, a proxy cuts it, nothing arrives for [`SILENCE`] although the server sends a
//! keep-alive every 15 s), it says so on stderr and reconnects with `Last-Event-ID` set to
//! the last attempt it printed, so nothing is lost or printed twice; only a first connection
//! that fails, or a refusal (4xx), ends it with an error. `events tail` reads the same stream
//! and groups the lines by event: a line for the event when it changes, then its attempts.

use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::{Ctx, Query};
use crate::client::ApiError;
use crate::table;

/// Without a byte for this long (keep-alives come every 15 s), the connection is taken as
/// dead and made again.
const SILENCE: Duration = Duration::from_secs(45);
/// The first wait before reconnecting; it doubles up to [`RECONNECT_MAX`].
const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(15);
/// A line longer than this is not a server-sent event Herald sends.
const MAX_LINE: usize = 1024 * 1024;

/// Which attempts to show.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Only attempts to this subscription.
    #[arg(long, value_name = "SUBSCRIPTION_ID")]
    pub subscription: Option<String>,
    /// Only this tenant's attempts (with the admin token; a tenant token always sees only
    /// its own).
    #[arg(long, value_name = "TENANT_ID")]
    pub tenant: Option<String>,
    /// Only attempts that ended this way.
    #[arg(long)]
    pub status: Option<AttemptOutcome>,
    /// Only attempts of events of this type.
    #[arg(long, visible_alias = "type", value_name = "TYPE")]
    pub event_type: Option<String>,
}

/// How an attempt ended.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Succeeded,
    /// Anything else.
    Failed,
}

impl AttemptOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
        }
    }
}

/// How the lines are laid out for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One line per attempt (`deliveries watch`).
    Attempts,
    /// A line per event when it changes, its attempts indented below (`events tail`).
    ByEvent,
}

/// Streams attempts until interrupted (Ctrl-C) or refused.
pub async fn run(ctx: &Ctx, args: WatchArgs, layout: Layout) -> anyhow::Result<()> {
    let query = Query::default()
        .opt("subscription_id", args.subscription)
        .opt("tenant_id", args.tenant)
        .opt("status", args.status.map(AttemptOutcome::as_str))
        .opt("event_type", args.event_type);
    let mut printer = Printer::new(layout, ctx.json);
    let mut last: Option<String> = None;
    let mut connected_once = false;
    let mut wait = RECONNECT_MIN;
    loop {
        match ctx
            .api
            .open_stream(&["attempts", "stream"], &query.0, last.as_deref())
            .await
        {
            Ok(response) => {
                if connected_once {
                    eprintln!("reconnected; {}", resuming(last.as_deref()));
                } else {
                    eprintln!("watching attempts as they happen (Ctrl-C to stop)");
                }
                connected_once = true;
                wait = RECONNECT_MIN;
                let why = read_stream(response, &mut printer, &mut last).await;
                eprintln!(
                    "connection lost ({why}); reconnecting in {} s, {}",
                    wait.as_secs(),
                    resuming(last.as_deref())
                );
            }
            Err(ApiError::Problem { status, .. }) if status == 503 && connected_once => {
                eprintln!("the server is busy (503); retrying in {} s", wait.as_secs());
            }
            Err(ApiError::Unreachable { reason, .. }) if connected_once => {
                eprintln!(
                    "cannot reconnect yet ({reason}); retrying in {} s",
                    wait.as_secs()
                );
            }
            Err(refused) => return Err(refused.into()),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RECONNECT_MAX);
    }
}

fn resuming(last: Option<&str>) -> String {
    match last {
        Some(id) => format!("resuming after attempt {id}"),
        None => "nothing was missed".to_owned(),
    }
}

/// Reads events until the connection ends; returns why it ended.
async fn read_stream(
    mut response: reqwest::Response,
    printer: &mut Printer,
    last: &mut Option<String>,
) -> String {
    let mut parser = SseParser::default();
    loop {
        let chunk = match tokio::time::timeout(SILENCE, response.chunk()).await {
            Err(_) => return format!("nothing received for {} s", SILENCE.as_secs()),
            Ok(Err(error)) => return error.to_string(),
            Ok(Ok(None)) => return "the server closed the stream".to_owned(),
            Ok(Ok(Some(chunk))) => chunk,
        };
        let messages = match parser.feed(&chunk) {
            Ok(messages) => messages,
            Err(why) => return why,
        };
        for message in messages {
            if message.event != "attempt" {
                continue;
            }
            printer.print(&message.data);
            if let Some(id) = message.id {
                *last = Some(id);
            }
        }
    }
}

/// One server-sent event.
#[derive(Debug, PartialEq, Eq)]
struct Message {
    event: String,
    id: Option<String>,
    data: String,
}

/// The event-stream format, fed chunk by chunk (a chunk may end mid-line, mid-character).
#[derive(Debug, Default)]
struct SseParser {
    pending: Vec<u8>,
    event: String,
    id: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// The events completed by `bytes`; an error if a line grows past [`MAX_LINE`].
    fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Message>, String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw);
            self.line(line.trim_end_matches(['\n', '\r']), &mut out);
        }
        if self.pending.len() > MAX_LINE {
            return Err(format!("a line of the stream is over {MAX_LINE} bytes"));
        }
        Ok(out)
    }

    fn line(&mut self, line: &str, out: &mut Vec<Message>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(Message {
                    event: std::mem::take(&mut self.event),
                    id: self.id.clone(),
                    data,
                });
            }
            self.event.clear();
            return;
        }
        if line.starts_with(':') {
            return; // a comment: the server's keep-alive
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = value.to_owned(),
            "id" => self.id = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
}

/// Prints attempts as lines.
struct Printer {
    layout: Layout,
    json: bool,
    /// The event of the last line (`events tail` prints an event's line when it changes).
    last_event: Option<String>,
}

impl Printer {
    fn new(layout: Layout, json: bool) -> Self {
        Self {
            layout,
            json,
            last_event: None,
        }
    }

    fn print(&mut self, data: &str) {
        if self.json {
            table::out(&format!("{}\n", data.trim()));
            return;
        }
        let Ok(attempt) = serde_json::from_str::<Value>(data) else {
            eprintln!("skipped an event the CLI cannot read");
            return;
        };
        table::out(&self.lines(&attempt));
    }

    /// The lines for one attempt, each ending in a newline.
    fn lines(&mut self, attempt: &Value) -> String {
        let field = |name: &str| plain(attempt.get(name).and_then(Value::as_str).unwrap_or("-"));
        let time = short_time(&field("started_at"));
        let result = format!(
            "{}  {} ms  {}",
            outcome(attempt),
            attempt
                .get("duration_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            then(attempt)
        );
        match self.layout {
            Layout::Attempts => format!(
                "{time}  {}  {}  {result}  {}\n",
                field("subscription_id"),
                field("event_type"),
                field("delivery_id")
            ),
            Layout::ByEvent => {
                let event = field("event_id");
                let mut out = String::new();
                if self.last_event.as_deref() != Some(event.as_str()) {
                    out.push_str(&format!("{time}  {event}  {}\n", field("event_type")));
                    self.last_event = Some(event);
                }
                out.push_str(&format!(
                    "  -> {}  {result}  {}\n",
                    field("subscription_id"),
                    field("delivery_id")
                ));
                out
            }
        }
    }
}

/// `succeeded 200`, `failed 503`, `failed connect`.
fn outcome(attempt: &Value) -> String {
    let status = attempt.get("response_status").and_then(Value::as_u64);
    let step = attempt.get("error").and_then(Value::as_str);
    let outcome = plain(
        attempt
            .get("outcome")
            .and_then(Value::as_str)
            .unwrap_or("-"),
    );
    match (step, status) {
        (None | Some("status"), Some(status)) => format!("{outcome} {status}"),
        (Some(step), _) => format!("{outcome} {}", plain(step)),
        (None, None) => outcome,
    }
}

/// What follows the attempt: `delivered`, `next retry …` or `no more retries`.
fn then(attempt: &Value) -> String {
    if attempt.get("outcome").and_then(Value::as_str) == Some("succeeded") {
        return "delivered".to_owned();
    }
    match attempt.get("next_attempt_at").and_then(Value::as_str) {
        Some(next) => format!("next retry {}", short_time(&plain(next))),
        None => "no more retries".to_owned(),
    }
}

/// An RFC 3339 time to the second (`2030-01-01T00:00:05Z`).
fn short_time(time: &str) -> String {
    match time.split_once('.') {
        Some((seconds, rest)) if rest.ends_with('Z') => format!("{seconds}Z"),
        _ => time.to_owned(),
    }
}

/// Text from the server, with control characters (terminal escapes) shown as `?`.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
