//! `herald login`, `herald logout` and `herald tokens create`: a tenant's client credentials
//! exchanged for an access token at `POST /oauth2/token`; `herald tokens revoke`: one of them
//! taken back at `POST /oauth2/revoke` (RFC 7009), with the same credentials.
//!
//! `login` saves the token for the server it came from (in the user's config dir, mode
//! 0600), and later commands send it to that server only (see `credentials`); `tokens create`
//! prints it and saves nothing, for scripts. The client secret can come from
//! `HERALD_CLIENT_SECRET` because a flag shows in the process list of a shared machine.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::json;

use super::ClientArgs;
use crate::client::{ApiClient, ApiError};
use crate::credentials::{self, SavedLogin};
use crate::exit::usage;
use crate::table;

/// A tenant's OAuth client credentials.
#[derive(Args, Debug)]
pub struct TenantCredentials {
    /// The tenant's client id (`herald tenants create` shows it).
    #[arg(long, env = "HERALD_CLIENT_ID", value_name = "ID")]
    pub client_id: String,
    /// The tenant's client secret. HERALD_CLIENT_SECRET keeps it out of the
    /// process list.
    #[arg(
        long,
        env = "HERALD_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secret: String,
}

/// `herald login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub credentials: TenantCredentials,
    /// Print the token on stdout instead of saving it.
    #[arg(long)]
    pub print: bool,
}

/// `herald tokens …`.
#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Exchange a tenant's client credentials for an access token and print
    /// it (nothing is saved); --json prints the whole answer, with
    /// `expires_in`.
    Create {
        #[command(flatten)]
        credentials: TenantCredentials,
    },
    /// Revoke an access token of the tenant: it gets 401 from then on. The
    /// server answers the same whether or not the token was live, so this
    /// succeeds for an unknown or expired token too.
    Revoke {
        /// The access token (`hat_…`).
        token: String,
        #[command(flatten)]
        credentials: TenantCredentials,
    },
}

/// The token answer of `/oauth2/token`.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

async fn request_token(
    api: &ApiClient,
    credentials: &TenantCredentials,
) -> anyhow::Result<(TokenAnswer, String)> {
    let response = api
        .oauth_token(&credentials.client_id, &credentials.client_secret)
        .await?;
    let answer = serde_json::from_str(&response.body)
        .map_err(|e| ApiError::Unexpected(format!("not a token answer ({e})")))?;
    Ok((answer, response.body))
}

/// A client that sends no bearer token: these commands authenticate with
/// client credentials, and must not announce (or send) a saved token.
fn anonymous(client: &ClientArgs) -> anyhow::Result<ApiClient> {
    ApiClient::new(client.server.clone(), None)
}

pub async fn run(client: ClientArgs, command: TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create { credentials } => create(client, credentials).await,
        TokensCommand::Revoke { token, credentials } => revoke(client, &token, credentials).await,
    }
}

async fn revoke(
    client: ClientArgs,
    token: &str,
    credentials: TenantCredentials,
) -> anyhow::Result<()> {
    let api = anonymous(&client)?;
    api.oauth_revoke(&credentials.client_id, &credentials.client_secret, token)
        .await?;
    if client.json {
        table::out(&format!("{}\n", json!({"revoked": true})));
    } else {
        table::out("revoked: the token is refused from now on\n");
    }
    Ok(())
}

async fn create(client: ClientArgs, credentials: TenantCredentials) -> anyhow::Result<()> {
    let api = anonymous(&client)?;
    let (answer, body) = request_token(&api, &credentials).await?;
    if client.json {
        table::out(&format!("{}\n", body.trim_end()));
    } else {
        table::out(&format!("{}\n", answer.access_token));
        eprintln!(
            "expires in {}; send it as `Authorization: Bearer <token>` or HERALD_TOKEN",
            human(answer.expires_in)
        );
    }
    Ok(())
}

pub async fn login(client: ClientArgs, args: LoginArgs) -> anyhow::Result<()> {
    let api = anonymous(&client)?;
    let (answer, _) = request_token(&api, &args.credentials).await?;
    if args.print {
        table::out(&format!("{}\n", answer.access_token));
        return Ok(());
    }
    let path = credentials::login_path().ok_or_else(|| {
        usage("no config dir to save the token in: set HERALD_CONFIG_DIR or HOME, or use --print")
    })?;
    let expires_at =
        credentials::unix_now().saturating_add(i64::try_from(answer.expires_in).unwrap_or(0));
    let saved = SavedLogin {
        server: client.server.to_string(),
        access_token: answer.access_token,
        expires_at,
    };
    save_private(&path, &serde_json::to_vec_pretty(&saved)?)
        .with_context(|| format!("cannot save the token to {}", path.display()))?;
    if client.json {
        let summary = json!({"server": saved.server, "path": path, "expires_at": expires_at});
        table::out(&format!("{summary}\n"));
    } else {
        table::out(&format!(
            "logged in to {} as {}; the token expires in {} (saved to {})\n",
            saved.server,
            args.credentials.client_id,
            human(answer.expires_in),
            path.display()
        ));
    }
    Ok(())
}

pub fn logout() -> anyhow::Result<()> {
    let Some(path) = credentials::login_path() else {
        table::out("not logged in\n");
        return Ok(());
    };
    match std::fs::remove_file(&path) {
        Ok(()) => table::out(&format!("logged out: removed {}\n", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => table::out("not logged in\n"),
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    Ok(())
}

/// Writes `contents` readable by the user only: the directory 0700, the file 0600, written
/// beside and renamed so a reader never sees half a file.
fn save_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let temporary = path.with_extension("tmp");
    // The mode applies only to a new file: a leftover from a crash is removed first.
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// `1h`, `90m`, `45s`: the largest unit that divides evenly.
fn human(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
