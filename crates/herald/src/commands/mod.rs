//! The client commands: one module per resource group, and what they share
//! (connection flags, pagination, printing, reading JSON arguments).
//!
//! The connection flags (`--server`, `--token`, `--json`) are declared on each
//! resource group rather than on `herald` itself, so that they can never
//! collide with the flags of `serve` and `listen`, which other crates own.
//! They are `global`, so they go anywhere after the group's name:
//! `herald events list --json` and `herald events --json list` both work.

pub mod admin;
mod attempt_outcome;
pub mod deliveries;
pub mod event_types;
pub mod events;
pub mod subscriptions;
pub mod tenants;
pub mod tokens;
pub mod trigger;
pub mod watch;

use std::io::{IsTerminal, Read};

use clap::Args;
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use crate::client::{ApiClient, Response};
use crate::credentials;
use crate::exit::usage;
use crate::table::{self, Column};

/// How to reach the API, and how to print what it answers.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// Base URL of the Herald server.
    ///
    /// `127.0.0.1:8080` (no scheme) means http://, and a URL ending in
    /// /api/v1 is the same server. Named --server, not --url, because --url
    /// is a subscription's endpoint.
    #[arg(
        long,
        global = true,
        env = "HERALD_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL",
        value_parser = crate::client::server_url
    )]
    pub server: Url,
    /// Bearer token: the admin token, or a tenant's access token.
    ///
    /// Without one: the tenant token `herald login` saved for this server,
    /// else the admin token that `herald serve` wrote to
    /// ./herald-data/admin-token (or $HERALD_DATA_DIR/admin-token), only when
    /// --server is the server that wrote it (its ./herald-data/server-url);
    /// stderr says which file was used.
    #[arg(
        long,
        global = true,
        env = "HERALD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Print the API's JSON response as is, instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `--limit` and `--cursor`, shared by every `list`.
#[derive(Args, Debug)]
pub struct Page {
    /// At most this many items (the server caps it).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Continue from the `next_cursor` of a previous page.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
}

/// Query parameters, in the order given; `None` values are left out.
#[derive(Default)]
pub struct Query(pub Vec<(&'static str, String)>);

impl Query {
    pub fn opt(mut self, key: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.0.push((key, value.to_string()));
        }
        self
    }

    pub fn page(self, page: &Page) -> Self {
        self.opt("limit", page.limit)
            .opt("cursor", page.cursor.as_ref())
    }
}

/// What every command needs: the client and the output mode.
pub struct Ctx {
    pub api: ApiClient,
    pub json: bool,
}

impl Ctx {
    pub fn new(args: ClientArgs) -> anyhow::Result<Ctx> {
        let token = credentials::resolve(&args.server, args.token)
            .map(|credential| (credential.token, credential.source));
        Ok(Ctx {
            api: ApiClient::new(args.server, token)?,
            json: args.json,
        })
    }

    /// Prints a list response: the body as is with `--json`, else a table
    /// and, when there is more, the cursor of the next page on stderr.
    pub fn print_list(
        &self,
        response: &Response,
        noun: &str,
        columns: &[Column],
    ) -> anyhow::Result<()> {
        if self.print_json(response) {
            return Ok(());
        }
        let value = response.json()?;
        let items = match &value {
            Value::Array(items) => items.as_slice(),
            other => other
                .get("data")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice),
        };
        if items.is_empty() {
            table::out(&format!("no {noun}\n"));
        } else {
            table::out(&table::list(items, columns, table::stdout_width()));
        }
        if let Some(cursor) = value.get("next_cursor").and_then(Value::as_str) {
            eprintln!("more {noun}: repeat with --cursor {cursor}");
        }
        Ok(())
    }

    /// Prints one object: the body as is with `--json`, else `field: value`
    /// lines with `first` leading.
    pub fn print_object(&self, response: &Response, first: &[&str]) -> anyhow::Result<()> {
        if !self.print_json(response) {
            table::out(&table::object(&response.json()?, first, &[]));
        }
        Ok(())
    }

    /// With `--json`, prints the body exactly as the server sent it and
    /// returns true.
    pub fn print_json(&self, response: &Response) -> bool {
        if self.json && !response.body.is_empty() {
            table::out(&response.body);
            if !response.body.ends_with('\n') {
                table::out("\n");
            }
        }
        self.json
    }
}

/// Reads a JSON argument: `'{"a":1}'` as given, `@file.json` from a file,
/// `-` (or nothing, when stdin is not a terminal) from stdin. The text is
/// checked to be JSON and kept byte for byte.
pub fn json_arg(arg: Option<&str>, what: &str) -> anyhow::Result<Box<RawValue>> {
    let text = match arg {
        Some("-") => read_stdin(what)?,
        None if !std::io::stdin().is_terminal() => read_stdin(what)?,
        None => {
            return Err(usage(format!(
                "give the {what} with --data '<json>', --data @file.json or on stdin"
            )));
        }
        Some(arg) => match arg.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read {what} from {path}: {e}")))?,
            None => arg.to_owned(),
        },
    };
    if text.trim().is_empty() {
        return Err(usage(format!("the {what} is empty")));
    }
    serde_json::from_str(&text).map_err(|e| usage(format!("the {what} is not valid JSON: {e}")))
}

fn read_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("cannot read the {what} from stdin: {e}")))?;
    Ok(text)
}

/// Parses `name=value` (for `--header`).
pub fn key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, got `{arg}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::{deliveries, event_types, events, subscriptions, tenants};
    use crate::table::Column;

    /// A list and a `show` of the same resource print their fields in one order: a person
    /// who learnt where a field is in one finds it there in the other.
    #[test]
    fn list_and_show_print_fields_in_one_order() {
        let pairs: [(&str, &[Column], &[&str]); 5] = [
            ("tenants", tenants::COLUMNS, tenants::FIRST),
            ("event-types", event_types::COLUMNS, event_types::FIRST),
            (
                "subscriptions",
                subscriptions::COLUMNS,
                subscriptions::FIRST,
            ),
            ("events", events::COLUMNS, events::FIRST),
            ("deliveries", deliveries::COLUMNS, deliveries::FIRST),
        ];
        for (resource, columns, first) in pairs {
            let positions: Vec<usize> = columns
                .iter()
                .filter_map(Column::field)
                .map(|field| {
                    first.iter().position(|f| *f == field).unwrap_or_else(|| {
                        panic!("{resource}: `show` does not lead with the listed `{field}`")
                    })
                })
                .collect();
            assert!(
                positions.windows(2).all(|w| w[0] < w[1]),
                "{resource}: list and show order differ"
            );
        }
    }
}
