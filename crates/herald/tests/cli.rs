//! The `herald` binary against a fake API: the bearer token, `--json`
//! output and the exit codes that tell scripts what happened. What each
//! command sends is in `commands.rs`.

mod support;

use herald_testkit::Reply;
use reqwest::Method;
use serde_json::json;
use support::{TOKEN, fake_api, herald, herald_with, problem, unused_address};

const TENANT: &str = r#"{"id":"ten_1","name":"Akoya","client_id":"cli_1","client_secret":"sec_1","created_at":"2025-01-01T00:00:00Z"}"#;

#[tokio::test]
async fn tenants_create_posts_the_name_with_the_bearer_token() {
    let api = fake_api().await;
    api.on(Method::POST, "/api/v1/tenants", Reply::json(201, TENANT));

    let run = herald(&api.base_url(), &["tenants", "create", "--name", "Akoya"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    let request = api.only_request();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/api/v1/tenants");
    assert_eq!(request.authorization(), Some(&*format!("Bearer {TOKEN}")));
    assert_eq!(request.json().unwrap(), json!({"name": "Akoya"}));
    assert!(
        run.stdout.contains("client_secret: sec_1"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn json_flag_prints_the_api_body_as_is() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/tenants/ten_1",
        Reply::json(200, TENANT),
    );

    let run = herald(&api.base_url(), &["tenants", "show", "ten_1", "--json"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("{TENANT}\n"));
}

#[tokio::test]
async fn payload_that_is_not_json_is_a_usage_error_and_sends_nothing() {
    let api = fake_api().await;

    let run = herald(
        &api.base_url(),
        &["events", "publish", "--type", "a.b", "--data", "{oops"],
    )
    .await;

    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("not valid JSON"), "{}", run.stderr);
    assert!(api.requests().is_empty());
}

#[tokio::test]
async fn api_problem_exits_1_with_its_detail_on_stderr() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/api/v1/events",
        problem(422, "Invalid payload", "/amount: must be a number"),
    );

    let run = herald(
        &api.base_url(),
        &[
            "events",
            "publish",
            "--type",
            "a.b",
            "--data",
            r#"{"amount":"x"}"#,
        ],
    )
    .await;

    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("Invalid payload (HTTP 422): /amount: must be a number"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[tokio::test]
async fn unreachable_server_exits_3_with_a_hint() {
    let run = herald(&unused_address(), &["tenants", "list"]).await;

    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("cannot reach the Herald server"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("HERALD_URL"), "{}", run.stderr);
}

#[tokio::test]
async fn without_a_token_the_local_admin_token_file_is_used() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/event-types",
        Reply::json(200, r#"{"data":[],"next_cursor":null}"#),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("herald-data")).unwrap();
    std::fs::write(dir.path().join("herald-data/admin-token"), "from-file\n").unwrap();

    let run = herald_with(
        &api.base_url(),
        &["event-types", "list"],
        None,
        dir.path(),
        None,
    )
    .await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(api.only_request().authorization(), Some("Bearer from-file"));
    assert!(
        run.stderr.contains("herald-data/admin-token"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "no event types\n");
}
