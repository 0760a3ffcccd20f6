//! The real thing: a `herald serve` child process on a data directory, for end-to-end tests
//! of the binary (crash safety, the CLI against a real server). Receivers come from
//! `herald-testkit`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use herald_testkit::wait_for;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef";

/// A free port on 127.0.0.1 (bound and released; the OS does not hand it out again at once).
pub fn free_port() -> u16 {
    herald_testkit::unused_port().expect("a free port")
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
