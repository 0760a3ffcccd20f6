//! What each client command sends to the API and prints from its answer,
//! against a fake API.

mod support;

use herald_testkit::Reply;
use reqwest::Method;
use serde_json::json;
use support::{TOKEN, fake_api, herald, herald_with, words};

#[tokio::test]
async fn subscriptions_create_sends_every_given_field() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/subscriptions",
        Reply::json(
            201,
            r#"{"id":"sub_1","secret":"whsec_x","status":"active"}"#,
        ),
    );

    let args = words(concat!(
        "subscriptions create --tenant ten_1 --url https://hooks.example.com/h ",
        "--event-types consent.revoked,maintenance.* --header x-team=billing ",
        "--rate-limit 5 --max-in-flight 2 --contact-email ops@example.com",
    ));
    let run = herald(&api.base_url(), &args).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        api.only_request().json().unwrap(),
        json!({
            "tenant_id": "ten_1",
            "url": "https://hooks.example.com/h",
            "event_types": ["consent.revoked", "maintenance.*"],
            "headers": {"x-team": "billing"},
            "rate_limit_per_second": 5,
            "max_in_flight": 2,
            "contact_email": "ops@example.com",
        })
    );
    assert!(
        run.stdout.contains("secret:") && run.stdout.contains("whsec_x"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn subscriptions_pause_patches_only_the_status() {
    let api = fake_api().await;
    api.on(
        Method::PATCH,
        "/api/v1/subscriptions/sub_1",
        Reply::json(200, r#"{"id":"sub_1","status":"paused"}"#),
    );

    let run = herald(&api.base_url(), &["subscriptions", "pause", "sub_1"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    let request = api.only_request();
    assert_eq!(
        (&request.method, request.path.as_str()),
        (&Method::PATCH, "/api/v1/subscriptions/sub_1")
    );
    assert_eq!(request.json().unwrap(), json!({"status": "paused"}));
}

#[tokio::test]
async fn subscriptions_test_with_a_failed_attempt_exits_4_and_names_the_step() {
    let api = fake_api().await;
    let body = r#"{"succeeded":false,"event_id":"evt_t","delivery_id":"dlv_t","attempt":{"error":"connect","error_message":"connection refused by 203.0.113.9:443","response_status":null,"duration_ms":12}}"#;
    api.on(
        Method::POST,
        "/api/v1/subscriptions/sub_1/test",
        Reply::json(200, body),
    );

    let run = herald(&api.base_url(), &["subscriptions", "test", "sub_1"]).await;

    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stdout.contains("failed at step `connect`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("connection refused by 203.0.113.9:443"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn events_publish_sends_the_payload_file_byte_for_byte() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/events",
        Reply::json(202, r#"{"id":"evt_1","deliveries":2}"#),
    );
    let dir = tempfile::tempdir().unwrap();
    let payload = r#"{"z": 1.50, "a": [1,2]}"#;
    std::fs::write(dir.path().join("payload.json"), format!("{payload}\n")).unwrap();

    let args = words(concat!(
        "events publish --type consent.revoked --data @payload.json ",
        "--tenant ten_1 --idempotency-key k1",
    ));
    let run = herald_with(&api.base_url(), &args, Some(TOKEN), dir.path(), None).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "accepted event evt_1 (2 deliveries)\n");
    let request = api.only_request();
    assert_eq!(request.path, "/api/v1/events");
    assert!(
        request
            .text()
            .contains(r#""payload":{"z": 1.50, "a": [1,2]}"#),
        "{}",
        request.text()
    );
    assert_eq!(
        request.json().unwrap(),
        json!({"type": "consent.revoked", "payload": {"z": 1.50, "a": [1, 2]}, "tenant_id": "ten_1", "idempotency_key": "k1"})
    );
}

#[tokio::test]
async fn events_publish_reads_the_payload_from_stdin() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/events",
        Reply::json(202, r#"{"id":"evt_2","deliveries":[]}"#),
    );
    let dir = tempfile::tempdir().unwrap();

    let args = words("events publish --type maintenance.planned_outage");
    let run = herald_with(
        &api.base_url(),
        &args,
        Some(TOKEN),
        dir.path(),
        Some(r#"{"window":"PT2H"}"#),
    )
    .await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        api.only_request().json().unwrap(),
        json!({"type": "maintenance.planned_outage", "payload": {"window": "PT2H"}})
    );
}

#[tokio::test]
async fn list_sends_filters_and_paging_and_prints_the_next_cursor() {
    let api = fake_api().await;
    let page = r#"{"data":[{"id":"dlv_1","status":"failed","attempt_count":4,"event_type":"a.b","event_id":"evt_1","subscription_id":"sub_1","next_attempt_at":null}],"next_cursor":"c2"}"#;
    api.on(Method::GET, "/api/v1/deliveries", Reply::json(200, page));

    let args = words("deliveries list --subscription sub_1 --status failed --limit 1 --cursor c1");
    let run = herald(&api.base_url(), &args).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        api.only_request().query.as_deref(),
        Some("subscription_id=sub_1&status=failed&limit=1&cursor=c1")
    );
    let mut lines = run.stdout.lines();
    assert!(
        lines.next().unwrap().starts_with("ID     STATUS  ATTEMPTS"),
        "{}",
        run.stdout
    );
    assert!(
        lines.next().unwrap().starts_with("dlv_1  failed  4"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("--cursor c2"), "{}", run.stderr);
}

#[tokio::test]
async fn deliveries_show_prints_the_delivery_and_a_table_of_its_attempts() {
    let api = fake_api().await;
    let delivery = json!({
        "id": "dlv_1", "status": "succeeded", "event_id": "evt_1",
        "attempts": [
            {"id": "att_1", "started_at": "t1", "trigger": "scheduled", "response_status": 500, "duration_ms": 30, "error": "status", "error_message": "HTTP 500"},
            {"id": "att_2", "started_at": "t2", "trigger": "redelivery", "response_status": 200, "duration_ms": 12, "error": null, "error_message": null},
        ],
    });
    api.on(
        Method::GET,
        "/api/v1/deliveries/dlv_1",
        Reply::json(200, delivery.to_string()),
    );

    let run = herald(&api.base_url(), &["deliveries", "show", "dlv_1"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("status:   succeeded"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("att_1"),
        "attempts shown once, as a table: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("t1       scheduled   500     30  status  HTTP 500"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("t2       redelivery  200     12  -       -"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn deliveries_show_follows_the_attempt_pages() {
    let api = fake_api().await;
    let delivery = json!({
        "id": "dlv_1", "status": "pending", "event_id": "evt_1",
        "attempts": [
            {"id": "att_1", "started_at": "t1", "trigger": "scheduled", "response_status": 500, "duration_ms": 30, "error": "status", "error_message": "HTTP 500"},
        ],
        "attempts_next_cursor": "att_1",
    });
    api.on(
        Method::GET,
        "/api/v1/deliveries/dlv_1",
        Reply::json(200, delivery.to_string()),
    );
    let page = json!({
        "data": [
            {"id": "att_2", "started_at": "t2", "trigger": "redelivery", "response_status": 200, "duration_ms": 12, "error": null, "error_message": null},
        ],
        "next_cursor": null,
    });
    api.on(
        Method::GET,
        "/api/v1/deliveries/dlv_1/attempts",
        Reply::json(200, page.to_string()),
    );

    let run = herald(&api.base_url(), &["deliveries", "show", "dlv_1"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    let pages: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/attempts"))
        .collect();
    assert_eq!(pages.len(), 1);
    assert!(
        pages[0]
            .query
            .as_deref()
            .is_some_and(|q| q.contains("cursor=att_1")),
        "{:?}",
        pages[0].query
    );
    assert!(run.stdout.contains("t1       scheduled"), "{}", run.stdout);
    assert!(run.stdout.contains("t2       redelivery"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("attempts_next_cursor"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn deliveries_redeliver_posts_and_prints_the_new_attempt() {
    let api = fake_api().await;
    let attempt = r#"{"id":"att_3","succeeded":true,"response_status":204,"duration_ms":9,"error":null,"trigger":"redelivery"}"#;
    api.on(
        Method::POST,
        "/api/v1/deliveries/dlv_1/redeliver",
        Reply::json(200, attempt),
    );

    let run = herald(&api.base_url(), &["deliveries", "redeliver", "dlv_1"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    let request = api.only_request();
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        run.stdout,
        "redelivered dlv_1: succeeded: HTTP 204 in 9 ms\n"
    );
}

#[tokio::test]
async fn events_publish_with_a_repeated_idempotency_key_says_nothing_was_created() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/events",
        Reply::json(200, r#"{"id":"evt_1","deliveries":2,"duplicate":true}"#),
    );

    let args = [
        "events",
        "publish",
        "--type",
        "a.b",
        "--data",
        "{}",
        "--idempotency-key",
        "k1",
    ];
    let run = herald(&api.base_url(), &args).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("already accepted as event evt_1"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn tenants_retention_is_sent_in_seconds_forever_as_zero_and_default_as_null() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/tenants",
        Reply::json(201, r#"{"id":"ten_1","retention_seconds":7776000}"#),
    );
    api.on(
        Method::PATCH,
        "/api/v1/tenants/ten_1",
        Reply::json(200, r#"{"id":"ten_1","retention_seconds":null}"#),
    );

    let create = herald(
        &api.base_url(),
        &words("tenants create --name Acme --retention 90d"),
    )
    .await;
    assert_eq!(create.code, 0, "{create:?}");
    for retention in ["forever", "default"] {
        let update = herald(
            &api.base_url(),
            &["tenants", "update", "ten_1", "--retention", retention],
        )
        .await;
        assert_eq!(update.code, 0, "{update:?}");
    }
    let bodies: Vec<_> = api
        .requests()
        .iter()
        .map(|request| request.json().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"name": "Acme", "retention_seconds": 7_776_000}),
            json!({"retention_seconds": 0}),
            json!({"retention_seconds": null}),
        ]
    );

    let bad = herald(
        &api.base_url(),
        &["tenants", "update", "ten_1", "--retention", "soon"],
    )
    .await;
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("--retention"), "{}", bad.stderr);
    assert_eq!(api.requests().len(), 3, "nothing sent for a bad duration");
}
