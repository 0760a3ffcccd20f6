//! `herald.delivery.failed` to the operator tenant: its subscriptions that match, less the
//! failing one, each get the event (`operational::publish_to_operator`), so no other tenant
//! ever sees another tenant's failure (a broadcast would reach them all).

use herald_store::{Store, StoreError, TenantId};
use time::format_description::well_known::Rfc3339;

use super::DeliveryFailed;
use crate::dispatch::Intake;
use crate::operational::{self, DELIVERY_FAILED};

/// Publishes the failure to each matching subscription of `operator` but the failing one;
/// answers how many got it.
pub(super) async fn publish_failure(
    store: &dyn Store,
    intake: &Intake,
    operator: &TenantId,
    failed: &DeliveryFailed,
) -> Result<usize, StoreError> {
    operational::publish_to_operator(
        store,
        store,
        intake,
        operator,
        DELIVERY_FAILED,
        &payload(failed),
        Some(&failed.subscription_id),
    )
    .await
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
