//! Cases for what follows a claim: manual leases, recorded attempts, released leases, the
//! queue's figures, and deletes that cascade through deliveries and attempts.

use super::*;
use crate::error::StoreError;

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
        .items
        .into_iter()
        .map(|s| s.delivery)
        .collect::<Vec<_>>();
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

/// A deliveries page carries each delivery's subscription URL and its latest attempt (by
/// start time), read by the list itself so that a list needs no query per row; a delivery
/// never attempted has no latest attempt.
pub async fn deliveries_list_shows_the_subscription_url_and_the_latest_attempt<S: Store>(
    store: &S,
) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    let tried = publish(store, "a.b", None, 0).await.event_id;
    let untried = publish(store, "a.b", None, 1).await.event_id;
    let delivery = only_delivery(store, &tried).await;
    for (started, status, next) in [(2, Some(500), 10), (10, None, 20)] {
        store
            .lease_delivery(&delivery.id, at(started), at(started + 60))
            .await
            .unwrap();
        let failed = attempt(&delivery.id, started, status, AttemptTrigger::Scheduled);
        store
            .complete_attempt(&failed, &retry_at(next))
            .await
            .unwrap();
    }

    let listed = store
        .list_deliveries(&DeliveryFilter::default(), &page(10, None))
        .await
        .unwrap()
        .items;
    let of = |event: &EventId| {
        listed
            .iter()
            .find(|s| &s.delivery.event_id == event)
            .expect("listed")
    };
    let tried = of(&tried);
    assert_eq!(tried.subscription_url.as_deref(), Some(sub.url.as_str()));
    let last = tried.last_attempt.as_ref().expect("a latest attempt");
    assert_eq!(
        (last.started_at, last.response_status, last.error),
        (at(10), None, Some(AttemptError::Timeout))
    );
    assert_eq!(
        last.error_message.as_deref(),
        Some("the endpoint did not accept it")
    );
    let untried = of(&untried);
    assert_eq!(untried.subscription_url.as_deref(), Some(sub.url.as_str()));
    assert_eq!(untried.last_attempt, None);
}

/// An attempt's response headers are written with the attempt and read back as they were
/// given, in order, by every read of attempts; an attempt without a response has none.
pub async fn attempt_response_headers_are_kept_in_order_and_read_back<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let event_id = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    let id = only_delivery(store, &event_id).await.id;
    store.lease_delivery(&id, at(0), at(30)).await.unwrap();
    let sent = [
        ("X-Request-Id", &b"abc-123"[..]),
        ("content-type", &b"text/plain; charset=utf-8"[..]),
        ("x-request-id", &b"second"[..]),
    ];
    let answered = Attempt {
        response_headers: Some(crate::ResponseHeaders::bounded(sent)),
        ..attempt(&id, 1, Some(500), AttemptTrigger::Scheduled)
    };
    store
        .complete_attempt(&answered, &retry_at(5))
        .await
        .unwrap();
    store.lease_delivery(&id, at(5), at(30)).await.unwrap();
    let timed_out = Attempt {
        response_headers: None,
        ..attempt(&id, 6, None, AttemptTrigger::Scheduled)
    };
    store
        .complete_attempt(&timed_out, &finished(DeliveryStatus::Failed))
        .await
        .unwrap();

    let listed = store.list_attempts(&id).await.unwrap();
    assert_eq!(listed, vec![answered.clone(), timed_out.clone()]);
    let pairs = listed[0]
        .response_headers
        .as_ref()
        .expect("headers")
        .pairs();
    let expected: Vec<(String, String)> = [
        ("x-request-id", "abc-123"),
        ("content-type", "text/plain; charset=utf-8"),
        ("x-request-id", "second"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(pairs, expected);
    assert_eq!(listed[1].response_headers, None);
    let page = PageRequest {
        cursor: None,
        limit: 10,
    };
    let paged = store.list_attempts_page(&id, &page).await.unwrap();
    assert_eq!(paged.items, vec![answered, timed_out]);
}
