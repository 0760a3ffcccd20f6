//! The catalog half of the store seam: the rows people manage (tenants, access tokens, event
//! types, subscriptions), and `ping`.
//!
//! It owns what an operator or a tenant creates, reads and changes through the API; it must
//! never move a delivery (that is [`super::DeliveryQueue`]'s). `ping` lives here because the
//! catalog is what every API request reads first: a store whose catalog answers is ready.
//! Kept apart so that a cache of catalog rows wraps this trait alone and cannot silently
//! change how deliveries move.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::Result;
use crate::hub::HubSession;
use crate::ids::{SubscriptionId, TenantId};
use crate::model::*;
use crate::support::{SupportRequest, SupportStatus};

/// Tenants, access tokens, event types and subscriptions. Implementations:
/// [`crate::sqlite::SqliteStore`] and [`crate::postgres::PgStore`].
///
/// Every method is one transaction. Lookups of a missing row return `Ok(None)` / `Ok(false)`;
/// a unique-key clash returns [`crate::StoreError::Conflict`].
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    // --- tenants ---------------------------------------------------------------------------
    /// Inserts a tenant (its id and client id are unique).
    async fn create_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// One tenant by id.
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>>;
    /// One tenant by OAuth2 client id.
    async fn get_tenant_by_client_id(&self, client_id: &str) -> Result<Option<Tenant>>;
    /// Tenants, newest first.
    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>>;
    /// Changes a tenant's name; `None` if it does not exist.
    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<Option<Tenant>>;
    /// Sets how long a tenant's events are kept, in seconds (`None`: the server's
    /// `retention`; `Some(0)`: forever); `None` if it does not exist.
    async fn set_tenant_retention(
        &self,
        id: &TenantId,
        seconds: Option<u64>,
    ) -> Result<Option<Tenant>>;
    /// Deletes a tenant with its subscriptions, their deliveries and attempts, its tokens, and
    /// the events addressed to it (broadcasts stay).
    async fn delete_tenant(&self, id: &TenantId) -> Result<bool>;

    // --- access tokens (issued at /oauth2/token) ---------------------------------------------
    /// Records an issued token by the SHA-256 hex of its value.
    async fn insert_access_token(
        &self,
        token_hash: &str,
        tenant_id: &TenantId,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// The tenant of an unexpired token, by the SHA-256 hex of its value.
    async fn access_token_tenant(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TenantId>>;

    /// Deletes one token of `tenant_id` by the SHA-256 hex of its value; false if there is no
    /// such token of that tenant (another tenant's token is left alone).
    async fn revoke_access_token(&self, token_hash: &str, tenant_id: &TenantId) -> Result<bool>;
    /// Deletes at most `limit` tokens expired at `now`; answers how many went. Small batches,
    /// so a purge never holds the writer long.
    async fn purge_expired_access_tokens(&self, now: OffsetDateTime, limit: u32) -> Result<u64>;
    /// Replaces a tenant's client secret hash and deletes all its tokens, in one transaction;
    /// `None` if the tenant does not exist.
    async fn rotate_tenant_credentials(
        &self,
        id: &TenantId,
        client_secret_hash: &str,
    ) -> Result<Option<Tenant>>;

    // --- event types -----------------------------------------------------------------------
    /// Inserts an event type (names are unique).
    async fn create_event_type(&self, event_type: &EventType) -> Result<()>;
    /// One event type by name.
    async fn get_event_type(&self, name: &str) -> Result<Option<EventType>>;
    /// Event types by name, ascending; the cursor is the last name.
    async fn list_event_types(&self, page: &PageRequest) -> Result<Page<EventType>>;
    /// Replaces description, schema and `updated_at`; false if it does not exist.
    async fn update_event_type(&self, event_type: &EventType) -> Result<bool>;
    /// Deletes an event type (subscriptions naming it are left as they are).
    async fn delete_event_type(&self, name: &str) -> Result<bool>;
    /// Names of the event types that start with `prefix` (`""`: every one), ascending, at
    /// most `limit`: whether a wildcard pattern matches a registered type, and the candidates
    /// for "did you mean".
    async fn event_type_names(&self, prefix: &str, limit: u32) -> Result<Vec<String>>;
    /// How many subscriptions (every tenant's, active or paused) have a pattern covering the
    /// event type `name`, exact or wildcard, as publish matches them; and the first `sample`
    /// of their ids.
    async fn event_type_usage(&self, name: &str, sample: u32) -> Result<EventTypeUsage>;

    // --- subscriptions ---------------------------------------------------------------------
    /// Inserts a subscription.
    async fn create_subscription(&self, subscription: &Subscription) -> Result<()>;
    /// How many subscriptions the tenant has (active or paused): the per-tenant limit.
    async fn count_subscriptions(&self, tenant_id: &TenantId) -> Result<u64>;
    /// One subscription by id.
    async fn get_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>>;
    /// Subscriptions, newest first.
    async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>>;
    /// The subscriptions that carry an mTLS client certificate, as `(id, certificate PEM)`
    /// (the public certificate only, never its key), by id ascending after `after`, at most
    /// `limit`: for the certificate-expiry gauges, which read every one a page at a time.
    async fn client_certificates(
        &self,
        after: Option<&SubscriptionId>,
        limit: u32,
    ) -> Result<Vec<(SubscriptionId, String)>>;
    /// Replaces every mutable field (url, event types, status, secrets, …); false if missing.
    async fn update_subscription(&self, subscription: &Subscription) -> Result<bool>;
    /// Deletes a subscription with its deliveries and their attempts.
    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool>;

    // --- Hub sessions (crate::hub) -----------------------------------------------------------
    /// Records a Hub sign-in by the SHA-256 hex of its session id (`tenant_id` `None`: the
    /// operator), first deleting a bounded batch of sessions expired at `now`.
    async fn insert_hub_session(
        &self,
        session_hash: &str,
        tenant_id: Option<&TenantId>,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// The session with that hash, if it has not expired at `now`.
    async fn hub_session(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HubSession>>;
    /// Ends a session (sign-out); false if there was none.
    async fn delete_hub_session(&self, session_hash: &str) -> Result<bool>;

    // --- support requests (crate::support) -------------------------------------------------
    /// Files a support request.
    async fn create_support_request(&self, request: &SupportRequest) -> Result<()>;
    /// One support request by id.
    async fn get_support_request(&self, id: &str) -> Result<Option<SupportRequest>>;
    /// Support requests, newest first (the cursor is the last id): one tenant's or every
    /// tenant's, and with `open_only` only those not closed.
    async fn list_support_requests(
        &self,
        tenant_id: Option<&TenantId>,
        open_only: bool,
        page: &PageRequest,
    ) -> Result<Page<SupportRequest>>;
    /// Sets a request's status, and its answer when one is given; the request after, or
    /// `None` if it does not exist.
    async fn answer_support_request(
        &self,
        id: &str,
        answer: Option<&str>,
        status: SupportStatus,
        now: OffsetDateTime,
    ) -> Result<Option<SupportRequest>>;
    // --- sealed secrets (see `crate::sealing`) -----------------------------------------------
    /// How many subscriptions' secrets each key seals, and how many are still plaintext.
    async fn secret_census(&self) -> Result<SecretCensus>;
    /// Re-seals at most `limit` subscriptions' secrets in `scope` under the primary key, in
    /// one transaction; answers how many it rewrote (0: none left, call again until then).
    /// A secret sealed by a key the keyring lacks is [`crate::StoreError::Sealing`].
    async fn reseal_secrets(&self, scope: Reseal, limit: u32) -> Result<u64>;
}
