//! The dispatcher's side: claiming due deliveries under leases, and recording attempts.
//!
//! `claim_due` reads, per active subscription with due work, what the database says it has in
//! flight (deliveries holding an unexpired lease, whoever leased them) and its next free rate
//! slot; [`crate::claiming`] turns that into a cap per subscription. Each capped
//! subscription's first due deliveries, at most its cap, are then read from partial indexes
//! (fresh ones before retries, then oldest due first), and the first of them all are leased,
//! so one subscription's backlog can neither exceed its limits nor crowd out fresh
//! deliveries. Finally the subscriptions' next free slots move on. (One ranking `UPDATE`
//! did this before; it read up to the claim's whole limit per subscription, however small the
//! cap, and was most of the writer's time under load.) All of it runs
//! synchronously on the writer thread's `rusqlite::Connection` (cached statements) inside one
//! transaction, so no other claim interleaves and the lease is committed before the dispatcher
//! hears about the delivery. The read-only questions (`next_due_at`, `queue_stats`) are async,
//! on a sqlx read-pool connection.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, params};
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use super::events;
use crate::claiming::Capacity;
use crate::error::StoreError;
use crate::ids::{DeliveryId, EventId, SubscriptionId};
use crate::model::*;
use crate::rows::{self, from_micros, micros, to_json};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn claim_due(conn: &Connection, claim: &Claim) -> Result<Vec<DeliveryJob>> {
    let capacities = capacities(conn, claim.now)?;
    let caps: BTreeMap<&str, u32> = capacities
        .iter()
        .map(|(id, capacity)| (id.as_str(), capacity.room(claim)))
        .filter(|&(_, room)| room > 0)
        .collect();
    if caps.is_empty() || claim.limit == 0 {
        return Ok(Vec::new());
    }
    let chosen = choose(conn, claim, &caps)?;
    let deliveries = lease(conn, claim, &chosen)?;
    let not_before = assign_slots(conn, claim, &capacities, &deliveries)?;
    let mut jobs = jobs(conn, deliveries, claim.now)?;
    for job in &mut jobs {
        if let Some(slot) = not_before.get(&job.delivery.id) {
            job.not_before = *slot;
        }
    }
    Ok(jobs)
}

/// A due delivery picked for a claim, in the order claims hand work out: fresh deliveries
/// before retries, then oldest due first.
type Chosen = (bool, i64, String);

/// Picks what to lease: for each subscription with room, its first due, unleased fresh
/// deliveries, then retries, up to its cap, each kind read from its partial index (an index
/// range per subscription: a backlog is never scanned whole, and a subscription without room
/// is not read at all); then the first `claim.limit` of them all.
fn choose(conn: &Connection, claim: &Claim, caps: &BTreeMap<&str, u32>) -> Result<Vec<Chosen>> {
    let mut chosen = Vec::new();
    for (&subscription_id, &cap) in caps {
        let mut room = cap;
        for (retry, index) in [(false, "deliveries_fresh"), (true, "deliveries_retry")] {
            if room == 0 {
                break;
            }
            let kind = if retry {
                "attempts > 0"
            } else {
                "attempts = 0"
            };
            let sql = format!(
                "SELECT id, next_attempt_at FROM deliveries INDEXED BY {index} \
                 WHERE subscription_id = ?1 AND status = 'pending' AND {kind} \
                   AND next_attempt_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2) \
                 ORDER BY next_attempt_at, id LIMIT ?3"
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let mut due =
                statement.query(params![subscription_id, micros(claim.now), i64::from(room)])?;
            while let Some(row) = due.next()? {
                chosen.push((retry, row.get(1)?, row.get(0)?));
                room -= 1;
            }
        }
    }
    chosen.sort_unstable();
    chosen.truncate(usize::try_from(claim.limit).unwrap_or(usize::MAX));
    Ok(chosen)
}

/// Leases the chosen deliveries until `claim.lease_until`, in order, and reads them back.
fn lease(conn: &Connection, claim: &Claim, chosen: &[Chosen]) -> Result<Vec<Delivery>> {
    let sql = format!(
        "UPDATE deliveries SET lease_until = ?1 WHERE id = ?2 RETURNING {}",
        rows::DELIVERY_COLUMNS
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let lease_until = micros(claim.lease_until);
    let mut deliveries = Vec::with_capacity(chosen.len());
    for (_, _, id) in chosen {
        let mut leased = statement.query(params![lease_until, id])?;
        // Read to the end: the UPDATE is only complete once RETURNING has run out.
        while let Some(row) = leased.next()? {
            deliveries.push(rows::delivery(row)?);
        }
    }
    Ok(deliveries)
}

/// Each active subscription with due, unleased work, with its in-flight count at `now` and
/// its rate state. Subscriptions without due work cannot get any and are not read.
fn capacities(conn: &Connection, now: OffsetDateTime) -> Result<HashMap<SubscriptionId, Capacity>> {
    let due = |kind: &str| {
        format!(
            "EXISTS (SELECT 1 FROM deliveries x WHERE x.subscription_id = s.id \
               AND x.status = 'pending' AND x.{kind} AND x.next_attempt_at <= ?1 \
               AND (x.lease_until IS NULL OR x.lease_until <= ?1))"
        )
    };
    let sql = format!(
        "SELECT s.id, s.max_in_flight, s.rate_limit_per_second, s.rate_next_slot_us, \
           (SELECT count(*) FROM deliveries l INDEXED BY deliveries_leased_subscription \
            WHERE l.subscription_id = s.id AND l.lease_until IS NOT NULL \
              AND l.lease_until > ?1) AS in_flight \
         FROM subscriptions s WHERE s.status = 'active' AND ({} OR {})",
        due("attempts = 0"),
        due("attempts > 0"),
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let found: Vec<(String, i64, Option<i64>, i64, i64)> = stmt
        .query_map(params![micros(now)], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    found
        .into_iter()
        .map(|(id, max_in_flight, rate, next_slot_us, in_flight)| {
            let capacity = Capacity {
                max_in_flight: u32::try_from(max_in_flight).map_err(|_| {
                    StoreError::Corrupt(format!("max_in_flight {max_in_flight} of {id}"))
                })?,
                in_flight,
                rate_limit_per_second: rate
                    .map(u32::try_from)
                    .transpose()
                    .map_err(|_| StoreError::Corrupt(format!("rate limit of {id}")))?,
                next_slot_us,
            };
            Ok((SubscriptionId::from_trusted(id), capacity))
        })
        .collect()
}

/// Gives each claimed delivery its send slot and moves its subscription's next free slot on.
fn assign_slots(
    conn: &Connection,
    claim: &Claim,
    capacities: &HashMap<SubscriptionId, Capacity>,
    deliveries: &[Delivery],
) -> Result<HashMap<DeliveryId, OffsetDateTime>> {
    let mut by_subscription: BTreeMap<&SubscriptionId, Vec<&DeliveryId>> = BTreeMap::new();
    for delivery in deliveries {
        by_subscription
            .entry(&delivery.subscription_id)
            .or_default()
            .push(&delivery.id);
    }
    let mut not_before = HashMap::with_capacity(deliveries.len());
    let mut advance =
        conn.prepare_cached("UPDATE subscriptions SET rate_next_slot_us = ? WHERE id = ?")?;
    for (subscription_id, ids) in by_subscription {
        let Some(capacity) = capacities.get(subscription_id) else {
            return Err(StoreError::Corrupt(format!(
                "claimed a delivery of {subscription_id}, which had no capacity"
            )));
        };
        let slots = capacity.slots(claim, ids.len());
        for (id, slot) in ids.into_iter().zip(slots.not_before) {
            not_before.insert(id.clone(), slot);
        }
        if let Some(next) = slots.next_slot_us {
            advance.execute(params![next, subscription_id.as_str()])?;
        }
    }
    Ok(not_before)
}

/// Completes deliveries with their events and subscriptions: one query for all the events
/// and one for all the subscriptions, whatever the batch size (the ids go in as one JSON
/// array), so a claim's cost does not grow by two statement executions per delivery.
pub(super) fn jobs(
    conn: &Connection,
    deliveries: Vec<Delivery>,
    now: OffsetDateTime,
) -> Result<Vec<DeliveryJob>> {
    let event_ids: BTreeSet<&str> = deliveries.iter().map(|d| d.event_id.as_str()).collect();
    let subscription_ids: BTreeSet<&str> = deliveries
        .iter()
        .map(|d| d.subscription_id.as_str())
        .collect();
    let events = events_by_id(conn, &event_ids)?;
    let subscriptions = subscriptions_by_id(conn, &subscription_ids)?;
    deliveries
        .into_iter()
        .map(|delivery| {
            // Rows cannot vanish inside the transaction (foreign keys cascade); absence is corruption.
            let event = events.get(&delivery.event_id).cloned();
            let subscription = subscriptions.get(&delivery.subscription_id).cloned();
            match (event, subscription) {
                (Some(event), Some(subscription)) => Ok(DeliveryJob {
                    delivery,
                    event,
                    subscription,
                    // Claims overwrite it with the delivery's slot; manual leases send now.
                    not_before: now,
                }),
                _ => Err(StoreError::Corrupt(format!(
                    "delivery {} lost its event or subscription",
                    delivery.id
                ))),
            }
        })
        .collect()
}

/// The events with these ids, by id, in one statement.
fn events_by_id(conn: &Connection, ids: &BTreeSet<&str>) -> Result<BTreeMap<EventId, Event>> {
    let sql = format!(
        "SELECT {} FROM events WHERE id IN (SELECT value FROM json_each(?))",
        rows::EVENT_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found = stmt.query(params![to_json(ids)?])?;
    let mut events = BTreeMap::new();
    while let Some(row) = found.next()? {
        let event = rows::event(row)?;
        events.insert(event.id.clone(), event);
    }
    Ok(events)
}

/// The subscriptions with these ids, by id, in one statement.
fn subscriptions_by_id(
    conn: &Connection,
    ids: &BTreeSet<&str>,
) -> Result<BTreeMap<SubscriptionId, Subscription>> {
    let sql = format!(
        "SELECT {} FROM subscriptions WHERE id IN (SELECT value FROM json_each(?))",
        rows::SUBSCRIPTION_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found = stmt.query(params![to_json(ids)?])?;
    let mut subscriptions = BTreeMap::new();
    while let Some(row) = found.next()? {
        let subscription = rows::subscription(row)?;
        subscriptions.insert(subscription.id.clone(), subscription);
    }
    Ok(subscriptions)
}

pub(super) fn lease_delivery(
    conn: &Connection,
    id: &DeliveryId,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<DeliveryJob>> {
    let lease: Option<Option<i64>> = conn
        .prepare_cached("SELECT lease_until FROM deliveries WHERE id = ?")?
        .query_row(params![id.as_str()], |row| row.get(0))
        .optional()?;
    let Some(lease) = lease else {
        return Ok(None);
    };
    if let Some(held_until) = lease.filter(|&until| until > micros(now)) {
        let until = from_micros(held_until, "lease_until")?;
        return Err(StoreError::Conflict(format!(
            "delivery {id} is being attempted (leased until {until})"
        )));
    }
    conn.prepare_cached("UPDATE deliveries SET lease_until = ? WHERE id = ?")?
        .execute(params![micros(lease_until), id.as_str()])?;
    let Some(delivery) = events::delivery_on(conn, id.as_str())? else {
        return Ok(None);
    };
    Ok(jobs(conn, vec![delivery], now)?.pop())
}

pub(super) fn complete_attempt(
    conn: &Connection,
    attempt: &Attempt,
    progress: &DeliveryProgress,
    now: OffsetDateTime,
) -> Result<()> {
    let updated = conn
        .prepare_cached(
            "UPDATE deliveries SET attempts = attempts + 1, \
             scheduled_attempts = scheduled_attempts + ?, status = ?, next_attempt_at = ?, \
             lease_until = NULL, updated_at = ? WHERE id = ?",
        )?
        .execute(params![
            i64::from(progress.counts_for_schedule),
            progress.status.as_str(),
            progress.next_attempt_at.map(micros),
            micros(now),
            attempt.delivery_id.as_str(),
        ])?;
    if updated == 0 {
        // The delivery was deleted (with its subscription or tenant) while the request was in
        // flight: there is nothing left to record the attempt against.
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, response_status, \
         response_body, error, error_message, triggered_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        attempt.id.as_str(),
        attempt.delivery_id.as_str(),
        micros(attempt.started_at),
        // Durations past i64::MAX milliseconds (292 million years) are clamped, not refused.
        i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
        attempt.response_status.map(i64::from),
        attempt.response_body.as_deref(),
        attempt.error.map(AttemptError::as_str),
        attempt.error_message.as_deref(),
        attempt.trigger.as_str(),
    ])?;
    Ok(())
}

pub(super) async fn next_due_at(conn: &mut SqliteConnection) -> Result<Option<OffsetDateTime>> {
    // Unleased rows walk the pending rows' index by due time; leased rows (few: the ones in
    // flight) become claimable when their lease ends, if that is later than their due time.
    let unleased: Option<i64> = sqlx::query_scalar(
        "SELECT d.next_attempt_at FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE d.status = 'pending' AND d.next_attempt_at IS NOT NULL AND d.lease_until IS NULL \
           AND s.status = 'active' \
         ORDER BY d.next_attempt_at LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let leased: Option<i64> = sqlx::query_scalar(
        "SELECT min(max(d.next_attempt_at, d.lease_until)) \
         FROM deliveries d INDEXED BY deliveries_leased_subscription \
         JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE d.lease_until IS NOT NULL AND d.status = 'pending' AND d.next_attempt_at IS NOT NULL \
           AND s.status = 'active'",
    )
    .fetch_one(conn)
    .await?;
    let earliest = match (unleased, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    earliest
        .map(|at| from_micros(at, "next_attempt_at"))
        .transpose()
}

pub(super) fn release_all_leases(conn: &Connection) -> Result<u64> {
    let released = conn
        .prepare_cached("UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL")?
        .execute([])?;
    // A count of rows always fits: usize is at most 64 bits on every target we build for.
    Ok(u64::try_from(released).unwrap_or(u64::MAX))
}

pub(super) async fn queue_stats(conn: &mut SqliteConnection) -> Result<QueueStats> {
    // Two statements, each answered by a walk of the partial index of pending rows alone
    // (it covers created_at), never by reading the rows.
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM deliveries INDEXED BY deliveries_pending \
         WHERE status = 'pending'",
    )
    .fetch_one(&mut *conn)
    .await?;
    let oldest: Option<i64> = sqlx::query_scalar(
        "SELECT min(created_at) FROM deliveries INDEXED BY deliveries_pending \
         WHERE status = 'pending'",
    )
    .fetch_one(conn)
    .await?;
    Ok(QueueStats {
        pending: u64::try_from(pending).unwrap_or(0),
        oldest_pending_created_at: oldest.map(|at| from_micros(at, "created_at")).transpose()?,
    })
}
