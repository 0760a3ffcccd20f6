//! Herald's own events: the `herald.*` event types Herald publishes about itself, so that an
//! operator's own subscription can receive them like any other event.
//!
//! They are registered in the catalog at start ([`register`]). None is a broadcast: each
//! tells of one tenant (its support request, its failed delivery), so each goes to the
//! operator tenant's matching subscriptions only ([`publish_to_operator`]), never to another
//! tenant that happens to subscribe to `herald.*`. Without an `operator_tenant` setting they
//! are delivered to nobody (what they tell of is still recorded: the support request, the
//! failure's digest). A failed delivery of a `herald.*` event emits nothing
//! ([`is_operational`]), so a subscription to `herald.*` cannot make a loop.

use herald_store::{
    Catalog, DeliveryQueue, Event, EventId, EventType, PageRequest, StoreError, SubscriptionFilter,
    SubscriptionId, TenantId,
};

use crate::dispatch::Intake;

/// Subscriptions read per page while looking for the operator's matching ones.
const PAGE: u32 = 100;

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

/// Publishes `event_type` to each subscription of `operator` that matches it, except
/// `except` (the failing subscription of a `herald.delivery.failed`); answers how many got it.
/// One event per recipient: `publish_to` writes an event with its one delivery, due now.
pub async fn publish_to_operator(
    catalog: &dyn Catalog,
    queue: &dyn DeliveryQueue,
    intake: &Intake,
    operator: &TenantId,
    event_type: &'static str,
    payload: &serde_json::Value,
    except: Option<&SubscriptionId>,
) -> Result<usize, StoreError> {
    let recipients = recipients(catalog, operator, event_type, except).await?;
    let payload = payload.to_string();
    let mut published = 0;
    for subscription_id in recipients {
        let now = herald_store::timestamp_now();
        let event = Event {
            id: EventId::generate(),
            event_type: event_type.to_owned(),
            payload_json: payload.clone(),
            tenant_id: Some(operator.clone()),
            idempotency_key: None,
            created_at: now,
        };
        // Leased until now, that is not at all: the dispatcher claims it like any due delivery.
        // A subscription deleted since it was listed fails alone; the others still get it.
        match queue.publish_to(&event, &subscription_id, now).await {
            Ok(_) => published += 1,
            Err(error) => {
                tracing::warn!(%error, subscription = %subscription_id, event_type, "operational event not published to a subscription");
            }
        }
    }
    if published > 0 {
        intake.wake();
    }
    Ok(published)
}

/// The operator's subscriptions that match `event_type`, without `except`.
async fn recipients(
    catalog: &dyn Catalog,
    operator: &TenantId,
    event_type: &str,
    except: Option<&SubscriptionId>,
) -> Result<Vec<SubscriptionId>, StoreError> {
    let filter = SubscriptionFilter {
        tenant_id: Some(operator.clone()),
    };
    let mut page = PageRequest {
        cursor: None,
        limit: PAGE,
    };
    let mut found = Vec::new();
    loop {
        let listed = catalog.list_subscriptions(&filter, &page).await?;
        found.extend(
            listed
                .items
                .iter()
                .filter(|s| Some(&s.id) != except && s.matches(event_type))
                .map(|s| s.id.clone()),
        );
        match listed.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(found),
        }
    }
}
