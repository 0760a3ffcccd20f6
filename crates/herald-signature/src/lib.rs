//! Standard Webhooks signatures: signing for the sender, verification for the receiver.
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`. Symmetric signatures are
//! `v1,` + base64(HMAC-SHA256) keyed by a `whsec_` + base64 secret; asymmetric ones are
//! `v1a,` + base64(Ed25519) with `whsk_` signing keys and `whpk_` public keys. A
//! `webhook-signature` header holds one or more space-separated entries (one per valid secret
//! during a rotation); a verifier accepts the request when any entry matches any of its keys.
//!
//! Verification costs a bounded amount whatever the sender sends: `webhook-signature` is
//! capped in length and entries ([`MAX_SIGNATURE_HEADER_BYTES`], [`MAX_SIGNATURE_ENTRIES`]) and
//! each key's MAC is computed once per request, however many entries it is compared with.
//!
//! This crate never does I/O and never reads the clock itself: callers pass "now", which keeps
//! verification deterministic in tests and lets both halves of Herald share it.
//!
//! ```
//! use herald_signature::{Secret, Verifier};
//!
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let header = herald_signature::sign_header(&[&secret], "msg_1", 1_700_000_000, b"{}");
//! let verifier = Verifier::new(vec![secret.into()]);
//! verifier
//!     .verify("msg_1", "1700000000", &header, b"{}", 1_700_000_010)
//!     .unwrap();
//! ```
#![deny(missing_docs)]

// The README's examples are compiled and run as doctests, so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

mod asymmetric;
mod header;
mod keys;
mod verify;

pub use asymmetric::sign_header_asymmetric;
pub use header::{
    MAX_SIGNATURE_ENTRIES, MAX_SIGNATURE_HEADER_BYTES, SignatureEntry, parse_signature_header,
};
pub use keys::{PublicKey, Secret, SecretError, SigningKey, VerifyingKey};
pub use verify::{DEFAULT_TOLERANCE_SECONDS, Verifier, VerifyError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The header that carries the message id (stable across retries).
pub const HEADER_ID: &str = "webhook-id";
/// The header that carries the signing time, in Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header that carries the space-separated signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The exact bytes that are signed: `{id}.{timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + body.len() + 24);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// Signs one message with one symmetric secret: `v1,<base64>`.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = secret.mac(&signed_content(id, timestamp, body));
    format!("v1,{}", STANDARD.encode(mac))
}

/// Signs one message with an Ed25519 signing key: `v1a,<base64>`.
pub fn sign_asymmetric(key: &SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    let signature = key.sign(&signed_content(id, timestamp, body));
    format!("v1a,{}", STANDARD.encode(signature))
}

/// The full `webhook-signature` value: one `v1,` entry per secret, space-separated.
pub fn sign_header(secrets: &[&Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    let content = signed_content(id, timestamp, body);
    secrets
        .iter()
        .map(|secret| format!("v1,{}", STANDARD.encode(secret.mac(&content))))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published by the Standard Webhooks specification and used by every official library.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signing_reproduces_the_specification_test_vector() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();
        assert_eq!(
            sign(&secret, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
    }

    #[test]
    fn secret_without_prefix_signs_the_same() {
        let secret = Secret::parse(SPEC_SECRET.trim_start_matches("whsec_")).unwrap();
        assert_eq!(
            sign(&secret, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
    }

    #[test]
    fn verification_accepts_the_specification_test_vector() {
        let verifier = Verifier::new(vec![Secret::parse(SPEC_SECRET).unwrap().into()]);
        verifier
            .verify(
                SPEC_ID,
                &SPEC_TIMESTAMP.to_string(),
                SPEC_SIGNATURE,
                SPEC_BODY,
                SPEC_TIMESTAMP,
            )
            .unwrap();
    }

    #[test]
    fn rotation_header_carries_one_entry_per_secret() {
        let old = Secret::parse(SPEC_SECRET).unwrap();
        let new = Secret::generate();
        let header = sign_header(&[&new, &old], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], SPEC_SIGNATURE);
    }

    #[test]
    fn asymmetric_signature_verifies_with_the_public_key() {
        let key = SigningKey::generate();
        let public = key.public_key();
        let header = sign_asymmetric(&key, "msg_1", 10, b"hello");
        assert!(header.starts_with("v1a,"));
        let reparsed = PublicKey::parse(&public.to_string()).unwrap();
        Verifier::new(vec![reparsed.into()])
            .verify("msg_1", "10", &header, b"hello", 10)
            .unwrap();
    }
}
