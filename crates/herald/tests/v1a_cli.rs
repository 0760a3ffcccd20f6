//! `herald subscriptions create|update --payload-mode … --signature-scheme …` send the
//! delivery-form fields (thin payloads, Ed25519 signing), against a fake API.

mod support;

use herald_testkit::Reply;
use reqwest::Method;
use serde_json::json;
use support::{fake_api, herald, words};

#[tokio::test]
async fn update_sends_the_payload_mode_and_signature_scheme() {
    let api = fake_api().await;
    api.on(
        Method::PATCH,
        "/api/v1/subscriptions/sub_1",
        Reply::json(200, r#"{"id":"sub_1","status":"active"}"#),
    );
    let args = words("subscriptions update sub_1 --payload-mode thin --signature-scheme v1a");
    let run = herald(&api.base_url(), &args).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        api.only_request().json().unwrap(),
        json!({"payload_mode": "thin", "signature_scheme": "v1a"})
    );
}

#[tokio::test]
async fn an_unknown_signature_scheme_is_refused_before_any_request() {
    let api = fake_api().await;
    let args = words("subscriptions update sub_1 --signature-scheme v2");
    let run = herald(&api.base_url(), &args).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(api.count(), 0);
}
