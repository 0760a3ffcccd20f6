//! Turns what went wrong in one request into the failing step and one sentence of facts for
//! people: "connection refused: nothing listens on 127.0.0.1:4599", not reqwest's chain of
//! library errors.
//!
//! The sentence names what the person can check (the host, the port, the limit, the status)
//! and never repeats the library's wording when a plainer one is known; an unknown error
//! keeps only its innermost cause. What a step means in general is [`super::explain`]'s job.

use std::error::Error as StdError;
use std::io::ErrorKind;
use std::time::Duration;

use herald_store::AttemptError;

use super::ResolveError;

/// What the failing request was for: enough to name it in a sentence.
pub(super) struct Target<'a> {
    /// The URL requested.
    pub url: &'a url::Url,
    /// The whole-request limit.
    pub timeout: Duration,
    /// The limit for opening the connection.
    pub connect_timeout: Duration,
}

impl Target<'_> {
    /// `host:port`, the port spelled out even when it is the scheme's default.
    fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or("?");
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// The same URL over plain HTTP on the same port: what the user probably meant when an
    /// https URL reaches a port that answers in plain HTTP.
    fn as_http(&self) -> String {
        let mut url = self.url.clone();
        let port = url.port_or_known_default();
        // Both calls only fail for URLs that cannot be https in the first place.
        let _ = url.set_scheme("http");
        let _ = url.set_port(port);
        url.to_string()
    }
}

/// Maps a reqwest error to the step that failed and a sentence of facts.
pub(super) fn classify(error: &reqwest::Error, target: &Target<'_>) -> (AttemptError, String) {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(current) = source {
        if let Some(resolve) = current.downcast_ref::<ResolveError>() {
            return resolve_failure(resolve);
        }
        if let Some(tls) = rustls_error(current) {
            return (AttemptError::Tls, tls_sentence(tls, target));
        }
        if let Some(io) = innermost_io(current) {
            if io.kind() == ErrorKind::ConnectionRefused {
                let sentence = format!(
                    "connection refused: nothing listens on {}",
                    target.authority()
                );
                return (AttemptError::Connect, sentence);
            }
            // A connection closed before any TLS answer: a port that does not speak TLS and
            // hangs up on the greeting (a plain-HTTP server that does not answer garbage).
            if io.kind() == ErrorKind::UnexpectedEof
                && target.url.scheme() == "https"
                && error.is_connect()
            {
                return (AttemptError::Tls, closed_during_handshake(target));
            }
        }
        innermost = current.to_string();
        source = current.source();
    }
    let authority = target.authority();
    if error.is_timeout() && error.is_connect() {
        let limit = human(target.connect_timeout);
        let sentence = format!("could not open a connection to {authority} within {limit}");
        return (AttemptError::Timeout, sentence);
    }
    if error.is_timeout() {
        let limit = human(target.timeout);
        let sentence =
            format!("no answer from {authority} within {limit} (the server's request_timeout)");
        return (AttemptError::Timeout, sentence);
    }
    if error.is_connect() {
        let sentence = format!("could not connect to {authority}: {innermost}");
        return (AttemptError::Connect, sentence);
    }
    let sentence = format!("the request to {authority} failed: {innermost}");
    (AttemptError::Connect, sentence)
}

fn resolve_failure(error: &ResolveError) -> (AttemptError, String) {
    match error {
        ResolveError::Blocked { host, ip } => (
            AttemptError::Blocked,
            format!(
                "{host} resolves to {ip}, which is not a public address and is not in allow_networks"
            ),
        ),
        ResolveError::Lookup { host, .. } | ResolveError::NoAddress { host } => (
            AttemptError::Dns,
            format!("DNS lookup failed: the host name {host} does not resolve to any address"),
        ),
    }
}

fn tls_sentence(error: &rustls::Error, target: &Target<'_>) -> String {
    use rustls::{AlertDescription as Alert, CertificateError as Cert};
    let authority = target.authority();
    let failed = format!("the TLS handshake with {authority} failed");
    match error {
        // The first bytes back were not a TLS record: typically "HTTP/1.1 400 Bad Request"
        // from a plain-HTTP server that could not parse the TLS greeting.
        rustls::Error::InvalidMessage(_) => format!(
            "{failed}: this port does not speak TLS; did you mean {}?",
            target.as_http()
        ),
        rustls::Error::InvalidCertificate(reason) => match reason {
            Cert::UnknownIssuer => format!(
                "{failed}: its certificate is signed by an unknown CA (not a public one, nor                  the subscription's pinned CA bundle)"
            ),
            Cert::Expired | Cert::ExpiredContext { .. } => {
                format!("{failed}: its certificate has expired")
            }
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                format!("{failed}: its certificate is not valid yet (check the clocks)")
            }
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => format!(
                "{failed}: its certificate does not name {} (name mismatch)",
                target.url.host_str().unwrap_or("the host")
            ),
            Cert::Revoked => format!("{failed}: its certificate is revoked"),
            other => format!("{failed}: its certificate is not valid ({other:?})"),
        },
        rustls::Error::AlertReceived(Alert::CertificateRequired) => format!(
            "{failed}: the endpoint requires a client certificate (mTLS) and none was presented"
        ),
        rustls::Error::AlertReceived(
            Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate
            | Alert::CertificateRevoked
            | Alert::AccessDenied,
        ) => format!("{failed}: the endpoint refused the client certificate presented ({error})"),
        other => format!("{failed}: {other}"),
    }
}

fn closed_during_handshake(target: &Target<'_>) -> String {
    format!(
        "{} closed the connection during the TLS handshake: this port may not speak TLS; did \
         you mean {}?",
        target.authority(),
        target.as_http()
    )
}

/// The innermost `io::Error` of `error`'s nest of `io::Error`s (the connector wraps one in
/// another, and only the inner one has the telling kind), if `error` is one.
fn innermost_io<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a std::io::Error> {
    let mut io = error.downcast_ref::<std::io::Error>()?;
    while let Some(inner) = io
        .get_ref()
        .and_then(|e| e.downcast_ref::<std::io::Error>())
    {
        io = inner;
    }
    Some(io)
}

/// The rustls error in `error`, directly or wrapped in an `io::Error` (whose `source()` skips
/// the wrapped error, so the chain walk alone would miss it).
fn rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = error;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // The connector nests io::Errors (Other around InvalidData around the rustls error).
        current = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())?;
    }
}

/// `10s`, or `1500ms` when not a whole number of seconds.
pub(super) fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The sentence for a non-2xx answer: the status, what it usually means, and the start of
/// the body (quoted and escaped: it is the endpoint's text, not ours).
pub(super) fn status_sentence(status: u16, body: &[u8]) -> String {
    let mut sentence = match status {
        300..=399 => format!(
            "the endpoint answered {status} (a redirect); Herald does not follow redirects, so \
             register the final URL"
        ),
        401 | 403 => format!(
            "the endpoint answered {status}: it refused the request; check that it verifies \
             signatures with this subscription's current secret"
        ),
        404 => "the endpoint answered 404: nothing is served at this URL path".to_owned(),
        429 => "the endpoint answered 429: it is rate limiting Herald".to_owned(),
        500..=599 => format!("the endpoint answered {status}: the receiving app failed"),
        _ => format!("the endpoint answered {status}, not a 2xx status"),
    };
    let text = String::from_utf8_lossy(body);
    let prefix: String = text.trim().chars().take(BODY_PREFIX_CHARS).collect();
    if !prefix.is_empty() {
        let more = if text.trim().chars().count() > BODY_PREFIX_CHARS {
            "…"
        } else {
            ""
        };
        sentence.push_str(&format!("; its body begins {prefix:?}{more}"));
    }
    sentence
}

/// How much of a failing answer's body its sentence quotes.
const BODY_PREFIX_CHARS: usize = 120;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_sentence_quotes_the_body_prefix_escaped() {
        let sentence = status_sentence(500, b"boom\n\x1b[31mred");
        assert_eq!(
            sentence,
            "the endpoint answered 500: the receiving app failed; its body begins \
             \"boom\\n\\u{1b}[31mred\""
        );
        let long = "x".repeat(500);
        assert!(status_sentence(502, long.as_bytes()).ends_with("\"…"));
        assert!(!status_sentence(404, b"").contains("body"));
    }

    #[test]
    fn tls_failures_are_told_in_words() {
        let url = url::Url::parse("https://hooks.acme.example/h").unwrap();
        let target = Target {
            url: &url,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
        };
        let said = |error| tls_sentence(&error, &target);
        use rustls::{AlertDescription, CertificateError, Error};
        assert!(
            said(Error::InvalidCertificate(CertificateError::UnknownIssuer)).contains("unknown CA")
        );
        assert!(said(Error::InvalidCertificate(CertificateError::Expired)).contains("expired"));
        assert!(
            said(Error::InvalidCertificate(CertificateError::NotValidForName))
                .contains("does not name hooks.acme.example (name mismatch)")
        );
        assert!(
            said(Error::AlertReceived(AlertDescription::CertificateRequired))
                .contains("requires a client certificate")
        );
    }

    #[test]
    fn the_plain_http_suggestion_keeps_the_port() {
        let url = url::Url::parse("https://example.com/hooks?a=1").unwrap();
        let target = Target {
            url: &url,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
        };
        assert_eq!(target.as_http(), "http://example.com:443/hooks?a=1");
        assert_eq!(target.authority(), "example.com:443");
        assert_eq!(human(Duration::from_millis(1500)), "1500ms");
    }
}
