//! The relay end to end: a real `herald serve` and real `herald listen --relay` processes,
//! forwarding to a local app (a recording receiver), all on loopback. Each test names the
//! behaviour of issue 12 it proves.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use herald_testkit::{Receiver, Reply, await_within, wait_for};
use serde_json::{Value, json};
use support::real::{ADMIN_TOKEN, Herald, free_port};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const WITHIN: Duration = Duration::from_secs(20);

/// A running `herald listen --relay`, its stdout and stderr collected line by line.
struct Listener {
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Lines {
        let lines = Lines::default();
        let kept = Arc::clone(&lines.0);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        lines
    }

    fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn wait_for(&self, needle: &str, within: Duration) -> String {
        wait_for(&format!("a line with `{needle}`"), within, || async {
            self.all().into_iter().find(|line| line.contains(needle))
        })
        .await
    }

    fn count(&self, needle: &str) -> usize {
        self.all().iter().filter(|l| l.contains(needle)).count()
    }
}

impl Listener {
    /// `herald listen --relay <server> <args…>`.
    fn start(server: &str, args: &[&str]) -> Listener {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["listen", "--relay", server])
            .args(args)
            .env_remove("HERALD_TOKEN")
            .env_remove("HERALD_CLIENT_ID")
            .env_remove("HERALD_CLIENT_SECRET")
            .env_remove("HERALD_LISTEN_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn herald listen");
        let stdout = Lines::collect(child.stdout.take().expect("stdout"));
        let stderr = Lines::collect(child.stderr.take().expect("stderr"));
        Listener {
            child,
            stdout,
            stderr,
        }
    }

    /// Started, and attached to its subscription.
    async fn attached(server: &str, args: &[&str]) -> Listener {
        let listener = Listener::start(server, args);
        listener.stderr.wait_for("attached to", WITHIN).await;
        listener
    }

    /// SIGKILL: the laptop's lid closes, nothing runs on the way out.
    async fn kill(mut self) {
        self.child.start_kill().expect("kill herald listen");
        self.child.wait().await.expect("reap herald listen");
    }

    /// SIGINT, as Ctrl-C; waits for it to exit and returns its code.
    async fn interrupt(mut self) -> Option<i32> {
        let pid = self.child.id().expect("running").to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().await;
        assert!(status.expect("run kill").success());
        let exited = await_within("herald listen to exit", WITHIN, self.child.wait()).await;
        exited.expect("reap herald listen").code()
    }

    /// Waits for it to exit by itself; its exit code.
    async fn exit_code(mut self) -> Option<i32> {
        let exited = await_within("herald listen to exit", WITHIN, self.child.wait()).await;
        exited.expect("reap herald listen").code()
    }
}

/// A tenant (with its client credentials) and its relay subscription to `a.*` with `extra`
/// fields.
async fn relay_subscription(herald: &Herald, extra: Value) -> (Value, Value) {
    let _ = herald
        .client
        .post(format!("{}/api/v1/event-types", herald.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "a.b"}))
        .send()
        .await;
    let tenant = herald
        .post("/api/v1/tenants", json!({"name": "laptop"}))
        .await;
    let mut body = json!({
        "tenant_id": tenant["id"], "url": "relay:", "event_types": ["a.*"], "max_in_flight": 1
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let subscription = herald.post("/api/v1/subscriptions", body).await;
    (tenant, subscription)
}

/// The listener flags for `tenant`'s `subscription`, forwarding to `app`.
fn flags(tenant: &Value, subscription: &Value, app: &Receiver) -> Vec<String> {
    let text = |v: &Value| v.as_str().expect("a string").to_owned();
    vec![
        "--client-id".into(),
        text(&tenant["client_id"]),
        "--client-secret".into(),
        text(&tenant["client_secret"]),
        "--subscription".into(),
        text(&subscription["id"]),
        "--secret".into(),
        text(&subscription["secret"]),
        "--forward-to".into(),
        app.url(),
    ]
}

fn refs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

async fn get(herald: &Herald, path: &str) -> Value {
    let response = herald
        .client
        .get(format!("{}{path}", herald.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    response.json().await.expect("json")
}

async fn publish(herald: &Herald, tenant: &Value, n: usize) -> String {
    let event = herald
        .post(
            "/api/v1/events",
            json!({"type": "a.b", "tenant_id": tenant["id"], "payload": {"n": n}}),
        )
        .await;
    event["id"].as_str().expect("event id").to_owned()
}

/// The one delivery of `event_id`, with its attempts.
async fn delivery(herald: &Herald, event_id: &str) -> Value {
    let list = get(herald, &format!("/api/v1/deliveries?event_id={event_id}")).await;
    let id = list["data"][0]["id"]
        .as_str()
        .expect("a delivery")
        .to_owned();
    get(herald, &format!("/api/v1/deliveries/{id}")).await
}

async fn wait_status(herald: &Herald, event_id: &str, status: &str) -> Value {
    wait_for(&format!("a {status} delivery"), WITHIN, || async {
        let delivery = delivery(herald, event_id).await;
        (delivery["status"] == status).then_some(delivery)
    })
    .await
}

/// Whether the official Standard Webhooks library accepts the request; `None` skips (the
/// library is missing outside CI).
fn python_verifies(secret: &str, request: &herald_testkit::Request) -> Option<bool> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../herald-listen/tests/interop/interop.py");
    let header = |name: &str| request.header(name).expect(name).to_owned();
    let body: String = request.body.iter().map(|b| format!("{b:02x}")).collect();
    let output = std::process::Command::new("python3")
        .arg(script)
        .args(["verify", secret])
        .args([
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            body,
        ])
        .output();
    let missing = output
        .as_ref()
        .map_or(true, |o| o.status.code() == Some(77));
    if missing {
        assert!(
            !herald_testkit::in_ci(),
            "CI is set but the standardwebhooks library cannot run"
        );
        println!("skipped: standardwebhooks verification (pip install standardwebhooks)");
        return None;
    }
    output.ok().map(|o| o.status.success())
}

#[tokio::test]
async fn a_relayed_delivery_reaches_the_app_verifiable_and_the_attempt_shows_its_answer() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(data.path(), free_port()).await;
    let app = Receiver::answering(Reply::json(201, r#"{"seen":true}"#))
        .await
        .expect("app");
    let (tenant, subscription) =
        relay_subscription(&herald, json!({"headers": {"x-team": "ops"}})).await;
    let listener =
        Listener::attached(&herald.url, &refs(&flags(&tenant, &subscription, &app))).await;

    let event_id = publish(&herald, &tenant, 1).await;
    let received = app.wait_for_count(1, WITHIN).await.remove(0);
    assert_eq!(received.webhook_id(), Some(event_id.as_str()));
    let body: Value = serde_json::from_slice(&received.body).expect("json body");
    assert_eq!(body["data"], json!({"n": 1}));
    let secret = subscription["secret"].as_str().expect("secret");
    if let Some(verified) = python_verifies(secret, &received) {
        assert!(verified, "the official library rejects the relayed bytes");
    }

    wait_status(&herald, &event_id, "succeeded").await;
    // Read again: a delivery's view reads its attempts a moment before its status.
    let delivery = delivery(&herald, &event_id).await;
    let attempt = &delivery["attempts"][0];
    assert_eq!(attempt["response_status"], 201, "{delivery}");
    assert_eq!(attempt["response_body"], r#"{"seen":true}"#, "{delivery}");
    listener.kill().await;
}

#[tokio::test]
async fn an_app_answering_500_fails_the_attempt_and_it_is_retried() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(data.path(), free_port()).await;
    let app = Receiver::answering(Reply::status(500)).await.expect("app");
    let (tenant, subscription) = relay_subscription(&herald, json!({})).await;
    let listener =
        Listener::attached(&herald.url, &refs(&flags(&tenant, &subscription, &app))).await;

    let event_id = publish(&herald, &tenant, 1).await;
    wait_status(&herald, &event_id, "failed").await;
    // Read again: a delivery's view reads its attempts a moment before its status.
    let delivery = delivery(&herald, &event_id).await;
    let attempts = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(
        attempts.len(),
        4,
        "the first attempt and 3 retries: {delivery}"
    );
    assert!(
        attempts
            .iter()
            .all(|a| a["response_status"] == 500 && a["error"] == "status"),
        "{delivery}"
    );
    listener.kill().await;
}

#[tokio::test]
async fn deliveries_wait_without_attempts_while_no_listener_is_connected_then_drain_in_order() {
    let data = tempfile::tempdir().expect("temp dir");
    let (herald, log) = Herald::start_logged(data.path(), free_port(), &[]).await;
    let app = Receiver::answering(Reply::ok()).await.expect("app");
    let (tenant, subscription) = relay_subscription(&herald, json!({})).await;
    let args = flags(&tenant, &subscription, &app);

    // Connected once, then the laptop sleeps (the process dies without a word).
    Listener::attached(&herald.url, &refs(&args))
        .await
        .kill()
        .await;
    log.wait_for_line("a relay listener left", WITHIN).await;

    let mut events = Vec::new();
    for n in 0..5 {
        events.push(publish(&herald, &tenant, n).await);
    }
    for event_id in &events {
        let delivery = delivery(&herald, event_id).await;
        assert_eq!(delivery["status"], "pending", "{delivery}");
        assert_eq!(
            delivery["attempts"],
            json!([]),
            "no attempt spent: {delivery}"
        );
    }
    assert_eq!(app.count(), 0);

    let listener = Listener::attached(&herald.url, &refs(&args)).await;
    listener
        .stderr
        .wait_for("catching up: 5 waiting", WITHIN)
        .await;
    let received = app.wait_for_count(5, WITHIN).await;
    let order: Vec<&str> = received.iter().filter_map(|r| r.webhook_id()).collect();
    assert_eq!(order, events, "drained in the order they were published");
    listener.kill().await;
}

#[tokio::test]
async fn past_the_hold_bound_waiting_deliveries_fail_with_the_sentence() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start_with(data.path(), free_port(), &["--relay-hold", "1s"]).await;
    let (tenant, _subscription) = relay_subscription(&herald, json!({})).await;

    let event_id = publish(&herald, &tenant, 1).await;
    wait_status(&herald, &event_id, "failed").await;
    // Read again: a delivery's view reads its attempts a moment before its status.
    let delivery = delivery(&herald, &event_id).await;
    let attempts = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{delivery}");
    let message = attempts[0]["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no relay client was connected for 1s"),
        "{delivery}"
    );
}

#[tokio::test]
async fn a_listener_reconnects_after_the_server_restarts_and_receives() {
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let herald = Herald::start(data.path(), port).await;
    let app = Receiver::answering(Reply::ok()).await.expect("app");
    let (tenant, subscription) = relay_subscription(&herald, json!({})).await;
    let url = herald.url.clone();
    let listener = Listener::attached(&url, &refs(&flags(&tenant, &subscription, &app))).await;

    herald.kill().await;
    listener.stderr.wait_for("reconnecting in", WITHIN).await;
    let herald = Herald::start(data.path(), port).await;
    wait_for("the listener to attach again", WITHIN, || async {
        (listener.stderr.count("attached to") >= 2).then_some(())
    })
    .await;

    let event_id = publish(&herald, &tenant, 1).await;
    wait_status(&herald, &event_id, "succeeded").await;
    assert_eq!(app.webhook_ids(), [event_id]);
    listener.kill().await;
}

#[tokio::test]
async fn two_listeners_on_one_subscription_never_both_get_a_delivery() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(data.path(), free_port()).await;
    let app = Receiver::answering(Reply::ok()).await.expect("app");
    let (tenant, subscription) = relay_subscription(&herald, json!({"max_in_flight": 4})).await;
    let args = flags(&tenant, &subscription, &app);
    let first = Listener::attached(&herald.url, &refs(&args)).await;
    let second = Listener::attached(&herald.url, &refs(&args)).await;

    let mut events = Vec::new();
    for n in 0..20 {
        events.push(publish(&herald, &tenant, n).await);
    }
    for event_id in &events {
        wait_status(&herald, event_id, "succeeded").await;
    }
    let mut ids = app.webhook_ids();
    ids.sort();
    events.sort();
    assert_eq!(ids, events, "each delivery reached the app exactly once");
    first.kill().await;
    second.kill().await;
}

#[tokio::test]
async fn another_tenants_token_is_refused() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(data.path(), free_port()).await;
    let app = Receiver::answering(Reply::ok()).await.expect("app");
    let (_owner, subscription) = relay_subscription(&herald, json!({})).await;
    let (intruder, _) = relay_subscription(&herald, json!({})).await;

    let listener = Listener::start(&herald.url, &refs(&flags(&intruder, &subscription, &app)));
    let stderr = listener.stderr.clone();
    let code = listener.exit_code().await;
    assert_ne!(code, Some(0));
    stderr
        .wait_for("refused the relay connection (404", WITHIN)
        .await;
}

#[tokio::test]
async fn events_creates_a_session_subscription_and_deletes_it_on_exit() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(data.path(), free_port()).await;
    let app = Receiver::answering(Reply::ok()).await.expect("app");
    let (tenant, _) = relay_subscription(&herald, json!({})).await;
    let text = |v: &Value| v.as_str().expect("a string").to_owned();
    let args = [
        "--client-id".to_owned(),
        text(&tenant["client_id"]),
        "--client-secret".to_owned(),
        text(&tenant["client_secret"]),
        "--events".to_owned(),
        "a.*".to_owned(),
        "--print-secret".to_owned(),
        "--forward-to".to_owned(),
        app.url(),
    ];
    let listener = Listener::attached(&herald.url, &refs(&args)).await;
    let secret = listener.stdout.wait_for("whsec_", WITHIN).await;
    assert_eq!(listener.stdout.all()[0], secret, "the secret alone, first");

    let tenant_id = text(&tenant["id"]);
    let sessions = |list: Value| -> Vec<Value> {
        list["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s["description"].as_str().unwrap_or("").contains("session"))
            .collect()
    };
    let listed = get(
        &herald,
        &format!("/api/v1/subscriptions?tenant_id={tenant_id}"),
    )
    .await;
    assert_eq!(sessions(listed).len(), 1, "one session subscription");

    // Its deliveries arrive, verified with the session's own secret.
    let event_id = publish(&herald, &tenant, 1).await;
    let received = app.wait_for_count(1, WITHIN).await;
    assert_eq!(received[0].webhook_id(), Some(event_id.as_str()));
    if let Some(verified) = python_verifies(&secret, &received[0]) {
        assert!(verified);
    }

    let stderr = listener.stderr.clone();
    assert_eq!(listener.interrupt().await, Some(0));
    stderr
        .wait_for("deleted session subscription", WITHIN)
        .await;
    let listed = get(
        &herald,
        &format!("/api/v1/subscriptions?tenant_id={tenant_id}"),
    )
    .await;
    assert!(sessions(listed).is_empty(), "deleted on exit");
}

/// On two PostgreSQL nodes, a listener attached to node A receives what is published on node
/// B: only the node holding a listener claims a relay subscription's deliveries, so each
/// arrives in one attempt, none wasted by B (which has no listener to send it to).
#[tokio::test]
async fn on_two_postgres_nodes_a_listener_on_one_receives_what_the_other_accepted() {
    let Some(database) = herald_testkit::TestDatabase::create()
        .await
        .expect("a test database")
    else {
        return; // no PostgreSQL here (never under CI)
    };
    let url = database.url().to_owned();
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = ["--database-url", url.as_str()];
    let node_a = Herald::start_with(dir_a.path(), free_port(), &args).await;
    let node_b = Herald::start_with(dir_b.path(), free_port(), &args).await;
    let app = Receiver::answering(Reply::ok()).await.expect("app");
    let (tenant, subscription) = relay_subscription(&node_a, json!({"max_in_flight": 4})).await;
    let listener =
        Listener::attached(&node_a.url, &refs(&flags(&tenant, &subscription, &app))).await;

    let mut events = Vec::new();
    for n in 0..10 {
        events.push(publish(&node_b, &tenant, n).await);
    }
    for event_id in &events {
        wait_status(&node_b, event_id, "succeeded").await;
        let delivery = delivery(&node_b, event_id).await;
        let attempts = delivery["attempts"].as_array().expect("attempts");
        assert_eq!(
            attempts.len(),
            1,
            "no attempt without a listener: {delivery}"
        );
    }
    let mut ids = app.webhook_ids();
    ids.sort();
    events.sort();
    assert_eq!(ids, events);
    listener.kill().await;
    node_a.kill().await;
    node_b.kill().await;
    drop(database);
}

#[tokio::test]
async fn forward_routes_send_each_event_type_to_its_own_app() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(data.path(), free_port()).await;
    let consent = Receiver::answering(Reply::ok()).await.expect("app");
    let rest = Receiver::answering(Reply::ok()).await.expect("app");
    let (tenant, subscription) = relay_subscription(&herald, json!({})).await;
    herald
        .post("/api/v1/event-types", json!({"name": "a.c"}))
        .await;
    let mut args = flags(&tenant, &subscription, &rest);
    args.truncate(args.len() - 2); // no --forward-to
    args.extend([
        "--forward".to_owned(),
        format!("a.b={}", consent.url()),
        "--forward".to_owned(),
        format!("a.*={}", rest.url()),
    ]);
    let listener = Listener::attached(&herald.url, &refs(&args)).await;

    let to_consent = publish(&herald, &tenant, 1).await;
    let to_rest = herald
        .post(
            "/api/v1/events",
            json!({"type": "a.c", "tenant_id": tenant["id"], "payload": {}}),
        )
        .await["id"]
        .as_str()
        .expect("event id")
        .to_owned();
    wait_status(&herald, &to_consent, "succeeded").await;
    wait_status(&herald, &to_rest, "succeeded").await;
    assert_eq!(consent.webhook_ids(), [to_consent]);
    assert_eq!(rest.webhook_ids(), [to_rest]);
    listener.kill().await;
}

#[tokio::test]
async fn a_large_body_and_large_headers_are_relayed_intact() {
    let data = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(data.path(), free_port()).await;
    let app = Receiver::answering(Reply::ok()).await.expect("app");
    let big_header = "h".repeat(2000);
    let big_header = big_header.as_str();
    let (tenant, subscription) =
        relay_subscription(&herald, json!({"headers": {"x-big": big_header}})).await;
    let mut args = flags(&tenant, &subscription, &app);
    args.push("--verbose".to_owned());
    let listener = Listener::attached(&herald.url, &refs(&args)).await;

    // Just under the server's default max_payload_size (256 KiB).
    let text = "é".repeat(120 * 1024);
    let event = herald
        .post(
            "/api/v1/events",
            json!({"type": "a.b", "tenant_id": tenant["id"], "payload": {"text": text}}),
        )
        .await;
    let event_id = event["id"].as_str().expect("event id").to_owned();
    wait_status(&herald, &event_id, "succeeded").await;
    let received = app.only_request();
    let body: Value = serde_json::from_slice(&received.body).expect("json");
    assert_eq!(body["data"]["text"].as_str(), Some(text.as_str()));
    // Verified on the way: the listener forwards only what its --secret verifies. (The
    // Python check passes the body on its command line, too small for this one.)
    assert!(received.header("webhook-signature").is_some());
    listener.kill().await;
}
