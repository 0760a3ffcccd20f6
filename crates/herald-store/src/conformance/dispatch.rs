//! Cases for the dispatcher's side: claiming under leases and caps, attempts, queue figures,
//! and deletes that cascade.

use super::*;
use crate::error::StoreError;

/// Only deliveries whose `next_attempt_at` is at or before `now` are claimed.
pub async fn claim_due_takes_only_deliveries_that_are_due<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let now = publish(store, "a.b", Some(&tenant.id), 10).await.event_id;
    let later = publish(store, "a.b", Some(&tenant.id), 11).await.event_id;
    assert!(claim_ids(store, &claim(9)).await.is_empty());
    assert_eq!(
        claim_ids(store, &claim(10)).await,
        [only_delivery(store, &now).await.id]
    );
    assert_eq!(
        claim_ids(store, &claim(11)).await,
        [only_delivery(store, &later).await.id]
    );
}

/// A paused subscription's deliveries wait; on resume they are claimed.
pub async fn claim_due_skips_paused_subscriptions_until_resumed<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut sub = new_subscription(store, &tenant.id, &["*"]).await;
    sub.status = SubscriptionStatus::Paused;
    assert!(store.update_subscription(&sub).await.unwrap());
    let event_id = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    assert!(claim_ids(store, &claim(5)).await.is_empty());
    assert_eq!(
        store.next_due_at().await.unwrap(),
        None,
        "paused work is not due"
    );
    sub.status = SubscriptionStatus::Active;
    assert!(store.update_subscription(&sub).await.unwrap());
    assert_eq!(
        claim_ids(store, &claim(5)).await,
        [only_delivery(store, &event_id).await.id]
    );
}

/// A claimed delivery is leased: a second claim before the lease ends does not get it.
pub async fn claimed_delivery_is_not_claimed_again_while_leased<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    assert_eq!(claim_ids(store, &claim(0)).await.len(), 1);
    assert!(claim_ids(store, &claim(1)).await.is_empty());
    assert!(claim_ids(store, &claim(59)).await.is_empty());
}

/// When a lease ends without an attempt being recorded (its node died), the delivery is
/// claimed again.
pub async fn expired_lease_can_be_claimed_again<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    let first = claim_ids(store, &claim(0)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        claim_ids(store, &claim(60)).await,
        first,
        "the lease ran until 60"
    );
}

/// Per subscription: its entry in `per_subscription` when listed (even above its
/// `max_in_flight`), else the smaller of `default_per_subscription` and `max_in_flight`.
pub async fn claim_due_honours_per_subscription_caps<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let listed = new_subscription(store, &tenant.id, &["a.*"]).await;
    let mut narrow = subscription(&tenant.id, &["b.*"]);
    narrow.max_in_flight = 1;
    store.create_subscription(&narrow).await.unwrap();
    let wide = new_subscription(store, &tenant.id, &["c.*"]).await;
    let mut busy = subscription(&tenant.id, &["d.*"]);
    busy.max_in_flight = 1;
    store.create_subscription(&busy).await.unwrap();
    for prefix in ["a", "b", "c", "d"] {
        for n in 0..4 {
            publish(store, &format!("{prefix}.x"), Some(&tenant.id), n).await;
        }
    }
    let mut caps = claim(10);
    caps.per_subscription = BTreeMap::from([(listed.id.clone(), 2), (busy.id.clone(), 3)]);
    caps.default_per_subscription = 3;
    let jobs = store.claim_due(&caps).await.unwrap();
    let count = |id: &SubscriptionId| {
        jobs.iter()
            .filter(|j| &j.delivery.subscription_id == id)
            .count()
    };
    assert_eq!(count(&listed.id), 2, "its entry");
    assert_eq!(
        count(&narrow.id),
        1,
        "its max_in_flight, smaller than the default"
    );
    assert_eq!(
        count(&wide.id),
        3,
        "the default, smaller than its max_in_flight"
    );
    assert_eq!(
        count(&busy.id),
        3,
        "its entry, even above its max_in_flight"
    );

    let mut none_left = claim(10);
    none_left.lease_until = at(1000);
    none_left.per_subscription = BTreeMap::from([(listed.id.clone(), 0), (wide.id.clone(), 0)]);
    let jobs = store.claim_due(&none_left).await.unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.delivery.subscription_id != listed.id
                && j.delivery.subscription_id != wide.id)
    );
    // The caller subtracts what is in flight; unlisted, each gets min(default, max_in_flight).
    assert_eq!(jobs.len(), 2, "one more each for narrow and busy");
}

/// Deliveries never attempted come before retries, even retries due earlier, both across
/// the whole claim and within one subscription's cap.
pub async fn claim_due_puts_fresh_deliveries_before_retries<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    for id in claim_ids(store, &claim(0)).await {
        let failed = attempt(&id, 0, Some(500), AttemptTrigger::Scheduled);
        store.complete_attempt(&failed, &retry_at(5)).await.unwrap();
    }
    let fresh = publish(store, "a.b", Some(&tenant.id), 8).await.event_id;
    let fresh = only_delivery(store, &fresh).await.id;

    let mut one = claim(10);
    one.limit = 1;
    assert_eq!(
        claim_ids(store, &one).await,
        vec![fresh.clone()],
        "limit 1 takes the fresh one"
    );
    store.release_all_leases().await.unwrap();

    let mut capped = claim(10);
    capped.per_subscription = BTreeMap::from([(sub.id.clone(), 1)]);
    assert_eq!(
        claim_ids(store, &capped).await,
        vec![fresh.clone()],
        "cap 1 takes the fresh one"
    );
    store.release_all_leases().await.unwrap();

    let all = claim_ids(store, &claim(10)).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], fresh, "jobs come fresh first");
}

/// At most `limit` deliveries in all, oldest due first.
pub async fn claim_due_respects_the_limit<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let mut expected = Vec::new();
    for n in 0..5 {
        let event_id = publish(store, "a.b", Some(&tenant.id), 4 - n)
            .await
            .event_id;
        expected.push((4 - n, only_delivery(store, &event_id).await.id));
    }
    expected.sort();
    let mut three = claim(10);
    three.limit = 3;
    let claimed = claim_ids(store, &three).await;
    assert_eq!(
        claimed,
        expected
            .iter()
            .take(3)
            .map(|(_, id)| id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(claim_ids(store, &claim(10)).await.len(), 2);
}

/// A claimed job holds the delivery, its event and its subscription as stored.
pub async fn claimed_job_carries_its_event_and_subscription<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    let e = event("a.b", Some(&tenant.id), 0);
    store.publish(&e).await.unwrap();
    let jobs = store.claim_due(&claim(0)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.event, e);
    assert_eq!(job.subscription, sub);
    assert_eq!(job.delivery.event_id, e.id);
    assert_eq!(job.delivery.status, DeliveryStatus::Pending);
}

/// Succeeded and failed deliveries are never claimed, whatever their times.
pub async fn finished_deliveries_are_never_claimed<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    let ids = claim_ids(store, &claim(0)).await;
    let outcomes = [
        (DeliveryStatus::Succeeded, Some(200)),
        (DeliveryStatus::Failed, Some(500)),
    ];
    for (id, (status, code)) in ids.iter().zip(outcomes) {
        let progress = DeliveryProgress {
            status,
            next_attempt_at: Some(at(1)),
            counts_for_schedule: true,
        };
        store
            .complete_attempt(&attempt(id, 0, code, AttemptTrigger::Scheduled), &progress)
            .await
            .unwrap();
    }
    assert!(claim_ids(store, &claim(1000)).await.is_empty());
}

/// `lease_delivery` leases any delivery (even a finished one), refuses one leased by someone
/// else until that lease ends, and reads `None` for an unknown id.
pub async fn lease_delivery_conflicts_with_an_unexpired_lease<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    let event_id = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    let id = only_delivery(store, &event_id).await.id;

    let job = store
        .lease_delivery(&id, at(0), at(30))
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(
        (
            job.delivery.id.clone(),
            job.subscription.id.clone(),
            job.event.id.clone()
        ),
        (id.clone(), sub.id, event_id)
    );
    let err = store.lease_delivery(&id, at(29), at(90)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        claim_ids(store, &claim(10)).await.is_empty(),
        "the manual lease holds off claims"
    );

    let done = attempt(&id, 1, Some(200), AttemptTrigger::Redelivery);
    store
        .complete_attempt(&done, &finished(DeliveryStatus::Succeeded))
        .await
        .unwrap();
    assert!(
        store
            .lease_delivery(&id, at(2), at(40))
            .await
            .unwrap()
            .is_some(),
        "finished ones too"
    );
    assert!(
        store
            .lease_delivery(&id, at(40), at(80))
            .await
            .unwrap()
            .is_some(),
        "after the lease ends"
    );
    assert!(
        store
            .lease_delivery(&DeliveryId::generate(), at(0), at(30))
            .await
            .unwrap()
            .is_none()
    );
}

/// `complete_attempt` records the attempt as given, bumps `attempts`, sets status and next
/// time, and releases the lease.
pub async fn complete_attempt_records_the_attempt_moves_status_and_releases_the_lease<S: Store>(
    store: &S,
) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let event_id = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    let id = claim_ids(store, &claim(0)).await.pop().expect("claimed");

    let failed = attempt(&id, 0, Some(503), AttemptTrigger::Scheduled);
    store.complete_attempt(&failed, &retry_at(5)).await.unwrap();
    let delivery = only_delivery(store, &event_id).await;
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!((delivery.attempts, delivery.scheduled_attempts), (1, 1));
    assert_eq!(delivery.next_attempt_at, Some(at(5)));
    assert!(
        claim_ids(store, &claim(4)).await.is_empty(),
        "not due before 5"
    );
    assert_eq!(
        claim_ids(store, &claim(5)).await,
        vec![id.clone()],
        "lease released: due at 5"
    );

    let timeout = Attempt {
        response_status: None,
        response_body: None,
        ..attempt(&id, 5, None, AttemptTrigger::Scheduled)
    };
    store
        .complete_attempt(&timeout, &finished(DeliveryStatus::Failed))
        .await
        .unwrap();
    let delivery = only_delivery(store, &event_id).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(delivery.attempts, 2);
    assert_eq!(delivery.next_attempt_at, None);
    assert_eq!(
        store.list_attempts(&id).await.unwrap(),
        vec![failed, timeout]
    );
}

/// Redelivery and test attempts count as attempts but not against the retry schedule.
pub async fn only_scheduled_attempts_count_for_the_schedule<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let event_id = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    let id = only_delivery(store, &event_id).await.id;
    store.lease_delivery(&id, at(0), at(30)).await.unwrap();
    let manual = attempt(&id, 0, Some(200), AttemptTrigger::Redelivery);
    let progress = DeliveryProgress {
        status: DeliveryStatus::Succeeded,
        next_attempt_at: None,
        counts_for_schedule: false,
    };
    store.complete_attempt(&manual, &progress).await.unwrap();
    let delivery = store.get_delivery(&id).await.unwrap().expect("exists");
    assert_eq!((delivery.attempts, delivery.scheduled_attempts), (1, 0));
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
}

/// `release_all_leases` frees every leased delivery and says how many.
pub async fn release_all_leases_makes_claimed_deliveries_claimable<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    publish(store, "a.b", Some(&tenant.id), 0).await;
    let claimed = claim_ids(store, &claim(0)).await;
    assert_eq!(claimed.len(), 2);
    assert_eq!(store.release_all_leases().await.unwrap(), 2);
    assert_eq!(store.release_all_leases().await.unwrap(), 0);
    assert_eq!(claim_ids(store, &claim(1)).await, claimed);
}

/// `queue_stats` counts pending deliveries (paused and leased included) and the creation
/// time of the oldest.
pub async fn queue_stats_counts_pending_deliveries<S: Store>(store: &S) {
    assert_eq!(
        store.queue_stats().await.unwrap(),
        QueueStats {
            pending: 0,
            oldest_pending_created_at: None
        }
    );
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    publish(store, "a.b", Some(&tenant.id), 3).await;
    publish(store, "a.b", Some(&tenant.id), 5).await;
    let claimed = claim_ids(store, &claim(3)).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        store.queue_stats().await.unwrap(),
        QueueStats {
            pending: 2,
            oldest_pending_created_at: Some(at(3))
        }
    );
    let ok = attempt(&claimed[0], 3, Some(204), AttemptTrigger::Scheduled);
    store
        .complete_attempt(&ok, &finished(DeliveryStatus::Succeeded))
        .await
        .unwrap();
    assert_eq!(
        store.queue_stats().await.unwrap(),
        QueueStats {
            pending: 1,
            oldest_pending_created_at: Some(at(5))
        }
    );
}

/// `next_due_at` is the earliest time a pending delivery of an active subscription becomes
/// claimable: its due time, or the end of its lease when that is later.
pub async fn next_due_at_is_the_earliest_claimable_time<S: Store>(store: &S) {
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    publish(store, "a.b", Some(&tenant.id), 20).await;
    publish(store, "a.b", Some(&tenant.id), 10).await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(10)));
    let mut claim_one = claim(10);
    claim_one.limit = 1;
    claim_one.lease_until = at(40);
    let claimed = claim_ids(store, &claim_one).await;
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(at(20)),
        "the leased one waits until 40"
    );
    let failed = attempt(&claimed[0], 10, Some(500), AttemptTrigger::Scheduled);
    store
        .complete_attempt(&failed, &retry_at(15))
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(15)));
}

/// Deleting a subscription deletes its deliveries and their attempts, not other rows.
pub async fn deleting_a_subscription_removes_its_deliveries_and_attempts<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let doomed = new_subscription(store, &tenant.id, &["*"]).await;
    let kept = new_subscription(store, &tenant.id, &["*"]).await;
    let event_id = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    let jobs = store.claim_due(&claim(0)).await.unwrap();
    for job in &jobs {
        let failed = attempt(&job.delivery.id, 0, Some(500), AttemptTrigger::Scheduled);
        store.complete_attempt(&failed, &retry_at(5)).await.unwrap();
    }
    let doomed_delivery = jobs
        .iter()
        .find(|j| j.subscription.id == doomed.id)
        .expect("claimed")
        .delivery
        .id
        .clone();
    assert!(store.delete_subscription(&doomed.id).await.unwrap());
    assert_eq!(store.get_delivery(&doomed_delivery).await.unwrap(), None);
    assert!(
        store
            .list_attempts(&doomed_delivery)
            .await
            .unwrap()
            .is_empty()
    );
    let left = deliveries_of(store, &event_id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subscription_id, kept.id);
    assert_eq!(store.list_attempts(&left[0].id).await.unwrap().len(), 1);
    assert!(
        store.get_event(&event_id).await.unwrap().is_some(),
        "the event stays"
    );
}

/// Deleting a tenant deletes its subscriptions, their deliveries and attempts, its tokens and
/// the events addressed to it; other tenants' rows and broadcasts stay.
pub async fn deleting_a_tenant_removes_its_subscriptions_deliveries_tokens_and_events<S: Store>(
    store: &S,
) {
    let doomed = new_tenant(store, "Doomed").await;
    let other = new_tenant(store, "Other").await;
    let doomed_sub = new_subscription(store, &doomed.id, &["*"]).await;
    let other_sub = new_subscription(store, &other.id, &["*"]).await;
    store
        .insert_access_token("doomed-token", &doomed.id, at(3600))
        .await
        .unwrap();
    let own = publish(store, "a.b", Some(&doomed.id), 0).await.event_id;
    let broadcast = publish(store, "a.b", None, 0).await.event_id;
    for job in store.claim_due(&claim(0)).await.unwrap() {
        let failed = attempt(&job.delivery.id, 0, Some(500), AttemptTrigger::Scheduled);
        store.complete_attempt(&failed, &retry_at(5)).await.unwrap();
    }
    let doomed_deliveries = store
        .list_deliveries(
            &DeliveryFilter {
                tenant_id: Some(doomed.id.clone()),
                ..Default::default()
            },
            &page(10, None),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(doomed_deliveries.len(), 2);

    assert!(store.delete_tenant(&doomed.id).await.unwrap());
    assert_eq!(store.get_tenant(&doomed.id).await.unwrap(), None);
    assert_eq!(store.get_subscription(&doomed_sub.id).await.unwrap(), None);
    assert_eq!(
        store
            .access_token_tenant("doomed-token", at(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_event(&own).await.unwrap(), None);
    for delivery in &doomed_deliveries {
        assert_eq!(store.get_delivery(&delivery.id).await.unwrap(), None);
        assert!(store.list_attempts(&delivery.id).await.unwrap().is_empty());
    }
    assert!(store.get_event(&broadcast).await.unwrap().is_some());
    assert_eq!(
        store.get_subscription(&other_sub.id).await.unwrap(),
        Some(other_sub.clone())
    );
    let left = deliveries_of(store, &broadcast).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subscription_id, other_sub.id);
    assert_eq!(store.list_attempts(&left[0].id).await.unwrap().len(), 1);
    assert!(!store.delete_tenant(&doomed.id).await.unwrap());
}
