//! Publishing a whole batch of events together.
//!
//! The writer hands every `publish` queued for one transaction to [`publish_batch`], which
//! looks idempotency keys up, matches subscriptions once per distinct (type, tenant) and reads
//! the hand-off room once for the batch, then inserts the rows with cached statements. The
//! per-event path in [`super::events::publish`] stays: the writer falls back to it, one
//! savepoint per event, if the batch as a whole fails (and then hands no deliveries out: they
//! are claimed as usual).
//!
//! Events published with a lease (`DeliveryQueue::publish_and_lease`) get their deliveries to open
//! subscriptions inserted already leased ([`super::handoff`]), so handing them out costs one
//! query per batch and no extra write.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use rusqlite::Connection;
use time::OffsetDateTime;

use super::events::{Target, first_with_key, insert_event, matching_subscriptions};
use super::handoff;
use super::run;
use crate::error::StoreError;
use crate::ids::{DeliveryId, TenantId};
use crate::model::{DeliveryJob, Event, Published};
use crate::rows::micros;
use crate::sealing::Keyring;
use crate::seam::{Accepted, PublishLease};
use crate::statements::events as sql;

type Result<T> = std::result::Result<T, StoreError>;

/// An event's type and tenant: events alike in both match the same subscriptions.
type Scope<'a> = (&'a str, Option<&'a TenantId>);

/// The subscriptions a scope matches (each event then takes those it is effective for).
type Targets = Vec<Target>;

/// A batch's events, each with the lease it asks for (`publish_and_lease`) or none.
type Batch<'e> = [(&'e Event, Option<&'e PublishLease>)];

/// Publishes `events` as if one after another, returning each one's answer in order; an event
/// with a lease also gets the deliveries handed to it. Runs in the caller's transaction; on
/// error nothing is undone here (the writer's savepoint does it).
pub(super) fn publish_batch(
    conn: &Connection,
    keyring: &Keyring,
    events: &Batch<'_>,
) -> Result<Vec<Accepted>> {
    let mut answers: Vec<Option<Published>> = vec![None; events.len()];
    let Deduplicated { fresh, repeats } = deduplicate(conn, events, &mut answers)?;
    let targets = match_targets(conn, events, &fresh)?;
    let mut open = hand_off_room(conn, keyring, events, &fresh, &targets)?;
    let mut handed: Vec<Vec<DeliveryJob>> = vec![Vec::new(); events.len()];
    let mut insert_delivery = run::Repeated::new(conn);
    for &index in &fresh {
        let (event, lease) = events[index];
        insert_event(conn, event)?;
        let subscriptions: Vec<&Target> = targets_of(&targets, event).collect();
        for target in &subscriptions {
            let (subscription_id, tenant_id) = (&target.subscription_id, &target.tenant_id);
            let id = DeliveryId::generate();
            let mut lease_until = None;
            if let Some(lease) = lease
                && let Some(job) = handoff::take(&mut open, subscription_id, &id, event, lease)
            {
                lease_until = Some(micros(lease.lease_until));
                handed[index].push(job);
            }
            let row =
                sql::insert_delivery(id.as_str(), event, subscription_id, tenant_id, lease_until);
            insert_delivery.execute(&row)?;
        }
        answers[index] = Some(Published {
            event_id: event.id.clone(),
            deliveries: subscriptions.len() as u64,
            duplicate: false,
        });
    }
    for (index, first) in repeats {
        answers[index] = answers[first].clone().map(|first| Published {
            duplicate: true,
            ..first
        });
    }
    answers
        .into_iter()
        .zip(handed)
        .map(|(answer, jobs)| {
            let published = answer
                .ok_or_else(|| StoreError::Corrupt("a batched publish got no answer".into()))?;
            Ok(Accepted { published, jobs })
        })
        .collect()
}

/// Which events of a batch are new, and which repeat an earlier one's key.
struct Deduplicated {
    /// Indexes of the events to write.
    fresh: Vec<usize>,
    /// `(index, index of the batch's first event under the same key)`.
    repeats: Vec<(usize, usize)>,
}

/// Idempotency: a key already stored answers (in `answers`) with its event; a key repeated
/// within the batch answers with the batch's first event under it (a repeat).
fn deduplicate(
    conn: &Connection,
    events: &Batch<'_>,
    answers: &mut [Option<Published>],
) -> Result<Deduplicated> {
    let mut first_in_batch: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    let mut repeats = Vec::new();
    let mut fresh = Vec::with_capacity(events.len());
    for (index, &(event, _)) in events.iter().enumerate() {
        if let Some(key) = event.idempotency_key.as_deref() {
            let scope = (event.tenant_id.as_ref().map(TenantId::as_str), key);
            if let Some(&first) = first_in_batch.get(&scope) {
                repeats.push((index, first));
                continue;
            }
            if let Some(stored) = first_with_key(conn, event.tenant_id.as_ref(), key)? {
                answers[index] = Some(stored);
                continue;
            }
            first_in_batch.insert(scope, index);
        }
        fresh.push(index);
    }
    Ok(Deduplicated { fresh, repeats })
}

/// Matching: one query per distinct (type, tenant) among the fresh events, usually far fewer
/// than events.
fn match_targets<'e>(
    conn: &Connection,
    events: &Batch<'e>,
    fresh: &[usize],
) -> Result<HashMap<Scope<'e>, Targets>> {
    let mut targets: HashMap<Scope<'e>, Targets> = HashMap::new();
    for &index in fresh {
        let event = events[index].0;
        let scope = (event.event_type.as_str(), event.tenant_id.as_ref());
        if let Entry::Vacant(slot) = targets.entry(scope) {
            slot.insert(matching_subscriptions(conn, scope.0, scope.1)?);
        }
    }
    Ok(targets)
}

/// The subscriptions an event's deliveries go to: its scope's, those it is effective for.
fn targets_of<'t, 'e>(
    targets: &'t HashMap<Scope<'e>, Targets>,
    event: &'e Event,
) -> impl Iterator<Item = &'t Target> + use<'t, 'e> {
    targets
        .get(&(event.event_type.as_str(), event.tenant_id.as_ref()))
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(move |target| target.takes(event))
}

/// Hand-off: the subscriptions that leasing events reach, and their free room (read once).
fn hand_off_room<'e>(
    conn: &Connection,
    keyring: &Keyring,
    events: &Batch<'e>,
    fresh: &[usize],
    targets: &HashMap<Scope<'e>, Targets>,
) -> Result<HashMap<String, handoff::Open>> {
    let mut wanted = BTreeSet::new();
    let mut earliest: Option<OffsetDateTime> = None;
    for &index in fresh {
        let (event, Some(lease)) = events[index] else {
            continue;
        };
        // The earliest `now` counts the most leases as unexpired: the cautious side.
        earliest = Some(earliest.map_or(lease.now, |e| e.min(lease.now)));
        for target in targets_of(targets, event) {
            wanted.insert(target.subscription_id.as_str());
        }
    }
    match earliest {
        Some(now) => handoff::open_subscriptions(conn, keyring, &wanted, now),
        None => Ok(HashMap::new()),
    }
}
