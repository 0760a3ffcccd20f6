//! The store the API uses: every call forwarded to the real store, and the catalog cache told
//! when this node changes or deletes an event type or a tenant, so that on one node a change
//! is seen by the very next publish. (Other nodes' changes reach the cache by its TTL.)

use std::sync::Arc;

use async_trait::async_trait;
use herald_store::*;
use time::OffsetDateTime;

use super::CatalogCache;

/// A [`Store`] (both halves) that forwards to `inner` and keeps `cache` honest about local changes.
pub struct InvalidatingStore {
    /// The real store.
    inner: Arc<dyn Store>,
    /// Told about every local event type and tenant change.
    cache: Arc<CatalogCache>,
}

impl InvalidatingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, cache: Arc<CatalogCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl Catalog for InvalidatingStore {
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.inner.create_tenant(tenant).await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        self.inner.get_tenant(id).await
    }

    async fn get_tenant_by_client_id(&self, client_id: &str) -> Result<Option<Tenant>> {
        self.inner.get_tenant_by_client_id(client_id).await
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>> {
        self.inner.list_tenants(page).await
    }

    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<Option<Tenant>> {
        self.inner.rename_tenant(id, name).await
    }

    async fn delete_tenant(&self, id: &TenantId) -> Result<bool> {
        let result = self.inner.delete_tenant(id).await;
        // Forget after the write: a publish reading in between caches the old row again
        // only until the TTL ends, and no later than that.
        self.cache.forget_tenant(id);
        result
    }

    async fn insert_access_token(
        &self,
        token_hash: &str,
        tenant_id: &TenantId,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        self.inner
            .insert_access_token(token_hash, tenant_id, expires_at)
            .await
    }

    async fn access_token_tenant(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TenantId>> {
        self.inner.access_token_tenant(token_hash, now).await
    }

    async fn create_event_type(&self, event_type: &EventType) -> Result<()> {
        self.inner.create_event_type(event_type).await
    }

    async fn get_event_type(&self, name: &str) -> Result<Option<EventType>> {
        self.inner.get_event_type(name).await
    }

    async fn list_event_types(&self, page: &PageRequest) -> Result<Page<EventType>> {
        self.inner.list_event_types(page).await
    }

    async fn update_event_type(&self, event_type: &EventType) -> Result<bool> {
        let result = self.inner.update_event_type(event_type).await;
        // Forget after the write: a publish reading in between caches the old row again
        // only until the TTL ends, and no later than that.
        self.cache.forget_event_type(&event_type.name);
        result
    }

    async fn delete_event_type(&self, name: &str) -> Result<bool> {
        let result = self.inner.delete_event_type(name).await;
        // Forget after the write: a publish reading in between caches the old row again
        // only until the TTL ends, and no later than that.
        self.cache.forget_event_type(name);
        result
    }

    async fn create_subscription(&self, subscription: &Subscription) -> Result<()> {
        self.inner.create_subscription(subscription).await
    }

    async fn get_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>> {
        self.inner.get_subscription(id).await
    }

    async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>> {
        self.inner.list_subscriptions(filter, page).await
    }

    async fn update_subscription(&self, subscription: &Subscription) -> Result<bool> {
        self.inner.update_subscription(subscription).await
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool> {
        self.inner.delete_subscription(id).await
    }
}

#[async_trait]
impl DeliveryQueue for InvalidatingStore {
    async fn publish(&self, event: &Event) -> Result<Published> {
        self.inner.publish(event).await
    }

    async fn publish_and_lease(&self, event: &Event, lease: &PublishLease) -> Result<Accepted> {
        self.inner.publish_and_lease(event, lease).await
    }

    async fn publish_to(
        &self,
        event: &Event,
        subscription_id: &SubscriptionId,
        lease_until: OffsetDateTime,
    ) -> Result<Delivery> {
        self.inner
            .publish_to(event, subscription_id, lease_until)
            .await
    }

    async fn get_event(&self, id: &EventId) -> Result<Option<Event>> {
        self.inner.get_event(id).await
    }

    async fn list_events(&self, filter: &EventFilter, page: &PageRequest) -> Result<Page<Event>> {
        self.inner.list_events(filter, page).await
    }

    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<Delivery>> {
        self.inner.get_delivery(id).await
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>> {
        self.inner.list_deliveries(filter, page).await
    }

    async fn list_attempts(&self, delivery_id: &DeliveryId) -> Result<Vec<Attempt>> {
        self.inner.list_attempts(delivery_id).await
    }

    async fn claim_due(&self, claim: &Claim) -> Result<Vec<DeliveryJob>> {
        self.inner.claim_due(claim).await
    }

    async fn lease_delivery(
        &self,
        id: &DeliveryId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<DeliveryJob>> {
        self.inner.lease_delivery(id, now, lease_until).await
    }

    async fn complete_attempt(&self, attempt: &Attempt, progress: &DeliveryProgress) -> Result<()> {
        self.inner.complete_attempt(attempt, progress).await
    }

    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>> {
        self.inner.next_due_at().await
    }

    async fn release_all_leases(&self) -> Result<u64> {
        self.inner.release_all_leases().await
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        self.inner.queue_stats().await
    }
    fn work_notifier(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.inner.work_notifier()
    }

    fn single_process(&self) -> bool {
        self.inner.single_process()
    }
}
