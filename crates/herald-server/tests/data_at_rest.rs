//! Data at rest through the API: a tenant's own retention, set by the admin, and an event
//! whose payload `payload_retention` removed, which reads and redelivers as 410 (never a 500
//! or an empty POST) while its delivery log stays.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use herald_store::Store;
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sqlite::SqliteStore;
use herald_testkit::{Receiver, TestDatabase};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, TestServer, tenant_token, test_config};

#[tokio::test]
async fn the_admin_sets_changes_and_clears_a_tenants_retention() {
    let server = TestServer::start().await;
    let default = server.create_tenant("Default").await;
    assert_eq!(default["retention_seconds"], Value::Null);

    let created = server
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/tenants",
            Some(json!({"name": "Short", "retention_seconds": 86_400})),
        )
        .await;
    assert_eq!(created["retention_seconds"], 86_400);
    let path = format!("/api/v1/tenants/{}", created["id"].as_str().expect("id"));
    let shown = server
        .expect(StatusCode::OK, Method::GET, &path, None)
        .await;
    assert_eq!(shown["retention_seconds"], 86_400);

    let patch = |body: Value| server.call(Method::PATCH, &path, Some(body));
    let (status, forever) = patch(json!({"retention_seconds": 0})).await;
    assert_eq!(
        (status, &forever["retention_seconds"]),
        (StatusCode::OK, &json!(0))
    );
    // A rename leaves the retention as it is.
    let (status, renamed) = patch(json!({"name": "Renamed"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&renamed["name"], &renamed["retention_seconds"]),
        (&json!("Renamed"), &json!(0))
    );
    // JSON Schema's integers include 60.0: schema-driven clients may send it.
    let (status, whole) = patch(json!({"retention_seconds": 60.0})).await;
    assert_eq!(
        (status, &whole["retention_seconds"]),
        (StatusCode::OK, &json!(60))
    );
    let (status, cleared) = patch(json!({"retention_seconds": null})).await;
    assert_eq!(
        (status, &cleared["retention_seconds"]),
        (StatusCode::OK, &Value::Null)
    );

    // Past 100 years, negative, or not a number: a 4xx problem that names the field.
    for bad in [
        json!(3_153_600_001_u64),
        json!(-1),
        json!(1.5),
        json!("30d"),
    ] {
        let (status, problem) = patch(json!({"retention_seconds": bad})).await;
        assert!(status.is_client_error(), "{bad}: {status} {problem}");
        assert!(
            problem.to_string().contains("retention_seconds"),
            "{bad}: {problem}"
        );
    }
    let unchanged = server
        .expect(StatusCode::OK, Method::GET, &path, None)
        .await;
    assert_eq!(unchanged["retention_seconds"], Value::Null);

    // A tenant cannot change its own retention.
    let token = tenant_token(&server, &created).await;
    let (status, _) = server
        .call_as(
            &token,
            Method::PATCH,
            &path,
            Some(json!({"retention_seconds": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The OpenAPI document describes the field, so clients (and the fuzzer) send it right.
    let openapi = server
        .expect(StatusCode::OK, Method::GET, "/api/v1/openapi.json", None)
        .await;
    for schema in ["CreateTenant", "UpdateTenant", "TenantView"] {
        let field = &openapi["components"]["schemas"][schema]["properties"]["retention_seconds"];
        assert!(field.is_object(), "{schema}: {field}");
    }
}

/// A store this test keeps a handle on, with what keeps its database alive.
async fn open_store(
    backend: &Backend,
    dir: &std::path::Path,
) -> (Arc<dyn Store>, Option<TestDatabase>) {
    let keyring = herald_store::conformance::keyring();
    match backend {
        Backend::Sqlite => {
            let store = SqliteStore::open(&dir.join("herald.db"), keyring)
                .await
                .expect("open store");
            (Arc::new(store), None)
        }
        Backend::Postgres(admin_url) => {
            let database = TestDatabase::create_on(admin_url)
                .await
                .expect("a test database");
            let store = PgStore::connect(database.url(), PgOptions::default(), keyring)
                .await
                .expect("connect");
            (Arc::new(store), Some(database))
        }
    }
}

async fn a_removed_payload_reads_and_redelivers_as_410(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _database) = open_store(&backend, dir.path()).await;
    let config = herald_server::config::Config {
        payload_retention: Duration::from_secs(7 * 24 * 3600),
        ..test_config()
    };
    let server = TestServer::start_on_store(Arc::clone(&store), config).await;
    let receiver = Receiver::start().await.expect("receiver");
    let (tenant_id, _, event_id) = server.one_event_to(&receiver.url()).await;
    let delivered = server
        .wait_delivery_status(&event_id, "succeeded", Duration::from_secs(10))
        .await;
    let delivery_id = delivered["id"].as_str().expect("delivery id").to_owned();

    // What the retention task does once the event is older than payload_retention.
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(8);
    let dropped = store.drop_old_payloads(later, 10).await.expect("drop");
    assert_eq!(dropped.events, 1);

    let (status, problem) = server
        .call(Method::GET, &format!("/api/v1/events/{event_id}"), None)
        .await;
    assert_eq!(status, StatusCode::GONE, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .expect("type")
            .ends_with("payload-removed"),
        "{problem}"
    );
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("removed after 7 days by payload_retention"),
        "{detail}"
    );

    // The list still shows the event, marked, and the delivery log is whole.
    let listed = server
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/events?tenant_id={tenant_id}"),
            None,
        )
        .await;
    let event = &listed["data"][0];
    assert_eq!(event["id"], event_id.as_str());
    assert_eq!(
        (&event["payload"], &event["payload_removed"]),
        (&Value::Null, &json!(true))
    );
    let log = server.delivery(&delivery_id).await;
    assert_eq!(log["status"], "succeeded");
    assert_eq!(log["attempts"][0]["response_status"], 200, "{log}");

    // A redelivery has nothing to send: 410, and the receiver gets nothing more.
    let (status, problem) = server
        .call(
            Method::POST,
            &format!("/api/v1/deliveries/{delivery_id}/redeliver"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("payload_retention")),
        "{problem}"
    );
    assert_eq!(receiver.count(), 1);
    let after = server.delivery(&delivery_id).await;
    assert_eq!(after["status"], "succeeded");
}

on_both_stores!(a_removed_payload_reads_and_redelivers_as_410);
