//! Claiming due deliveries on PostgreSQL, where several nodes claim from one database at once.
//!
//! One transaction per claim, in four steps:
//! 1. lock every active subscription with due, unleased work (`FOR NO KEY UPDATE`, in id
//!    order): this serialises the accounting per subscription across nodes. `SKIP LOCKED` on
//!    deliveries alone would not: two nodes could each count "2 free places" for one
//!    subscription and lease 2 each. Id order means two claims never wait on each other in a
//!    cycle; `NO KEY` means a `publish` inserting deliveries (which locks the subscription `KEY
//!    SHARE`) is never blocked by a claim;
//! 2. with those locks held, read each one's in-flight count (unexpired leases, whoever holds
//!    them, and how many of those another node holds) and next free rate slot in a fresh
//!    snapshot, and turn them into caps ([`crate::claiming`]: a lease window only for a node
//!    that holds every lease of the subscription);
//! 3. lease, in one statement, each subscription's first due deliveries up to its cap (fresh
//!    before retries, oldest due first, `FOR UPDATE SKIP LOCKED` so a row being completed or
//!    leased by hand is passed over rather than waited for), at most `claim.limit` in all,
//!    each walk starting at this node's floor for it ([`super::floors`]);
//! 4. move the rate-limited subscriptions' next free slots on, and read the jobs' events.
//!
//! The jobs' subscriptions are the rows step 1 locked, so they cost no statement of their own.
//! Step 1's locks are held from the moment they are granted until the commit, and another
//! claim of the same subscription (this node's next one, or another node's) waits for them:
//! every round trip after step 1 is one that claim waits through too.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::Instant;

use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::floors::{Floor, Floors};
use super::{catalog, events};
use crate::claiming::{self, Capacity};
use crate::error::StoreError;
use crate::ids::DeliveryId;
use crate::model::*;
use crate::rows::{self, delivery_columns, from_micros, micros, subscription_columns};
use crate::sealing::Keyring;

type Result<T> = std::result::Result<T, StoreError>;

/// The due, unleased deliveries of one kind (`attempts = 0` fresh, `attempts > 0` retries) of
/// the subscription `caps.subscription_id`, at most its cap, walking that kind's partial index
/// from `caps.{floor}` ([`super::floors`]).
fn due_of_kind(kind: &str, retry: u8, floor: &str) -> String {
    format!(
        "SELECT k.id, caps.subscription_id, {retry} AS retry, k.next_attempt_at \
         FROM caps CROSS JOIN LATERAL ( \
           SELECT d.id, d.next_attempt_at FROM deliveries d \
           WHERE d.subscription_id = caps.subscription_id AND d.status = 'pending' \
             AND d.{kind} AND d.next_attempt_at >= caps.{floor} AND d.next_attempt_at <= $3 \
             AND (d.lease_until IS NULL OR d.lease_until <= $3) \
           ORDER BY d.next_attempt_at, d.id LIMIT caps.cap \
           FOR UPDATE SKIP LOCKED) k"
    )
}

/// Step 1: locks every active subscription with due, unleased work, in id order, and reads
/// them (the rows as locked, so the jobs' subscriptions are the ones claimed); a relay
/// subscription (`url = 'relay:'`) only if this node (`$2`) holds a listener for it now, so
/// its deliveries wait for one and go only to a node that can send them (docs/relay.md). Scalar
/// subqueries with LIMIT 1, not EXISTS: PostgreSQL turns two OR-ed EXISTS into a hashed
/// subplan that reads every due delivery; these stay one index probe per subscription (its
/// last due row of each kind), however large the backlog. From the newest end, because claims
/// lease the oldest due rows first and the index keeps a leased row until its outcome: a probe
/// from the oldest end walks past every lease being attempted (a lease window's worth of row
/// visits) before it meets free work, while the newest due row is usually free (only a
/// publish's hand-off leases the newest ones).
static LOCK_DUE: LazyLock<String> = LazyLock::new(|| {
    let due = |kind: &str| {
        format!(
            "(SELECT 1 FROM deliveries x WHERE x.subscription_id = s.id \
               AND x.status = 'pending' AND x.{kind} AND x.next_attempt_at <= $1 \
               AND (x.lease_until IS NULL OR x.lease_until <= $1) \
             ORDER BY x.next_attempt_at DESC, x.id DESC LIMIT 1) IS NOT NULL"
        )
    };
    format!(
        "SELECT {columns} FROM subscriptions s WHERE s.status = 'active' \
           AND (s.url <> 'relay:' OR EXISTS (SELECT 1 FROM relay_presence p \
             WHERE p.subscription_id = s.id AND p.node_id = $2 AND p.expires_at > $1)) \
           AND ({} OR {}) \
         ORDER BY s.id FOR NO KEY UPDATE OF s",
        due("attempts = 0"),
        due("attempts > 0"),
        columns = subscription_columns!(),
    )
});

/// Step 3: leases each capped subscription's first due deliveries up to its cap, fresh before
/// retries, at most `$4` in all, until `$5`, to node `$6`, walking from the floors `$7`
/// (fresh) and `$8` (retries).
static LEASE_CAPPED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH caps AS ( \
           SELECT * FROM unnest($1::text[], $2::int8[], $7::int8[], $8::int8[]) \
             AS c (subscription_id, cap, fresh_floor, retry_floor)), \
         due AS ({fresh} UNION ALL {retries}), \
         ranked AS ( \
           SELECT due.*, row_number() OVER (PARTITION BY due.subscription_id \
                                            ORDER BY retry, next_attempt_at, id) AS rank \
           FROM due), \
         chosen AS ( \
           SELECT ranked.id FROM ranked JOIN caps USING (subscription_id) \
           WHERE ranked.rank <= caps.cap \
           ORDER BY ranked.retry, ranked.next_attempt_at, ranked.id LIMIT $4) \
         UPDATE deliveries SET lease_until = $5, lease_node = $6 \
         WHERE id IN (SELECT id FROM chosen) \
         RETURNING {columns}",
        fresh = due_of_kind("attempts = 0", 0, "fresh_floor"),
        retries = due_of_kind("attempts > 0", 1, "retry_floor"),
        columns = delivery_columns!(),
    )
});

/// Step 3 for a single subscription (`$1`), the common claim: its first due deliveries up to
/// `$2` (its cap, or the claim's limit if lower), fresh before retries, until `$4`, to node
/// `$5`, walking from the floors `$6` (fresh) and `$7` (retries). The same choice as [`LEASE_CAPPED`] for one subscription, without the array of caps,
/// the laterals and the ranking: PostgreSQL planned that statement afresh on every claim
/// (0.35 ms a call), while this one it plans once and reuses, a plan that walks the same
/// partial indexes (docs/performance.md).
static LEASE_ONE: LazyLock<String> = LazyLock::new(|| {
    let due = |kind: &str, retry: u8, floor: &str| {
        format!(
            "SELECT * FROM (SELECT d.id, {retry} AS retry, d.next_attempt_at FROM deliveries d \
               WHERE d.subscription_id = $1 AND d.status = 'pending' AND d.{kind} \
                 AND d.next_attempt_at >= {floor} AND d.next_attempt_at <= $3 \
                 AND (d.lease_until IS NULL OR d.lease_until <= $3) \
               ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE SKIP LOCKED) k{retry}"
        )
    };
    format!(
        "UPDATE deliveries SET lease_until = $4, lease_node = $5 \
         WHERE id IN (SELECT id FROM ({fresh} UNION ALL {retries}) due \
                      ORDER BY retry, next_attempt_at, id LIMIT $2) \
         RETURNING {columns}",
        fresh = due("attempts = 0", 0, "$6"),
        retries = due("attempts > 0", 1, "$7"),
        columns = delivery_columns!(),
    )
});

/// Runs inside the caller's transaction, a group's ([`super::completions`]); see the module
/// documentation.
pub(super) async fn claim_due(
    conn: &mut PgConnection,
    keyring: &Keyring,
    claim: &Claim,
    node_id: &str,
    floors: &Floors,
) -> Result<Vec<DeliveryJob>> {
    let now = micros(claim.now);
    let locked = sqlx::query(LOCK_DUE.as_str())
        .bind(now)
        .bind(node_id)
        .fetch_all(&mut *conn)
        .await?;
    if locked.is_empty() || claim.limit == 0 {
        return Ok(Vec::new());
    }
    let subscriptions = locked_subscriptions(&locked, keyring)?;
    drop(locked);
    let capacities = capacities(conn, &subscriptions, now, node_id).await?;
    let (capped, caps): (Vec<&str>, Vec<i64>) = capacities
        .iter()
        .map(|(id, capacity)| (id.as_str(), i64::from(capacity.room(claim, id))))
        .filter(|&(_, cap)| cap > 0)
        .unzip();
    if capped.is_empty() {
        return Ok(Vec::new());
    }
    let walked_at = Instant::now();
    let floors: Vec<Floor> = capped
        .iter()
        .map(|id| floors.floor(id, walked_at))
        .collect();
    let deliveries = lease_capped(conn, claim, &capped, &caps, &floors, node_id).await?;
    let claiming::Assigned {
        not_before,
        next_slots,
    } = claiming::assign_slots(claim, &capacities, &deliveries)?;
    advance_slots(conn, &next_slots).await?;
    drop(next_slots);
    let (event_ids, _) = claiming::job_ids(&deliveries);
    let events = events::get_events(conn, &event_ids).await?;
    claiming::jobs(deliveries, events, subscriptions, claim.now, &not_before)
}

/// Step 3 ([`LEASE_ONE`] or [`LEASE_CAPPED`]): the leased deliveries, in the order they were
/// chosen.
async fn lease_capped(
    conn: &mut PgConnection,
    claim: &Claim,
    capped: &[&str],
    caps: &[i64],
    floors: &[Floor],
    node_id: &str,
) -> Result<Vec<Delivery>> {
    let claimed = match (capped, caps, floors) {
        ([subscription], [cap], [floor]) => {
            sqlx::query(LEASE_ONE.as_str())
                .bind(*subscription)
                .bind((*cap).min(i64::from(claim.limit)))
                .bind(micros(claim.now))
                .bind(micros(claim.lease_until))
                .bind(node_id)
                .bind(floor.fresh)
                .bind(floor.retry)
                .fetch_all(conn)
                .await?
        }
        _ => {
            let fresh: Vec<i64> = floors.iter().map(|floor| floor.fresh).collect();
            let retry: Vec<i64> = floors.iter().map(|floor| floor.retry).collect();
            sqlx::query(LEASE_CAPPED.as_str())
                .bind(capped)
                .bind(caps)
                .bind(micros(claim.now))
                .bind(i64::from(claim.limit))
                .bind(micros(claim.lease_until))
                .bind(node_id)
                .bind(fresh)
                .bind(retry)
                .fetch_all(conn)
                .await?
        }
    };
    let mut deliveries = claimed
        .iter()
        .map(rows::delivery)
        .collect::<Result<Vec<_>>>()?;
    // RETURNING comes in no particular order; hand work out in the order it was chosen.
    deliveries.sort_by(|a, b| {
        (a.attempts > 0, a.next_attempt_at, &a.id).cmp(&(b.attempts > 0, b.next_attempt_at, &b.id))
    });
    Ok(deliveries)
}

/// The subscriptions a claim or a hand-off locked, from the rows of its locking statement
/// (their columns as locked), secrets opened with `keyring`.
pub(super) fn locked_subscriptions(
    locked: &[PgRow],
    keyring: &Keyring,
) -> Result<Vec<Subscription>> {
    locked
        .iter()
        .map(|row| rows::subscription(row, keyring))
        .collect()
}

/// Reads the in-flight counts and rate state of the subscriptions `$which` picks (by `$1`).
macro_rules! capacities_of {
    ($which:literal) => {
        concat!(
            "SELECT s.id, s.max_in_flight, s.rate_limit_per_second, s.rate_next_slot_us, \
               l.in_flight, l.others_in_flight \
             FROM subscriptions s CROSS JOIN LATERAL ( \
               SELECT count(*) AS in_flight, \
                 count(*) FILTER (WHERE l.lease_node IS DISTINCT FROM $3) AS others_in_flight \
               FROM deliveries l WHERE l.subscription_id = s.id \
                 AND l.lease_until IS NOT NULL AND l.lease_until > $2) l \
             WHERE ",
            $which
        )
    };
}

/// [`capacities`] of one subscription, the common case. PostgreSQL plans a statement that
/// takes an array afresh on every call (about 0.25 ms here: it cannot know how many ids the
/// array holds until it sees it), and this one once per connection.
const CAPACITIES_OF_ONE: &str = capacities_of!("s.id = $1");
const CAPACITIES: &str = capacities_of!("s.id = ANY($1)");

/// The locked subscriptions' in-flight counts (all, and those of nodes other than `node_id`)
/// and rate state, read after the locks were granted, so that whatever a claim before us
/// committed is counted. Runs in a group's transaction, which walks indexes without bitmap
/// scans, as this count must ([`super::group`]'s `BEGIN`).
pub(super) async fn capacities(
    conn: &mut PgConnection,
    locked: &[Subscription],
    now: i64,
    node_id: &str,
) -> Result<BTreeMap<String, Capacity>> {
    let ids: Vec<&str> = locked.iter().map(|s| s.id.as_str()).collect();
    let query = match ids.as_slice() {
        [one] => sqlx::query(CAPACITIES_OF_ONE).bind(*one),
        _ => sqlx::query(CAPACITIES).bind(&ids),
    };
    let found = query.bind(now).bind(node_id).fetch_all(conn).await?;
    found.iter().map(claiming::capacity).collect()
}

/// Moves the rate-limited subscriptions' next free slots on (one statement for all).
async fn advance_slots(conn: &mut PgConnection, next_slots: &[(&str, i64)]) -> Result<()> {
    if next_slots.is_empty() {
        return Ok(());
    }
    let (ids, next): (Vec<&str>, Vec<i64>) = next_slots.iter().copied().unzip();
    sqlx::query(
        "UPDATE subscriptions s SET rate_next_slot_us = m.next \
         FROM unnest($1::text[], $2::int8[]) AS m (id, next) WHERE s.id = m.id",
    )
    .bind(&ids)
    .bind(&next)
    .execute(conn)
    .await?;
    Ok(())
}

/// Completes deliveries with their events and subscriptions (two queries in all); each job's
/// `not_before` is its slot in `not_before`, else `now`.
pub(super) async fn jobs(
    conn: &mut PgConnection,
    keyring: &Keyring,
    deliveries: Vec<Delivery>,
    now: OffsetDateTime,
    not_before: &HashMap<DeliveryId, OffsetDateTime>,
) -> Result<Vec<DeliveryJob>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let (event_ids, subscription_ids) = claiming::job_ids(&deliveries);
    let events = events::get_events(conn, &event_ids).await?;
    let subscriptions = catalog::get_subscriptions(conn, keyring, &subscription_ids).await?;
    claiming::jobs(deliveries, events, subscriptions, now, not_before)
}

/// Runs inside the caller's transaction.
pub(super) async fn lease_delivery(
    conn: &mut PgConnection,
    keyring: &Keyring,
    id: &DeliveryId,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<DeliveryJob>> {
    // FOR UPDATE: two redeliveries of one delivery at once must not both see it free. FOR
    // SHARE of the event: retention cannot empty its payload until this commits, so the job
    // read below still has it.
    let found: Option<(Option<i64>, String, bool)> = sqlx::query_as(
        "SELECT d.lease_until, d.event_id, e.payload_json = '' AS dropped \
         FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1 \
         FOR UPDATE OF d FOR SHARE OF e",
    )
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
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
    // `lease_node` cleared: a lease taken by hand counts as another node's for every claimer
    // (no lease window beside it), the cautious side.
    let leased = sqlx::query(concat!(
        "UPDATE deliveries SET lease_until = $1, lease_node = NULL WHERE id = $2 RETURNING ",
        delivery_columns!()
    ))
    .bind(micros(lease_until))
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let delivery = leased.as_ref().map(rows::delivery).transpose()?;
    let Some(delivery) = delivery else {
        return Ok(None);
    };
    Ok(jobs(conn, keyring, vec![delivery], now, &HashMap::new())
        .await?
        .pop())
}
