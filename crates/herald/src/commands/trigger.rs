//! `herald trigger`: publish a sample event of a registered type, like
//! `stripe trigger`, to see a delivery happen without writing a payload.
//!
//! The sample comes from the server (`GET /api/v1/event-types/{name}/sample`:
//! the type's stored example, or one generated from its schema, or `{}`), so
//! every client gets the same one; this command only applies `--override`s
//! and publishes it through the ordinary publish route, so a triggered event
//! meets exactly the checks a real one does. It never invents a payload of
//! its own.

use clap::Args;
use serde_json::{Map, Value, json};

use super::{Ctx, events, key_value};
use crate::exit::usage;
use crate::table;

const EXAMPLES: &str = "\
Examples:
  herald trigger consent.revoked --tenant ten_01J0
  herald trigger consent.revoked --override consent_id=c_42 \\
      --override 'customer={\"id\": \"cus_7\"}'
  herald trigger maintenance.planned_outage --dry-run

Store the payload it sends with:
  herald event-types update NAME --example @sample.json";

/// `herald trigger <event-type>`.
#[derive(Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct TriggerArgs {
    /// A registered event type, e.g. `consent.revoked`.
    pub event_type: String,
    /// Tenant the event is for; without it, every tenant's matching
    /// subscriptions receive it.
    #[arg(long, value_name = "TENANT_ID")]
    pub tenant: Option<String>,
    /// Set one field of the sample: PATH=VALUE, PATH dotted (`customer.id`,
    /// `items.0.sku`), VALUE as JSON when it parses, else as text. Repeat for
    /// more.
    #[arg(long = "override", value_name = "PATH=VALUE", value_parser = key_value)]
    pub overrides: Vec<(String, String)>,
    /// Print the payload that would be published, and publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Ctx, args: TriggerArgs) -> anyhow::Result<()> {
    let name = args.event_type.as_str();
    let sample = ctx
        .api
        .get(&["event-types", name, "sample"], &[])
        .await?
        .json()?;
    let mut payload = sample.get("payload").cloned().unwrap_or_else(|| json!({}));
    for (path, value) in &args.overrides {
        set(&mut payload, path, value)?;
    }
    if !ctx.json {
        eprintln!("{}", origin(name, &sample));
    }
    if let Some(note) = sample.get("note").and_then(Value::as_str) {
        eprintln!("note: {note}");
    }
    if args.dry_run {
        let text = serde_json::to_string_pretty(&payload)?;
        table::out(&format!("{text}\n"));
        return Ok(());
    }
    let mut body = json!({"type": name, "payload": payload});
    if let Some(tenant) = args.tenant {
        body["tenant_id"] = Value::String(tenant);
    }
    let response = ctx.api.post(&["events"], Some(body.to_string())).await?;
    events::print_accepted(ctx, &response)
}

/// Where the payload came from, for people.
fn origin(name: &str, sample: &Value) -> String {
    match sample.get("source").and_then(Value::as_str) {
        Some("example") => format!("payload: the example stored with {name}"),
        Some("schema") => format!("payload: generated from the schema of {name}"),
        _ => format!("payload: {{}} ({name} has no example or schema)"),
    }
}

/// Sets the value at a dotted `path` (object keys, or indexes into arrays),
/// creating objects on the way; `value` is JSON when it parses, else text.
fn set(payload: &mut Value, path: &str, value: &str) -> anyhow::Result<()> {
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    let mut here = payload;
    let segments: Vec<&str> = path.split('.').collect();
    for (n, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            return Err(usage(format!(
                "--override {path}: a path is dotted names, such as customer.id"
            )));
        }
        let last = n + 1 == segments.len();
        if !here.is_object() && !here.is_array() {
            *here = Value::Object(Map::new());
        }
        here = match here {
            Value::Array(items) => {
                let slot = segment.parse::<usize>().ok().and_then(|i| items.get_mut(i));
                slot.ok_or_else(|| {
                    usage(format!(
                        "--override {path}: '{segment}' is not an index of the list there"
                    ))
                })?
            }
            Value::Object(map) => map.entry(segment.to_string()).or_insert(Value::Null),
            _ => return Err(usage(format!("--override {path}: cannot set '{segment}'"))),
        };
        if last {
            *here = value;
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_set_nested_fields_and_parse_json_values() {
        let mut payload = json!({"consent_id": "x", "items": [{"sku": "a"}]});
        set(&mut payload, "consent_id", "c_42").unwrap();
        set(&mut payload, "customer.id", "cus_7").unwrap();
        set(&mut payload, "items.0.sku", "b").unwrap();
        set(&mut payload, "count", "3").unwrap();
        assert_eq!(
            payload,
            json!({"consent_id": "c_42", "customer": {"id": "cus_7"},
                "items": [{"sku": "b"}], "count": 3})
        );
    }

    #[test]
    fn an_override_into_a_missing_list_index_is_a_usage_error() {
        let mut payload = json!({"items": []});
        let err = set(&mut payload, "items.3", "x").unwrap_err();
        assert!(err.to_string().contains("not an index"), "{err}");
        assert!(set(&mut payload, "a..b", "x").is_err());
    }
}
