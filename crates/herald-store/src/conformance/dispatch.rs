//! Cases for claiming: due times, paused subscriptions, leases, the limit and the fresh-first
//! order. Per-subscription limits (in flight, rate) are in [`super::limits`].

use super::*;

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

/// Each subscription gets at most its `max_in_flight` in one claim, whatever the limit.
pub async fn claim_due_caps_each_subscription_at_its_max_in_flight<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut narrow = subscription(&tenant.id, &["a.*"]);
    narrow.max_in_flight = 1;
    store.create_subscription(&narrow).await.unwrap();
    let mut two = subscription(&tenant.id, &["b.*"]);
    two.max_in_flight = 2;
    store.create_subscription(&two).await.unwrap();
    let wide = new_subscription(store, &tenant.id, &["c.*"]).await;
    for prefix in ["a", "b", "c"] {
        for n in 0..4 {
            publish(store, &format!("{prefix}.x"), Some(&tenant.id), n).await;
        }
    }
    let jobs = store.claim_due(&claim(10)).await.unwrap();
    let count = |id: &SubscriptionId| {
        jobs.iter()
            .filter(|j| &j.delivery.subscription_id == id)
            .count()
    };
    assert_eq!(
        (count(&narrow.id), count(&two.id), count(&wide.id)),
        (1, 2, 4)
    );
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

    let mut capped = sub.clone();
    capped.max_in_flight = 1;
    assert!(store.update_subscription(&capped).await.unwrap());
    assert_eq!(
        claim_ids(store, &claim(10)).await,
        vec![fresh.clone()],
        "max_in_flight 1 takes the fresh one"
    );
    store.release_all_leases().await.unwrap();
    assert!(store.update_subscription(&sub).await.unwrap());

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
