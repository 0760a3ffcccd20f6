//! Extractors that turn every rejection into a problem that names what to fix, instead of
//! axum's plain-text defaults.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Json<T>` whose failures are problems: 415 without a JSON content type, 413 over the body
/// limit, 400 for syntax errors, 422 for a missing, unknown or mistyped field (named) and for a
/// body that is not a JSON object.
///
/// Every request body of this API is a JSON object, as the OpenAPI document says; serde would
/// also fill a struct from a JSON array (`[null, null]`), so the extractor refuses anything
/// but an object itself. It reads the bytes first (rather than `axum::Json`) to look at them.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::unsupported_media_type(
                "send the body as JSON with the header content-type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        let parsed = axum::Json::<T>::from_bytes(&bytes);
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            // Not an object. Broken JSON is still reported as such (400); anything else, whether
            // serde could fill the struct from it or not, is refused as not being an object.
            if let Err(rejection @ JsonRejection::JsonSyntaxError(_)) = parsed {
                return Err(json_rejection(rejection));
            }
            return Err(ApiError::validation(
                "the body must be a JSON object ({...}), not an array or a single value",
            ));
        }
        let axum::Json(value) = parsed.map_err(json_rejection)?;
        Ok(Json(value))
    }
}

/// `application/json` or any `application/*+json`, with or without parameters (as axum's).
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("the request body is larger than this server accepts")
    } else {
        ApiError::bad_request("malformed-body", rejection.body_text())
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "malformed-json",
            format!("the body is not valid JSON: {}", inner(&e.to_string())),
        ),
        JsonRejection::JsonDataError(e) => ApiError::validation(inner(&e.to_string())),
        other => ApiError::bad_request("malformed-body", other.body_text()),
    }
}

/// axum prefixes serde's message with its own sentence; the serde part is what names the field.
fn inner(text: &str) -> String {
    text.split_once(": ")
        .map_or(text, |(_, rest)| rest)
        .to_owned()
}

/// `Query<T>` whose failures are 400 problems naming the parameter.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                "invalid-query",
                format!("invalid query parameters: {}", inner(&e.to_string())),
            )),
            Err(other) => Err(ApiError::bad_request("invalid-query", other.body_text())),
        }
    }
}

/// `Path<T>` whose failures are 400 problems.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(ApiError::bad_request("invalid-path", rejection.body_text()))
            }
            Err(other) => Err(ApiError::bad_request("invalid-path", other.body_text())),
        }
    }
}

/// For PATCH bodies: an absent field is `None`, an explicit `null` is `Some(None)`.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
