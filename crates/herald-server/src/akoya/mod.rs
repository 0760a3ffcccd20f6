//! The Akoya profile: Akoya Notifications clients work against Herald unchanged.
//!
//! On with `akoya_profile`. It serves `/notifications/v1/subscriptions` (create, list,
//! delete) and `/notifications/v1/test` as *views* of Herald's own tenants, event types and
//! subscriptions: nothing is stored twice, so a subscription made here is a Herald
//! subscription (`payload_mode: akoya`, one event type from [`kinds`]) that
//! `/api/v1/subscriptions` and the Hub show and manage, and the other way round. Errors are
//! Akoya's `{code, message, debugMessage}` ([`error`]), never problem documents. The token
//! endpoint is Herald's (`/oauth2/token` accepts Akoya's scopes when the profile is on).
//!
//! Deliveries to these subscriptions carry Akoya's envelope ([`envelope`]), built from the
//! published event and signed with Herald's headers like any delivery.

mod auth;
pub mod envelope;
mod error;
pub mod kinds;
mod subscriptions;
mod test_event;

use axum::Router;
use axum::routing::{delete, post};
use herald_store::{Catalog, EventType, StoreError};

pub use envelope::envelope;
pub use error::AkoyaError;

use crate::api::AppState;

/// The scopes Akoya's token endpoint grants for notifications.
pub const SCOPES: &[&str] = &["notifications_subscriptions", "advisory"];

/// The Akoya routes when `on`; none otherwise.
pub fn router(on: bool) -> Router<AppState> {
    if !on {
        return Router::new();
    }
    let not_allowed = || async { AkoyaError::method_not_allowed() };
    Router::new()
        .route(
            "/notifications/v1/subscriptions",
            post(subscriptions::create)
                .get(subscriptions::list)
                .fallback(not_allowed),
        )
        .route(
            "/notifications/v1/subscriptions/{id}",
            delete(subscriptions::remove).fallback(not_allowed),
        )
        .route(
            "/notifications/v1/test",
            post(test_event::push).fallback(not_allowed),
        )
}

/// Registers the event types of [`kinds::KINDS`] that do not exist yet (at start, with the
/// profile on). Another node registering the same one at once is not an error.
pub async fn register_event_types(catalog: &dyn Catalog) -> Result<(), StoreError> {
    for kind in kinds::KINDS {
        if catalog.get_event_type(kind.event_type).await?.is_some() {
            continue;
        }
        let now = herald_store::timestamp_now();
        let event_type = EventType {
            name: kind.event_type.to_owned(),
            description: Some(kind.description.to_owned()),
            schema: None,
            example: Some(serde_json::json!({"id": "d1c8260a-5ec8-4e34-a00c-5b8b8a8e5f41"})),
            created_at: now,
            updated_at: now,
        };
        match catalog.create_event_type(&event_type).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
