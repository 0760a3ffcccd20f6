//! The admin token when the operator gave none: read from `admin-token` in the data dir, or
//! generated at first start, printed once on stdout and saved there with mode 0600.
//!
//! Printed on stdout (not logged) so it reaches the person who started the server and no log
//! collector; saved so scripts on the same machine can read it and a restart keeps it. The
//! file is created with `create_new`, so a token is never overwritten.

use std::io::Write;
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

fn generate() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    format!(
        "hadm_{}",
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
