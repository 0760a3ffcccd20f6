//! `GET /api/v1/attempts/stream` end to end: a real Herald, real receivers, the stream read as
//! a client reads it. Run on SQLite and on PostgreSQL (when configured).

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply, await_within};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, Backend, TestServer, tenant_token, test_config};

const WAIT: Duration = Duration::from_secs(15);

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    event: String,
    id: String,
    data: Value,
}

/// Reads server-sent events from a response, skipping comments (keep-alives).
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens the stream as `token`, with `query` and optionally `Last-Event-ID`.
    async fn open(server: &TestServer, token: &str, query: &str, last: Option<&str>) -> Self {
        let response = Self::request(server, token, query, last).await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    async fn request(
        server: &TestServer,
        token: &str,
        query: &str,
        last: Option<&str>,
    ) -> reqwest::Response {
        let mut request = server
            .client
            .get(format!("{}/api/v1/attempts/stream{query}", server.base))
            .bearer_auth(token);
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        request.send().await.expect("stream request")
    }

    /// The next event, within [`WAIT`].
    async fn next(&mut self) -> Sse {
        await_within("the next attempt event", WAIT, self.read()).await
    }

    async fn read(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        event = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("id:") {
                        id = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data).expect("JSON data");
                return Sse { event, id, data };
            }
            let chunk = self.response.chunk().await.expect("read").expect("open");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

async fn stream_delivers_attempts_as_they_happen(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    let mut stream = SseReader::open(&server, ADMIN_TOKEN, "", None).await;
    let (tenant, subscription, event_id) = server.one_event_to(&receiver.url()).await;

    let got = stream.next().await;
    assert_eq!(got.event, "attempt");
    assert_eq!(got.id, got.data["id"].as_str().unwrap());
    assert!(got.id.starts_with("att_"));
    let data = &got.data;
    assert_eq!(data["event_id"], event_id.as_str());
    assert_eq!(data["event_type"], "a.b");
    assert_eq!(data["tenant_id"], tenant.as_str());
    assert_eq!(data["subscription_id"], subscription["id"]);
    assert_eq!(data["outcome"], "succeeded");
    assert_eq!(data["response_status"], 200);
    assert_eq!(data["delivery_status"], "succeeded");
    assert_eq!(data["next_attempt_at"], Value::Null);
    assert!(data["delivery_id"].as_str().unwrap().starts_with("dlv_"));
}

async fn a_tenant_stream_never_shows_another_tenants_attempts(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let acme = server.create_tenant("Acme").await;
    let globex = server.create_tenant("Globex").await;
    let (acme_id, globex_id) = (acme["id"].as_str().unwrap(), globex["id"].as_str().unwrap());
    server
        .subscribe_tenant(acme_id, &receiver.url(), "a.b")
        .await;
    server
        .subscribe_tenant(globex_id, &receiver.url(), "a.b")
        .await;
    let token = tenant_token(&server, &acme).await;

    let refused =
        SseReader::request(&server, &token, &format!("?tenant_id={globex_id}"), None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let mut stream = SseReader::open(&server, &token, "", None).await;
    // Globex's attempts are made first; Acme's stream must skip them all.
    for _ in 0..3 {
        server.publish("a.b", json!({}), Some(globex_id)).await;
    }
    receiver.wait_for_count(3, WAIT).await;
    let acme_event = server.publish("a.b", json!({}), Some(acme_id)).await;
    let got = stream.next().await;
    assert_eq!(got.data["tenant_id"], acme_id);
    assert_eq!(got.data["event_id"], acme_event.as_str());

    // The admin's stream, filtered by tenant, shows Globex's.
    let mut admin = SseReader::open(
        &server,
        ADMIN_TOKEN,
        &format!("?tenant_id={globex_id}&status=succeeded&event_type=a.b"),
        None,
    )
    .await;
    server.publish("a.b", json!({}), Some(globex_id)).await;
    assert_eq!(admin.next().await.data["tenant_id"], globex_id);
}

async fn last_event_id_resumes_without_loss_or_repeat(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::answering(Reply::status(500))
        .await
        .expect("receiver");
    let mut stream = SseReader::open(&server, ADMIN_TOKEN, "", None).await;
    let (tenant, _subscription, event_id) = server.one_event_to(&receiver.url()).await;
    let first = stream.next().await;
    assert_eq!(first.data["outcome"], "failed");
    assert_eq!(first.data["error"], "status");
    assert_eq!(first.data["response_status"], 500);
    drop(stream);

    // The schedule (three retries) runs out while nobody listens.
    let delivery = server.wait_delivery_status(&event_id, "failed", WAIT).await;
    let attempts: Vec<&str> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!((attempts.len(), attempts[0]), (4, first.id.as_str()));

    let mut resumed = SseReader::open(&server, ADMIN_TOKEN, "", Some(&first.id)).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(resumed.next().await.id);
    }
    assert_eq!(seen, attempts[1..], "the missed attempts, in order");
    // No repeats: the next event is a new event's first attempt.
    let next_event = server.publish("a.b", json!({}), Some(&tenant)).await;
    assert_eq!(resumed.next().await.data["event_id"], next_event.as_str());
}

async fn bad_stream_requests_are_refused_with_a_problem(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    for (query, last) in [
        ("?status=pending", None),
        ("?subscription_id=nope", None),
        ("?colour=red", None),
        ("", Some("evt_0192")),
    ] {
        let response = SseReader::request(&server, ADMIN_TOKEN, query, last).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{query} {last:?}"
        );
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "application/problem+json");
    }
    let anonymous = server
        .client
        .get(format!("{}/api/v1/attempts/stream", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn streams_are_capped_and_end_when_the_server_shuts_down(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let mut open = Vec::new();
    for _ in 0..herald_server::api::MAX_STREAMS {
        open.push(SseReader::open(&server, ADMIN_TOKEN, "", None).await);
    }
    let refused = SseReader::request(&server, ADMIN_TOKEN, "", None).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Closing one frees its place.
    drop(open.pop());
    let reopened = herald_testkit::wait_for("a stream's place to be free", WAIT, || async {
        let response = SseReader::request(&server, ADMIN_TOKEN, "", None).await;
        (response.status() == StatusCode::OK).then_some(response)
    })
    .await;
    drop(reopened);

    // A graceful shutdown ends every stream instead of waiting for the clients.
    drop(server);
    let mut stream = open.pop().expect("an open stream");
    let ended = await_within("the stream to end", WAIT, async {
        loop {
            match stream.response.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return true,
            }
        }
    })
    .await;
    assert!(ended);
}

on_both_stores!(
    streams_are_capped_and_end_when_the_server_shuts_down,
    stream_delivers_attempts_as_they_happen,
    a_tenant_stream_never_shows_another_tenants_attempts,
    last_event_id_resumes_without_loss_or_repeat,
    bad_stream_requests_are_refused_with_a_problem,
);
