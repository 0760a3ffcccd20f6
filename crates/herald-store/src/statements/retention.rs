//! Retention's shared statements: which events are old enough to go (or to lose their
//! payload), and which tenants keep theirs for a time of their own. Deleting them (with the
//! deliveries and attempts that cascade) binds a list of ids, which each dialect says its own
//! way, so that lives in the backends' `retention` modules.

use time::OffsetDateTime;

use super::{Statement, statement};
use crate::ids::{EventId, TenantId};
use crate::rows::micros;

/// The smallest event id of `time`'s millisecond: ids are UUIDv7, so every event made before
/// `time` has a smaller id. Bounding the scan by id walks the primary key, oldest first,
/// instead of reading the whole table for `created_at`.
fn id_floor(time: OffsetDateTime) -> String {
    let millis = (time.unix_timestamp_nanos() / 1_000_000).clamp(0, (1 << 48) - 1);
    format!("{}{millis:012x}{}", EventId::PREFIX, "0".repeat(20))
}

/// At most `limit` ids (`id`, oldest first) of events created before `before` with no pending
/// delivery that the server's `retention` governs: broadcasts, and the events of tenants
/// without a retention of their own. (The id bound is only the index's way in; `created_at`
/// decides.)
pub(crate) fn old_events(before: OffsetDateTime, limit: u32) -> Statement<'static, 3> {
    statement!(
        "SELECT e.id FROM events e WHERE e.id < $1 AND e.created_at < $2 \
           AND NOT EXISTS (SELECT 1 FROM deliveries d \
                           WHERE d.event_id = e.id AND d.status = 'pending') \
           AND (e.tenant_id IS NULL OR NOT EXISTS (SELECT 1 FROM tenants t \
                WHERE t.id = e.tenant_id AND t.retention_seconds IS NOT NULL)) \
         ORDER BY e.id LIMIT $3",
        id_floor(before),
        micros(before),
        i64::from(limit),
    )
}

/// The same for one tenant with a retention of its own, walking its events by the
/// `events_tenant` index.
pub(crate) fn old_events_of_tenant<'a>(
    tenant: &'a TenantId,
    before: OffsetDateTime,
    limit: u32,
) -> Statement<'a, 4> {
    statement!(
        "SELECT e.id FROM events e WHERE e.tenant_id = $4 AND e.id < $1 \
           AND e.created_at < $2 \
           AND NOT EXISTS (SELECT 1 FROM deliveries d \
                           WHERE d.event_id = e.id AND d.status = 'pending') \
         ORDER BY e.id LIMIT $3",
        id_floor(before),
        micros(before),
        i64::from(limit),
        tenant.as_str(),
    )
}

/// The tenants with a retention of their own (`id`, `retention_seconds`).
pub(crate) fn tenant_retentions() -> Statement<'static, 0> {
    statement!(
        "SELECT id, retention_seconds FROM tenants WHERE retention_seconds IS NOT NULL \
         ORDER BY id"
    )
}

/// At most `limit` ids (`id`, oldest first) of events created before `before` that still have
/// a payload and no pending delivery. `payload_json <> ''` lets the partial index
/// `events_with_payload` skip the events already emptied.
pub(crate) fn old_payloads(before: OffsetDateTime, limit: u32) -> Statement<'static, 3> {
    statement!(
        "SELECT e.id FROM events e WHERE e.id < $1 AND e.payload_json <> '' \
           AND e.created_at < $2 \
           AND NOT EXISTS (SELECT 1 FROM deliveries d \
                           WHERE d.event_id = e.id AND d.status = 'pending') \
         ORDER BY e.id LIMIT $3",
        id_floor(before),
        micros(before),
        i64::from(limit),
    )
}
