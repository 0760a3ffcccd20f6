//! The CLI against a real `herald serve`: the quickstart, step by step, as a user runs it.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply, wait_for};
use serde_json::Value;
use support::real::{ADMIN_TOKEN, Herald, free_port};
use support::{herald_with, words};

async fn cli(herald: &Herald, dir: &std::path::Path, args: &[&str]) -> Value {
    let run = herald_with(&herald.url, args, Some(ADMIN_TOKEN), dir, None).await;
    assert_eq!(run.code, 0, "herald {args:?} failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or(Value::Null)
}

#[tokio::test]
async fn quickstart_with_the_cli_reaches_a_succeeded_delivery() {
    let data = tempfile::tempdir().expect("temp dir");
    let work = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::answering(Reply::ok().after(Duration::ZERO))
        .await
        .expect("receiver");
    let herald = Herald::start(data.path(), free_port()).await;

    cli(
        &herald,
        work.path(),
        &words("event-types create consent.revoked --json"),
    )
    .await;
    let tenant = cli(
        &herald,
        work.path(),
        &words("tenants create --name Acme --json"),
    )
    .await;
    let tenant_id = tenant["id"].as_str().expect("tenant id");
    let create = format!(
        "subscriptions create --tenant {tenant_id} --url {} --event-types consent.* --json",
        receiver.url()
    );
    let subscription = cli(&herald, work.path(), &words(&create)).await;
    assert!(
        subscription["secret"]
            .as_str()
            .expect("secret")
            .starts_with("whsec_")
    );

    let publish = format!(
        "events publish --type consent.revoked --tenant {tenant_id} --data {{\"user\":\"u1\"}} --json"
    );
    let event = cli(&herald, work.path(), &words(&publish)).await;
    let event_id = event["id"].as_str().expect("event id").to_owned();

    let list = format!("deliveries list --event {event_id} --json");
    let delivery = wait_for("a succeeded delivery", Duration::from_secs(15), || async {
        let listed = cli(&herald, work.path(), &words(&list)).await;
        let first = listed["data"].get(0)?.clone();
        (first["status"] == "succeeded").then_some(first)
    })
    .await;
    assert!(receiver.succeeded_ids().contains(&event_id));

    let show = format!(
        "deliveries show {} --json",
        delivery["id"].as_str().expect("id")
    );
    let shown = cli(&herald, work.path(), &words(&show)).await;
    assert_eq!(shown["attempts"][0]["response_status"], 200);
    herald.kill().await;
}
