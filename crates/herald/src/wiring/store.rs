//! Store selection: PostgreSQL when `database_url` is configured, else the SQLite file
//! `herald.db` in the data dir. Nothing above this module knows which one runs. Either is
//! opened with the keyring that seals stored secrets (`encryption_key`).
//!
//! On SQLite, leases are released at start: one SQLite file serves one process, so no lease
//! can belong to a live attempt elsewhere, and whatever this process held before a crash is
//! due again now rather than after its lease. On PostgreSQL other nodes may hold live leases,
//! so there leases simply expire.

use std::sync::Arc;

use anyhow::Context;
use herald_server::Config;
use herald_store::Store;
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sealing::Keyring;
use herald_store::sqlite::SqliteStore;

/// Opens the configured store (applying its migrations), sealing secrets with `keyring`.
pub async fn open(config: &Config, keyring: Keyring) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &config.database_url {
        let options = PgOptions {
            max_connections: config.db_max_connections,
            acquire_timeout: config.db_acquire_timeout,
        };
        let store = PgStore::connect(url, options, keyring).await.context(
            "cannot connect to PostgreSQL (database_url); check that it runs and the URL is right",
        )?;
        tracing::info!("running on PostgreSQL");
        return Ok(Arc::new(store));
    }
    let db_path = config.data_dir.join("herald.db");
    let store = SqliteStore::open(&db_path, keyring)
        .await
        .with_context(|| format!("cannot open the database {}", db_path.display()))?;
    Ok(Arc::new(store))
}

/// What `herald serve` does to the store before serving: release the last run's leases (on
/// SQLite, see above), seal plaintext secrets and check the keys (see `secrets`).
pub async fn prepare(store: &dyn Store, keyring: &Keyring) -> anyhow::Result<()> {
    if store.single_process() {
        let released = store
            .release_all_leases()
            .await
            .context("cannot release the leases of the last run")?;
        if released > 0 {
            tracing::info!(
                released,
                "resuming deliveries that were in flight at the last stop"
            );
        }
    }
    super::secrets::prepare(store, keyring).await
}
