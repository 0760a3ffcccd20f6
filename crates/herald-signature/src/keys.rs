//! Key material: symmetric `whsec_` secrets and Ed25519 `whsk_`/`whpk_` keys.
//!
//! Secrets never print: `Debug` shows only the prefix, so a secret in a struct cannot leak
//! through a log line by accident. `Display` gives the canonical string for the one place that
//! must show it (the API response that creates it).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const SECRET_PREFIX: &str = "whsec_";
const SIGNING_KEY_PREFIX: &str = "whsk_";
const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// Why a key string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// The part after the prefix is not valid base64.
    #[error("the secret is not valid base64")]
    NotBase64,
    /// The decoded key has a length the scheme cannot use.
    #[error("the key must decode to {expected}, not {actual} bytes")]
    BadLength {
        /// What the scheme needs, in words.
        expected: &'static str,
        /// What was decoded.
        actual: usize,
    },
}

/// A symmetric signing secret (`whsec_` + base64 of 24 to 64 random bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl Secret {
    /// Parses `whsec_<base64>`, or the base64 part alone (as the reference libraries accept).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .unwrap_or(text.trim());
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if key.is_empty() || key.len() > 64 {
            return Err(SecretError::BadLength {
                expected: "1 to 64",
                actual: key.len(),
            });
        }
        Ok(Self { key })
    }

    /// A new random secret of 32 bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self { key }
    }

    pub(crate) fn mac(&self, content: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(content);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

/// An Ed25519 signing key (`whsk_` + base64 of the 32-byte seed).
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut seed);
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// Parses `whsk_<base64 seed>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SIGNING_KEY_PREFIX)
            .unwrap_or(text.trim());
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::BadLength {
                expected: "32",
                actual: bytes.len(),
            })?;
        Ok(Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// The public half, for receivers.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
        }
    }

    pub(crate) fn sign(&self, content: &[u8]) -> [u8; 64] {
        self.key.sign(content).to_bytes()
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SIGNING_KEY_PREFIX}{}",
            STANDARD.encode(self.key.to_bytes())
        )
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(whsk_…)")
    }
}

/// An Ed25519 public key (`whpk_` + base64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// Parses `whpk_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .unwrap_or(text.trim());
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::BadLength {
                expected: "32",
                actual: bytes.len(),
            })?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| SecretError::BadLength {
                expected: "a valid Ed25519 point of 32",
                actual: bytes.len(),
            })?;
        Ok(Self { key })
    }

    /// The 32 raw bytes of the key (a JWK's `x`, before base64url).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub(crate) fn verify(&self, content: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(content, &signature).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PUBLIC_KEY_PREFIX}{}",
            STANDARD.encode(self.key.to_bytes())
        )
    }
}

/// A key a receiver checks signatures against.
#[derive(Clone, Debug)]
pub enum VerifyingKey {
    /// Checks `v1,` entries.
    Symmetric(Secret),
    /// Checks `v1a,` entries.
    Asymmetric(PublicKey),
}

impl From<Secret> for VerifyingKey {
    fn from(secret: Secret) -> Self {
        Self::Symmetric(secret)
    }
}

impl From<PublicKey> for VerifyingKey {
    fn from(key: PublicKey) -> Self {
        Self::Asymmetric(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_through_their_display_form() {
        let secret = Secret::generate();
        assert_eq!(Secret::parse(&secret.to_string()).unwrap(), secret);
        let key = SigningKey::generate();
        let public = PublicKey::parse(&key.public_key().to_string()).unwrap();
        assert_eq!(public, key.public_key());
    }

    #[test]
    fn a_secret_that_is_not_base64_or_empty_is_refused() {
        assert_eq!(
            Secret::parse("whsec_not*base64").unwrap_err(),
            SecretError::NotBase64
        );
        assert!(matches!(
            Secret::parse("whsec_").unwrap_err(),
            SecretError::BadLength { actual: 0, .. }
        ));
    }

    #[test]
    fn debug_never_prints_key_material() {
        let secret = Secret::generate();
        assert_eq!(format!("{secret:?}"), "Secret(whsec_…)");
        assert_eq!(
            format!("{:?}", SigningKey::generate()),
            "SigningKey(whsk_…)"
        );
    }
}
