//! `herald subscriptions`: a tenant's endpoint URL and the event types it
//! wants, plus the connectivity test, secret rotation and recovery of failed
//! deliveries.
//!
//! `create` and `update` share one set of optional fields, turned into a
//! JSON body that holds only what was given, so `update` is a true partial
//! change (PATCH) and never resets a field the user did not name.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use super::{Ctx, Page, Query, attempt_outcome, key_value};
use crate::client::Response;
use crate::exit::{TestFailed, usage};
use crate::table::{self, Column, col};

pub(super) const COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("TENANT", "tenant_id"),
    col("STATUS", "status"),
    col("URL", "url").shrinks(),
    col("EVENT TYPES", "event_types").shrinks(),
    col("CREATED", "created_at"),
];
pub(super) const FIRST: &[&str] = &[
    "id",
    "tenant_id",
    "status",
    "url",
    "event_types",
    "secret",
    "created_at",
];

/// A recovery's fields, in the order people read them.
const RECOVERY_FIRST: &[&str] = &["id", "status", "requeued", "total", "since"];

const CREATE_EXAMPLE: &str = "\
Example:
  herald subscriptions create --tenant ten_01J0 \\
      --url https://hooks.example.com/herald \\
      --event-types consent.revoked,maintenance.* \\
      --header 'x-team=billing' --contact-email ops@example.com

The answer holds the signing secret (whsec_…) to configure in the receiver.";

/// Manage subscriptions: where a tenant's webhooks go.
#[derive(Subcommand, Debug)]
pub enum SubscriptionsCommand {
    /// Create a subscription (status `active`) and print it with its signing
    /// secret.
    #[command(after_long_help = CREATE_EXAMPLE)]
    Create {
        /// Tenant id; required with the admin token, implied with a tenant's
        /// token.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
        /// Endpoint URL the webhooks are POSTed to (https, except on a
        /// server in dev mode).
        #[arg(long)]
        url: String,
        /// Event types to receive, comma-separated or repeated; a trailing
        /// `*` matches a prefix (`consent.*`).
        #[arg(long, value_delimiter = ',', value_name = "TYPES", required = true)]
        event_types: Vec<String>,
        #[command(flatten)]
        fields: Fields,
    },
    /// List subscriptions, optionally of one tenant.
    List {
        /// Only this tenant's subscriptions.
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
        #[command(flatten)]
        page: Page,
    },
    /// Show one subscription.
    Show {
        /// Subscription id.
        id: String,
    },
    /// Change a subscription; only the given fields change.
    Update {
        /// Subscription id.
        id: String,
        /// `paused` holds deliveries until it is `active` again.
        #[arg(long)]
        status: Option<Status>,
        /// New endpoint URL.
        #[arg(long)]
        url: Option<String>,
        /// New event types, comma-separated or repeated; they replace the
        /// previous list.
        #[arg(long, value_delimiter = ',', value_name = "TYPES")]
        event_types: Option<Vec<String>>,
        /// Remove every custom header.
        #[arg(long, conflicts_with = "headers")]
        clear_headers: bool,
        #[command(flatten)]
        fields: Fields,
    },
    /// Delete a subscription.
    Delete {
        /// Subscription id.
        id: String,
    },
    /// Pause a subscription: its deliveries wait until it is resumed.
    Pause {
        /// Subscription id.
        id: String,
    },
    /// Resume a paused subscription: waiting deliveries go out.
    Resume {
        /// Subscription id.
        id: String,
    },
    /// Send a `herald.test` event to the subscription now and report the
    /// attempt: status, duration, or the step that failed. Exits 4 when the
    /// attempt failed.
    Test {
        /// Subscription id.
        id: String,
    },
    /// Make a new signing secret; the previous one keeps signing alongside
    /// it for a grace period (24 h by default).
    RotateSecret {
        /// Subscription id.
        id: String,
    },
    /// Send again every failed delivery of the subscription created since a
    /// time (after an outage of the endpoint). The server requeues them in
    /// the background; prints the recovery (`rcv_…`) to follow with
    /// `herald subscriptions recovery`.
    Recover {
        /// Subscription id.
        id: String,
        /// Failed deliveries created at or after this time, RFC 3339
        /// (e.g. 2026-12-01T08:00:00Z).
        #[arg(long)]
        since: String,
    },
    /// Show a recovery's progress: how many failed deliveries it found and
    /// how many are requeued.
    Recovery {
        /// Recovery id (`rcv_…`).
        id: String,
    },
}

/// A subscription's status, as a person sets it.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Status {
    Active,
    Paused,
}

/// The optional subscription fields, shared by `create` and `update`.
#[derive(Args, Debug)]
pub struct Fields {
    /// What the subscription is for.
    #[arg(long)]
    description: Option<String>,
    /// A custom header sent with each delivery, NAME=VALUE; repeat for
    /// more. On update, the given headers replace all previous ones.
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = key_value)]
    headers: Vec<(String, String)>,
    /// At most this many delivery requests per second.
    #[arg(long = "rate-limit", value_name = "N")]
    rate_limit_per_second: Option<u32>,
    /// At most this many delivery requests at once.
    #[arg(long, value_name = "N")]
    max_in_flight: Option<u32>,
    /// Who to tell when the endpoint keeps failing.
    #[arg(long, value_name = "EMAIL")]
    contact_email: Option<String>,
    /// Accept event types that match no registered one (the server warns
    /// instead of refusing).
    #[arg(long)]
    allow_unmatched: bool,
    /// What each delivery's body holds: full (the payload), thin (a pointer
    /// to the event, read with the tenant's token) or akoya.
    #[arg(long, value_name = "MODE")]
    payload_mode: Option<PayloadMode>,
    /// How deliveries are signed: v1 (HMAC with the secret) or v1a
    /// (Ed25519; the answer shows the public key).
    #[arg(long, value_name = "SCHEME")]
    signature_scheme: Option<SignatureScheme>,
}

/// A subscription's payload mode (docs/payloads.md).
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum PayloadMode {
    Full,
    Thin,
    Akoya,
}

/// A subscription's signature scheme (docs/signatures.md).
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SignatureScheme {
    V1,
    V1a,
}

impl Fields {
    /// A JSON body with the given fields, plus `url` and `event_types`.
    fn into_body(
        self,
        url: Option<String>,
        event_types: Option<Vec<String>>,
    ) -> Map<String, Value> {
        let mut body = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                body.insert(key.to_owned(), value);
            }
        };
        put("url", url.map(Value::from));
        put("event_types", event_types.map(Value::from));
        put("description", self.description.map(Value::from));
        let headers: Map<String, Value> = self
            .headers
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        put(
            "headers",
            (!headers.is_empty()).then_some(Value::Object(headers)),
        );
        put(
            "rate_limit_per_second",
            self.rate_limit_per_second.map(Value::from),
        );
        put("max_in_flight", self.max_in_flight.map(Value::from));
        put("contact_email", self.contact_email.map(Value::from));
        put(
            "allow_unmatched",
            self.allow_unmatched.then_some(Value::Bool(true)),
        );
        let mode = self.payload_mode.map(|mode| match mode {
            PayloadMode::Full => "full",
            PayloadMode::Thin => "thin",
            PayloadMode::Akoya => "akoya",
        });
        put("payload_mode", mode.map(Value::from));
        let scheme = self.signature_scheme.map(|scheme| match scheme {
            SignatureScheme::V1 => "v1",
            SignatureScheme::V1a => "v1a",
        });
        put("signature_scheme", scheme.map(Value::from));
        body
    }
}

pub async fn run(ctx: &Ctx, command: SubscriptionsCommand) -> anyhow::Result<()> {
    use SubscriptionsCommand as C;
    match command {
        C::Create {
            tenant,
            url,
            event_types,
            fields,
        } => {
            let mut body = fields.into_body(Some(url), Some(event_types));
            if let Some(tenant) = tenant {
                body.insert("tenant_id".into(), Value::String(tenant));
            }
            let response = ctx
                .api
                .post(&["subscriptions"], Some(Value::Object(body).to_string()))
                .await?;
            print_changed(ctx, &response)?;
        }
        C::List { tenant, page } => {
            let query = Query::default().opt("tenant_id", tenant).page(&page);
            let response = ctx.api.get(&["subscriptions"], &query.0).await?;
            ctx.print_list(&response, "subscriptions", COLUMNS)?;
        }
        C::Show { id } => {
            let response = ctx.api.get(&["subscriptions", &id], &[]).await?;
            ctx.print_object(&response, FIRST)?;
        }
        C::Update {
            id,
            status,
            url,
            event_types,
            clear_headers,
            fields,
        } => {
            let mut body = fields.into_body(url, event_types);
            if let Some(status) = status {
                body.insert("status".into(), json!(status_name(status)));
            }
            if clear_headers {
                body.insert("headers".into(), json!({}));
            }
            if body.is_empty() {
                return Err(usage(
                    "nothing to update: give at least one field (see --help)",
                ));
            }
            patch(ctx, &id, body).await?;
        }
        C::Delete { id } => {
            let response = ctx.api.delete(&["subscriptions", &id]).await?;
            if !ctx.print_json(&response) {
                table::out(&format!("deleted subscription {id}\n"));
            }
        }
        C::Pause { id } => patch(ctx, &id, status_body(Status::Paused)).await?,
        C::Resume { id } => patch(ctx, &id, status_body(Status::Active)).await?,
        C::Test { id } => {
            let response = ctx
                .api
                .post_announced(&["subscriptions", &id, "test"], |headers| {
                    if let Some(line) = attempt_outcome::waiting(headers) {
                        eprintln!("{line}");
                    }
                    attempt_outcome::limit(headers)
                })
                .await?;
            let value = response.json()?;
            if !ctx.print_json(&response) {
                table::out(&attempt_outcome::describe(&value));
                if let Some(delivery) = value.get("delivery_id").and_then(Value::as_str) {
                    eprintln!("details: herald deliveries show {delivery}");
                }
            }
            if !attempt_outcome::succeeded(&value) {
                return Err(TestFailed.into());
            }
        }
        C::RotateSecret { id } => {
            let response = ctx
                .api
                .post(&["subscriptions", &id, "secret", "rotate"], None)
                .await?;
            ctx.print_object(&response, &["secret"])?;
            if !ctx.json {
                eprintln!("note: the previous secret keeps signing during the grace period");
            }
        }
        C::Recover { id, since } => {
            let body = json!({ "since": since }).to_string();
            let response = ctx
                .api
                .post(&["subscriptions", &id, "recover"], Some(body))
                .await?;
            ctx.print_object(&response, RECOVERY_FIRST)?;
            if !ctx.json
                && let Some(recovery) = response.json()?.get("id").and_then(Value::as_str)
            {
                eprintln!("follow: herald subscriptions recovery {recovery}");
            }
        }
        C::Recovery { id } => {
            let response = ctx.api.get(&["recoveries", &id], &[]).await?;
            ctx.print_object(&response, RECOVERY_FIRST)?;
        }
    }
    Ok(())
}

async fn patch(ctx: &Ctx, id: &str, body: Map<String, Value>) -> anyhow::Result<()> {
    let response = ctx
        .api
        .patch(&["subscriptions", id], Value::Object(body).to_string())
        .await?;
    print_changed(ctx, &response)
}

/// A created or updated subscription, and the server's warnings (patterns
/// accepted with --allow-unmatched) on stderr rather than as a field.
fn print_changed(ctx: &Ctx, response: &Response) -> anyhow::Result<()> {
    if ctx.print_json(response) {
        return Ok(());
    }
    let answer = response.json()?;
    table::out(&table::object(&answer, FIRST, &["warnings"]));
    let warnings = answer.get("warnings").and_then(Value::as_array);
    for warning in warnings.into_iter().flatten().filter_map(Value::as_str) {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Active => "active",
        Status::Paused => "paused",
    }
}

fn status_body(status: Status) -> Map<String, Value> {
    Map::from_iter([("status".to_owned(), json!(status_name(status)))])
}
