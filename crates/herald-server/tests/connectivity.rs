//! The connectivity test (`POST /api/v1/subscriptions/{id}/test`) against real loopback
//! endpoints: each failing step answers with a sentence of facts a non-expert can act on and
//! the step's explanation (meaning and advice).

mod support;

use std::time::Duration;

use bytes::Bytes;
use herald_server::Config;
use herald_server::outbound::{AddressPolicy, Outbound, explain};
use herald_store::AttemptError;
use herald_testkit::{Receiver, Reply, unused_port, wait_for};
use reqwest::header::HeaderMap;
use serde_json::Value;
use support::{ADMIN_TOKEN, TestServer, test_config};

/// Runs the test of a new subscription to `url` on `server` and returns its answer.
async fn test_url(server: &TestServer, url: &str) -> Value {
    server.create_event_type("consent.revoked").await;
    let (_, sub) = server.subscribe(url, "consent.revoked").await;
    server.test_subscription(&sub).await
}

/// Asserts the failing step, that the message contains `says`, and the step's explanation.
fn assert_failed_at(answer: &Value, step: AttemptError, says: &str) {
    assert_eq!(answer["succeeded"], false, "{answer}");
    assert_eq!(answer["attempt"]["error"], step.as_str(), "{answer}");
    let message = answer["attempt"]["error_message"].as_str().unwrap_or("");
    assert!(message.contains(says), "{message:?} lacks {says:?}");
    let explanation = explain(step);
    assert_eq!(answer["explanation"]["meaning"], explanation.meaning);
    assert_eq!(answer["explanation"]["advice"], explanation.advice);
}

#[tokio::test]
async fn a_refused_connection_says_nothing_listens_on_that_address() {
    let server = TestServer::start().await;
    let port = unused_port().expect("a free port");
    let answer = test_url(&server, &format!("http://127.0.0.1:{port}/hooks")).await;
    let says = format!("connection refused: nothing listens on 127.0.0.1:{port}");
    assert_failed_at(&answer, AttemptError::Connect, &says);
}

#[tokio::test]
async fn https_to_a_plain_http_port_suggests_the_http_url() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    let port = receiver.addr().port();
    let answer = test_url(&server, &format!("https://127.0.0.1:{port}/hooks")).await;
    let says = format!("this port does not speak TLS; did you mean http://127.0.0.1:{port}/hooks?");
    assert_failed_at(&answer, AttemptError::Tls, &says);
}

/// A port that hangs up on the TLS greeting without a word (not every plain-HTTP server
/// answers garbage with a 400) is a TLS failure too, with the same suggestion.
#[tokio::test]
async fn https_to_a_port_that_hangs_up_suggests_the_http_url() {
    let server = TestServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let answer = test_url(&server, &format!("https://127.0.0.1:{port}/hooks")).await;
    let says = format!("this port may not speak TLS; did you mean http://127.0.0.1:{port}/hooks?");
    assert_failed_at(&answer, AttemptError::Tls, &says);
}

#[tokio::test]
async fn a_failing_status_names_the_status_and_shows_the_body_prefix() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    receiver.otherwise(Reply::status(500).with_body("text/plain", "database is down"));
    let answer = test_url(&server, &receiver.url()).await;
    assert_eq!(answer["attempt"]["response_status"], 500);
    let says =
        "the endpoint answered 500: the receiving app failed; its body begins \"database is down\"";
    assert_failed_at(&answer, AttemptError::Status, says);
}

#[tokio::test]
async fn an_unknown_host_names_the_host() {
    let server = TestServer::start().await;
    let answer = test_url(&server, "http://no-such-host.invalid/hooks").await;
    let says = "the host name no-such-host.invalid does not resolve";
    assert_failed_at(&answer, AttemptError::Dns, says);
}

/// The headers (URL, limit) come before the attempt is over, so a client can say what it
/// waits for; the answer then names the limit.
#[tokio::test]
async fn a_hanging_endpoint_is_announced_at_once_and_times_out_naming_the_limit() {
    let config = Config {
        request_timeout: Duration::from_secs(3),
        ..test_config()
    };
    let server = TestServer::start_with(config).await;
    let receiver = Receiver::start().await.expect("receiver");
    receiver.otherwise(Reply::hang());
    server.create_event_type("consent.revoked").await;
    let (_, sub) = server.subscribe(&receiver.url(), "consent.revoked").await;
    let id = sub["id"].as_str().expect("id");
    let response = server
        .client
        .post(format!("{}/api/v1/subscriptions/{id}/test", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("the test answers");
    // The endpoint still holds the request: the headers did not wait for the attempt.
    wait_for(
        "the endpoint to hold the test request",
        Duration::from_secs(2),
        || async { (receiver.in_flight() == 1).then_some(()) },
    )
    .await;
    assert!(receiver.in_flight() == 1, "the attempt was already over");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("herald-test-timeout-ms").as_deref(), Some("3000"));
    assert_eq!(header("herald-test-url"), Some(receiver.url()));
    let answer: Value = response.json().await.expect("a JSON answer");
    let says = format!("no answer from {} within 3s", receiver.addr());
    assert_failed_at(&answer, AttemptError::Timeout, &says);
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_blocked_outside_dev_mode() {
    let receiver = Receiver::start().await.expect("receiver");
    let outbound = Outbound::new(
        AddressPolicy::new(Vec::new()),
        false,
        Duration::from_secs(2),
        1024,
    )
    .expect("client");
    let url = format!("https://localhost:{}/hooks", receiver.addr().port());
    let outcome = outbound
        .post(&url, HeaderMap::new(), Bytes::from_static(b"{}"))
        .await;
    assert_eq!(outcome.error, Some(AttemptError::Blocked));
    let message = outcome.message.unwrap_or_default();
    assert!(message.starts_with("localhost resolves to "), "{message}");
    assert!(message.contains("not in allow_networks"), "{message}");
    assert_eq!(receiver.count(), 0);
}
