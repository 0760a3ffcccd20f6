//! `herald.support.requested` goes to the operator tenant only: a subscriber files a support
//! request in the Hub, and the operator tenant's subscription to `herald.*` receives the event
//! while other tenants' subscriptions to `herald.*` (the filer's own, a bystander's) receive
//! nothing: one tenant's request is none of another's business.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use herald_server::Config;
use herald_store::sqlite::SqliteStore;
use herald_store::{Catalog, Store};
use herald_testkit::Receiver;
use reqwest::Method;
use reqwest::header::LOCATION;
use serde_json::Value;
use support::hub::HubSession;
use support::{TestServer, test_config};

const WITHIN: Duration = Duration::from_secs(20);

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("id")
}

/// How many deliveries the subscription has, in any status.
async fn delivery_count(server: &TestServer, subscription: &Value) -> usize {
    let path = format!("/api/v1/deliveries?subscription_id={}", id(subscription));
    let page = server
        .expect(StatusCode::OK, Method::GET, &path, None)
        .await;
    page["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn support_requested_reaches_the_operator_tenant_only_not_another_tenants_herald_subscription()
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
        ..test_config()
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let server = TestServer::start_on_store(store, config).await;

    let operator_desk = Receiver::start().await.expect("receiver");
    let tenants_herald = Receiver::start().await.expect("receiver");
    let endpoint = Receiver::start().await.expect("receiver");
    server.create_event_type("order.created").await;
    let watcher = server
        .subscribe_tenant(operator.id.as_str(), &operator_desk.url(), "herald.*")
        .await;
    let acme = server.create_tenant("Acme").await;
    let acme_orders = server
        .subscribe_tenant(id(&acme), &endpoint.url(), "order.created")
        .await;
    let acme_herald = server
        .subscribe_tenant(id(&acme), &tenants_herald.url(), "herald.*")
        .await;
    let (_, bystander_herald) = server.subscribe(&tenants_herald.url(), "herald.*").await;

    let hub = HubSession::tenant(&server, &acme).await;
    let path = format!("/hub/subscriptions/{}/support", id(&acme_orders));
    let filed = hub.post(&path, &[("message", "Nothing arrives.")]).await;
    assert!(filed.status().is_redirection(), "{}", filed.status());
    let request_path = filed.headers()[LOCATION].to_str().expect("location");
    let request_id = request_path.rsplit('/').next().expect("the request id");

    operator_desk.wait_for_count(1, WITHIN).await;
    let body = operator_desk.requests()[0].json().expect("json");
    assert_eq!(body["type"], "herald.support.requested");
    assert_eq!(body["data"]["support_request_id"], request_id);
    assert_eq!(body["data"]["tenant_id"], id(&acme));
    assert_eq!(delivery_count(&server, &watcher).await, 1);
    // The operator's deliveries are written before the filing answers, in the same pass that
    // would have written any other tenant's: none exists, so none can arrive later.
    assert_eq!(delivery_count(&server, &acme_herald).await, 0);
    assert_eq!(delivery_count(&server, &bystander_herald).await, 0);
    assert_eq!(tenants_herald.requests().len(), 0);
}
