//! Publishes on PostgreSQL, group-committed ([`super::group`]): several publishers' events in
//! one transaction.
//!
//! One transaction per event cost about ten round trips (the event, its subscriptions, its
//! deliveries, the wake-up, the hand-off's lock, count and lease, the jobs' reads, `BEGIN` and
//! `COMMIT`), held open across all of them, and one WAL flush per event. A batch is written
//! set-based instead: one `INSERT` for the events (`ON CONFLICT … DO NOTHING` on the
//! idempotency index, so two nodes publishing one key at once wait for each other and the
//! second answers with the first's event), one lookup of the matching subscriptions per
//! distinct `(type, tenant)` (which locks them `FOR KEY SHARE`, in place of a foreign key
//! checked per delivery), one hand-off ([`super::handoff`]) for all of it, one `INSERT` for
//! the deliveries (those handed out already leased) that also sends the `pg_notify`, one
//! commit. Keyed events are inserted in key order, so two batches never wait on each other's
//! keys in a cycle.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{PgConnection, PgPool};

use super::group::{self, Call, Group, in_transaction};
use super::turns::Turn;
use super::{events, handoff};
use crate::claiming;
use crate::error::StoreError;
use crate::ids::DeliveryId;
use crate::model::*;
use crate::rows::{self, delivery_columns, micros};
use crate::sealing::Keyring;
use crate::seam::{Accepted, PublishLease};

type Result<T> = std::result::Result<T, StoreError>;

/// Most events in one transaction.
const MAX_BATCH: usize = 128;
/// Publish transactions running at once per node (each holds one pooled connection): one.
/// While it runs, the next publishes queue and go in the next batch together. With three at
/// once, batches held a third as many events, each paid its own round trips and commit, and
/// the claims waited on the subscription locks of more hand-offs; one transaction made
/// PostgreSQL-mode `steady` 18 % faster, and `fanout` and the latency at 1,000 events/s too
/// (docs/performance.md).
pub(super) const MAX_RUNNING: usize = 1;

/// A queued publish: the event and the lease it asks for (none for a plain `publish`).
type Input = (Event, Option<PublishLease>);
/// A publish within a batch, borrowed.
type Item<'a> = (&'a Event, Option<&'a PublishLease>);

/// This node's publishes, batched.
pub(super) struct Publishes(Group<Input, Accepted>);

impl Publishes {
    /// Starts the batcher on the current Tokio runtime; hand-offs are leased to `node_id`;
    /// batches wait their `turn` behind outcomes ([`super::turns`]).
    pub(super) fn start(pool: PgPool, keyring: Keyring, node_id: String, turn: Turn) -> Self {
        let node = Node { keyring, node_id };
        Self(Group::start(MAX_BATCH, MAX_RUNNING, turn, move |batch| {
            let (pool, node) = (pool.clone(), node.clone());
            async move { run_batch(&pool, &node, batch).await }
        }))
    }

    /// Publishes `event` in the next batch, leasing its deliveries' free places to this node
    /// when `lease` is given; answers after the batch committed.
    pub(super) async fn publish(
        &self,
        event: &Event,
        lease: Option<&PublishLease>,
    ) -> Result<Accepted> {
        self.0.call((event.clone(), lease.copied())).await
    }
}

/// What a batch needs of its node: the keyring that opens the handed-out jobs' secrets, and
/// the node id their leases are held by.
#[derive(Clone)]
struct Node {
    keyring: Keyring,
    node_id: String,
}

/// Runs one batch and answers its publishers: together if the batch commits, else each in a
/// transaction of its own ([`group::answer_together`]).
async fn run_batch(pool: &PgPool, node: &Node, batch: Vec<Call<Input, Accepted>>) {
    let items: Vec<Item<'_>> = batch
        .iter()
        .map(|call| (&call.input.0, call.input.1.as_ref()))
        .collect();
    let together = in_transaction(pool, async |conn| publish_batch(conn, node, &items).await).await;
    drop(items);
    for call in group::answer_together(batch, together, "publishes") {
        let item = [(&call.input.0, call.input.1.as_ref())];
        let answer = in_transaction(pool, async |conn| publish_batch(conn, node, &item).await)
            .await
            .and_then(|mut answers| {
                answers
                    .pop()
                    .ok_or_else(|| StoreError::Corrupt("a publish of one answered nothing".into()))
            });
        let _ = call.reply.send(answer);
    }
}

/// Publishes every item in the caller's transaction; one answer per item, in order.
async fn publish_batch(
    conn: &mut PgConnection,
    node: &Node,
    items: &[Item<'_>],
) -> Result<Vec<Accepted>> {
    let inserted = insert_events(conn, items).await?;
    let targets = matching(conn, items, &inserted).await?;
    let planned = plan_deliveries(&targets);
    // The hand-off is decided before the deliveries are written, so a handed-out delivery is
    // inserted leased: one row version and one set of index entries instead of an insert
    // and an update of every index of `deliveries`.
    let lease = batch_lease(items);
    let (chosen, locked) = match &lease {
        Some(lease) => choose_handoff(conn, node, items, &planned, lease).await?,
        None => (HashSet::new(), Vec::new()),
    };
    let leased = insert_deliveries(conn, node, items, &planned, &chosen, lease.as_ref()).await?;
    // Repeated keys are answered after the deliveries are in, so one whose first event is in
    // this very batch counts that event's deliveries.
    let mut answers = Vec::with_capacity(items.len());
    for (n, (event, _)) in items.iter().enumerate() {
        let published = if inserted[n] {
            Published {
                event_id: event.id.clone(),
                deliveries: targets[n].len() as u64,
                duplicate: false,
            }
        } else {
            events::first_published(conn, event).await?
        };
        answers.push(Accepted {
            published,
            jobs: Vec::new(),
        });
    }
    if let Some(lease) = lease {
        hand_out(items, leased, locked, &lease, &mut answers)?;
    }
    Ok(answers)
}

/// Inserts the events in one statement (keyed events in key order); whether each was
/// inserted (false: its idempotency key was taken).
async fn insert_events(conn: &mut PgConnection, items: &[Item<'_>]) -> Result<Vec<bool>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |n: usize| {
            let event = items[n].0;
            (
                event.tenant_id.as_ref().map(|t| t.as_str()),
                event.idempotency_key.as_deref(),
            )
        };
        key(a).cmp(&key(b))
    });
    let column = |f: fn(&Event) -> Option<&str>| -> Vec<Option<&str>> {
        order.iter().map(|&n| f(items[n].0)).collect()
    };
    let ids = column(|e| Some(e.id.as_str()));
    let types = column(|e| Some(e.event_type.as_str()));
    let payloads = column(|e| Some(e.payload_json.as_str()));
    let tenants = column(|e| e.tenant_id.as_ref().map(|t| t.as_str()));
    let keys = column(|e| e.idempotency_key.as_deref());
    let created: Vec<i64> = order
        .iter()
        .map(|&n| micros(items[n].0.created_at))
        .collect();
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO events (id, event_type, payload_json, tenant_id, idempotency_key, created_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                              $6::int8[]) \
         ON CONFLICT ((coalesce(tenant_id, '')), idempotency_key) \
           WHERE idempotency_key IS NOT NULL DO NOTHING \
         RETURNING id",
    )
    .bind(ids)
    .bind(types)
    .bind(payloads)
    .bind(tenants)
    .bind(keys)
    .bind(created)
    .fetch_all(conn)
    .await?;
    let inserted: HashSet<String> = inserted.into_iter().collect();
    Ok(items
        .iter()
        .map(|(event, _)| inserted.contains(event.id.as_str()))
        .collect())
}

/// A matching subscription: `(id, tenant id, effective from (µs))`.
type Target = (String, String, Option<i64>);

/// The subscriptions whose patterns match the event type `$1` (and that belong to `$2`, the
/// event's tenant, for an event that has one), locked `FOR KEY SHARE` in id order. One
/// statement per case rather than `($2 IS NULL OR s.tenant_id = $2)`: for that condition
/// PostgreSQL's generic plan costs more than a plan for known values, so it planned the
/// statement afresh on every publish batch.
macro_rules! matching {
    ($tenant:literal) => {
        concat!(
            "SELECT s.id, s.tenant_id, s.effective_at FROM subscriptions s \
             WHERE s.id IN (SELECT p.subscription_id FROM subscription_event_types p \
                 WHERE (p.is_prefix = 0 AND p.pattern = $1) \
                    OR (p.is_prefix = 1 AND starts_with($1, p.pattern))) ",
            $tenant,
            " ORDER BY s.id FOR KEY SHARE OF s"
        )
    };
}
const MATCHING: &str = matching!("");
const MATCHING_OF_TENANT: &str = matching!("AND s.tenant_id = $2");

/// Every inserted event's matching subscriptions, looked up once per distinct
/// `(type, tenant)` and filtered per event by when each subscription takes effect. Each
/// subscription found is locked `FOR KEY SHARE` until the commit (in id order, so two batches
/// never wait on each other in a cycle): deliveries have no foreign key to their subscription
/// (migrations/postgres/0011), and this lock is what keeps a subscription deleted meanwhile
/// from leaving them behind, once per batch and subscription instead of once per delivery.
async fn matching(
    conn: &mut PgConnection,
    items: &[Item<'_>],
    inserted: &[bool],
) -> Result<Vec<Vec<Target>>> {
    let mut lookups: BTreeMap<(&str, Option<&str>), Vec<Target>> = BTreeMap::new();
    for (n, (event, _)) in items.iter().enumerate() {
        if inserted[n] {
            let key = (
                event.event_type.as_str(),
                event.tenant_id.as_ref().map(|t| t.as_str()),
            );
            lookups.entry(key).or_default();
        }
    }
    for ((event_type, tenant), found) in lookups.iter_mut() {
        let query = match tenant {
            Some(tenant) => sqlx::query_as(MATCHING_OF_TENANT)
                .bind(*event_type)
                .bind(*tenant),
            None => sqlx::query_as(MATCHING).bind(*event_type),
        };
        *found = query.fetch_all(&mut *conn).await?;
    }
    Ok(items
        .iter()
        .enumerate()
        .map(|(n, (event, _))| {
            if !inserted[n] {
                return Vec::new();
            }
            let key = (
                event.event_type.as_str(),
                event.tenant_id.as_ref().map(|t| t.as_str()),
            );
            let published = micros(event.created_at);
            lookups
                .get(&key)
                .map(|found| {
                    found
                        .iter()
                        .filter(|(_, _, effective)| effective.is_none_or(|at| at <= published))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect())
}

/// A delivery to write: `(item, delivery id, subscription id, the subscription's tenant)`.
type Planned<'t> = (usize, DeliveryId, &'t str, &'t str);

/// One pending delivery per item and matching subscription, with its id.
fn plan_deliveries(targets: &[Vec<Target>]) -> Vec<Planned<'_>> {
    let mut planned = Vec::new();
    for (n, found) in targets.iter().enumerate() {
        for (subscription, tenant, _) in found {
            planned.push((
                n,
                DeliveryId::generate(),
                subscription.as_str(),
                tenant.as_str(),
            ));
        }
    }
    planned
}

/// The hand-off of `publish_and_lease` for the whole batch at once ([`handoff::choose`]):
/// which of the planned deliveries of the items that asked for a lease are leased to this
/// node, up to each subscription's free room, and the subscriptions it locked to decide.
async fn choose_handoff(
    conn: &mut PgConnection,
    node: &Node,
    items: &[Item<'_>],
    planned: &[Planned<'_>],
    lease: &PublishLease,
) -> Result<(HashSet<String>, Vec<Subscription>)> {
    let wanted: Vec<(DeliveryId, String)> = planned
        .iter()
        .filter(|(n, _, _, _)| items[*n].1.is_some())
        .map(|(_, id, subscription, _)| (id.clone(), (*subscription).to_owned()))
        .collect();
    let handed = handoff::choose(conn, &node.keyring, &node.node_id, &wanted, lease).await?;
    let chosen = handed.chosen.into_iter().map(str::to_owned).collect();
    Ok((chosen, handed.subscriptions))
}

/// Inserts every planned delivery in one statement, pending, those in `chosen` leased to
/// this node until `lease.lease_until`, and wakes every node at commit; answers with the
/// leased ones.
async fn insert_deliveries(
    conn: &mut PgConnection,
    node: &Node,
    items: &[Item<'_>],
    planned: &[Planned<'_>],
    chosen: &HashSet<String>,
    lease: Option<&PublishLease>,
) -> Result<Vec<Delivery>> {
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let lease_until = lease.map(|l| micros(l.lease_until));
    let (mut ids, mut event_ids, mut subscriptions, mut tenants, mut types, mut times) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut leases, mut lease_nodes) = (vec![], vec![]);
    for (n, id, subscription, tenant) in planned {
        let event = items[*n].0;
        ids.push(id.as_str());
        event_ids.push(event.id.as_str());
        subscriptions.push(*subscription);
        tenants.push(*tenant);
        types.push(event.event_type.as_str());
        times.push(micros(event.created_at));
        let leased = chosen.contains(id.as_str());
        leases.push(lease_until.filter(|_| leased));
        lease_nodes.push(leased.then_some(node.node_id.as_str()));
    }
    let rows = sqlx::query(if chosen.is_empty() {
        INSERT_DELIVERIES
    } else {
        INSERT_DELIVERIES_RETURNING
    })
    .bind(ids)
    .bind(event_ids)
    .bind(subscriptions)
    .bind(tenants)
    .bind(types)
    .bind(times)
    .bind(leases)
    .bind(lease_nodes)
    .bind(events::WORK_CHANNEL)
    .fetch_all(conn)
    .await?;
    let mut leased = Vec::with_capacity(chosen.len());
    for row in &rows {
        let delivery = rows::delivery(row)?;
        if chosen.contains(delivery.id.as_str()) {
            leased.push(delivery);
        }
    }
    Ok(leased)
}

/// Inserts deliveries from arrays, one element per delivery (`lease_until` and `lease_node`
/// null for those not handed out), and wakes every node at commit (`pg_notify($9, '')`, the
/// wake-up of [`events::notify_work`]) in the same round trip: the `wake` CTE calls a volatile
/// function, so PostgreSQL evaluates it once, and joining its one row makes it run.
macro_rules! insert_deliveries {
    () => {
        "WITH wake AS (SELECT pg_notify($9, '')) \
         INSERT INTO deliveries (id, event_id, subscription_id, tenant_id, event_type, status, \
         attempts, scheduled_attempts, next_attempt_at, lease_until, lease_node, created_at, \
         updated_at) \
         SELECT t.id, t.event_id, t.subscription_id, t.tenant_id, t.event_type, 'pending', 0, 0, \
                t.at, t.lease_until, t.lease_node, t.at, t.at \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], \
                     $7::int8[], $8::text[]) \
           AS t (id, event_id, subscription_id, tenant_id, event_type, at, lease_until, lease_node) \
           CROSS JOIN wake"
    };
}
const INSERT_DELIVERIES: &str = insert_deliveries!();
const INSERT_DELIVERIES_RETURNING: &str =
    concat!(insert_deliveries!(), " RETURNING ", delivery_columns!());

/// Answers the items with the jobs of the deliveries handed out to this node, put together
/// from what the batch holds already: the items' events (all just inserted) and the
/// subscriptions the hand-off locked.
fn hand_out(
    items: &[Item<'_>],
    leased: Vec<Delivery>,
    locked: Vec<Subscription>,
    lease: &PublishLease,
    answers: &mut [Accepted],
) -> Result<()> {
    if leased.is_empty() {
        return Ok(());
    }
    let item_of: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(n, (event, _))| (event.id.as_str(), n))
        .collect();
    let handed: HashSet<&str> = leased.iter().map(|d| d.event_id.as_str()).collect();
    let events = items
        .iter()
        .filter(|(event, _)| handed.contains(event.id.as_str()))
        .map(|(event, _)| (*event).clone())
        .collect();
    drop(handed);
    let jobs = claiming::jobs(leased, events, locked, lease.now, &HashMap::new())?;
    for job in jobs {
        if let Some(&n) = item_of.get(job.delivery.event_id.as_str()) {
            answers[n].jobs.push(job);
        }
    }
    Ok(())
}

/// One lease for the batch, as strict as the strictest asked for: the latest `now` (so no
/// lease counts as free that any publisher would count as held), the earliest end and the
/// smallest window.
fn batch_lease(items: &[Item<'_>]) -> Option<PublishLease> {
    items
        .iter()
        .filter_map(|(_, lease)| lease.copied())
        .reduce(|a, b| PublishLease {
            now: a.now.max(b.now),
            lease_until: a.lease_until.min(b.lease_until),
            lease_window: a.lease_window.min(b.lease_window),
        })
}
