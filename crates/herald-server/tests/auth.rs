//! Tenant credentials and the isolation of tenants from each other.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{TestServer, tenant_token};

#[tokio::test]
async fn a_tenant_token_sees_and_changes_only_its_own_tenant() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    let mine = server.create_tenant("mine").await;
    let theirs = server.create_tenant("theirs").await;
    let their_sub = server
        .subscribe_tenant(
            theirs["id"].as_str().unwrap(),
            "http://127.0.0.1:9/x",
            "a.b",
        )
        .await;
    let token = tenant_token(&server, &mine).await;

    // Creating without tenant_id implies the token's tenant.
    let (status, own_sub) = server
        .call_as(
            &token,
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": "http://127.0.0.1:9/y", "event_types": ["a.*"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own_sub}");
    assert_eq!(own_sub["tenant_id"], mine["id"]);

    let (status, list) = server
        .call_as(&token, Method::GET, "/api/v1/subscriptions", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, vec![own_sub["id"].clone()]);

    let path = format!(
        "/api/v1/subscriptions/{}",
        their_sub["id"].as_str().unwrap()
    );
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = server.call_as(&token, method, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = server
        .call_as(
            &token,
            Method::PATCH,
            &path,
            Some(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Admin-only operations.
    let (status, _) = server
        .call_as(&token, Method::GET, "/api/v1/tenants", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .call_as(
            &token,
            Method::POST,
            "/api/v1/events",
            Some(json!({"type": "a.b", "payload": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Everyone reads event types.
    let (status, _) = server
        .call_as(&token, Method::GET, "/api/v1/event-types", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_client_credentials_are_refused_with_an_oauth_error() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("t").await;
    let response = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(tenant["client_id"].as_str().unwrap(), Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let response = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(
            tenant["client_id"].as_str().unwrap(),
            tenant["client_secret"].as_str(),
        )
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let server = TestServer::start().await;
    let doc = server
        .expect(StatusCode::OK, Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/tenants", "post"),
        ("/api/v1/tenants/{id}", "patch"),
        ("/api/v1/event-types/{name}", "delete"),
        ("/api/v1/subscriptions", "get"),
        ("/api/v1/subscriptions/{id}/test", "post"),
        ("/api/v1/subscriptions/{id}/secret/rotate", "post"),
        ("/api/v1/subscriptions/{id}/recover", "post"),
        ("/api/v1/recoveries/{id}", "get"),
        ("/api/v1/events", "post"),
        ("/api/v1/events/{id}", "get"),
        ("/api/v1/deliveries", "get"),
        ("/api/v1/deliveries/{id}/redeliver", "post"),
        ("/oauth2/token", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    server.publish("a.b", json!({}), None).await;
    for path in ["/healthz", "/readyz"] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let text = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for metric in [
        "herald_events_accepted_total 1",
        "herald_deliveries_pending",
        "herald_oldest_pending_delivery_age_seconds",
        "herald_attempt_duration_seconds",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
}
