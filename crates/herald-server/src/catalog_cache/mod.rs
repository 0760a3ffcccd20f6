//! The catalog rows every publish reads (its event type, with the schema the API compiles
//! from it, and whether its tenant exists), cached for a short time so that a publish costs no
//! store round trip for data that changes rarely.
//!
//! Why a TTL and not just invalidation: on PostgreSQL other nodes change and delete event
//! types and tenants without this node hearing of it, so an entry is trusted for [`TTL`] (1 s)
//! at most. Changes made through this node also drop the entry at once
//! ([`InvalidatingCatalog`]), so one node behaves exactly as without the cache. What the TTL
//! allows across nodes: for up to a second after another node changes an event type's schema,
//! publishes here may be checked against the previous one; after another node deletes a
//! tenant, a publish here may still be accepted for it (the event is stored, addressed to a
//! tenant that no longer has subscriptions, so it has no deliveries: the same outcome as a
//! publish that committed just before the delete). Only found rows are cached: a missing event
//! type or tenant is looked up every time, so one created on any node is usable at once.

mod invalidating;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_store::{Catalog, EventType, StoreError, TenantId};

pub use invalidating::InvalidatingCatalog;

/// How long a cached row is trusted without asking the store again.
pub const TTL: Duration = Duration::from_secs(1);

/// Found event types and tenants, each with the instant it was read.
#[derive(Default)]
pub struct CatalogCache {
    /// By name. A std `Mutex`: held only to clone an `Arc` out, never across an await.
    event_types: Mutex<HashMap<String, (Instant, Arc<EventType>)>>,
    /// Tenants known to exist.
    tenants: Mutex<HashMap<TenantId, Instant>>,
}

impl CatalogCache {
    /// The event type called `name`, from the cache if read less than [`TTL`] ago.
    pub async fn event_type(
        &self,
        store: &dyn Catalog,
        name: &str,
    ) -> Result<Option<Arc<EventType>>, StoreError> {
        {
            let cached = self.event_types.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, event_type)) = cached.get(name)
                && at.elapsed() < TTL
            {
                return Ok(Some(Arc::clone(event_type)));
            }
        }
        let read_at = Instant::now();
        let Some(found) = store.get_event_type(name).await? else {
            self.forget_event_type(name);
            return Ok(None);
        };
        let found = Arc::new(found);
        let mut cached = self.event_types.lock().unwrap_or_else(|p| p.into_inner());
        cached.insert(name.to_owned(), (read_at, Arc::clone(&found)));
        Ok(Some(found))
    }

    /// Whether the tenant exists, from the cache if seen less than [`TTL`] ago.
    pub async fn tenant_exists(
        &self,
        store: &dyn Catalog,
        id: &TenantId,
    ) -> Result<bool, StoreError> {
        {
            let cached = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            if cached.get(id).is_some_and(|at| at.elapsed() < TTL) {
                return Ok(true);
            }
        }
        let read_at = Instant::now();
        let exists = store.get_tenant(id).await?.is_some();
        let mut cached = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if exists {
            cached.insert(id.clone(), read_at);
        } else {
            cached.remove(id);
        }
        Ok(exists)
    }

    /// Drops an event type changed or deleted through this node.
    pub fn forget_event_type(&self, name: &str) {
        let mut cached = self.event_types.lock().unwrap_or_else(|p| p.into_inner());
        cached.remove(name);
    }

    /// Drops a tenant deleted through this node.
    pub fn forget_tenant(&self, id: &TenantId) {
        let mut cached = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        cached.remove(id);
    }
}
