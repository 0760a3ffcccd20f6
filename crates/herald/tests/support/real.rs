//! The real thing: a `herald serve` child process on a data directory, for end-to-end tests
//! of the binary (crash safety, the CLI against a real server). Receivers come from
//! `herald-testkit`.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use herald_testkit::{await_within, wait_for};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef";

/// The encryption key every test server gets, so that PostgreSQL nodes share it.
pub const ENCRYPTION_KEY: &str = "ZTJlLWVuY3J5cHRpb24ta2V5LTAxMjM0NTY3ODlhYmM=";

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
        let child = serve_command(data_dir, port, extra)
            .env("RUST_LOG", "error")
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn herald serve");
        Self::ready(child, port).await
    }

    /// The same with its `info` log collected (stderr), for tests of what it says.
    pub async fn start_logged(data_dir: &Path, port: u16, extra: &[&str]) -> (Herald, Log) {
        let mut child = serve_command(data_dir, port, extra)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn herald serve");
        let log = Log::collect(child.stderr.take().expect("stderr"));
        (Self::ready(child, port).await, log)
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("herald serve is running")
    }

    /// Sends SIGINT, as Ctrl-C in its terminal would.
    #[cfg(unix)]
    pub async fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -INT failed");
    }

    /// Waits for the server to exit on its own, at most `within`.
    pub async fn exit_within(mut self, within: Duration) -> ExitStatus {
        let status = await_within("herald serve to exit", within, self.child.wait()).await;
        status.expect("reap herald")
    }

    async fn ready(child: Child, port: u16) -> Herald {
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

/// `herald serve --dev` on `data_dir` and `port` with `extra` arguments, killed when dropped.
/// Retries come after 200 ms each, unless `extra` sets `--retry-schedule` itself.
pub fn serve_command(data_dir: &Path, port: u16, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command.args(["serve", "--dev"]);
    if !extra.contains(&"--retry-schedule") {
        command.args(["--retry-schedule", "200ms,200ms,200ms"]);
    }
    command
        .args(extra)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("HERALD_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command
}

/// What a child wrote on stderr, line by line as it comes.
#[derive(Clone, Default)]
pub struct Log {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Log {
    fn collect(stderr: tokio::process::ChildStderr) -> Log {
        let log = Log::default();
        let lines = Arc::clone(&log.lines);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        log
    }

    /// Everything so far.
    pub fn text(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// Waits until a line contains `needle`, at most `within`; returns that line.
    pub async fn wait_for_line(&self, needle: &str, within: Duration) -> String {
        wait_for(&format!("a log line with `{needle}`"), within, || async {
            let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
            lines.iter().find(|line| line.contains(needle)).cloned()
        })
        .await
    }
}
