//! Test support shared by every integration test of the sender: a real Herald on 127.0.0.1:0
//! over a real SQLite file or a PostgreSQL test database of its own, and the API calls tests
//! make. Receivers, waiting with a deadline and PostgreSQL databases come from
//! `herald-testkit`; what is here knows Herald's API.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod hub;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use herald_server::Config;
use herald_store::Store;
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sqlite::SqliteStore;
use herald_testkit::{TestDatabase, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Which store a test server runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server; each server gets a fresh database on it.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL at `herald_testkit::postgres_url()`: `None` skips (never under CI).
    pub fn postgres() -> Option<Backend> {
        herald_testkit::postgres_url().map(Backend::Postgres)
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

/// A Herald server for one test. Dropping it stops the server, then drops its database.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database it runs on, if any; declared after `shutdown` so it is dropped
    /// after the server was told to stop.
    _database: Option<TestDatabase>,
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
        let (store, database): (Arc<dyn Store>, _) = match backend {
            Backend::Sqlite => {
                let store = SqliteStore::open(
                    &dir.path().join("herald.db"),
                    herald_store::conformance::keyring(),
                )
                .await
                .expect("open store");
                (Arc::new(store), None)
            }
            Backend::Postgres(admin_url) => {
                let database = TestDatabase::create_on(&admin_url)
                    .await
                    .expect("a test database");
                let store = PgStore::connect(
                    database.url(),
                    PgOptions::default(),
                    herald_store::conformance::keyring(),
                )
                .await
                .expect("connect");
                (Arc::new(store), Some(database))
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
            _database: database,
        }
    }

    /// A server on a store the test opened (and filled) itself.
    pub async fn start_on_store(store: Arc<dyn Store>, config: Config) -> Self {
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
            _dir: tempfile::tempdir().expect("temp dir"),
            _database: None,
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
        self.subscribe_new_tenant(url, event_type, json!({})).await
    }

    /// A tenant with one subscription with extra fields (`{"max_in_flight": 3}`, …); returns
    /// (tenant id, subscription).
    pub async fn subscribe_new_tenant(
        &self,
        url: &str,
        event_type: &str,
        extra: Value,
    ) -> (String, Value) {
        let tenant = self.create_tenant("Acme").await;
        let tenant_id = tenant["id"].as_str().expect("tenant id").to_owned();
        let subscription = self
            .subscribe_with(&tenant_id, url, event_type, extra)
            .await;
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
        let value = self.publish_body(body).await;
        value["id"].as_str().expect("event id").to_owned()
    }

    /// Registers `a.b`, subscribes a new tenant to it at `url` and publishes one event of it;
    /// returns (tenant id, subscription, event id).
    pub async fn one_event_to(&self, url: &str) -> (String, Value, String) {
        self.create_event_type("a.b").await;
        let (tenant, subscription) = self.subscribe(url, "a.b").await;
        let event_id = self.publish("a.b", json!({}), Some(&tenant)).await;
        (tenant, subscription, event_id)
    }

    /// Publishes `count` events of `event_type` for `tenant_id`, with payloads `{"n": 0}`, ….
    pub async fn publish_numbered(&self, event_type: &str, count: usize, tenant_id: &str) {
        for n in 0..count {
            self.publish(event_type, json!({"n": n}), Some(tenant_id))
                .await;
        }
    }

    /// Publishes a whole request body (with an idempotency key, say) and returns the answer.
    pub async fn publish_body(&self, body: Value) -> Value {
        self.expect(
            StatusCode::ACCEPTED,
            Method::POST,
            "/api/v1/events",
            Some(body),
        )
        .await
    }

    /// Runs the connectivity test of `subscription` and returns its result.
    pub async fn test_subscription(&self, subscription: &Value) -> Value {
        let id = subscription["id"].as_str().expect("subscription id");
        self.expect(
            StatusCode::OK,
            Method::POST,
            &format!("/api/v1/subscriptions/{id}/test"),
            None,
        )
        .await
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
