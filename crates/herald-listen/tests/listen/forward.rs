//! --forward-to: a real local app gets the request byte for byte; its answer goes back.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;

use crate::support::*;

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A local app that records what it gets and answers `status` with a text body.
async fn app(status: StatusCode) -> (String, Seen) {
    let seen = Seen::default();
    let router = axum::Router::new()
        .fallback(
            move |State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                seen.lock().unwrap().push((headers, body));
                (status, [("content-type", "text/plain")], "said the app")
            },
        )
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/app/webhooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

#[tokio::test]
async fn forwarding_passes_body_and_webhook_headers_byte_for_byte_and_returns_the_app_answer() {
    let (app_url, seen) = app(StatusCode::CREATED).await;
    let server = Server::start(&["--secret", SECRET, "--forward-to", &app_url]).await;
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

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (headers, got) = &seen[0];
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
    let (app_url, seen) = app(StatusCode::SERVICE_UNAVAILABLE).await;
    let server = Server::start(&["--secret", SECRET, "--forward-to", &app_url]).await;
    let c = client();
    for _ in 0..2 {
        let response = signed(&c, &server.url("/"), SECRET, "msg_503", "{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.text().await.unwrap(), "said the app");
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the retry reached the app again"
    );
}

#[tokio::test]
async fn an_unreachable_app_gets_502_so_the_sender_retries() {
    // A port that was free a moment ago and has no listener now.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let server = Server::start(&["--forward-to", &url]).await;
    let (status, problem) = send(client().post(server.url("/")).body("{}")).await;
    assert_eq!(status, 502);
    assert_eq!(problem_slug(&problem), "app-unreachable");
    assert!(server.lines()[0].contains(" 502 "));
}
