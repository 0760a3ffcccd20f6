//! mTLS to the endpoint: an HTTPS receiver on loopback that requires a client certificate
//! (a CA and certificates made by the test with rcgen) accepts Herald's delivery when the
//! subscription carries a certificate, and refuses one without, which Herald records as a
//! `tls` attempt with the reason in words. The key is never returned by the API.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use reqwest::Method;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use support::TestServer;

/// A test CA, and certificates it signs.
struct Authority {
    cert: Certificate,
    key: KeyPair,
}

impl Authority {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    /// A leaf for `names` (IP addresses become IP SANs) with one extended key usage.
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (Certificate, KeyPair) {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, "herald test");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("leaf");
        (cert, key)
    }
}

/// An HTTPS server on 127.0.0.1 that requires a client certificate signed by `clients`;
/// answers 200 to every request and counts them.
async fn mtls_receiver(server_ca: &Authority, clients: &Authority) -> (String, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(clients.cert.der().clone()).expect("client CA");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .expect("client verifier");
    let (cert, key) = server_ca.issue(&["127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("https://{}/hook", listener.local_addr().expect("addr"));
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                // A refused handshake ends here; the client sees the alert.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |_request| {
                    count.fetch_add(1, Ordering::SeqCst);
                    async { Ok::<_, Infallible>(hyper::Response::new(String::from("ok"))) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (url, served)
}

async fn subscribe(server: &TestServer, tenant_id: &str, url: &str, extra: Value) -> Value {
    server.subscribe_with(tenant_id, url, "a.b", extra).await
}

#[tokio::test]
async fn an_endpoint_requiring_a_client_certificate_accepts_herald_with_one_and_refuses_without() {
    let server = TestServer::start().await;
    let server_ca = Authority::new("receiver CA");
    let client_ca = Authority::new("client CA");
    let (url, served) = mtls_receiver(&server_ca, &client_ca).await;
    let (client_cert, client_key) =
        client_ca.issue(&["herald.example"], ExtendedKeyUsagePurpose::ClientAuth);
    server.create_event_type("a.b").await;
    let tenant = server.create_tenant("Bank").await;
    let tenant_id = tenant["id"].as_str().unwrap();

    // With the certificate and the receiver's CA pinned: delivered.
    let with = subscribe(&server, tenant_id, &url, json!({
        "client_certificate": {"certificate": client_cert.pem(), "private_key": client_key.serialize_pem()},
        "server_ca": server_ca.cert.pem(),
    }))
    .await;
    let shown = with["client_certificate"].clone();
    assert_eq!(
        shown["fingerprint_sha256"].as_str().map(str::len),
        Some(64),
        "{with}"
    );
    assert!(shown["not_after"].is_string(), "{with}");
    assert_eq!(with["server_ca_pinned"], true);
    assert!(
        !with.to_string().contains("PRIVATE KEY"),
        "the key never comes back: {with}"
    );
    let id = with["id"].as_str().unwrap();
    let fetched = server
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/subscriptions/{id}"),
            None,
        )
        .await;
    assert!(!fetched.to_string().contains("PRIVATE KEY"), "{fetched}");

    let event_id = server.publish("a.b", json!({}), Some(tenant_id)).await;
    let delivered = server
        .wait_delivery_status(&event_id, "succeeded", Duration::from_secs(20))
        .await;
    assert_eq!(delivered["attempts"][0]["response_status"], 200);
    assert_eq!(served.load(Ordering::SeqCst), 1);
    server
        .expect(
            StatusCode::NO_CONTENT,
            Method::DELETE,
            &format!("/api/v1/subscriptions/{id}"),
            None,
        )
        .await;

    // The same receiver, no client certificate: refused, recorded as `tls` with the reason.
    let without = subscribe(
        &server,
        tenant_id,
        &url,
        json!({"server_ca": server_ca.cert.pem()}),
    )
    .await;
    assert_eq!(without["client_certificate"], Value::Null);
    let event_id = server.publish("a.b", json!({}), Some(tenant_id)).await;
    let failed = server
        .wait_delivery_status(&event_id, "failed", Duration::from_secs(20))
        .await;
    let attempt = &failed["attempts"][0];
    assert_eq!(attempt["error"], "tls", "{failed}");
    let message = attempt["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("client certificate"), "{message}");
    assert_eq!(served.load(Ordering::SeqCst), 1, "no request got through");
    let id = without["id"].as_str().unwrap();
    server
        .expect(
            StatusCode::NO_CONTENT,
            Method::DELETE,
            &format!("/api/v1/subscriptions/{id}"),
            None,
        )
        .await;

    // The certificate, but not the receiver's CA: its certificate is from an unknown CA.
    subscribe(&server, tenant_id, &url, json!({
        "client_certificate": {"certificate": client_cert.pem(), "private_key": client_key.serialize_pem()},
    }))
    .await;
    let event_id = server.publish("a.b", json!({}), Some(tenant_id)).await;
    let failed = server
        .wait_delivery_status(&event_id, "failed", Duration::from_secs(20))
        .await;
    let attempt = &failed["attempts"][0];
    assert_eq!(attempt["error"], "tls", "{failed}");
    let message = attempt["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("unknown CA"), "{message}");
}

#[tokio::test]
async fn pem_that_is_not_a_certificate_or_key_is_refused_naming_the_field() {
    let server = TestServer::start().await;
    server.create_event_type("a.b").await;
    let tenant = server.create_tenant("Bank").await;
    let tenant_id = tenant["id"].as_str().unwrap();
    let authority = Authority::new("CA");
    for (extra, field) in [
        (
            json!({"client_certificate": {"certificate": "hello", "private_key": "world"}}),
            "client_certificate",
        ),
        (
            json!({"client_certificate": {"certificate": authority.cert.pem(), "private_key": "world"}}),
            "private_key",
        ),
        (
            json!({"server_ca": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"}),
            "server_ca",
        ),
    ] {
        let mut body = json!({"tenant_id": tenant_id, "url": "https://receiver.example/hook", "event_types": ["a.b"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, problem) = server
            .call(Method::POST, "/api/v1/subscriptions", Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(field), "{field} in {detail}");
    }
}
