//! The keyring that seals stored secrets (`herald_store::sealing`): from the configured keys
//! (`HERALD_ENCRYPTION_KEY`, or the file `encryption_key_file` names), or, on SQLite with
//! none configured, from `encryption-key` in the data dir, generated at first start (0600).
//!
//! The generated key is never printed: unlike the admin token, nobody needs to type it, and it
//! must reach backups rather than a terminal's scrollback. It is created with `create_new`, so
//! an existing key is never overwritten (a lost key makes every stored secret unreadable). On
//! PostgreSQL the configuration must give a key (`Config` refuses to start otherwise): every
//! node must hold the same keys, and one node's data dir is not shared.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use herald_server::Config;
use herald_store::sealing::{EncryptionKey, Keyring};

/// The generated key file's name inside the data dir.
pub const KEY_FILE: &str = "encryption-key";

/// The configured keyring, or the data dir's, or a newly generated one.
pub fn load_or_generate(config: &Config) -> anyhow::Result<Keyring> {
    if let Some(keys) = &config.encryption_key {
        return Keyring::from_key_file(&keys.replace(',', "\n"))
            .context("cannot use HERALD_ENCRYPTION_KEY (--encryption-key)");
    }
    if let Some(path) = &config.encryption_key_file {
        return read(path);
    }
    let path = config.data_dir.join(KEY_FILE);
    if path.exists() {
        return read(&path);
    }
    let key = EncryptionKey::generate();
    write_private(&path, &key)
        .with_context(|| format!("cannot save a new encryption key to {}", path.display()))?;
    tracing::info!(
        path = %path.display(),
        key_id = key.id(),
        "generated the key that encrypts stored secrets; back it up with the database"
    );
    Ok(Keyring::new(key, []))
}

/// A key file: one base64 key per line, the first sealing.
fn read(path: &Path) -> anyhow::Result<Keyring> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the encryption key file {}; fix its permissions or path",
            path.display()
        )
    })?;
    warn_if_readable_by_others(path);
    Keyring::from_key_file(&text)
        .with_context(|| format!("cannot use the encryption key file {}", path.display()))
}

fn write_private(path: &Path, key: &EncryptionKey) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(
        file,
        "# Herald's encryption keys: the first encrypts, every one decrypts. Back this file up;"
    )?;
    writeln!(
        file,
        "# without it the secrets in the database cannot be read. See docs/security.md."
    )?;
    writeln!(file, "{}", key.to_base64())?;
    file.sync_all()
}

/// Keys readable by the group or others are as good as published on a shared machine.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", metadata.permissions().mode() & 0o777),
                "the encryption key file is readable by other users; chmod 600 it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        }
    }

    #[test]
    fn a_first_start_generates_a_private_key_file_and_later_starts_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(&config(dir.path())).unwrap();
        let path = dir.path().join(KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = load_or_generate(&config(dir.path())).unwrap();
        assert_eq!(again.key_ids(), first.key_ids());
    }

    #[test]
    fn configured_keys_win_and_no_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (EncryptionKey::generate(), EncryptionKey::generate());
        let inline = Config {
            encryption_key: Some(format!("{},{}", a.to_base64(), b.to_base64())),
            ..config(dir.path())
        };
        assert_eq!(
            load_or_generate(&inline).unwrap().key_ids(),
            [a.id(), b.id()]
        );
        let file = dir.path().join("keys");
        std::fs::write(&file, format!("{}\n", b.to_base64())).unwrap();
        let from_file = Config {
            encryption_key_file: Some(file),
            ..config(dir.path())
        };
        assert_eq!(load_or_generate(&from_file).unwrap().key_ids(), [b.id()]);
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn a_bad_key_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let bad = Config {
            encryption_key: Some("not-a-key".into()),
            ..config(dir.path())
        };
        let error = format!("{:#}", load_or_generate(&bad).unwrap_err());
        assert!(error.contains("32 bytes in base64"), "{error}");
    }
}
