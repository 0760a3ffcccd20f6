//! A subscription's delivery form: what its bodies hold (`payload_mode`), how they are signed
//! (`signature_scheme`, with Ed25519 keys for `v1a`) and from when it takes events
//! (`effective_at`). Parsing the API's words, and making and rotating keys.
//!
//! The private keys are made here and go straight to the store; only their public halves
//! (`whpk_…`) ever leave through the API or the JWK Set.

use herald_signature::SigningKey;
use herald_store::{PayloadMode, SignatureScheme, SigningSecret, Subscription};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::error::ApiError;
use crate::outbound::mtls;

/// A client certificate for mTLS, as given on create or update.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificateInput {
    /// The certificate chain, PEM (`-----BEGIN CERTIFICATE-----`…), leaf first.
    pub certificate: String,
    /// Its private key, PEM (`-----BEGIN PRIVATE KEY-----`…). Stored as secret material and
    /// never returned.
    pub private_key: String,
}

/// Sets (or, with `Some(None)`, removes) the client certificate.
pub fn set_client_certificate(
    sub: &mut Subscription,
    given: Option<ClientCertificateInput>,
    metrics: &crate::metrics::Metrics,
) -> Result<(), ApiError> {
    match given {
        Some(input) => {
            let info = mtls::check_identity(&input.certificate, &input.private_key)
                .map_err(|error| ApiError::validation(format!("client_certificate: {error}")))?;
            metrics.client_certificate(sub.id.as_str(), info.not_after);
            sub.client_certificate_pem = Some(input.certificate);
            sub.client_key_pem = Some(input.private_key);
        }
        None => {
            sub.client_certificate_pem = None;
            sub.client_key_pem = None;
        }
    }
    Ok(())
}

/// Sets (or, with `None`, removes) the CA bundle that pins the endpoint's certificate.
pub fn set_server_ca(sub: &mut Subscription, given: Option<String>) -> Result<(), ApiError> {
    if let Some(bundle) = &given {
        mtls::check_ca_bundle(bundle)
            .map_err(|error| ApiError::validation(format!("server_ca: {error}")))?;
    }
    sub.server_ca_pem = given;
    Ok(())
}

/// `payload_mode` as given.
pub fn payload_mode(text: &str) -> Result<PayloadMode, ApiError> {
    PayloadMode::parse(text).ok_or_else(|| {
        ApiError::validation(format!(
            "payload_mode must be 'full', 'thin' or 'akoya', not '{text}'"
        ))
    })
}

/// `signature_scheme` as given.
pub fn signature_scheme(text: &str) -> Result<SignatureScheme, ApiError> {
    SignatureScheme::parse(text).ok_or_else(|| {
        ApiError::validation(format!(
            "signature_scheme must be 'v1' (HMAC) or 'v1a' (Ed25519), not '{text}'"
        ))
    })
}

/// `effective_at` as given: an RFC 3339 time.
pub fn effective_at(text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::validation(format!(
            "effective_at must be an RFC 3339 time such as 2030-07-15T00:00:00Z, not '{text}'"
        ))
    })
}

/// A new Ed25519 signing key, as stored (current: no end).
pub fn new_signing_key() -> SigningSecret {
    SigningSecret {
        secret: SigningKey::generate().to_string(),
        expires_at: None,
    }
}

/// Sets the scheme; switching to `v1a` without a key makes one.
pub fn set_scheme(sub: &mut Subscription, scheme: SignatureScheme) {
    sub.signature_scheme = scheme;
    if scheme == SignatureScheme::V1a && sub.signing_keys.is_empty() {
        sub.signing_keys.push(new_signing_key());
    }
}

/// The public key of the current signing key (`whpk_…`), if the subscription has one.
pub fn current_public_key(sub: &Subscription) -> Option<String> {
    current(&sub.signing_keys)
        .and_then(|key| SigningKey::parse(&key.secret).ok())
        .map(|key| key.public_key().to_string())
}

/// The public keys that verify deliveries made at `now`: the current one first, then those
/// still in their grace period.
pub fn live_public_keys(
    sub: &Subscription,
    now: OffsetDateTime,
) -> Vec<herald_signature::PublicKey> {
    sub.live_signing_keys(now)
        .filter_map(|key| SigningKey::parse(key).ok())
        .map(|key| key.public_key())
        .collect()
}

/// The current one of a rotation list: the one without an end, failing that the first.
fn current(list: &[SigningSecret]) -> Option<&SigningSecret> {
    list.iter()
        .find(|s| s.expires_at.is_none())
        .or(list.first())
}
