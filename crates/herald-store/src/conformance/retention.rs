//! Retention: old events go with their deliveries, attempts and idempotency keys, a batch at
//! a time, oldest first; an event with a pending delivery and a newer event always stay.

use super::*;

/// Publishes `event` and records one successful attempt on each of its deliveries.
async fn delivered<S: Store>(store: &S, event: &Event) {
    store.publish(event).await.expect("publish");
    for delivery in deliveries_of(store, &event.id).await {
        let attempt = attempt(&delivery.id, 5, Some(200), AttemptTrigger::Scheduled);
        store
            .complete_attempt(&attempt, &finished(DeliveryStatus::Succeeded))
            .await
            .expect("complete");
    }
}

/// Deleting old events: two finished ones go in batches of one (each with its two
/// deliveries and their attempts), one with a pending delivery stays, a newer one stays,
/// and the old events' idempotency keys can be used again.
pub async fn retention_deletes_old_finished_events_with_their_deliveries_and_attempts<S: Store>(
    store: &S,
) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let mut old = Vec::new();
    for (n, seconds) in [(1, 0), (2, 1)] {
        let event = Event {
            idempotency_key: Some(format!("key-{n}")),
            ..event("retention.test", Some(&tenant.id), seconds)
        };
        delivered(store, &event).await;
        old.push(event);
    }
    let pending = event("retention.test", Some(&tenant.id), 2);
    store.publish(&pending).await.expect("publish");
    let newer = event("retention.test", Some(&tenant.id), 100_000);
    delivered(store, &newer).await;

    let before = at(50_000);
    let one = RetentionDeleted {
        events: 1,
        deliveries: 2,
        attempts: 2,
    };
    assert_eq!(store.delete_old_events(before, 1).await.unwrap(), one);
    assert_eq!(store.delete_old_events(before, 10).await.unwrap(), one);
    assert_eq!(
        store.delete_old_events(before, 10).await.unwrap(),
        RetentionDeleted::default()
    );
    for event in &old {
        assert_eq!(store.get_event(&event.id).await.unwrap(), None);
        assert!(deliveries_of(store, &event.id).await.is_empty());
    }
    assert!(store.get_event(&pending.id).await.unwrap().is_some());
    assert_eq!(deliveries_of(store, &pending.id).await.len(), 2);
    assert!(store.get_event(&newer.id).await.unwrap().is_some());
    // The key went with its event.
    let again = Event {
        idempotency_key: Some("key-1".to_owned()),
        ..event("retention.test", Some(&tenant.id), 100_001)
    };
    assert!(!store.publish(&again).await.unwrap().duplicate);
}
