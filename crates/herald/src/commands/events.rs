//! `herald events`: publish an event, and look at published ones.
//!
//! The payload is sent byte for byte as the user wrote it (checked to be
//! JSON, never re-serialised): Herald promises subscribers the published
//! bytes, and that promise starts here.

use clap::Subcommand;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::watch::{self, Layout, WatchArgs};
use super::{Ctx, Page, Query, json_arg};
use crate::client::Response;
use crate::table::{self, Column, col};

pub(super) const COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("TYPE", "type").shrinks(),
    col("TENANT", "tenant_id"),
    col("CREATED", "created_at"),
];
pub(super) const FIRST: &[&str] = &[
    "id",
    "type",
    "tenant_id",
    "idempotency_key",
    "created_at",
    "payload",
];

const PUBLISH_EXAMPLE: &str = "\
Examples:
  herald events publish --type consent.revoked --tenant ten_01J0 \\
      --data '{\"consent_id\": \"c_42\"}' --idempotency-key revoke-c_42
  herald events publish --type maintenance.planned_outage --data @outage.json
  jq -n '{window: \"2025-06-01T02:00Z/PT2H\"}' \\
      | herald events publish --type maintenance.planned_outage

Without --tenant the event is a broadcast to every tenant's matching subscriptions.";

/// Publish events and look at published ones.
#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Publish an event: it is stored, and one delivery is created per
    /// matching subscription, before the command returns.
    #[command(after_long_help = PUBLISH_EXAMPLE)]
    Publish {
        /// Event type, e.g. `consent.revoked` (must be registered).
        #[arg(long = "type", value_name = "TYPE")]
        event_type: String,
        /// The payload: inline JSON, @file.json, or - for stdin. Without
        /// --data, the payload is read from stdin when it is not a terminal.
        #[arg(long, value_name = "JSON|@FILE|-")]
        data: Option<String>,
        /// Tenant the event is for; without it, every tenant's matching
        /// subscriptions receive it.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
        /// Publishing again with the same key (per tenant) returns the first
        /// event instead of creating another.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
    },
    /// List events, newest first.
    List {
        /// Only events of this type.
        #[arg(long = "type", value_name = "TYPE")]
        event_type: Option<String>,
        /// Only events for this tenant.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
        #[command(flatten)]
        page: Page,
    },
    /// Show one event with its payload.
    Show {
        /// Event id (`evt_…`).
        id: String,
    },
    /// Follow events as they are delivered: a line for each event, its attempts indented
    /// below (one JSON attempt per line with --json). Runs until Ctrl-C; reconnects by
    /// itself. An event that matches no subscription makes no attempt and is not shown.
    Tail {
        #[command(flatten)]
        filter: WatchArgs,
    },
}

/// The body of `POST /api/v1/events`.
#[derive(Serialize)]
struct Publish<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    payload: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<&'a str>,
}

pub async fn run(ctx: &Ctx, command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Publish {
            event_type,
            data,
            tenant,
            idempotency_key,
        } => {
            let payload = json_arg(data.as_deref(), "payload")?;
            let body = serde_json::to_string(&Publish {
                event_type: &event_type,
                payload: &payload,
                tenant_id: tenant.as_deref(),
                idempotency_key: idempotency_key.as_deref(),
            })?;
            let response = ctx.api.post(&["events"], Some(body)).await?;
            print_accepted(ctx, &response)?;
        }
        EventsCommand::List {
            event_type,
            tenant,
            page,
        } => {
            let query = Query::default()
                .opt("type", event_type)
                .opt("tenant_id", tenant)
                .page(&page);
            let response = ctx.api.get(&["events"], &query.0).await?;
            ctx.print_list(&response, "events", COLUMNS)?;
        }
        EventsCommand::Show { id } => {
            let response = ctx.api.get(&["events", &id], &[]).await?;
            ctx.print_object(&response, FIRST)?;
        }
        EventsCommand::Tail { filter } => watch::run(ctx, filter, Layout::ByEvent).await?,
    }
    Ok(())
}

/// A publish's answer: `accepted event …` on stdout, and the server's note
/// (why nothing was delivered) on stderr; with `--json`, the body as is.
pub fn print_accepted(ctx: &Ctx, response: &Response) -> anyhow::Result<()> {
    if ctx.print_json(response) {
        return Ok(());
    }
    let answer = response.json()?;
    table::out(&accepted(&answer));
    if let Some(note) = answer.get("note").and_then(Value::as_str) {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// `accepted event evt_… (2 deliveries)`; `deliveries` may be a count or
/// the list of created deliveries. A repeated idempotency key says so.
fn accepted(value: &Value) -> String {
    if value.get("duplicate").and_then(Value::as_bool) == Some(true) {
        let id = table::cell(value.get("id"));
        return format!(
            "already accepted as event {id} (same idempotency key); nothing new created\n"
        );
    }
    let id = table::cell(value.get("id"));
    let count = match value.get("deliveries") {
        Some(Value::Array(items)) => Some(items.len() as u64),
        Some(other) => other.as_u64(),
        None => None,
    };
    match count {
        Some(1) => format!("accepted event {id} (1 delivery)\n"),
        Some(n) => format!("accepted event {id} ({n} deliveries)\n"),
        None => format!("accepted event {id}\n"),
    }
}
