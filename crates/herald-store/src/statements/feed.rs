//! The attempt feed's one statement: attempts strictly between two positions, joined to their
//! delivery, filtered, oldest first. Both dialects say it alike.
//!
//! The delivery's columns come through a derived table with renamed columns, so the
//! attempt's column list (`rows::attempt_columns`) is spliced in unqualified, as everywhere
//! else; both planners flatten the derived table into a plain join on the primary key. The
//! start of the delivery's following attempt, if any (one step on the `attempts_delivery`
//! index), is what came next after an attempt read later, e.g. by a client resuming.

use super::Built;
use crate::feed::{AttemptFeedFilter, AttemptOutcome, FeedPosition};
use crate::ids::{SubscriptionId, TenantId};
use crate::rows::attempt_columns;

/// Attempts with `after < id < until` matching `filter`, oldest first, at most `limit`.
pub(crate) fn attempts_between<'a>(
    after: &'a FeedPosition,
    until: &'a FeedPosition,
    filter: &'a AttemptFeedFilter,
    limit: u32,
) -> Built<'a> {
    let mut query = Built::new(concat!(
        "SELECT ",
        attempt_columns!(),
        ", d_subscription_id, d_tenant_id, d_event_id, d_event_type, d_status, \
         d_next_attempt_at, (SELECT later.started_at FROM attempts later \
         WHERE later.delivery_id = attempts.delivery_id AND later.id > attempts.id \
         ORDER BY later.id LIMIT 1) AS following_started_at FROM attempts JOIN (SELECT id AS d_id, \
         subscription_id AS d_subscription_id, tenant_id AS d_tenant_id, \
         event_id AS d_event_id, event_type AS d_event_type, status AS d_status, \
         next_attempt_at AS d_next_attempt_at FROM deliveries) d ON d.d_id = delivery_id \
         WHERE id > "
    ));
    query
        .bind(after.as_str())
        .push(" AND id < ")
        .bind(until.as_str());
    let equal: [(&str, Option<&str>); 3] = [
        (
            " AND d_tenant_id = ",
            filter.tenant_id.as_ref().map(TenantId::as_str),
        ),
        (
            " AND d_subscription_id = ",
            filter.subscription_id.as_ref().map(SubscriptionId::as_str),
        ),
        (" AND d_event_type = ", filter.event_type.as_deref()),
    ];
    for (condition, value) in equal {
        if let Some(value) = value {
            query.push(condition).bind(value);
        }
    }
    // The same rule as `Attempt::succeeded`: no failing step and a 2xx status.
    query.push(match filter.outcome {
        None => "",
        Some(AttemptOutcome::Succeeded) => {
            " AND error IS NULL AND response_status >= 200 AND response_status < 300"
        }
        Some(AttemptOutcome::Failed) => {
            " AND (error IS NOT NULL OR response_status IS NULL OR response_status < 200 \
             OR response_status >= 300)"
        }
    });
    query
        .push(" ORDER BY id LIMIT ")
        .bind(i64::from(limit.max(1)));
    query
}
