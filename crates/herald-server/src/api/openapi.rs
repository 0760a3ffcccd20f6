//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' and
//! types' annotations, so it cannot drift from the code.
//!
//! Client generators and fuzzers take this document at its word, so it must never promise
//! less than the server enforces nor more than it accepts: every constraint written here (a
//! pattern, a bound, an enum) is one the handler checks. The error responses are filled in by
//! [`problems::Problems`] from each operation's shape (body, query, path, auth) plus a short
//! table, rather than repeated on every handler, so a new route is documented the day it lands.

mod problems;
#[cfg(test)]
mod tests;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::{
    attempts_stream, deliveries, event_types, events, health, oauth, subscriptions, tenants, views,
};
use problems::Problems;

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "Durable, signed, retried webhook delivery."),
    paths(
        tenants::create, tenants::list, tenants::show, tenants::update, tenants::remove,
        tenants::rotate_credentials,
        event_types::create, event_types::list, event_types::show, event_types::update, event_types::remove,
        event_types::show_sample,
        subscriptions::create, subscriptions::list, subscriptions::show, subscriptions::update,
        subscriptions::remove, subscriptions::test, subscriptions::rotate_secret,
        subscriptions::recover::recover, subscriptions::recover::show,
        events::publish, events::list, events::show,
        deliveries::list, deliveries::show, deliveries::attempts, deliveries::redeliver, attempts_stream::stream,
        oauth::token, oauth::revoke, health::healthz, health::readyz, health::metrics, openapi_json,
    ),
    components(schemas(
        super::error::Problem, views::TenantView, views::EventTypeView, views::SubscriptionView,
        views::EventView, views::PublishResponse, views::DeliveryView, views::LastAttemptView, views::AttemptView, views::ResponseHeaderView,
        views::TestResult, views::ClientCertificateView, subscriptions::forms::ClientCertificateInput,
        subscriptions::recover::RecoverRequest, subscriptions::recover::RecoveryView,
        oauth::TokenResponse, attempts_stream::AttemptStreamItem,
    )),
    tags(
        (name = "tenants", description = "The operator's customers (admin token)."),
        (name = "event-types", description = "The catalogue of events."),
        (name = "subscriptions", description = "Where a tenant wants which events."),
        (name = "events", description = "Publishing, and what was published."),
        (name = "deliveries", description = "Every delivery with its attempts, and redelivery."),
        (name = "auth", description = "Tenant tokens (OAuth2 client credentials)."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    ),
    modifiers(&SecuritySchemes, &Problems),
)]
struct ApiDoc;

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // `/oauth2/token` takes the tenant's client_id and client_secret as HTTP Basic.
        components.add_security_scheme(
            "client_credentials",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    operation_id = "getOpenApiDocument", responses((status = 200, body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// The pattern of an event type name (`consent.revoked`), as `event_types::check_name` checks.
const EVENT_TYPE_PATTERN: &str = r"^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.?\*)?)$";

fn types(types: &[Type], nullable: bool) -> SchemaType {
    let mut all = types.to_vec();
    if nullable {
        all.push(Type::Null);
    }
    SchemaType::Array(all)
}

/// An event type's `schema`: a JSON Schema is an object or a boolean (`null` clears it).
/// Anything else is refused by the compiler, so the document says so rather than "any value".
pub fn json_schema_document() -> Schema {
    ObjectBuilder::new()
        .schema_type(types(&[Type::Object, Type::Boolean], true))
        .description(Some(
            "A JSON Schema (an object or a boolean) that published payloads must satisfy.",
        ))
        .build()
        .into()
}

/// The `status` filter of `GET /deliveries`.
pub fn delivery_status() -> Schema {
    string_enum(&["pending", "succeeded", "failed"], false)
}

/// A subscription's `status` in a PATCH (`null` is the same as leaving it out).
pub fn subscription_status() -> Schema {
    string_enum(&["active", "paused"], true)
}

/// A subscription's `payload_mode`.
pub fn payload_mode() -> Schema {
    string_enum(&["full", "thin", "akoya"], true)
}

/// A subscription's `signature_scheme`.
pub fn signature_scheme() -> Schema {
    string_enum(&["v1", "v1a"], true)
}

fn string_enum(values: &[&str], nullable: bool) -> Schema {
    let mut values: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
    if nullable {
        values.push(serde_json::Value::Null);
    }
    ObjectBuilder::new()
        .schema_type(types(&[Type::String], nullable))
        .enum_values(Some(values))
        .build()
        .into()
}

/// A subscription's `event_types`: at least one name, or a prefix ending in `*`.
pub fn event_type_patterns() -> Schema {
    patterns(false)
}

/// The same in a PATCH, where `null` leaves them unchanged.
pub fn event_type_patterns_or_null() -> Schema {
    patterns(true)
}

fn patterns(nullable: bool) -> Schema {
    let item = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(EVENT_TYPE_PATTERN))
        .build();
    ArrayBuilder::new()
        .schema_type(types(&[Type::Array], nullable))
        .items(RefOr::T(Schema::Object(item)))
        .min_items(Some(1))
        .description(Some(
            "Event type names, or prefixes ending in `*` such as `consent.*`.",
        ))
        .build()
        .into()
}
