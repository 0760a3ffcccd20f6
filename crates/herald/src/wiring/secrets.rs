//! The stored secrets against the keyring, at every start and in `herald admin reencrypt`.
//!
//! At start: plaintext secrets (written before sealing existed) are sealed, so an upgraded
//! database holds none after its first start; then the server refuses to run if a secret is
//! sealed by a key it lacks, naming that key, rather than failing on every delivery of that
//! subscription later. `reencrypt` re-seals every secret not sealed by the primary key, so
//! the older keys can be removed. Both go in batches, each one short transaction, so a large
//! catalog never holds the writer (or row locks) for long.

use anyhow::bail;
use herald_store::sealing::Keyring;
use herald_store::{Reseal, SecretCensus, Store};

/// Subscriptions re-sealed per transaction.
const BATCH: u32 = 500;

/// Re-seals every secret in `scope` under the primary key, batch after batch until none is
/// left (or a batch finds only rows changed meanwhile, which their writers sealed); returns
/// how many were rewritten.
pub async fn reseal(store: &dyn Store, scope: Reseal) -> anyhow::Result<u64> {
    let mut total = 0;
    loop {
        let resealed = store.reseal_secrets(scope, BATCH).await?;
        if resealed == 0 {
            return Ok(total);
        }
        total += resealed;
    }
}

/// At start: seals plaintext secrets, then checks that every key in use is configured.
pub async fn prepare(store: &dyn Store, keyring: &Keyring) -> anyhow::Result<()> {
    let sealed = reseal(store, Reseal::Plaintext).await?;
    if sealed > 0 {
        tracing::info!(
            subscriptions = sealed,
            key_id = keyring.primary().id(),
            "encrypted the secrets and custom headers stored in plaintext by an older version"
        );
    }
    let census = store.secret_census().await?;
    let missing = missing_keys(&census, keyring);
    if !missing.is_empty() {
        bail!(
            "the database holds secrets encrypted with key(s) {} that are not configured \
             (configured: {}); add the key file that has them (--encryption-key-file) or \
             HERALD_ENCRYPTION_KEY",
            missing.join(", "),
            keyring.key_ids().join(", ")
        );
    }
    Ok(())
}

/// The ids of keys that seal stored secrets but are not in `keyring`.
pub fn missing_keys(census: &SecretCensus, keyring: &Keyring) -> Vec<String> {
    let known = keyring.key_ids();
    census
        .sealed
        .keys()
        .filter(|id| !known.contains(&id.as_str()))
        .cloned()
        .collect()
}
