//! Failure notices: a delivery that ends `failed` is mailed to its subscription's contact in a
//! digest (a local SMTP sink stands in for the mail server) and published as
//! `herald.delivery.failed` to the operator tenant's subscriptions only, never to the failing
//! subscription and never in a loop.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use herald_server::Config;
use herald_store::sqlite::SqliteStore;
use herald_store::{Catalog, Store};
use herald_testkit::{Receiver, Reply, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use support::smtp::SmtpSink;
use support::{Backend, TestServer, test_config};

const WITHIN: Duration = Duration::from_secs(20);

/// One retry, so a delivery to a failing endpoint ends `failed` within a moment.
fn quick_failures() -> Config {
    Config {
        retry_schedule: vec![Duration::from_millis(50)],
        ..test_config()
    }
}

/// The deliveries of one subscription, optionally in one status.
async fn deliveries(
    server: &TestServer,
    subscription_id: &str,
    status: Option<&str>,
) -> Vec<Value> {
    let mut path = format!("/api/v1/deliveries?subscription_id={subscription_id}&limit=100");
    if let Some(status) = status {
        path.push_str(&format!("&status={status}"));
    }
    let value = server
        .expect(StatusCode::OK, Method::GET, &path, None)
        .await;
    value["data"].as_array().cloned().unwrap_or_default()
}

async fn wait_deliveries(server: &TestServer, subscription_id: &str, status: &str, count: usize) {
    let what = format!("{count} {status} deliveries to {subscription_id}");
    herald_testkit::wait_for(&what, WITHIN, || async {
        (deliveries(server, subscription_id, Some(status))
            .await
            .len()
            >= count)
            .then_some(())
    })
    .await;
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

on_both_stores!(several_failures_within_the_hour_make_one_digest_and_successes_none);

async fn several_failures_within_the_hour_make_one_digest_and_successes_none(backend: Backend) {
    let sink = SmtpSink::start().await;
    let config = Config {
        smtp_url: Some(sink.url()),
        notice_from: Some("herald@example.com".to_owned()),
        notice_digest_interval: Duration::from_secs(3600),
        // Long enough for the three failures below (a few tens of ms apart) to gather.
        notice_digest_delay: Duration::from_secs(3),
        ..quick_failures()
    };
    let server = TestServer::start_on(backend, config).await;
    let failing = Receiver::answering(Reply::status(500))
        .await
        .expect("receiver");
    let healthy = Receiver::start().await.expect("receiver");
    server.create_event_type("order.created").await;
    let tenant = server.create_tenant("Acme").await;
    let tenant_id = tenant["id"].as_str().expect("tenant id");
    let broken = server
        .subscribe_with(
            tenant_id,
            &failing.url(),
            "order.created",
            json!({"contact_email": "ops@acme.example"}),
        )
        .await;
    let fine = server
        .subscribe_with(
            tenant_id,
            &healthy.url(),
            "order.created",
            json!({"contact_email": "fine@acme.example"}),
        )
        .await;
    server.publish_numbered("order.created", 3, tenant_id).await;

    wait_deliveries(&server, &id(&broken), "failed", 3).await;
    wait_deliveries(&server, &id(&fine), "succeeded", 3).await;
    assert!(
        sink.mails().is_empty(),
        "the failures must all happen within the gathering delay for this test to mean anything"
    );
    wait_until("a failure digest", WITHIN, || !sink.mails().is_empty()).await;

    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["ops@acme.example".to_owned()]);
    assert!(
        mail.data.contains("Subject: Herald: 3 deliveries failed"),
        "{}",
        mail.data
    );
    for delivery in deliveries(&server, &id(&broken), None).await {
        let delivery_id = delivery["id"].as_str().expect("delivery id");
        assert!(
            mail.data.contains(delivery_id),
            "{delivery_id} missing: {}",
            mail.data
        );
    }
    // The subscription is unchanged by its failures.
    let after = server
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/subscriptions/{}", id(&broken)),
            None,
        )
        .await;
    assert_eq!(after["status"], "active");
}

#[tokio::test]
async fn delivery_failed_reaches_the_operator_tenant_only_never_the_failing_subscription_nor_a_loop()
 {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        &dir.path().join("herald.db"),
        herald_store::conformance::keyring(),
    )
    .await
    .expect("store");
    let operator = herald_store::conformance::tenant("Operator");
    store
        .create_tenant(&operator)
        .await
        .expect("operator tenant");
    let config = Config {
        operator_tenant: Some(operator.id.as_str().to_owned()),
        ..quick_failures()
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let server = TestServer::start_on_store(store, config).await;
    let operator_id = operator.id.as_str();

    let failing = Receiver::answering(Reply::status(500))
        .await
        .expect("receiver");
    let watching = Receiver::start().await.expect("receiver");
    let other = Receiver::start().await.expect("receiver");
    server.create_event_type("order.created").await;
    // The operator's watcher, and an operator subscription that fails and also asks for
    // failures: it must never hear of its own, and its failing herald.* deliveries emit
    // nothing.
    let watcher = server
        .subscribe_with(
            operator_id,
            &watching.url(),
            "herald.delivery.failed",
            json!({}),
        )
        .await;
    let operator_broken = server
        .subscribe_with(
            operator_id,
            &failing.url(),
            "order.created",
            json!({"event_types": ["order.created", "herald.delivery.failed"]}),
        )
        .await;
    // Another tenant asking for every herald.* event gets none of them.
    let (_, _) = server.subscribe(&other.url(), "herald.*").await;
    let (customer, customer_broken) = server.subscribe(&failing.url(), "order.created").await;

    server
        .publish("order.created", json!({"n": 1}), Some(&customer))
        .await;
    server
        .publish("order.created", json!({"n": 2}), Some(operator_id))
        .await;
    watching.wait_for_count(2, WITHIN).await;
    // The operator's broken subscription has now failed its order and the notice of the
    // customer's failure: that herald.* failure must emit nothing.
    wait_deliveries(&server, &id(&operator_broken), "failed", 2).await;
    // A later failure: once its notice is in, any notice of the herald.* failure (handed to
    // the notice task before it) would be in the store too.
    server
        .publish("order.created", json!({"n": 3}), Some(&customer))
        .await;
    watching.wait_for_count(3, WITHIN).await;
    wait_deliveries(&server, &id(&watcher), "succeeded", 3).await;
    assert_eq!(deliveries(&server, &id(&watcher), None).await.len(), 3);

    let failed_subscriptions: Vec<String> = watching
        .requests()
        .iter()
        .map(|request| {
            let body = request.json().expect("json");
            assert_eq!(body["type"], "herald.delivery.failed");
            assert_eq!(body["data"]["event_type"], "order.created");
            body["data"]["subscription_id"]
                .as_str()
                .expect("subscription")
                .to_owned()
        })
        .collect();
    let mut sorted = failed_subscriptions.clone();
    sorted.sort();
    let mut expected = vec![
        id(&customer_broken),
        id(&customer_broken),
        id(&operator_broken),
    ];
    expected.sort();
    assert_eq!(sorted, expected);
    // The broken operator subscription heard of the customer's failures, never its own.
    for request in failing.requests() {
        let body = request.json().expect("json");
        if body["type"] == "herald.delivery.failed" {
            assert_eq!(
                body["data"]["subscription_id"],
                id(&customer_broken).as_str()
            );
        }
    }
    assert_eq!(other.count(), 0, "another tenant saw an operational event");
}
