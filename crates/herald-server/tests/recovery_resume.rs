//! A recovery interrupted by a crash resumes: its row is left `running` with a lease that
//! ended and a cursor part-way, as a node that died mid-recovery leaves it; a freshly started
//! server claims it at start, requeues the rest after the cursor (never what the recovery had
//! already requeued) and marks it done.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use herald_server::Config;
use herald_store::sqlite::SqliteStore;
use herald_store::{DeliveryId, Recovery, RecoveryStatus, Store, SubscriptionId, TenantId};
use herald_testkit::{Receiver, Reply, wait_for};
use reqwest::Method;
use serde_json::json;
use support::{TestServer, test_config};

const WITHIN: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_recovery_left_running_with_an_expired_lease_is_finished_by_a_fresh_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        &dir.path().join("herald.db"),
        herald_store::conformance::keyring(),
    )
    .await
    .expect("store");
    let store: Arc<dyn Store> = Arc::new(store);
    // No retries: each delivery to the failing endpoint is failed after one attempt.
    let config = Config {
        retry_schedule: Vec::new(),
        ..test_config()
    };
    let receiver = Receiver::start().await.expect("receiver");
    receiver.otherwise(Reply::status(503));

    let first = TestServer::start_on_store(Arc::clone(&store), config.clone()).await;
    first.create_event_type("order.created").await;
    let (tenant, subscription) = first.subscribe(&receiver.url(), "order.created").await;
    let mut failed = Vec::new();
    for n in 0..3 {
        let event = first
            .publish("order.created", json!({"n": n}), Some(&tenant))
            .await;
        let delivery = first.wait_delivery_status(&event, "failed", WITHIN).await;
        failed.push(DeliveryId::parse(delivery["id"].as_str().expect("id")).expect("an id"));
    }
    failed.sort();
    drop(first);

    // What a node that died after its first batch (one delivery) leaves behind.
    let now = herald_store::timestamp_now();
    let interrupted = Recovery {
        id: "rcv_00000000000000000000000000000001".to_owned(),
        subscription_id: SubscriptionId::parse(subscription["id"].as_str().expect("id"))
            .expect("an id"),
        tenant_id: TenantId::parse(&tenant).expect("an id"),
        since: time::OffsetDateTime::UNIX_EPOCH,
        status: RecoveryStatus::Running,
        total: 3,
        requeued: 1,
        created_at: now - time::Duration::minutes(5),
        updated_at: now - time::Duration::minutes(5),
        requeued_through: Some(failed[0].clone()),
        lease_until: Some(now - time::Duration::minutes(4)),
    };
    store
        .start_recovery(&interrupted)
        .await
        .expect("the interrupted recovery");
    receiver.otherwise(Reply::ok());

    let fresh = TestServer::start_on_store(Arc::clone(&store), config).await;
    let path = format!("/api/v1/recoveries/{}", interrupted.id);
    let done = wait_for("the recovery to be done", WITHIN, || async {
        let (status, recovery) = fresh.call(Method::GET, &path, None).await;
        (status == StatusCode::OK && recovery["status"] == "done").then_some(recovery)
    })
    .await;
    assert_eq!(done["requeued"], 3);
    wait_for("the two not yet requeued to succeed", WITHIN, || async {
        for id in &failed[1..] {
            if fresh.delivery(id.as_str()).await["status"] != "succeeded" {
                return None;
            }
        }
        Some(())
    })
    .await;
    assert_eq!(receiver.succeeded_count(), 2, "each once");
    let skipped = fresh.delivery(failed[0].as_str()).await;
    assert_eq!(
        skipped["status"], "failed",
        "behind the cursor: this recovery had already requeued it"
    );
    assert_eq!(skipped["attempt_count"], 1);
}
