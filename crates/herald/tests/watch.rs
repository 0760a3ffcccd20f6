//! `herald deliveries watch` and `herald events tail` against a real `herald serve`: the
//! binary is spawned and its stdout read line by line with a deadline.

mod support;

use std::process::Stdio;
use std::time::Duration;

use herald_testkit::{Receiver, await_within};
use serde_json::{Value, json};
use support::real::{ADMIN_TOKEN, Herald, free_port};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

const WAIT: Duration = Duration::from_secs(20);

/// A running `herald <args>` whose output is read line by line.
struct Watching {
    _child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
}

impl Watching {
    /// Starts `herald <args>` against `server` and waits until it says it is watching.
    async fn start(server: &str, args: &[&str]) -> Watching {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .env("HERALD_URL", server)
            .env("HERALD_TOKEN", ADMIN_TOKEN)
            .env_remove("HERALD_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn herald");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut watching = Watching {
            _child: child,
            stdout,
            stderr,
        };
        watching.stderr_line_containing("watching attempts").await;
        watching
    }

    async fn stdout_line(&mut self) -> String {
        await_within("a line on stdout", WAIT, self.stdout.next_line())
            .await
            .expect("read stdout")
            .expect("stdout open")
    }

    async fn stderr_line_containing(&mut self, text: &str) -> String {
        await_within(&format!("'{text}' on stderr"), WAIT, async {
            loop {
                let line = self.stderr.next_line().await.expect("read stderr");
                let line = line.unwrap_or_else(|| panic!("stderr closed before '{text}'"));
                if line.contains(text) {
                    return line;
                }
            }
        })
        .await
    }
}

/// A server with a subscription to `order.paid` at a receiver; returns the tenant id.
async fn server_and_subscription(dir: &std::path::Path, port: u16) -> (Herald, Receiver, String) {
    let herald = Herald::start(dir, port).await;
    let receiver = Receiver::start().await.expect("receiver");
    let tenant = herald.subscribe("order.paid", &receiver.url()).await;
    (herald, receiver, tenant)
}

async fn publish(herald: &Herald, tenant: &str) -> String {
    let event = herald
        .post(
            "/api/v1/events",
            json!({"type": "order.paid", "payload": {"n": 1}, "tenant_id": tenant}),
        )
        .await;
    event["id"].as_str().expect("event id").to_owned()
}

#[tokio::test]
async fn deliveries_watch_prints_a_line_for_a_delivery_made_after_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let (herald, _receiver, tenant) = server_and_subscription(dir.path(), free_port()).await;
    let mut watch = Watching::start(&herald.url, &["deliveries", "watch"]).await;

    publish(&herald, &tenant).await;
    let line = watch.stdout_line().await;
    assert!(
        line.contains("  order.paid  succeeded 200  ") && line.contains("  delivered  dlv_"),
        "{line}"
    );
    assert!(line.contains("  sub_"), "{line}");
}

#[tokio::test]
async fn deliveries_watch_json_prints_one_attempt_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let (herald, _receiver, tenant) = server_and_subscription(dir.path(), free_port()).await;
    let mut watch = Watching::start(
        &herald.url,
        &[
            "deliveries",
            "watch",
            "--json",
            "--status",
            "succeeded",
            "--event-type",
            "order.paid",
        ],
    )
    .await;

    let event_id = publish(&herald, &tenant).await;
    let attempt: Value = serde_json::from_str(&watch.stdout_line().await).expect("a JSON line");
    assert_eq!(attempt["event_id"], event_id.as_str());
    assert_eq!(attempt["outcome"], "succeeded");
    assert_eq!(attempt["tenant_id"], tenant.as_str());
}

#[tokio::test]
async fn watch_reconnects_after_the_server_restarts_and_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (herald, _receiver, tenant) = server_and_subscription(dir.path(), port).await;
    let mut watch = Watching::start(&herald.url, &["deliveries", "watch", "--json"]).await;
    let first = publish(&herald, &tenant).await;
    let line: Value = serde_json::from_str(&watch.stdout_line().await).unwrap();
    assert_eq!(line["event_id"], first.as_str());

    herald.kill().await;
    let lost = watch.stderr_line_containing("connection lost").await;
    assert!(lost.contains("resuming after attempt att_"), "{lost}");
    let herald = Herald::start(dir.path(), port).await;
    // Published (and attempted) before or after the watch reconnects: either way it comes
    // once, through Last-Event-ID.
    let second = publish(&herald, &tenant).await;
    watch.stderr_line_containing("reconnected").await;
    let line: Value = serde_json::from_str(&watch.stdout_line().await).unwrap();
    assert_eq!(
        line["event_id"],
        second.as_str(),
        "the next line is the new attempt"
    );
}

#[tokio::test]
async fn events_tail_prints_each_event_then_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let (herald, _receiver, tenant) = server_and_subscription(dir.path(), free_port()).await;
    let mut tail = Watching::start(&herald.url, &["events", "tail", "--type", "order.paid"]).await;

    let event_id = publish(&herald, &tenant).await;
    let header = tail.stdout_line().await;
    assert!(
        header.ends_with(&format!("  {event_id}  order.paid")),
        "{header}"
    );
    let attempt = tail.stdout_line().await;
    assert!(attempt.starts_with("  -> sub_"), "{attempt}");
    assert!(attempt.contains("succeeded 200"), "{attempt}");
}
