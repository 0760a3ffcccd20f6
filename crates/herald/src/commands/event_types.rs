//! `herald event-types`: the catalogue of event names (admin writes,
//! everyone reads).
//!
//! A schema (and an example payload) is sent as parsed JSON: unlike an event
//! payload, it is not stored byte for byte, so nothing is lost by parsing it
//! here, and a typo is caught before the request. `delete` is refused by the
//! server while subscriptions use the type; `--force` deletes anyway.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value};

use super::{Ctx, Page, Query, json_arg};
use crate::exit::usage;
use crate::table::{Column, col};

pub(super) const COLUMNS: &[Column] = &[
    col("NAME", "name"),
    col("DESCRIPTION", "description").shrinks(),
    col("CREATED", "created_at"),
];
pub(super) const FIRST: &[&str] = &["name", "description", "created_at", "schema", "example"];

/// Manage event types: dotted names such as `consent.revoked`, each with a
/// description and optionally a JSON Schema for its payloads.
#[derive(Subcommand, Debug)]
pub enum EventTypesCommand {
    /// Register an event type.
    Create {
        /// Dotted name, e.g. `consent.revoked`.
        name: String,
        /// What the event means, for subscribers.
        #[arg(long)]
        description: Option<String>,
        /// JSON Schema that published payloads must satisfy: inline JSON or
        /// @file.json.
        #[arg(long, value_name = "JSON|@FILE")]
        schema: Option<String>,
        /// A sample payload, which `herald trigger` publishes; it must
        /// satisfy the schema. Inline JSON or @file.json.
        #[arg(long, value_name = "JSON|@FILE")]
        example: Option<String>,
    },
    /// List event types.
    List {
        #[command(flatten)]
        page: Page,
    },
    /// Show one event type, with its schema.
    Show {
        /// Event type name.
        name: String,
    },
    /// Change an event type's description or schema.
    Update {
        /// Event type name.
        name: String,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New JSON Schema: inline JSON or @file.json.
        #[arg(long, value_name = "JSON|@FILE")]
        schema: Option<String>,
        /// New sample payload for `herald trigger` (`null` removes it):
        /// inline JSON or @file.json.
        #[arg(long, value_name = "JSON|@FILE")]
        example: Option<String>,
    },
    /// Delete an event type. Refused while subscriptions use it (a pattern
    /// of theirs matches it), unless --force.
    Delete {
        /// Event type name.
        name: String,
        /// Delete even when subscriptions use it; they are kept and match
        /// nothing more through this name.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(ctx: &Ctx, command: EventTypesCommand) -> anyhow::Result<()> {
    match command {
        EventTypesCommand::Create {
            name,
            description,
            schema,
            example,
        } => {
            let mut body = fields(description, schema, example)?;
            body.insert("name".into(), Value::String(name));
            let response = ctx
                .api
                .post(&["event-types"], Some(Value::Object(body).to_string()))
                .await?;
            ctx.print_object(&response, FIRST)?;
        }
        EventTypesCommand::List { page } => {
            let response = ctx
                .api
                .get(&["event-types"], &Query::default().page(&page).0)
                .await?;
            ctx.print_list(&response, "event types", COLUMNS)?;
        }
        EventTypesCommand::Show { name } => {
            let response = ctx.api.get(&["event-types", &name], &[]).await?;
            ctx.print_object(&response, FIRST)?;
        }
        EventTypesCommand::Update {
            name,
            description,
            schema,
            example,
        } => {
            let body = fields(description, schema, example)?;
            if body.is_empty() {
                return Err(usage(
                    "nothing to update: give --description, --schema or --example",
                ));
            }
            let response = ctx
                .api
                .patch(&["event-types", &name], Value::Object(body).to_string())
                .await?;
            ctx.print_object(&response, FIRST)?;
        }
        EventTypesCommand::Delete { name, force } => {
            let query = Query::default().opt("force", force.then_some(true));
            let response = ctx
                .api
                .send(Method::DELETE, &["event-types", &name], &query.0, None)
                .await?;
            if !ctx.print_json(&response) {
                crate::table::out(&format!("deleted event type {name}\n"));
            }
        }
    }
    Ok(())
}

/// The optional fields shared by `create` and `update`.
fn fields(
    description: Option<String>,
    schema: Option<String>,
    example: Option<String>,
) -> anyhow::Result<Map<String, Value>> {
    let mut body = Map::new();
    if let Some(description) = description {
        body.insert("description".into(), Value::String(description));
    }
    for (key, arg) in [("schema", schema), ("example", example)] {
        if let Some(arg) = arg {
            let raw = json_arg(Some(&arg), key)?;
            body.insert(key.into(), serde_json::from_str(raw.get())?);
        }
    }
    Ok(body)
}
