//! Retention's shared statement: which events are old enough to go. Deleting them (with the
//! deliveries and attempts that cascade) binds a list of ids, which each dialect says its own
//! way, so that lives in the backends' `retention` modules.

use time::OffsetDateTime;

use super::{Statement, statement};
use crate::ids::EventId;
use crate::rows::micros;

/// The smallest event id of `time`'s millisecond: ids are UUIDv7, so every event made before
/// `time` has a smaller id. Bounding the scan by id walks the primary key, oldest first,
/// instead of reading the whole table for `created_at`.
fn id_floor(time: OffsetDateTime) -> String {
    let millis = (time.unix_timestamp_nanos() / 1_000_000).clamp(0, (1 << 48) - 1);
    format!("{}{millis:012x}{}", EventId::PREFIX, "0".repeat(20))
}

/// At most `limit` ids (`id`, oldest first) of events created before `before` with no pending
/// delivery. (The id bound is only the index's way in; `created_at` decides.)
pub(crate) fn old_events(before: OffsetDateTime, limit: u32) -> Statement<'static, 3> {
    statement!(
        "SELECT e.id FROM events e WHERE e.id < $1 AND e.created_at < $2 \
           AND NOT EXISTS (SELECT 1 FROM deliveries d \
                           WHERE d.event_id = e.id AND d.status = 'pending') \
         ORDER BY e.id LIMIT $3",
        id_floor(before),
        micros(before),
        i64::from(limit),
    )
}
