//! The real thing: a `herald serve` child process on a data directory, and a receiver that
//! records the `webhook-id` of every delivery it gets. For end-to-end tests of the binary
//! (crash safety, the CLI against a real server).

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef";

/// Waits until `check` returns `Some`, polling every 20 ms, failing after `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A free port on 127.0.0.1 (bound and released; the OS does not hand it out again at once).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A running `herald serve`.
pub struct Herald {
    child: Child,
    pub url: String,
    pub client: reqwest::Client,
}

impl Herald {
    /// Starts `herald serve --dev` on `data_dir` and `port`, and waits until it is ready.
    pub async fn start(data_dir: &Path, port: u16) -> Herald {
        Self::start_with(data_dir, port, &[]).await
    }

    /// The same with extra `serve` arguments (e.g. `--database-url`).
    pub async fn start_with(data_dir: &Path, port: u16, extra: &[&str]) -> Herald {
        let child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--dev", "--retry-schedule", "200ms,200ms,200ms"])
            .args(extra)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn herald serve");
        let herald = Herald {
            child,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let client = herald.client.clone();
        let ready = format!("{}/readyz", herald.url);
        wait_for("herald serve to be ready", Duration::from_secs(30), || {
            let client = client.clone();
            let ready = ready.clone();
            async move {
                let response = client.get(ready).send().await.ok()?;
                response.status().is_success().then_some(())
            }
        })
        .await;
        herald
    }

    /// The value of a counter or gauge (summed over its label sets) from `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter(|line| line[name.len()..].starts_with([' ', '{']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("kill herald");
        self.child.wait().await.expect("reap herald");
    }

    /// POSTs JSON as the admin and returns the JSON answer, asserting a 2xx.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// Registers `event_type`, a tenant and a subscription to `url`; returns the tenant id.
    pub async fn subscribe(&self, event_type: &str, url: &str) -> String {
        self.post("/api/v1/event-types", json!({"name": event_type}))
            .await;
        let tenant = self.post("/api/v1/tenants", json!({"name": "e2e"})).await;
        let tenant_id = tenant["id"].as_str().expect("tenant id").to_owned();
        self.post(
            "/api/v1/subscriptions",
            json!({"tenant_id": tenant_id, "url": url, "event_types": [event_type]}),
        )
        .await;
        tenant_id
    }
}

/// What a receiver has seen.
#[derive(Default)]
struct Seen {
    ids: Vec<String>,
    /// Requests being answered now, by `webhook-id`.
    active: HashSet<String>,
    /// Requests that arrived while another with the same id was still being answered.
    overlaps: usize,
}

/// A receiver that answers 200 after `delay` and records every `webhook-id`, and notices two
/// concurrent requests for the same id (the same delivery attempted twice at once).
#[derive(Clone)]
pub struct IdRecorder {
    pub url: String,
    seen: Arc<Mutex<Seen>>,
}

impl IdRecorder {
    pub async fn start(delay: Duration) -> IdRecorder {
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let recorded = Arc::clone(&seen);
        let app = axum::Router::new().fallback(move |headers: HeaderMap| {
            let recorded = Arc::clone(&recorded);
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                {
                    let mut seen = recorded.lock().expect("lock");
                    if !seen.active.insert(id.clone()) {
                        seen.overlaps += 1;
                    }
                }
                // A slow endpoint, so that a kill lands while deliveries are in flight.
                tokio::time::sleep(delay).await;
                let mut seen = recorded.lock().expect("lock");
                seen.active.remove(&id);
                seen.ids.push(id);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        IdRecorder { url, seen }
    }

    /// Requests answered.
    pub fn count(&self) -> usize {
        self.seen.lock().expect("lock").ids.len()
    }

    /// Distinct `webhook-id`s answered.
    pub fn distinct(&self) -> HashSet<String> {
        self.seen
            .lock()
            .expect("lock")
            .ids
            .iter()
            .cloned()
            .collect()
    }

    /// Requests that overlapped another for the same id.
    pub fn overlaps(&self) -> usize {
        self.seen.lock().expect("lock").overlaps
    }
}
