//! `herald serve` logs one line per attempt, with its facts as JSON fields.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply, wait_for};
use serde_json::{Value, json};
use support::real::{Herald, free_port};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn serve_logs_one_json_line_per_attempt_until_no_more_retries() {
    let dir = tempfile::tempdir().unwrap();
    let (herald, log) =
        Herald::start_logged(dir.path(), free_port(), &["--log-format", "json"]).await;
    let receiver = Receiver::answering(Reply::status(503))
        .await
        .expect("receiver");
    herald
        .post("/api/v1/event-types", json!({"name": "order.paid"}))
        .await;
    let tenant = herald
        .post("/api/v1/tenants", json!({"name": "Acme"}))
        .await;
    let subscription = herald
        .post(
            "/api/v1/subscriptions",
            json!({"tenant_id": tenant["id"], "url": receiver.url(), "event_types": ["order.paid"]}),
        )
        .await;
    let event = herald
        .post(
            "/api/v1/events",
            json!({"type": "order.paid", "payload": {}, "tenant_id": tenant["id"]}),
        )
        .await;

    // The first attempt and three retries: four lines, the last saying no more retries.
    let attempts = wait_for("four attempt lines", WAIT, || async {
        let attempts: Vec<Value> = log
            .text()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["fields"].get("attempt").is_some())
            .map(|line| line["fields"].clone())
            .collect();
        (attempts.len() >= 4).then_some(attempts)
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
