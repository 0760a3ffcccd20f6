//! Which subscriptions may take a publish's deliveries straight away (SQLite side of
//! `DeliveryQueue::publish_and_lease`).
//!
//! It runs on the writer's connection inside the publish batch's transaction, and every claim
//! runs on that same connection, so no claim interleaves between this count and the inserts
//! that lease: the room read here is exactly the room `claim_due` would compute. The count is
//! read once per batch; the room it leaves (`max_in_flight × lease_window` minus it) is
//! worked out per event in [`take`], which has the event's lease and so its window.

use std::collections::{BTreeSet, HashMap};

use rusqlite::Connection;

use super::run;
use time::OffsetDateTime;

use crate::claiming::lease_cap;
use crate::error::StoreError;
use crate::ids::DeliveryId;
use crate::model::{Delivery, DeliveryJob, DeliveryStatus, Event, Subscription};
use crate::rows::{self, micros, subscription_columns, to_json};
use crate::sealing::Keyring;
use crate::seam::PublishLease;
use crate::statements::statement;

type Result<T> = std::result::Result<T, StoreError>;

/// An open subscription and how many of its deliveries are in flight (this batch's hand-outs
/// included).
pub(super) struct Open {
    subscription: Subscription,
    in_flight: i64,
}

/// The active, unthrottled subscriptions among `ids` (relay ones excepted: only a node
/// holding their listener may take their deliveries, and only a claim checks that), with what they have in flight at `now`
/// (leases ending after `now` count as in flight, as in `claim_due`). Full ones are kept too:
/// whether one has room depends on the window of the lease [`take`] is given.
pub(super) fn open_subscriptions(
    conn: &Connection,
    keyring: &Keyring,
    ids: &BTreeSet<&str>,
    now: OffsetDateTime,
) -> Result<HashMap<String, Open>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let open_with_count = statement!(
        concat!(
            "SELECT ",
            subscription_columns!(),
            ", (SELECT count(*) FROM deliveries l INDEXED BY deliveries_leased_subscription \
               WHERE l.subscription_id = s.id AND l.lease_until IS NOT NULL \
                 AND l.lease_until > $2) AS in_flight \
             FROM subscriptions s WHERE s.id IN (SELECT value FROM json_each($1)) \
               AND s.status = 'active' AND s.rate_limit_per_second IS NULL \
               AND s.url <> 'relay:'"
        ),
        to_json(ids)?,
        micros(now),
    );
    let found = run::all(conn, &open_with_count, |row| {
        Ok((
            rows::subscription(row, keyring)?,
            rows::get::<i64>(row, "in_flight")?,
        ))
    })?;
    let mut open = HashMap::with_capacity(found.len());
    for (subscription, in_flight) in found {
        open.insert(
            subscription.id.to_string(),
            Open {
                subscription,
                in_flight,
            },
        );
    }
    Ok(open)
}

/// Takes one place of `subscription_id` for a delivery of `event`, if it has one under
/// `max_in_flight × lease.lease_window`: the job to hand out (the caller inserts the delivery
/// leased until `lease.lease_until`).
pub(super) fn take(
    open: &mut HashMap<String, Open>,
    subscription_id: &str,
    id: &DeliveryId,
    event: &Event,
    lease: &PublishLease,
) -> Option<DeliveryJob> {
    let entry = open.get_mut(subscription_id)?;
    // A full subscription keeps its entry, so later events in the batch find it so.
    if entry.in_flight >= lease_cap(entry.subscription.max_in_flight, lease.lease_window) {
        return None;
    }
    entry.in_flight += 1;
    Some(DeliveryJob {
        delivery: new_delivery(id.clone(), event, &entry.subscription),
        event: event.clone(),
        subscription: entry.subscription.clone(),
        not_before: lease.now,
    })
}

/// The delivery row `publish_batch` inserts, as the model type.
fn new_delivery(id: DeliveryId, event: &Event, subscription: &Subscription) -> Delivery {
    Delivery {
        id,
        event_id: event.id.clone(),
        subscription_id: subscription.id.clone(),
        tenant_id: subscription.tenant_id.clone(),
        event_type: event.event_type.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        scheduled_attempts: 0,
        next_attempt_at: Some(event.created_at),
        created_at: event.created_at,
        updated_at: event.created_at,
    }
}
