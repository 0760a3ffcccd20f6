//! Bad input: each case gets the right status and a reason, never a panic or a hang.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// Sends raw bytes and reads until the server closes the connection (10 s deadline).
async fn raw(server: &Server, bytes: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answered and closed within 10 s")
        .unwrap_or_default();
    String::from_utf8_lossy(&answer).into_owned()
}

fn signed_headers(id: &str, body: &[u8]) -> (String, String) {
    let timestamp = now();
    let secret = herald_signature::Secret::parse(SECRET).unwrap();
    (
        timestamp.to_string(),
        herald_signature::sign(&secret, id, timestamp, body),
    )
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let server = Server::start(&["--max-body-size", "16"]).await;
    let (status, problem) = send(post(server.url("/")).body(vec![b'x'; 17])).await;
    assert_eq!(status, 413);
    assert_eq!(problem_slug(&problem), "body-too-large");
    assert_eq!(
        send(post(server.url("/")).body(vec![b'x'; 16])).await.0,
        200
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413() {
    let server = Server::start(&["--max-body-size", "16"]).await;
    let answer = raw(
        &server,
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n\
          10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn a_client_that_stalls_while_sending_its_body_gets_408() {
    let server = Server::start(&["--read-timeout", "300ms"]).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"par")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered within 10 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    let server = Server::start(&["--read-timeout", "300ms"]).await;
    // Never finishes its headers: the server must close the connection, not wait forever.
    let answer = raw(
        &server,
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n",
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_repeated_webhook_header_is_refused_as_malformed() {
    let server = Server::start(&["--secret", SECRET]).await;
    let (timestamp, signature) = signed_headers("m", b"{}");
    let request = post(server.url("/"))
        .header("webhook-id", "m")
        .header("webhook-timestamp", &timestamp)
        .header("webhook-signature", &signature)
        .header("webhook-signature", &signature)
        .body("{}");
    let (status, problem) = send(request).await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "malformed-header");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("appears 2 times")
    );
}

#[tokio::test]
async fn a_repeated_webhook_id_without_a_secret_gets_400() {
    let server = Server::start(&[]).await;
    let request = post(server.url("/"))
        .header("webhook-id", "a")
        .header("webhook-id", "b")
        .body("{}");
    let (status, problem) = send(request).await;
    assert_eq!(status, 400);
    assert_eq!(problem_slug(&problem), "malformed-header");
}

#[tokio::test]
async fn a_non_numeric_or_huge_timestamp_is_refused_as_malformed() {
    let server = Server::start(&["--secret", SECRET]).await;
    for timestamp in ["12abc", "99999999999999999999999", "-", "1e9"] {
        let request = post(server.url("/"))
            .header("webhook-id", "m")
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", "v1,AAAA")
            .body("{}");
        let (status, problem) = send(request).await;
        assert_eq!(status, 401, "{timestamp}");
        assert_eq!(problem_slug(&problem), "malformed-header", "{timestamp}");
    }
    let request = post(server.url("/"))
        .header("webhook-id", "m")
        .header("webhook-timestamp", "99999999999")
        .header("webhook-signature", "v1,AAAA")
        .body("{}");
    let (status, problem) = send(request).await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "future-timestamp");
}

#[tokio::test]
async fn base64_garbage_in_the_signature_is_refused_as_malformed() {
    let server = Server::start(&["--secret", SECRET]).await;
    let request = post(server.url("/"))
        .header("webhook-id", "m")
        .header("webhook-timestamp", now().to_string())
        .header("webhook-signature", "v1,@@@not-base64@@@ v1")
        .body("{}");
    let (status, problem) = send(request).await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "malformed-header");
}

#[tokio::test]
async fn a_header_that_is_not_text_is_refused_as_malformed() {
    let server = Server::start(&["--secret", SECRET]).await;
    let answer = raw(
        &server,
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\nwebhook-id: \xff\xfe\r\n\
          webhook-timestamp: 1\r\nwebhook-signature: v1,AAAA\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("malformed-header"), "{answer}");
}

#[tokio::test]
async fn a_signed_non_utf8_body_is_accepted_and_shown_as_binary() {
    let server = Server::start(&["--secret", SECRET, "--verbose"]).await;
    let body = vec![0xff, 0x00, 0xfe];
    let (status, _) = send(signed(&client(), &server.url("/"), SECRET, "m", body)).await;
    assert_eq!(status, 200);
    assert!(server.events.text().contains("(3 bytes, not UTF-8)"));
}

#[tokio::test]
async fn a_signed_empty_body_is_accepted() {
    let server = Server::start(&["--secret", SECRET]).await;
    let (status, _) = send(signed(&client(), &server.url("/"), SECRET, "m", Vec::new())).await;
    assert_eq!(status, 200);
    let line = server.lines()[0].clone();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &fields[1..],
        ["200", "verified", "m", "-", "0", "B"],
        "{line}"
    );
}
