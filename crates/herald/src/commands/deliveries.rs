//! `herald deliveries`: one event to one subscription, and its attempts.
//!
//! `show` renders whatever attempt list the server sends: `attempts` when it
//! is an array, else the first array under a few likely names. The count of
//! attempts and their list may share a name or not, and the CLI should not
//! break on that choice.

use clap::{Subcommand, ValueEnum};
use serde_json::Value;

use super::attempt_outcome;
use super::watch::{self, Layout, WatchArgs};
use super::{Ctx, Page, Query};
use crate::table::{self, Column, col, col_or, computed};

/// What a person scans for: which delivery, how it stands, where it goes and why it failed.
/// The event and subscription ids are in `show` (and `--json`), which a list row leads to.
pub(super) const COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("STATUS", "status"),
    col_or("ATTEMPTS", "attempt_count", "attempts"),
    col("EVENT TYPE", "event_type").shrinks(),
    col("URL", "subscription_url").shrinks(),
    computed("LAST ERROR", last_error).shrinks(),
    col("NEXT ATTEMPT", "next_attempt_at"),
];
/// `show`'s order: the list's columns first, in the list's order, then the ids a list
/// leaves out. `last_attempt` is not among them: `show` prints every attempt below.
pub(super) const FIRST: &[&str] = &[
    "id",
    "status",
    "attempt_count",
    "attempts",
    "event_type",
    "subscription_url",
    "next_attempt_at",
    "event_id",
    "subscription_id",
    "tenant_id",
];
const ATTEMPT_COLUMNS: &[Column] = &[
    col("STARTED", "started_at"),
    col("TRIGGER", "trigger"),
    col("STATUS", "response_status"),
    col("MS", "duration_ms"),
    col("ERROR", "error"),
    col("MESSAGE", "error_message").shrinks(),
];

/// The latest attempt's failure in a few words: `HTTP 503` when the endpoint answered with a
/// bad status, else the failing step and the server's sentence (`connect: connection
/// refused …`). Nothing when there was no attempt yet or the latest one succeeded.
fn last_error(delivery: &Value) -> Option<String> {
    let attempt = delivery.get("last_attempt").filter(|a| a.is_object())?;
    let step = attempt.get("error").and_then(Value::as_str)?;
    let status = attempt.get("response_status").and_then(Value::as_u64);
    let message = attempt.get("error_message").and_then(Value::as_str);
    Some(match (step, status, message) {
        ("status", Some(status), _) => format!("HTTP {status}"),
        (step, _, Some(message)) => format!("{step}: {message}"),
        (step, _, None) => step.to_owned(),
    })
}
/// Where a delivery's attempt list may be, in order of preference.
const ATTEMPT_LISTS: &[&str] = &["attempts", "attempt_list", "attempts_detail", "attempt_log"];

/// Look at deliveries and redeliver them.
#[derive(Subcommand, Debug)]
pub enum DeliveriesCommand {
    /// List deliveries, filtered by subscription, event or status.
    List {
        /// Only deliveries to this subscription.
        #[arg(long, value_name = "SUBSCRIPTION_ID")]
        subscription: Option<String>,
        /// Only deliveries of this event.
        #[arg(long, value_name = "EVENT_ID")]
        event: Option<String>,
        /// Only deliveries in this status.
        #[arg(long)]
        status: Option<DeliveryStatus>,
        #[command(flatten)]
        page: Page,
    },
    /// Show a delivery and every attempt made for it (reading the attempts page by page,
    /// at most 10,000).
    Show {
        /// Delivery id.
        id: String,
    },
    /// Make a new attempt now (trigger `redelivery`), whatever the
    /// delivery's status, and print how it went. Exits 0 whatever the
    /// attempt's outcome: the redelivery itself was made.
    Redeliver {
        /// Delivery id.
        id: String,
    },
    /// Stream attempts as they happen, one line each (time, subscription, event type,
    /// outcome, duration, what follows), or one JSON object per line with --json. Runs until
    /// Ctrl-C; reconnects by itself, without losing or repeating an attempt.
    Watch {
        #[command(flatten)]
        filter: WatchArgs,
    },
}

/// A delivery's status.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

pub async fn run(ctx: &Ctx, command: DeliveriesCommand) -> anyhow::Result<()> {
    match command {
        DeliveriesCommand::List {
            subscription,
            event,
            status,
            page,
        } => {
            let query = Query::default()
                .opt("subscription_id", subscription)
                .opt("event_id", event)
                .opt("status", status.map(DeliveryStatus::as_str))
                .page(&page);
            let response = ctx.api.get(&["deliveries"], &query.0).await?;
            ctx.print_list(&response, "deliveries", COLUMNS)?;
        }
        DeliveriesCommand::Show { id } => {
            let response = ctx.api.get(&["deliveries", &id], &[]).await?;
            let first = response.json()?;
            if next_cursor(&first, "attempts_next_cursor").is_none() {
                // Every attempt is in the answer: printed as sent.
                if !ctx.print_json(&response) {
                    table::out(&describe(&first));
                }
                return Ok(());
            }
            let delivery = with_every_attempt(ctx, &id, first).await?;
            if ctx.json {
                table::out(&format!("{delivery}\n"));
            } else {
                table::out(&describe(&delivery));
            }
        }
        DeliveriesCommand::Redeliver { id } => {
            let response = ctx
                .api
                .post(&["deliveries", &id, "redeliver"], None)
                .await?;
            if !ctx.print_json(&response) {
                let attempt = response.json()?;
                table::out(&format!(
                    "redelivered {id}: {}",
                    attempt_outcome::describe(&attempt)
                ));
            }
        }
        DeliveriesCommand::Watch { filter } => watch::run(ctx, filter, Layout::Attempts).await?,
    }
    Ok(())
}

/// Most attempts `show` reads: far beyond any schedule, and a bound on what one command
/// prints and holds for a delivery redelivered without end.
const MAX_SHOWN_ATTEMPTS: usize = 10_000;

/// The delivery with every attempt: the server embeds the first page and an
/// `attempts_next_cursor`; the rest are read from `/deliveries/{id}/attempts`, a page of
/// 200 at a time, up to [`MAX_SHOWN_ATTEMPTS`]. The cursor left (null when all were read)
/// stays in the JSON, so `--json` says whether the list is whole.
async fn with_every_attempt(ctx: &Ctx, id: &str, mut delivery: Value) -> anyhow::Result<Value> {
    let mut cursor = next_cursor(&delivery, "attempts_next_cursor");
    let mut attempts = match delivery.get("attempts").and_then(Value::as_array) {
        Some(attempts) => attempts.clone(),
        None => return Ok(delivery),
    };
    while let Some(after) = cursor.take() {
        if attempts.len() >= MAX_SHOWN_ATTEMPTS {
            cursor = Some(after);
            break;
        }
        let query = [("limit", "200".to_owned()), ("cursor", after)];
        let page = ctx
            .api
            .get(&["deliveries", id, "attempts"], &query)
            .await?
            .json()?;
        if let Some(more) = page.get("data").and_then(Value::as_array) {
            attempts.extend(more.iter().cloned());
        }
        cursor = next_cursor(&page, "next_cursor");
    }
    if let Some(object) = delivery.as_object_mut() {
        object.insert("attempts".to_owned(), Value::Array(attempts));
        if object.contains_key("attempts_next_cursor") {
            object.insert(
                "attempts_next_cursor".to_owned(),
                cursor.map_or(Value::Null, Value::String),
            );
        }
    }
    Ok(delivery)
}

fn next_cursor(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// The delivery's fields, then a table of its attempts.
fn describe(delivery: &Value) -> String {
    let list = ATTEMPT_LISTS
        .iter()
        .find(|name| delivery.get(**name).is_some_and(Value::is_array));
    let skip: Vec<&str> = list
        .into_iter()
        .copied()
        .chain(["last_attempt", "attempts_next_cursor"])
        .collect();
    let mut out = table::object(delivery, FIRST, &skip);
    let attempts = list
        .and_then(|name| delivery.get(*name))
        .and_then(Value::as_array);
    match attempts {
        Some(attempts) if !attempts.is_empty() => {
            out.push_str("\nattempts:\n");
            out.push_str(&table::list(
                attempts,
                ATTEMPT_COLUMNS,
                table::stdout_width(),
            ));
        }
        Some(_) => out.push_str("\nno attempts yet\n"),
        None => {}
    }
    out
}
