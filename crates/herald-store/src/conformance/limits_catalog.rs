//! Cases for what the API's per-tenant limits read from the catalog: the count of a tenant's
//! subscriptions (`max_subscriptions_per_tenant`).

use super::*;

/// A tenant's subscriptions are counted, active or paused, and no other tenant's.
pub async fn subscriptions_are_counted_per_tenant<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let other = new_tenant(store, "Other").await;
    assert_eq!(store.count_subscriptions(&acme.id).await.unwrap(), 0);
    new_subscription(store, &acme.id, &["consent.*"]).await;
    let mut paused = subscription(&acme.id, &["consent.revoked"]);
    paused.status = SubscriptionStatus::Paused;
    store.create_subscription(&paused).await.unwrap();
    new_subscription(store, &other.id, &["consent.*"]).await;
    assert_eq!(store.count_subscriptions(&acme.id).await.unwrap(), 2);
    assert_eq!(store.count_subscriptions(&other.id).await.unwrap(), 1);
    store.delete_subscription(&paused.id).await.unwrap();
    assert_eq!(store.count_subscriptions(&acme.id).await.unwrap(), 1);
    assert_eq!(
        store
            .count_subscriptions(&TenantId::generate())
            .await
            .unwrap(),
        0
    );
}
