//! Verification: header checks, timestamp tolerance, constant-time signature comparison.
//!
//! Entries with an unknown version (`v2,…`) or undecodable base64 are skipped, not failed: a
//! sender may add schemes this receiver does not know, alongside ones it does.
//!
//! The cost of one verification is bounded whatever the sender puts in the header: the header
//! is parsed within caps (`header.rs`), each symmetric key's MAC is computed once per request
//! and compared with every `v1,` entry (the MAC, not the comparison, is what costs), and each
//! distinct `v1a,` entry is checked once per public key. Comparing a MAC with every entry,
//! rather than stopping at the first match, keeps timing from revealing which entry matched.

use subtle::ConstantTimeEq;

use crate::header::{MAX_SIGNATURE_ENTRIES, SignatureEntry, parse_signature_header};
use crate::signed_content;
use crate::{PublicKey, VerifyingKey};

/// The tolerance the specification recommends: five minutes either side of now.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// Which check a request failed. Each variant names one thing the sender must fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent or empty.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a whole number of seconds.
    #[error("the webhook-timestamp header is not a Unix time in seconds")]
    MalformedTimestamp,
    /// The timestamp is older than the tolerance allows.
    #[error("the webhook-timestamp is {0} s old, more than the tolerance allows")]
    TimestampTooOld(i64),
    /// The timestamp is further in the future than the tolerance allows.
    #[error("the webhook-timestamp is {0} s in the future, more than the tolerance allows")]
    TimestampTooNew(i64),
    /// No entry of `webhook-signature` has a form this verifier understands.
    #[error("the webhook-signature header holds no entry of the form v1,<base64> or v1a,<base64>")]
    MalformedSignature,
    /// Entries were well-formed, but none matched any key.
    #[error("no signature in webhook-signature matches any configured secret")]
    NoMatchingSignature,
    /// `webhook-signature` is longer than [`MAX_SIGNATURE_HEADER_BYTES`](crate::MAX_SIGNATURE_HEADER_BYTES).
    #[error("the webhook-signature header is {length} bytes, more than the limit of {limit}")]
    SignatureHeaderTooLong {
        /// Its length in bytes.
        length: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// `webhook-signature` holds more entries than the verifier considers.
    #[error("the webhook-signature header holds {count} entries, more than the limit of {limit}")]
    TooManySignatures {
        /// How many space-separated entries it holds.
        count: usize,
        /// The most considered ([`MAX_SIGNATURE_ENTRIES`](crate::MAX_SIGNATURE_ENTRIES) by default).
        limit: usize,
    },
}

/// Checks requests against one or more keys (several during a rotation).
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Vec<VerifyingKey>,
    tolerance_seconds: i64,
    /// Entries of `webhook-signature` considered at most; more is refused (bounded CPU).
    max_entries: usize,
}

impl Verifier {
    /// A verifier with the default five-minute tolerance.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self {
            keys,
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
            max_entries: MAX_SIGNATURE_ENTRIES,
        }
    }

    /// Changes how many `webhook-signature` entries are considered before the header is
    /// refused (default [`MAX_SIGNATURE_ENTRIES`]; at least 1).
    pub fn with_max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries.max(1);
        self
    }

    /// Changes how far the timestamp may be from now, in seconds.
    pub fn with_tolerance(mut self, seconds: i64) -> Self {
        self.tolerance_seconds = seconds.max(0);
        self
    }

    /// The tolerance in force, in seconds.
    pub fn tolerance_seconds(&self) -> i64 {
        self.tolerance_seconds
    }

    /// Verifies one request given its three header values, its raw body and the current time.
    ///
    /// Each failed check is its own [`VerifyError`], so a receiver can say which one failed:
    ///
    /// ```
    /// use herald_signature::{Secret, VerifyError, Verifier};
    ///
    /// let secret = Secret::generate();
    /// let signature = herald_signature::sign(&secret, "msg_1", 1_000, b"{}");
    /// let verifier = Verifier::new(vec![secret.into()]);
    /// match verifier.verify("msg_1", "1000", &signature, b"{}", 2_000) {
    ///     Err(VerifyError::TimestampTooOld(age)) => assert_eq!(age, 1_000),
    ///     other => panic!("expected a stale timestamp, got {other:?}"),
    /// }
    /// ```
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        if id.trim().is_empty() {
            return Err(VerifyError::MissingHeader(crate::HEADER_ID));
        }
        if timestamp.trim().is_empty() {
            return Err(VerifyError::MissingHeader(crate::HEADER_TIMESTAMP));
        }
        if signature.trim().is_empty() {
            return Err(VerifyError::MissingHeader(crate::HEADER_SIGNATURE));
        }
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::MalformedTimestamp)?;
        let age = now.saturating_sub(sent);
        if age > self.tolerance_seconds {
            return Err(VerifyError::TimestampTooOld(age));
        }
        if -age > self.tolerance_seconds {
            return Err(VerifyError::TimestampTooNew(-age));
        }

        let entries = parse_signature_header(signature, self.max_entries)?;
        if entries.is_empty() {
            return Err(VerifyError::MalformedSignature);
        }
        let content = signed_content(id, sent, body);
        if self.any_matches(&entries, &content) {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature)
        }
    }

    /// Whether any entry matches any key: one MAC per symmetric key, one check per distinct
    /// asymmetric entry and public key.
    fn any_matches(&self, entries: &[SignatureEntry], content: &[u8]) -> bool {
        let mut symmetric = Vec::new();
        let mut asymmetric: Vec<&[u8]> = Vec::new();
        for entry in entries {
            match entry {
                SignatureEntry::Symmetric(given) => symmetric.push(given.as_slice()),
                SignatureEntry::Asymmetric(given) if !asymmetric.contains(&given.as_slice()) => {
                    asymmetric.push(given);
                }
                SignatureEntry::Asymmetric(_) => {}
            }
        }
        let mut matched = false;
        for key in &self.keys {
            match key {
                VerifyingKey::Symmetric(secret) if !symmetric.is_empty() => {
                    let mac = secret.mac(content);
                    for given in &symmetric {
                        matched |= bool::from(mac.ct_eq(given));
                    }
                }
                VerifyingKey::Asymmetric(public) => {
                    matched |= any_verifies(public, &asymmetric, content);
                }
                VerifyingKey::Symmetric(_) => {}
            }
        }
        matched
    }
}

fn any_verifies(public: &PublicKey, signatures: &[&[u8]], content: &[u8]) -> bool {
    signatures.iter().fold(false, |matched, given| {
        matched | public.verify(content, given)
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::{Secret, sign};

    fn verifier(secret: &Secret) -> Verifier {
        Verifier::new(vec![secret.clone().into()])
    }

    #[test]
    fn unknown_versions_beside_a_valid_entry_are_ignored() {
        let secret = Secret::generate();
        let header = format!("v2,abc v9,!!! {}", sign(&secret, "m", 100, b"x"));
        verifier(&secret)
            .verify("m", "100", &header, b"x", 100)
            .unwrap();
    }

    #[test]
    fn a_signature_from_another_secret_is_refused() {
        let header = sign(&Secret::generate(), "m", 100, b"x");
        let err = verifier(&Secret::generate())
            .verify("m", "100", &header, b"x", 100)
            .unwrap_err();
        assert_eq!(err, VerifyError::NoMatchingSignature);
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let secret = Secret::generate();
        let header = sign(&secret, "m", 100, b"x");
        let err = verifier(&secret)
            .verify("m", "100", &header, b"y", 100)
            .unwrap_err();
        assert_eq!(err, VerifyError::NoMatchingSignature);
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let secret = Secret::generate();
        let header = sign(&secret, "m", 1000, b"x");
        let v = verifier(&secret);
        assert_eq!(
            v.verify("m", "1000", &header, b"x", 1301).unwrap_err(),
            VerifyError::TimestampTooOld(301)
        );
        assert_eq!(
            v.verify("m", "1000", &header, b"x", 699).unwrap_err(),
            VerifyError::TimestampTooNew(301)
        );
        v.verify("m", "1000", &header, b"x", 1300).unwrap();
    }

    #[test]
    fn malformed_headers_name_the_failing_check() {
        let v = verifier(&Secret::generate());
        assert_eq!(
            v.verify("", "1", "v1,AA==", b"", 1).unwrap_err(),
            VerifyError::MissingHeader("webhook-id")
        );
        assert_eq!(
            v.verify("m", "12a", "v1,AA==", b"", 1).unwrap_err(),
            VerifyError::MalformedTimestamp
        );
        assert_eq!(
            v.verify("m", "99999999999999999999999", "v1,AA==", b"", 1)
                .unwrap_err(),
            VerifyError::MalformedTimestamp
        );
        assert_eq!(
            v.verify("m", "1", "garbage v1,@@@", b"", 1).unwrap_err(),
            VerifyError::MalformedSignature
        );
    }

    #[test]
    fn whitespace_only_headers_count_as_missing() {
        let v = verifier(&Secret::generate());
        assert_eq!(
            v.verify("m", " ", "v1,AA==", b"", 1).unwrap_err(),
            VerifyError::MissingHeader("webhook-timestamp")
        );
        assert_eq!(
            v.verify("m", "1", "  ", b"", 1).unwrap_err(),
            VerifyError::MissingHeader("webhook-signature")
        );
    }

    #[test]
    fn a_truncated_signature_does_not_match() {
        let secret = Secret::generate();
        let full = sign(&secret, "m", 100, b"x");
        let decoded = STANDARD.decode(&full[3..]).unwrap();
        let truncated = format!("v1,{}", STANDARD.encode(&decoded[..16]));
        assert_eq!(
            verifier(&secret)
                .verify("m", "100", &truncated, b"x", 100)
                .unwrap_err(),
            VerifyError::NoMatchingSignature
        );
    }

    #[test]
    fn an_empty_body_signs_and_verifies() {
        let secret = Secret::generate();
        let header = sign(&secret, "m", 100, b"");
        verifier(&secret)
            .verify("m", "100", &header, b"", 100)
            .unwrap();
    }

    #[test]
    fn a_symmetric_entry_does_not_verify_against_a_public_key_alone() {
        let key = crate::SigningKey::generate();
        let secret = Secret::generate();
        let header = sign(&secret, "m", 100, b"x");
        let err = Verifier::new(vec![key.public_key().into()])
            .verify("m", "100", &header, b"x", 100)
            .unwrap_err();
        assert_eq!(err, VerifyError::NoMatchingSignature);
    }

    #[test]
    fn twenty_thousand_entries_are_refused_before_any_mac_is_computed() {
        let secret = Secret::generate();
        let header = "v1, ".repeat(20_000);
        let err = verifier(&secret)
            .verify("m", "100", &header, b"x", 100)
            .unwrap_err();
        assert!(
            matches!(err, VerifyError::SignatureHeaderTooLong { .. }),
            "{err}"
        );
        let header = format!("{} {}", "v1, ".repeat(16), sign(&secret, "m", 100, b"x"));
        assert_eq!(
            verifier(&secret)
                .verify("m", "100", &header, b"x", 100)
                .unwrap_err(),
            VerifyError::TooManySignatures {
                count: 17,
                limit: 16
            }
        );
    }

    #[test]
    fn the_entry_cap_is_configurable() {
        let secret = Secret::generate();
        let header = format!("v1,AA== {}", sign(&secret, "m", 100, b"x"));
        let strict = verifier(&secret).with_max_entries(1);
        assert!(matches!(
            strict.verify("m", "100", &header, b"x", 100),
            Err(VerifyError::TooManySignatures { count: 2, limit: 1 })
        ));
        verifier(&secret)
            .verify("m", "100", &header, b"x", 100)
            .unwrap();
    }

    #[test]
    fn a_matching_entry_after_non_matching_ones_is_accepted_for_each_key() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let key = crate::SigningKey::generate();
        let header = format!(
            "v1,AA== v1a,AA== {} {}",
            crate::sign_asymmetric(&key, "m", 100, b"x"),
            sign(&old, "m", 100, b"x")
        );
        let keys = vec![new.into(), key.public_key().into(), old.into()];
        Verifier::new(keys)
            .verify("m", "100", &header, b"x", 100)
            .unwrap();
    }
}
