//! The signature check of one request: read the three `webhook-*` headers strictly, then ask
//! `herald-signature` whether any signature matches any secret within the tolerance.
//!
//! Header reading is stricter than the signature crate alone can be: a header sent twice, or
//! one that is not visible ASCII, is refused here, because `HeaderMap` would otherwise let us
//! silently pick one of two ids or signatures. Without a secret nothing is verified, but a
//! repeated `webhook-id` is still refused since deduplication depends on it. What a signature
//! check may cost is bounded in `herald-signature` (header length and entry caps, one MAC per
//! secret), not here.

use http::{HeaderMap, StatusCode};

use herald_signature::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Verifier, VerifyError};

use crate::problem::Problem;

/// Whether an accepted request was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A signature matched a configured secret within the tolerance.
    Verified,
    /// No secret is configured, so nothing was checked.
    Unverified,
}

/// The `webhook-*` headers of a request once each is known to be present at most once.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WebhookHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Why a header could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum HeaderError {
    #[error("the {0} header appears {1} times; send it once")]
    Repeated(&'static str, usize),
    #[error("the {0} header is not visible ASCII text")]
    NotText(&'static str),
}

impl<'a> WebhookHeaders<'a> {
    /// Reads the three headers, refusing repeats and non-text values.
    pub(crate) fn read(headers: &'a HeaderMap) -> Result<Self, HeaderError> {
        Ok(Self {
            id: single(headers, HEADER_ID)?,
            timestamp: single(headers, HEADER_TIMESTAMP)?,
            signature: single(headers, HEADER_SIGNATURE)?,
        })
    }
}

fn single<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let count = 1 + values.count();
    if count > 1 {
        return Err(HeaderError::Repeated(name, count));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| HeaderError::NotText(name))
}

/// Checks one request. `Err` is the problem to answer with (401 or 400).
pub(crate) fn check(
    verifier: Option<&Verifier>,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Verdict, Problem> {
    let status = if verifier.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let read = WebhookHeaders::read(headers).map_err(|err| {
        Problem::new(
            status,
            "malformed-header",
            "Malformed webhook header",
            err.to_string(),
        )
    })?;
    let Some(verifier) = verifier else {
        return Ok(Verdict::Unverified);
    };
    verifier
        .verify(
            read.id.unwrap_or_default(),
            read.timestamp.unwrap_or_default(),
            read.signature.unwrap_or_default(),
            body,
            now,
        )
        .map(|()| Verdict::Verified)
        .map_err(|err| refusal(&err))
}

/// The 401 problem for a failed signature check, one `type` per check.
fn refusal(err: &VerifyError) -> Problem {
    let (slug, title, hint) = match err {
        VerifyError::MissingHeader(_) => (
            "missing-header",
            "Missing webhook header",
            "a Standard Webhooks request carries webhook-id, webhook-timestamp and webhook-signature",
        ),
        VerifyError::MalformedTimestamp => (
            "malformed-header",
            "Malformed webhook header",
            "send the signing time as whole Unix seconds",
        ),
        VerifyError::MalformedSignature => (
            "malformed-header",
            "Malformed webhook header",
            "send space-separated entries such as v1,<base64 HMAC-SHA256>",
        ),
        VerifyError::TimestampTooOld(_) => (
            "stale-timestamp",
            "Stale webhook timestamp",
            "sign each attempt with the current time; a replayed request is refused",
        ),
        VerifyError::TimestampTooNew(_) => (
            "future-timestamp",
            "Webhook timestamp in the future",
            "check the sender's clock",
        ),
        VerifyError::NoMatchingSignature => (
            "no-matching-signature",
            "No matching signature",
            "check that the sender and `herald listen --secret` use the same secret",
        ),
        VerifyError::SignatureHeaderTooLong { .. } => (
            "signature-header-too-long",
            "Signature header too long",
            "send one v1,<base64> entry per signing secret",
        ),
        VerifyError::TooManySignatures { .. } => (
            "too-many-signatures",
            "Too many signatures",
            "send one v1,<base64> entry per signing secret",
        ),
        _ => (
            "invalid-signature",
            "Invalid signature",
            "the request failed signature verification",
        ),
    };
    Problem::new(
        StatusCode::UNAUTHORIZED,
        slug,
        title,
        format!("{err}; {hint}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn a_repeated_header_is_refused_with_its_count() {
        let mut headers = HeaderMap::new();
        headers.append(HEADER_ID, HeaderValue::from_static("a"));
        headers.append(HEADER_ID, HeaderValue::from_static("b"));
        assert_eq!(
            WebhookHeaders::read(&headers).unwrap_err(),
            HeaderError::Repeated(HEADER_ID, 2)
        );
    }

    #[test]
    fn without_a_verifier_requests_are_unverified() {
        let verdict = check(None, &HeaderMap::new(), b"", 0).unwrap();
        assert_eq!(verdict, Verdict::Unverified);
    }
}
