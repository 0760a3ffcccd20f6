//! The catalog the API uses: every call forwarded to the store's [`Catalog`], and the catalog
//! cache told when this node changes or deletes an event type or a tenant, so that on one node
//! a change is seen by the very next publish. (Other nodes' changes reach the cache by its TTL.)
//!
//! It wraps the catalog half of the store only: the delivery queue has nothing to cache, so the
//! API and the dispatcher use it directly, and a catalog method added to the seam is a compile
//! error here until it is forwarded (no default can silently skip the cache).

use std::sync::Arc;

use async_trait::async_trait;
use herald_store::*;
use time::OffsetDateTime;

use super::CatalogCache;

/// A [`Catalog`] that forwards to `inner` and keeps `cache` honest about local changes.
pub struct InvalidatingCatalog {
    /// The real store.
    inner: Arc<dyn Catalog>,
    /// Told about every local event type and tenant change.
    cache: Arc<CatalogCache>,
}

impl InvalidatingCatalog {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Catalog>, cache: Arc<CatalogCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl Catalog for InvalidatingCatalog {
    async fn create_support_request(&self, request: &herald_store::SupportRequest) -> Result<()> {
        self.inner.create_support_request(request).await
    }

    async fn get_support_request(&self, id: &str) -> Result<Option<herald_store::SupportRequest>> {
        self.inner.get_support_request(id).await
    }

    async fn list_support_requests(
        &self,
        tenant_id: Option<&TenantId>,
        open_only: bool,
        page: &PageRequest,
    ) -> Result<Page<herald_store::SupportRequest>> {
        self.inner
            .list_support_requests(tenant_id, open_only, page)
            .await
    }

    async fn answer_support_request(
        &self,
        id: &str,
        answer: Option<&str>,
        status: herald_store::SupportStatus,
        now: OffsetDateTime,
    ) -> Result<Option<herald_store::SupportRequest>> {
        self.inner
            .answer_support_request(id, answer, status, now)
            .await
    }

    async fn insert_hub_session(
        &self,
        session_hash: &str,
        tenant_id: Option<&TenantId>,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        self.inner
            .insert_hub_session(session_hash, tenant_id, now, expires_at)
            .await
    }

    async fn hub_session(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<herald_store::HubSession>> {
        self.inner.hub_session(session_hash, now).await
    }

    async fn delete_hub_session(&self, session_hash: &str) -> Result<bool> {
        self.inner.delete_hub_session(session_hash).await
    }

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

    async fn set_tenant_retention(
        &self,
        id: &TenantId,
        seconds: Option<u64>,
    ) -> Result<Option<Tenant>> {
        self.inner.set_tenant_retention(id, seconds).await
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

    async fn revoke_access_token(&self, token_hash: &str, tenant_id: &TenantId) -> Result<bool> {
        self.inner.revoke_access_token(token_hash, tenant_id).await
    }

    async fn purge_expired_access_tokens(&self, now: OffsetDateTime, limit: u32) -> Result<u64> {
        self.inner.purge_expired_access_tokens(now, limit).await
    }

    async fn rotate_tenant_credentials(
        &self,
        id: &TenantId,
        client_secret_hash: &str,
    ) -> Result<Option<Tenant>> {
        let result = self
            .inner
            .rotate_tenant_credentials(id, client_secret_hash)
            .await;
        // The cached tenant row carries the old secret hash: forget it after the write.
        self.cache.forget_tenant(id);
        result
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

    async fn event_type_names(&self, prefix: &str, limit: u32) -> Result<Vec<String>> {
        self.inner.event_type_names(prefix, limit).await
    }

    async fn event_type_usage(&self, name: &str, sample: u32) -> Result<EventTypeUsage> {
        self.inner.event_type_usage(name, sample).await
    }

    async fn count_subscriptions(&self, tenant_id: &TenantId) -> Result<u64> {
        self.inner.count_subscriptions(tenant_id).await
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

    async fn client_certificates(
        &self,
        after: Option<&SubscriptionId>,
        limit: u32,
    ) -> Result<Vec<(SubscriptionId, String)>> {
        self.inner.client_certificates(after, limit).await
    }

    async fn update_subscription(&self, subscription: &Subscription) -> Result<bool> {
        self.inner.update_subscription(subscription).await
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool> {
        self.inner.delete_subscription(id).await
    }

    async fn secret_census(&self) -> Result<SecretCensus> {
        self.inner.secret_census().await
    }

    // Re-sealing changes how secrets are stored, never what they are: nothing to forget.
    async fn reseal_secrets(&self, scope: Reseal, limit: u32) -> Result<u64> {
        self.inner.reseal_secrets(scope, limit).await
    }
}
