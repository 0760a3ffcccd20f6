//! The conformance suite and SQLite-specific behaviour (group commit, reopening) against a
//! real database file in a temporary directory.

use std::sync::Arc;

use herald_store::conformance::{self, new_subscription, new_tenant};
use herald_store::sqlite::SqliteStore;
use herald_store::{Catalog, DeliveryQueue, Event, PageRequest, StoreError, TenantId};

/// A fresh store on a new file; the directory lives as long as the returned guard.
async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(
        &dir.path().join("data").join("herald.db"),
        conformance::keyring(),
    )
    .await
    .expect("open");
    (store, dir)
}

herald_store::store_conformance_tests!(fresh);

/// A tenant with a subscription to every event type.
async fn tenant_with_subscription(store: &SqliteStore) -> TenantId {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    tenant.id
}

/// Event `n`, with an idempotency key of its own.
fn event(tenant: &TenantId, n: usize) -> Event {
    Event {
        payload_json: format!(r#"{{"n": {n}}}"#),
        idempotency_key: Some(format!("key-{n}")),
        ..conformance::event("load.test", Some(tenant), 0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_publishes_all_commit_and_read_back() {
    let (store, _dir) = fresh().await;
    let store = Arc::new(store);
    let tenant = tenant_with_subscription(&store).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..500 {
        let store = Arc::clone(&store);
        let event = event(&tenant, n);
        tasks.spawn(async move { (store.publish(&event).await, event) });
    }
    let mut published = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (result, event) = joined.expect("task");
        let result = result.expect("publish");
        assert_eq!(
            (result.event_id.clone(), result.deliveries, result.duplicate),
            (event.id.clone(), 1, false)
        );
        published.push(event);
    }
    for event in &published {
        assert_eq!(
            store.get_event(&event.id).await.expect("get").as_ref(),
            Some(event)
        );
    }
    let stats = store.queue_stats().await.expect("stats");
    assert_eq!(stats.pending, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_with_one_idempotency_key_create_one_event() {
    let (store, _dir) = fresh().await;
    let store = Arc::new(store);
    let tenant = tenant_with_subscription(&store).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let store = Arc::clone(&store);
        let event = event(&tenant, 0);
        tasks.spawn(async move { store.publish(&event).await });
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut firsts = 0;
    while let Some(joined) = tasks.join_next().await {
        let published = joined.expect("task").expect("publish");
        firsts += usize::from(!published.duplicate);
        ids.insert(published.event_id);
    }
    assert_eq!((ids.len(), firsts), (1, 1));
}

#[tokio::test]
async fn committed_writes_survive_closing_and_reopening() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(&path, conformance::keyring())
        .await
        .expect("open");
    let tenant = tenant_with_subscription(&store).await;
    let event = event(&tenant, 1);
    store.publish(&event).await.expect("publish");
    store.close().await;

    let reopened = SqliteStore::open(&path, conformance::keyring())
        .await
        .expect("reopen (migrations already applied)");
    assert_eq!(
        reopened.get_event(&event.id).await.expect("get"),
        Some(event)
    );
    let page = reopened
        .list_tenants(&PageRequest {
            cursor: None,
            limit: 10,
        })
        .await
        .expect("list");
    assert_eq!(page.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_publish_does_not_fail_the_others_committed_with_it() {
    let (store, _dir) = fresh().await;
    let store = Arc::new(store);
    let tenant = tenant_with_subscription(&store).await;
    let taken = event(&tenant, 0);
    store.publish(&taken).await.expect("first publish");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 1..=100 {
        let store = Arc::clone(&store);
        let mut event = event(&tenant, n);
        if n == 50 {
            // Same id as a stored event, new idempotency key: the insert itself must fail.
            event.id = taken.id.clone();
        }
        tasks.spawn(async move { (n, store.publish(&event).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let (n, result) = joined.expect("task");
        if n == 50 {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        } else {
            assert!(result.is_ok(), "event {n}: {result:?}");
        }
    }
    assert_eq!(store.queue_stats().await.expect("stats").pending, 100);
}
