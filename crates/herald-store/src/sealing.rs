//! Secrets at rest: sealing and opening values with a keyring of 32-byte keys.
//!
//! Every secret Herald stores (subscription signing secrets today; private keys and client
//! certificate keys later) goes through [`Keyring::seal`] before it reaches a database, and
//! through [`Keyring::open`] when it is read back, so a copy of the database alone (a dump, a
//! backup, a stolen disk) never reveals a secret. The store does this where rows are encoded
//! and decoded, nowhere else; code above the store only ever sees plaintext.
//!
//! The sealed form is text, so it fits any text column of either backend:
//!
//! ```text
//! hs1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>
//! ```
//!
//! - `hs1` names the scheme: XChaCha20-Poly1305 (an AEAD from the RustCrypto project) with a
//!   random 24-byte nonce per seal; nonces that large never repeat by chance, so one key can
//!   seal any number of values.
//! - the key id is 8 hex digits derived from the key itself (a hash under a fixed label), so a
//!   key needs no name and a value names the key that opens it. Several keys may be loaded:
//!   the first (the *primary*) seals, every key opens. That is how keys rotate: put a new key
//!   first, keep the old one after it, re-seal (`herald admin reencrypt`), then drop the old.
//! - the caller's *context* is authenticated with the value (AEAD associated data): the store
//!   passes the row's identity (e.g. the subscription id), so a sealed value copied into
//!   another row does not open there.
//!
//! A value without the `hs1:` prefix is a plaintext one written before sealing existed:
//! [`Keyring::open`] returns it as it is, so an old database keeps working, and
//! [`Keyring::is_current`] says it must be re-sealed (which the server does at start).
//!
//! What it must never do: log or print a key or a plaintext (`Debug` shows key ids only), or
//! panic on anything read from a database or a key file: every failure is a [`SealError`].

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The scheme's prefix: every sealed value starts with it.
pub const SEALED_PREFIX: &str = "hs1:";

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// Bytes of a nonce (XChaCha20's extended nonce).
const NONCE_LEN: usize = 24;

/// Hex digits of a key id.
const KEY_ID_LEN: usize = 8;

/// Why a key could not be read, or a value could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A key is not base64 of exactly 32 bytes.
    #[error(
        "an encryption key must be 32 bytes in base64 (44 characters; `openssl rand -base64 32` makes one)"
    )]
    BadKey,
    /// A key file or variable holds no key.
    #[error("no encryption key was given (the key file or variable is empty)")]
    NoKey,
    /// The value was sealed with a key that is not in the keyring.
    #[error(
        "a secret is sealed with encryption key {key_id}, which is not configured (configured: {configured}); add the key that has this id"
    )]
    UnknownKey {
        /// The id the value names.
        key_id: String,
        /// The ids of the keys loaded, primary first.
        configured: String,
    },
    /// The value is not in the sealed form (truncated, or not base64).
    #[error("a sealed value is malformed")]
    Malformed,
    /// The key named by the value did not open it: the value was changed, moved to another row,
    /// or sealed by a different key that happens to share the id.
    #[error("a sealed value does not open with encryption key {key_id} (altered or moved)")]
    Tampered {
        /// The id the value names.
        key_id: String,
    },
    /// The opened value is not UTF-8 where text was expected.
    #[error("a sealed value is not text")]
    NotText,
    /// The value is beyond what the cipher can seal in one piece (256 GiB).
    #[error("a value is too large to seal")]
    TooLarge,
}

/// One 32-byte key and its id. `Debug` shows the id only.
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    cipher: XChaCha20Poly1305,
    bytes: [u8; KEY_LEN],
}

impl EncryptionKey {
    /// A key from its raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"herald encryption key id\0")
            .chain_update(bytes)
            .finalize();
        let id = digest[..KEY_ID_LEN / 2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            id,
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            bytes,
        }
    }

    /// A key from standard base64 (padding optional, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let text = text.trim().trim_end_matches('=');
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text)
            .map_err(|_| SealError::BadKey)?;
        let bytes: [u8; KEY_LEN] = decoded.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// A new random key (from the operating system's generator).
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// The key in standard base64, as a key file holds it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// The key's id (8 hex digits), which sealed values name.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The keys a store seals and opens with: the primary seals, every key opens. Cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    /// Primary first.
    keys: Arc<[EncryptionKey]>,
}

impl Keyring {
    /// A keyring sealing with `primary` and opening with it and each of `previous`.
    pub fn new(primary: EncryptionKey, previous: impl IntoIterator<Item = EncryptionKey>) -> Self {
        let mut keys = vec![primary];
        for key in previous {
            if !keys.iter().any(|known| known.id == key.id) {
                keys.push(key);
            }
        }
        Self { keys: keys.into() }
    }

    /// A keyring from the text of a key file: one base64 key per line, the first line the
    /// primary; blank lines and lines starting with `#` are ignored.
    pub fn from_key_file(text: &str) -> Result<Self, SealError> {
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(EncryptionKey::from_base64);
        let primary = keys.next().ok_or(SealError::NoKey)??;
        let previous = keys.collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(primary, previous))
    }

    /// A keyring of one new random key (tests, and a first start that generates its key).
    pub fn generate() -> Self {
        Self::new(EncryptionKey::generate(), [])
    }

    /// The key that seals.
    pub fn primary(&self) -> &EncryptionKey {
        &self.keys[0]
    }

    /// Every key's id, primary first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(EncryptionKey::id).collect()
    }

    /// Seals `plaintext` with the primary key, binding it to `context` (the row's identity).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String, SealError> {
        let key = self.primary();
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        // Encryption fails only for inputs beyond XChaCha20's 256 GiB message limit.
        let ciphertext = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| SealError::TooLarge)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(format!(
            "{SEALED_PREFIX}{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// Opens a stored value sealed with any key of the ring under the same `context`; a value
    /// that is not sealed (written before sealing existed) is returned as it is.
    pub fn open(&self, stored: &str, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some(rest) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.as_bytes().to_vec());
        };
        let (key_id, body) = rest.split_once(':').ok_or(SealError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id == key_id)
            .ok_or_else(|| SealError::UnknownKey {
                key_id: key_id.chars().take(KEY_ID_LEN).collect(),
                configured: self.key_ids().join(", "),
            })?;
        let sealed = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context,
        };
        key.cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SealError::Tampered {
                key_id: key.id.clone(),
            })
    }

    /// [`Keyring::seal`] for text.
    pub fn seal_str(&self, plaintext: &str, context: &str) -> Result<String, SealError> {
        self.seal(plaintext.as_bytes(), context.as_bytes())
    }

    /// [`Keyring::open`] for text.
    pub fn open_str(&self, stored: &str, context: &str) -> Result<String, SealError> {
        String::from_utf8(self.open(stored, context.as_bytes())?).map_err(|_| SealError::NotText)
    }

    /// Whether `stored` is sealed with the primary key (nothing to re-seal).
    pub fn is_current(&self, stored: &str) -> bool {
        sealed_key_id(stored) == Some(self.primary().id())
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

/// The id of the key a stored value is sealed with; `None` for a plaintext value.
pub fn sealed_key_id(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(SEALED_PREFIX)?
        .split_once(':')
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_to_its_plaintext_and_does_not_contain_it() {
        let ring = Keyring::generate();
        let sealed = ring.seal_str("whsec_c2VjcmV0", "sub_1").unwrap();
        assert!(sealed.starts_with(&format!("hs1:{}:", ring.primary().id())));
        assert!(!sealed.contains("whsec_"));
        assert_eq!(ring.open_str(&sealed, "sub_1").unwrap(), "whsec_c2VjcmV0");
        // Two seals of one value differ (a fresh nonce each).
        assert_ne!(sealed, ring.seal_str("whsec_c2VjcmV0", "sub_1").unwrap());
    }

    #[test]
    fn a_value_moved_to_another_row_or_altered_does_not_open() {
        let ring = Keyring::generate();
        let sealed = ring.seal_str("secret", "sub_1").unwrap();
        assert!(matches!(
            ring.open_str(&sealed, "sub_2"),
            Err(SealError::Tampered { .. })
        ));
        let mut altered = sealed.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(ring.open_str(&altered, "sub_1").is_err());
    }

    #[test]
    fn previous_keys_open_and_only_the_primary_seals() {
        let old = EncryptionKey::generate();
        let before = Keyring::new(old.clone(), []);
        let sealed = before.seal_str("secret", "ctx").unwrap();
        let new = EncryptionKey::generate();
        let rotated = Keyring::new(new.clone(), [old]);
        assert_eq!(rotated.open_str(&sealed, "ctx").unwrap(), "secret");
        assert!(!rotated.is_current(&sealed));
        let resealed = rotated.seal_str("secret", "ctx").unwrap();
        assert!(rotated.is_current(&resealed));
        assert_eq!(sealed_key_id(&resealed), Some(new.id()));
    }

    #[test]
    fn a_missing_key_is_a_clear_error_naming_both_ids() {
        let sealed = Keyring::generate().seal_str("secret", "ctx").unwrap();
        let other = Keyring::generate();
        let error = other.open_str(&sealed, "ctx").unwrap_err().to_string();
        assert!(error.contains(sealed_key_id(&sealed).unwrap()), "{error}");
        assert!(error.contains(other.primary().id()), "{error}");
    }

    #[test]
    fn plaintext_values_open_as_they_are_and_are_not_current() {
        let ring = Keyring::generate();
        assert_eq!(
            ring.open_str("[{\"secret\":\"x\"}]", "ctx").unwrap(),
            "[{\"secret\":\"x\"}]"
        );
        assert!(!ring.is_current("[]"));
        assert_eq!(sealed_key_id("[]"), None);
    }

    #[test]
    fn malformed_values_and_keys_are_errors_not_panics() {
        let ring = Keyring::generate();
        let id = ring.primary().id().to_owned();
        for stored in [
            "hs1:".to_owned(),
            "hs1:nokey".to_owned(),
            format!("hs1:{id}:"),
            format!("hs1:{id}:!!!"),
            format!("hs1:{id}:AAAA"),
        ] {
            assert!(ring.open(&stored, b"ctx").is_err(), "{stored}");
        }
        assert!(matches!(
            EncryptionKey::from_base64("c2hvcnQ="),
            Err(SealError::BadKey)
        ));
        assert!(matches!(
            Keyring::from_key_file("# only a comment\n\n"),
            Err(SealError::NoKey)
        ));
    }

    #[test]
    fn a_key_file_lists_the_primary_first_and_keys_round_trip_through_base64() {
        let (a, b) = (EncryptionKey::generate(), EncryptionKey::generate());
        let file = format!("# rotated today\n{}\n\n{}\n", a.to_base64(), b.to_base64());
        let ring = Keyring::from_key_file(&file).unwrap();
        assert_eq!(ring.key_ids(), [a.id(), b.id()]);
        assert_eq!(
            EncryptionKey::from_base64(&a.to_base64()).unwrap().id(),
            a.id()
        );
        assert!(!format!("{ring:?}").contains(&a.to_base64()));
    }
}
