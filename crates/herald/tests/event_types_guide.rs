//! `herald trigger`, and the CLI side of event types that guide (examples, forced deletes,
//! unmatched patterns, a publish's note), against a fake API.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply};
use reqwest::Method;
use serde_json::{Value, json};
use support::real::{ADMIN_TOKEN, Herald, free_port};
use support::{fake_api, herald, herald_with, problem, words};

const SAMPLE: &str = r#"{"event_type":"consent.revoked","source":"example","payload":{"consent_id":"c_1","customer":{"id":"cus_1"}}}"#;

#[tokio::test]
async fn trigger_publishes_the_sample_with_overrides_for_the_tenant() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/event-types/consent.revoked/sample",
        Reply::json(200, SAMPLE),
    );
    api.on(
        Method::POST,
        "/api/v1/events",
        Reply::json(202, r#"{"id":"evt_1","deliveries":1,"duplicate":false}"#),
    );

    let args =
        words("trigger consent.revoked --tenant ten_1 --override customer.id=cus_9 --override n=3");
    let run = herald(&api.base_url(), &args).await;

    assert_eq!(run.code, 0, "{run:?}");
    let requests = api.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        requests[1].json().unwrap(),
        json!({"type": "consent.revoked", "tenant_id": "ten_1",
            "payload": {"consent_id": "c_1", "customer": {"id": "cus_9"}, "n": 3}})
    );
    assert_eq!(run.stdout, "accepted event evt_1 (1 delivery)\n");
    assert!(
        run.stderr
            .contains("the example stored with consent.revoked"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn trigger_against_a_real_server_delivers_a_sample_of_the_schema() {
    let data = tempfile::tempdir().expect("temp dir");
    let work = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::answering(Reply::ok()).await.expect("receiver");
    let server = Herald::start(data.path(), free_port()).await;
    let schema = json!({"type": "object", "required": ["consent_id", "revoked_at"],
        "properties": {"consent_id": {"type": "string"},
            "revoked_at": {"type": "string", "format": "date-time"}}});
    server
        .post(
            "/api/v1/event-types",
            json!({"name": "consent.revoked", "schema": schema}),
        )
        .await;
    let tenant = server
        .post("/api/v1/tenants", json!({"name": "Acme"}))
        .await;
    let tenant_id = tenant["id"].as_str().expect("tenant id");
    server
        .post(
            "/api/v1/subscriptions",
            json!({"tenant_id": tenant_id, "url": receiver.url(), "event_types": ["consent.*"]}),
        )
        .await;

    let args = [
        "trigger",
        "consent.revoked",
        "--tenant",
        tenant_id,
        "--override",
        "consent_id=c_42",
        "--json",
    ];
    let run = herald_with(&server.url, &args, Some(ADMIN_TOKEN), work.path(), None).await;

    assert_eq!(run.code, 0, "{run:?}");
    let answer: Value = serde_json::from_str(&run.stdout).expect("the publish answer");
    assert_eq!(answer["deliveries"], 1, "{answer}");
    let delivered = receiver.wait_for_count(1, Duration::from_secs(15)).await;
    let body = delivered[0].json().expect("a JSON delivery");
    assert_eq!(body["data"]["consent_id"], "c_42", "{body}");
    assert!(body["data"]["revoked_at"].is_string(), "{body}");
    server.kill().await;
}

#[tokio::test]
async fn trigger_prints_the_servers_notes_when_nothing_is_delivered() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/event-types/a.b/sample",
        Reply::json(
            200,
            r#"{"event_type":"a.b","source":"none","payload":{},"note":"'a.b' has neither an example nor a schema"}"#,
        ),
    );
    api.on(
        Method::POST,
        "/api/v1/events",
        Reply::json(
            202,
            r#"{"id":"evt_2","deliveries":0,"duplicate":false,"note":"no tenant has a subscription matching a.b"}"#,
        ),
    );

    let run = herald(&api.base_url(), &["trigger", "a.b"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "accepted event evt_2 (0 deliveries)\n");
    assert!(
        run.stderr
            .contains("note: 'a.b' has neither an example nor a schema")
            && run
                .stderr
                .contains("note: no tenant has a subscription matching a.b"),
        "{}",
        run.stderr
    );
    assert_eq!(api.requests()[1].json().unwrap()["payload"], json!({}));
}

#[tokio::test]
async fn trigger_dry_run_prints_the_payload_and_publishes_nothing() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/event-types/consent.revoked/sample",
        Reply::json(200, SAMPLE),
    );

    let args = words("trigger consent.revoked --dry-run --override consent_id=c_42");
    let run = herald(&api.base_url(), &args).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(api.count(), 1, "only the sample is read");
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        printed,
        json!({"consent_id": "c_42", "customer": {"id": "cus_1"}})
    );
}

#[tokio::test]
async fn trigger_of_an_unknown_type_exits_1_with_the_servers_problem() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/event-types/no.such/sample",
        problem(404, "Not found", "no event type 'no.such' exists"),
    );

    let run = herald(&api.base_url(), &["trigger", "no.such"]).await;

    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("no event type 'no.such' exists"),
        "{}",
        run.stderr
    );
    assert_eq!(api.count(), 1, "nothing is published");
}

#[tokio::test]
async fn event_types_create_sends_the_example() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/event-types",
        Reply::json(
            201,
            r#"{"name":"consent.revoked","example":{"consent_id":"c_1"}}"#,
        ),
    );

    let run = herald(
        &api.base_url(),
        &[
            "event-types",
            "create",
            "consent.revoked",
            "--example",
            r#"{"consent_id":"c_1"}"#,
        ],
    )
    .await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        api.only_request().json().unwrap(),
        json!({"name": "consent.revoked", "example": {"consent_id": "c_1"}})
    );
    assert!(run.stdout.contains("example:"), "{}", run.stdout);
}

#[tokio::test]
async fn event_types_delete_force_asks_the_server_to_force() {
    let api = fake_api().await;
    api.on(
        Method::DELETE,
        "/api/v1/event-types/consent.revoked",
        Reply::status(204),
    );

    let run = herald(
        &api.base_url(),
        &["event-types", "delete", "consent.revoked", "--force"],
    )
    .await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(api.only_request().query.as_deref(), Some("force=true"));
    assert_eq!(run.stdout, "deleted event type consent.revoked\n");
}

#[tokio::test]
async fn event_types_delete_of_a_used_type_exits_1_naming_the_subscriptions() {
    let api = fake_api().await;
    let detail = "the event type 'consent.revoked' is used by 1 subscription (sub_1)";
    api.on(
        Method::DELETE,
        "/api/v1/event-types/consent.revoked",
        problem(409, "Conflict", detail),
    );

    let run = herald(
        &api.base_url(),
        &["event-types", "delete", "consent.revoked"],
    )
    .await;

    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(api.only_request().query, None);
    assert!(run.stderr.contains(detail), "{}", run.stderr);
}

#[tokio::test]
async fn subscriptions_create_allow_unmatched_sends_it_and_prints_the_warnings() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/subscriptions",
        Reply::json(
            201,
            r#"{"id":"sub_1","secret":"whsec_x","warnings":["'billing.paid' matches no registered event type"]}"#,
        ),
    );

    let args = words(concat!(
        "subscriptions create --tenant ten_1 --url https://hooks.example.com/h ",
        "--event-types billing.paid --allow-unmatched",
    ));
    let run = herald(&api.base_url(), &args).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(api.only_request().json().unwrap()["allow_unmatched"], true);
    assert!(
        run.stderr
            .contains("warning: 'billing.paid' matches no registered event type"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("warnings"), "{}", run.stdout);
}

#[tokio::test]
async fn events_publish_prints_why_nothing_was_delivered() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/events",
        Reply::json(
            202,
            r#"{"id":"evt_1","deliveries":0,"duplicate":false,"note":"no subscription matches a.b for tenant ten_1"}"#,
        ),
    );

    let args = words("events publish --type a.b --tenant ten_1 --data {}");
    let run = herald(&api.base_url(), &args).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "accepted event evt_1 (0 deliveries)\n");
    assert!(
        run.stderr
            .contains("note: no subscription matches a.b for tenant ten_1"),
        "{}",
        run.stderr
    );
}
