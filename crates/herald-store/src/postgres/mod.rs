//! The store for more than one node: every node runs against one PostgreSQL database.
//!
//! Every operation is one transaction on a pooled connection; PostgreSQL's own concurrency
//! control does what the SQLite writer thread does there, so there is no writer here. What
//! several nodes need from each other lives in the database, never in one node's memory:
//! leases (a delivery is attempted by one node at a time), in-flight counts and rate slots
//! (limits hold across the cluster; see `claim`), and idempotency (a unique index that
//! concurrent publishes wait on). A `listener` task turns `NOTIFY`s from publishing nodes
//! into [`DeliveryQueue::work_notifier`] wake-ups.
//!
//! Times are stored as BIGINT unix microseconds, as on SQLite, so both backends keep the same
//! precision and share one set of row builders. Migrations in `migrations/postgres/` are
//! applied by [`PgStore::connect`] under sqlx's advisory lock, so several nodes starting at
//! once apply them exactly once. Losing the database makes calls fail with
//! [`StoreError::Unavailable`]; the pool reconnects by itself when it is back.
//!
//! One method means something else with several nodes: [`DeliveryQueue::release_all_leases`] drops
//! every node's leases, not only this one's, so a node must not call it at start-up while
//! others run (their deliveries in flight would be claimed again); expired leases already
//! free a dead node's work.

mod catalog;
mod claim;
mod completions;
mod events;
mod floors;
mod group;
mod handoff;
mod hub;
mod listener;
mod notices;
mod pools;
mod publish;
mod queue;
mod recovery;
mod relay;
mod retention;
mod run;
mod sealing;
mod support;
mod turns;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::error::StoreError;
use crate::feed::{AttemptFeedFilter, FeedPage, FeedPosition};
use crate::ids::{DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::sealing::Keyring;
use crate::seam::{Accepted, Catalog, DeliveryQueue, PublishLease, Result};
use listener::Listener;

/// The schema, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How a [`PgStore`] uses the database's connections.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// At most this many pooled connections per node (the `LISTEN` task holds one more). From
    /// 6 on, the publish and completion batches own 3 of them ([`pools`]). The database's
    /// `max_connections` must cover every node's pools.
    pub max_connections: u32,
    /// How long a call waits for a connection (from the pool, or connecting while the database
    /// is away) before failing as [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Herald's store on PostgreSQL. Share it behind an `Arc`; dropping it stops its `LISTEN`
/// task and closes its connections.
pub struct PgStore {
    /// The connections of every operation but publishes, outcomes and claims
    /// (`pools.main`).
    pool: PgPool,
    /// Every connection of this node.
    pools: pools::Pools,
    /// Wakes this node's dispatcher when another node publishes.
    listener: Listener,
    /// This node's name in `relay_presence` (new for each handle, so a presence left by a
    /// node that died never lets another claim for a listener it does not hold).
    node_id: String,
    /// Seals subscription secrets on write and opens them on read (see [`crate::sealing`]);
    /// every node must hold the keys the others seal with.
    keyring: Keyring,
    /// Gathers concurrent publishes into one transaction per batch.
    publishes: publish::Publishes,
    /// Gathers concurrent attempt outcomes, and the claim that refills their places, into one
    /// transaction per batch.
    completions: completions::Completions,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// applies pending migrations and starts listening for other nodes' work. Must be called
    /// within a Tokio runtime. Secrets are sealed and opened with `keyring`.
    pub async fn connect(url: &str, options: PgOptions, keyring: Keyring) -> Result<PgStore> {
        let connect_options = PgConnectOptions::from_str(url)?
            // Statements are logged at the caller's level (the store's callers log failures);
            // logging each claim and publish would cost more than them.
            .disable_statement_logging();
        // A connection of its own for migrating (a pool of one, whose future `Migrator::run`
        // accepts from any task): sqlx holds a session advisory lock on it while it migrates,
        // and closing it releases the lock even if a migration failed.
        let migrating = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options.clone())
            .await?;
        let migrated = MIGRATOR.run(&migrating).await;
        migrating.close().await;
        migrated?;
        let pools = pools::Pools::connect(connect_options, &options).await?;
        let pool = pools.main.clone();
        let listener = Listener::start(pool.clone()).await?;
        let node_id = crate::ids::node_id();
        let turns = Arc::new(turns::Turns::default());
        let publishes = publish::Publishes::start(
            pools.publishes.clone(),
            keyring.clone(),
            node_id.clone(),
            turns::Turn::After(Arc::clone(&turns)),
        );
        let completions = completions::Completions::start(
            pools.completions.clone(),
            keyring.clone(),
            node_id.clone(),
            turns::Turn::First(turns),
        );
        Ok(PgStore {
            pool,
            pools,
            listener,
            node_id,
            keyring,
            publishes,
            completions,
        })
    }

    /// Closes every connection after the calls in progress, and stops the `LISTEN` task.
    pub async fn close(self) {
        let Self {
            pools,
            listener,
            publishes,
            completions,
            ..
        } = self;
        drop((listener, publishes, completions));
        pools.close().await;
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        Ok(self.pool.acquire().await?)
    }
}

/// Runs `$body` with `$conn` bound to a new transaction, and commits it if the body succeeded
/// (an early error drops the transaction, which rolls it back).
macro_rules! in_transaction {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut tx = $store.pool.begin().await?;
        let $conn: &mut PgConnection = &mut tx;
        let output = $body.await?;
        tx.commit().await?;
        Ok::<_, StoreError>(output)
    }};
}

#[async_trait]
impl Catalog for PgStore {
    async fn create_support_request(&self, request: &crate::support::SupportRequest) -> Result<()> {
        support::create(&mut *self.conn().await?, request).await
    }

    async fn get_support_request(
        &self,
        id: &str,
    ) -> Result<Option<crate::support::SupportRequest>> {
        support::get(&mut *self.conn().await?, id).await
    }

    async fn list_support_requests(
        &self,
        tenant_id: Option<&TenantId>,
        open_only: bool,
        page: &PageRequest,
    ) -> Result<Page<crate::support::SupportRequest>> {
        support::list(
            &mut *self.conn().await?,
            tenant_id.map(TenantId::as_str),
            open_only,
            page,
        )
        .await
    }

    async fn answer_support_request(
        &self,
        id: &str,
        answer: Option<&str>,
        status: crate::support::SupportStatus,
        now: OffsetDateTime,
    ) -> Result<Option<crate::support::SupportRequest>> {
        in_transaction!(self, |conn| support::answer(conn, id, answer, status, now))
    }

    async fn insert_hub_session(
        &self,
        session_hash: &str,
        tenant_id: Option<&TenantId>,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        in_transaction!(self, |conn| hub::insert_hub_session(
            conn,
            session_hash,
            tenant_id,
            now,
            expires_at
        ))
    }

    async fn hub_session(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<crate::hub::HubSession>> {
        hub::hub_session(&mut *self.conn().await?, session_hash, now).await
    }

    async fn delete_hub_session(&self, session_hash: &str) -> Result<bool> {
        hub::delete_hub_session(&mut *self.conn().await?, session_hash).await
    }

    async fn ping(&self) -> Result<()> {
        run::execute(
            &mut *self.conn().await?,
            &crate::statements::catalog::ping(),
        )
        .await?;
        Ok(())
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        catalog::create_tenant(&mut *self.conn().await?, tenant).await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        catalog::get_tenant(&mut *self.conn().await?, id.as_str()).await
    }

    async fn get_tenant_by_client_id(&self, client_id: &str) -> Result<Option<Tenant>> {
        catalog::get_tenant_by_client_id(&mut *self.conn().await?, client_id).await
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>> {
        catalog::list_tenants(&mut *self.conn().await?, page).await
    }

    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<Option<Tenant>> {
        catalog::rename_tenant(&mut *self.conn().await?, id, name).await
    }

    async fn set_tenant_retention(
        &self,
        id: &TenantId,
        seconds: Option<u64>,
    ) -> Result<Option<Tenant>> {
        catalog::set_tenant_retention(&mut *self.conn().await?, id, seconds).await
    }

    async fn delete_tenant(&self, id: &TenantId) -> Result<bool> {
        in_transaction!(self, |conn| catalog::delete_tenant(conn, id))
    }

    async fn insert_access_token(
        &self,
        token_hash: &str,
        tenant_id: &TenantId,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        catalog::insert_access_token(&mut *self.conn().await?, token_hash, tenant_id, expires_at)
            .await
    }

    async fn access_token_tenant(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TenantId>> {
        catalog::access_token_tenant(&mut *self.conn().await?, token_hash, now).await
    }

    async fn revoke_access_token(&self, token_hash: &str, tenant_id: &TenantId) -> Result<bool> {
        catalog::revoke_access_token(&mut *self.conn().await?, token_hash, tenant_id).await
    }

    async fn purge_expired_access_tokens(&self, now: OffsetDateTime, limit: u32) -> Result<u64> {
        catalog::purge_expired_access_tokens(&mut *self.conn().await?, now, limit).await
    }

    async fn rotate_tenant_credentials(
        &self,
        id: &TenantId,
        client_secret_hash: &str,
    ) -> Result<Option<Tenant>> {
        in_transaction!(self, |conn| catalog::rotate_tenant_credentials(
            conn,
            id,
            client_secret_hash
        ))
    }

    async fn create_event_type(&self, event_type: &EventType) -> Result<()> {
        catalog::create_event_type(&mut *self.conn().await?, event_type).await
    }

    async fn get_event_type(&self, name: &str) -> Result<Option<EventType>> {
        catalog::get_event_type(&mut *self.conn().await?, name).await
    }

    async fn list_event_types(&self, page: &PageRequest) -> Result<Page<EventType>> {
        catalog::list_event_types(&mut *self.conn().await?, page).await
    }

    async fn update_event_type(&self, event_type: &EventType) -> Result<bool> {
        catalog::update_event_type(&mut *self.conn().await?, event_type).await
    }

    async fn delete_event_type(&self, name: &str) -> Result<bool> {
        catalog::delete_event_type(&mut *self.conn().await?, name).await
    }

    async fn event_type_names(&self, prefix: &str, limit: u32) -> Result<Vec<String>> {
        catalog::event_type_names(&mut *self.conn().await?, prefix, limit).await
    }

    async fn event_type_usage(&self, name: &str, sample: u32) -> Result<EventTypeUsage> {
        catalog::event_type_usage(&mut *self.conn().await?, name, sample).await
    }

    async fn count_subscriptions(&self, tenant_id: &TenantId) -> Result<u64> {
        catalog::count_subscriptions(&mut *self.conn().await?, tenant_id.as_str()).await
    }

    async fn create_subscription(&self, subscription: &Subscription) -> Result<()> {
        in_transaction!(self, |conn| catalog::create_subscription(
            conn,
            &self.keyring,
            subscription
        ))
    }

    async fn get_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>> {
        catalog::get_subscription(&mut *self.conn().await?, &self.keyring, id.as_str()).await
    }

    async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>> {
        catalog::list_subscriptions(&mut *self.conn().await?, &self.keyring, filter, page).await
    }

    async fn client_certificates(
        &self,
        after: Option<&SubscriptionId>,
        limit: u32,
    ) -> Result<Vec<(SubscriptionId, String)>> {
        let after = after.map(SubscriptionId::as_str);
        catalog::client_certificates(&mut *self.conn().await?, after, limit).await
    }

    async fn update_subscription(&self, subscription: &Subscription) -> Result<bool> {
        let updated: Option<bool> = in_transaction!(self, |conn| async {
            let resumed = catalog::update_subscription(conn, &self.keyring, subscription).await?;
            if resumed == Some(true) {
                // Its waiting deliveries just became claimable: wake every node (delivered
                // at commit, like a publish's).
                events::notify_work(&mut *conn).await?;
            }
            Ok::<_, StoreError>(resumed)
        })?;
        Ok(updated.is_some())
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool> {
        in_transaction!(self, |conn| catalog::delete_subscription(conn, id))
    }

    async fn secret_census(&self) -> Result<SecretCensus> {
        sealing::secret_census(&mut *self.conn().await?).await
    }

    async fn reseal_secrets(&self, scope: Reseal, limit: u32) -> Result<u64> {
        in_transaction!(self, |conn| sealing::reseal_secrets(
            conn,
            &self.keyring,
            scope,
            limit
        ))
    }
}

#[async_trait]
impl DeliveryQueue for PgStore {
    async fn publish(&self, event: &Event) -> Result<Published> {
        Ok(self.publishes.publish(event, None).await?.published)
    }

    async fn publish_and_lease(&self, event: &Event, lease: &PublishLease) -> Result<Accepted> {
        self.publishes.publish(event, Some(lease)).await
    }

    async fn publish_to(
        &self,
        event: &Event,
        subscription_id: &SubscriptionId,
        lease_until: OffsetDateTime,
    ) -> Result<Delivery> {
        in_transaction!(self, |conn| events::publish_to(
            conn,
            event,
            subscription_id,
            lease_until
        ))
    }

    async fn get_event(&self, id: &EventId) -> Result<Option<Event>> {
        events::get_event(&mut *self.conn().await?, id.as_str()).await
    }

    async fn list_events(&self, filter: &EventFilter, page: &PageRequest) -> Result<Page<Event>> {
        events::list_events(&mut *self.conn().await?, filter, page).await
    }

    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<Delivery>> {
        events::get_delivery(&mut *self.conn().await?, id.as_str()).await
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<DeliverySummary>> {
        events::list_deliveries(&mut *self.conn().await?, filter, page).await
    }

    async fn take_send_slot(
        &self,
        subscription_id: &SubscriptionId,
        rate_per_second: u32,
        now: OffsetDateTime,
        horizon: std::time::Duration,
    ) -> Result<Option<OffsetDateTime>> {
        let Some(args) = crate::claiming::manual_slot(rate_per_second, now, horizon) else {
            return Ok(Some(now));
        };
        queue::take_send_slot(&mut *self.conn().await?, subscription_id.as_str(), args).await
    }

    async fn list_attempts_page(
        &self,
        delivery_id: &DeliveryId,
        page: &PageRequest,
    ) -> Result<Page<Attempt>> {
        events::list_attempts_page(&mut *self.conn().await?, delivery_id.as_str(), page).await
    }

    async fn list_attempts(&self, delivery_id: &DeliveryId) -> Result<Vec<Attempt>> {
        events::list_attempts(&mut *self.conn().await?, delivery_id.as_str()).await
    }

    async fn attempts_between(
        &self,
        after: &FeedPosition,
        until: &FeedPosition,
        filter: &AttemptFeedFilter,
        limit: u32,
    ) -> Result<FeedPage> {
        let sql = crate::statements::feed::attempts_between(after, until, filter, limit);
        let items = run::all(&mut *self.conn().await?, &sql, crate::feed::feed_attempt).await?;
        Ok(crate::feed::feed_page(items, limit, until))
    }

    async fn claim_due(&self, claim: &Claim) -> Result<Vec<DeliveryJob>> {
        // In the batch of attempt outcomes queued before it, so it sees their places free.
        self.completions.claim(claim).await
    }

    async fn lease_delivery(
        &self,
        id: &DeliveryId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<DeliveryJob>> {
        in_transaction!(self, |conn| claim::lease_delivery(
            conn,
            &self.keyring,
            id,
            now,
            lease_until
        ))
    }

    async fn complete_attempt(&self, attempt: &Attempt, progress: &DeliveryProgress) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        self.completions.complete(attempt, progress, now).await
    }

    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>> {
        queue::next_due_at(&mut *self.conn().await?).await
    }

    async fn release_all_leases(&self) -> Result<u64> {
        queue::release_all_leases(&mut *self.conn().await?).await
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        queue::queue_stats(&mut *self.conn().await?).await
    }

    async fn relay_present(
        &self,
        subscription_id: &SubscriptionId,
        until: OffsetDateTime,
    ) -> Result<()> {
        relay::present(
            &mut *self.conn().await?,
            subscription_id.as_str(),
            &self.node_id,
            until,
        )
        .await
    }

    async fn start_recovery(&self, recovery: &crate::recovery::Recovery) -> Result<()> {
        recovery::start(&mut *self.conn().await?, recovery).await
    }

    async fn get_recovery(&self, id: &str) -> Result<Option<crate::recovery::Recovery>> {
        recovery::get(&mut *self.conn().await?, id).await
    }

    async fn latest_recovery(
        &self,
        subscription_id: &SubscriptionId,
    ) -> Result<Option<crate::recovery::Recovery>> {
        recovery::latest(&mut *self.conn().await?, subscription_id).await
    }

    async fn count_failed_deliveries(
        &self,
        subscription_id: &SubscriptionId,
        since: OffsetDateTime,
    ) -> Result<u64> {
        recovery::count_failed(&mut *self.conn().await?, subscription_id, since).await
    }

    async fn relay_waiting(&self, subscription_id: &SubscriptionId) -> Result<u64> {
        relay::waiting(&mut *self.conn().await?, subscription_id.as_str()).await
    }

    async fn lease_unattended_relay(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        in_transaction!(self, |conn| relay::lease_unattended(
            conn,
            since,
            now,
            lease_until,
            limit
        ))
    }

    async fn recovery_step(
        &self,
        id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Option<crate::recovery::Recovery>> {
        in_transaction!(self, |conn| recovery::step(
            conn,
            id,
            now,
            lease_until,
            limit
        ))
    }

    async fn claim_stalled_recovery(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<crate::recovery::Recovery>> {
        recovery::claim_stalled(&mut *self.conn().await?, now, lease_until).await
    }

    async fn activity(
        &self,
        query: &crate::hub::ActivityQuery,
    ) -> Result<Vec<crate::hub::ActivityBucket>> {
        hub::activity(&mut *self.conn().await?, query).await
    }

    async fn failing_subscriptions(
        &self,
        since: OffsetDateTime,
        tenant_id: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<crate::hub::FailingSubscription>> {
        hub::failing_subscriptions(&mut *self.conn().await?, since, tenant_id, limit).await
    }

    /// Other nodes may claim from the same database: only the count in it is shared.
    fn single_process(&self) -> bool {
        false
    }

    async fn note_failure(&self, failure: &FailureNotice) -> Result<()> {
        notices::note_failure(&mut *self.conn().await?, failure).await
    }

    async fn claim_failure_digest(
        &self,
        now: OffsetDateTime,
        sent_before: OffsetDateTime,
        noted_before: OffsetDateTime,
    ) -> Result<Option<FailureDigest>> {
        in_transaction!(self, |conn| notices::claim_failure_digest(
            conn,
            now,
            sent_before,
            noted_before
        ))
    }

    fn work_notifier(&self) -> Option<Arc<Notify>> {
        Some(self.listener.notifier())
    }

    async fn tenant_retentions(&self) -> Result<Vec<(TenantId, u64)>> {
        retention::tenant_retentions(&mut *self.conn().await?).await
    }

    async fn delete_old_events(
        &self,
        scope: &RetentionScope,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<RetentionDeleted> {
        in_transaction!(self, |conn| retention::delete_old_events(
            conn, scope, before, limit
        ))
    }

    async fn drop_old_payloads(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<PayloadsDropped> {
        in_transaction!(self, |conn| retention::drop_old_payloads(
            conn, before, limit
        ))
    }
}
