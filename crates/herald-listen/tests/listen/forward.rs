//! --forward-to: a real local app gets the request byte for byte; its answer goes back.

use herald_testkit::{Receiver, Reply, unused_port};

use crate::support::*;

/// A local app that records what it gets and answers `status` with a text body.
async fn app(status: u16) -> Receiver {
    Receiver::answering(Reply::status(status).with_body("text/plain", "said the app"))
        .await
        .unwrap()
}

#[tokio::test]
async fn forwarding_passes_body_and_webhook_headers_byte_for_byte_and_returns_the_app_answer() {
    let app = app(201).await;
    let server = Server::start(&["--secret", SECRET, "--forward-to", &app.url()]).await;
    let body = "{ \"type\" : \"a.b\",\n \"data\": \"é\" }"
        .as_bytes()
        .to_vec();
    let request = signed(
        &client(),
        &server.url("/in"),
        SECRET,
        "msg_fwd",
        body.clone(),
    )
    .header("x-not-forwarded", "1");
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "said the app");

    let seen = app.only_request();
    let (headers, got) = (&seen.headers, &seen.body);
    assert_eq!(got.as_ref(), body.as_slice());
    assert_eq!(headers["webhook-id"], "msg_fwd");
    assert_eq!(headers["content-type"], "application/json");
    let timestamp = headers["webhook-timestamp"].to_str().unwrap();
    let verifier = herald_signature::Verifier::new(vec![
        herald_signature::Secret::parse(SECRET).unwrap().into(),
    ]);
    verifier
        .verify(
            "msg_fwd",
            timestamp,
            headers["webhook-signature"].to_str().unwrap(),
            got,
            now(),
        )
        .expect("the app can verify the forwarded request itself");
    assert!(headers.get("x-not-forwarded").is_none());
    assert!(server.lines()[0].contains("forwarded: app answered 201"));
}

#[tokio::test]
async fn an_app_error_goes_back_to_the_sender_and_the_id_is_not_remembered() {
    let app = app(503).await;
    let server = Server::start(&["--secret", SECRET, "--forward-to", &app.url()]).await;
    let c = client();
    for _ in 0..2 {
        let response = signed(&c, &server.url("/"), SECRET, "msg_503", "{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.text().await.unwrap(), "said the app");
    }
    assert_eq!(app.count(), 2, "the retry reached the app again");
}

#[tokio::test]
async fn an_unreachable_app_gets_502_so_the_sender_retries() {
    // A port that was free a moment ago and has no listener now.
    let url = format!("http://127.0.0.1:{}/", unused_port().unwrap());
    let server = Server::start(&["--insecure-no-verify", "--forward-to", &url]).await;
    let (status, problem) = send(post(server.url("/")).body("{}")).await;
    assert_eq!(status, 502);
    assert_eq!(problem_slug(&problem), "app-unreachable");
    assert!(server.lines()[0].contains(" 502 "));
}
