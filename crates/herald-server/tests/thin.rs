//! Thin payloads: a subscription with `payload_mode: thin` receives a signed pointer to the
//! event (`{type, timestamp, id, url}`), and the tenant's token reads the event at `url`.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use herald_signature::{Secret, Verifier};
use herald_testkit::Receiver;
use reqwest::Method;
use serde_json::{Value, json};
use support::{TestServer, tenant_token};

#[tokio::test]
async fn thin_delivery_points_to_the_event_and_the_tenant_token_reads_it() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("consent.revoked").await;
    let tenant = server.create_tenant("Acme").await;
    let tenant_id = tenant["id"].as_str().expect("tenant id");
    let subscription = server
        .subscribe_with(
            tenant_id,
            &receiver.url(),
            "consent.revoked",
            json!({"payload_mode": "thin"}),
        )
        .await;
    assert_eq!(subscription["payload_mode"], "thin");
    let event_id = server
        .publish(
            "consent.revoked",
            json!({"consent_id": "c-42"}),
            Some(tenant_id),
        )
        .await;

    let request = receiver
        .wait_for_count(1, Duration::from_secs(10))
        .await
        .remove(0);
    let body: Value = request.json().expect("a JSON body");
    let fields: Vec<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields.len(), 4, "{body}");
    assert_eq!(body["type"], "consent.revoked");
    assert_eq!(body["id"], event_id.as_str());
    assert!(body["timestamp"].is_string(), "{body}");
    assert!(
        !request.text().contains("c-42"),
        "a thin body carries no payload: {}",
        request.text()
    );
    let url = body["url"].as_str().expect("url");
    assert_eq!(url, format!("{}/api/v1/events/{event_id}", server.base));

    // Signed like any body.
    let secret = Secret::parse(subscription["secret"].as_str().expect("secret")).expect("secret");
    let timestamp = request.header("webhook-timestamp").expect("timestamp");
    Verifier::new(vec![secret.into()])
        .verify(
            &event_id,
            timestamp,
            request.header("webhook-signature").expect("signature"),
            &request.body,
            timestamp.parse().expect("seconds"),
        )
        .expect("the thin body verifies");

    // The tenant's own token reads the event at the URL; no token reads nothing.
    let token = tenant_token(&server, &tenant).await;
    let read = server
        .client
        .get(url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET url");
    assert_eq!(read.status(), StatusCode::OK);
    let event: Value = read.json().await.expect("event JSON");
    assert_eq!(event["payload"], json!({"consent_id": "c-42"}));
    let anonymous = server.client.get(url).send().await.expect("GET url");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn full_is_the_default_payload_mode_and_a_bad_mode_is_refused() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    let (tenant_id, subscription) = server
        .subscribe("https://receiver.example/hook", "a.b")
        .await;
    assert_eq!(subscription["payload_mode"], "full");
    let (status, problem) = server
        .call(
            Method::POST,
            "/api/v1/subscriptions",
            Some(
                json!({"tenant_id": tenant_id, "url": "https://receiver.example/hook",
                        "event_types": ["a.b"], "payload_mode": "skinny"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("payload_mode")),
        "{problem}"
    );
}
