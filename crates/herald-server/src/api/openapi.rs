//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' and
//! types' annotations, so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::{deliveries, event_types, events, health, oauth, subscriptions, tenants, views};

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "Durable, signed, retried webhook delivery."),
    paths(
        tenants::create, tenants::list, tenants::show, tenants::update, tenants::remove,
        event_types::create, event_types::list, event_types::show, event_types::update, event_types::remove,
        subscriptions::create, subscriptions::list, subscriptions::show, subscriptions::update,
        subscriptions::remove, subscriptions::test, subscriptions::rotate_secret,
        events::publish, events::list, events::show,
        deliveries::list, deliveries::show, deliveries::redeliver,
        oauth::token, health::healthz, health::readyz, health::metrics, openapi_json,
    ),
    components(schemas(
        super::error::Problem, views::TenantView, views::EventTypeView, views::SubscriptionView,
        views::EventView, views::PublishResponse, views::DeliveryView, views::LastAttemptView, views::AttemptView,
        views::TestResult, oauth::TokenResponse,
    )),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", responses((status = 200)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
