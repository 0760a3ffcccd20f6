//! After a claim, on SQLite: leasing one delivery by hand, recording attempts, the jobs a
//! lease hands out, and what the dispatcher and the metrics ask of the queue.
//!
//! Writes run on the writer's connection inside its batch; reads (`next_due_at`,
//! `queue_stats`) on a reader's. The shared statements are [`crate::statements::queue`]'s;
//! the ones here are SQLite's own: `INDEXED BY` hints that keep the leased and the pending
//! walks on their partial indexes, and `json_each` to read many rows by id in one statement.

use std::collections::HashMap;

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::claiming;
use crate::error::StoreError;
use crate::ids::DeliveryId;
use crate::model::*;
use crate::rows::{self, event_columns, from_micros, micros, subscription_columns, to_json};
use crate::sealing::Keyring;
use crate::statements::{Statement, queue as sql, statement};

type Result<T> = std::result::Result<T, StoreError>;

/// Completes deliveries with their events and subscriptions: one statement for all the events
/// and one for all the subscriptions, whatever the batch size (the ids go in as one JSON
/// array), so a claim's cost does not grow by two statement executions per delivery.
pub(super) fn jobs(
    conn: &Connection,
    keyring: &Keyring,
    deliveries: Vec<Delivery>,
    now: OffsetDateTime,
    not_before: &HashMap<DeliveryId, OffsetDateTime>,
) -> Result<Vec<DeliveryJob>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let (event_ids, subscription_ids) = claiming::job_ids(&deliveries);
    let events = statement!(
        concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE id IN (SELECT value FROM json_each($1))"
        ),
        to_json(&event_ids)?,
    );
    let events = run::all(conn, &events, |row| rows::event(row))?;
    let subscriptions = statement!(
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE id IN (SELECT value FROM json_each($1))"
        ),
        to_json(&subscription_ids)?,
    );
    let subscriptions = run::all(conn, &subscriptions, |row| rows::subscription(row, keyring))?;
    claiming::jobs(deliveries, events, subscriptions, now, not_before)
}

pub(super) fn lease_delivery(
    conn: &Connection,
    keyring: &Keyring,
    id: &DeliveryId,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<DeliveryJob>> {
    // No row lock needed: this runs on the one writer, so nothing changes the rows meanwhile
    // (retention cannot empty the payload between this check and the job's read of it).
    let current = statement!(
        "SELECT d.lease_until, d.event_id, e.payload_json = '' AS dropped \
         FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1",
        id.as_str()
    );
    let found: Option<(Option<i64>, String, bool)> = run::optional(conn, &current, |row| {
        Ok((
            rows::get(row, "lease_until")?,
            rows::get(row, "event_id")?,
            rows::get(row, "dropped")?,
        ))
    })?;
    let Some((lease, event_id, dropped)) = found else {
        return Ok(None);
    };
    if dropped {
        return Err(StoreError::PayloadDropped(event_id));
    }
    if let Some(held_until) = lease.filter(|&until| until > micros(now)) {
        let until = from_micros(held_until, "lease_until")?;
        return Err(StoreError::Conflict(format!(
            "delivery {id} is being attempted (leased until {until})"
        )));
    }
    let leased = run::optional(
        conn,
        &sql::lease_one(id.as_str(), micros(lease_until)),
        |row| rows::delivery(row),
    )?;
    let Some(delivery) = leased else {
        return Ok(None);
    };
    Ok(jobs(conn, keyring, vec![delivery], now, &HashMap::new())?.pop())
}

pub(super) fn complete_attempt(
    conn: &Connection,
    attempt: &Attempt,
    progress: &DeliveryProgress,
    now: OffsetDateTime,
) -> Result<()> {
    let complete = sql::complete_delivery(attempt.delivery_id.as_str(), progress, now);
    if run::execute(conn, &complete)? == 0 {
        // The delivery was deleted (with its subscription or tenant) while the request was in
        // flight: there is nothing left to record the attempt against.
        return Ok(());
    }
    run::execute(conn, &sql::insert_attempt(attempt))?;
    Ok(())
}

/// Leased pending deliveries of active subscriptions become claimable when their lease ends,
/// if that is later than their due time (few rows: the ones in flight).
const NEXT_DUE_LEASED: Statement<'static, 0> = Statement {
    sql: "SELECT min(max(d.next_attempt_at, d.lease_until)) AS due \
          FROM deliveries d INDEXED BY deliveries_leased_subscription \
          JOIN subscriptions s ON s.id = d.subscription_id \
          WHERE d.lease_until IS NOT NULL AND d.status = 'pending' \
            AND d.next_attempt_at IS NOT NULL AND s.status = 'active'",
    args: [],
};

pub(super) fn next_due_at(conn: &Connection) -> Result<Option<OffsetDateTime>> {
    let unleased: Option<i64> = run::optional(conn, &sql::next_due_unleased(), |row| {
        rows::get(row, "next_attempt_at")
    })?;
    let leased: Option<i64> =
        run::optional(conn, &NEXT_DUE_LEASED, |row| rows::get(row, "due"))?.flatten();
    rows::earliest_due(unleased, leased)
}

/// `args` is `(interval, now, horizon end)` in µs (`claiming::manual_slot`).
pub(super) fn take_send_slot(
    conn: &Connection,
    subscription_id: &str,
    (interval, now, end): (i64, i64, i64),
) -> Result<Option<OffsetDateTime>> {
    let take = sql::take_send_slot(subscription_id, now, interval, end);
    let slot: Option<i64> = run::optional(conn, &take, |row| rows::get(row, "slot"))?;
    slot.map(|us| from_micros(us, "slot")).transpose()
}

pub(super) fn release_all_leases(conn: &Connection) -> Result<u64> {
    let released = run::execute(conn, &sql::release_all_leases())?;
    // A count of rows always fits: usize is at most 64 bits on every target we build for.
    Ok(u64::try_from(released).unwrap_or(u64::MAX))
}

/// Two statements, each answered by a walk of the partial index of pending rows alone (it
/// covers created_at), never by reading the rows.
pub(super) fn queue_stats(conn: &Connection) -> Result<QueueStats> {
    let count = statement!(
        "SELECT count(*) AS pending FROM deliveries INDEXED BY deliveries_pending \
         WHERE status = 'pending'"
    );
    let pending: Option<i64> = run::optional(conn, &count, |row| rows::get(row, "pending"))?;
    let oldest = statement!(
        "SELECT min(created_at) AS oldest FROM deliveries INDEXED BY deliveries_pending \
         WHERE status = 'pending'"
    );
    let oldest: Option<i64> =
        run::optional(conn, &oldest, |row| rows::get(row, "oldest"))?.flatten();
    rows::queue_stats(pending.unwrap_or(0), oldest)
}
