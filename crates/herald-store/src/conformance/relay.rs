//! Cases for the relay: a relay subscription's deliveries wait, unclaimed and unattempted,
//! until this node records a listener for it; and past the hold bound, nobody having come,
//! they are leased for the caller to fail. (The node of a presence is the store handle's own;
//! that another node's presence does not let this one claim is shown on two PostgreSQL nodes
//! by `crates/herald/tests/relay_cluster.rs`.)

use super::*;
use crate::seam::PublishLease;

/// A relay subscription of `tenant_id` to `patterns`, stored.
async fn relay_subscription<S: Store>(
    store: &S,
    tenant_id: &TenantId,
    patterns: &[&str],
) -> Subscription {
    let mut sub = subscription(tenant_id, patterns);
    sub.url = RELAY_URL.to_owned();
    store.create_subscription(&sub).await.expect("subscription");
    sub
}

/// Without a listener nothing is handed out at publish or claimed; once this node records
/// one, the waiting deliveries are claimed, oldest first; when its presence ends, they wait
/// again.
pub async fn relay_deliveries_wait_until_this_node_holds_a_listener<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = relay_subscription(store, &tenant.id, &["*"]).await;
    let lease = PublishLease {
        now: at(0),
        lease_until: at(60),
        lease_window: 1,
    };
    let first = store
        .publish_and_lease(&event("a.b", Some(&tenant.id), 0), &lease)
        .await
        .expect("publish_and_lease");
    assert!(
        first.jobs.is_empty(),
        "a relay delivery is never handed out"
    );
    let second = publish(store, "a.b", Some(&tenant.id), 1).await.event_id;
    assert!(claim_ids(store, &claim(5)).await.is_empty(), "no listener");
    assert_eq!(store.relay_waiting(&sub.id).await.unwrap(), 2);

    store.relay_present(&sub.id, at(30)).await.unwrap();
    assert_eq!(
        claim_ids(store, &claim(5)).await,
        [
            only_delivery(store, &first.published.event_id).await.id,
            only_delivery(store, &second).await.id
        ]
    );

    publish(store, "a.b", Some(&tenant.id), 40).await;
    assert!(
        claim_ids(store, &claim(40)).await.is_empty(),
        "the presence ended at 30"
    );
    store.relay_present(&sub.id, at(40)).await.unwrap();
    assert!(
        claim_ids(store, &claim(40)).await.is_empty(),
        "a presence ended now (the listener left) holds nothing"
    );
}

/// Deliveries older than the bound whose subscription had no listener since the bound are
/// leased for failing, oldest first; a listener seen since then, a paused subscription or an
/// HTTP subscription keep theirs.
pub async fn relay_deliveries_unattended_past_the_bound_are_leased_for_failing<S: Store>(
    store: &S,
) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = relay_subscription(store, &tenant.id, &["a.*"]).await;
    new_subscription(store, &tenant.id, &["h.*"]).await; // an HTTP one, never touched
    publish(store, "h.x", Some(&tenant.id), 0).await;
    let old = publish(store, "a.b", Some(&tenant.id), 0).await.event_id;
    let older = publish(store, "a.c", Some(&tenant.id), -5).await.event_id;
    publish(store, "a.b", Some(&tenant.id), 50).await; // younger than the bound

    // A listener was seen until 20: nothing was unattended since 10.
    store.relay_present(&sub.id, at(20)).await.unwrap();
    let leased = store
        .lease_unattended_relay(at(10), at(70), at(130), 10)
        .await
        .unwrap();
    assert!(leased.is_empty(), "{leased:?}");

    // Since 30 nobody came: the two created before 30 are leased, oldest first.
    let leased = store
        .lease_unattended_relay(at(30), at(70), at(130), 10)
        .await
        .unwrap();
    let ids: Vec<_> = leased.into_iter().map(|d| d.id).collect();
    assert_eq!(
        ids,
        [
            only_delivery(store, &older).await.id,
            only_delivery(store, &old).await.id
        ]
    );
    let again = store
        .lease_unattended_relay(at(30), at(71), at(131), 10)
        .await
        .unwrap();
    assert!(again.is_empty(), "leased ones are not leased twice");

    let mut paused = relay_subscription(store, &tenant.id, &["b.*"]).await;
    paused.status = SubscriptionStatus::Paused;
    assert!(store.update_subscription(&paused).await.unwrap());
    publish(store, "b.b", Some(&tenant.id), 0).await;
    let leased = store
        .lease_unattended_relay(at(30), at(200), at(260), 10)
        .await
        .unwrap();
    assert!(
        leased.iter().all(|d| d.subscription_id == sub.id),
        "a paused subscription's deliveries wait: {leased:?}"
    );
}
