//! Where a claim's walk of due deliveries starts, per subscription and kind (fresh, retry):
//! a hint this node keeps in memory, so that claims skip the dead index entries of deliveries
//! already done.
//!
//! A claim leases a subscription's oldest due deliveries first, walking `deliveries_fresh` or
//! `deliveries_retry` from the oldest end. Every delivery leaves two entries there (its
//! inserted row and its leased row), both dead once its outcome is recorded, and only a vacuum
//! removes them: autovacuum looks at a database once a minute by default
//! (`autovacuum_naptime`). Until then every claim walked past all of them: in a 100,000-event
//! `steady` run the lease took 48 buffers per leased delivery and 40 % of PostgreSQL's
//! statement time, and 34 buffers with floors (docs/performance.md). Claims of one
//! subscription take its oldest due rows in order, so
//! once this node's claim has leased up to `next_attempt_at = t`, every due row of that kind
//! before `t` was leased, or is done, or was not yet committed, or was skipped as locked. The
//! next claim therefore starts its walk at `t − SLACK` instead of the start of the index:
//!
//! - a publish commits within `SLACK` of its event's `created_at` (a fresh delivery's due
//!   time) in the normal course, so it is still found, provided the nodes' clocks agree to well
//!   within `SLACK` (which the attempt feed already requires, docs/api.md);
//! - anything else before the floor (a later commit, a row skipped as locked, a lease that ran
//!   out unsent) is found by a full walk from the start, which every subscription gets at
//!   least every [`FULL_WALK_EVERY`], and on its first claim after this node starts.
//!
//! The floor only ever moves on from committed claims of this node; another node's claims do
//! not move it (its walk is then longer than needed, never shorter). It is not used for
//! correctness anywhere else: a floor too low costs buffers, one too high delays a delivery
//! until the next full walk.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::DeliveryJob;
use crate::rows::micros;

/// How far before the last leased due time the next walk starts.
pub(super) const SLACK: Duration = Duration::from_secs(1);
/// At least this often, a subscription's walk starts at the beginning of its index.
pub(super) const FULL_WALK_EVERY: Duration = Duration::from_secs(10);
/// Past this many subscriptions, those not walked in full within `FULL_WALK_EVERY` are
/// forgotten (their next claim walks in full anyway), at most once per `FULL_WALK_EVERY`; a
/// subscription that finds no room is not remembered and walks in full.
const MAX_REMEMBERED: usize = 10_000;

/// The due time (µs) each kind's walk starts at; `i64::MIN` walks in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Floor {
    pub(super) fresh: i64,
    pub(super) retry: i64,
}

impl Floor {
    pub(super) const FULL: Floor = Floor {
        fresh: i64::MIN,
        retry: i64::MIN,
    };
}

#[derive(Clone, Copy)]
struct Remembered {
    /// The latest due time (µs) leased, per kind (`None`: none leased since the full walk).
    fresh: Option<i64>,
    retry: Option<i64>,
    walked_in_full: Instant,
}

/// This node's floors, per subscription id.
#[derive(Default)]
pub(super) struct Floors {
    memory: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    remembered: HashMap<String, Remembered>,
    /// When the forgotten were last dropped ([`MAX_REMEMBERED`]).
    pruned_at: Option<Instant>,
}

impl Floors {
    /// Where the next claim of `subscription_id` starts its walks at `now`: the last leased
    /// due times less [`SLACK`], or a full walk (which this call counts as done).
    pub(super) fn floor(&self, subscription_id: &str, now: Instant) -> Floor {
        let mut memory = self.lock();
        let Memory {
            remembered,
            pruned_at,
        } = &mut *memory;
        match remembered.get_mut(subscription_id) {
            Some(known)
                if now.saturating_duration_since(known.walked_in_full) < FULL_WALK_EVERY =>
            {
                let start = |leased: Option<i64>| {
                    leased.map_or(i64::MIN, |at| at.saturating_sub(SLACK.as_micros() as i64))
                };
                Floor {
                    fresh: start(known.fresh),
                    retry: start(known.retry),
                }
            }
            Some(known) => {
                *known = Remembered {
                    fresh: None,
                    retry: None,
                    walked_in_full: now,
                };
                Floor::FULL
            }
            None => {
                let due = |at: &Instant| now.saturating_duration_since(*at) >= FULL_WALK_EVERY;
                if remembered.len() >= MAX_REMEMBERED && pruned_at.as_ref().is_none_or(due) {
                    remembered.retain(|_, known| !due(&known.walked_in_full));
                    *pruned_at = Some(now);
                }
                if remembered.len() >= MAX_REMEMBERED {
                    return Floor::FULL;
                }
                remembered.insert(
                    subscription_id.to_owned(),
                    Remembered {
                        fresh: None,
                        retry: None,
                        walked_in_full: now,
                    },
                );
                Floor::FULL
            }
        }
    }

    /// Moves the floors on past the deliveries a committed claim leased (`jobs`).
    pub(super) fn leased(&self, jobs: &[DeliveryJob]) {
        if jobs.is_empty() {
            return;
        }
        let remembered = &mut self.lock().remembered;
        for job in jobs {
            let delivery = &job.delivery;
            if let Some(due) = delivery.next_attempt_at {
                let subscription_id = delivery.subscription_id.as_str();
                advance(
                    remembered,
                    subscription_id,
                    delivery.attempts == 0,
                    micros(due),
                );
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding this lock cannot leave the memory inconsistent (each update is
        // a single assignment or a whole `retain`), so a poisoned lock is still usable.
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Moves one subscription's floor of one kind on to `due` (µs), if it is later. A subscription
/// not remembered (forgotten since its claim began) keeps walking in full.
fn advance(
    remembered: &mut HashMap<String, Remembered>,
    subscription_id: &str,
    fresh: bool,
    due: i64,
) {
    let Some(known) = remembered.get_mut(subscription_id) else {
        return;
    };
    let kind = if fresh {
        &mut known.fresh
    } else {
        &mut known.retry
    };
    *kind = Some(kind.map_or(due, |at| at.max(due)));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK_US: i64 = SLACK.as_micros() as i64;

    fn lease(floors: &Floors, subscription_id: &str, fresh: bool, due: i64) {
        advance(&mut floors.lock().remembered, subscription_id, fresh, due);
    }

    #[test]
    fn a_first_claim_walks_in_full_and_the_next_starts_a_slack_before_the_last_lease() {
        let floors = Floors::default();
        let start = Instant::now();
        assert_eq!(floors.floor("sub_a", start), Floor::FULL);
        lease(&floors, "sub_a", true, 5_000_000);
        lease(&floors, "sub_a", true, 7_000_000);
        lease(&floors, "sub_a", true, 6_000_000);
        assert_eq!(
            floors.floor("sub_a", start + Duration::from_secs(1)),
            Floor {
                fresh: 7_000_000 - SLACK_US,
                retry: i64::MIN,
            },
            "the latest fresh lease counts; no retry was leased, so retries walk in full"
        );
        lease(&floors, "sub_a", false, 9_000_000);
        assert_eq!(
            floors.floor("sub_a", start + Duration::from_secs(2)).retry,
            9_000_000 - SLACK_US
        );
        assert_eq!(
            floors.floor("sub_b", start),
            Floor::FULL,
            "another subscription has a floor of its own"
        );
    }

    #[test]
    fn every_subscription_walks_in_full_again_after_full_walk_every() {
        let floors = Floors::default();
        let start = Instant::now();
        floors.floor("sub_a", start);
        lease(&floors, "sub_a", true, 5_000_000);
        let later = start + FULL_WALK_EVERY;
        assert_eq!(floors.floor("sub_a", later), Floor::FULL);
        assert_eq!(
            floors.floor("sub_a", later + Duration::from_secs(1)),
            Floor::FULL,
            "the full walk forgot the leases before it; none since"
        );
        lease(&floors, "sub_a", true, 8_000_000);
        assert_eq!(
            floors.floor("sub_a", later + Duration::from_secs(2)).fresh,
            8_000_000 - SLACK_US
        );
    }

    #[test]
    fn past_max_remembered_only_subscriptions_walked_in_full_long_ago_make_room() {
        let floors = Floors::default();
        let start = Instant::now();
        for n in 0..MAX_REMEMBERED {
            floors.floor(&format!("sub_{n}"), start);
        }
        let extra = "sub_extra";
        floors.floor(extra, start + Duration::from_secs(1));
        lease(&floors, extra, true, 5_000_000);
        assert_eq!(
            floors.floor(extra, start + Duration::from_secs(2)),
            Floor::FULL,
            "no room while every remembered one walked in full within FULL_WALK_EVERY"
        );
        // The last attempt to make room was at 1 s: the next comes a FULL_WALK_EVERY later.
        assert_eq!(floors.floor(extra, start + FULL_WALK_EVERY), Floor::FULL);
        assert_eq!(floors.lock().remembered.len(), MAX_REMEMBERED);
        let later = start + Duration::from_secs(1) + FULL_WALK_EVERY;
        floors.floor(extra, later);
        lease(&floors, extra, true, 5_000_000);
        assert_eq!(
            floors.floor(extra, later + Duration::from_secs(1)).fresh,
            5_000_000 - SLACK_US,
            "the stale ones were dropped, so it is remembered now"
        );
        assert_eq!(floors.lock().remembered.len(), 1);
    }

    #[test]
    fn leases_of_a_subscription_never_claimed_here_move_nothing() {
        let floors = Floors::default();
        lease(&floors, "sub_a", true, 5_000_000);
        assert_eq!(floors.floor("sub_a", Instant::now()), Floor::FULL);
    }
}
