//! Recover, through the API and the CLI, on a real `herald serve --dev` that does not retry:
//! failed deliveries since a time are sent again in the background, and the recovery's
//! progress is read back until it is done. (The Hub's progress bar is in `hub.rs`.)

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply, wait_for, wait_until};
use serde_json::{Value, json};
use support::real::{ADMIN_TOKEN, Herald, free_port};

const WITHIN: Duration = Duration::from_secs(20);

/// GETs `path` as the admin; the status and the JSON answer.
async fn get(herald: &Herald, path: &str) -> (u16, Value) {
    let response = herald
        .client
        .get(format!("{}{path}", herald.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_sends_failed_deliveries_again_and_reports_progress_in_api_and_cli() {
    let receiver = Receiver::start().await.expect("a receiver");
    receiver.otherwise(Reply::status(503));
    let data = tempfile::tempdir().unwrap();
    let herald = Herald::start_with(data.path(), free_port(), &["--retry-schedule", ""]).await;
    let tenant = herald
        .subscribe("order.created", &format!("{}/hook", receiver.base_url()))
        .await;
    for n in 0..2 {
        let event = json!({"type": "order.created", "tenant_id": tenant, "payload": {"n": n}});
        herald.post("/api/v1/events", event).await;
    }
    let subscription = wait_for("two failed deliveries", WITHIN, || async {
        let (_, page) = get(&herald, "/api/v1/deliveries?status=failed").await;
        let data = page["data"].as_array()?;
        (data.len() == 2).then(|| data[0]["subscription_id"].as_str().map(str::to_owned))?
    })
    .await;
    receiver.otherwise(Reply::ok());

    // A time that is not one is refused with a sentence, and nothing starts.
    let dir = tempfile::tempdir().unwrap();
    let bad = support::herald_with(
        &herald.url,
        &[
            "subscriptions",
            "recover",
            &subscription,
            "--since",
            "yesterday",
        ],
        Some(ADMIN_TOKEN),
        dir.path(),
        None,
    )
    .await;
    assert_ne!(bad.code, 0, "{bad:?}");
    assert_eq!(receiver.succeeded_count(), 0);

    let started = support::herald_with(
        &herald.url,
        &[
            "subscriptions",
            "recover",
            &subscription,
            "--since",
            "2000-01-01T00:00:00Z",
            "--json",
        ],
        Some(ADMIN_TOKEN),
        dir.path(),
        None,
    )
    .await;
    assert_eq!(started.code, 0, "{started:?}");
    let recovery: Value = serde_json::from_str(&started.stdout).expect("the recovery as JSON");
    assert_eq!(recovery["total"], 2);
    assert_eq!(recovery["subscription_id"], subscription.as_str());
    let id = recovery["id"].as_str().expect("a recovery id").to_owned();

    let done = wait_for("the recovery to be done", WITHIN, || async {
        let (status, recovery) = get(&herald, &format!("/api/v1/recoveries/{id}")).await;
        (status == 200 && recovery["status"] == "done").then_some(recovery)
    })
    .await;
    assert_eq!(done["requeued"], 2);
    wait_until("the receiver to accept both again", WITHIN, || {
        receiver.succeeded_count() == 2
    })
    .await;
    wait_for("both deliveries to succeed", WITHIN, || async {
        let (_, page) = get(&herald, "/api/v1/deliveries?status=succeeded").await;
        (page["data"].as_array()?.len() == 2).then_some(())
    })
    .await;

    let shown = support::herald_with(
        &herald.url,
        &["subscriptions", "recovery", &id],
        Some(ADMIN_TOKEN),
        dir.path(),
        None,
    )
    .await;
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(shown.stdout.contains("done"), "{}", shown.stdout);
    let (missing, _) = get(&herald, "/api/v1/recoveries/rcv_unknown").await;
    assert_eq!(missing, 404);
}
