//! The relay's statements, said alike by both dialects: a node's presence for a relay
//! subscription (heartbeat, and the stop that keeps "last seen"), the count a listener is told
//! on attaching, and the lease of deliveries nobody came for within the hold bound.
//!
//! The claim's presence filter itself lives in each backend's claim statement (one clause
//! there: a relay subscription is claimable only by a node holding its connection). Every
//! text spells [`crate::model::RELAY_URL`] out as `'relay:'` (a test holds them together).

use super::{Statement, statement};
use crate::rows::delivery_columns;

/// Records that `node_id` holds a relay connection for the subscription until `$3` (unix µs);
/// a stop records `$3 = now`, so the row keeps when a listener was last seen.
pub(crate) fn mark_present<'a>(
    subscription_id: &'a str,
    node_id: &'a str,
    until_us: i64,
) -> Statement<'a, 3> {
    statement!(
        "INSERT INTO relay_presence (subscription_id, node_id, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (subscription_id, node_id) DO UPDATE SET expires_at = excluded.expires_at",
        subscription_id,
        node_id,
        until_us,
    )
}

/// A subscription's pending deliveries (column `waiting`).
pub(crate) fn waiting(subscription_id: &str) -> Statement<'_, 1> {
    statement!(
        "SELECT count(*) AS waiting FROM deliveries WHERE subscription_id = $1 AND status = 'pending'",
        subscription_id,
    )
}

/// Leases until `$1`, at most `$4`, the pending deliveries of active relay subscriptions that
/// were created at or before `$3` (the hold bound ago) and whose subscription has had no
/// listener on any node since `$3`; oldest first. The lease condition is repeated outside the
/// subquery so a concurrent sweep on another node (PostgreSQL re-checks the outer condition on
/// a row it waited for) never leases a row twice.
pub(crate) fn lease_unattended(
    lease_until_us: i64,
    now_us: i64,
    since_us: i64,
    limit: i64,
) -> Statement<'static, 4> {
    statement!(
        concat!(
            "UPDATE deliveries SET lease_until = $1 WHERE id IN ( \
               SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id \
               WHERE s.url = 'relay:' AND s.status = 'active' AND d.status = 'pending' \
                 AND d.created_at <= $3 AND (d.lease_until IS NULL OR d.lease_until <= $2) \
                 AND NOT EXISTS (SELECT 1 FROM relay_presence p \
                   WHERE p.subscription_id = s.id AND p.expires_at > $3) \
               ORDER BY d.created_at, d.id LIMIT $4) \
             AND (lease_until IS NULL OR lease_until <= $2) RETURNING ",
            delivery_columns!()
        ),
        lease_until_us,
        now_us,
        since_us,
        limit,
    )
}

/// Forgets presences that ended at or before `$1`: past the hold bound they change nothing
/// (no delivery is held longer than the bound, whatever they say).
pub(crate) fn prune(before_us: i64) -> Statement<'static, 1> {
    statement!(
        "DELETE FROM relay_presence WHERE expires_at <= $1",
        before_us
    )
}

#[cfg(test)]
mod tests {
    /// The statements here and the claim filters of both backends spell the URL out.
    #[test]
    fn the_sql_spells_the_models_relay_url() {
        assert_eq!(crate::model::RELAY_URL, "relay:");
        assert!(
            super::lease_unattended(0, 0, 0, 0)
                .sql
                .contains("s.url = 'relay:'")
        );
    }
}
