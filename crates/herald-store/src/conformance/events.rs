//! Cases for publishing: fan-out, matching, idempotency, payloads, and listing what it made.

use super::*;

/// An event for a tenant reaches that tenant's matching subscriptions, nobody else's.
pub async fn publish_creates_one_pending_delivery_per_matching_subscription_of_the_tenant<
    S: Store,
>(
    store: &S,
) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let wants = new_subscription(store, &acme.id, &["consent.revoked"]).await;
    let also_wants = new_subscription(store, &acme.id, &["consent.*"]).await;
    new_subscription(store, &acme.id, &["maintenance.*"]).await;
    new_subscription(store, &globex.id, &["consent.revoked"]).await;

    let published = publish(store, "consent.revoked", Some(&acme.id), 0).await;
    assert_eq!(published.deliveries, 2);
    assert!(!published.duplicate);
    let mut targets: Vec<_> = deliveries_of(store, &published.event_id)
        .await
        .into_iter()
        .map(|d| d.subscription_id)
        .collect();
    targets.sort();
    let mut expected = vec![wants.id, also_wants.id];
    expected.sort();
    assert_eq!(targets, expected);
}

/// An event with no tenant reaches every tenant's matching subscriptions, each delivery
/// carrying its subscription's tenant.
pub async fn broadcast_reaches_matching_subscriptions_of_every_tenant<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let a = new_subscription(store, &acme.id, &["maintenance.planned_outage"]).await;
    let g = new_subscription(store, &globex.id, &["maintenance.*"]).await;
    new_subscription(store, &globex.id, &["consent.*"]).await;

    let published = publish(store, "maintenance.planned_outage", None, 0).await;
    assert_eq!(published.deliveries, 2);
    let mut pairs: Vec<_> = deliveries_of(store, &published.event_id)
        .await
        .into_iter()
        .map(|d| (d.subscription_id, d.tenant_id))
        .collect();
    pairs.sort();
    let mut expected = vec![(a.id, acme.id), (g.id, globex.id)];
    expected.sort();
    assert_eq!(pairs, expected);
}

/// `consent.*` covers names starting `consent.`; `*` covers everything; `_` and `%` in a
/// pattern are plain characters, not wildcards.
pub async fn wildcard_matches_by_prefix_and_underscore_is_literal<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let t = Some(&tenant.id);
    new_subscription(store, &tenant.id, &["consent.*"]).await;
    let everything = new_subscription(store, &tenant.id, &["*"]).await;
    new_subscription(store, &tenant.id, &["a_b.*"]).await;
    new_subscription(store, &tenant.id, &["x%"]).await;

    // consent.* and *
    assert_eq!(publish(store, "consent.revoked", t, 0).await.deliveries, 2);
    // only *: "consent" lacks the dot, and prefixes are not substrings
    assert_eq!(publish(store, "consent", t, 0).await.deliveries, 1);
    assert_eq!(
        publish(store, "my.consent.revoked", t, 0).await.deliveries,
        1
    );
    // a_b.* and *, but axb.c only * (no LIKE semantics)
    assert_eq!(publish(store, "a_b.c", t, 0).await.deliveries, 2);
    let only_everything = publish(store, "axb.c", t, 0).await;
    assert_eq!(only_everything.deliveries, 1);
    assert_eq!(
        only_everything_target(store, &only_everything.event_id).await,
        everything.id
    );
    // the exact pattern "x%" matches only itself
    assert_eq!(publish(store, "x%", t, 0).await.deliveries, 2);
    assert_eq!(publish(store, "xyz", t, 0).await.deliveries, 1);
}

async fn only_everything_target<S: Store>(store: &S, event_id: &EventId) -> SubscriptionId {
    only_delivery(store, event_id).await.subscription_id
}

/// A subscription whose patterns overlap (`consent.*` and `consent.revoked`) gets one delivery.
pub async fn overlapping_patterns_give_one_delivery<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(
        store,
        &tenant.id,
        &["consent.*", "consent.revoked", "*", "consent.revoked"],
    )
    .await;
    assert_eq!(
        publish(store, "consent.revoked", Some(&tenant.id), 0)
            .await
            .deliveries,
        1
    );
}

/// Paused subscriptions get their deliveries created (they wait, and go out on resume).
pub async fn paused_subscription_still_gets_deliveries_created<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut sub = subscription(&tenant.id, &["*"]);
    sub.status = SubscriptionStatus::Paused;
    store.create_subscription(&sub).await.unwrap();
    let published = publish(store, "consent.revoked", Some(&tenant.id), 0).await;
    assert_eq!(published.deliveries, 1);
    let delivery = only_delivery(store, &published.event_id).await;
    assert_eq!(delivery.subscription_id, sub.id);
    assert_eq!(delivery.status, DeliveryStatus::Pending);
}

/// A deleted subscription gets no deliveries.
pub async fn deleted_subscription_gets_no_deliveries<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    assert!(store.delete_subscription(&sub.id).await.unwrap());
    assert_eq!(
        publish(store, "consent.revoked", Some(&tenant.id), 0)
            .await
            .deliveries,
        0
    );
    assert_eq!(
        publish(store, "consent.revoked", None, 0).await.deliveries,
        0
    );
}

/// Publishing again with the same key (same tenant) returns the first event and writes nothing.
pub async fn repeated_idempotency_key_returns_the_first_event_and_creates_nothing<S: Store>(
    store: &S,
) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let mut first = event("consent.revoked", Some(&tenant.id), 0);
    first.idempotency_key = Some("order-7".to_owned());
    let published = store.publish(&first).await.unwrap();
    assert_eq!(
        published,
        Published {
            event_id: first.id.clone(),
            deliveries: 1,
            duplicate: false
        }
    );

    let mut again = event("consent.revoked", Some(&tenant.id), 5);
    again.idempotency_key = Some("order-7".to_owned());
    let repeated = store.publish(&again).await.unwrap();
    assert_eq!(
        repeated,
        Published {
            event_id: first.id.clone(),
            deliveries: 1,
            duplicate: true
        }
    );
    assert_eq!(store.get_event(&again.id).await.unwrap(), None);
    let all = store
        .list_events(&EventFilter::default(), &page(10, None))
        .await
        .unwrap();
    assert_eq!(all.items, vec![first]);
}

/// The same key under another tenant, or as a broadcast, is a different event.
pub async fn idempotency_keys_are_scoped_per_tenant<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let mut ids = Vec::new();
    for tenant in [Some(&acme.id), Some(&globex.id), None] {
        let mut e = event("consent.revoked", tenant, 0);
        e.idempotency_key = Some("same-key".to_owned());
        let published = store.publish(&e).await.unwrap();
        assert!(!published.duplicate);
        assert_eq!(published.event_id, e.id);
        ids.push(e.id);
    }
    let mut e = event("consent.revoked", None, 0);
    e.idempotency_key = Some("same-key".to_owned());
    assert_eq!(
        store.publish(&e).await.unwrap().event_id,
        ids[2],
        "broadcasts share one scope"
    );
}

/// The payload reads back as the exact text published, spacing and key order included.
pub async fn payload_is_kept_byte_for_byte<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let mut e = event("consent.revoked", Some(&tenant.id), 0);
    e.payload_json = "{\"b\":1,  \"a\":2,\n\t\"z\": [1.0, 1e2, \"\\u00e9\", \"é\"] }".to_owned();
    store.publish(&e).await.unwrap();
    assert_eq!(store.get_event(&e.id).await.unwrap(), Some(e.clone()));
    let job = store
        .claim_due(&claim(0))
        .await
        .unwrap()
        .pop()
        .expect("a job");
    assert_eq!(job.event.payload_json, e.payload_json);
}

/// A new delivery is pending, unattempted, due at the event's creation, and carries the event
/// type and subscription's tenant.
pub async fn new_delivery_is_pending_and_due_at_event_creation<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    let published = publish(store, "consent.revoked", None, 7).await;
    let delivery = only_delivery(store, &published.event_id).await;
    assert_eq!(
        store.get_delivery(&delivery.id).await.unwrap(),
        Some(delivery.clone())
    );
    assert_eq!(delivery.event_id, published.event_id);
    assert_eq!(delivery.subscription_id, sub.id);
    assert_eq!(delivery.tenant_id, tenant.id);
    assert_eq!(delivery.event_type, "consent.revoked");
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!((delivery.attempts, delivery.scheduled_attempts), (0, 0));
    assert_eq!(delivery.next_attempt_at, Some(at(7)));
    assert_eq!(delivery.created_at, at(7));
}

/// Events list newest first, by type, by tenant, and by tenant with broadcasts.
pub async fn events_page_newest_first_filtered_by_type_and_tenant<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let e1 = publish(store, "consent.revoked", Some(&acme.id), 0)
        .await
        .event_id;
    let e2 = publish(store, "maintenance.planned_outage", None, 1)
        .await
        .event_id;
    let e3 = publish(store, "consent.revoked", Some(&globex.id), 2)
        .await
        .event_id;
    let e4 = publish(store, "consent.granted", Some(&acme.id), 3)
        .await
        .event_id;

    let ids = |page: Page<Event>| page.items.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let all = store
        .list_events(&EventFilter::default(), &page(3, None))
        .await
        .unwrap();
    let cursor = all.next_cursor.clone();
    assert_eq!(ids(all), [e4.clone(), e3.clone(), e2.clone()]);
    let rest = store
        .list_events(&EventFilter::default(), &page(3, cursor))
        .await
        .unwrap();
    assert_eq!(rest.next_cursor, None);
    assert_eq!(ids(rest), vec![e1.clone()]);

    let by_type = EventFilter {
        event_type: Some("consent.revoked".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_events(&by_type, &page(10, None)).await.unwrap()),
        [e3.clone(), e1.clone()]
    );

    let acme_only = EventFilter {
        tenant_id: Some(acme.id.clone()),
        ..Default::default()
    };
    assert_eq!(
        ids(store
            .list_events(&acme_only, &page(10, None))
            .await
            .unwrap()),
        [e4.clone(), e1.clone()]
    );

    let acme_and_broadcasts = EventFilter {
        include_broadcasts: true,
        ..acme_only.clone()
    };
    let listed = ids(store
        .list_events(&acme_and_broadcasts, &page(10, None))
        .await
        .unwrap());
    assert_eq!(listed, [e4.clone(), e2.clone(), e1.clone()]);

    let both = EventFilter {
        event_type: Some("consent.revoked".to_owned()),
        ..acme_and_broadcasts
    };
    assert_eq!(
        ids(store.list_events(&both, &page(10, None)).await.unwrap()),
        [e1]
    );
}

/// Deliveries list newest first, filtered by tenant, subscription, event and status.
pub async fn deliveries_page_newest_first_with_filters<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let sa = new_subscription(store, &acme.id, &["*"]).await;
    let sg = new_subscription(store, &globex.id, &["*"]).await;
    let first = publish(store, "a.b", None, 0).await.event_id;
    let second = publish(store, "a.b", None, 1).await.event_id;
    let done = only_delivery_to(store, &first, &sa.id).await;
    store.lease_delivery(&done.id, at(2), at(60)).await.unwrap();
    store
        .complete_attempt(
            &attempt(&done.id, 2, Some(200), AttemptTrigger::Scheduled),
            &finished(DeliveryStatus::Succeeded),
        )
        .await
        .unwrap();

    let list = |filter: DeliveryFilter, limit: u32, cursor: Option<String>| async move {
        let page = store
            .list_deliveries(&filter, &page(limit, cursor))
            .await
            .unwrap();
        Page {
            items: page
                .items
                .into_iter()
                .map(|s| s.delivery)
                .collect::<Vec<_>>(),
            next_cursor: page.next_cursor,
        }
    };
    let all = list(DeliveryFilter::default(), 3, None).await;
    assert_eq!(all.items.len(), 3);
    assert!(
        all.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    let rest = list(DeliveryFilter::default(), 3, all.next_cursor).await;
    assert_eq!((rest.items.len(), rest.next_cursor), (1, None));

    let acme_only = list(
        DeliveryFilter {
            tenant_id: Some(acme.id.clone()),
            ..Default::default()
        },
        10,
        None,
    )
    .await;
    assert!(acme_only.items.len() == 2 && acme_only.items.iter().all(|d| d.tenant_id == acme.id));
    let to_sg = list(
        DeliveryFilter {
            subscription_id: Some(sg.id.clone()),
            ..Default::default()
        },
        10,
        None,
    )
    .await;
    assert!(to_sg.items.len() == 2 && to_sg.items.iter().all(|d| d.subscription_id == sg.id));
    let of_second = list(
        DeliveryFilter {
            event_id: Some(second.clone()),
            ..Default::default()
        },
        10,
        None,
    )
    .await;
    assert!(of_second.items.len() == 2 && of_second.items.iter().all(|d| d.event_id == second));
    let succeeded = list(
        DeliveryFilter {
            status: Some(DeliveryStatus::Succeeded),
            ..Default::default()
        },
        10,
        None,
    )
    .await;
    assert_eq!(
        succeeded.items.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&done.id]
    );
    let pending_acme = DeliveryFilter {
        tenant_id: Some(acme.id.clone()),
        status: Some(DeliveryStatus::Pending),
        ..Default::default()
    };
    let pending_acme = list(pending_acme, 10, None).await;
    assert_eq!(pending_acme.items.len(), 1);
    assert_eq!(pending_acme.items[0].event_id, second);
}

async fn only_delivery_to<S: Store>(
    store: &S,
    event_id: &EventId,
    subscription_id: &SubscriptionId,
) -> Delivery {
    let mut found: Vec<_> = deliveries_of(store, event_id)
        .await
        .into_iter()
        .filter(|d| &d.subscription_id == subscription_id)
        .collect();
    assert_eq!(found.len(), 1);
    found.remove(0)
}

/// `publish_to` writes the event and one delivery, to that subscription only (even when others
/// match), leased so the dispatcher does not claim it before the lease ends.
pub async fn publish_to_creates_one_leased_delivery_to_that_subscription_only<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let target = new_subscription(store, &tenant.id, &["consent.*"]).await;
    new_subscription(store, &tenant.id, &["*"]).await;
    let test_event = event("herald.test", Some(&tenant.id), 0);
    let delivery = store
        .publish_to(&test_event, &target.id, at(30))
        .await
        .unwrap();
    assert_eq!(delivery.subscription_id, target.id);
    assert_eq!(delivery.event_id, test_event.id);
    assert_eq!(delivery.tenant_id, tenant.id);
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(
        store.get_event(&test_event.id).await.unwrap(),
        Some(test_event.clone())
    );
    assert_eq!(
        deliveries_of(store, &test_event.id).await,
        vec![delivery.clone()]
    );
    assert!(
        claim_ids(store, &claim(29)).await.is_empty(),
        "leased until 30"
    );
    assert_eq!(claim_ids(store, &claim(30)).await, [delivery.id]);
}
