//! Ed25519 (`v1a`) signatures: a subscription with `signature_scheme: v1a` is signed with a
//! key Herald keeps; the API shows the public key, the JWK Set publishes the live ones, and
//! signatures verify with an independent implementation (`ring`) and with `herald listen`.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::Parser;
use herald_testkit::Receiver;
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;

/// Checks every `v1a,` entry of `header` against `public_key` (raw bytes) with ring; answers
/// how many verified.
fn ring_verified(public_key: &[u8], id: &str, timestamp: &str, body: &[u8], header: &str) -> usize {
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key);
    let content = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    header
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1a,"))
        .filter_map(|signature| STANDARD.decode(signature).ok())
        .filter(|signature| key.verify(&content, signature).is_ok())
        .count()
}

fn whpk_bytes(whpk: &str) -> Vec<u8> {
    STANDARD
        .decode(whpk.strip_prefix("whpk_").expect("a whpk_ key"))
        .expect("base64")
}

async fn jwks(server: &TestServer, subscription_id: &str) -> (StatusCode, Value) {
    let response = server
        .client
        .get(format!(
            "{}/.well-known/herald/keys/{subscription_id}",
            server.base
        ))
        .send()
        .await
        .expect("GET jwks");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn v1a_signatures_verify_with_ring_and_rotation_publishes_both_keys() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await.expect("receiver");
    server.create_event_type("a.b").await;
    let tenant = server.create_tenant("Acme").await;
    let tenant_id = tenant["id"].as_str().expect("tenant id");
    let subscription = server
        .subscribe_with(
            tenant_id,
            &receiver.url(),
            "a.b",
            json!({"signature_scheme": "v1a"}),
        )
        .await;
    let id = subscription["id"].as_str().expect("id");
    assert_eq!(subscription["signature_scheme"], "v1a");
    let first_key = subscription["public_key"]
        .as_str()
        .expect("public_key")
        .to_owned();
    assert!(
        !subscription.to_string().contains("whsk_"),
        "the private key never leaves: {subscription}"
    );

    // The JWK Set holds the one key, without authentication.
    let (status, set) = jwks(&server, id).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["keys"].as_array().map(Vec::len), Some(1), "{set}");
    let jwk = &set["keys"][0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    let x = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().expect("x"))
        .expect("base64url");
    assert_eq!(x, whpk_bytes(&first_key));

    let event_id = server
        .publish("a.b", json!({"n": 1}), Some(tenant_id))
        .await;
    let request = receiver
        .wait_for_count(1, Duration::from_secs(10))
        .await
        .remove(0);
    let header = request.header("webhook-signature").expect("signature");
    let timestamp = request.header("webhook-timestamp").expect("timestamp");
    assert!(
        header.starts_with("v1a,") && !header.contains(' '),
        "{header}"
    );
    assert_eq!(
        ring_verified(&x, &event_id, timestamp, &request.body, header),
        1
    );

    // Rotation: a new current key, the old one signing beside it in its grace period.
    let rotated = server
        .expect(
            StatusCode::OK,
            Method::POST,
            &format!("/api/v1/subscriptions/{id}/secret/rotate"),
            None,
        )
        .await;
    let second_key = rotated["public_key"]
        .as_str()
        .expect("public_key")
        .to_owned();
    assert_ne!(second_key, first_key);
    let (_, set) = jwks(&server, id).await;
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, vec![second_key.as_str(), first_key.as_str()]);

    let event_id = server
        .publish("a.b", json!({"n": 2}), Some(tenant_id))
        .await;
    let request = receiver
        .wait_for_count(2, Duration::from_secs(10))
        .await
        .remove(1);
    let header = request.header("webhook-signature").expect("signature");
    let timestamp = request.header("webhook-timestamp").expect("timestamp");
    assert_eq!(header.split(' ').count(), 2, "{header}");
    for key in [&first_key, &second_key] {
        let verified = ring_verified(
            &whpk_bytes(key),
            &event_id,
            timestamp,
            &request.body,
            header,
        );
        assert_eq!(verified, 1, "{key} verifies one entry of {header}");
    }
}

#[tokio::test]
async fn a_v1_subscription_publishes_no_keys() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    let (_, subscription) = server
        .subscribe("https://receiver.example/hook", "a.b")
        .await;
    assert_eq!(subscription["signature_scheme"], "v1");
    assert!(subscription.get("public_key").is_none(), "{subscription}");
    let id = subscription["id"].as_str().expect("id");
    let (status, problem) = jwks(&server, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, _) = jwks(&server, "sub_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[derive(Parser)]
struct ListenCli {
    #[command(flatten)]
    args: herald_listen::ListenArgs,
}

/// A `herald listen` in this process on a free loopback port, verifying with `key`.
async fn herald_listen(key: &str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let args = ListenCli::try_parse_from(["listen", "--secret", key])
        .expect("listen flags")
        .args;
    let config = herald_listen::Config::from_args(&args).expect("listen config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/webhooks", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(herald_listen::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    (url, stop)
}

#[tokio::test]
async fn herald_listen_accepts_v1a_deliveries_with_the_public_key_only() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    let tenant = server.create_tenant("Acme").await;
    let tenant_id = tenant["id"].as_str().expect("tenant id");
    // A first subscription only to learn a public key that is not the right one.
    let other = server
        .subscribe_with(
            tenant_id,
            "https://receiver.example/hook",
            "x.y",
            json!({
            "signature_scheme": "v1a", "allow_unmatched": true}),
        )
        .await;
    let wrong_key = other["public_key"].as_str().expect("public_key");

    // Subscribe with a placeholder URL, then point it at a listener holding the right key.
    let subscription = server
        .subscribe_with(
            tenant_id,
            "https://receiver.example/hook",
            "a.b",
            json!({
            "signature_scheme": "v1a"}),
        )
        .await;
    let id = subscription["id"].as_str().expect("id");
    let (right_url, _stop_right) =
        herald_listen(subscription["public_key"].as_str().expect("public_key")).await;
    let (wrong_url, _stop_wrong) = herald_listen(wrong_key).await;

    for (url, expected) in [(&right_url, "succeeded"), (&wrong_url, "failed")] {
        server
            .expect(
                StatusCode::OK,
                Method::PATCH,
                &format!("/api/v1/subscriptions/{id}"),
                Some(json!({"url": url})),
            )
            .await;
        let event_id = server
            .publish("a.b", json!({"n": 1}), Some(tenant_id))
            .await;
        let delivery = server
            .wait_delivery_status(&event_id, expected, Duration::from_secs(20))
            .await;
        let status = delivery["attempts"][0]["response_status"].as_u64();
        if expected == "succeeded" {
            assert!(
                status.is_some_and(|s| (200..300).contains(&s)),
                "{delivery}"
            );
        } else {
            // An answer, not a connection failure: the listener refused the signature.
            assert_eq!(status, Some(401), "{delivery}");
        }
    }
}
