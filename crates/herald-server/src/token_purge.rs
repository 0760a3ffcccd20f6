//! The purge of expired access tokens: a background task of the server that deletes them in
//! small batches, once a minute, until its shutdown token is cancelled.
//!
//! It owns nothing but that deletion; it must never touch a live token (expiry is already
//! enforced at lookup, so the purge only keeps the table from growing for ever). One step
//! ([`purge_expired`]) is a function on a given instant, so tests call it with a fixed clock;
//! the loop around it only waits and repeats. Batches are small and a step stops after a
//! bounded number of them, so a purge never holds SQLite's single writer for long.

use std::sync::Arc;
use std::time::Duration;

use herald_store::{Catalog, StoreError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Tokens deleted per statement.
pub const BATCH: u32 = 500;
/// Batches per step at most; what is left waits for the next step.
const MAX_BATCHES: u32 = 20;
/// Time between steps.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Deletes tokens expired at `now`, batch by batch, until a batch comes back short (or after
/// [`MAX_BATCHES`]); answers how many went.
pub async fn purge_expired(catalog: &dyn Catalog, now: OffsetDateTime) -> Result<u64, StoreError> {
    let mut purged = 0;
    for _ in 0..MAX_BATCHES {
        let deleted = catalog.purge_expired_access_tokens(now, BATCH).await?;
        purged += deleted;
        if deleted < u64::from(BATCH) {
            break;
        }
    }
    Ok(purged)
}

/// Runs [`purge_expired`] every [`INTERVAL`] until `shutdown` is cancelled. A failed step is
/// logged and tried again at the next tick: the store may be briefly unavailable.
pub async fn run(catalog: Arc<dyn Catalog>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match purge_expired(catalog.as_ref(), OffsetDateTime::now_utc()).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "purged expired access tokens"),
            Err(error) => tracing::warn!(%error, "purging expired access tokens failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_store::conformance::{at, keyring, new_tenant};
    use herald_store::sqlite::SqliteStore;

    #[tokio::test]
    async fn expired_tokens_are_gone_from_the_store_after_a_purge() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("herald.db"), keyring())
            .await
            .unwrap();
        let tenant = new_tenant(&store, "Acme").await;
        // More than one batch of expired tokens, and one live token.
        for n in 0..(BATCH + 7) {
            store
                .insert_access_token(&format!("old-{n}"), &tenant.id, at(10))
                .await
                .unwrap();
        }
        store
            .insert_access_token("live", &tenant.id, at(3600))
            .await
            .unwrap();
        let purged = purge_expired(&store, at(10)).await.unwrap();
        assert_eq!(purged, u64::from(BATCH + 7));
        assert_eq!(
            store
                .purge_expired_access_tokens(at(10), BATCH)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store.access_token_tenant("live", at(10)).await.unwrap(),
            Some(tenant.id)
        );
    }
}
