//! `herald serve` as a process among others: one server per data directory, and Ctrl-C that
//! stops claiming at once, says what it waits for, and gives way to a second Ctrl-C.

mod support;

use std::process::Stdio;
use std::time::Duration;

use herald_testkit::{Receiver, Reply, await_within, wait_until};
use serde_json::json;
use support::real::{Herald, Log, free_port, serve_command};
use tempfile::TempDir;

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_refuses_to_start_naming_the_first() {
    let data = tempfile::tempdir().expect("temp dir");
    let first = Herald::start(data.path(), free_port()).await;

    let second = serve_command(data.path(), free_port(), &[])
        .stderr(Stdio::piped())
        .output();
    let second = await_within("the second server to give up", DEADLINE, second)
        .await
        .expect("run the second herald serve");

    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "another herald serve (pid {}) is using {}",
        first.pid(),
        data.path().display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("--data-dir"), "says what to do: {stderr}");
    // The first one still serves.
    let ready = first.client.get(format!("{}/readyz", first.url)).send();
    assert!(ready.await.expect("readyz").status().is_success());
}

/// A server whose subscription takes one request at a time (`max_in_flight` 1), with three
/// events published to a receiver that holds every request: one attempt in flight, two jobs
/// waiting for the subscription's gate.
/// The data dir comes back too: it must outlive the server.
async fn one_attempt_in_flight_two_waiting() -> (Herald, Log, Receiver, TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::answering(Reply::ok()).await.expect("receiver");
    receiver.hold();
    let extra = ["--default-max-in-flight", "1", "--request-timeout", "60s"];
    let (herald, log) = Herald::start_logged(data.path(), free_port(), &extra).await;
    let tenant = herald.subscribe("stop.test", &receiver.url()).await;
    for n in 0..3 {
        let event = json!({"type": "stop.test", "tenant_id": tenant, "payload": {"n": n}});
        herald.post("/api/v1/events", event).await;
    }
    wait_until("the first attempt to arrive", DEADLINE, || {
        receiver.count() == 1
    })
    .await;
    (herald, log, receiver, data)
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_starts_no_new_attempt_and_says_what_it_waits_for() {
    let (herald, log, receiver, _data) = one_attempt_in_flight_two_waiting().await;

    herald.interrupt().await;
    let waiting = log
        .wait_for_line("waiting for 1 attempt in flight", DEADLINE)
        .await;
    assert!(waiting.contains("at most 1m"), "{waiting}");
    // The attempt in flight ends: had the waiting jobs not been stopped, their gate would now
    // let the next one go.
    receiver.release();
    let status = herald.exit_within(DEADLINE).await;
    assert!(
        status.success(),
        "a graceful stop: {status}\n{}",
        log.text()
    );
    assert_eq!(receiver.count(), 1, "no attempt started after Ctrl-C");
}

#[cfg(unix)]
#[tokio::test]
async fn a_second_ctrl_c_exits_at_once_with_code_130() {
    let (herald, log, receiver, _data) = one_attempt_in_flight_two_waiting().await;

    herald.interrupt().await;
    log.wait_for_line("waiting for 1 attempt in flight", DEADLINE)
        .await;
    herald.interrupt().await;
    // The attempt in flight may hang for its whole 60 s timeout: exiting well before proves
    // the second Ctrl-C did not wait for it.
    let status = herald.exit_within(Duration::from_secs(15)).await;
    assert_eq!(status.code(), Some(130), "{}", log.text());
    assert_eq!(receiver.count(), 1, "no attempt started after Ctrl-C");
}
