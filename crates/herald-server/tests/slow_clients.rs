//! Slow and greedy clients cannot hold the API: unfinished headers and trickled bodies are cut
//! off by their timeouts, connections over `max_connections` wait until one closes, and
//! `/oauth2/token` refuses bad credentials without reading a large body. Requests are written
//! by hand on raw TCP, since an HTTP client library always finishes what it sends.

mod support;

use std::time::{Duration, Instant};

use support::{ADMIN_TOKEN, TestServer, test_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Room for a loaded CI machine on top of a timeout under test.
const MARGIN: Duration = Duration::from_secs(5);

async fn connect(server: &TestServer) -> TcpStream {
    let address = server.base.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// Reads until the server closes the connection (or resets it), within `deadline`; returns
/// what was read. Panics if the connection is still open at the deadline.
async fn read_until_closed(stream: &mut TcpStream, deadline: Duration) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(deadline, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn unfinished_headers_are_cut_off_by_the_header_read_timeout() {
    let timeout = Duration::from_millis(500);
    let server = TestServer::start_with(herald_server::Config {
        header_read_timeout: timeout,
        ..test_config()
    })
    .await;
    let mut stream = connect(&server).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\nX-Slow: ")
        .await
        .unwrap();
    read_until_closed(&mut stream, timeout + MARGIN).await;
    assert!(
        started.elapsed() >= timeout - Duration::from_millis(100),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_by_the_body_read_timeout() {
    let timeout = Duration::from_millis(500);
    let server = TestServer::start_with(herald_server::Config {
        body_read_timeout: timeout,
        ..test_config()
    })
    .await;
    let stream = connect(&server).await;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /api/v1/tenants HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    // One byte every 50 ms: each arrives well within any idle timeout, the whole body never
    // within the total one.
    let trickle = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(50));
        for _ in 0..1000 {
            ticks.tick().await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut received = Vec::new();
    let read = tokio::time::timeout(timeout + MARGIN, reader.read_to_end(&mut received)).await;
    trickle.abort();
    assert!(read.is_ok(), "the server kept the connection open");
    let response = String::from_utf8_lossy(&received);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("body_read_timeout"), "{response}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let server = TestServer::start_with(herald_server::Config {
        max_connections: 1,
        ..test_config()
    })
    .await;
    // The one permitted connection, held by an unfinished request.
    let mut holder = connect(&server).await;
    holder
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n")
        .await
        .unwrap();
    let mut waiting = connect(&server).await;
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut byte)).await;
    // Cancelled before reading anything: nothing was lost from the stream.
    assert!(early.is_err(), "a connection over the cap was served");
    drop(holder);
    let response = read_until_closed(&mut waiting, MARGIN).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn bad_basic_auth_with_a_large_body_is_refused_without_reading_it() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("Acme").await;
    let client_id = tenant["client_id"].as_str().unwrap();
    let credentials = base64_basic(client_id, "wrong-secret");
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: herald\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n\
         grant_type=client_credentials&padding="
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The rest of the megabyte is never sent: an answer proves the server did not wait for it.
    let response = read_until_closed(&mut stream, MARGIN).await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("invalid_client"), "{response}");
}

#[tokio::test]
async fn a_token_request_body_over_the_form_limit_is_refused() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("Acme").await;
    let body = format!(
        "grant_type=client_credentials&padding={}",
        "a".repeat(8 * 1024)
    );
    let response = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(
            tenant["client_id"].as_str().unwrap(),
            tenant["client_secret"].as_str(),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}
