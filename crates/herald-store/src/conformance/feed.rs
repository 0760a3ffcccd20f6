//! Cases for the attempt feed (`attempts_between`): attempts oldest first with their
//! delivery's facts, strictly between two positions, narrowed by tenant, subscription, event
//! type and outcome, and paged so that following the positions loses and repeats nothing.

use super::*;
use crate::feed::{AttemptFeedFilter, AttemptOutcome, FeedPosition};

/// A position after every attempt a case makes (ids are made on the real clock).
fn later() -> FeedPosition {
    FeedPosition::at(OffsetDateTime::now_utc() + Duration::minutes(1))
}

/// A position before every attempt a case makes.
fn earlier() -> FeedPosition {
    FeedPosition::at(OffsetDateTime::now_utc() - Duration::minutes(1))
}

/// Publishes one event of `event_type` to `tenant`, claims its one delivery and records an
/// attempt that got `status`; returns the attempt.
async fn attempted<S: Store>(
    store: &S,
    tenant: &TenantId,
    event_type: &str,
    status: Option<u16>,
) -> Attempt {
    let event_id = publish(store, event_type, Some(tenant), 0).await.event_id;
    let delivery = only_delivery(store, &event_id).await;
    let job = store
        .lease_delivery(&delivery.id, at(0), at(60))
        .await
        .expect("lease")
        .expect("exists");
    let made = attempt(&job.delivery.id, 1, status, AttemptTrigger::Scheduled);
    let progress = if made.succeeded() {
        finished(DeliveryStatus::Succeeded)
    } else {
        retry_at(30)
    };
    store
        .complete_attempt(&made, &progress)
        .await
        .expect("complete");
    made
}

async fn feed_ids<S: Store>(store: &S, filter: &AttemptFeedFilter) -> Vec<AttemptId> {
    let page = store
        .attempts_between(&earlier(), &later(), filter, 100)
        .await
        .expect("feed");
    page.items.into_iter().map(|item| item.attempt.id).collect()
}

/// Each attempt comes back once, oldest first, as recorded, with its delivery's subscription,
/// tenant, event, status and next retry.
pub async fn feed_lists_attempts_oldest_first_with_their_delivery<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    let failed = attempted(store, &tenant.id, "a.failed", Some(500)).await;
    let ok = attempted(store, &tenant.id, "a.ok", Some(204)).await;

    let page = store
        .attempts_between(&earlier(), &later(), &AttemptFeedFilter::default(), 100)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let (first, second) = (&page.items[0], &page.items[1]);
    assert_eq!(first.attempt, failed);
    assert_eq!(second.attempt, ok);
    assert_eq!(first.subscription_id, sub.id);
    assert_eq!(first.tenant_id, tenant.id);
    assert_eq!(first.event_type, "a.failed");
    assert_eq!(first.delivery_status, DeliveryStatus::Pending);
    assert_eq!(first.next_attempt_at, Some(at(30)));
    assert_eq!(second.delivery_status, DeliveryStatus::Succeeded);
    assert_eq!(second.next_attempt_at, None);
    let delivery = store
        .get_delivery(&ok.delivery_id)
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(second.event_id, delivery.event_id);
}

/// An attempt followed by another of the same delivery shows that one's start as what came
/// next, whatever the delivery says now; the latest shows the delivery's own schedule.
pub async fn feed_shows_the_following_attempt_as_what_came_next<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let first = attempted(store, &tenant.id, "a.b", Some(500)).await;
    let second = attempt(&first.delivery_id, 7, Some(500), AttemptTrigger::Scheduled);
    store
        .complete_attempt(&second, &finished(DeliveryStatus::Failed))
        .await
        .unwrap();

    let page = store
        .attempts_between(&earlier(), &later(), &AttemptFeedFilter::default(), 100)
        .await
        .unwrap();
    let next: Vec<_> = page.items.iter().map(|i| i.next_attempt_at).collect();
    assert_eq!(next, vec![Some(at(7)), None]);
    assert_eq!(
        page.items[0].delivery_status,
        DeliveryStatus::Failed,
        "as read"
    );
}

/// Only attempts strictly between the two positions are read: an attempt is not read again
/// after its own position, nor before a position taken before it was made.
pub async fn feed_reads_only_between_the_two_positions<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let first = attempted(store, &tenant.id, "a.b", Some(500)).await;
    let second = attempted(store, &tenant.id, "a.b", Some(500)).await;
    let all = AttemptFeedFilter::default();

    let after_first = store
        .attempts_between(&FeedPosition::after(&first.id), &later(), &all, 100)
        .await
        .unwrap();
    let ids: Vec<_> = after_first.items.iter().map(|i| &i.attempt.id).collect();
    assert_eq!(ids, vec![&second.id]);

    let until_second = store
        .attempts_between(&earlier(), &FeedPosition::after(&second.id), &all, 100)
        .await
        .unwrap();
    let ids: Vec<_> = until_second.items.iter().map(|i| &i.attempt.id).collect();
    assert_eq!(ids, vec![&first.id], "`until` itself is excluded");

    let none = store
        .attempts_between(&earlier(), &earlier(), &all, 100)
        .await
        .unwrap();
    assert!(none.items.is_empty(), "nothing was made before `earlier`");
}

/// Every filter narrows the feed, and they combine.
pub async fn feed_filters_by_tenant_subscription_event_type_and_outcome<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let acme_sub = new_subscription(store, &acme.id, &["*"]).await;
    new_subscription(store, &globex.id, &["*"]).await;
    let acme_ok = attempted(store, &acme.id, "order.paid", Some(200)).await;
    let acme_failed = attempted(store, &acme.id, "order.sent", None).await;
    let globex_failed = attempted(store, &globex.id, "order.paid", Some(404)).await;

    let by_tenant = AttemptFeedFilter {
        tenant_id: Some(globex.id.clone()),
        ..Default::default()
    };
    assert_eq!(
        feed_ids(store, &by_tenant).await,
        vec![globex_failed.id.clone()]
    );
    let by_subscription = AttemptFeedFilter {
        subscription_id: Some(acme_sub.id.clone()),
        ..Default::default()
    };
    assert_eq!(
        feed_ids(store, &by_subscription).await,
        vec![acme_ok.id.clone(), acme_failed.id.clone()]
    );
    let by_type = AttemptFeedFilter {
        event_type: Some("order.paid".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        feed_ids(store, &by_type).await,
        vec![acme_ok.id.clone(), globex_failed.id.clone()]
    );
    let failed = AttemptFeedFilter {
        outcome: Some(AttemptOutcome::Failed),
        ..Default::default()
    };
    assert_eq!(
        feed_ids(store, &failed).await,
        vec![acme_failed.id.clone(), globex_failed.id.clone()]
    );
    let succeeded_for_acme = AttemptFeedFilter {
        tenant_id: Some(acme.id.clone()),
        outcome: Some(AttemptOutcome::Succeeded),
        ..Default::default()
    };
    assert_eq!(feed_ids(store, &succeeded_for_acme).await, vec![acme_ok.id]);
}

/// Following the positions page by page reads every attempt exactly once; a full page ends
/// at its last item, a short one at `until`.
pub async fn feed_pages_follow_positions_without_loss_or_repeat<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(attempted(store, &tenant.id, "a.b", Some(500)).await.id);
    }
    let until = later();
    let all = AttemptFeedFilter::default();
    let mut position = earlier();
    let mut read = Vec::new();
    for _ in 0..3 {
        let page = store
            .attempts_between(&position, &until, &all, 2)
            .await
            .unwrap();
        if page.items.len() == 2 {
            assert_eq!(
                page.position,
                FeedPosition::after(&page.items[1].attempt.id)
            );
        } else {
            assert_eq!(page.position, until, "a short page ends at `until`");
        }
        read.extend(page.items.into_iter().map(|i| i.attempt.id));
        position = page.position;
    }
    assert_eq!(read, made);
    let empty = store
        .attempts_between(&position, &until, &all, 2)
        .await
        .unwrap();
    assert!(empty.items.is_empty());
}
