//! Crash safety (promises 1 and 2): a `herald serve` killed with SIGKILL while delivering loses
//! no accepted event; after a restart on the same data every one is delivered at least once.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use herald_testkit::{Receiver, Reply, wait_for};
use serde_json::json;
use support::real::{Herald, free_port};

#[tokio::test]
async fn every_accepted_event_is_delivered_after_a_sigkill_and_restart() {
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let receiver = Receiver::answering(Reply::ok().after(Duration::from_millis(30)))
        .await
        .expect("receiver");
    let herald = Herald::start(data.path(), port).await;
    let tenant = herald.subscribe("crash.test", &receiver.url()).await;

    let mut accepted = HashSet::new();
    for n in 0..400 {
        let answer = herald
            .post(
                "/api/v1/events",
                json!({"type": "crash.test", "tenant_id": tenant, "payload": {"n": n}}),
            )
            .await;
        accepted.insert(answer["id"].as_str().expect("event id").to_owned());
    }
    // Kill it mid-delivery: some events arrived, most have not.
    wait_for("the first deliveries", Duration::from_secs(30), || async {
        (receiver.succeeded_count() >= 20).then_some(())
    })
    .await;
    herald.kill().await;
    let delivered_before_restart = receiver.succeeded_ids().len();
    assert!(
        delivered_before_restart < accepted.len(),
        "the kill must land during delivery ({delivered_before_restart} of {} delivered)",
        accepted.len()
    );

    let herald = Herald::start(data.path(), port).await;
    receiver
        .wait_for_succeeded_ids(&accepted, Duration::from_secs(60))
        .await;
    herald.kill().await;
}
