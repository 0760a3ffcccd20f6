//! The checks a request passes before its body is read: who may send (no browser page), in
//! what form (JSON), and an id short enough to remember.
//!
//! `herald listen` runs on a developer's machine, where every web page the browser shows can
//! POST to `127.0.0.1:4567`. Browsers add `Origin` to such cross-site requests, and without a
//! CORS preflight they can only send form and text content types (or a body with none); webhook
//! senders send JSON and no `Origin`. So a request with an `Origin` not allowed by
//! `--allow-origin`, or a `content-type` that is not JSON, is refused here, cheaply, before a
//! byte of body is read, whatever `--secret` says: a forged signature would fail anyway, but
//! an unverified receiver has nothing else between a page and the hooks.

use http::{HeaderMap, StatusCode, header};

use herald_signature::HEADER_ID;

use crate::config::Origins;
use crate::dedup::MAX_ID_BYTES;
use crate::problem::Problem;

/// What the gate lets through.
#[derive(Debug)]
pub(crate) struct Gate {
    pub origins: Origins,
    pub any_content_type: bool,
}

impl Gate {
    /// `Err` is the refusal: 403 for a browser origin, 415 for a content type, 400 for an id.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Problem> {
        for origin in headers.get_all(header::ORIGIN) {
            let text = String::from_utf8_lossy(origin.as_bytes());
            if !self.origins.allows(&text) {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "browser-origin",
                    "Request from a browser page",
                    format!(
                        "refused a request from a browser page on {text} (it carries an Origin \
                         header; webhook senders send none); to accept it, restart with \
                         --allow-origin {text}"
                    ),
                ));
            }
        }
        if !self.any_content_type {
            check_content_type(headers)?;
        }
        let id_length = headers.get(HEADER_ID).map_or(0, |id| id.len());
        if id_length > MAX_ID_BYTES {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "id-too-long",
                "webhook-id too long",
                format!(
                    "the webhook-id header is {id_length} bytes, more than the limit of \
                     {MAX_ID_BYTES}"
                ),
            ));
        }
        Ok(())
    }
}

/// Accepts `application/json` and `…+json` (with parameters), refuses anything else or none.
fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let essence = given
        .as_deref()
        .and_then(|text| text.split(';').next())
        .map(|text| text.trim().to_ascii_lowercase());
    let json = essence
        .as_deref()
        .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
    if json {
        return Ok(());
    }
    let what = given.map_or_else(
        || "no content-type".to_owned(),
        |t| format!("content-type {t}"),
    );
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-content-type",
        "Unsupported content type",
        format!(
            "refused a request with {what}: webhooks are JSON (application/json), and form or \
             text types are what a browser page can send; to accept any, restart with \
             --allow-any-content-type"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn gate(origins: Origins, any_content_type: bool) -> Gate {
        Gate {
            origins,
            any_content_type,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn json_types_pass_and_form_text_or_none_are_refused() {
        let strict = gate(Origins::Only(vec![]), false);
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/cloudevents+json",
        ] {
            assert!(
                strict.check(&headers(&[("content-type", ok)])).is_ok(),
                "{ok}"
            );
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let problem = strict
                .check(&headers(&[("content-type", refused)]))
                .unwrap_err();
            assert_eq!(problem.status, 415, "{refused}");
        }
        assert_eq!(strict.check(&HeaderMap::new()).unwrap_err().status, 415);
        assert!(
            gate(Origins::Only(vec![]), true)
                .check(&HeaderMap::new())
                .is_ok()
        );
    }

    #[test]
    fn an_origin_is_refused_unless_allowed() {
        let json = ("content-type", "application/json");
        let page = ("origin", "https://evil.example");
        let problem = gate(Origins::Only(vec![]), false)
            .check(&headers(&[json, page]))
            .unwrap_err();
        assert_eq!(problem.status, 403);
        assert!(
            problem
                .detail
                .contains("--allow-origin https://evil.example")
        );
        let allowed = gate(Origins::Only(vec!["https://evil.example".into()]), false);
        assert!(allowed.check(&headers(&[json, page])).is_ok());
        assert!(
            gate(Origins::Any, false)
                .check(&headers(&[json, page]))
                .is_ok()
        );
    }
}
