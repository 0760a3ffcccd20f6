//! Cases for `publish_and_lease` (deliveries handed from a publish to its node) and for
//! attempts recorded concurrently (which SQLite writes in bulk): the hand-off must respect
//! the same `max_in_flight` accounting as claims, whoever holds the leases.

use super::*;
use crate::seam::PublishLease;

/// A lease taken at `now` seconds, for a minute.
fn lease(now: i64) -> PublishLease {
    PublishLease {
        now: at(now),
        lease_until: at(now + 60),
        lease_window: 1,
    }
}

/// A subscription to `*` with the given limits.
async fn sub_with<S: Store>(
    store: &S,
    tenant_id: &TenantId,
    max_in_flight: u32,
    rate: Option<u32>,
) -> Subscription {
    let mut sub = subscription(tenant_id, &["*"]);
    sub.max_in_flight = max_in_flight;
    sub.rate_limit_per_second = rate;
    store.create_subscription(&sub).await.expect("subscription");
    sub
}

/// A publish with a lease hands out its deliveries, leased, up to `max_in_flight`; the rest
/// are left for claims, and claims see the handed-out ones as in flight.
pub async fn publish_and_lease_hands_out_up_to_max_in_flight<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = sub_with(store, &tenant.id, 2, None).await;
    let mut handed = Vec::new();
    for n in 0..3 {
        let accepted = store
            .publish_and_lease(&event("a.b", Some(&tenant.id), n), &lease(n))
            .await
            .expect("publish_and_lease");
        assert_eq!(accepted.published.deliveries, 1);
        handed.extend(accepted.jobs);
    }
    // A backend may hand out fewer, never more.
    assert!(handed.len() <= 2, "max_in_flight is 2: {}", handed.len());
    for job in &handed {
        assert_eq!(job.subscription.id, sub.id);
        assert_eq!(job.delivery.attempts, 0);
        assert_eq!(job.event.id, job.delivery.event_id);
        assert!(
            claim_ids(store, &claim(5))
                .await
                .iter()
                .all(|id| *id != job.delivery.id)
        );
    }
    // Whatever was not handed out is claimable, within what the leases leave free.
    let claimed = claim_ids(store, &claim(10)).await;
    assert_eq!(handed.len() + claimed.len(), 2, "2 in flight in all");
    // Finishing those frees both places: the third delivery is claimed, and only it.
    let taken: Vec<DeliveryId> = handed
        .iter()
        .map(|j| j.delivery.id.clone())
        .chain(claimed)
        .collect();
    for id in &taken {
        let done = attempt(id, 11, Some(200), AttemptTrigger::Scheduled);
        store
            .complete_attempt(&done, &finished(DeliveryStatus::Succeeded))
            .await
            .expect("complete");
    }
    let rest = claim_ids(store, &claim(12)).await;
    assert_eq!(rest.len(), 1);
    assert!(!taken.contains(&rest[0]));
}

/// A publish with a wider `lease_window` hands out up to `max_in_flight × lease_window`,
/// under the same count as claims with that window.
pub async fn publish_and_lease_hands_out_up_to_the_lease_window<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    sub_with(store, &tenant.id, 2, None).await;
    let windowed = |now| PublishLease {
        lease_window: 2,
        ..lease(now)
    };
    let mut handed = Vec::new();
    for n in 0..5 {
        let accepted = store
            .publish_and_lease(&event("a.b", Some(&tenant.id), n), &windowed(n))
            .await
            .expect("publish_and_lease");
        handed.extend(accepted.jobs);
    }
    // A backend may hand out fewer, never more.
    assert!(handed.len() <= 4, "2 × max_in_flight 2: {}", handed.len());
    let windowed_claim = Claim {
        lease_window: 2,
        ..claim(10)
    };
    let claimed = claim_ids(store, &windowed_claim).await;
    assert_eq!(handed.len() + claimed.len(), 4, "4 leased in all");
    assert!(
        claimed
            .iter()
            .all(|id| handed.iter().all(|j| j.delivery.id != *id))
    );
    assert!(
        store
            .publish_and_lease(&event("a.b", Some(&tenant.id), 11), &windowed(11))
            .await
            .expect("publish_and_lease")
            .jobs
            .is_empty(),
        "the window is full"
    );
}

/// Paused and rate-limited subscriptions get nothing handed out: paused ones are not sent
/// to, and rate slots are handed out by claims only.
pub async fn publish_and_lease_skips_paused_and_rate_limited_subscriptions<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut paused = sub_with(store, &tenant.id, 16, None).await;
    paused.status = SubscriptionStatus::Paused;
    assert!(store.update_subscription(&paused).await.expect("pause"));
    sub_with(store, &tenant.id, 16, Some(5)).await;
    let accepted = store
        .publish_and_lease(&event("a.b", Some(&tenant.id), 0), &lease(0))
        .await
        .expect("publish_and_lease");
    assert_eq!(accepted.published.deliveries, 2);
    assert!(accepted.jobs.is_empty());
    assert_eq!(
        claim_ids(store, &claim(1)).await.len(),
        1,
        "the rate-limited one"
    );
}

/// A repeated idempotency key hands nothing out (nothing new was created).
pub async fn publish_and_lease_hands_out_nothing_for_a_duplicate<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    sub_with(store, &tenant.id, 16, None).await;
    let mut first = event("a.b", Some(&tenant.id), 0);
    first.idempotency_key = Some("k".into());
    let mut again = event("a.b", Some(&tenant.id), 1);
    again.idempotency_key = Some("k".into());
    let a = store
        .publish_and_lease(&first, &lease(0))
        .await
        .expect("first");
    let b = store
        .publish_and_lease(&again, &lease(1))
        .await
        .expect("again");
    assert!(b.published.duplicate);
    assert_eq!(b.published.event_id, a.published.event_id);
    assert!(b.jobs.is_empty());
}

/// Many attempts recorded at once (batched together by SQLite's writer) are each recorded
/// against their own delivery, and each delivery moves on and is released.
pub async fn concurrent_completions_are_each_recorded<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    sub_with(store, &tenant.id, 64, None).await;
    for n in 0..20 {
        publish(store, "a.b", Some(&tenant.id), n).await;
    }
    let jobs = store.claim_due(&claim(30)).await.expect("claim");
    assert_eq!(jobs.len(), 20);
    let completions = jobs.iter().enumerate().map(|(n, job)| async move {
        let (status, progress) = if n % 2 == 0 {
            (Some(200), finished(DeliveryStatus::Succeeded))
        } else {
            (Some(500), retry_at(100))
        };
        let attempt = attempt(&job.delivery.id, 31, status, AttemptTrigger::Scheduled);
        store
            .complete_attempt(&attempt, &progress)
            .await
            .expect("complete");
    });
    futures_join_all(completions).await;
    for (n, job) in jobs.iter().enumerate() {
        let delivery = store
            .get_delivery(&job.delivery.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(delivery.attempts, 1);
        assert_eq!(delivery.scheduled_attempts, 1);
        let expected = if n % 2 == 0 {
            DeliveryStatus::Succeeded
        } else {
            DeliveryStatus::Pending
        };
        assert_eq!(delivery.status, expected);
        let attempts = store
            .list_attempts(&job.delivery.id)
            .await
            .expect("attempts");
        assert_eq!(attempts.len(), 1);
    }
    // Released: the failed ones are claimable again when due.
    assert_eq!(claim_ids(store, &claim(100)).await.len(), 10);
}

/// Publishes that arrive together (which PostgreSQL writes in one transaction) each get the
/// answer they would get alone: one event per idempotency key whichever call wins, the same
/// event and delivery count for every repeat, and every unkeyed event its own.
pub async fn concurrent_publishes_make_one_event_per_idempotency_key<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    sub_with(store, &tenant.id, 64, None).await;
    let mut second = subscription(&tenant.id, &["a.*"]);
    second.max_in_flight = 64;
    store
        .create_subscription(&second)
        .await
        .expect("subscription");
    let events: Vec<Event> = (0..60)
        .map(|n| {
            let event_type = if n % 5 == 4 { "z.other" } else { "a.b" };
            let mut e = event(event_type, Some(&tenant.id), n);
            if n < 40 {
                e.idempotency_key = Some(format!("key-{}", n % 8));
            }
            e
        })
        .collect();
    let answers = std::sync::Mutex::new(Vec::new());
    futures_join_all(events.iter().map(|e| async {
        let published = store.publish(e).await.expect("publish");
        answers
            .lock()
            .expect("answers")
            .push((e.clone(), published));
    }))
    .await;
    let answers = answers.into_inner().expect("answers");
    let mut by_key: std::collections::BTreeMap<String, Vec<Published>> = Default::default();
    for (e, published) in &answers {
        match &e.idempotency_key {
            Some(key) => by_key
                .entry(key.clone())
                .or_default()
                .push(published.clone()),
            None => {
                assert!(!published.duplicate);
                assert_eq!(published.event_id, e.id);
                let expected = if e.event_type == "a.b" { 2 } else { 1 };
                assert_eq!(published.deliveries, expected, "{}", e.event_type);
            }
        }
    }
    assert_eq!(by_key.len(), 8);
    for (key, answers) in &by_key {
        assert_eq!(answers.len(), 5, "{key}");
        assert_eq!(answers.iter().filter(|p| !p.duplicate).count(), 1, "{key}");
        let first = &answers[0];
        assert!(
            answers.iter().all(|p| p.event_id == first.event_id),
            "{key}"
        );
        let stored = store
            .get_event(&first.event_id)
            .await
            .expect("get")
            .expect("kept");
        let deliveries = deliveries_of(store, &first.event_id).await.len() as u64;
        assert!(
            answers.iter().all(|p| p.deliveries == deliveries),
            "{key}: {answers:?}"
        );
        let expected = if stored.event_type == "a.b" { 2 } else { 1 };
        assert_eq!(deliveries, expected, "{key}");
    }
    let all = store
        .list_events(&EventFilter::default(), &page(100, None))
        .await
        .expect("events");
    assert_eq!(
        all.items.len(),
        8 + 20,
        "one event per key, and every unkeyed one"
    );
}

/// Publishes with a lease that arrive together never hand out more than the subscription's
/// free room between them, and every delivery is either handed out or claimable.
pub async fn concurrent_publish_and_lease_hands_out_at_most_max_in_flight<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    sub_with(store, &tenant.id, 4, None).await;
    let events: Vec<Event> = (0..40).map(|_| event("a.b", Some(&tenant.id), 0)).collect();
    let handed = std::sync::Mutex::new(0usize);
    futures_join_all(events.iter().map(|e| async {
        let accepted = store
            .publish_and_lease(e, &lease(0))
            .await
            .expect("publish_and_lease");
        assert_eq!(accepted.published.deliveries, 1);
        assert!(accepted.jobs.iter().all(|job| job.event.id == e.id));
        *handed.lock().expect("handed") += accepted.jobs.len();
    }))
    .await;
    let handed = handed.into_inner().expect("handed");
    assert!(handed <= 4, "max_in_flight is 4, handed out {handed}");
    let claimed = claim_ids(store, &claim(10)).await;
    assert_eq!(handed + claimed.len(), 4, "4 in flight in all");
}

/// Runs the futures concurrently (the store crate has no `futures` dependency), so every
/// `complete_attempt` is queued before any is answered.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut slots: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.map(|future| Some(Box::pin(future))).collect();
    std::future::poll_fn(|cx| {
        for slot in slots.iter_mut() {
            if let Some(future) = slot
                && future.as_mut().poll(cx).is_ready()
            {
                *slot = None;
            }
        }
        if slots.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
