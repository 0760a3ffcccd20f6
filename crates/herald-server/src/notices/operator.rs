//! `herald.delivery.failed` to the operator tenant: its subscriptions that match, less the
//! failing one, each get the event through `publish_to`, so no other tenant ever sees another
//! tenant's failure (a broadcast would reach them all).

use herald_store::{
    Catalog, DeliveryQueue, Event, EventId, PageRequest, StoreError, SubscriptionFilter,
    SubscriptionId, TenantId,
};
use time::format_description::well_known::Rfc3339;

use super::DeliveryFailed;
use crate::dispatch::Intake;
use crate::operational::DELIVERY_FAILED;

/// Subscriptions read per page while looking for the operator's matching ones.
const PAGE: u32 = 100;

/// Publishes the failure to each matching subscription of `operator` but the failing one;
/// answers how many got it.
pub(super) async fn publish_failure<S: Catalog + DeliveryQueue + ?Sized>(
    store: &S,
    intake: &Intake,
    operator: &TenantId,
    failed: &DeliveryFailed,
) -> Result<usize, StoreError> {
    let recipients = recipients(store, operator, &failed.subscription_id).await?;
    let payload = payload(failed).to_string();
    let mut published = 0;
    for subscription_id in recipients {
        // One event per recipient: `publish_to` writes an event with its one delivery.
        let now = herald_store::timestamp_now();
        let event = Event {
            id: EventId::generate(),
            event_type: DELIVERY_FAILED.to_owned(),
            payload_json: payload.clone(),
            tenant_id: Some(operator.clone()),
            idempotency_key: None,
            created_at: now,
        };
        // Leased until now, that is not at all: the dispatcher claims it like any due delivery.
        // A subscription deleted since it was listed fails alone; the others still get it.
        match store.publish_to(&event, &subscription_id, now).await {
            Ok(_) => published += 1,
            Err(error) => {
                tracing::warn!(%error, subscription = %subscription_id, "herald.delivery.failed not published to a subscription");
            }
        }
    }
    if published > 0 {
        intake.wake();
    }
    Ok(published)
}

/// The operator's subscriptions to `herald.delivery.failed`, without `failing`.
async fn recipients<S: Catalog + ?Sized>(
    store: &S,
    operator: &TenantId,
    failing: &SubscriptionId,
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
        let listed = store.list_subscriptions(&filter, &page).await?;
        found.extend(
            listed
                .items
                .iter()
                .filter(|s| s.id != *failing && s.matches(DELIVERY_FAILED))
                .map(|s| s.id.clone()),
        );
        match listed.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(found),
        }
    }
}

/// What the event carries: ids, the error in words and times; never the failed payload.
fn payload(failed: &DeliveryFailed) -> serde_json::Value {
    serde_json::json!({
        "delivery_id": failed.delivery_id.as_str(),
        "subscription_id": failed.subscription_id.as_str(),
        "tenant_id": failed.tenant_id.as_str(),
        "event_id": failed.event_id.as_str(),
        "event_type": failed.event_type,
        "attempts": failed.attempts,
        "error": failed.error,
        "failed_at": failed.failed_at.format(&Rfc3339).unwrap_or_default(),
    })
}
