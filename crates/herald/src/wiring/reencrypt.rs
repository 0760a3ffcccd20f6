//! `herald admin reencrypt`: re-seals every stored secret under the primary key, with the
//! same settings as `herald serve` (config file, `HERALD_*` variables, flags), so the keys
//! after the first can then be removed.
//!
//! On SQLite the server must be stopped: the command takes the data dir's lock as `serve`
//! does, and ends with a `VACUUM`, so no free page or WAL frame keeps a secret sealed by the
//! retired key. On PostgreSQL it runs beside the nodes (each row is rewritten only if
//! unchanged since it was read); the old key's ciphertext leaves the disk as autovacuum
//! reclaims the old row versions.

use anyhow::{Context, bail};
use herald_server::{Config, ServeArgs};
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sqlite::SqliteStore;
use herald_store::{Catalog, Reseal, SecretCensus};

use super::{encryption_key, lock, secrets};

/// What a re-seal did.
#[derive(Debug)]
pub struct Reencrypted {
    /// Subscriptions whose secrets were rewritten.
    pub resealed: u64,
    /// How the secrets are sealed now.
    pub census: SecretCensus,
    /// The key that sealed them.
    pub primary: String,
}

/// Runs the re-seal; see the module documentation.
pub async fn reencrypt(args: &ServeArgs) -> anyhow::Result<Reencrypted> {
    let config = Config::load(args)?;
    if let Some(url) = &config.database_url {
        let keyring = encryption_key::load_or_generate(&config)?;
        let primary = keyring.primary().id().to_owned();
        let options = PgOptions {
            max_connections: 2,
            acquire_timeout: config.db_acquire_timeout,
        };
        let store = PgStore::connect(url, options, keyring)
            .await
            .context("cannot connect to PostgreSQL (database_url)")?;
        let resealed = secrets::reseal(&store, Reseal::NotPrimary).await?;
        let census = store.secret_census().await?;
        store.close().await;
        return Ok(Reencrypted {
            resealed,
            census,
            primary,
        });
    }
    let path = config.data_dir.join("herald.db");
    if !path.exists() {
        bail!(
            "there is no database at {}; pass the --data-dir (or --config) that herald serve uses",
            path.display()
        );
    }
    let _lock = lock::acquire(&config.data_dir).context("stop herald serve first")?;
    let keyring = encryption_key::load_or_generate(&config)?;
    let primary = keyring.primary().id().to_owned();
    let store = SqliteStore::open(&path, keyring)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    let resealed = secrets::reseal(&store, Reseal::NotPrimary).await?;
    let census = store.secret_census().await?;
    store.close().await;
    let vacuum = tokio::task::spawn_blocking(move || SqliteStore::vacuum(&path));
    vacuum
        .await?
        .context("cannot compact the database after re-sealing")?;
    Ok(Reencrypted {
        resealed,
        census,
        primary,
    })
}
