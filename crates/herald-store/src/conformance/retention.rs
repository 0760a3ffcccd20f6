//! Retention: old events go with their deliveries, attempts and idempotency keys, a batch at
//! a time, oldest first; an event with a pending delivery and a newer event always stay. A
//! tenant with a retention of its own is swept in its own scope, not the server's. Dropping
//! payloads empties old payloads and response bodies and keeps every row.

use super::*;
use crate::error::StoreError;

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
    assert_eq!(
        store
            .delete_old_events(&RetentionScope::Server, before, 1)
            .await
            .unwrap(),
        one
    );
    assert_eq!(
        store
            .delete_old_events(&RetentionScope::Server, before, 10)
            .await
            .unwrap(),
        one
    );
    assert_eq!(
        store
            .delete_old_events(&RetentionScope::Server, before, 10)
            .await
            .unwrap(),
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

/// The server's scope passes over the events of tenants with a retention of their own (0 or
/// longer), and a tenant's scope takes that tenant's events only; `tenant_retentions` lists
/// the tenants that have one, and setting it back to `None` returns a tenant to the server's.
pub async fn tenant_retention_scopes_its_events_apart_from_the_servers<S: Store>(store: &S) {
    let plain = new_tenant(store, "Plain").await;
    let short = new_tenant(store, "Short").await;
    let forever = new_tenant(store, "Forever").await;
    assert_eq!(
        store
            .set_tenant_retention(&short.id, Some(3600))
            .await
            .unwrap()
            .map(|t| t.retention_seconds),
        Some(Some(3600))
    );
    store
        .set_tenant_retention(&forever.id, Some(0))
        .await
        .unwrap();
    let missing = TenantId::generate();
    assert_eq!(
        store.set_tenant_retention(&missing, Some(1)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_tenant(&short.id)
            .await
            .unwrap()
            .unwrap()
            .retention_seconds,
        Some(3600)
    );
    let mut expected = vec![(short.id.clone(), 3600), (forever.id.clone(), 0)];
    expected.sort();
    let mut listed = store.tenant_retentions().await.unwrap();
    listed.sort();
    assert_eq!(listed, expected);

    let of = |tenant: &Tenant| event("retention.test", Some(&tenant.id), 0);
    let (plain_event, short_event, forever_event) = (of(&plain), of(&short), of(&forever));
    let broadcast = event("retention.test", None, 0);
    for event in [&plain_event, &short_event, &forever_event, &broadcast] {
        store.publish(event).await.expect("publish");
    }
    let before = at(10);
    let server = store
        .delete_old_events(&RetentionScope::Server, before, 10)
        .await
        .unwrap();
    assert_eq!(
        server.events, 2,
        "the plain tenant's event and the broadcast"
    );
    assert_eq!(store.get_event(&plain_event.id).await.unwrap(), None);
    assert_eq!(store.get_event(&broadcast.id).await.unwrap(), None);
    assert!(store.get_event(&short_event.id).await.unwrap().is_some());
    assert!(store.get_event(&forever_event.id).await.unwrap().is_some());

    let scope = RetentionScope::Tenant(short.id.clone());
    assert_eq!(
        store
            .delete_old_events(&scope, before, 10)
            .await
            .unwrap()
            .events,
        1
    );
    assert_eq!(store.get_event(&short_event.id).await.unwrap(), None);
    assert!(store.get_event(&forever_event.id).await.unwrap().is_some());

    // Back to the server's retention: the server's scope takes its events again.
    store.set_tenant_retention(&forever.id, None).await.unwrap();
    assert_eq!(
        store.tenant_retentions().await.unwrap(),
        vec![(short.id.clone(), 3600)]
    );
    assert_eq!(
        store
            .delete_old_events(&RetentionScope::Server, before, 10)
            .await
            .unwrap()
            .events,
        1
    );
    assert_eq!(store.get_event(&forever_event.id).await.unwrap(), None);
}

/// Dropping payloads: old finished events lose their payload and their attempts' response
/// bodies, a batch at a time, while the events, deliveries and attempts (status, times,
/// errors) stay; a pending event and a newer one keep theirs; emptied events are not counted
/// again; and a failed delivery of an emptied event is not requeued by a recovery.
pub async fn dropping_payloads_keeps_the_delivery_log<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    let failed = event("retention.test", Some(&tenant.id), 0);
    store.publish(&failed).await.expect("publish");
    let failed_delivery = deliveries_of(store, &failed.id).await.remove(0);
    store
        .complete_attempt(
            &attempt(&failed_delivery.id, 5, Some(500), AttemptTrigger::Scheduled),
            &finished(DeliveryStatus::Failed),
        )
        .await
        .expect("complete");
    assert_eq!(
        store
            .count_failed_deliveries(&sub.id, OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap(),
        1
    );
    let mut old = Vec::new();
    for seconds in [0, 1] {
        let event = event("retention.test", Some(&tenant.id), seconds);
        delivered(store, &event).await;
        old.push(event);
    }
    let pending = event("retention.test", Some(&tenant.id), 2);
    store.publish(&pending).await.expect("publish");
    let newer = event("retention.test", Some(&tenant.id), 100_000);
    delivered(store, &newer).await;

    let before = at(50_000);
    let one = PayloadsDropped {
        events: 1,
        attempts: 1,
    };
    assert_eq!(store.drop_old_payloads(before, 1).await.unwrap(), one);
    assert_eq!(
        store.drop_old_payloads(before, 10).await.unwrap(),
        PayloadsDropped {
            events: 2,
            attempts: 2,
        }
    );
    assert_eq!(
        store.drop_old_payloads(before, 10).await.unwrap(),
        PayloadsDropped::default()
    );
    for event in &old {
        let stored = store.get_event(&event.id).await.unwrap().expect("kept");
        assert!(stored.payload_dropped());
        assert_eq!(
            (stored.event_type.as_str(), stored.created_at),
            (event.event_type.as_str(), event.created_at)
        );
        let deliveries = deliveries_of(store, &event.id).await;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].status, DeliveryStatus::Succeeded);
        let attempts = store.list_attempts(&deliveries[0].id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].response_status, Some(200));
        assert_eq!(attempts[0].response_body, None);
    }
    for kept in [&pending, &newer] {
        let stored = store.get_event(&kept.id).await.unwrap().expect("kept");
        assert!(!stored.payload_dropped());
        assert_eq!(stored.payload_json, kept.payload_json);
    }
    assert!(
        store
            .get_event(&failed.id)
            .await
            .unwrap()
            .expect("kept")
            .payload_dropped()
    );
    assert_eq!(
        store
            .count_failed_deliveries(&sub.id, OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap(),
        0
    );
    let recovery = crate::recovery::Recovery {
        id: "rcv_dropped".to_owned(),
        subscription_id: sub.id.clone(),
        tenant_id: sub.tenant_id.clone(),
        since: OffsetDateTime::UNIX_EPOCH,
        status: crate::recovery::RecoveryStatus::Running,
        total: 0,
        requeued: 0,
        created_at: at(100_001),
        updated_at: at(100_001),
        requeued_through: None,
        lease_until: None,
    };
    store.start_recovery(&recovery).await.unwrap();
    let stepped = store
        .recovery_step("rcv_dropped", at(100_001), at(100_031), 10)
        .await
        .unwrap()
        .expect("it was running");
    assert_eq!(stepped.requeued, 0, "nothing to send: left failed");
}

/// A redelivery of a delivery whose payload was dropped is refused by the lease itself, in
/// the transaction that would read the payload to send, and changes nothing: an empty body is
/// never handed out to be signed and sent.
pub async fn a_delivery_whose_payload_was_dropped_is_not_leased_again<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let old = event("retention.test", Some(&tenant.id), 0);
    delivered(store, &old).await;
    let delivery = deliveries_of(store, &old.id).await.remove(0);
    assert_eq!(
        store
            .drop_old_payloads(at(50_000), 10)
            .await
            .unwrap()
            .events,
        1
    );

    match store
        .lease_delivery(&delivery.id, at(60_000), at(60_060))
        .await
    {
        Err(StoreError::PayloadDropped(event)) => assert_eq!(event, old.id.as_str()),
        other => panic!("expected PayloadDropped, got {other:?}"),
    }
    let after = store.get_delivery(&delivery.id).await.unwrap();
    assert_eq!(after.as_ref(), Some(&delivery), "the delivery is unchanged");
}
