//! `herald tenants rotate-credentials` and `herald tokens revoke`: what they send to the API
//! and what they print, against a fake API.

mod support;

use herald_testkit::Reply;
use reqwest::Method;
use serde_json::{Value, json};
use support::{fake_api, herald, herald_with, problem};

#[tokio::test]
async fn tenants_rotate_credentials_posts_and_prints_the_new_secret_once() {
    let api = fake_api().await;
    let answer = json!({"id": "ten_1", "name": "Acme", "client_id": "hci_1",
        "client_secret": "hcs_new", "created_at": "2030-01-01T00:00:00Z"});
    api.on(
        Method::POST,
        "/api/v1/tenants/ten_1/credentials/rotate",
        Reply::json(200, answer.to_string()),
    );

    let run = herald(&api.base_url(), &["tenants", "rotate-credentials", "ten_1"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    let request = api.only_request();
    assert_eq!(
        request.header("authorization"),
        Some("Bearer test-admin-token")
    );
    assert!(run.stdout.contains("hcs_new"), "{}", run.stdout);
    assert!(run.stderr.contains("not shown again"), "{}", run.stderr);
}

#[tokio::test]
async fn tokens_revoke_sends_the_token_with_the_client_credentials() {
    let api = fake_api().await;
    api.on(Method::POST, "/oauth2/revoke", Reply::status(200));
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "tokens",
        "revoke",
        "hat_abc",
        "--client-id",
        "hci_1",
        "--client-secret",
        "hcs_1",
        "--json",
    ];

    let run = herald_with(&api.base_url(), &args, None, dir.path(), None).await;

    assert_eq!(run.code, 0, "{run:?}");
    let request = api.only_request();
    // base64("hci_1:hcs_1")
    assert_eq!(
        request.header("authorization"),
        Some("Basic aGNpXzE6aGNzXzE=")
    );
    assert_eq!(request.text(), "token=hat_abc");
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed, json!({"revoked": true}));
}

#[tokio::test]
async fn tokens_revoke_with_wrong_credentials_says_so() {
    let api = fake_api().await;
    api.on(
        Method::POST,
        "/oauth2/revoke",
        problem(
            401,
            "Token request refused",
            "the client_id or client_secret is wrong",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "tokens",
        "revoke",
        "hat_abc",
        "--client-id",
        "hci_1",
        "--client-secret",
        "hcs_no",
    ];

    let run = herald_with(&api.base_url(), &args, None, dir.path(), None).await;

    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("client_secret is wrong"),
        "{}",
        run.stderr
    );
}
