//! `herald serve` logs one line per attempt, with its facts as JSON fields.

mod support;

use std::process::Stdio;
use std::time::Duration;

use herald_testkit::{Receiver, Reply, await_within, wait_for};
use serde_json::{Value, json};
use support::real::{ADMIN_TOKEN, free_port};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(20);

async fn post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let response = client
        .post(url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

#[tokio::test]
async fn serve_logs_one_json_line_per_attempt_until_no_more_retries() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--dev", "--retry-schedule", "100ms,100ms,100ms"])
        .args([
            "--log-format",
            "json",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn herald serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let client = reqwest::Client::new();
    wait_for("herald serve to be ready", WAIT, || async {
        let response = client.get(format!("{base}/readyz")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await;

    let receiver = Receiver::answering(Reply::status(503))
        .await
        .expect("receiver");
    post(
        &client,
        format!("{base}/api/v1/event-types"),
        json!({"name": "order.paid"}),
    )
    .await;
    let tenant = post(
        &client,
        format!("{base}/api/v1/tenants"),
        json!({"name": "Acme"}),
    )
    .await;
    let subscription = post(
        &client,
        format!("{base}/api/v1/subscriptions"),
        json!({"tenant_id": tenant["id"], "url": receiver.url(), "event_types": ["order.paid"]}),
    )
    .await;
    let event = post(
        &client,
        format!("{base}/api/v1/events"),
        json!({"type": "order.paid", "payload": {}, "tenant_id": tenant["id"]}),
    )
    .await;

    // The first attempt and three retries: four lines, the last saying no more retries.
    let attempts = await_within("four attempt lines", WAIT, async {
        let mut attempts = Vec::new();
        while attempts.len() < 4 {
            let line = stderr
                .next_line()
                .await
                .expect("read")
                .expect("stderr open");
            let Ok(line) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if line["fields"].get("attempt").is_some() {
                attempts.push(line["fields"].clone());
            }
        }
        attempts
    })
    .await;
    for fields in &attempts {
        assert_eq!(fields["subscription"], subscription["id"]);
        assert_eq!(fields["event_type"], "order.paid");
        assert_eq!(fields["event"], event["id"]);
        assert_eq!(fields["outcome"], "failed");
        assert_eq!(fields["status"], 503);
        assert_eq!(fields["step"], "status");
        assert!(fields["duration_ms"].is_u64());
        assert!(fields["delivery"].as_str().unwrap().starts_with("dlv_"));
    }
    assert!(attempts[0]["next_retry"].as_str().unwrap().ends_with('Z'));
    assert_eq!(attempts[3]["next_retry"], "no more retries");
    assert!(
        attempts[3]["message"]
            .as_str()
            .unwrap()
            .starts_with("attempt failed with status 503 in ")
    );
}
