//! Request bodies are accepted exactly as the OpenAPI document describes them: a JSON object
//! (a JSON array or a bare value is a 422 problem, even where serde could fill the struct from
//! it), sent as `application/json` or another `application/*+json` type.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::TestServer;

#[tokio::test]
async fn a_json_array_where_an_object_is_expected_is_a_422_problem() {
    let server = TestServer::start().await;
    server.create_event_type("order.created").await;
    for (method, path, body) in [
        (Method::POST, "/api/v1/tenants", json!(["acme"])),
        (
            Method::PATCH,
            "/api/v1/event-types/order.created",
            json!([null, null]),
        ),
        (
            Method::POST,
            "/api/v1/event-types",
            json!(["order.paid", null, null]),
        ),
    ] {
        let (status, problem) = server.call(method, path, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        assert_eq!(problem["type"], "urn:herald:problem:validation", "{path}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("JSON object"),
            "{path}: {problem}"
        );
    }
    let (status, _) = server
        .call(Method::GET, "/api/v1/event-types/order.paid", None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "nothing was created from the array"
    );
}

#[tokio::test]
async fn a_json_subtype_content_type_is_accepted() {
    let server = TestServer::start().await;
    let response = server
        .client
        .post(format!("{}/api/v1/tenants", server.base))
        .bearer_auth(support::ADMIN_TOKEN)
        .header("content-type", "application/vnd.herald+json; charset=utf-8")
        .body(r#"{"name": "acme"}"#)
        .send()
        .await
        .expect("request to herald");
    assert_eq!(response.status(), StatusCode::CREATED);
}
