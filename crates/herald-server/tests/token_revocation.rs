//! Credentials that can be taken back: a revoked access token gets 401 (RFC 7009 revocation at
//! `/oauth2/revoke`), and rotating a tenant's client secret revokes its tokens and retires the
//! old secret. On both stores.

mod support;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::Value;
use support::{Backend, TestServer, tenant_token, test_config};

/// `POST /oauth2/revoke` with the tenant's credentials (`secret` overrides its own).
async fn revoke(server: &TestServer, tenant: &Value, secret: Option<&str>, token: &str) -> u16 {
    server
        .client
        .post(format!("{}/oauth2/revoke", server.base))
        .basic_auth(
            tenant["client_id"].as_str().unwrap(),
            secret.or(tenant["client_secret"].as_str()),
        )
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The status of a tenant-scoped read with `token`.
async fn read_with(server: &TestServer, token: &str) -> StatusCode {
    let (status, _) = server
        .call_as(token, Method::GET, "/api/v1/subscriptions", None)
        .await;
    status
}

async fn revoked_tokens_get_401(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let acme = server.create_tenant("Acme").await;
    let other = server.create_tenant("Other").await;
    let token = tenant_token(&server, &acme).await;
    let kept = tenant_token(&server, &acme).await;
    assert_eq!(read_with(&server, &token).await, StatusCode::OK);

    // Wrong credentials are refused; another tenant's revocation is a silent no-op.
    assert_eq!(revoke(&server, &acme, Some("wrong"), &token).await, 401);
    assert_eq!(revoke(&server, &other, None, &token).await, 200);
    assert_eq!(read_with(&server, &token).await, StatusCode::OK);

    assert_eq!(revoke(&server, &acme, None, &token).await, 200);
    assert_eq!(read_with(&server, &token).await, StatusCode::UNAUTHORIZED);
    // Only that token: the tenant's other token still works.
    assert_eq!(read_with(&server, &kept).await, StatusCode::OK);
    // Unknown and already revoked tokens are not an error (RFC 7009 §2.2).
    assert_eq!(revoke(&server, &acme, None, &token).await, 200);
    assert_eq!(revoke(&server, &acme, None, "hat_unknown").await, 200);
}

async fn rotated_credentials_revoke_old_tokens_and_the_old_secret_no_longer_works(
    backend: Backend,
) {
    let server = TestServer::start_on(backend, test_config()).await;
    let acme = server.create_tenant("Acme").await;
    let id = acme["id"].as_str().unwrap();
    let token = tenant_token(&server, &acme).await;
    let path = format!("/api/v1/tenants/{id}/credentials/rotate");
    let rotated = server
        .expect(StatusCode::OK, Method::POST, &path, None)
        .await;
    assert_eq!(rotated["client_id"], acme["client_id"]);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(Some(new_secret), acme["client_secret"].as_str());

    assert_eq!(read_with(&server, &token).await, StatusCode::UNAUTHORIZED);
    let old_secret = server
        .client
        .post(format!("{}/oauth2/token", server.base))
        .basic_auth(
            acme["client_id"].as_str().unwrap(),
            acme["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(old_secret.status().as_u16(), 401);
    let fresh = tenant_token(&server, &rotated).await;
    assert_eq!(read_with(&server, &fresh).await, StatusCode::OK);
    // The secret is shown by the rotation only.
    let shown = server
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/tenants/{id}"),
            None,
        )
        .await;
    assert!(shown.get("client_secret").is_none(), "{shown}");
}

async fn a_tenant_rotates_its_own_credentials_and_no_one_elses(backend: Backend) {
    let server = TestServer::start_on(backend, test_config()).await;
    let acme = server.create_tenant("Acme").await;
    let other = server.create_tenant("Other").await;
    let token = tenant_token(&server, &acme).await;
    let other_path = format!(
        "/api/v1/tenants/{}/credentials/rotate",
        other["id"].as_str().unwrap()
    );
    let (status, _) = server
        .call_as(&token, Method::POST, &other_path, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let own_path = format!(
        "/api/v1/tenants/{}/credentials/rotate",
        acme["id"].as_str().unwrap()
    );
    let (status, rotated) = server.call_as(&token, Method::POST, &own_path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(rotated["client_secret"].as_str().is_some(), "{rotated}");
    // The token that asked is revoked with the others.
    assert_eq!(read_with(&server, &token).await, StatusCode::UNAUTHORIZED);
}

on_both_stores!(
    revoked_tokens_get_401,
    rotated_credentials_revoke_old_tokens_and_the_old_secret_no_longer_works,
    a_tenant_rotates_its_own_credentials_and_no_one_elses,
);
