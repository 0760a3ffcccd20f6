//! Which bearer token a client command sends, and where it came from.
//!
//! In order: `--token` or `HERALD_TOKEN`; else the tenant token `herald login` saved for this
//! server; else the admin token `herald serve` wrote to its data dir, but only when that data
//! dir's `server-url` names this server. The source is kept beside the token so that a 401
//! can say which token was refused (the flag, the variable, or the file's path), never the
//! token itself.
//!
//! The admin token file must never reach another server: a local file's secret sent to a
//! remote `--server` would leak it. Data dirs written before `server-url` existed are trusted
//! for loopback servers only, as before.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::TokenSource;

/// Where `herald serve` writes its admin token and its address, relative to its data dir.
const ADMIN_TOKEN_FILE: &str = "admin-token";
const SERVER_URL_FILE: &str = "server-url";
/// `herald login`'s file, in the user's config dir.
const LOGIN_FILE: &str = "login.json";

/// A token and where it came from.
pub struct Credential {
    pub token: String,
    pub source: TokenSource,
}

/// The token to send to `server`, if any; says on stderr when it comes from a file.
pub fn resolve(server: &Url, given: Option<String>) -> Option<Credential> {
    if let Some(token) = given.filter(|t| !t.is_empty()) {
        // clap merges the flag and the variable; the variable's value tells them apart.
        let from_env = std::env::var("HERALD_TOKEN").is_ok_and(|env| env == token);
        let source = if from_env {
            TokenSource::Env
        } else {
            TokenSource::Flag
        };
        return Some(Credential { token, source });
    }
    if let Some(credential) = saved_login(server) {
        return Some(credential);
    }
    local_admin_token(server)
}

/// What `herald login` saves: one tenant token for one server.
#[derive(Serialize, Deserialize)]
pub struct SavedLogin {
    /// The server it was issued by, and the only one it is sent to.
    pub server: String,
    pub access_token: String,
    /// Unix seconds; an expired token is not sent.
    pub expires_at: i64,
}

/// `$HERALD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/herald`, else `~/.config/herald`.
pub fn config_dir() -> Option<PathBuf> {
    let from = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    from("HERALD_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| from("XDG_CONFIG_HOME").map(|d| PathBuf::from(d).join("herald")))
        .or_else(|| from("HOME").map(|d| PathBuf::from(d).join(".config").join("herald")))
}

/// Where `herald login` saves its token.
pub fn login_path() -> Option<PathBuf> {
    config_dir().map(|dir| dir.join(LOGIN_FILE))
}

fn saved_login(server: &Url) -> Option<Credential> {
    let path = login_path()?;
    let text = std::fs::read_to_string(&path).ok()?;
    let saved: SavedLogin = serde_json::from_str(&text).ok()?;
    let recorded = Url::parse(&saved.server).ok()?;
    if !same_server(server, &recorded) || saved.expires_at <= unix_now() {
        return None;
    }
    eprintln!(
        "note: using the token saved by `herald login` in {}",
        display(&path)
    );
    Some(Credential {
        token: saved.access_token,
        source: TokenSource::Login(display(&path)),
    })
}

/// The admin token `herald serve` wrote, when `server` is the server that wrote it.
fn local_admin_token(server: &Url) -> Option<Credential> {
    let dir = std::env::var_os("HERALD_DATA_DIR")
        .map_or_else(|| PathBuf::from("herald-data"), PathBuf::from);
    let owner = match std::fs::read_to_string(dir.join(SERVER_URL_FILE)) {
        Ok(text) => Some(Url::parse(text.trim()).ok()?),
        Err(_) => None,
    };
    let belongs = match &owner {
        Some(owner) => same_server(server, owner),
        None => is_loopback(server),
    };
    if !belongs {
        return None;
    }
    let path = dir.join(ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&path).ok()?.trim().to_owned();
    if token.is_empty() {
        return None;
    }
    eprintln!("note: using the admin token from {}", display(&path));
    Some(Credential {
        token,
        source: TokenSource::AdminFile(display(&path)),
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Same scheme and port, and the same host, every loopback name counting as one host.
pub fn same_server(a: &Url, b: &Url) -> bool {
    let hosts_match = a.host_str() == b.host_str() || (is_loopback(a) && is_loopback(b));
    a.scheme() == b.scheme()
        && a.port_or_known_default() == b.port_or_known_default()
        && hosts_match
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A path as a person would type it: `./herald-data/admin-token`.
fn display(path: &Path) -> String {
    if path.is_relative() {
        format!("./{}", path.display())
    } else {
        path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn loopback_names_are_one_server_but_ports_and_hosts_differ() {
        let recorded = url("http://127.0.0.1:8080");
        assert!(same_server(&url("http://localhost:8080/"), &recorded));
        assert!(same_server(&url("http://[::1]:8080"), &recorded));
        assert!(!same_server(&url("http://127.0.0.1:8081"), &recorded));
        assert!(!same_server(&url("https://127.0.0.1:8080"), &recorded));
        assert!(!same_server(
            &url("http://herald.example.com:8080"),
            &recorded
        ));
        assert!(same_server(
            &url("https://herald.example.com"),
            &url("https://herald.example.com:443/")
        ));
    }
}
