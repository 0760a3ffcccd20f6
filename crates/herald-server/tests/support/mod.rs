//! Test support shared by every integration test of the sender: a real Herald on 127.0.0.1:0
//! over a real SQLite file, a real receiver that records what it gets and answers as scripted,
//! and a deadline-bounded wait (never a sleep) for asynchronous outcomes.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_server::Config;
use herald_store::Store;
use herald_store::postgres::testing::fresh_database;
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sqlite::SqliteStore;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Waits until `check` returns `Some`, polling every 10 ms, failing the test after `within`.
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
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Which store a test server runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server; each server gets a fresh database on it.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `HERALD_TEST_DATABASE_URL`, or `None` (and a note) when it is unset.
    /// Under CI the variable must be set: `.ci/run` starts a private PostgreSQL.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("HERALD_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must run the PostgreSQL tests: HERALD_TEST_DATABASE_URL is not set"
                );
                eprintln!("skipped on PostgreSQL: HERALD_TEST_DATABASE_URL is not set");
                None
            }
        }
    }
}

/// Runs each named `async fn(Backend)` as two tests: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(backend) = $crate::support::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// A Herald server for one test.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Settings for fast tests: development mode (loopback receivers), short retries.
pub fn test_config() -> Config {
    Config {
        dev: true,
        retry_schedule: vec![Duration::from_millis(100); 3],
        request_timeout: Duration::from_secs(2),
        admin_token: Some(ADMIN_TOKEN.to_owned()),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> Self {
        Self::start_on(Backend::Sqlite, config).await
    }

    /// A server on the given store backend.
    pub async fn start_on(backend: Backend, config: Config) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = match backend {
            Backend::Sqlite => Arc::new(
                SqliteStore::open(&dir.path().join("herald.db"))
                    .await
                    .expect("open store"),
            ),
            Backend::Postgres(admin_url) => {
                let url = fresh_database(&admin_url).await.expect("fresh database");
                Arc::new(
                    PgStore::connect(&url, PgOptions::default())
                        .await
                        .expect("connect"),
                )
            }
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        tokio::spawn(herald_server::run(
            config,
            store,
            ADMIN_TOKEN.to_owned(),
            listener,
            shutdown.clone(),
        ));
        Self {
            base,
            client: reqwest::Client::new(),
            shutdown,
            _dir: dir,
        }
    }

    /// Sends a request with `token` and returns the status and the JSON body (Null if none).
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request to herald");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(ADMIN_TOKEN, method, path, body).await
    }

    /// Calls and asserts the status.
    pub async fn expect(
        &self,
        status: StatusCode,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (got, value) = self.call(method, path, body).await;
        assert_eq!(got, status, "{path}: {value}");
        value
    }

    pub async fn create_tenant(&self, name: &str) -> Value {
        self.expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/tenants",
            Some(json!({"name": name})),
        )
        .await
    }

    pub async fn create_event_type(&self, name: &str) {
        self.expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/event-types",
            Some(json!({"name": name})),
        )
        .await;
    }

    /// A tenant with one subscription to `url` for `event_type`; returns (tenant id, subscription).
    pub async fn subscribe(&self, url: &str, event_type: &str) -> (String, Value) {
        let tenant = self.create_tenant("Acme").await;
        let tenant_id = tenant["id"].as_str().expect("tenant id").to_owned();
        let subscription = self.subscribe_tenant(&tenant_id, url, event_type).await;
        (tenant_id, subscription)
    }

    pub async fn subscribe_tenant(&self, tenant_id: &str, url: &str, event_type: &str) -> Value {
        self.subscribe_with(tenant_id, url, event_type, json!({}))
            .await
    }

    /// A subscription with extra fields (`{"max_in_flight": 3}`, …).
    pub async fn subscribe_with(
        &self,
        tenant_id: &str,
        url: &str,
        event_type: &str,
        extra: Value,
    ) -> Value {
        let mut body = json!({"tenant_id": tenant_id, "url": url, "event_types": [event_type]});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/subscriptions",
            Some(body),
        )
        .await
    }

    /// Publishes and returns the event id.
    pub async fn publish(
        &self,
        event_type: &str,
        payload: Value,
        tenant_id: Option<&str>,
    ) -> String {
        let body = json!({"type": event_type, "payload": payload, "tenant_id": tenant_id});
        let value = self
            .expect(
                StatusCode::ACCEPTED,
                Method::POST,
                "/api/v1/events",
                Some(body),
            )
            .await;
        value["id"].as_str().expect("event id").to_owned()
    }

    /// The deliveries of one event.
    pub async fn deliveries_of(&self, event_id: &str) -> Vec<Value> {
        let value = self
            .expect(
                StatusCode::OK,
                Method::GET,
                &format!("/api/v1/deliveries?event_id={event_id}"),
                None,
            )
            .await;
        value["data"].as_array().cloned().unwrap_or_default()
    }

    /// One delivery with its attempts.
    pub async fn delivery(&self, id: &str) -> Value {
        self.expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/deliveries/{id}"),
            None,
        )
        .await
    }

    /// Waits until the single delivery of `event_id` has `status`, and returns it with attempts.
    pub async fn wait_delivery_status(
        &self,
        event_id: &str,
        status: &str,
        within: Duration,
    ) -> Value {
        wait_for(
            &format!("a {status} delivery of {event_id}"),
            within,
            || async {
                let deliveries = self.deliveries_of(event_id).await;
                let first = deliveries.first()?;
                if first["status"] == status {
                    Some(self.delivery(first["id"].as_str()?).await)
                } else {
                    None
                }
            },
        )
        .await
    }
}

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// Accept the request and never answer.
    Hang,
    /// 302 to this location.
    Redirect(String),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
}

/// A real HTTP receiver on 127.0.0.1 that records every request.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    /// A receiver that answers `script` in order, then `default`.
    pub async fn start(script: Vec<Reply>, default: Reply) -> Self {
        let state = Arc::new(ReceiverState::default());
        *state.script.lock().expect("lock") = script.into();
        *state.default.lock().expect("lock") = Some(default);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    pub async fn ok() -> Self {
        Self::start(vec![], Reply::Status(200)).await
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.state.received.lock().expect("lock").len()
    }

    /// Waits until at least `n` requests arrived and returns them.
    pub async fn wait_for_count(&self, n: usize, within: Duration) -> Vec<Received> {
        wait_for(&format!("{n} requests at the receiver"), within, || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.received.lock().expect("lock").push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    let reply = {
        let next = state.script.lock().expect("lock").pop_front();
        next.or_else(|| state.default.lock().expect("lock").clone())
            .unwrap_or(Reply::Status(200))
    };
    match reply {
        Reply::Status(code) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
            "reply body",
        )
            .into_response(),
        Reply::Hang => std::future::pending().await,
        Reply::Redirect(location) => {
            (StatusCode::FOUND, [("location", location)], "").into_response()
        }
    }
}

/// Exchanges a tenant's credentials (from its creation response) for a bearer token.
pub async fn tenant_token(server: &TestServer, tenant: &Value) -> String {
    let response = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(
            tenant["client_id"].as_str().expect("client_id"),
            tenant["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("token body");
    assert_eq!(body["token_type"], "bearer");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}
