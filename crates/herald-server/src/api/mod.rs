//! The HTTP API under `/api/v1`, plus `/oauth2/token`, health, metrics and the OpenAPI
//! document. One `router()` per resource file; handlers call the store through its trait and
//! never hold SQL.

mod attempts_stream;
pub mod auth;
pub(crate) mod deliveries;
pub mod error;
mod event_types;
mod events;
pub(crate) mod extract;
mod health;
pub mod limits;
mod oauth;
mod openapi;
mod patterns;
mod public_keys;
mod sample;
mod schema;
pub(crate) mod subscriptions;
mod tenants;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use herald_store::{Catalog, DeliveryQueue, PageRequest, Store};

use crate::catalog_cache::{CatalogCache, InvalidatingCatalog};
use crate::config::Config;
use crate::dispatch::{Deliverer, Intake};
use crate::metrics::Metrics;
pub use attempts_stream::{LiveStreams, MAX_STREAMS};
use error::ApiError;

/// Everything a handler may use: one pointer to the [`Shared`] parts, because axum clones the
/// state for every request (and every extractor and middleware that takes it), and cloning
/// ten `Arc`s each time showed in profiles of `herald bench`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] points to.
pub struct Shared {
    /// Tenants, event types, subscriptions and tokens: the store's catalog half, through the
    /// invalidating wrapper so this node's own changes reach [`Self::catalog_cache`] at once.
    pub catalog: Arc<dyn Catalog>,
    /// Events, deliveries and attempts: the store's delivery-queue half. (Publishes go
    /// through [`Self::intake`], which holds the same queue.)
    pub queue: Arc<dyn DeliveryQueue>,
    /// Validated settings.
    pub config: Arc<Config>,
    /// The admin bearer token.
    pub admin_token: Arc<String>,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Makes attempts for redelivery and the connectivity test.
    pub deliverer: Arc<Deliverer>,
    /// The dispatcher's publish side: publishes go through it, and it wakes the dispatcher.
    pub intake: Intake,
    /// Compiled event type schemas.
    pub schemas: Arc<schema::SchemaCache>,
    /// Event types and tenants as publishes read them (short-lived; see the module).
    pub catalog_cache: Arc<CatalogCache>,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        admin_token: String,
        metrics: Arc<Metrics>,
        deliverer: Arc<Deliverer>,
        intake: Intake,
    ) -> Self {
        // Every catalog write goes through the invalidating wrapper, so this node's own changes
        // to event types and tenants reach the cache at once.
        let catalog_cache = Arc::new(CatalogCache::default());
        let queue: Arc<dyn DeliveryQueue> = Arc::clone(&store) as Arc<dyn DeliveryQueue>;
        let catalog: Arc<dyn Catalog> = Arc::new(InvalidatingCatalog::new(
            store as Arc<dyn Catalog>,
            Arc::clone(&catalog_cache),
        ));
        Self(Arc::new(Shared {
            catalog,
            queue,
            config,
            admin_token: Arc::new(admin_token),
            metrics,
            deliverer,
            intake,
            schemas: Arc::new(schema::SchemaCache::default()),
            catalog_cache,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Bodies other than event payloads are small; events get room for the payload limit plus
    // the envelope fields.
    let event_body_limit = state.config.max_payload_size + 64 * 1024;
    let body_read_timeout = state.config.body_read_timeout;
    let api = Router::new()
        .merge(tenants::router())
        .merge(event_types::router())
        .merge(subscriptions::router())
        .merge(events::router().layer(DefaultBodyLimit::max(event_body_limit)))
        .merge(deliveries::router())
        .merge(attempts_stream::router())
        .merge(crate::relay::router())
        .merge(openapi::router());
    Router::new()
        .nest("/api/v1", api)
        .merge(oauth::router())
        .merge(public_keys::router())
        .merge(crate::akoya::router(state.config.akoya_profile))
        .merge(health::router())
        .merge(crate::hub::router())
        .fallback(|| async {
            ApiError::bad_request("unknown-route", "no such route; see /api/v1/openapi.json")
                .with_status(axum::http::StatusCode::NOT_FOUND)
        })
        .method_not_allowed_fallback(|| async {
            ApiError::bad_request(
                "method-not-allowed",
                "this route does not accept that method",
            )
            .with_status(axum::http::StatusCode::METHOD_NOT_ALLOWED)
        })
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(axum::middleware::from_fn(move |request, next| {
            limits::body_deadline(body_read_timeout, request, next)
        }))
        .with_state(state)
}

/// Default and maximum page sizes.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// Builds a page request, checking the limit and the cursor's shape with `check`.
fn page_request<E: std::fmt::Display>(
    cursor: Option<String>,
    limit: Option<u32>,
    check: impl Fn(&str) -> Result<(), E>,
) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if let Some(cursor) = &cursor {
        check(cursor).map_err(|e| {
            ApiError::bad_request("invalid-cursor", format!("the cursor is not valid: {e}"))
        })?;
    }
    Ok(PageRequest { cursor, limit })
}
