//! Cross-site request forgery: every state-changing Hub form passes two checks.
//!
//! 1. Where the request comes from: a browser names it in `Sec-Fetch-Site` and `Origin`; a
//!    request another site's page made is refused whatever else it carries.
//! 2. A token only this session's pages hold: derived from the session id (a hash under its
//!    own label), so it needs no storage, differs per session, and tells nothing of the id.
//!
//! The session cookie is also `SameSite=Strict`, so a browser that keeps to it never sends
//! the cookie on another site's request at all; the checks above hold for those that do not.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use crate::api::auth::{hash_secret, secrets_equal};

/// The token the forms of the session with id `session_id` carry.
pub fn token_for(session_id: &str) -> String {
    hash_secret(&format!("herald-hub-csrf:{session_id}"))
}

/// Why a form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The browser says another site made the request.
    CrossSite,
    /// The form's token is missing or is not this session's.
    Token,
}

impl Refused {
    /// One sentence for the person who sees the refusal.
    pub fn sentence(self) -> &'static str {
        match self {
            Refused::CrossSite => {
                "This form was sent from another site, so Herald refused it; open the Hub \
                 yourself and try again."
            }
            Refused::Token => {
                "This form has expired or was not made by this sign-in; reload the page and \
                 try again."
            }
        }
    }
}

/// Check 1: the request came from a page of this origin (or was typed in, `none`).
pub fn same_origin(headers: &HeaderMap) -> Result<(), Refused> {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return Err(Refused::CrossSite);
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().map_err(|_| Refused::CrossSite)?;
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(Refused::CrossSite)?;
        // `scheme://host[:port]`; the scheme is left out because a proxy may end TLS.
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        if authority != Some(host) {
            return Err(Refused::CrossSite);
        }
    }
    Ok(())
}

/// Both checks for a signed-in form: its origin, and `given` against the session's token.
pub fn check(headers: &HeaderMap, expected: &str, given: &str) -> Result<(), Refused> {
    same_origin(headers)?;
    if given.is_empty() || !secrets_equal(given, expected) {
        return Err(Refused::Token);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_form_from_another_origin_is_refused_even_with_the_right_token() {
        let token = token_for("s1");
        let cross = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.test")]);
        assert_eq!(check(&cross, &token, &token), Err(Refused::CrossSite));
        let fetch = headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]);
        assert_eq!(check(&fetch, &token, &token), Err(Refused::CrossSite));
        let same = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(check(&same, &token, &token), Ok(()));
    }

    #[test]
    fn a_form_without_this_sessions_token_is_refused() {
        let same = headers(&[("host", "h"), ("origin", "http://h")]);
        assert_eq!(
            check(&same, &token_for("s1"), &token_for("s2")),
            Err(Refused::Token)
        );
        assert_eq!(check(&same, &token_for("s1"), ""), Err(Refused::Token));
    }
}
