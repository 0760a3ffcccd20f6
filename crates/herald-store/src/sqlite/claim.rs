//! Claiming due deliveries on SQLite.
//!
//! `claim_due` reads, per active subscription with due work, what the database says it has in
//! flight (deliveries holding an unexpired lease, whoever leased them) and its next free rate
//! slot; [`crate::claiming`] turns that into a cap per subscription. Each capped
//! subscription's first due deliveries, at most its cap, are then read from partial indexes
//! (fresh ones before retries, then oldest due first), and the first of them all are leased,
//! so one subscription's backlog can neither exceed its limits nor crowd out fresh
//! deliveries. Finally the subscriptions' next free slots move on. (One ranking `UPDATE`
//! did this before; it read up to the claim's whole limit per subscription, however small the
//! cap, and was most of the writer's time under load.) All of it runs on the writer thread's
//! connection (cached statements) inside one transaction, so no other claim interleaves and
//! the lease is committed before the dispatcher hears about the delivery. Every statement
//! here is SQLite's own (`INDEXED BY`, one writer instead of row locks); the one lease
//! statement is shared with PostgreSQL.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::{queue, run};
use crate::claiming::{self, Capacity};
use crate::error::StoreError;
use crate::model::*;
use crate::rows::{self, micros};
use crate::sealing::Keyring;
use crate::statements::{queue as sql, statement};

type Result<T> = std::result::Result<T, StoreError>;

/// Runs on the writer's connection, inside its transaction; see the module documentation.
pub(super) fn claim_due(
    conn: &Connection,
    keyring: &Keyring,
    claim: &Claim,
    node_id: &str,
) -> Result<Vec<DeliveryJob>> {
    let capacities = capacities(conn, claim.now, node_id)?;
    let caps: BTreeMap<&str, u32> = capacities
        .iter()
        .map(|(id, capacity)| (id.as_str(), capacity.room(claim, id)))
        .filter(|&(_, room)| room > 0)
        .collect();
    if caps.is_empty() || claim.limit == 0 {
        return Ok(Vec::new());
    }
    let chosen = choose(conn, claim, &caps)?;
    let deliveries = lease(conn, claim, &chosen)?;
    let claiming::Assigned {
        not_before,
        next_slots,
    } = claiming::assign_slots(claim, &capacities, &deliveries)?;
    for (subscription_id, next) in next_slots {
        let advance = statement!(
            "UPDATE subscriptions SET rate_next_slot_us = $1 WHERE id = $2",
            next,
            subscription_id,
        );
        run::execute(conn, &advance)?;
    }
    queue::jobs(conn, keyring, deliveries, claim.now, &not_before)
}

/// A due delivery picked for a claim, in the order claims hand work out: fresh deliveries
/// before retries, then oldest due first.
type Chosen = (bool, i64, String);

/// A subscription's first due, unleased fresh deliveries (`attempts = 0`), from their partial
/// index.
const DUE_FRESH: &str = "SELECT id, next_attempt_at FROM deliveries INDEXED BY deliveries_fresh \
     WHERE subscription_id = $1 AND status = 'pending' AND attempts = 0 \
       AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
     ORDER BY next_attempt_at, id LIMIT $3";

/// [`DUE_FRESH`] for retries (`attempts > 0`).
const DUE_RETRIES: &str = "SELECT id, next_attempt_at FROM deliveries INDEXED BY deliveries_retry \
     WHERE subscription_id = $1 AND status = 'pending' AND attempts > 0 \
       AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
     ORDER BY next_attempt_at, id LIMIT $3";

/// Picks what to lease: for each subscription with room, its first due, unleased fresh
/// deliveries, then retries, up to its cap, each kind read from its partial index (an index
/// range per subscription: a backlog is never scanned whole, and a subscription without room
/// is not read at all); then the first `claim.limit` of them all.
fn choose(conn: &Connection, claim: &Claim, caps: &BTreeMap<&str, u32>) -> Result<Vec<Chosen>> {
    let mut chosen = Vec::new();
    for (&subscription_id, &cap) in caps {
        let mut room = cap;
        for (retry, sql) in [(false, DUE_FRESH), (true, DUE_RETRIES)] {
            if room == 0 {
                break;
            }
            let due = statement!(sql, subscription_id, micros(claim.now), i64::from(room));
            let found = run::all(conn, &due, |row| Ok((retry, row.get(1)?, row.get(0)?)))?;
            room = room.saturating_sub(u32::try_from(found.len()).unwrap_or(u32::MAX));
            chosen.extend(found);
        }
    }
    chosen.sort_unstable();
    chosen.truncate(usize::try_from(claim.limit).unwrap_or(usize::MAX));
    Ok(chosen)
}

/// Leases the chosen deliveries until `claim.lease_until`, in order, and reads them back.
fn lease(conn: &Connection, claim: &Claim, chosen: &[Chosen]) -> Result<Vec<Delivery>> {
    let lease_until = micros(claim.lease_until);
    let mut deliveries = Vec::with_capacity(chosen.len());
    let mut lease_one = run::Repeated::new(conn);
    for (_, _, id) in chosen {
        let leased =
            lease_one.optional(&sql::lease_one(id, lease_until), |row| rows::delivery(row))?;
        deliveries.extend(leased);
    }
    Ok(deliveries)
}

/// Each active subscription with due, unleased work, with its in-flight count at `now` and
/// its rate state (no lease is another node's: only this process uses the file). Subscriptions without due work cannot get any and are not read, and
/// neither is a relay subscription (`url = 'relay:'`) unless this node (`$2`) holds a
/// listener for it now: its deliveries wait for one (docs/relay.md).
const CAPACITIES: &str = "SELECT s.id, s.max_in_flight, s.rate_limit_per_second, \
       s.rate_next_slot_us, \
       (SELECT count(*) FROM deliveries l INDEXED BY deliveries_leased_subscription \
        WHERE l.subscription_id = s.id AND l.lease_until IS NOT NULL \
          AND l.lease_until > $1) AS in_flight, 0 AS others_in_flight \
     FROM subscriptions s WHERE s.status = 'active' \
       AND (s.url <> 'relay:' OR EXISTS (SELECT 1 FROM relay_presence p \
         WHERE p.subscription_id = s.id AND p.node_id = $2 AND p.expires_at > $1)) AND ( \
       EXISTS (SELECT 1 FROM deliveries x WHERE x.subscription_id = s.id \
         AND x.status = 'pending' AND x.attempts = 0 AND x.next_attempt_at <= $1 \
         AND (x.lease_until IS NULL OR x.lease_until <= $1)) \
       OR EXISTS (SELECT 1 FROM deliveries x WHERE x.subscription_id = s.id \
         AND x.status = 'pending' AND x.attempts > 0 AND x.next_attempt_at <= $1 \
         AND (x.lease_until IS NULL OR x.lease_until <= $1)))";

fn capacities(
    conn: &Connection,
    now: time::OffsetDateTime,
    node_id: &str,
) -> Result<BTreeMap<String, Capacity>> {
    let read = statement!(CAPACITIES, micros(now), node_id);
    Ok(run::all(conn, &read, |row| claiming::capacity(row))?
        .into_iter()
        .collect())
}
