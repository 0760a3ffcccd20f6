//! End to end: a real Herald delivering to real receivers on loopback, run once on SQLite and
//! once on PostgreSQL (when `HERALD_TEST_DATABASE_URL` names a server; skipped otherwise).

mod support;

use std::time::Duration;

use herald_signature::{Secret, Verifier};
use herald_testkit::{Receiver, Reply, unused_port, wait_for};
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::json;
use support::{Backend, TestServer, test_config};

const WAIT: Duration = Duration::from_secs(15);

async fn delivery_arrives_with_a_signature_that_verifies(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("consent.revoked").await;
    let (tenant, sub) = server.subscribe(&receiver.url(), "consent.*").await;
    let event_id = server
        .publish(
            "consent.revoked",
            json!({"user":  "u1", "scopes": ["a"]}),
            Some(&tenant),
        )
        .await;

    let got = receiver.wait_for_count(1, WAIT).await;
    let request = &got[0];
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("webhook-id"), event_id);
    assert_eq!(header("content-type"), "application/json");
    assert!(header("user-agent").starts_with("Herald/"));
    let secret = Secret::parse(sub["secret"].as_str().unwrap()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Verifier::new(vec![secret.into()])
        .verify(
            &header("webhook-id"),
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            &request.body,
            now,
        )
        .expect("the signature verifies");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "consent.revoked");
    assert_eq!(body["data"]["user"], "u1");
    server
        .wait_delivery_status(&event_id, "succeeded", WAIT)
        .await;
}

async fn payload_is_delivered_byte_for_byte(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (tenant, _) = server.subscribe(&receiver.url(), "a.b").await;
    let raw = r#"{"type":"a.b","tenant_id":"TENANT","payload":{"z": 1,   "a":[1.50, "é"]}}"#
        .replace("TENANT", &tenant);
    let response = server
        .client
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(support::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let got = receiver.wait_for_count(1, WAIT).await;
    let body = String::from_utf8(got[0].body.to_vec()).unwrap();
    assert!(
        body.ends_with(r#","data":{"z": 1,   "a":[1.50, "é"]}}"#),
        "{body}"
    );
}

async fn receiver_failing_twice_then_succeeding_gives_three_attempts_and_success(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::scripted(vec![Reply::status(500), Reply::status(500)], Reply::ok())
        .await
        .expect("receiver");
    let (_, _, event_id) = server.one_event_to(&receiver.url()).await;

    let delivery = server
        .wait_delivery_status(&event_id, "succeeded", WAIT)
        .await;
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["response_status"], 500);
    assert_eq!(attempts[0]["error"], "status");
    assert_eq!(attempts[2]["response_status"], 200);
    assert_eq!(delivery["attempt_count"], 3);
    let ids: Vec<_> = receiver
        .requests()
        .iter()
        .map(|r| r.webhook_id().unwrap_or_default().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| id == event_id.as_str()),
        "webhook-id is stable across retries"
    );
}

async fn failed_delivery_leaves_subscription_active_after_four_attempts(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::answering(Reply::status(500))
        .await
        .expect("receiver");
    let (_, sub, event_id) = server.one_event_to(&receiver.url()).await;

    let delivery = server.wait_delivery_status(&event_id, "failed", WAIT).await;
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 4);
    assert_eq!(receiver.count(), 4);
    assert!(delivery["next_attempt_at"].is_null());
    let sub = server
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(sub["status"], "active");
}

async fn hanging_receiver_gives_a_timeout_attempt(backend: Backend) {
    let mut config = test_config();
    config.request_timeout = Duration::from_millis(300);
    config.retry_schedule = vec![];
    let server = TestServer::start_on(backend, config).await;
    let receiver = Receiver::answering(Reply::hang()).await.expect("receiver");
    let (_, _, event_id) = server.one_event_to(&receiver.url()).await;

    let delivery = server.wait_delivery_status(&event_id, "failed", WAIT).await;
    let attempt = &delivery["attempts"][0];
    assert_eq!(attempt["error"], "timeout");
    assert!(attempt["response_status"].is_null());
    assert!(attempt["duration_ms"].as_u64().unwrap() >= 250);
}

async fn redirect_is_not_followed(backend: Backend) {
    let mut config = test_config();
    config.retry_schedule = vec![];
    let server = TestServer::start_on(backend, config).await;
    let target = Receiver::start().await.expect("receiver");
    let receiver = Receiver::answering(Reply::redirect(&target.url()))
        .await
        .expect("receiver");
    let (_, _, event_id) = server.one_event_to(&receiver.url()).await;

    let delivery = server.wait_delivery_status(&event_id, "failed", WAIT).await;
    assert_eq!(delivery["attempts"][0]["response_status"], 302);
    assert_eq!(delivery["attempts"][0]["error"], "status");
    assert_eq!(target.count(), 0, "the redirect target was never contacted");
}

async fn redelivery_of_a_failed_delivery_succeeds_and_is_recorded(backend: Backend) {
    let mut config = test_config();
    config.retry_schedule = vec![];
    let server = TestServer::start_on(backend, config).await;
    let receiver = Receiver::scripted(vec![Reply::status(503)], Reply::status(204))
        .await
        .expect("receiver");
    let (_, _, event_id) = server.one_event_to(&receiver.url()).await;
    let delivery = server.wait_delivery_status(&event_id, "failed", WAIT).await;
    let id = delivery["id"].as_str().unwrap();

    let attempt = server
        .expect(
            StatusCode::OK,
            Method::POST,
            &format!("/api/v1/deliveries/{id}/redeliver"),
            None,
        )
        .await;
    assert_eq!(attempt["trigger"], "redelivery");
    assert_eq!(attempt["succeeded"], true);
    let delivery = server.delivery(id).await;
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(receiver.count(), 2);
}

async fn idempotency_key_never_creates_a_second_event(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (tenant, _) = server.subscribe(&receiver.url(), "a.b").await;
    let body = json!({"type": "a.b", "payload": {"n": 1}, "tenant_id": tenant, "idempotency_key": "order-42"});
    let first = server.publish_body(body.clone()).await;
    let second = server.publish_body(body).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["duplicate"], true);
    let events = server
        .expect(StatusCode::OK, Method::GET, "/api/v1/events?type=a.b", None)
        .await;
    assert_eq!(events["data"].as_array().unwrap().len(), 1);
    receiver.wait_for_count(1, WAIT).await;
    let deliveries = server.deliveries_of(first["id"].as_str().unwrap()).await;
    assert_eq!(deliveries.len(), 1);
}

async fn paused_subscription_receives_nothing_until_resumed_then_everything(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let paused = Receiver::start().await.expect("receiver");
    let witness = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (tenant, sub) = server.subscribe(&paused.url(), "a.b").await;
    server
        .subscribe_tenant(&tenant, &witness.url(), "a.b")
        .await;
    let sub_path = format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    server
        .expect(
            StatusCode::OK,
            Method::PATCH,
            &sub_path,
            Some(json!({"status": "paused"})),
        )
        .await;

    server.publish_numbered("a.b", 5, &tenant).await;
    // The other subscription got all five, so the dispatcher has run past them.
    witness.wait_for_count(5, WAIT).await;
    assert_eq!(paused.count(), 0, "a paused subscription receives nothing");

    server
        .expect(
            StatusCode::OK,
            Method::PATCH,
            &sub_path,
            Some(json!({"status": "active"})),
        )
        .await;
    let got = paused.wait_for_count(5, WAIT).await;
    assert_eq!(got.len(), 5);
}

async fn blackholed_subscription_does_not_slow_a_healthy_one(backend: Backend) {
    // Longer than the test may take: a healthy delivery that waited behind a hanging request
    // could only arrive after every hanging request had timed out.
    let mut config = test_config();
    config.request_timeout = Duration::from_secs(600);
    let server = TestServer::start_on(backend, config).await;
    let blackhole = Receiver::answering(Reply::hang()).await.expect("receiver");
    let healthy = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (tenant, _) = server.subscribe(&blackhole.url(), "a.b").await;
    server
        .subscribe_tenant(&tenant, &healthy.url(), "a.b")
        .await;

    // Fill the blackhole's in-flight slots (16) and queue more behind them.
    server.publish_numbered("a.b", 100, &tenant).await;
    healthy.wait_for_count(100, WAIT).await;
    // Every healthy delivery arrived while every request to the blackhole was still hanging:
    // none waited behind one.
    assert_eq!(
        blackhole.in_flight(),
        blackhole.count(),
        "no request to the blackhole has ended"
    );
    assert!(
        blackhole.max_in_flight() <= 16,
        "at most max_in_flight requests hang: {}",
        blackhole.max_in_flight()
    );
}

async fn connectivity_test_reports_the_attempt(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (_, sub) = server.subscribe(&receiver.url(), "a.b").await;
    let result = server.test_subscription(&sub).await;
    assert_eq!(result["succeeded"], true);
    assert_eq!(result["attempt"]["trigger"], "test");
    let got = receiver.wait_for_count(1, WAIT).await;
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "herald.test");

    // A closed port: the test names the failing step.
    let url = format!("http://127.0.0.1:{}/", unused_port().unwrap());
    let (_, sub) = server.subscribe(&url, "a.b").await;
    let result = server.test_subscription(&sub).await;
    assert_eq!(result["succeeded"], false);
    assert_eq!(result["attempt"]["error"], "connect");
    assert!(
        result["attempt"]["error_message"]
            .as_str()
            .unwrap()
            .contains("connect")
    );
}

async fn rotated_secret_signs_beside_the_new_one(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (tenant, sub) = server.subscribe(&receiver.url(), "a.b").await;
    let old = Secret::parse(sub["secret"].as_str().unwrap()).unwrap();
    let rotated = server
        .expect(
            StatusCode::OK,
            Method::POST,
            &format!(
                "/api/v1/subscriptions/{}/secret/rotate",
                sub["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let new = Secret::parse(rotated["secret"].as_str().unwrap()).unwrap();
    assert_ne!(old, new);
    server.publish("a.b", json!({}), Some(&tenant)).await;
    let got = receiver.wait_for_count(1, WAIT).await;
    let h = |n: &str| got[0].headers[n].to_str().unwrap().to_owned();
    assert_eq!(h("webhook-signature").split(' ').count(), 2);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for secret in [old, new] {
        Verifier::new(vec![secret.into()])
            .verify(
                &h("webhook-id"),
                &h("webhook-timestamp"),
                &h("webhook-signature"),
                &got[0].body,
                now,
            )
            .expect("both secrets verify during the grace period");
    }
}

async fn broadcast_reaches_every_tenant_and_tenant_events_only_theirs(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let a = Receiver::start().await.expect("receiver");
    let b = Receiver::start().await.expect("receiver");
    server.create_event_type("maintenance.planned_outage").await;
    let (tenant_a, _) = server.subscribe(&a.url(), "maintenance.*").await;
    server
        .subscribe(&b.url(), "maintenance.planned_outage")
        .await;
    server
        .publish("maintenance.planned_outage", json!({"at": "tonight"}), None)
        .await;
    a.wait_for_count(1, WAIT).await;
    b.wait_for_count(1, WAIT).await;
    server
        .publish(
            "maintenance.planned_outage",
            json!({"only": "a"}),
            Some(&tenant_a),
        )
        .await;
    a.wait_for_count(2, WAIT).await;
    wait_for("the dispatcher to go idle", WAIT, || async {
        let stats = server
            .client
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        stats.contains("herald_deliveries_pending 0").then_some(())
    })
    .await;
    assert_eq!(b.count(), 1, "tenant B never gets tenant A's event");
}

async fn tls_failure_is_reported_as_the_tls_step(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let plain = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    // An https URL to a server that speaks plain HTTP: the handshake fails.
    let url = plain.url().replace("http://", "https://");
    let (_, sub) = server.subscribe(&url, "a.b").await;
    let result = server.test_subscription(&sub).await;
    assert_eq!(result["succeeded"], false);
    assert_eq!(result["attempt"]["error"], "tls", "{result}");
}

async fn max_in_flight_caps_concurrent_requests_to_a_subscription(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let hanging = Receiver::answering(Reply::hang()).await.expect("receiver");
    let witness = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (tenant_id, _) = server
        .subscribe_new_tenant(&hanging.url(), "a.b", json!({"max_in_flight": 3}))
        .await;
    let tenant_id = tenant_id.as_str();
    server.publish_numbered("a.b", 10, tenant_id).await;
    hanging.wait_for_count(3, WAIT).await;
    // Another subscription receiving a later event proves the dispatcher ran past the first ten.
    server
        .subscribe_tenant(tenant_id, &witness.url(), "a.b")
        .await;
    server
        .publish("a.b", json!({"n": "witness"}), Some(tenant_id))
        .await;
    witness.wait_for_count(1, WAIT).await;
    assert_eq!(
        hanging.count(),
        3,
        "no more than max_in_flight requests are open at once"
    );
}

async fn rate_limit_spaces_requests_to_a_subscription(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (tenant_id, _) = server
        .subscribe_new_tenant(&receiver.url(), "a.b", json!({"rate_limit_per_second": 20}))
        .await;
    server.publish_numbered("a.b", 11, &tenant_id).await;
    let got = receiver.wait_for_count(11, WAIT).await;
    // 11 requests at 20 per second span at least 10 intervals of 50 ms.
    let span = got.last().unwrap().at - got.first().unwrap().at;
    assert!(
        span >= Duration::from_millis(450),
        "11 requests arrived within {span:?}"
    );
}

async fn deliveries_list_and_show_carry_the_url_and_the_last_attempt(backend: Backend) {
    let mut config = test_config();
    config.retry_schedule = vec![];
    let server = TestServer::start_on(backend, config).await;
    let receiver = Receiver::answering(Reply::status(503))
        .await
        .expect("receiver");
    let (_, _, event_id) = server.one_event_to(&receiver.url()).await;
    let shown = server.wait_delivery_status(&event_id, "failed", WAIT).await;

    let listed = server.deliveries_of(&event_id).await;
    assert_eq!(listed.len(), 1);
    for delivery in [&listed[0], &shown] {
        assert_eq!(delivery["subscription_url"], receiver.url().as_str());
        assert_eq!(delivery["last_attempt"]["response_status"], 503);
        assert_eq!(delivery["last_attempt"]["error"], "status");
        assert!(delivery["last_attempt"]["error_message"].is_string());
    }
}

on_both_stores!(
    delivery_arrives_with_a_signature_that_verifies,
    payload_is_delivered_byte_for_byte,
    receiver_failing_twice_then_succeeding_gives_three_attempts_and_success,
    failed_delivery_leaves_subscription_active_after_four_attempts,
    hanging_receiver_gives_a_timeout_attempt,
    redirect_is_not_followed,
    redelivery_of_a_failed_delivery_succeeds_and_is_recorded,
    idempotency_key_never_creates_a_second_event,
    paused_subscription_receives_nothing_until_resumed_then_everything,
    blackholed_subscription_does_not_slow_a_healthy_one,
    connectivity_test_reports_the_attempt,
    rotated_secret_signs_beside_the_new_one,
    broadcast_reaches_every_tenant_and_tenant_events_only_theirs,
    tls_failure_is_reported_as_the_tls_step,
    max_in_flight_caps_concurrent_requests_to_a_subscription,
    rate_limit_spaces_requests_to_a_subscription,
    deliveries_list_and_show_carry_the_url_and_the_last_attempt,
);
