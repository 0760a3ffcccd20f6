//! The Herald under test and the API calls that prepare it.
//!
//! [`Target::spawn`] starts `herald serve --dev` as a child on a fresh temporary data directory
//! and a free port of 127.0.0.1, with a generated `HERALD_ADMIN_TOKEN`; its output goes to a
//! log file in that directory, shown when it fails to start. [`Target::remote`] uses a server
//! that is already running (`--url`/`--token`): then no process statistics are reported.
//! Every scenario sets up its own tenant and subscriptions, so scenarios never share state.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::BenchError;
use crate::procstats::{self, ProcStats};

/// The event type every scenario publishes.
pub const EVENT_TYPE: &str = "bench.event";

/// How long a spawned server may take to answer `/readyz`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A Herald to benchmark: a child process we own, or a running server.
pub struct Target {
    /// The API client for it.
    pub api: Api,
    /// The child, if we spawned it (killed on drop).
    child: Option<Child>,
    /// Holds the data directory until the child is gone.
    _data_dir: Option<tempfile::TempDir>,
}

impl Target {
    /// A server that already runs at `url`, administered with `token`.
    pub fn remote(url: &str, token: &str) -> Result<Self, BenchError> {
        Ok(Self {
            api: Api::new(url.trim_end_matches('/'), token)?,
            child: None,
            _data_dir: None,
        })
    }

    /// Starts `bin serve` on a fresh data directory with `extra` flags, and waits for it.
    pub async fn spawn(bin: &Path, extra: &[String]) -> Result<Self, BenchError> {
        let data_dir = tempfile::Builder::new()
            .prefix("herald-bench-")
            .tempdir()
            .map_err(BenchError::local("create a data directory"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(BenchError::local("find a free port on 127.0.0.1"))?
            .port();
        let token = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let log_path = data_dir.path().join("herald.log");
        let log =
            std::fs::File::create(&log_path).map_err(BenchError::local("create the server log"))?;
        let log_copy = log
            .try_clone()
            .map_err(BenchError::local("create the server log"))?;
        let child = Command::new(bin)
            .arg("serve")
            .arg("--dev")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir.path().join("data"))
            .args(extra)
            .env("HERALD_ADMIN_TOKEN", &token)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_copy))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                bin: bin.to_owned(),
                source,
            })?;
        let api = Api::new(&format!("http://127.0.0.1:{port}"), &token)?;
        let mut target = Self {
            api,
            child: Some(child),
            _data_dir: Some(data_dir),
        };
        if let Err(reason) = target.wait_ready().await {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(BenchError::ServerStart {
                reason,
                log_tail: tail.join("\n"),
            });
        }
        Ok(target)
    }

    /// Waits for `/readyz`; the error is why the server is not ready, in words.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        return Err(format!("herald serve exited at start ({status})"));
                    }
                    Ok(None) => {}
                    Err(error) => return Err(format!("cannot watch herald serve: {error}")),
                }
            }
            if self.api.ready().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "herald serve did not become ready within {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak RSS and CPU seconds of the spawned process so far.
    pub fn stats(&self) -> Option<ProcStats> {
        procstats::read(self.child.as_ref()?.id()?)
    }

    /// Stops the spawned process (SIGKILL: its data directory is thrown away anyway).
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// A thin client of the Herald HTTP API, for setup and publishing. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Api {
    fn new(base: &str, token: &str) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(BenchError::HttpClient)?;
        Ok(Self {
            http,
            base: base.to_owned(),
            auth: format!("Bearer {token}"),
        })
    }

    async fn ready(&self) -> bool {
        let response = self.http.get(format!("{}/readyz", self.base)).send().await;
        response.is_ok_and(|r| r.status().is_success())
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, BenchError> {
        let call = format!("{method} {path}");
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("authorization", &self.auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let failed = |source| BenchError::Request {
            call: call.clone(),
            source,
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let text = response.text().await.map_err(failed)?;
        if !status.is_success() {
            return Err(BenchError::Api {
                call,
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Registers [`EVENT_TYPE`] (a conflict means it exists already: fine).
    pub async fn event_type(&self) -> Result<(), BenchError> {
        let body = json!({"name": EVENT_TYPE, "description": "herald bench"});
        match self
            .call(reqwest::Method::POST, "/api/v1/event-types", Some(body))
            .await
        {
            Ok(_) => Ok(()),
            Err(BenchError::Api { status: 409, .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Creates a tenant; returns its id.
    pub async fn tenant(&self, name: &str) -> Result<String, BenchError> {
        let body = json!({"name": format!("{name}-{}", uuid::Uuid::new_v4().simple())});
        let tenant = self
            .call(reqwest::Method::POST, "/api/v1/tenants", Some(body))
            .await?;
        id_of("POST /api/v1/tenants", &tenant)
    }

    /// Subscribes `url` of `tenant` to [`EVENT_TYPE`]; returns the subscription id.
    pub async fn subscription(&self, tenant: &str, url: &str) -> Result<String, BenchError> {
        let body = json!({"tenant_id": tenant, "url": url, "event_types": [EVENT_TYPE]});
        let sub = self
            .call(reqwest::Method::POST, "/api/v1/subscriptions", Some(body))
            .await?;
        id_of("POST /api/v1/subscriptions", &sub)
    }

    /// Sets a subscription `active` or `paused`.
    pub async fn set_status(&self, subscription: &str, status: &str) -> Result<(), BenchError> {
        let path = format!("/api/v1/subscriptions/{subscription}");
        self.call(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"status": status})),
        )
        .await
        .map(drop)
    }

    /// Attempts that did not succeed, from `/metrics` (`herald_attempts_total`).
    pub async fn failed_attempts(&self) -> Result<u64, BenchError> {
        let failed = |source| BenchError::Request {
            call: "GET /metrics".into(),
            source,
        };
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .header("authorization", &self.auth)
            .send()
            .await
            .map_err(failed)?
            .text()
            .await
            .map_err(failed)?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with("herald_attempts_total{") && !l.contains("\"success\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64)
    }

    /// Publishes one event (`body` is the whole request); returns the event id if accepted.
    pub async fn publish(&self, body: Bytes) -> Result<String, BenchError> {
        const CALL: &str = "POST /api/v1/events";
        let failed = |source| BenchError::Request {
            call: CALL.into(),
            source,
        };
        let response = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(failed)?;
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        if status.as_u16() != 202 {
            return Err(BenchError::Api {
                call: CALL.into(),
                status: status.as_u16(),
                body: text(),
            });
        }
        let answer: Value =
            serde_json::from_slice(&bytes).map_err(|_| BenchError::UnexpectedAnswer {
                call: CALL.into(),
                body: text(),
            })?;
        id_of(CALL, &answer)
    }
}

/// The `id` of a created resource, from the answer to `call`.
fn id_of(call: &str, value: &Value) -> Result<String, BenchError> {
    value
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BenchError::UnexpectedAnswer {
            call: call.to_owned(),
            body: value.to_string(),
        })
}
