//! Client certificates' expiry on `/metrics` comes from the store: a subscription with a
//! client certificate created before a restart has its gauge after it (before any attempt),
//! and a scan removes the gauge of a subscription deleted since.

mod support;

use std::sync::Arc;
use std::time::Duration;

use herald_server::metrics::Metrics;
use herald_store::sqlite::SqliteStore;
use herald_store::{QueueStats, Store};
use herald_testkit::wait_for;
use rcgen::{CertificateParams, KeyPair};
use serde_json::json;
use support::{TestServer, test_config};

const GAUGE: &str = "herald_client_certificate_not_after_seconds";
const NOT_AFTER: i64 = 4_102_444_800; // 2100-01-01T00:00:00Z

/// A self-signed client certificate valid until [`NOT_AFTER`], and its key (PEM).
fn certificate() -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["herald.example".to_owned()]).expect("params");
    params.not_after = time::OffsetDateTime::from_unix_timestamp(NOT_AFTER).expect("a time");
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

/// The gauge's line for `subscription_id` in a metrics text, if any.
fn gauge_line(text: &str, subscription_id: &str) -> Option<String> {
    let needle = format!("{GAUGE}{{subscription_id=\"{subscription_id}\"}}");
    text.lines()
        .find(|line| line.starts_with(&needle))
        .map(str::to_owned)
}

async fn open_store(dir: &std::path::Path) -> Arc<dyn Store> {
    let store = SqliteStore::open(&dir.join("herald.db"), herald_store::conformance::keyring())
        .await
        .expect("store");
    Arc::new(store)
}

#[tokio::test]
async fn a_subscription_with_a_client_certificate_shows_in_metrics_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path()).await;
    let (cert, key) = certificate();
    let first = TestServer::start_on_store(Arc::clone(&store), test_config()).await;
    first.create_event_type("a.b").await;
    let tenant = first.create_tenant("Bank").await;
    let sub = first
        .subscribe_with(
            tenant["id"].as_str().expect("id"),
            "https://127.0.0.1:9/hook",
            "a.b",
            json!({"client_certificate": {"certificate": cert, "private_key": key}}),
        )
        .await;
    let sub_id = sub["id"].as_str().expect("id").to_owned();
    drop(first);

    let fresh = TestServer::start_on_store(store, test_config()).await;
    let line = wait_for(
        "the certificate's gauge",
        Duration::from_secs(20),
        || async {
            let text = fresh
                .client
                .get(format!("{}/metrics", fresh.base))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            gauge_line(&text, &sub_id)
        },
    )
    .await;
    assert!(line.ends_with(&format!(" {NOT_AFTER}")), "{line}");
}

#[tokio::test]
async fn a_scan_sets_every_certificate_gauge_and_removes_a_deleted_subscriptions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path()).await;
    let tenant = herald_store::conformance::tenant("Bank");
    store.create_tenant(&tenant).await.expect("tenant");
    let mut kept = herald_store::conformance::subscription(&tenant.id, &["a.b"]);
    let mut deleted = herald_store::conformance::subscription(&tenant.id, &["a.b"]);
    for sub in [&mut kept, &mut deleted] {
        let (cert, key) = certificate();
        sub.client_certificate_pem = Some(cert);
        sub.client_key_pem = Some(key);
        store.create_subscription(sub).await.expect("create");
    }
    let metrics = Metrics::new();
    let stats = QueueStats {
        pending: 0,
        oldest_pending_created_at: None,
    };

    let set = herald_server::certificate_expiry::scan(store.as_ref(), &metrics)
        .await
        .expect("scan");
    assert_eq!(set, 2);
    let text = metrics.render(stats);
    assert!(gauge_line(&text, kept.id.as_str()).is_some(), "{text}");
    assert!(gauge_line(&text, deleted.id.as_str()).is_some(), "{text}");

    assert!(
        store
            .delete_subscription(&deleted.id)
            .await
            .expect("delete")
    );
    let set = herald_server::certificate_expiry::scan(store.as_ref(), &metrics)
        .await
        .expect("scan");
    assert_eq!(set, 1);
    let text = metrics.render(stats);
    assert!(gauge_line(&text, kept.id.as_str()).is_some(), "{text}");
    assert!(gauge_line(&text, deleted.id.as_str()).is_none(), "{text}");
}
