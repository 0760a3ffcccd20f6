//! Ed25519 (`v1a`) signing of whole headers, and the raw public key for key discovery.
//!
//! The sender keeps `whsk_` keys; receivers get `whpk_` public keys, or discover them as a
//! JWK Set (RFC 8037: `kty` `OKP`, `crv` `Ed25519`, `x` the raw key in base64url), for which
//! [`crate::PublicKey::to_bytes`] gives the raw key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{SigningKey, signed_content};

/// The full `webhook-signature` value for asymmetric keys: one `v1a,` entry per key,
/// space-separated (several during a rotation).
pub fn sign_header_asymmetric(
    keys: &[&SigningKey],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let content = signed_content(id, timestamp, body);
    keys.iter()
        .map(|key| format!("v1a,{}", STANDARD.encode(key.sign(&content))))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verifier;

    #[test]
    fn every_key_of_a_rotation_signs_and_each_verifies_alone() {
        let old = SigningKey::generate();
        let new = SigningKey::generate();
        let header = sign_header_asymmetric(&[&new, &old], "msg_1", 10, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.split(' ').all(|entry| entry.starts_with("v1a,")));
        for key in [&old, &new] {
            Verifier::new(vec![key.public_key().into()])
                .verify("msg_1", "10", &header, b"{}", 10)
                .unwrap();
        }
    }

    #[test]
    fn raw_public_key_is_the_whpk_key_decoded() {
        let public = SigningKey::generate().public_key();
        let text = public.to_string();
        let decoded = STANDARD.decode(text.trim_start_matches("whpk_")).unwrap();
        assert_eq!(decoded, public.to_bytes());
    }
}
