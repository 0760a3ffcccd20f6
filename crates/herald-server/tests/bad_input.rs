//! Bad input gets the right 4xx with a problem body that says what to fix (promise 8).

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestServer, test_config};

fn problem_type(value: &Value) -> &str {
    value["type"].as_str().unwrap_or("")
}

async fn raw_post(
    server: &TestServer,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, String, Value) {
    let mut request = server
        .client
        .post(format!("{}{path}", server.base))
        .bearer_auth(support::ADMIN_TOKEN)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let server = TestServer::start().await;
    let (status, content_type, body) = raw_post(
        &server,
        "/api/v1/tenants",
        Some("application/json"),
        "{\"name\": ",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem_type(&body), "urn:herald:problem:malformed-json");
    assert_eq!(body["status"], 400);
}

#[tokio::test]
async fn missing_and_unknown_fields_are_422_naming_the_field() {
    let server = TestServer::start().await;
    let (status, body) = server
        .call(Method::POST, "/api/v1/tenants", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&body), "urn:herald:problem:validation");
    assert!(body["detail"].as_str().unwrap().contains("name"), "{body}");

    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(json!({"name": "a", "colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_without_json_content_type_is_415() {
    let server = TestServer::start().await;
    let (status, _, body) = raw_post(&server, "/api/v1/tenants", None, "{\"name\":\"a\"}").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        problem_type(&body),
        "urn:herald:problem:unsupported-media-type"
    );
}

#[tokio::test]
async fn non_https_and_blocked_urls_are_refused_outside_dev_mode() {
    let mut config = test_config();
    config.dev = false;
    let server = TestServer::start_with(config).await;
    server.create_event_type("a.b").await;
    let tenant = server.create_tenant("t").await;
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://10.1.2.3/hook",
        "https://localhost/hook",
        "https://user:pw@example.com/hook",
        "ftp://example.com/",
        "not a url",
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                "/api/v1/subscriptions",
                Some(json!({"tenant_id": tenant["id"], "url": url, "event_types": ["a.b"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(
            problem_type(&body),
            "urn:herald:problem:invalid-url",
            "{url}"
        );
    }
}

#[tokio::test]
async fn allow_networks_admits_an_internal_address() {
    let mut config = test_config();
    config.dev = false;
    config.allow_networks = vec!["10.1.0.0/16".parse().unwrap()];
    let server = TestServer::start_with(config).await;
    server.create_event_type("a.b").await;
    let tenant = server.create_tenant("t").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"tenant_id": tenant["id"], "url": "https://10.1.2.3/hook", "event_types": ["a.b"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn unknown_event_types_are_refused_when_publishing_and_subscribing() {
    let server = TestServer::start().await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/events",
            Some(json!({"type": "no.such", "payload": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&body), "urn:herald:problem:unknown-event-type");

    let tenant = server.create_tenant("t").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"tenant_id": tenant["id"], "url": "http://127.0.0.1:9/", "event_types": ["no.such"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&body), "urn:herald:problem:unknown-event-type");
}

#[tokio::test]
async fn a_payload_failing_its_schema_is_422_naming_the_path() {
    let server = TestServer::start().await;
    let schema = json!({
        "type": "object",
        "required": ["user"],
        "properties": {"user": {"type": "object", "properties": {"id": {"type": "string"}}}}
    });
    server
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/event-types",
            Some(json!({"name": "consent.revoked", "schema": schema})),
        )
        .await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/events",
            Some(json!({"type": "consent.revoked", "payload": {"user": {"id": 7}}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&body), "urn:herald:problem:schema-validation");
    assert_eq!(body["pointer"], "/user/id");
    assert!(body["detail"].as_str().unwrap().contains("/user/id"));

    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/events",
            Some(json!({"type": "consent.revoked", "payload": {"user": {"id": "7"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn an_invalid_schema_is_refused() {
    let server = TestServer::start().await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/event-types",
            Some(json!({"name": "a.b", "schema": {"type": 12}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&body), "urn:herald:problem:validation");
}

#[tokio::test]
async fn a_payload_over_the_default_limit_is_413() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    let big = "x".repeat(300 * 1024);
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/events",
            Some(json!({"type": "a.b", "payload": {"blob": big}})),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem_type(&body), "urn:herald:problem:payload-too-large");

    let just_under = "x".repeat(200 * 1024);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/events",
            Some(json!({"type": "a.b", "payload": {"blob": just_under}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn bad_cursors_limits_and_filters_are_400() {
    let server = TestServer::start().await;
    for path in [
        "/api/v1/events?cursor=garbage",
        "/api/v1/deliveries?cursor=evt_00000000000000000000000000000000",
        "/api/v1/subscriptions?limit=0",
        "/api/v1/tenants?limit=100000",
        "/api/v1/deliveries?status=exploded",
        "/api/v1/events?limit=abc",
        "/api/v1/events?unknown=1",
    ] {
        let (status, body) = server.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(
            problem_type(&body).starts_with("urn:herald:problem:invalid-"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let server = TestServer::start().await;
    for path in [
        "/api/v1/tenants/ten_00000000000000000000000000000000",
        "/api/v1/subscriptions/sub_00000000000000000000000000000000",
        "/api/v1/events/evt_00000000000000000000000000000000",
        "/api/v1/deliveries/dlv_00000000000000000000000000000000",
        "/api/v1/deliveries/not-an-id",
        "/api/v1/event-types/no.such",
        "/api/v1/nothing-here",
    ] {
        let (status, body) = server.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            problem_type(&body).starts_with("urn:herald:problem:"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn wrong_missing_and_expired_tokens_are_401() {
    let mut config = test_config();
    config.token_lifetime = std::time::Duration::ZERO;
    let server = TestServer::start_with(config).await;
    let (status, body) = server
        .call_as("wrong-token", Method::GET, "/api/v1/tenants", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem_type(&body), "urn:herald:problem:unauthorized");

    let response = server
        .client
        .get(format!("{}/api/v1/tenants", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");

    let tenant = server.create_tenant("t").await;
    let token = support::tenant_token(&server, &tenant).await;
    let (status, body) = server
        .call_as(&token, Method::GET, "/api/v1/subscriptions", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired token: {body}");
}

#[tokio::test]
async fn garbage_bodies_never_cause_a_5xx() {
    let server = TestServer::start().await;
    let bodies = [
        "",
        "null",
        "[]",
        "{",
        "\"text\"",
        "{\"type\":1}",
        "{\"payload\":{}}",
        "\u{0}\u{1}",
        "{\"url\":[]}",
    ];
    for path in [
        "/api/v1/tenants",
        "/api/v1/event-types",
        "/api/v1/subscriptions",
        "/api/v1/events",
        "/oauth2/token",
        "/api/v1/deliveries/dlv_00000000000000000000000000000000/redeliver",
        "/api/v1/subscriptions/sub_00000000000000000000000000000000/test",
    ] {
        for body in bodies {
            let (status, content_type, _) =
                raw_post(&server, path, Some("application/json"), body).await;
            assert!(
                status.is_client_error(),
                "{path} with {body:?} gave {status}"
            );
            assert_eq!(
                content_type, "application/problem+json",
                "{path} with {body:?}"
            );
        }
    }
}
