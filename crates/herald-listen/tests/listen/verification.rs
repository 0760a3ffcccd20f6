//! Signature verification: accepted, refused with the failing check named, rotation, no secret.

use herald_signature::{Secret, SigningKey};

use crate::support::*;

#[tokio::test]
async fn a_valid_signature_is_accepted_and_shown_as_verified() {
    let server = Server::start(&["--secret", SECRET]).await;
    let (status, _) = send(signed(
        &client(),
        &server.url("/"),
        SECRET,
        "msg_ok",
        envelope("a.b"),
    ))
    .await;
    assert_eq!(status, 200);
    let lines = server.lines();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains(" 200 verified "), "{}", lines[0]);
}

#[tokio::test]
async fn a_signature_from_another_secret_is_refused_with_401_no_matching_signature() {
    let server = Server::start(&["--secret", SECRET]).await;
    let other = Secret::generate().to_string();
    let (status, problem) = send(signed(&client(), &server.url("/"), &other, "msg_x", "{}")).await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "no-matching-signature");
    assert!(server.lines()[0].contains(" 401 rejected "));
}

#[tokio::test]
async fn a_missing_signature_header_is_refused_with_401_missing_header() {
    let server = Server::start(&["--secret", SECRET]).await;
    let request = post(server.url("/"))
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", now().to_string())
        .body("{}");
    let (status, problem) = send(request).await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "missing-header");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("webhook-signature")
    );
}

#[tokio::test]
async fn a_stale_timestamp_is_refused_with_401_stale_timestamp() {
    let server = Server::start(&["--secret", SECRET]).await;
    let request = signed_at(&client(), &server.url("/"), SECRET, "m", now() - 301, "{}");
    let (status, problem) = send(request).await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "stale-timestamp");
}

#[tokio::test]
async fn a_future_timestamp_is_refused_with_401_future_timestamp() {
    let server = Server::start(&["--secret", SECRET, "--tolerance", "60"]).await;
    let request = signed_at(&client(), &server.url("/"), SECRET, "m", now() + 120, "{}");
    let (status, problem) = send(request).await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "future-timestamp");
    assert_eq!(problem["status"], 401);
    assert!(problem["title"].is_string());
}

#[tokio::test]
async fn any_configured_secret_verifies_during_a_rotation() {
    let new = Secret::generate().to_string();
    let server = Server::start(&["--secret", &new, "--secret", SECRET]).await;
    let c = client();
    let (old_status, _) = send(signed(&c, &server.url("/"), SECRET, "m1", "{}")).await;
    let (new_status, _) = send(signed(&c, &server.url("/"), &new, "m2", "{}")).await;
    assert_eq!((old_status, new_status), (200, 200));
}

#[tokio::test]
async fn unknown_signature_versions_beside_a_valid_one_are_ignored() {
    let server = Server::start(&["--secret", SECRET]).await;
    let secret = Secret::parse(SECRET).unwrap();
    let timestamp = now();
    let valid = herald_signature::sign(&secret, "m", timestamp, b"{}");
    let signatures = format!("v9,c29tZXRoaW5n v1a,!!! {valid}");
    let request = with_signature(
        &client(),
        &server.url("/"),
        "m",
        timestamp,
        &signatures,
        "{}",
    );
    assert_eq!(send(request).await.0, 200);
}

#[tokio::test]
async fn an_ed25519_signature_verifies_with_a_whpk_public_key() {
    let key = SigningKey::generate();
    let public = key.public_key().to_string();
    let server = Server::start(&["--secret", &public]).await;
    let timestamp = now();
    let signature = herald_signature::sign_asymmetric(&key, "m", timestamp, b"{}");
    let request = with_signature(
        &client(),
        &server.url("/"),
        "m",
        timestamp,
        &signature,
        "{}",
    );
    assert_eq!(send(request).await.0, 200);
}

#[tokio::test]
async fn without_a_secret_every_request_is_accepted_as_unverified_with_a_loud_warning() {
    let server = Server::start(&[]).await;
    let (status, _) = send(post(server.url("/anything")).body("not signed")).await;
    assert_eq!(status, 200);
    assert!(server.lines()[0].contains(" 200 unverified "));
    assert!(server.notices.text().contains("WARNING: no --secret given"));
}

#[tokio::test]
async fn methods_other_than_post_get_405_with_allow_post() {
    let server = Server::start(&[]).await;
    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn with_path_only_that_path_is_accepted_and_others_get_404() {
    let server = Server::start(&["--path", "/hooks/in"]).await;
    assert_eq!(send(post(server.url("/hooks/in")).body("{}")).await.0, 200);
    let (status, problem) = send(post(server.url("/other")).body("{}")).await;
    assert_eq!(status, 404);
    assert_eq!(problem_slug(&problem), "unknown-path");
}

#[tokio::test]
async fn run_refuses_a_bad_secret_without_printing_it() {
    let args = args(&["--port", "0", "--secret", "whsec_not*base64"]);
    let err = herald_listen::run(args, async {}).await.unwrap_err();
    let text = printed_once(&err);
    assert!(text.contains("--secret #1"), "{text}");
    assert!(!text.contains("not*base64"), "{text}");
}

#[tokio::test]
async fn run_refuses_a_secret_with_bad_base64_padding_saying_why() {
    // The test secret with its last two characters lost: 30 base64 characters want `==`.
    let cut = &SECRET[..SECRET.len() - 2];
    let args = args(&["--port", "0", "--secret", SECRET, "--secret", cut]);
    let err = herald_listen::run(args, async {}).await.unwrap_err();
    let text = printed_once(&err);
    assert!(
        text.contains("--secret #2 has bad base64 padding"),
        "{text}"
    );
    assert!(
        text.contains("whsec_"),
        "says what a whole one looks like: {text}"
    );
}

#[tokio::test]
async fn run_refuses_an_implausibly_short_secret() {
    let args = args(&["--port", "0", "--secret", "whsec_c2hvcnQ="]);
    let err = herald_listen::run(args, async {}).await.unwrap_err();
    let text = printed_once(&err);
    assert!(
        text.contains("--secret #1 decodes to only 5 bytes"),
        "{text}"
    );
}

#[tokio::test]
async fn run_binds_and_returns_when_shutdown_completes() {
    let args = args(&["--port", "0"]);
    herald_listen::run(args, async {}).await.unwrap();
}

#[test]
fn help_documents_every_flag_and_the_secret_variable() {
    let help = help_text();
    for flag in [
        "--host",
        "--port",
        "--path",
        "--secret",
        "--tolerance",
        "--verbose",
        "--json",
        "--forward-to",
        "--forward-timeout",
        "--hooks",
        "--max-body-size",
        "--read-timeout",
        "--dedup-capacity",
        "--dedup-memory",
        "--shutdown-grace",
        "--insecure-no-verify",
        "--allow-origin",
        "--allow-any-content-type",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(help.contains("HERALD_LISTEN_SECRET"));
    println!("{help}");
}
