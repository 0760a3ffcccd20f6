//! What each failing step of an attempt means and what to do about it, in words a person who
//! never read a TLS or DNS manual can act on.
//!
//! One place for these texts, so the API (the connectivity test's `explanation`), the CLI
//! and the Hub say the same thing. Each step has exactly one sentence of meaning and one of
//! advice, and they are fixed per step: the facts of one attempt (the host, the port, the
//! status, the limit) belong in the attempt's `error_message`, which [`super::Outbound`]
//! writes, so these texts never carry anything an endpoint controls.

use herald_store::AttemptError;
use serde::Serialize;
use utoipa::ToSchema;

/// One sentence of meaning and one of advice for a failing step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Explanation {
    /// What the failing step means.
    #[schema(value_type = String)]
    pub meaning: &'static str,
    /// What to do about it.
    #[schema(value_type = String)]
    pub advice: &'static str,
}

/// The explanation of a failing step.
pub fn explain(step: AttemptError) -> Explanation {
    let (meaning, advice) = match step {
        AttemptError::Dns => (
            "Herald could not find an address for the host name in the subscription URL.",
            "Check the host name for typos, and that its DNS record exists and can be \
             resolved from the machine that runs the Herald server.",
        ),
        AttemptError::Connect => (
            "Herald found the host but could not open a connection to the URL's port.",
            "Check that the receiving app is running and listens on that host and port, and \
             that no firewall stops the Herald server from reaching it.",
        ),
        AttemptError::Tls => (
            "The connection opened, but the secure (TLS) handshake of the https URL failed.",
            "Check that the port serves https with a valid, unexpired certificate for this host \
             name; if the endpoint speaks plain HTTP, use an http:// URL (allowed only when the \
             server runs with --dev).",
        ),
        AttemptError::Timeout => (
            "The endpoint did not answer within the time limit, so Herald gave up waiting.",
            "Make the endpoint answer at once (reply 2xx first, do slow work afterwards), or \
             ask the operator to raise request_timeout.",
        ),
        AttemptError::Status => (
            "The endpoint answered, but with a status other than 2xx, which counts as a failure.",
            "Look at the status and the start of the response body, and at the receiving app's \
             logs; a 401 or 403 usually means it checked the signature with another secret.",
        ),
        AttemptError::Blocked => (
            "Herald refused to send the request because the URL leads to a private, loopback \
             or otherwise non-public address.",
            "Use a public address, or ask the operator to add this address to allow_networks \
             (or to run the server with --dev for local tests).",
        ),
    };
    Explanation { meaning, advice }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: [AttemptError; 6] = [
        AttemptError::Dns,
        AttemptError::Connect,
        AttemptError::Tls,
        AttemptError::Timeout,
        AttemptError::Status,
        AttemptError::Blocked,
    ];

    /// "One sentence of meaning and one of advice": each text is a single sentence.
    #[test]
    fn every_step_has_one_sentence_of_meaning_and_one_of_advice() {
        for step in STEPS {
            let Explanation { meaning, advice } = explain(step);
            for text in [meaning, advice] {
                assert!(text.ends_with('.'), "{step:?}: {text}");
                assert_eq!(text.matches(". ").count(), 0, "{step:?}: {text}");
                assert!(text.len() < 240, "{step:?}: {text}");
            }
            assert_ne!(meaning, advice);
        }
    }
}
