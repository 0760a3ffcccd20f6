//! What `herald listen` prints: one record per request, and notices.
//!
//! Records go to the events stream (stdout): a line for people, more with `--verbose`, or one
//! JSON object per line with `--json` for scripts. Notices (the start banner, warnings, the
//! shutdown report) go to a separate stream (stderr), so `--json` output stays parseable.
//! Both streams are behind std `Mutex`es: a record is written whole, in one short critical
//! section, never across an `.await`. Write errors are ignored: a closed stdout must not turn
//! into refused webhooks.
//!
//! Everything a sender controls is escaped here, at the one place text leaves for a terminal
//! (`escape.rs`): each field of a line, each header and body line of `--verbose`, each notice,
//! and each `--json` line. A record carries the raw values, so nothing upstream has to
//! remember to escape. The body appears only with `--verbose`.

use std::io::Write;
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::escape;
use crate::runner::RunReport;

/// How a request was handled, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its signature matched.
    Verified,
    /// Accepted without a check (no secret configured).
    Unverified,
    /// Its `webhook-id` was already handled; the action did not run again.
    Duplicate,
    /// Refused before any action ran.
    Rejected,
}

impl Outcome {
    /// The word printed for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Unverified => "unverified",
            Self::Duplicate => "duplicate",
            Self::Rejected => "rejected",
        }
    }
}

/// Everything printed about one request.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub time: OffsetDateTime,
    pub method: String,
    pub path: String,
    pub id: Option<String>,
    pub event_type: Option<String>,
    pub size: usize,
    pub outcome: Outcome,
    /// Whether a signature was checked and matched (a duplicate may be verified too).
    pub verified: bool,
    pub status: u16,
    /// The problem detail, when refused or failed.
    pub reason: Option<String>,
    /// What the actions did: the app's answer, each command's summary.
    pub notes: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub runs: Vec<RunReport>,
}

/// Where records and notices are written, and in which format.
pub struct Output {
    json: bool,
    verbose: bool,
    events: Mutex<Box<dyn Write + Send>>,
    notices: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("json", &self.json)
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

impl Output {
    /// Records to stdout, notices to stderr.
    pub fn stdio(json: bool, verbose: bool) -> Self {
        Self::new(
            json,
            verbose,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
        )
    }

    /// Records to `events`, notices to `notices` (tests pass in-memory buffers).
    pub fn new(
        json: bool,
        verbose: bool,
        events: Box<dyn Write + Send>,
        notices: Box<dyn Write + Send>,
    ) -> Self {
        Self {
            json,
            verbose,
            events: Mutex::new(events),
            notices: Mutex::new(notices),
        }
    }

    /// Writes one notice line.
    pub(crate) fn notice(&self, text: &str) {
        let mut out = self.notices.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{}", escape::line(text));
        let _ = out.flush();
    }

    /// Writes one line of `text` as is to the records' stream (a value a script reads, such
    /// as `--print-secret`'s secret).
    pub(crate) fn line(&self, text: &str) {
        let mut out = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{}", escape::line(text));
        let _ = out.flush();
    }

    /// Writes one record.
    pub(crate) fn record(&self, record: &Record) {
        let text = if self.json {
            let mut line = escape::json_line(self.json_record(record).to_string());
            line.push('\n');
            line
        } else {
            self.human_record(record)
        };
        let mut out = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn human_record(&self, record: &Record) -> String {
        let mut line = format!(
            "{} {} {:<10} {} {} {}",
            timestamp(record.time),
            record.status,
            record.outcome.as_str(),
            escape::line(record.id.as_deref().unwrap_or("-")),
            escape::line(record.event_type.as_deref().unwrap_or("-")),
            size(record.size),
        );
        for text in record.reason.iter().chain(&record.notes) {
            line.push_str(" · ");
            line.push_str(&escape::line(text));
        }
        line.push('\n');
        if self.verbose {
            verbose_lines(&mut line, record);
        }
        line
    }

    fn json_record(&self, record: &Record) -> Value {
        let mut object = json!({
            "time": timestamp(record.time),
            "method": record.method,
            "path": record.path,
            "status": record.status,
            "outcome": record.outcome.as_str(),
            "verified": record.verified,
            "id": record.id,
            "type": record.event_type,
            "size": record.size,
            "reason": record.reason,
            "notes": record.notes,
        });
        if self.verbose {
            let headers: serde_json::Map<String, Value> = record
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect();
            object["headers"] = Value::Object(headers);
            object["body"] = match serde_json::from_slice::<Value>(&record.body) {
                Ok(value) => value,
                Err(_) => Value::String(String::from_utf8_lossy(&record.body).into_owned()),
            };
            object["hooks"] = record
                .runs
                .iter()
                .map(|run| {
                    json!({
                        "name": run.name,
                        "succeeded": run.succeeded(),
                        "summary": run.summary(),
                        "stdout": run.stdout,
                        "stderr": run.stderr,
                    })
                })
                .collect();
        }
        object
    }
}

/// The `--verbose` part of a line for people: request line, headers, body, command output.
fn verbose_lines(out: &mut String, record: &Record) {
    let method = escape::line(&record.method);
    out.push_str(&format!("    {method} {}\n", escape::line(&record.path)));
    for (name, value) in &record.headers {
        out.push_str(&format!(
            "    {}: {}\n",
            escape::line(name),
            escape::line(value)
        ));
    }
    for body_line in escape::block(&render_body(&record.body)).lines() {
        out.push_str(&format!("    {body_line}\n"));
    }
    for run in &record.runs {
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            if !text.is_empty() {
                out.push_str(&format!("    [{} {stream}]\n", escape::line(&run.name)));
                for out_line in escape::block(text).lines() {
                    out.push_str(&format!("      {out_line}\n"));
                }
            }
        }
    }
}

fn timestamp(time: OffsetDateTime) -> String {
    let time = time.replace_nanosecond(0).unwrap_or(time);
    time.format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

fn size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// The body for people: pretty JSON, else text, else a note that it is binary.
fn render_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    match std::str::from_utf8(body) {
        Ok(text) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            crate::pretty::pretty(text)
        }
        Ok(text) => text.to_owned(),
        Err(_) => format!("({} bytes, not UTF-8)", body.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_render_as_pretty_json_text_or_a_binary_note() {
        assert_eq!(render_body(b"{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(render_body(b"plain"), "plain");
        assert_eq!(render_body(&[0xff, 0xfe]), "(2 bytes, not UTF-8)");
        assert_eq!(render_body(b""), "(empty body)");
    }
}
