//! The Hub's stylesheet and script, embedded in the binary (no CDN, no build step), served
//! with an ETag of their content and a long cache, so a browser asks again only after an
//! upgrade changed them.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::api::AppState;

const CSS: &str = include_str!("../../assets/hub/hub.css");
const JS: &str = include_str!("../../assets/hub/hub.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/hub.css",
            get(
                |headers: HeaderMap| async move { asset(&headers, CSS, "text/css; charset=utf-8") },
            ),
        )
        .route(
            "/assets/hub.js",
            get(|headers: HeaderMap| async move {
                asset(&headers, JS, "text/javascript; charset=utf-8")
            }),
        )
}

/// The asset, or 304 when the browser holds this very content.
fn asset(request: &HeaderMap, body: &'static str, content_type: &'static str) -> Response {
    let digest = Sha256::digest(body.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{tag}\"");
    let cache = HeaderValue::from_static("public, max-age=86400");
    let matches = request
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(ETAG, etag), (CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (ETAG, etag),
            (CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}
