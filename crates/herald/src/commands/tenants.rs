//! `herald tenants`: the operator's customers (admin token only).
//!
//! `create` and `rotate-credentials` are the only moments the tenant's
//! `client_secret` is shown, so their output keeps it in plain sight and says
//! so on stderr. `--retention` gives a tenant a retention of its own (the API's
//! `retention_seconds`), read as a duration like the server's setting.

use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::{Ctx, Page, Query};
use crate::exit::usage;
use crate::table::{Column, col};

pub(super) const COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name").shrinks(),
    col("CLIENT ID", "client_id"),
    col("CREATED", "created_at"),
];
pub(super) const FIRST: &[&str] = &[
    "id",
    "name",
    "client_id",
    "client_secret",
    "created_at",
    "retention_seconds",
];

/// `--retention`'s help, shared by `create` and `update`.
const RETENTION_HELP: &str = "How long this tenant's events are kept: a duration (90d, 12h), \
    `forever` (or 0), or `default` for the server's --retention";

/// Manage tenants: the organisations that receive webhooks.
#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Create a tenant and print its OAuth client credentials (the secret is
    /// shown only this once).
    Create {
        /// The tenant's display name.
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "DURATION", help = RETENTION_HELP)]
        retention: Option<String>,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        page: Page,
    },
    /// Show one tenant.
    Show {
        /// Tenant id (`ten_…`).
        id: String,
    },
    /// Change a tenant.
    Update {
        /// Tenant id.
        id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_name = "DURATION", help = RETENTION_HELP)]
        retention: Option<String>,
    },
    /// Delete a tenant.
    Delete {
        /// Tenant id.
        id: String,
    },
    /// Reset a tenant's client secret and print the new one (shown only this
    /// once); the old secret and every access token of the tenant stop working
    /// at once.
    RotateCredentials {
        /// Tenant id.
        id: String,
    },
}

/// `--retention` as the API's `retention_seconds`: null for the server's, 0 for forever.
fn retention_seconds(text: &str) -> anyhow::Result<Value> {
    match text.trim() {
        "default" => Ok(Value::Null),
        "forever" => Ok(json!(0)),
        duration => match herald_duration::parse(duration) {
            Ok(duration) => Ok(json!(duration.as_secs())),
            Err(error) => Err(usage(format!(
                "--retention: {error}; give a duration such as 90d or 12h, `forever` or \
                 `default`"
            ))),
        },
    }
}

pub async fn run(ctx: &Ctx, command: TenantsCommand) -> anyhow::Result<()> {
    match command {
        TenantsCommand::Create { name, retention } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            if let Some(retention) = retention {
                body.insert("retention_seconds".into(), retention_seconds(&retention)?);
            }
            let response = ctx
                .api
                .post(&["tenants"], Some(Value::Object(body).to_string()))
                .await?;
            ctx.print_object(&response, FIRST)?;
            if !ctx.json {
                eprintln!("note: keep the client_secret now; it is not shown again");
            }
        }
        TenantsCommand::List { page } => {
            let response = ctx
                .api
                .get(&["tenants"], &Query::default().page(&page).0)
                .await?;
            ctx.print_list(&response, "tenants", COLUMNS)?;
        }
        TenantsCommand::Show { id } => {
            let response = ctx.api.get(&["tenants", &id], &[]).await?;
            ctx.print_object(&response, FIRST)?;
        }
        TenantsCommand::Update {
            id,
            name,
            retention,
        } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            if let Some(retention) = retention {
                body.insert("retention_seconds".into(), retention_seconds(&retention)?);
            }
            if body.is_empty() {
                return Err(usage("nothing to update: give --name or --retention"));
            }
            let response = ctx
                .api
                .patch(&["tenants", &id], Value::Object(body).to_string())
                .await?;
            ctx.print_object(&response, FIRST)?;
        }
        TenantsCommand::RotateCredentials { id } => {
            let response = ctx
                .api
                .post(&["tenants", &id, "credentials", "rotate"], None)
                .await?;
            ctx.print_object(&response, FIRST)?;
            if !ctx.json {
                eprintln!(
                    "note: keep the client_secret now; it is not shown again. The old secret \
                     and the tenant's tokens no longer work: log in again with the new one"
                );
            }
        }
        TenantsCommand::Delete { id } => {
            let response = ctx.api.delete(&["tenants", &id]).await?;
            if !ctx.print_json(&response) {
                crate::table::out(&format!("deleted tenant {id}\n"));
            }
        }
    }
    Ok(())
}
