//! Cases for the per-subscription limits that must hold across every node sharing a database:
//! `max_in_flight` counted from the leases in the database (whoever holds them), and
//! `rate_limit_per_second` as send slots persisted with the subscription. Separate claims
//! stand for separate nodes: the store may not remember anything between them in memory.

use super::*;

/// A subscription with `max_in_flight` and `rate_limit_per_second` as given, matching `*`.
async fn limited<S: Store>(
    store: &S,
    tenant_id: &TenantId,
    max_in_flight: u32,
    rate: Option<u32>,
) -> Subscription {
    let mut sub = subscription(tenant_id, &["*"]);
    sub.max_in_flight = max_in_flight;
    sub.rate_limit_per_second = rate;
    store
        .create_subscription(&sub)
        .await
        .expect("create subscription");
    sub
}

/// Publishes `count` events for the tenant, created at 0, 1, 2, … seconds.
async fn backlog<S: Store>(store: &S, tenant_id: &TenantId, count: i64) {
    for n in 0..count {
        publish(store, "a.b", Some(tenant_id), n).await;
    }
}

/// A claim at `now` (seconds) with a rate horizon in milliseconds.
fn claim_with_horizon(now: i64, horizon_ms: u64) -> Claim {
    Claim {
        rate_horizon: std::time::Duration::from_millis(horizon_ms),
        ..claim(now)
    }
}

/// What is in flight is whatever holds an unexpired lease, whichever claim (node) took it:
/// a later claim gets only `max_in_flight` minus that.
pub async fn in_flight_counts_unexpired_leases_from_any_claimer<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    limited(store, &tenant.id, 3, None).await;
    backlog(store, &tenant.id, 6).await;
    let mut node_a = claim(10);
    node_a.limit = 2;
    assert_eq!(claim_ids(store, &node_a).await.len(), 2);
    let mut node_b = claim(11);
    node_b.lease_until = at(500);
    assert_eq!(claim_ids(store, &node_b).await.len(), 1, "3 - 2 in flight");
    assert!(claim_ids(store, &claim(12)).await.is_empty(), "3 in flight");

    // A completed attempt releases its lease, and with it one place.
    let done = claim_ids(store, &claim(70)).await;
    assert_eq!(
        done.len(),
        2,
        "node a's leases ended at 70; node b's one still holds"
    );
    let ok = attempt(&done[0], 70, Some(200), AttemptTrigger::Scheduled);
    store
        .complete_attempt(&ok, &finished(DeliveryStatus::Succeeded))
        .await
        .unwrap();
    assert_eq!(claim_ids(store, &claim(71)).await.len(), 1);
}

/// A claim's `lease_window` multiplies what a subscription may hold leased: up to
/// `max_in_flight × lease_window` unexpired leases, whichever window took them; a window of 1
/// never goes past `max_in_flight`.
pub async fn lease_window_lets_a_subscription_hold_that_many_max_in_flights<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let three = limited(store, &tenant.id, 3, None).await;
    let two = limited(store, &tenant.id, 2, None).await;
    backlog(store, &tenant.id, 10).await;
    let windowed = |now| Claim {
        lease_window: 2,
        ..claim(now)
    };
    let per_subscription = |jobs: &[DeliveryJob]| {
        let count = |id: &SubscriptionId| {
            jobs.iter()
                .filter(|j| &j.delivery.subscription_id == id)
                .count()
        };
        (count(&three.id), count(&two.id))
    };
    let jobs = store.claim_due(&windowed(10)).await.unwrap();
    assert_eq!(per_subscription(&jobs), (6, 4), "twice max_in_flight");
    assert!(
        claim_ids(store, &claim(11)).await.is_empty(),
        "a window of 1 adds nothing above max_in_flight"
    );
    assert!(claim_ids(store, &windowed(11)).await.is_empty(), "all held");

    // The leases end at 70: a window of 1 takes max_in_flight, a window of 2 as many again.
    let jobs = store.claim_due(&claim(70)).await.unwrap();
    assert_eq!(per_subscription(&jobs), (3, 2));
    let jobs = store.claim_due(&windowed(71)).await.unwrap();
    assert_eq!(per_subscription(&jobs), (3, 2));
    assert!(claim_ids(store, &windowed(72)).await.is_empty());
}

/// A lease that ended without an attempt (its node died) no longer counts as in flight.
pub async fn expired_lease_frees_capacity<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    limited(store, &tenant.id, 2, None).await;
    backlog(store, &tenant.id, 3).await;
    let mut short = claim(10);
    short.limit = 1;
    short.lease_until = at(20);
    let first = claim_ids(store, &short).await;
    let mut long = claim(10);
    long.limit = 1;
    long.lease_until = at(100);
    let second = claim_ids(store, &long).await;
    assert_eq!((first.len(), second.len()), (1, 1));
    assert!(claim_ids(store, &claim(19)).await.is_empty(), "2 in flight");
    assert_eq!(
        claim_ids(store, &claim(20)).await,
        first,
        "the short lease ended at 20: one place is free, and the oldest due takes it"
    );
}

/// A delivery leased by hand (a redelivery) is in flight like a claimed one.
pub async fn manual_lease_counts_toward_in_flight<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    limited(store, &tenant.id, 1, Some(1)).await;
    let first = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    publish(store, "a.b", Some(&tenant.id), 1).await;
    let id = only_delivery(store, &first).await.id;
    let job = store
        .lease_delivery(&id, at(5), at(30))
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(job.not_before, at(5), "a manual attempt goes now");
    assert!(claim_ids(store, &claim(10)).await.is_empty(), "1 in flight");
    let ok = attempt(&id, 10, Some(200), AttemptTrigger::Redelivery);
    let progress = DeliveryProgress {
        status: DeliveryStatus::Succeeded,
        next_attempt_at: None,
        counts_for_schedule: false,
    };
    store.complete_attempt(&ok, &progress).await.unwrap();
    assert_eq!(claim_ids(store, &claim(10)).await.len(), 1);
}

/// With `rate_limit_per_second = r`, claimed deliveries get send slots `1/r` s apart from
/// now, and only the slots before `now + rate_horizon`; unlimited ones go at `now`.
pub async fn rate_limited_claims_are_spaced_by_the_rate<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let paced = limited(store, &tenant.id, 16, Some(4)).await;
    let free = limited(store, &tenant.id, 16, None).await;
    backlog(store, &tenant.id, 10).await;
    let jobs = store
        .claim_due(&claim_with_horizon(10, 1000))
        .await
        .unwrap();
    let slots = |id: &SubscriptionId| {
        jobs.iter()
            .filter(|j| &j.subscription.id == id)
            .map(|j| j.not_before)
            .collect::<Vec<_>>()
    };
    let ms = time::Duration::milliseconds;
    assert_eq!(
        slots(&paced.id),
        [at(10), at(10) + ms(250), at(10) + ms(500), at(10) + ms(750)],
        "4 per second, within a 1 s horizon"
    );
    assert_eq!(slots(&free.id), vec![at(10); 10]);
}

/// The next free slot is persisted: a later claim (another node) continues after the slots
/// already handed out, and a subscription idle for a while starts again from now (no burst).
pub async fn rate_slots_continue_across_claims<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    limited(store, &tenant.id, 16, Some(2)).await;
    backlog(store, &tenant.id, 10).await;
    let not_before = |jobs: Vec<DeliveryJob>| jobs.into_iter().map(|j| j.not_before).collect();
    let ms = time::Duration::milliseconds;
    let first: Vec<_> = not_before(
        store
            .claim_due(&claim_with_horizon(10, 2000))
            .await
            .unwrap(),
    );
    assert_eq!(first, [at(10), at(10) + ms(500), at(11), at(11) + ms(500)]);
    assert!(
        store
            .claim_due(&claim_with_horizon(10, 2000))
            .await
            .unwrap()
            .is_empty(),
        "the next free slot is 12, not before 10 + 2"
    );
    let second: Vec<_> = not_before(
        store
            .claim_due(&claim_with_horizon(11, 2000))
            .await
            .unwrap(),
    );
    assert_eq!(second, [at(12), at(12) + ms(500)]);
    let later: Vec<_> = not_before(
        store
            .claim_due(&claim_with_horizon(100, 1000))
            .await
            .unwrap(),
    );
    assert_eq!(later, [at(100), at(100) + ms(500)], "idle: from now again");
}

/// Claims running at the same time (several nodes) never hand out one delivery twice, and
/// together stay within each subscription's `max_in_flight`.
pub async fn concurrent_claims_never_return_the_same_delivery<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let narrow = limited(store, &tenant.id, 3, None).await;
    let wide = limited(store, &tenant.id, 16, None).await;
    backlog(store, &tenant.id, 20).await;
    let mut each = claim(30);
    each.limit = 10;
    let (a, b, c, d) = tokio::join!(
        store.claim_due(&each),
        store.claim_due(&each),
        store.claim_due(&each),
        store.claim_due(&each),
    );
    let mut all = Vec::new();
    for jobs in [a, b, c, d] {
        all.extend(jobs.expect("claim_due"));
    }
    let mut ids: Vec<_> = all.iter().map(|j| j.delivery.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "a delivery was claimed twice");
    let count = |id: &SubscriptionId| all.iter().filter(|j| &j.subscription.id == id).count();
    assert_eq!(
        (count(&narrow.id), count(&wide.id)),
        (3, 16),
        "together exactly each subscription's max_in_flight"
    );
}
