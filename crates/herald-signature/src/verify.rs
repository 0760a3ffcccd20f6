//! Verification: header checks, timestamp tolerance, constant-time signature comparison.
//!
//! Entries with an unknown version (`v2,…`) or undecodable base64 are skipped, not failed: a
//! sender may add schemes this receiver does not know, alongside ones it does.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use crate::VerifyingKey;
use crate::signed_content;

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
}

/// Checks requests against one or more keys (several during a rotation).
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Vec<VerifyingKey>,
    tolerance_seconds: i64,
}

impl Verifier {
    /// A verifier with the default five-minute tolerance.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self {
            keys,
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
        }
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

        let content = signed_content(id, sent, body);
        let mut understood = false;
        let mut matched = false;
        for entry in signature.split_whitespace() {
            let Some((version, encoded)) = entry.split_once(',') else {
                continue;
            };
            let Ok(given) = STANDARD.decode(encoded) else {
                continue;
            };
            for key in &self.keys {
                match (version, key) {
                    ("v1", VerifyingKey::Symmetric(secret)) => {
                        understood = true;
                        // Compare every candidate rather than returning early, so timing does
                        // not reveal which entry or key came close.
                        matched |= bool::from(secret.mac(&content).ct_eq(given.as_slice()));
                    }
                    ("v1a", VerifyingKey::Asymmetric(public)) => {
                        understood = true;
                        matched |= public.verify(&content, &given);
                    }
                    ("v1" | "v1a", _) => understood = true,
                    _ => {}
                }
            }
        }
        match (matched, understood) {
            (true, _) => Ok(()),
            (false, true) => Err(VerifyError::NoMatchingSignature),
            (false, false) => Err(VerifyError::MalformedSignature),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
