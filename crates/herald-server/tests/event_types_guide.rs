//! Event types that guide: patterns that match nothing are refused with suggestions, used
//! types are not deleted by mistake, a publish that reaches nobody says why, and each type
//! offers a sample payload (its example, or one generated from its schema).

mod support;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, TestServer, test_config};

async fn server(backend: Backend) -> TestServer {
    TestServer::start_on(backend, test_config()).await
}

fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().unwrap_or_default()
}

/// Registers `consent.revoked`, `consent.granted` and a tenant; returns the tenant id.
async fn consent_types_and_tenant(server: &TestServer) -> String {
    server.create_event_type("consent.revoked").await;
    server.create_event_type("consent.granted").await;
    let tenant = server.create_tenant("Acme").await;
    tenant["id"].as_str().expect("tenant id").to_owned()
}

fn subscription(tenant: &str, patterns: &[&str]) -> Value {
    json!({"tenant_id": tenant, "url": "http://127.0.0.1:9/hook", "event_types": patterns})
}

async fn unmatched_patterns_are_refused_with_suggestions(backend: Backend) {
    let server = server(backend).await;
    let tenant = consent_types_and_tenant(&server).await;
    let path = "/api/v1/subscriptions";

    let (status, problem) = server
        .call(
            Method::POST,
            path,
            Some(subscription(&tenant, &["consent.revokd"])),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], "urn:herald:problem:unknown-event-type");
    let text = detail(&problem);
    assert!(
        text.contains("'consent.revokd' matches no registered event type"),
        "{text}"
    );
    assert!(text.contains("did you mean 'consent.revoked'"), "{text}");
    assert!(text.contains("--allow-unmatched"), "{text}");

    let body = subscription(&tenant, &["consent.revoked", "consnt.*"]);
    let (status, problem) = server.call(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let text = detail(&problem);
    assert!(
        text.contains("'consnt.*'") && text.contains("'consent.*'"),
        "{text}"
    );
    assert!(!text.contains("'consent.revoked' matches"), "{text}");
}

async fn wildcards_match_by_registered_prefix(backend: Backend) {
    let server = server(backend).await;
    let tenant = consent_types_and_tenant(&server).await;
    for patterns in [&["consent.*"][..], &["*"], &["cons*"], &["consent.revoked"]] {
        let created = server
            .expect(
                StatusCode::CREATED,
                Method::POST,
                "/api/v1/subscriptions",
                Some(subscription(&tenant, patterns)),
            )
            .await;
        assert!(created.get("warnings").is_none(), "{created}");
    }
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/subscriptions",
            Some(subscription(&tenant, &["maintenance.*"])),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn allow_unmatched_accepts_with_a_warning_on_create_and_update(backend: Backend) {
    let server = server(backend).await;
    let tenant = consent_types_and_tenant(&server).await;
    let mut body = subscription(&tenant, &["consent.revoked", "billing.paid"]);
    body["allow_unmatched"] = json!(true);
    let created = server
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/subscriptions",
            Some(body),
        )
        .await;
    assert_eq!(
        created["event_types"],
        json!(["consent.revoked", "billing.paid"])
    );
    let warnings = created["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{created}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap_or_default()
            .contains("'billing.paid'")
    );

    let path = format!(
        "/api/v1/subscriptions/{}",
        created["id"].as_str().unwrap_or_default()
    );
    let (status, problem) = server
        .call(
            Method::PATCH,
            &path,
            Some(json!({"event_types": ["consent.grantd"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        detail(&problem).contains("did you mean 'consent.granted'"),
        "{problem}"
    );
    let updated = server
        .expect(
            StatusCode::OK,
            Method::PATCH,
            &path,
            Some(json!({"event_types": ["consent.grantd"], "allow_unmatched": true})),
        )
        .await;
    assert_eq!(updated["event_types"], json!(["consent.grantd"]));
    assert_eq!(updated["warnings"].as_array().map(Vec::len), Some(1));
}

async fn deleting_a_used_event_type_is_refused_unless_forced(backend: Backend) {
    let server = server(backend).await;
    let tenant = consent_types_and_tenant(&server).await;
    let exact = server
        .subscribe_tenant(&tenant, "http://127.0.0.1:9/a", "consent.revoked")
        .await;
    let wildcard = server
        .subscribe_tenant(&tenant, "http://127.0.0.1:9/b", "consent.*")
        .await;

    let (status, problem) = server
        .call(Method::DELETE, "/api/v1/event-types/consent.revoked", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let text = detail(&problem);
    assert!(text.contains("used by 2 subscriptions"), "{text}");
    for sub in [&exact, &wildcard] {
        assert!(text.contains(sub["id"].as_str().unwrap_or("?")), "{text}");
    }
    assert!(
        text.contains("herald event-types delete consent.revoked --force"),
        "{text}"
    );
    server
        .expect(
            StatusCode::OK,
            Method::GET,
            "/api/v1/event-types/consent.revoked",
            None,
        )
        .await;

    server
        .expect(
            StatusCode::NO_CONTENT,
            Method::DELETE,
            "/api/v1/event-types/consent.revoked?force=true",
            None,
        )
        .await;
    server
        .expect(
            StatusCode::NOT_FOUND,
            Method::GET,
            "/api/v1/event-types/consent.revoked",
            None,
        )
        .await;
    let path = format!(
        "/api/v1/subscriptions/{}",
        exact["id"].as_str().unwrap_or_default()
    );
    server
        .expect(StatusCode::OK, Method::GET, &path, None)
        .await;
}

async fn an_unused_event_type_deletes_at_once(backend: Backend) {
    let server = server(backend).await;
    server.create_event_type("maintenance.planned_outage").await;
    server.create_event_type("consent.revoked").await;
    server
        .subscribe("http://127.0.0.1:9/a", "consent.revoked")
        .await;
    server
        .expect(
            StatusCode::NO_CONTENT,
            Method::DELETE,
            "/api/v1/event-types/maintenance.planned_outage",
            None,
        )
        .await;
}

async fn an_example_must_satisfy_the_schema_and_is_the_sample(backend: Backend) {
    let server = server(backend).await;
    let schema = json!({"type": "object", "required": ["consent_id"],
        "properties": {"consent_id": {"type": "string"}}});
    let (status, problem) = server
        .call(
            Method::POST,
            "/api/v1/event-types",
            Some(json!({"name": "consent.revoked", "schema": schema, "example": {"other": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        detail(&problem).contains("the example does not satisfy the schema"),
        "{problem}"
    );

    let example = json!({"consent_id": "c_42"});
    let created = server
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/event-types",
            Some(json!({"name": "consent.revoked", "schema": schema, "example": example})),
        )
        .await;
    assert_eq!(created["example"], example);
    let shown = server
        .expect(
            StatusCode::OK,
            Method::GET,
            "/api/v1/event-types/consent.revoked",
            None,
        )
        .await;
    assert_eq!(shown["example"], example);

    let stricter = json!({"type": "object", "required": ["reason"]});
    let (status, _) = server
        .call(
            Method::PATCH,
            "/api/v1/event-types/consent.revoked",
            Some(json!({"schema": stricter})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a schema that breaks the example"
    );

    let sample = server
        .expect(
            StatusCode::OK,
            Method::GET,
            "/api/v1/event-types/consent.revoked/sample",
            None,
        )
        .await;
    assert_eq!(
        sample,
        json!({"event_type": "consent.revoked", "source": "example", "payload": example})
    );

    let cleared = server
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/api/v1/event-types/consent.revoked",
            Some(json!({"example": null})),
        )
        .await;
    assert_eq!(cleared["example"], Value::Null);
}

#[tokio::test]
async fn a_sample_generated_from_the_schema_is_accepted_by_publish() {
    let server = TestServer::start().await;
    let schema = json!({
        "type": "object",
        "required": ["consent_id", "revoked_at", "reason"],
        "properties": {
            "consent_id": {"type": "string", "minLength": 3},
            "revoked_at": {"type": "string", "format": "date-time"},
            "reason": {"enum": ["customer_request", "expired"]}
        }
    });
    server
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/event-types",
            Some(json!({"name": "consent.revoked", "schema": schema})),
        )
        .await;
    let sample = server
        .expect(
            StatusCode::OK,
            Method::GET,
            "/api/v1/event-types/consent.revoked/sample",
            None,
        )
        .await;
    assert_eq!(sample["source"], "schema");
    assert!(sample.get("note").is_none(), "{sample}");
    assert_eq!(sample["payload"]["reason"], "customer_request");
    server
        .publish_body(json!({"type": "consent.revoked", "payload": sample["payload"]}))
        .await;
}

#[tokio::test]
async fn a_type_without_example_or_schema_samples_an_empty_object_with_a_note() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    let sample = server
        .expect(
            StatusCode::OK,
            Method::GET,
            "/api/v1/event-types/a.b/sample",
            None,
        )
        .await;
    assert_eq!(
        (&sample["source"], &sample["payload"]),
        (&json!("none"), &json!({}))
    );
    let note = sample["note"].as_str().unwrap_or_default();
    assert!(note.contains("--example"), "{sample}");
    let missing = server
        .expect(
            StatusCode::NOT_FOUND,
            Method::GET,
            "/api/v1/event-types/no.such/sample",
            None,
        )
        .await;
    assert!(
        detail(&missing).contains("register it with `herald event-types create no.such`"),
        "{missing}"
    );
}

#[tokio::test]
async fn a_publish_without_deliveries_says_why() {
    let server = TestServer::start().await;
    server.create_event_type("consent.revoked").await;
    server.create_event_type("consent.granted").await;
    let (tenant, _) = server
        .subscribe("http://127.0.0.1:9/a", "consent.granted")
        .await;

    let answer = server
        .publish_body(json!({"type": "consent.revoked", "payload": {}, "tenant_id": tenant}))
        .await;
    assert_eq!(answer["deliveries"], 0);
    let note = answer["note"].as_str().unwrap_or_default();
    assert!(
        note.contains(&format!(
            "no subscription matches consent.revoked for tenant {tenant}"
        )),
        "{answer}"
    );
    assert!(note.contains("herald subscriptions create"), "{note}");

    let broadcast = server
        .publish_body(json!({"type": "consent.revoked", "payload": {}}))
        .await;
    let note = broadcast["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("no tenant has a subscription matching consent.revoked"),
        "{broadcast}"
    );

    let delivered = server
        .publish_body(json!({"type": "consent.granted", "payload": {}, "tenant_id": tenant}))
        .await;
    assert_eq!(delivered["deliveries"], 1);
    assert!(delivered.get("note").is_none(), "{delivered}");
}

#[tokio::test]
async fn publishing_an_unknown_type_names_the_cli_command_and_the_route() {
    let server = TestServer::start().await;
    let (status, problem) = server
        .call(
            Method::POST,
            "/api/v1/events",
            Some(json!({"type": "no.such", "payload": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = detail(&problem);
    assert!(
        text.contains("`herald event-types create no.such`")
            && text.contains("POST /api/v1/event-types"),
        "{text}"
    );
}

on_both_stores!(
    unmatched_patterns_are_refused_with_suggestions,
    wildcards_match_by_registered_prefix,
    allow_unmatched_accepts_with_a_warning_on_create_and_update,
    deleting_a_used_event_type_is_refused_unless_forced,
    an_unused_event_type_deletes_at_once,
    an_example_must_satisfy_the_schema_and_is_the_sample,
);
