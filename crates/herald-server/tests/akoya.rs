//! The Akoya profile end to end, as an Akoya Notifications client uses it: a service token,
//! create, list, a test push, a real event in Akoya's envelope, delete, and the error bodies,
//! each with the exact JSON shapes of the reference.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use herald_testkit::Receiver;
use reqwest::Method;
use serde_json::{Value, json};
use support::{TestServer, test_config};

async fn akoya_server() -> TestServer {
    TestServer::start_with(herald_server::Config {
        akoya_profile: true,
        ..test_config()
    })
    .await
}

/// The keys of a JSON object, to compare a shape exactly.
fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// A service token for `tenant`, asked for with Akoya's scopes; checks the answer's shape.
async fn service_token(server: &TestServer, tenant: &Value) -> String {
    let response = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(
            tenant["client_id"].as_str().unwrap(),
            tenant["client_secret"].as_str(),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "notifications_subscriptions advisory"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("token body");
    assert_eq!(
        keys(&body),
        set(&["access_token", "expires_in", "scope", "token_type"])
    );
    assert_eq!(body["scope"], "notifications_subscriptions advisory");
    assert_eq!(body["token_type"], "bearer");
    body["access_token"].as_str().unwrap().to_owned()
}

/// A call to the Akoya API with `token` (none: no Authorization header).
async fn akoya(
    server: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .client
        .request(method, format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An Akoya error body: `{code, message[, debugMessage]}` with `code` the status as an integer.
fn assert_akoya_error(status: StatusCode, body: &Value, expected: StatusCode, says: &str) {
    assert_eq!(status, expected, "{body}");
    let fields = keys(body);
    assert!(
        fields == set(&["code", "message"]) || fields == set(&["code", "message", "debugMessage"]),
        "{body}"
    );
    assert_eq!(body["code"], expected.as_u16(), "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "'{says}' in {body}");
}

#[tokio::test]
async fn an_akoya_client_flow_works_with_the_exact_shapes() {
    let server = akoya_server().await;
    let receiver = Receiver::start().await.expect("receiver");
    // The profile registered Akoya's event types at start.
    server
        .expect(
            StatusCode::OK,
            Method::GET,
            "/api/v1/event-types/consent.revoked",
            None,
        )
        .await;
    let tenant = server.create_tenant("Fintech").await;
    let tenant_id = tenant["id"].as_str().unwrap();
    let token = service_token(&server, &tenant).await;

    // Create.
    let create = json!({"category": "CONSENT", "type": "CONSENT_REVOKED",
        "callbackUrl": receiver.url(), "effectiveDate": "2021-07-15",
        "callbackEmail": "ops@fintech.example"});
    let (status, created) = akoya(
        &server,
        Some(&token),
        Method::POST,
        "/notifications/v1/subscriptions",
        Some(create.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let subscription_id = created["subscriptionId"]
        .as_str()
        .expect("subscriptionId")
        .to_owned();
    let mut expected = create.clone();
    expected["subscriptionId"] = json!(subscription_id);
    assert_eq!(created, expected);

    // The same subscription through Herald's own API: nothing stored twice.
    let herald = server
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/subscriptions/{subscription_id}"),
            None,
        )
        .await;
    assert_eq!(herald["tenant_id"], tenant_id);
    assert_eq!(herald["event_types"], json!(["consent.revoked"]));
    assert_eq!(herald["payload_mode"], "akoya");
    assert_eq!(herald["contact_email"], "ops@fintech.example");
    assert_eq!(herald["effective_at"], "2021-07-15T00:00:00Z");
    // And one made through Herald's API shows in Akoya's list.
    let made_by_herald = server
        .subscribe_with(tenant_id, &receiver.url(), "maintenance.service", json!({}))
        .await;

    // List.
    let (status, listed) = akoya(
        &server,
        Some(&token),
        Method::GET,
        "/notifications/v1/subscriptions",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(keys(&listed), set(&["notificationSubscriptions"]));
    let listed = listed["notificationSubscriptions"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&expected), "{listed:?}");
    assert!(
        listed.contains(&json!({"category": "MAINTENANCE", "type": "SERVICE",
        "callbackUrl": receiver.url(), "subscriptionId": made_by_herald["id"]})),
        "{listed:?}"
    );

    // A published event reaches the callback in Akoya's envelope, signed.
    let event_id = server
        .publish(
            "consent.revoked",
            json!({"id": "c-42", "initiator": "INDIVIDUAL"}),
            Some(tenant_id),
        )
        .await;
    let request = receiver
        .wait_for_count(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert!(
        request
            .header("webhook-signature")
            .is_some_and(|s| s.starts_with("v1,"))
    );
    assert_eq!(request.webhook_id(), Some(event_id.as_str()));
    let body = request.json().expect("JSON");
    assert_eq!(
        keys(&body),
        set(&[
            "category",
            "type",
            "notificationPayload",
            "url",
            "notificationId",
            "sentOn",
            "subscriber",
            "publisher"
        ])
    );
    assert_eq!(body["category"], "CONSENT");
    assert_eq!(body["type"], "CONSENT_REVOKED");
    assert_eq!(
        body["notificationPayload"],
        json!({"id": "c-42", "idType": "CONSENT",
               "customFields": [{"name": "INITIATOR", "value": "INDIVIDUAL"}]})
    );
    let href = format!("{}/api/v1/events/{event_id}", server.base);
    assert_eq!(body["url"], json!({"href": href, "action": "GET"}));
    assert_eq!(body["notificationId"], event_id.as_str());
    for party in ["subscriber", "publisher"] {
        assert_eq!(
            keys(&body[party]),
            set(&["name", "type", "registry", "registeredEntityId"])
        );
    }
    // The service token reads the event the envelope points to.
    let read = server
        .client
        .get(&href)
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET href");
    assert_eq!(read.status(), StatusCode::OK);

    // The test push.
    let (status, pushed) = akoya(
        &server,
        Some(&token),
        Method::POST,
        "/notifications/v1/test",
        Some(json!({"id": subscription_id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    assert_eq!(pushed["delivered"], true, "{pushed}");
    assert_eq!(pushed["callbackStatus"], 200, "{pushed}");
    let test = receiver
        .wait_for_count(2, Duration::from_secs(10))
        .await
        .remove(1);
    let test = test.json().expect("JSON");
    assert_eq!(
        (&test["category"], &test["type"]),
        (&json!("CONSENT"), &json!("CONSENT_REVOKED"))
    );
    assert_eq!(test["notificationId"], pushed["notificationId"]);
    let fields = test["notificationPayload"]["customFields"]
        .as_array()
        .expect("fields")
        .clone();
    assert!(
        fields.contains(&json!({"name": "TEST", "value": "true"})),
        "{test}"
    );

    // Delete: 204, gone from both APIs.
    let path = format!("/notifications/v1/subscriptions/{subscription_id}");
    let (status, _) = akoya(&server, Some(&token), Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .call(
            Method::GET,
            &format!("/api/v1/subscriptions/{subscription_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = akoya(&server, Some(&token), Method::DELETE, &path, None).await;
    assert_akoya_error(status, &body, StatusCode::NOT_FOUND, &subscription_id);
}

#[tokio::test]
async fn akoya_errors_are_code_message_debug_message_with_akoya_statuses() {
    let server = akoya_server().await;
    let tenant = server.create_tenant("Fintech").await;
    let token = service_token(&server, &tenant).await;
    let path = "/notifications/v1/subscriptions";
    let valid = json!({"category": "CONSENT", "type": "CONSENT_REVOKED",
                       "callbackUrl": "https://callback.example/notification"});

    let (status, body) = akoya(&server, None, Method::GET, path, None).await;
    assert_akoya_error(status, &body, StatusCode::UNAUTHORIZED, "Bearer");
    let (status, body) = akoya(
        &server,
        Some("hat_wrong"),
        Method::POST,
        path,
        Some(valid.clone()),
    )
    .await;
    assert_akoya_error(status, &body, StatusCode::UNAUTHORIZED, "/oauth2/token");
    let (status, body) = akoya(&server, Some(support::ADMIN_TOKEN), Method::GET, path, None).await;
    assert_akoya_error(status, &body, StatusCode::UNAUTHORIZED, "service token");

    for (change, says) in [
        (json!({"category": null}), "category is required"),
        (json!({"type": null}), "type is required"),
        (json!({"callbackUrl": null}), "callbackUrl is required"),
        (
            json!({"type": "CONSENT_DELETED"}),
            "CONSENT/CONSENT_DELETED is not a known",
        ),
        (json!({"callbackUrl": "ftp://callback.example/n"}), "HTTPS"),
        (json!({"effectiveDate": "15/07/2021"}), "effectiveDate"),
        (json!({"callbackEmail": "nobody"}), "callbackEmail"),
    ] {
        let mut body = valid.clone();
        for (name, value) in change.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(name);
            } else {
                body[name] = value.clone();
            }
        }
        let (status, answer) = akoya(&server, Some(&token), Method::POST, path, Some(body)).await;
        assert_akoya_error(status, &answer, StatusCode::BAD_REQUEST, says);
    }
    let response = server
        .client
        .post(format!("{}{path}", server.base))
        .bearer_auth(&token)
        .body("not json")
        .send()
        .await
        .expect("request");
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    assert_akoya_error(
        status,
        &response.json().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "JSON object",
    );

    let (status, body) = akoya(&server, Some(&token), Method::PUT, path, Some(valid)).await;
    assert_akoya_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method");
    let (status, body) = akoya(
        &server,
        Some(&token),
        Method::POST,
        "/notifications/v1/test",
        Some(json!({"id": "sub_nope"})),
    )
    .await;
    assert_akoya_error(status, &body, StatusCode::NOT_FOUND, "sub_nope");

    // An unknown scope is refused at the token endpoint with OAuth2's code.
    let response = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(
            tenant["client_id"].as_str().unwrap(),
            tenant["client_secret"].as_str(),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "accounts_write"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope", "{body}");
}

#[tokio::test]
async fn a_future_effective_date_holds_deliveries() {
    let server = akoya_server().await;
    let receiver = Receiver::start().await.expect("receiver");
    let tenant = server.create_tenant("Fintech").await;
    let tenant_id = tenant["id"].as_str().unwrap();
    let token = service_token(&server, &tenant).await;
    let mut ids = Vec::new();
    for date in ["2999-01-01", "2000-01-01"] {
        let (status, created) = akoya(
            &server,
            Some(&token),
            Method::POST,
            "/notifications/v1/subscriptions",
            Some(json!({"category": "MAINTENANCE", "type": "PLANNED_OUTAGE",
                        "callbackUrl": receiver.url(), "effectiveDate": date})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        ids.push(created["subscriptionId"].as_str().unwrap().to_owned());
    }
    let event_id = server
        .publish(
            "maintenance.planned_outage",
            json!({"id": "m-1"}),
            Some(tenant_id),
        )
        .await;
    let deliveries = server.deliveries_of(&event_id).await;
    let targets: Vec<&str> = deliveries
        .iter()
        .filter_map(|d| d["subscription_id"].as_str())
        .collect();
    assert_eq!(
        targets,
        vec![ids[1].as_str()],
        "only the effective subscription gets a delivery"
    );
}

#[tokio::test]
async fn without_the_profile_there_is_no_akoya_api_and_scopes_are_ignored() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("Fintech").await;
    let token = support::tenant_token(&server, &tenant).await;
    let (status, _) = akoya(
        &server,
        Some(&token),
        Method::GET,
        "/notifications/v1/subscriptions",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call(Method::GET, "/api/v1/event-types/consent.revoked", None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no event types registered without the profile"
    );
}
