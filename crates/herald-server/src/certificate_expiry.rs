//! Client certificates close to expiry, on `/metrics` from the store: at start and every
//! [`RESCAN`], [`scan`] reads every subscription that carries an mTLS client certificate (a
//! page at a time, the certificate only, never its key) and sets
//! `herald_client_certificate_not_after_seconds` for each, then removes the gauges of
//! subscriptions that no longer have one. So every node shows every certificate, not only the
//! ones it stored or used since it started (which still update the gauge at once).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use herald_store::{Catalog, StoreError};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::outbound::mtls;

/// How often the gauges are read again from the store.
pub const RESCAN: Duration = Duration::from_secs(3600);
/// Subscriptions read per page.
const PAGE: u32 = 200;

/// Sets the gauge of every subscription with a client certificate and removes the gauges of
/// those without one (any more) that had one before the scan began; answers how many are set.
pub async fn scan(catalog: &dyn Catalog, metrics: &Metrics) -> Result<usize, StoreError> {
    // Only gauges from before the scan may be removed: one set meanwhile (a subscription
    // created during the scan, after its page was read) is new, not gone.
    let before = metrics.client_certificate_gauges();
    let mut seen = HashSet::new();
    let mut after = None;
    loop {
        let page = catalog.client_certificates(after.as_ref(), PAGE).await?;
        for (id, certificate) in &page {
            // Checked when stored; one that no longer parses shows no gauge.
            if let Some(info) = mtls::info(certificate) {
                metrics.client_certificate(id.as_str(), info.not_after);
                seen.insert(id.to_string());
            }
        }
        if page.len() < PAGE as usize {
            break;
        }
        after = page.last().map(|(id, _)| id.clone());
    }
    for gone in before.difference(&seen) {
        metrics.forget_client_certificate(gone);
    }
    Ok(seen.len())
}

/// [`scan`] at start, then every [`RESCAN`], until `shutdown`.
pub async fn run(catalog: Arc<dyn Catalog>, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    loop {
        if let Err(error) = scan(catalog.as_ref(), &metrics).await {
            tracing::warn!(%error, "reading client certificates for their expiry gauges failed");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RESCAN) => {}
        }
    }
}
