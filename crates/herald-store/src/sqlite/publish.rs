//! Publishing a whole batch of events in a handful of statements.
//!
//! The writer hands every `publish` queued for one transaction to [`publish_batch`], which
//! writes all their events with one `INSERT … SELECT FROM json_each(?)` and all their
//! deliveries with another, instead of several statements per event. Each statement is a round
//! trip to SQLite's worker thread, so this is what turns group commit's shared fsync into tens
//! of thousands of events a second. The per-event path in [`super::events::publish`] stays: the
//! writer falls back to it, one savepoint per event, if the batch as a whole fails (and then
//! hands no deliveries out: they are claimed as usual).
//!
//! Events published with a lease (`Store::publish_and_lease`) get their deliveries to open
//! subscriptions inserted already leased ([`super::handoff`]), so handing them out costs one
//! query per batch and no extra write.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use sqlx::SqliteConnection;

use super::events::{first_with_key, matching_subscriptions};
use super::handoff;
use crate::error::StoreError;
use crate::ids::{DeliveryId, TenantId};
use crate::model::{Event, Published};
use crate::rows::{micros, to_json};
use crate::store::{Accepted, PublishLease};

type Result<T> = std::result::Result<T, StoreError>;

/// An event's type and tenant: events alike in both match the same subscriptions.
type Scope<'a> = (&'a str, Option<&'a TenantId>);

/// `(subscription id, tenant id)` of the subscriptions a scope matches.
type Targets = Vec<(String, String)>;

/// One events row as `json_each` reads it.
#[derive(Serialize)]
struct EventRow<'a> {
    id: &'a str,
    event_type: &'a str,
    payload: &'a str,
    tenant_id: Option<&'a str>,
    key: Option<&'a str>,
    at: i64,
}

/// One deliveries row as `json_each` reads it.
#[derive(Serialize)]
struct DeliveryRow<'a> {
    id: String,
    event_id: &'a str,
    subscription_id: &'a str,
    tenant_id: &'a str,
    event_type: &'a str,
    at: i64,
    lease_until: Option<i64>,
}

/// Whether `publish_batch` can carry this event: its text passes through JSON, and SQLite's
/// text functions stop at NUL, so anything holding one takes the per-event path. (Valid JSON
/// has no raw NUL; this only keeps a caller's bad input from being silently cut.)
pub(super) fn batchable(event: &Event) -> bool {
    let texts = [
        Some(event.id.as_str()),
        Some(event.event_type.as_str()),
        Some(event.payload_json.as_str()),
        event.tenant_id.as_ref().map(TenantId::as_str),
        event.idempotency_key.as_deref(),
    ];
    texts.into_iter().flatten().all(|text| !text.contains('\0'))
}

/// Publishes `events` as if one after another, returning each one's answer in order; an event
/// with a lease also gets the deliveries handed to it. Runs in the caller's transaction; on
/// error nothing is undone here (the writer's savepoint does it).
pub(super) async fn publish_batch(
    conn: &mut SqliteConnection,
    events: &[(&Event, Option<&PublishLease>)],
) -> Result<Vec<Accepted>> {
    let mut answers: Vec<Option<Published>> = vec![None; events.len()];
    // Idempotency: a key already stored answers with its event; a key repeated within the
    // batch answers with the batch's first event under it (filled in below).
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
            if let Some(stored) = first_with_key(conn, event.tenant_id.as_ref(), key).await? {
                answers[index] = Some(stored);
                continue;
            }
            first_in_batch.insert(scope, index);
        }
        fresh.push(index);
    }

    // Matching: one query per distinct (type, tenant) in the batch, usually far fewer than
    // events.
    let mut targets: HashMap<Scope<'_>, Targets> = HashMap::new();
    for &index in &fresh {
        let event = events[index].0;
        let scope = (event.event_type.as_str(), event.tenant_id.as_ref());
        if let Entry::Vacant(slot) = targets.entry(scope) {
            slot.insert(matching_subscriptions(conn, scope.0, scope.1).await?);
        }
    }

    // Hand-off: the subscriptions that leasing events reach, and their free room.
    let mut wanted = BTreeSet::new();
    let mut earliest = None;
    for &index in &fresh {
        let (event, Some(lease)) = events[index] else {
            continue;
        };
        // The earliest `now` counts the most leases as unexpired: the cautious side.
        earliest = Some(earliest.map_or(lease.now, |e: time::OffsetDateTime| e.min(lease.now)));
        let scope = (event.event_type.as_str(), event.tenant_id.as_ref());
        for (subscription_id, _) in targets.get(&scope).map_or(&[][..], Vec::as_slice) {
            wanted.insert(subscription_id.as_str());
        }
    }
    let mut open = match earliest {
        Some(now) => handoff::open_subscriptions(conn, &wanted, now).await?,
        None => HashMap::new(),
    };
    let mut handed: Vec<Vec<crate::model::DeliveryJob>> = vec![Vec::new(); events.len()];

    let mut event_rows = Vec::with_capacity(fresh.len());
    let mut delivery_rows = Vec::new();
    for &index in &fresh {
        let (event, lease) = events[index];
        let at = micros(event.created_at);
        event_rows.push(EventRow {
            id: event.id.as_str(),
            event_type: &event.event_type,
            payload: &event.payload_json,
            tenant_id: event.tenant_id.as_ref().map(TenantId::as_str),
            key: event.idempotency_key.as_deref(),
            at,
        });
        let subscriptions = targets
            .get(&(event.event_type.as_str(), event.tenant_id.as_ref()))
            .map_or(&[][..], Vec::as_slice);
        for (subscription_id, tenant_id) in subscriptions {
            let id = DeliveryId::generate();
            let mut lease_until = None;
            if let Some(lease) = lease
                && let Some(job) = handoff::take(&mut open, subscription_id, &id, event, lease)
            {
                lease_until = Some(micros(lease.lease_until));
                handed[index].push(job);
            }
            delivery_rows.push(DeliveryRow {
                id: id.to_string(),
                event_id: event.id.as_str(),
                subscription_id,
                tenant_id,
                event_type: &event.event_type,
                at,
                lease_until,
            });
        }
        answers[index] = Some(Published {
            event_id: event.id.clone(),
            deliveries: subscriptions.len() as u64,
            duplicate: false,
        });
    }
    if !event_rows.is_empty() {
        sqlx::query(
            "INSERT INTO events (id, event_type, payload_json, tenant_id, idempotency_key, created_at) \
             SELECT value ->> 'id', value ->> 'event_type', value ->> 'payload', \
                    value ->> 'tenant_id', value ->> 'key', value ->> 'at' \
             FROM json_each(?)",
        )
        .bind(to_json(&event_rows)?)
        .execute(&mut *conn)
        .await?;
    }
    if !delivery_rows.is_empty() {
        sqlx::query(
            "INSERT INTO deliveries (id, event_id, subscription_id, tenant_id, event_type, status, \
             attempts, scheduled_attempts, next_attempt_at, lease_until, created_at, updated_at) \
             SELECT value ->> 'id', value ->> 'event_id', value ->> 'subscription_id', \
                    value ->> 'tenant_id', value ->> 'event_type', 'pending', 0, 0, \
                    value ->> 'at', value ->> 'lease_until', value ->> 'at', value ->> 'at' \
             FROM json_each(?)",
        )
        .bind(to_json(&delivery_rows)?)
        .execute(&mut *conn)
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EventId;
    use crate::model::timestamp_now;

    #[test]
    fn an_event_holding_nul_takes_the_per_event_path() {
        let mut event = Event {
            id: EventId::generate(),
            event_type: "a.b".into(),
            payload_json: "{}".into(),
            tenant_id: None,
            idempotency_key: None,
            created_at: timestamp_now(),
        };
        assert!(batchable(&event));
        event.idempotency_key = Some("a\0b".into());
        assert!(!batchable(&event));
    }
}
