//! The error responses of every operation, as `application/problem+json` with the problem
//! types each status can carry.
//!
//! Most errors follow from an operation's shape, not its handler: a JSON body can be malformed
//! (400), too large (413), not JSON (415) or mistyped (422); a query or path can fail to parse
//! (400); a bearer-secured route answers 401; the store can fail (500, 503). This modifier
//! derives those, keeps the statuses a handler annotated (403, 404, 409, 422, …) and adds the
//! few operation-specific problem types from [`SPECIFIC`]. It never removes a response.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use utoipa::Modify;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::Ref;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};

use crate::api::error::PROBLEM_PREFIX;

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Operations that touch no store, so cannot answer 500 or 503.
pub const STORE_FREE: &[&str] = &["getHealth", "getOpenApiDocument"];

/// Operations that turn every store failure into 503 (`/readyz` reports; it has no bug to hide).
pub const UNAVAILABLE_ONLY: &[&str] = &["getReadiness"];

/// Problem types particular operations add to a status, beyond what their shape implies.
pub const SPECIFIC: &[(&str, u16, &[&str])] = &[
    (
        "publishEvent",
        422,
        &["unknown-event-type", "schema-validation"],
    ),
    (
        "createSubscription",
        422,
        &["unknown-event-type", "invalid-url", "limit-exceeded"],
    ),
    (
        "updateSubscription",
        422,
        &["unknown-event-type", "invalid-url", "limit-exceeded"],
    ),
    ("testSubscription", 429, &["limit-exceeded"]),
    ("redeliverDelivery", 429, &["limit-exceeded"]),
    ("redeliverDelivery", 410, &["payload-removed"]),
    ("getEvent", 410, &["payload-removed"]),
    ("createToken", 400, &["oauth"]),
    ("createToken", 401, &["oauth"]),
    ("revokeToken", 400, &["oauth"]),
    ("revokeToken", 401, &["oauth"]),
];

/// The problem type a handler-annotated status carries unless [`SPECIFIC`] says more.
fn annotated_type(status: u16) -> Option<&'static str> {
    Some(match status {
        403 => "forbidden",
        404 => "not-found",
        409 => "conflict",
        413 => "payload-too-large",
        422 => "validation",
        _ => return None,
    })
}

/// Adds the problem responses to every operation of the document.
pub struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let statuses = problem_types(operation);
                for (status, slugs) in statuses {
                    operation.responses.responses.insert(
                        status.to_string(),
                        RefOr::T(problem_response(status, &slugs)),
                    );
                }
            }
        }
    }
}

/// Every operation of a path.
pub fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

type Statuses = BTreeMap<u16, BTreeSet<&'static str>>;

/// The error statuses of one operation with the problem types each can carry.
fn problem_types(operation: &Operation) -> Statuses {
    let mut statuses = Statuses::new();
    let mut add = |status: u16, slugs: &[&'static str]| {
        statuses.entry(status).or_default().extend(slugs);
    };
    for key in operation.responses.responses.keys() {
        if let Ok(status) = key.parse::<u16>()
            && status >= 400
        {
            add(status, annotated_type(status).as_slice());
        }
    }
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    if json_body {
        // `extract::Json`: the order of the checks is content type, size, syntax, data.
        add(400, &["malformed-json", "malformed-body"]);
        add(413, &["payload-too-large"]);
        add(415, &["unsupported-media-type"]);
        add(422, &["validation"]);
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    if parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Query)
    {
        add(400, &["invalid-query", "invalid-cursor"]);
    }
    if parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Path)
    {
        add(400, &["invalid-path"]);
    }
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    if operation
        .security
        .as_ref()
        .is_some_and(|security| security.contains(&bearer))
    {
        add(401, &["unauthorized"]);
    }
    let id = operation.operation_id.as_deref().unwrap_or_default();
    if !STORE_FREE.contains(&id) {
        add(503, &["unavailable"]);
        if !UNAVAILABLE_ONLY.contains(&id) {
            add(500, &["internal"]);
        }
    }
    for (_, status, slugs) in SPECIFIC.iter().filter(|(op, _, _)| *op == id) {
        add(*status, slugs);
    }
    statuses
}

/// A problem response that lists the problem types it can carry (`urn:herald:problem:<slug>`),
/// in its description for people and in `x-problem-types` for tools.
///
/// The body schema is the shared `Problem` component, not a per-response copy narrowed to
/// those types: generators would otherwise emit one model per operation and status.
fn problem_response(status: u16, slugs: &BTreeSet<&'static str>) -> utoipa::openapi::Response {
    let uris: Vec<String> = slugs
        .iter()
        .map(|slug| format!("{PROBLEM_PREFIX}{slug}"))
        .collect();
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let description = format!("{reason}. Problem types: {}.", uris.join(", "));
    let schema = Ref::from_schema_name("Problem");
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-problem-types", uris)
                .build(),
        ))
        .build()
}
