//! The API calls that prepare a Herald under test and read its counters: [`Api`], a thin
//! client used for setup, publishing and `/metrics`. Every scenario sets up its own tenant and
//! subscriptions, so scenarios never share state.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::BenchError;

/// The event type every scenario publishes.
pub const EVENT_TYPE: &str = "bench.event";

/// Delivery attempts one node made, by outcome (`herald_attempts_total`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Attempts {
    /// `outcome="success"`.
    pub succeeded: u64,
    /// Every other outcome.
    pub failed: u64,
}

/// A thin client of the Herald HTTP API, for setup and publishing. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    /// `http://host:port`, no trailing slash.
    pub(crate) base: String,
    auth: String,
}

impl Api {
    pub(crate) fn new(base: &str, token: &str) -> Result<Self, BenchError> {
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

    pub(crate) async fn ready(&self) -> bool {
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

    /// Attempts by outcome, from `/metrics` (`herald_attempts_total`).
    pub async fn attempts(&self) -> Result<Attempts, BenchError> {
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
        Ok(attempts_in(&text))
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

/// Sums `herald_attempts_total` samples of a Prometheus text exposition by outcome.
fn attempts_in(metrics: &str) -> Attempts {
    let mut attempts = Attempts::default();
    for line in metrics.lines() {
        let Some(labels) = line.strip_prefix("herald_attempts_total{") else {
            continue;
        };
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        if labels.contains("outcome=\"success\"") {
            attempts.succeeded += value as u64;
        } else {
            attempts.failed += value as u64;
        }
    }
    attempts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_summed_by_outcome() {
        let text = "# HELP herald_attempts_total x\n\
                    herald_attempts_total{outcome=\"success\"} 7\n\
                    herald_attempts_total{outcome=\"connect\"} 2\n\
                    herald_attempts_total{outcome=\"timeout\"} 1\n\
                    herald_attempt_duration_seconds_count 10\n";
        let attempts = attempts_in(text);
        assert_eq!((attempts.succeeded, attempts.failed), (7, 3));
    }
}
