//! The CLI guides its user: the connectivity test says what it waits for and what a failure
//! means; the local admin token goes only to the server that wrote it; a refused token is
//! named by where it came from; a tenant logs in and later commands use its token.

mod support;

use herald_testkit::Reply;
use reqwest::Method;
use serde_json::{Value, json};
use support::real::{Herald, free_port};
use support::{fake_api, herald_with, problem};

#[tokio::test]
async fn subscriptions_test_says_what_it_waits_for_and_explains_the_failure() {
    let api = fake_api().await;
    let body = json!({
        "succeeded": false, "event_id": "evt_t", "delivery_id": "dlv_t",
        "attempt": {"error": "connect", "response_status": null, "duration_ms": 2,
                    "error_message": "connection refused: nothing listens on 127.0.0.1:4599"},
        "explanation": {"meaning": "Herald could not connect.", "advice": "Start the app."},
    });
    let reply = Reply::json(200, body.to_string())
        .with_header("herald-test-url", "http://127.0.0.1:4599/hooks")
        .with_header("herald-test-timeout-ms", "10000");
    api.on(Method::POST, "/api/v1/subscriptions/sub_1/test", reply);
    let dir = tempfile::tempdir().unwrap();

    let args = ["subscriptions", "test", "sub_1", "--token", "t0123"];
    let run = herald_with(&api.base_url(), &args, None, dir.path(), None).await;

    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr
            .contains("waiting for http://127.0.0.1:4599/hooks (up to 10s)"),
        "{}",
        run.stderr
    );
    let expected = "failed at step `connect` in 2 ms\n\
                    connection refused: nothing listens on 127.0.0.1:4599\n\
                    meaning: Herald could not connect.\n\
                    advice: Start the app.\n";
    assert_eq!(run.stdout, expected);
}

/// A data dir holding an admin token, written by the server at `server_url`.
fn data_dir_of(server_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("herald-data")).unwrap();
    std::fs::write(
        dir.path().join("herald-data/admin-token"),
        "hadm_from-file\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("herald-data/server-url"), server_url).unwrap();
    dir
}

#[tokio::test]
async fn the_local_admin_token_goes_only_to_the_server_that_wrote_it() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/event-types",
        problem(401, "Unauthorized", "unknown bearer token"),
    );
    let other = format!("http://127.0.0.1:{}\n", free_port());
    let dir = data_dir_of(&other);

    let run = herald_with(
        &api.base_url(),
        &["event-types", "list"],
        None,
        dir.path(),
        None,
    )
    .await;

    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(api.only_request().authorization(), None);
    assert!(
        run.stderr.contains("hint: no token was sent"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn the_local_admin_token_is_used_for_its_own_server_and_named_when_refused() {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/event-types",
        problem(401, "Unauthorized", "not this server's admin token"),
    );
    // `localhost` and 127.0.0.1 are the same server.
    let own = api.base_url().replace("127.0.0.1", "localhost");
    let dir = data_dir_of(&format!("{own}\n"));

    let run = herald_with(
        &api.base_url(),
        &["event-types", "list"],
        None,
        dir.path(),
        None,
    )
    .await;

    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        api.only_request().authorization(),
        Some("Bearer hadm_from-file")
    );
    assert!(
        run.stderr
            .contains("the admin token read from ./herald-data/admin-token was refused"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hadm_from-file"), "{}", run.stderr);
}

#[tokio::test]
async fn a_refused_token_is_named_by_its_source_never_shown() {
    let api = fake_api().await;
    api.otherwise(problem(401, "Unauthorized", "unknown bearer token"));
    let dir = tempfile::tempdir().unwrap();
    let list = ["event-types", "list"];

    let run = herald_with(
        &api.base_url(),
        &list,
        Some("secret-env-1"),
        dir.path(),
        None,
    )
    .await;
    assert!(
        run.stderr.contains("the token in HERALD_TOKEN was refused"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("secret-env-1"), "{}", run.stderr);

    let args = ["event-types", "list", "--token", "secret-flag-2"];
    let run = herald_with(&api.base_url(), &args, None, dir.path(), None).await;
    assert!(
        run.stderr
            .contains("the token given with --token was refused"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("secret-flag-2"), "{}", run.stderr);
}

/// A real server, a tenant on it, and that tenant's credentials.
async fn server_with_a_tenant(data: &std::path::Path) -> (Herald, String, String) {
    let server = Herald::start(data, free_port()).await;
    let tenant = server
        .post("/api/v1/tenants", json!({"name": "acme"}))
        .await;
    let field = |name: &str| tenant[name].as_str().expect(name).to_owned();
    (server, field("client_id"), field("client_secret"))
}

#[tokio::test]
async fn login_saves_a_private_token_that_later_commands_send() {
    let data = tempfile::tempdir().unwrap();
    let (server, client_id, secret) = server_with_a_tenant(data.path()).await;
    // The server says whose data dir this is (what the CLI checks before using admin-token).
    let recorded = std::fs::read_to_string(data.path().join("server-url")).unwrap();
    assert_eq!(recorded.trim(), server.url);
    let dir = tempfile::tempdir().unwrap();
    let login = [
        "login",
        "--client-id",
        &client_id,
        "--client-secret",
        &secret,
    ];

    let run = herald_with(&server.url, &login, None, dir.path(), None).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("logged in to "), "{}", run.stdout);
    assert!(run.stdout.contains("expires in 1h"), "{}", run.stdout);
    let path = dir.path().join("config/login.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(saved["access_token"].as_str().unwrap().starts_with("hat_"));

    let run = herald_with(
        &server.url,
        &["subscriptions", "list"],
        None,
        dir.path(),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("token saved by `herald login`"),
        "{}",
        run.stderr
    );

    let run = herald_with(&server.url, &["logout"], None, dir.path(), None).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!path.exists());
}

#[tokio::test]
async fn tokens_create_prints_a_token_and_a_wrong_secret_says_so() {
    let data = tempfile::tempdir().unwrap();
    let (server, client_id, secret) = server_with_a_tenant(data.path()).await;
    let dir = tempfile::tempdir().unwrap();

    let create = ["tokens", "create", "--client-id", &client_id, "--json"];
    let run = herald_with(&server.url, &create, None, dir.path(), None).await;
    // The secret is missing: clap says so (usage, exit 2) before any request.
    assert_eq!(run.code, 2, "{run:?}");

    let create = [
        "tokens",
        "create",
        "--client-id",
        &client_id,
        "--client-secret",
        &secret,
        "--json",
    ];
    let run = herald_with(&server.url, &create, None, dir.path(), None).await;
    assert_eq!(run.code, 0, "{run:?}");
    let answer: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(answer["expires_in"], 3600);
    let token = answer["access_token"].as_str().unwrap();
    assert!(token.starts_with("hat_"));
    assert!(!dir.path().join("config/login.json").exists());

    let wrong = [
        "tokens",
        "create",
        "--client-id",
        &client_id,
        "--client-secret",
        "hcs_no",
    ];
    let run = herald_with(&server.url, &wrong, None, dir.path(), None).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("client_secret is wrong"),
        "{}",
        run.stderr
    );
}
