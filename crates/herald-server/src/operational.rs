//! Herald's own events: the `herald.*` event types Herald publishes about itself, so that an
//! operator's own subscription can receive them like any other event.
//!
//! They are registered in the catalog at start ([`register`]) and published as broadcasts
//! through the dispatcher's intake ([`publish`]). Their payloads carry ids and the Hub's
//! address, not what a tenant wrote: a broadcast reaches every tenant's matching
//! subscriptions. The one event an attempt causes, [`DELIVERY_FAILED`], is not a broadcast:
//! it goes to the operator tenant's subscriptions only (`crate::notices`), and a failed
//! delivery of a `herald.*` event emits nothing ([`is_operational`]), so a subscription to
//! `herald.*` cannot make a loop.

use herald_store::{Catalog, Event, EventId, EventType, Published, StoreError};

use crate::dispatch::Intake;

/// A subscriber filed a support request in the Hub.
pub const SUPPORT_REQUESTED: &str = "herald.support.requested";

/// A delivery ended `failed` (its retry schedule is spent).
pub const DELIVERY_FAILED: &str = "herald.delivery.failed";

/// Every operational event type, with its description.
pub const EVENT_TYPES: [(&str, &str); 2] = [
    (
        SUPPORT_REQUESTED,
        "A subscriber asked the operator for help in the Hub; see the request there.",
    ),
    (
        DELIVERY_FAILED,
        "A delivery ended failed after its retry schedule; delivered to the operator tenant's \
         subscriptions only (docs/notices.md).",
    ),
];

/// Whether `event_type` is one of Herald's own (`herald.*`): their failures emit nothing.
pub fn is_operational(event_type: &str) -> bool {
    event_type.starts_with("herald.")
}

/// Registers the operational event types that the catalog does not hold yet.
pub async fn register(catalog: &dyn Catalog) -> Result<(), StoreError> {
    for (name, description) in EVENT_TYPES {
        if catalog.get_event_type(name).await?.is_some() {
            continue;
        }
        let now = herald_store::timestamp_now();
        let event_type = EventType {
            name: name.to_owned(),
            description: Some(description.to_owned()),
            schema: None,
            example: None,
            created_at: now,
            updated_at: now,
        };
        match catalog.create_event_type(&event_type).await {
            // Another node registered it first.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// Publishes an operational event as a broadcast.
pub async fn publish(
    intake: &Intake,
    event_type: &'static str,
    payload: &serde_json::Value,
) -> Result<Published, StoreError> {
    let event = Event {
        id: EventId::generate(),
        event_type: event_type.to_owned(),
        payload_json: payload.to_string(),
        tenant_id: None,
        idempotency_key: None,
        created_at: herald_store::timestamp_now(),
    };
    intake.publish(&event).await
}
