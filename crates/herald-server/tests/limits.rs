//! Per-tenant and per-subscription limits (issue 13): each size and count is refused with a
//! `limit-exceeded` problem naming its setting and value, a rotation keeps at most two live
//! secrets, and manual attempts (`/test`, `/redeliver`) are held to the subscription's
//! `max_in_flight`.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use herald_server::config::Limits;
use herald_testkit::{Receiver, wait_until};
use reqwest::Method;
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, TestServer, test_config};

const LIMIT_EXCEEDED: &str = "urn:herald:problem:limit-exceeded";

/// Asserts a 422 `limit-exceeded` problem whose detail names `setting = value`.
fn assert_limit(status: StatusCode, problem: &Value, setting: &str, value: usize) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], LIMIT_EXCEEDED, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("{setting} = {value}")),
        "{detail:?} does not name {setting} = {value}"
    );
}

/// A tenant and its id, with `consent.revoked` registered.
async fn tenant(server: &TestServer) -> String {
    server.create_event_type("consent.revoked").await;
    let tenant = server.create_tenant("Acme").await;
    tenant["id"].as_str().expect("tenant id").to_owned()
}

/// Creates a subscription of `tenant_id` to `consent.revoked` with `extra` fields.
async fn create(server: &TestServer, tenant_id: &str, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({
        "tenant_id": tenant_id,
        "url": "http://127.0.0.1:9/hook",
        "event_types": ["consent.revoked"],
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    server
        .call(Method::POST, "/api/v1/subscriptions", Some(body))
        .await
}

#[tokio::test]
async fn fifty_thousand_patterns_are_refused_naming_the_limit() {
    let server = TestServer::start().await;
    let tenant_id = tenant(&server).await;
    let patterns = vec!["consent.revoked"; 50_000];
    let (status, problem) = create(&server, &tenant_id, json!({"event_types": patterns})).await;
    assert_limit(status, &problem, "max_event_types_per_subscription", 100);
    // At the limit, duplicates included, the patterns are accepted (each stored once).
    let patterns = vec!["consent.revoked"; 100];
    let (status, sub) = create(&server, &tenant_id, json!({"event_types": patterns})).await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert_eq!(sub["event_types"], json!(["consent.revoked"]));
}

#[tokio::test]
async fn each_size_limit_is_refused_naming_the_limit() {
    let server = TestServer::start().await;
    let tenant_id = tenant(&server).await;
    let long_url = format!("http://127.0.0.1:9/{}", "a".repeat(2048));
    let (status, problem) = create(&server, &tenant_id, json!({"url": long_url})).await;
    assert_limit(status, &problem, "max_url_length", 2048);

    let description = "d".repeat(1025);
    let (status, problem) = create(&server, &tenant_id, json!({"description": description})).await;
    assert_limit(status, &problem, "max_description_length", 1024);

    let many: serde_json::Map<String, Value> = (0..21)
        .map(|n| (format!("x-custom-{n}"), json!("v")))
        .collect();
    let (status, problem) = create(&server, &tenant_id, json!({"headers": many})).await;
    assert_limit(status, &problem, "max_headers_per_subscription", 20);

    let long_name = json!({ "x-".to_owned() + &"n".repeat(255): "v" });
    let (status, problem) = create(&server, &tenant_id, json!({"headers": long_name})).await;
    assert_limit(status, &problem, "max_header_name_length", 256);

    let long_value = json!({"x-custom": "v".repeat(4097)});
    let (status, problem) = create(&server, &tenant_id, json!({"headers": long_value})).await;
    assert_limit(status, &problem, "max_header_value_length", 4096);

    // The same limits hold on a change.
    let (status, sub) = create(&server, &tenant_id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    let path = format!("/api/v1/subscriptions/{}", sub["id"].as_str().unwrap_or(""));
    let body = json!({"description": "d".repeat(1025)});
    let (status, problem) = server.call(Method::PATCH, &path, Some(body)).await;
    assert_limit(status, &problem, "max_description_length", 1024);
    let body = json!({"event_types": vec!["consent.revoked"; 101]});
    let (status, problem) = server.call(Method::PATCH, &path, Some(body)).await;
    assert_limit(status, &problem, "max_event_types_per_subscription", 100);
}

#[tokio::test]
async fn a_tenant_past_its_subscription_limit_is_refused() {
    let mut config = test_config();
    config.limits = Limits {
        max_subscriptions_per_tenant: 2,
        ..Limits::default()
    };
    let server = TestServer::start_with(config).await;
    let tenant_id = tenant(&server).await;
    for _ in 0..2 {
        let (status, sub) = create(&server, &tenant_id, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{sub}");
    }
    let (status, problem) = create(&server, &tenant_id, json!({})).await;
    assert_limit(status, &problem, "max_subscriptions_per_tenant", 2);
    // Another tenant has its own count.
    let other = server.create_tenant("Other").await;
    let other_id = other["id"].as_str().expect("tenant id");
    let (status, sub) = create(&server, other_id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
}

#[tokio::test]
async fn thirty_rotations_leave_at_most_two_signatures_on_a_delivery() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    let (tenant_id, sub, _) = server.one_event_to(&receiver.url()).await;
    receiver.wait_for_count(1, Duration::from_secs(10)).await;
    let path = format!(
        "/api/v1/subscriptions/{}/secret/rotate",
        sub["id"].as_str().unwrap_or("")
    );
    let mut current = Value::Null;
    for _ in 0..30 {
        current = server
            .expect(StatusCode::OK, Method::POST, &path, None)
            .await;
    }
    server.publish("a.b", json!({}), Some(&tenant_id)).await;
    let requests = receiver.wait_for_count(2, Duration::from_secs(10)).await;
    let signatures = requests[1]
        .header("webhook-signature")
        .expect("a signature")
        .split(' ')
        .count();
    assert_eq!(signatures, 2, "the current secret and the one before it");
    assert_ne!(current["secret"], sub["secret"]);
}

/// Posts to `path` as the admin and returns the status and the `Retry-After` header.
async fn post_status(server: &TestServer, path: &str) -> (StatusCode, Option<String>) {
    let response = server
        .client
        .post(format!("{}{path}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request to herald");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
    (status, retry_after)
}

#[tokio::test]
async fn manual_attempts_at_the_cap_get_429_and_never_exceed_max_in_flight() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    let (_, sub, event_id) = server.one_event_to(&receiver.url()).await;
    let delivery = server
        .wait_delivery_status(&event_id, "succeeded", Duration::from_secs(10))
        .await;
    let id = sub["id"].as_str().expect("subscription id").to_owned();
    let path = format!("/api/v1/subscriptions/{id}/test");
    // max_in_flight 1, and the receiver holds the first test's request open.
    server
        .expect(
            StatusCode::OK,
            Method::PATCH,
            &format!("/api/v1/subscriptions/{id}"),
            Some(json!({"max_in_flight": 1})),
        )
        .await;
    receiver.hold();
    let first = {
        let client = server.client.clone();
        let url = format!("{}{path}", server.base);
        tokio::spawn(async move {
            let response = client.post(url).bearer_auth(ADMIN_TOKEN).send().await?;
            response.text().await
        })
    };
    wait_until("the first test in flight", Duration::from_secs(10), || {
        receiver.in_flight() == 1
    })
    .await;
    let (status, retry_after) = post_status(&server, &path).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("1"));
    let redeliver = format!(
        "/api/v1/deliveries/{}/redeliver",
        delivery["id"].as_str().unwrap_or("")
    );
    let (status, _) = post_status(&server, &redeliver).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    receiver.release();
    let answer = first.await.expect("task").expect("first test");
    assert!(answer.contains("\"succeeded\":true"), "{answer}");
    assert_eq!(receiver.max_in_flight(), 1);
    // With the subscription free again, a test goes through.
    let (status, _) = post_status(&server, &path).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_deliverys_attempts_are_paged() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    let (_, _, event_id) = server.one_event_to(&receiver.url()).await;
    let delivery = server
        .wait_delivery_status(&event_id, "succeeded", Duration::from_secs(10))
        .await;
    let id = delivery["id"].as_str().expect("delivery id").to_owned();
    for _ in 0..21 {
        let path = format!("/api/v1/deliveries/{id}/redeliver");
        server
            .expect(StatusCode::OK, Method::POST, &path, None)
            .await;
    }
    let delivery = server.delivery(&id).await;
    let embedded = delivery["attempts"].as_array().cloned().unwrap_or_default();
    assert_eq!(embedded.len(), 20, "the first page only");
    assert_eq!(delivery["attempt_count"], 22);
    assert_eq!(embedded[0]["trigger"], "scheduled", "oldest first");
    assert!(delivery["last_attempt"].is_object(), "{delivery}");
    let cursor = delivery["attempts_next_cursor"].as_str().expect("a cursor");
    let rest = server
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/deliveries/{id}/attempts?cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest["next_cursor"], Value::Null);

    // Small pages walk every attempt once, in order.
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let query = if next.is_empty() {
            "limit=5".to_owned()
        } else {
            format!("limit=5&cursor={next}")
        };
        let page = server
            .expect(
                StatusCode::OK,
                Method::GET,
                &format!("/api/v1/deliveries/{id}/attempts?{query}"),
                None,
            )
            .await;
        for attempt in page["data"].as_array().cloned().unwrap_or_default() {
            seen.push(attempt["id"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => next = cursor.to_owned(),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen.len(), 22);
    assert_eq!(seen, sorted, "each once, in order");
    assert_eq!(
        seen.get(..20).map(<[String]>::to_vec),
        Some(
            embedded
                .iter()
                .map(|a| a["id"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        )
    );
}

#[tokio::test]
async fn manual_attempts_take_the_subscriptions_rate_slots() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let (_, sub) = server
        .subscribe_new_tenant(&receiver.url(), "a.b", json!({"rate_limit_per_second": 1}))
        .await;
    let path = format!(
        "/api/v1/subscriptions/{}/test",
        sub["id"].as_str().unwrap_or("")
    );
    // At 1 per second, a second's horizon holds two slots: the third test is refused.
    let (a, b, c) = tokio::join!(
        post_status(&server, &path),
        post_status(&server, &path),
        post_status(&server, &path)
    );
    let mut statuses = [a.0, b.0, c.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(receiver.count(), 2);
}
