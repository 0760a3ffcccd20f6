//! Refused credentials point the right way: an admin token is never sent to `/oauth2/token`,
//! a tenant token that expired says so, wrong client credentials are called wrong (not
//! missing); and the token lifetime comes from the `token_lifetime` setting.

mod support;

use std::time::Duration;

use herald_server::Config;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::{TestServer, tenant_token, test_config};

/// The `detail` of a 401 answer to `GET /api/v1/tenants` with `token`.
async fn refusal_of(server: &TestServer, token: &str) -> String {
    let (status, body) = server
        .call_as(token, Method::GET, "/api/v1/tenants", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    body["detail"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_wrong_admin_token_is_not_sent_to_oauth2_token() {
    let server = TestServer::start().await;
    let detail = refusal_of(&server, "hadm_not-this-servers-token-0123456789").await;
    assert!(detail.contains("looks like an admin token"), "{detail}");
    assert!(detail.contains("admin-token"), "{detail}");
    assert!(!detail.contains("oauth2"), "{detail}");
}

#[tokio::test]
async fn an_unknown_token_says_tenants_get_one_at_oauth2_token() {
    let server = TestServer::start().await;
    let detail = refusal_of(&server, "something-else").await;
    assert!(detail.starts_with("unknown bearer token"), "{detail}");
    assert!(detail.contains("POST /oauth2/token"), "{detail}");
}

#[tokio::test]
async fn an_expired_tenant_token_says_it_expired() {
    let server = TestServer::start_with(Config {
        token_lifetime: Duration::ZERO,
        ..test_config()
    })
    .await;
    let tenant = server.create_tenant("t").await;
    let token = tenant_token(&server, &tenant).await;
    let detail = refusal_of(&server, &token).await;
    assert!(detail.contains("unknown or has expired"), "{detail}");
    assert!(detail.contains("herald login"), "{detail}");
}

/// POSTs a token request with these Basic credentials (none: no Authorization header).
async fn token_request(server: &TestServer, basic: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut request = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .form(&[("grant_type", "client_credentials")]);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_wrong_client_secret_says_the_credentials_were_wrong_not_missing() {
    let server = TestServer::start().await;
    let tenant = server.create_tenant("t").await;
    let client_id = tenant["client_id"].as_str().expect("client_id");

    let (status, wrong) = token_request(&server, Some((client_id, "hcs_wrong"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong["error"], "invalid_client");
    let detail = wrong["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("is wrong"), "{detail}");

    let (status, missing) = token_request(&server, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let detail = missing["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("send the tenant's client_id"),
        "{detail}"
    );
}

#[tokio::test]
async fn tokens_live_as_long_as_token_lifetime_says() {
    let server = TestServer::start_with(Config {
        token_lifetime: Duration::from_secs(90),
        ..test_config()
    })
    .await;
    let tenant = server.create_tenant("t").await;
    let client_id = tenant["client_id"].as_str().expect("client_id");
    let secret = tenant["client_secret"].as_str().expect("client_secret");
    let (status, token) = token_request(&server, Some((client_id, secret))).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["expires_in"], 90);
}
