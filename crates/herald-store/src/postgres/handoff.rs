//! The hand-off of `publish_and_lease` on PostgreSQL: a publish batch's own transaction
//! ([`super::group`]) leases to the publishing node what each new delivery's subscription has
//! free.
//!
//! The accounting is the claim's ([`super::claim`]), room included (`max_in_flight ×
//! lease.lease_window` leases per subscription while this node holds all of them, else
//! `max_in_flight`: [`crate::claiming::window_cap`]): the subscriptions are locked `FOR NO KEY
//! UPDATE` (in id order) before their in-flight counts are read, so a claim or another
//! hand-off on any node cannot count the same free places. Unlike a claim, a publish never
//! waits for that lock: `SKIP LOCKED` leaves a subscription that someone is claiming or
//! handing out right now to the normal claims (its deliveries stay unleased), so concurrent
//! publishes to one subscription do not queue behind each other's commits.

use std::collections::BTreeSet;

use sqlx::PgConnection;

use super::claim;
use crate::error::StoreError;
use crate::ids::DeliveryId;
use crate::model::Subscription;
use crate::rows::{micros, subscription_columns};
use crate::sealing::Keyring;
use crate::seam::PublishLease;

type Result<T> = std::result::Result<T, StoreError>;

/// What a batch hands out: the ids of the deliveries to insert leased, and the subscriptions
/// it locked (those of the jobs among them, as locked, so the jobs need no read of their own).
#[derive(Default)]
pub(super) struct HandOff<'d> {
    pub(super) chosen: Vec<&'d str>,
    pub(super) subscriptions: Vec<Subscription>,
}

/// Locks the subscriptions a hand-off may lease for (`$which`, by `$1`), in id order, and
/// reads them.
macro_rules! lock_free {
    ($which:literal) => {
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE ",
            $which,
            " AND status = 'active' \
               AND rate_limit_per_second IS NULL AND url <> 'relay:' \
             ORDER BY id FOR NO KEY UPDATE SKIP LOCKED"
        )
    };
}

/// The lock of one subscription, the common case: PostgreSQL plans it once per connection, and
/// the statement with an array of ids afresh on every publish batch (as
/// [`claim::capacities`]).
const LOCK_FREE_ONE: &str = lock_free!("id = $1");
const LOCK_FREE: &str = lock_free!("id = ANY($1)");

/// The new deliveries (`(id, subscription id)`) to hand out: those of open subscriptions
/// that no one else is claiming or handing out right now, up to each one's free room. Relay
/// subscriptions are left to claims, which check that this node holds their listener.
pub(super) async fn choose<'d>(
    conn: &mut PgConnection,
    keyring: &Keyring,
    node_id: &str,
    created: &'d [(DeliveryId, String)],
    lease: &PublishLease,
) -> Result<HandOff<'d>> {
    if created.is_empty() {
        return Ok(HandOff::default());
    }
    let wanted: BTreeSet<&str> = created.iter().map(|(_, s)| s.as_str()).collect();
    let wanted: Vec<&str> = wanted.into_iter().collect();
    let query = match wanted.as_slice() {
        [one] => sqlx::query(LOCK_FREE_ONE).bind(*one),
        _ => sqlx::query(LOCK_FREE).bind(&wanted),
    };
    let locked = query.fetch_all(&mut *conn).await?;
    if locked.is_empty() {
        return Ok(HandOff::default());
    }
    let subscriptions = claim::locked_subscriptions(&locked, keyring)?;
    drop(locked);
    let mut capacities =
        claim::capacities(conn, &subscriptions, micros(lease.now), node_id).await?;
    let mut chosen = Vec::new();
    for (id, subscription_id) in created {
        if let Some(capacity) = capacities.get_mut(subscription_id)
            && capacity.in_flight < capacity.lease_cap(lease.lease_window)
        {
            capacity.in_flight += 1;
            chosen.push(id.as_str());
        }
    }
    Ok(HandOff {
        chosen,
        subscriptions,
    })
}
