//! The admin token when the operator gave none: read from `admin-token` in the data dir, or
//! generated at first start, printed once on stdout and saved there with mode 0600.
//!
//! Printed on stdout (not logged) so it reaches the person who started the server and no log
//! collector; saved so scripts on the same machine can read it and a restart keeps it. The
//! file is created with `create_new`, so a token is never overwritten.
//!
//! Beside it, `server-url` says which server the data dir belongs to (`http://127.0.0.1:8080`,
//! rewritten at every start): the CLI sends `admin-token` only to that address, so a
//! `--server` pointing elsewhere never receives this server's admin token.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use anyhow::Context;
use herald_server::Config;

/// The configured admin token, or the one saved in the data dir, or a new one.
pub fn load_or_generate(config: &Config) -> anyhow::Result<String> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    let path = config.data_dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot read {}; fix its permissions or set --admin-token",
                    path.display()
                )
            });
        }
    }
    let token = generate();
    write_private(&path, &token)
        .with_context(|| format!("cannot save the admin token to {}", path.display()))?;
    print_once(&path, &token).context("cannot print the generated admin token")?;
    Ok(token)
}

/// Where `herald serve` records the address it serves on, relative to its data dir.
pub const SERVER_URL_FILE: &str = "server-url";

/// Records the URL this server answers on in the data dir, for the CLI on this machine. An
/// unspecified listen address (`0.0.0.0`, `::`) is recorded as loopback, the address the CLI
/// beside it uses. Written to a temporary file and renamed, so a reader never sees half.
pub fn record_server_url(data_dir: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}\n", SocketAddr::new(ip, addr.port()));
    let path = data_dir.join(SERVER_URL_FILE);
    let temporary = data_dir.join(format!("{SERVER_URL_FILE}.tmp"));
    std::fs::write(&temporary, url)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .with_context(|| format!("cannot record the server's address in {}", path.display()))
}

fn generate() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    format!(
        "{}{}",
        herald_server::api::auth::ADMIN_TOKEN_PREFIX,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn print_once(path: &Path, token: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Generated the admin token (shown once; saved to {}):",
        path.display()
    )?;
    writeln!(out, "\n    {token}\n")?;
    out.flush()
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_token_wins_and_no_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            admin_token: Some("configured-token-0123".into()),
            ..Config::default()
        };
        assert_eq!(load_or_generate(&config).unwrap(), "configured-token-0123");
        assert!(!dir.path().join("admin-token").exists());
    }

    #[test]
    fn the_server_url_names_loopback_for_an_unspecified_listen_address() {
        let dir = tempfile::tempdir().unwrap();
        let read = || std::fs::read_to_string(dir.path().join(SERVER_URL_FILE)).unwrap();
        record_server_url(dir.path(), "0.0.0.0:8080".parse().unwrap()).unwrap();
        assert_eq!(read(), "http://127.0.0.1:8080\n");
        record_server_url(dir.path(), "[::]:9000".parse().unwrap()).unwrap();
        assert_eq!(read(), "http://[::1]:9000\n");
        record_server_url(dir.path(), "192.0.2.7:81".parse().unwrap()).unwrap();
        assert_eq!(read(), "http://192.0.2.7:81\n");
    }

    #[test]
    fn a_saved_token_is_read_back_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin-token"), "hadm_saved\n").unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        assert_eq!(load_or_generate(&config).unwrap(), "hadm_saved");
    }
}
