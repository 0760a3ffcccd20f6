//! Claiming due deliveries on PostgreSQL, where several nodes claim from one database at once.
//!
//! One transaction per claim, in four steps:
//! 1. lock every active subscription with due, unleased work (`FOR NO KEY UPDATE`, in id
//!    order): this serialises the accounting per subscription across nodes. `SKIP LOCKED` on
//!    deliveries alone would not: two nodes could each count "2 free places" for one
//!    subscription and lease 2 each. Id order means two claims never wait on each other in a
//!    cycle; `NO KEY` means a `publish` inserting deliveries (whose foreign key takes `KEY
//!    SHARE` on the subscription) is never blocked by a claim;
//! 2. with those locks held, read each one's in-flight count (unexpired leases, whoever holds
//!    them) and next free rate slot in a fresh snapshot, and turn them into caps
//!    ([`crate::claiming`]);
//! 3. lease, in one statement, each subscription's first due deliveries up to its cap (fresh
//!    before retries, oldest due first, `FOR UPDATE SKIP LOCKED` so a row being completed or
//!    leased by hand is passed over rather than waited for), at most `claim.limit` in all;
//! 4. move the rate-limited subscriptions' next free slots on, and read the jobs' events and
//!    subscriptions (still locked, so consistent with the claim).

use std::collections::{BTreeMap, HashMap};

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::{catalog, events};
use crate::claiming::Capacity;
use crate::error::StoreError;
use crate::ids::{DeliveryId, EventId, SubscriptionId};
use crate::model::*;
use crate::rows::{self, from_micros, micros};

type Result<T> = std::result::Result<T, StoreError>;

/// The due, unleased deliveries of one kind (`attempts = 0` fresh, `attempts > 0` retries) of
/// the subscription `caps.subscription_id`, at most its cap, walking that kind's partial index.
fn due_of_kind(kind: &str, retry: u8) -> String {
    format!(
        "SELECT k.id, caps.subscription_id, {retry} AS retry, k.next_attempt_at \
         FROM caps CROSS JOIN LATERAL ( \
           SELECT d.id, d.next_attempt_at FROM deliveries d \
           WHERE d.subscription_id = caps.subscription_id AND d.status = 'pending' \
             AND d.{kind} AND d.next_attempt_at <= $3 \
             AND (d.lease_until IS NULL OR d.lease_until <= $3) \
           ORDER BY d.next_attempt_at, d.id LIMIT caps.cap \
           FOR UPDATE SKIP LOCKED) k"
    )
}

/// Runs inside the caller's transaction; see the module documentation.
pub(super) async fn claim_due(conn: &mut PgConnection, claim: &Claim) -> Result<Vec<DeliveryJob>> {
    let now = micros(claim.now);
    // Scalar subqueries with LIMIT 1, not EXISTS: PostgreSQL turns two OR-ed EXISTS into a
    // hashed subplan that reads every due delivery; these stay one index probe per
    // subscription (its first due row of each kind), however large the backlog.
    let due = |kind: &str| {
        format!(
            "(SELECT 1 FROM deliveries x WHERE x.subscription_id = s.id \
               AND x.status = 'pending' AND x.{kind} AND x.next_attempt_at <= $1 \
               AND (x.lease_until IS NULL OR x.lease_until <= $1) LIMIT 1) IS NOT NULL"
        )
    };
    let lock = format!(
        "SELECT s.id FROM subscriptions s WHERE s.status = 'active' AND ({} OR {}) \
         ORDER BY s.id FOR NO KEY UPDATE OF s",
        due("attempts = 0"),
        due("attempts > 0"),
    );
    let locked: Vec<String> = sqlx::query_scalar(&lock)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    if locked.is_empty() || claim.limit == 0 {
        return Ok(Vec::new());
    }

    let capacities = capacities(conn, &locked, now).await?;
    let (capped, caps): (Vec<&str>, Vec<i64>) = capacities
        .iter()
        .map(|(id, capacity)| (id.as_str(), i64::from(capacity.room(claim))))
        .filter(|&(_, cap)| cap > 0)
        .unzip();
    if capped.is_empty() {
        return Ok(Vec::new());
    }

    let sql = format!(
        "WITH caps AS ( \
           SELECT * FROM unnest($1::text[], $2::int8[]) AS c (subscription_id, cap)), \
         due AS ({fresh} UNION ALL {retries}), \
         ranked AS ( \
           SELECT due.*, row_number() OVER (PARTITION BY due.subscription_id \
                                            ORDER BY retry, next_attempt_at, id) AS rank \
           FROM due), \
         chosen AS ( \
           SELECT ranked.id FROM ranked JOIN caps USING (subscription_id) \
           WHERE ranked.rank <= caps.cap \
           ORDER BY ranked.retry, ranked.next_attempt_at, ranked.id LIMIT $4) \
         UPDATE deliveries SET lease_until = $5 WHERE id IN (SELECT id FROM chosen) \
         RETURNING {columns}",
        fresh = due_of_kind("attempts = 0", 0),
        retries = due_of_kind("attempts > 0", 1),
        columns = rows::DELIVERY_COLUMNS,
    );
    let claimed = sqlx::query(&sql)
        .bind(&capped)
        .bind(&caps)
        .bind(now)
        .bind(i64::from(claim.limit))
        .bind(micros(claim.lease_until))
        .fetch_all(&mut *conn)
        .await?;
    let mut deliveries = claimed
        .iter()
        .map(rows::delivery)
        .collect::<Result<Vec<_>>>()?;
    // RETURNING comes in no particular order; hand work out in the order it was chosen.
    deliveries.sort_by(|a, b| {
        (a.attempts > 0, a.next_attempt_at, &a.id).cmp(&(b.attempts > 0, b.next_attempt_at, &b.id))
    });

    let not_before = assign_slots(conn, claim, &capacities, &deliveries).await?;
    let mut jobs = jobs(conn, deliveries, claim.now).await?;
    for job in &mut jobs {
        if let Some(slot) = not_before.get(&job.delivery.id) {
            job.not_before = *slot;
        }
    }
    Ok(jobs)
}

/// The locked subscriptions' in-flight counts and rate state, read after the locks were
/// granted, so that whatever a claim before us committed is counted.
pub(super) async fn capacities(
    conn: &mut PgConnection,
    locked: &[String],
    now: i64,
) -> Result<BTreeMap<String, Capacity>> {
    let found: Vec<(String, i64, Option<i64>, i64, i64)> = sqlx::query_as(
        "SELECT s.id, s.max_in_flight, s.rate_limit_per_second, s.rate_next_slot_us, \
           (SELECT count(*) FROM deliveries l WHERE l.subscription_id = s.id \
              AND l.lease_until IS NOT NULL AND l.lease_until > $2) \
         FROM subscriptions s WHERE s.id = ANY($1)",
    )
    .bind(locked)
    .bind(now)
    .fetch_all(conn)
    .await?;
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
            Ok((id, capacity))
        })
        .collect()
}

/// Gives each claimed delivery its send slot and moves the subscriptions' next free slots on
/// (one statement for all of them).
async fn assign_slots(
    conn: &mut PgConnection,
    claim: &Claim,
    capacities: &BTreeMap<String, Capacity>,
    deliveries: &[Delivery],
) -> Result<HashMap<DeliveryId, OffsetDateTime>> {
    let mut by_subscription: BTreeMap<&str, Vec<&DeliveryId>> = BTreeMap::new();
    for delivery in deliveries {
        by_subscription
            .entry(delivery.subscription_id.as_str())
            .or_default()
            .push(&delivery.id);
    }
    let mut not_before = HashMap::with_capacity(deliveries.len());
    let mut moved: (Vec<&str>, Vec<i64>) = (Vec::new(), Vec::new());
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
            moved.0.push(subscription_id);
            moved.1.push(next);
        }
    }
    if !moved.0.is_empty() {
        sqlx::query(
            "UPDATE subscriptions s SET rate_next_slot_us = m.next \
             FROM unnest($1::text[], $2::int8[]) AS m (id, next) WHERE s.id = m.id",
        )
        .bind(&moved.0)
        .bind(&moved.1)
        .execute(conn)
        .await?;
    }
    Ok(not_before)
}

/// Completes deliveries with their events and subscriptions (two queries in all). `now` is
/// every job's `not_before` until a claim sets its slot.
pub(super) async fn jobs(
    conn: &mut PgConnection,
    deliveries: Vec<Delivery>,
    now: OffsetDateTime,
) -> Result<Vec<DeliveryJob>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let mut event_ids: Vec<&str> = deliveries.iter().map(|d| d.event_id.as_str()).collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    let mut subscription_ids: Vec<&str> = deliveries
        .iter()
        .map(|d| d.subscription_id.as_str())
        .collect();
    subscription_ids.sort_unstable();
    subscription_ids.dedup();
    let events: HashMap<EventId, Event> = events::get_events(conn, &event_ids)
        .await?
        .into_iter()
        .map(|event| (event.id.clone(), event))
        .collect();
    let subscriptions: HashMap<SubscriptionId, Subscription> =
        catalog::get_subscriptions(conn, &subscription_ids)
            .await?
            .into_iter()
            .map(|subscription| (subscription.id.clone(), subscription))
            .collect();
    deliveries
        .into_iter()
        .map(|delivery| {
            // The deliveries are locked by this transaction, so their event and subscription
            // cannot have been deleted; absence would be a broken foreign key.
            let event = events.get(&delivery.event_id).cloned();
            let subscription = subscriptions.get(&delivery.subscription_id).cloned();
            match (event, subscription) {
                (Some(event), Some(subscription)) => Ok(DeliveryJob {
                    delivery,
                    event,
                    subscription,
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

/// Runs inside the caller's transaction.
pub(super) async fn lease_delivery(
    conn: &mut PgConnection,
    id: &DeliveryId,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<DeliveryJob>> {
    // FOR UPDATE: two redeliveries of one delivery at once must not both see it free.
    let lease: Option<Option<i64>> =
        sqlx::query_scalar("SELECT lease_until FROM deliveries WHERE id = $1 FOR UPDATE")
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(lease) = lease else {
        return Ok(None);
    };
    if let Some(held_until) = lease.filter(|&until| until > micros(now)) {
        let until = from_micros(held_until, "lease_until")?;
        return Err(StoreError::Conflict(format!(
            "delivery {id} is being attempted (leased until {until})"
        )));
    }
    let sql = format!(
        "UPDATE deliveries SET lease_until = $1 WHERE id = $2 RETURNING {}",
        rows::DELIVERY_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(micros(lease_until))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(delivery) = row.as_ref().map(rows::delivery).transpose()? else {
        return Ok(None);
    };
    Ok(jobs(conn, vec![delivery], now).await?.pop())
}
