//! Conformance cases for the Hub's sign-in sessions: they resolve to who signed in until they
//! expire, sign-out ends them, and they go with their tenant.

use super::{at, new_tenant};
use crate::seam::Store;

/// An operator session and a tenant session each resolve to who signed in, until they
/// expire; deleting one ends it and leaves the other.
pub async fn hub_session_resolves_until_it_expires_or_is_deleted<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    store
        .insert_hub_session("operator", None, at(0), at(3600))
        .await
        .unwrap();
    store
        .insert_hub_session("tenant", Some(&acme.id), at(0), at(3600))
        .await
        .unwrap();
    let operator = store
        .hub_session("operator", at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(operator.tenant_id, None);
    assert_eq!(operator.expires_at, at(3600));
    let tenant = store.hub_session("tenant", at(10)).await.unwrap().unwrap();
    assert_eq!(tenant.tenant_id, Some(acme.id.clone()));
    assert_eq!(store.hub_session("tenant", at(3600)).await.unwrap(), None);
    assert_eq!(store.hub_session("unknown", at(10)).await.unwrap(), None);
    assert!(store.delete_hub_session("operator").await.unwrap());
    assert_eq!(store.hub_session("operator", at(10)).await.unwrap(), None);
    assert!(!store.delete_hub_session("operator").await.unwrap());
    assert!(store.hub_session("tenant", at(10)).await.unwrap().is_some());
}

/// A sign-in sweeps sessions that have expired, and deleting a tenant ends its sessions.
pub async fn hub_sessions_are_swept_when_expired_and_go_with_their_tenant<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    store
        .insert_hub_session("old", None, at(0), at(60))
        .await
        .unwrap();
    store
        .insert_hub_session("acme", Some(&acme.id), at(0), at(3600))
        .await
        .unwrap();
    store
        .insert_hub_session("new", None, at(120), at(3600))
        .await
        .unwrap();
    // Swept: deleting it again finds nothing.
    assert!(!store.delete_hub_session("old").await.unwrap());
    assert!(store.delete_tenant(&acme.id).await.unwrap());
    assert_eq!(store.hub_session("acme", at(130)).await.unwrap(), None);
    assert!(store.hub_session("new", at(130)).await.unwrap().is_some());
}

/// An id of `prefix` made at [`at`]`(seconds)` (ids begin with their time, as UUIDv7 do).
fn id_at(prefix: &str, seconds: i64) -> String {
    let millis = at(seconds).unix_timestamp_nanos() / 1_000_000;
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{millis:012x}{}", &random[..20])
}

/// Publishes an event of `tenant` (None: a broadcast) made at `seconds`; its deliveries.
async fn publish_at<S: Store>(
    store: &S,
    tenant: Option<&crate::ids::TenantId>,
    seconds: i64,
) -> Vec<crate::model::Delivery> {
    let mut event = super::event("order.created", tenant, seconds);
    event.id = crate::ids::EventId::from_trusted(id_at(crate::ids::EventId::PREFIX, seconds));
    store.publish(&event).await.unwrap();
    super::deliveries_of(store, &event.id).await
}

/// Records an attempt of `delivery` at `seconds` answered `status` (None: a timeout).
async fn attempt_at<S: Store>(
    store: &S,
    delivery: &crate::model::Delivery,
    seconds: i64,
    status: Option<u16>,
) {
    let mut attempt = super::attempt(
        &delivery.id,
        seconds,
        status,
        crate::model::AttemptTrigger::Scheduled,
    );
    attempt.id = crate::ids::AttemptId::from_trusted(id_at(crate::ids::AttemptId::PREFIX, seconds));
    let done = if attempt.succeeded() {
        crate::model::DeliveryStatus::Succeeded
    } else {
        crate::model::DeliveryStatus::Failed
    };
    store
        .complete_attempt(&attempt, &super::finished(done))
        .await
        .unwrap();
}

/// Activity counts events and attempts per bucket from `since`, for every tenant or one
/// (its own events and broadcasts, its own attempts).
pub async fn activity_counts_events_and_attempts_per_bucket_and_tenant<S: Store>(store: &S) {
    use crate::hub::{ActivityBucket, ActivityQuery};
    let acme = new_tenant(store, "Acme").await;
    let other = new_tenant(store, "Other").await;
    super::new_subscription(store, &acme.id, &["order.*"]).await;
    super::new_subscription(store, &other.id, &["order.*"]).await;
    let first = publish_at(store, Some(&acme.id), 10).await;
    let second = publish_at(store, Some(&other.id), 70).await;
    let broadcast = publish_at(store, None, 130).await;
    attempt_at(store, &first[0], 20, Some(200)).await;
    attempt_at(store, &second[0], 80, Some(500)).await;
    let to_acme = broadcast.iter().find(|d| d.tenant_id == acme.id).unwrap();
    let to_other = broadcast.iter().find(|d| d.tenant_id == other.id).unwrap();
    attempt_at(store, to_acme, 140, Some(200)).await;
    attempt_at(store, to_other, 150, None).await;

    let every = ActivityQuery {
        since: at(0),
        bucket_seconds: 60,
        tenant_id: None,
    };
    let bucket = |bucket, events, succeeded, failed| ActivityBucket {
        bucket,
        events,
        succeeded,
        failed,
        duration_ms_sum: 42 * (succeeded + failed),
        duration_ms_max: if succeeded + failed > 0 { 42 } else { 0 },
    };
    assert_eq!(
        store.activity(&every).await.unwrap(),
        vec![bucket(0, 1, 1, 0), bucket(1, 1, 0, 1), bucket(2, 1, 1, 1)]
    );
    let acme_only = ActivityQuery {
        tenant_id: Some(acme.id.clone()),
        ..every.clone()
    };
    assert_eq!(
        store.activity(&acme_only).await.unwrap(),
        vec![bucket(0, 1, 1, 0), bucket(2, 1, 1, 0)]
    );
    let later = ActivityQuery {
        since: at(60),
        ..every
    };
    assert_eq!(
        store.activity(&later).await.unwrap(),
        vec![bucket(0, 1, 0, 1), bucket(1, 1, 1, 1)]
    );
}

/// A subscription is failing when its latest attempt in the window failed; newest failure
/// first, per tenant or for all.
pub async fn failing_subscriptions_are_those_whose_latest_attempt_failed<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let other = new_tenant(store, "Other").await;
    let acme_sub = super::new_subscription(store, &acme.id, &["order.*"]).await;
    let other_sub = super::new_subscription(store, &other.id, &["order.*"]).await;
    let broadcast = publish_at(store, None, 10).await;
    let to_acme = broadcast.iter().find(|d| d.tenant_id == acme.id).unwrap();
    let to_other = broadcast.iter().find(|d| d.tenant_id == other.id).unwrap();
    attempt_at(store, to_acme, 20, Some(500)).await;
    attempt_at(store, to_acme, 30, Some(200)).await;
    attempt_at(store, to_other, 40, None).await;

    let failing = store.failing_subscriptions(at(0), None, 10).await.unwrap();
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert_eq!(failing[0].subscription_id, other_sub.id);
    assert_eq!(failing[0].tenant_id, other.id);
    assert_eq!(failing[0].last_attempt_at, at(40));
    assert_eq!(failing[0].error, Some(crate::model::AttemptError::Timeout));
    assert_eq!(failing[0].response_status, None);
    assert!(
        store
            .failing_subscriptions(at(0), Some(&acme.id), 10)
            .await
            .unwrap()
            .is_empty()
    );

    attempt_at(store, to_acme, 50, Some(503)).await;
    let failing = store.failing_subscriptions(at(0), None, 10).await.unwrap();
    let ids: Vec<_> = failing.iter().map(|f| f.subscription_id.clone()).collect();
    assert_eq!(ids, vec![acme_sub.id.clone(), other_sub.id.clone()]);
    assert_eq!(failing[0].response_status, Some(503));
    assert_eq!(
        store
            .failing_subscriptions(at(0), None, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    // Outside the window, nothing is failing.
    assert!(
        store
            .failing_subscriptions(at(60), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A running recovery at `since`, leased until `lease_until`.
fn running_recovery(
    id: &str,
    sub: &crate::model::Subscription,
    since: time::OffsetDateTime,
    lease_until: Option<time::OffsetDateTime>,
) -> crate::recovery::Recovery {
    crate::recovery::Recovery {
        id: id.to_owned(),
        subscription_id: sub.id.clone(),
        tenant_id: sub.tenant_id.clone(),
        since,
        status: crate::recovery::RecoveryStatus::Running,
        total: 3,
        requeued: 0,
        created_at: at(100),
        updated_at: at(100),
        requeued_through: None,
        lease_until,
    }
}

/// A recovery requeues a subscription's failed deliveries since a time, a batch per step,
/// and only those; each step moves its cursor in the same transaction, so a delivery that
/// failed again after it was requeued is not requeued a second time by the same recovery.
pub async fn recovery_requeues_failed_deliveries_in_batches_and_keeps_progress<S: Store>(
    store: &S,
) {
    use crate::model::DeliveryStatus;
    use crate::recovery::RecoveryStatus;
    let acme = new_tenant(store, "Acme").await;
    let sub = super::new_subscription(store, &acme.id, &["order.*"]).await;
    let other = super::new_subscription(store, &acme.id, &["invoice.*"]).await;
    let mut failed = Vec::new();
    for n in 0..3 {
        let delivery = publish_at(store, Some(&acme.id), n).await.remove(0);
        attempt_at(store, &delivery, n + 1, Some(500)).await;
        failed.push(delivery);
    }
    failed.sort_by(|a, b| a.id.cmp(&b.id));
    let succeeded = publish_at(store, Some(&acme.id), 5).await.remove(0);
    attempt_at(store, &succeeded, 6, Some(200)).await;
    let mut elsewhere = super::event("invoice.paid", Some(&acme.id), 7);
    elsewhere.id = crate::ids::EventId::generate();
    store.publish(&elsewhere).await.unwrap();
    let elsewhere = super::only_delivery(store, &elsewhere.id).await;
    attempt_at(store, &elsewhere, 8, Some(500)).await;

    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    let future = at(10 * 365 * 86400);
    assert_eq!(
        store.count_failed_deliveries(&sub.id, epoch).await.unwrap(),
        3
    );
    assert_eq!(
        store
            .count_failed_deliveries(&sub.id, future)
            .await
            .unwrap(),
        0
    );
    let none_since = running_recovery("rcv_0000", &sub, future, Some(at(130)));
    store.start_recovery(&none_since).await.unwrap();
    let done = store
        .recovery_step("rcv_0000", at(100), at(130), 10)
        .await
        .unwrap()
        .expect("it was running");
    assert_eq!((done.status, done.requeued), (RecoveryStatus::Done, 0));

    let recovery = running_recovery("rcv_0001", &sub, epoch, Some(at(130)));
    store.start_recovery(&recovery).await.unwrap();
    assert_eq!(
        store.get_recovery("rcv_0001").await.unwrap(),
        Some(recovery.clone())
    );
    let first = store
        .recovery_step("rcv_0001", at(100), at(140), 2)
        .await
        .unwrap()
        .expect("running");
    assert_eq!(first.status, RecoveryStatus::Running);
    assert_eq!(first.requeued, 2);
    assert_eq!(first.requeued_through.as_ref(), Some(&failed[1].id));
    assert_eq!(
        first.lease_until,
        Some(at(140)),
        "the step renewed the lease"
    );
    for delivery in &failed[..2] {
        let delivery = store.get_delivery(&delivery.id).await.unwrap().unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Pending);
        assert_eq!(delivery.next_attempt_at, Some(at(100)));
    }
    // The first requeued delivery fails again before the recovery goes on: it is behind the
    // cursor, so the rest of this recovery leaves it alone.
    attempt_at(store, &failed[0], 50, Some(500)).await;
    let last = store
        .recovery_step("rcv_0001", at(101), at(141), 2)
        .await
        .unwrap()
        .expect("running");
    assert_eq!(
        (last.status, last.requeued, last.updated_at),
        (RecoveryStatus::Done, 3, at(101))
    );
    assert_eq!(last.requeued_through.as_ref(), Some(&failed[2].id));
    let again = store.get_delivery(&failed[0].id).await.unwrap().unwrap();
    assert_eq!(again.status, DeliveryStatus::Failed, "never requeued twice");
    let third = store.get_delivery(&failed[2].id).await.unwrap().unwrap();
    assert_eq!(third.status, DeliveryStatus::Pending);
    assert_eq!(
        store
            .recovery_step("rcv_0001", at(102), at(142), 2)
            .await
            .unwrap(),
        None,
        "a done recovery takes no more steps"
    );
    let untouched = store.get_delivery(&succeeded.id).await.unwrap().unwrap();
    assert_eq!(untouched.status, DeliveryStatus::Succeeded);
    let other_sub = store.get_delivery(&elsewhere.id).await.unwrap().unwrap();
    assert_eq!(other_sub.status, DeliveryStatus::Failed);
    assert_eq!(other_sub.subscription_id, other.id);

    assert_eq!(store.latest_recovery(&sub.id).await.unwrap(), Some(last));
    assert_eq!(store.latest_recovery(&other.id).await.unwrap(), None);
    assert_eq!(store.get_recovery("rcv_none").await.unwrap(), None);
    assert!(store.delete_subscription(&sub.id).await.unwrap());
    assert_eq!(store.get_recovery("rcv_0001").await.unwrap(), None);
    assert_eq!(
        store
            .recovery_step("rcv_0001", at(103), at(143), 2)
            .await
            .unwrap(),
        None
    );
}

/// A running recovery whose lease ended is claimed by one node and leased anew; one still
/// leased, or done, is not; of two nodes claiming at once, one gets it.
pub async fn stalled_recoveries_are_claimed_once_their_lease_ends<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let sub = super::new_subscription(store, &acme.id, &["order.*"]).await;
    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    store
        .start_recovery(&running_recovery("rcv_0001", &sub, epoch, Some(at(100))))
        .await
        .unwrap();
    // From before leases were kept: never leased, so claimable at once.
    store
        .start_recovery(&running_recovery("rcv_0002", &sub, epoch, None))
        .await
        .unwrap();
    let mut finished = running_recovery("rcv_0003", &sub, epoch, Some(at(10)));
    finished.status = crate::recovery::RecoveryStatus::Done;
    store.start_recovery(&finished).await.unwrap();

    let early = store.claim_stalled_recovery(at(50), at(300)).await.unwrap();
    assert_eq!(
        early.map(|r| (r.id, r.lease_until)),
        Some(("rcv_0002".to_owned(), Some(at(300))))
    );
    assert_eq!(
        store.claim_stalled_recovery(at(60), at(90)).await.unwrap(),
        None,
        "both still leased"
    );
    // At 100 only rcv_0001's lease has ended: two nodes asking at once, one gets it.
    let (a, b) = tokio::join!(
        store.claim_stalled_recovery(at(100), at(200)),
        store.claim_stalled_recovery(at(100), at(200)),
    );
    let claimed: Vec<String> = [a.unwrap(), b.unwrap()]
        .into_iter()
        .flatten()
        .map(|r| r.id)
        .collect();
    assert_eq!(claimed, vec!["rcv_0001".to_owned()], "claimed exactly once");
    assert_eq!(
        store
            .claim_stalled_recovery(at(150), at(250))
            .await
            .unwrap(),
        None
    );
    // At 300 both leases have ended: each is claimed once more, oldest first.
    let mut later = Vec::new();
    while let Some(claimed) = store
        .claim_stalled_recovery(at(300), at(400))
        .await
        .unwrap()
    {
        later.push(claimed.id);
        assert!(later.len() <= 2, "claimed again while leased: {later:?}");
    }
    assert_eq!(later, vec!["rcv_0001".to_owned(), "rcv_0002".to_owned()]);
}

/// Support requests round-trip, list newest first per tenant or for all (open only or
/// not), take an answer and a status, and go with their tenant.
pub async fn support_requests_are_filed_listed_answered_and_closed<S: Store>(store: &S) {
    use crate::model::PageRequest;
    use crate::support::{SupportRequest, SupportStatus};
    let acme = new_tenant(store, "Acme").await;
    let other = new_tenant(store, "Other").await;
    let request = |n: i64, tenant: &crate::ids::TenantId| SupportRequest {
        id: format!("sup_{n:04}"),
        tenant_id: tenant.clone(),
        subscription_id: (n == 1).then(crate::ids::SubscriptionId::generate),
        status: SupportStatus::Open,
        message: format!("help {n}"),
        diagnostics_json: r#"{"attempts":[]}"#.to_owned(),
        answer: None,
        created_at: at(n),
        updated_at: at(n),
    };
    let first = request(1, &acme.id);
    store.create_support_request(&first).await.unwrap();
    store
        .create_support_request(&request(2, &acme.id))
        .await
        .unwrap();
    store
        .create_support_request(&request(3, &other.id))
        .await
        .unwrap();
    assert_eq!(
        store.get_support_request("sup_0001").await.unwrap(),
        Some(first)
    );
    assert_eq!(store.get_support_request("sup_none").await.unwrap(), None);

    let all = PageRequest {
        cursor: None,
        limit: 10,
    };
    let ids = |page: crate::model::Page<SupportRequest>| -> Vec<String> {
        page.items.into_iter().map(|r| r.id).collect()
    };
    let every = store
        .list_support_requests(None, false, &all)
        .await
        .unwrap();
    assert_eq!(ids(every), ["sup_0003", "sup_0002", "sup_0001"]);
    let acme_only = store
        .list_support_requests(Some(&acme.id), false, &all)
        .await
        .unwrap();
    assert_eq!(ids(acme_only), ["sup_0002", "sup_0001"]);
    let one = PageRequest {
        cursor: None,
        limit: 1,
    };
    let page = store
        .list_support_requests(None, false, &one)
        .await
        .unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("sup_0003"));
    let next = PageRequest {
        cursor: page.next_cursor,
        limit: 1,
    };
    let page = store
        .list_support_requests(None, false, &next)
        .await
        .unwrap();
    assert_eq!(ids(page), ["sup_0002"]);

    let answered = store
        .answer_support_request(
            "sup_0002",
            Some("Try again now."),
            SupportStatus::Answered,
            at(50),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answered.answer.as_deref(), Some("Try again now."));
    assert_eq!(
        (answered.status, answered.updated_at),
        (SupportStatus::Answered, at(50))
    );
    let closed = store
        .answer_support_request("sup_0002", None, SupportStatus::Closed, at(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        closed.answer.as_deref(),
        Some("Try again now."),
        "the answer stays"
    );
    assert_eq!(closed.status, SupportStatus::Closed);
    let open = store.list_support_requests(None, true, &all).await.unwrap();
    assert_eq!(ids(open), ["sup_0003", "sup_0001"]);
    assert_eq!(
        store
            .answer_support_request("sup_none", None, SupportStatus::Closed, at(60))
            .await
            .unwrap(),
        None
    );
    assert!(store.delete_tenant(&acme.id).await.unwrap());
    let left = store
        .list_support_requests(None, false, &all)
        .await
        .unwrap();
    assert_eq!(ids(left), ["sup_0003"]);
}
