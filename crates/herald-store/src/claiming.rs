//! The per-subscription arithmetic of `claim_due`, shared by every backend: how many more
//! deliveries a subscription may have claimed, and the send slots that its rate limit gives
//! them.
//!
//! Backends read a [`Capacity`] per subscription from the database (inside the claim's
//! transaction, after serialising claims per subscription), ask it for its [`Capacity::room`],
//! claim at most that many deliveries, then hand the claimed count to [`Capacity::slots`] and
//! persist the returned next free slot. Keeping the arithmetic here, in plain integers, is
//! what keeps SQLite and PostgreSQL from disagreeing by a microsecond about a slot. The
//! steps after the SQL are shared too: a capacity read from a row ([`capacity`]), the slots
//! of a claim's deliveries grouped by subscription ([`assign_slots`]), and the jobs put
//! together from the claimed deliveries, their events and subscriptions ([`jobs`]).

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{DeliveryId, EventId, SubscriptionId};
use crate::model::{Claim, Delivery, DeliveryJob, Event, Subscription};
use crate::rows::{Columns, get, micros};

/// What the database says about one subscription at claim time.
#[derive(Clone, Debug)]
pub(crate) struct Capacity {
    /// Its `max_in_flight`.
    pub max_in_flight: u32,
    /// Its deliveries holding an unexpired lease (claimed by any node, or leased by hand).
    pub in_flight: i64,
    /// Those of them held by another node than the claimer's (or leased by hand): while
    /// there are any, the claimer gets no lease window ([`window_cap`]).
    pub others_in_flight: i64,
    /// Its `rate_limit_per_second`.
    pub rate_limit_per_second: Option<u32>,
    /// The persisted next free send slot (unix µs); a slot in the past means "free now".
    pub next_slot_us: i64,
}

/// The slots handed out to one subscription's claimed deliveries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slots {
    /// One `not_before` per claimed delivery, in claim order.
    pub not_before: Vec<OffsetDateTime>,
    /// The next free slot to persist (unix µs), or `None` when the subscription has no rate
    /// limit and nothing needs persisting.
    pub next_slot_us: Option<i64>,
}

impl Capacity {
    /// How many more deliveries may be claimed for this subscription (`subscription_id`)
    /// now: what its concurrency limit leaves ([`window_cap`] leases, with its window in
    /// `claim`), and no more than its rate limit allows before the horizon.
    pub(crate) fn room(&self, claim: &Claim, subscription_id: &str) -> u32 {
        let concurrency = self
            .lease_cap(claim.lease_window_of(subscription_id))
            .saturating_sub(self.in_flight)
            .max(0);
        let rate = match self.rate_limit_per_second {
            None => i64::MAX,
            Some(rate) => self.rate_room(rate, claim),
        };
        u32::try_from(concurrency.min(rate).min(i64::from(claim.limit))).unwrap_or(0)
    }

    /// How many unexpired leases this subscription may hold after the claim: see
    /// [`window_cap`].
    pub(crate) fn lease_cap(&self, lease_window: u32) -> i64 {
        window_cap(self.max_in_flight, lease_window, self.others_in_flight)
    }

    /// How many slots `start, start + interval, …` fall before `now + horizon`.
    fn rate_room(&self, rate: u32, claim: &Claim) -> i64 {
        let Some(interval) = interval_us(rate) else {
            return 0;
        };
        let start = self.first_slot(claim);
        let end = horizon_end_us(claim);
        if start >= end {
            return 0;
        }
        // ceil((end - start) / interval): slot k is handed out while start + k·interval < end.
        (end - start + interval - 1) / interval
    }

    /// The earliest slot this claim may hand out: the persisted next slot, or now if that is
    /// already past (an idle subscription does not save up a burst).
    fn first_slot(&self, claim: &Claim) -> i64 {
        self.next_slot_us.max(micros(claim.now))
    }

    /// The send slots of `count` deliveries just claimed for this subscription.
    pub(crate) fn slots(&self, claim: &Claim, count: usize) -> Slots {
        let interval = self.rate_limit_per_second.and_then(interval_us);
        let Some(interval) = interval else {
            return Slots {
                not_before: vec![claim.now; count],
                next_slot_us: None,
            };
        };
        let start = self.first_slot(claim);
        let count_i64 = i64::try_from(count).unwrap_or(i64::MAX);
        let not_before = (0..count_i64)
            .map(|k| from_micros(start.saturating_add(k.saturating_mul(interval))))
            .collect();
        Slots {
            not_before,
            next_slot_us: Some(start.saturating_add(count_i64.saturating_mul(interval))),
        }
    }
}

/// A subscription's id and [`Capacity`] from a row with the columns `id`, `max_in_flight`,
/// `rate_limit_per_second`, `rate_next_slot_us`, `in_flight` and `others_in_flight`.
pub(crate) fn capacity(row: &impl Columns) -> Result<(String, Capacity), StoreError> {
    let id: String = get(row, "id")?;
    let max_in_flight: i64 = get(row, "max_in_flight")?;
    let rate: Option<i64> = get(row, "rate_limit_per_second")?;
    let capacity = Capacity {
        max_in_flight: u32::try_from(max_in_flight)
            .map_err(|_| StoreError::Corrupt(format!("max_in_flight {max_in_flight} of {id}")))?,
        in_flight: get(row, "in_flight")?,
        others_in_flight: get(row, "others_in_flight")?,
        rate_limit_per_second: rate
            .map(u32::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt(format!("rate limit of {id}")))?,
        next_slot_us: get(row, "rate_next_slot_us")?,
    };
    Ok((id, capacity))
}

/// What a claim's slots come to: each claimed delivery's `not_before`, and the next free slot
/// to persist per rate-limited subscription (`(subscription id, unix µs)`).
pub(crate) struct Assigned<'a> {
    /// Each claimed delivery's send slot.
    pub not_before: HashMap<DeliveryId, OffsetDateTime>,
    /// The next free slots to write back.
    pub next_slots: Vec<(&'a str, i64)>,
}

/// Gives each claimed delivery its send slot, per subscription in claim order.
pub(crate) fn assign_slots<'a>(
    claim: &Claim,
    capacities: &BTreeMap<String, Capacity>,
    deliveries: &'a [Delivery],
) -> Result<Assigned<'a>, StoreError> {
    let mut by_subscription: BTreeMap<&str, Vec<&DeliveryId>> = BTreeMap::new();
    for delivery in deliveries {
        by_subscription
            .entry(delivery.subscription_id.as_str())
            .or_default()
            .push(&delivery.id);
    }
    let mut assigned = Assigned {
        not_before: HashMap::with_capacity(deliveries.len()),
        next_slots: Vec::new(),
    };
    for (subscription_id, ids) in by_subscription {
        let Some(capacity) = capacities.get(subscription_id) else {
            return Err(StoreError::Corrupt(format!(
                "claimed a delivery of {subscription_id}, which had no capacity"
            )));
        };
        let slots = capacity.slots(claim, ids.len());
        for (id, slot) in ids.into_iter().zip(slots.not_before) {
            assigned.not_before.insert(id.clone(), slot);
        }
        if let Some(next) = slots.next_slot_us {
            assigned.next_slots.push((subscription_id, next));
        }
    }
    Ok(assigned)
}

/// Puts deliveries together with their events and subscriptions (read by the caller in one
/// statement each). Every job's `not_before` is `now`, or its slot from `not_before`.
pub(crate) fn jobs(
    deliveries: Vec<Delivery>,
    events: Vec<Event>,
    subscriptions: Vec<Subscription>,
    now: OffsetDateTime,
    not_before: &HashMap<DeliveryId, OffsetDateTime>,
) -> Result<Vec<DeliveryJob>, StoreError> {
    let events: HashMap<EventId, Event> = events.into_iter().map(|e| (e.id.clone(), e)).collect();
    let subscriptions: HashMap<SubscriptionId, Subscription> = subscriptions
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    deliveries
        .into_iter()
        .map(|delivery| {
            // The caller holds the deliveries (leased in its transaction), so their event and
            // subscription cannot have been deleted; absence would be a broken foreign key.
            let event = events.get(&delivery.event_id).cloned();
            let subscription = subscriptions.get(&delivery.subscription_id).cloned();
            match (event, subscription) {
                (Some(event), Some(subscription)) => Ok(DeliveryJob {
                    not_before: not_before.get(&delivery.id).copied().unwrap_or(now),
                    delivery,
                    event,
                    subscription,
                }),
                _ => Err(StoreError::Corrupt(format!(
                    "delivery {} lost its event or subscription",
                    delivery.id
                ))),
            }
        })
        .collect()
}

/// The distinct event and subscription ids of some deliveries, sorted (for one read each).
pub(crate) fn job_ids(deliveries: &[Delivery]) -> (Vec<&str>, Vec<&str>) {
    let mut events: Vec<&str> = deliveries.iter().map(|d| d.event_id.as_str()).collect();
    events.sort_unstable();
    events.dedup();
    let mut subscriptions: Vec<&str> = deliveries
        .iter()
        .map(|d| d.subscription_id.as_str())
        .collect();
    subscriptions.sort_unstable();
    subscriptions.dedup();
    (events, subscriptions)
}

/// How many unexpired leases a subscription may hold: `max_in_flight × lease_window`, a
/// window of 0 taken as 1 (no lease at all would stall the subscription for good).
pub(crate) fn lease_cap(max_in_flight: u32, lease_window: u32) -> i64 {
    i64::from(max_in_flight).saturating_mul(i64::from(lease_window.max(1)))
}

/// The lease cap for a claimer while `others_in_flight` of the subscription's unexpired
/// leases are held by other nodes: the whole window ([`lease_cap`]) when it holds every lease
/// itself, else `max_in_flight`.
///
/// Why this keeps a subscription's requests at `max_in_flight` across nodes: a claimer's own
/// gate keeps its requests at `max_in_flight`, and a request only runs under a lease. While
/// one node holds all the leases, only its requests run. Leases of two nodes at once can only
/// come from a claim made while another node held some, which leaves at most `max_in_flight`
/// leases in all, and while both hold any, every claim keeps it so; leases only ever end.
pub(crate) fn window_cap(max_in_flight: u32, lease_window: u32, others_in_flight: i64) -> i64 {
    if others_in_flight > 0 {
        i64::from(max_in_flight)
    } else {
        lease_cap(max_in_flight, lease_window)
    }
}

/// The spacing of `rate` sends per second, in whole microseconds, rounded up so that the rate
/// is never exceeded. `None` for a rate of zero, which allows no sends at all (the API refuses
/// it; the store does not divide by it).
fn interval_us(rate: u32) -> Option<i64> {
    (rate > 0).then(|| (1_000_000 + i64::from(rate) - 1) / i64::from(rate))
}

/// The arguments of `DeliveryQueue::take_send_slot`'s statement: the interval of `rate`, `now`
/// and the horizon's end, in µs; `None` for a rate of 0 (no limit).
pub(crate) fn manual_slot(
    rate: u32,
    now: OffsetDateTime,
    horizon: std::time::Duration,
) -> Option<(i64, i64, i64)> {
    let interval = interval_us(rate)?;
    let horizon = i64::try_from(horizon.as_micros()).unwrap_or(i64::MAX);
    let now = micros(now);
    Some((interval, now, now.saturating_add(horizon)))
}

fn horizon_end_us(claim: &Claim) -> i64 {
    let horizon = i64::try_from(claim.rate_horizon.as_micros()).unwrap_or(i64::MAX);
    micros(claim.now).saturating_add(horizon)
}

/// A slot back as a time. Slots are built from `claim.now` plus at most a horizon, so they
/// are representable; one that is not (an absurd horizon) is clamped to the claim's now, the
/// conservative end for a limit that merely paces sends.
fn from_micros(value: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use time::macros::datetime;

    fn claim(horizon_ms: u64) -> Claim {
        let now = datetime!(2030-01-01 00:00 UTC);
        Claim {
            now,
            lease_until: now + time::Duration::minutes(1),
            limit: 100,
            rate_horizon: Duration::from_millis(horizon_ms),
            lease_window: 1,
            lease_windows: HashMap::new(),
        }
    }

    fn capacity(rate: Option<u32>, next_slot_us: i64) -> Capacity {
        Capacity {
            max_in_flight: 16,
            in_flight: 0,
            others_in_flight: 0,
            rate_limit_per_second: rate,
            next_slot_us,
        }
    }

    #[test]
    fn concurrency_room_is_max_in_flight_minus_in_flight_never_negative() {
        let mut c = capacity(None, 0);
        c.in_flight = 10;
        assert_eq!(c.room(&claim(1000), "sub_a"), 6);
        c.in_flight = 20;
        assert_eq!(c.room(&claim(1000), "sub_a"), 0);
    }

    #[test]
    fn a_lease_window_multiplies_the_concurrency_room() {
        let mut c = capacity(None, 0);
        c.in_flight = 20;
        let mut windowed = claim(1000);
        windowed.lease_window = 2;
        assert_eq!(c.room(&windowed, "sub_a"), 12, "16 × 2 - 20");
        windowed.lease_window = 0;
        assert_eq!(c.room(&windowed, "sub_a"), 0, "a window of 0 counts as 1");
        c.in_flight = 0;
        assert_eq!(c.room(&windowed, "sub_a"), 16);
    }

    #[test]
    fn a_subscriptions_own_window_replaces_the_claims() {
        let mut c = capacity(None, 0);
        c.in_flight = 20;
        let mut windowed = claim(1000);
        windowed.limit = 1000;
        windowed.lease_window = 2;
        windowed.lease_windows.insert("sub_a".into(), 8);
        assert_eq!(c.room(&windowed, "sub_a"), 108, "16 × 8 - 20");
        assert_eq!(
            c.room(&windowed, "sub_b"),
            12,
            "the claim's window: 16 × 2 - 20"
        );
        c.others_in_flight = 1;
        assert_eq!(c.room(&windowed, "sub_a"), 0, "shared: no window at all");
    }

    #[test]
    fn another_nodes_lease_takes_the_window_away() {
        let mut windowed = claim(1000);
        windowed.lease_window = 2;
        let mut c = capacity(None, 0);
        c.in_flight = 10;
        assert_eq!(c.room(&windowed, "sub_a"), 22, "alone: 16 × 2 - 10");
        c.others_in_flight = 1;
        assert_eq!(c.room(&windowed, "sub_a"), 6, "shared: 16 - 10");
        c.in_flight = 20;
        assert_eq!(
            c.room(&windowed, "sub_a"),
            0,
            "shared and over: nothing, never negative"
        );
    }

    #[test]
    fn rate_room_counts_slots_before_the_horizon() {
        let c = capacity(Some(2), 0);
        assert_eq!(c.room(&claim(2000), "sub_a"), 4, "0, 0.5, 1, 1.5 s");
        assert_eq!(c.room(&claim(2001), "sub_a"), 5, "and 2 s");
        assert_eq!(c.room(&claim(0), "sub_a"), 0, "no horizon, no slot");
    }

    #[test]
    fn slots_start_at_the_persisted_next_slot_when_it_is_later_than_now() {
        let claim = claim(3000);
        let now = micros(claim.now);
        let c = capacity(Some(2), now + 2_000_000);
        assert_eq!(c.room(&claim, "sub_a"), 2);
        let slots = c.slots(&claim, 2);
        assert_eq!(
            slots.not_before,
            [
                claim.now + time::Duration::seconds(2),
                claim.now + time::Duration::milliseconds(2500)
            ]
        );
        assert_eq!(slots.next_slot_us, Some(now + 3_000_000));
    }

    #[test]
    fn unlimited_subscriptions_send_now_and_persist_nothing() {
        let claim = claim(1000);
        let slots = capacity(None, 0).slots(&claim, 2);
        assert_eq!(slots.not_before, [claim.now, claim.now]);
        assert_eq!(slots.next_slot_us, None);
    }

    #[test]
    fn a_rate_of_zero_allows_nothing() {
        assert_eq!(capacity(Some(0), 0).room(&claim(10_000), "sub_a"), 0);
    }

    #[test]
    fn intervals_round_up_so_the_rate_is_never_exceeded() {
        assert_eq!(interval_us(3), Some(333_334));
        assert_eq!(interval_us(1_000_000), Some(1));
        assert_eq!(interval_us(u32::MAX), Some(1));
    }
}
