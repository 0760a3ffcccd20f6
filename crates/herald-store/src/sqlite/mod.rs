//! The embedded default store: one SQLite file in WAL mode.
//!
//! Reads go to a few `readers` (rusqlite connections on the blocking pool); every write goes
//! to the single `writer` thread, which owns the only write connection and commits queued
//! writes together (group commit), so concurrent `publish` calls share one fsync while each
//! still answers only once durable (`synchronous=FULL`: a committed transaction survives
//! kill -9 and power loss). Routing all writes through one connection is also what keeps
//! `SQLITE_BUSY` away: SQLite has one writer. Only this process may use the file
//! (`DeliveryQueue::single_process`). Every statement runs through `run` on rusqlite: the
//! shared ones from `statements`, SQLite's own beside their use. Migrations in
//! `migrations/sqlite/` are applied by [`SqliteStore::open`] through sqlx's migrator, the one
//! thing sqlx still does on SQLite.

mod catalog;
mod checkpoint;
mod claim;
mod events;
mod handoff;
mod hub;
mod notices;
mod publish;
mod queue;
mod readers;
mod recovery;
mod relay;
mod retention;
mod run;
mod sealing;
mod support;
mod write_jobs;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection};

use rusqlite::OpenFlags;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::feed::{AttemptFeedFilter, FeedPage, FeedPosition};
use crate::ids::{DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::sealing::Keyring;
use crate::seam::{Accepted, Catalog, DeliveryQueue, PublishLease, Result};
use crate::statements::catalog::ping;
use readers::Readers;
use writer::Writer;

/// The schema, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for a lock held by another process (e.g. a `sqlite3` shell or
/// a backup) before failing as `Unavailable`. Our own connections never wait on each other.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read connections. WAL readers never block the writer or each other; a few cover the API's
/// concurrent reads without holding many file handles.
const READ_CONNECTIONS: usize = 4;

/// Herald's store on a SQLite file. Share it behind an `Arc`; dropping the last handle stops
/// the writer once it has committed what is queued.
pub struct SqliteStore {
    /// Reads (every `get`/`list`, stats): served concurrently from WAL snapshots.
    readers: Readers,
    /// Writes: queued to the single writer thread, which commits them in batches.
    writer: Writer,
    /// The writer thread, joined by [`SqliteStore::close`] so a caller can know the file is
    /// released (tests reopen the same file).
    writer_thread: std::thread::JoinHandle<()>,
    /// Copies the WAL back into the database file, off the writer's thread.
    checkpointer: checkpoint::Checkpointer,
    /// This process's name in `relay_presence`: new at every open, so a presence left by a
    /// process that died never lets this one claim for a listener it does not hold.
    node_id: String,
    /// Seals subscription secrets on write and opens them on read (see [`crate::sealing`]).
    keyring: Keyring,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating the file and its parent directory if needed) the database at `path`,
    /// applies pending migrations and starts the writer; secrets are sealed and opened with
    /// `keyring`. Must be called within a Tokio runtime.
    pub async fn open(path: &Path, keyring: Keyring) -> Result<Self> {
        create_private(path).map_err(|error| StoreError::Unavailable(error.into()))?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Takes effect when the file is created (and at a VACUUM): deleted rows' pages can
            // then be returned to the file system by retention's `incremental_vacuum`.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .busy_timeout(BUSY_TIMEOUT)
            // Statements are logged at the caller's level (the store's callers log failures);
            // logging each of tens of thousands of inserts a second would cost more than them.
            .disable_statement_logging();
        let mut migrate_conn: SqliteConnection = options.connect().await?;
        MIGRATOR.run(&mut migrate_conn).await?;
        sqlx::Connection::close(migrate_conn).await?;
        let readers = Readers::new(path, READ_CONNECTIONS, BUSY_TIMEOUT);
        let checkpointer = checkpoint::Checkpointer::spawn(path, BUSY_TIMEOUT)?;
        let (writer, writer_thread) = Writer::spawn(write_connection(path)?, keyring.clone())
            .map_err(|error| StoreError::Unavailable(error.into()))?;
        Ok(Self {
            readers,
            writer,
            writer_thread,
            checkpointer,
            node_id: crate::ids::node_id(),
            keyring,
        })
    }

    /// Rewrites the closed database at `path` into a compact file (`VACUUM`), then empties its
    /// WAL: no free page or old WAL frame keeps data that was deleted or re-sealed (run after
    /// `herald admin reencrypt`, so a retired key opens nothing left in the file). It takes the
    /// database's write lock for as long as it runs, so only with no server on the file.
    pub fn vacuum(path: &Path) -> Result<()> {
        let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A file made before retention existed switches to incremental auto-vacuum here.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Stops the writer after it has committed everything queued, and closes every connection.
    pub async fn close(self) {
        let Self {
            readers,
            writer,
            writer_thread,
            checkpointer,
            node_id: _,
            keyring: _,
        } = self;
        drop(writer);
        let stopped = tokio::task::spawn_blocking(move || {
            let writer = writer_thread.join();
            checkpointer.stop();
            writer
        });
        match stopped.await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => tracing::error!("the SQLite writer thread panicked"),
            Err(error) => tracing::error!(%error, "waiting for the SQLite writer thread failed"),
        }
        readers.close();
    }
}

/// Creates the database's directory (0700) and the empty file (0600) if missing, before
/// SQLite opens it: SQLite gives the WAL and shared-memory files it creates later the mode of
/// the database file, so all three are private to this user from the start, whatever the
/// process's umask. Existing files keep the mode the operator gave them.
fn create_private(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(parent)?;
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(path).map(drop)
}

/// The writer's connection (WAL is a property of the file, already set by the migrating
/// connection; the rest holds per connection). Its statement cache keeps every statement
/// the writer runs prepared.
fn write_connection(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Durable acceptance: a commit is on disk (fsync) before anyone hears it succeeded.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Checkpoints run on their own thread (see `checkpoint`), not inside our commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // Every write runs in a savepoint, whose undo copies (the statement journal) spilled to a
    // temporary file past 64 KiB: write syscalls for pages that are thrown away at RELEASE.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // A page cache big enough for the hot end of every index (SQLite's default is 2 MiB).
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The writer's page cache, in KiB (negative: SQLite's unit for sizes in KiB).
const WRITER_CACHE_KIB: i64 = -16_384;

/// Prepared statements the writer keeps: more than the distinct statements it runs.
const STATEMENT_CACHE: usize = 128;

/// Sends a write to the writer: `write!(self, (captures) => |conn| call(conn, …))` moves the
/// captured values into the job, because it runs later on the writer thread.
macro_rules! write {
    ($store:expr, ($($capture:ident),*) => |$conn:ident| $body:expr) => {{
        $(let $capture = $capture.to_owned();)*
        $store
            .writer
            .write(move |$conn: &rusqlite::Connection| $body)
            .await
    }};
}

/// Runs a read on a reader: `read!(self, (captures) => |conn| call(conn, …))`, the captured
/// values owned by the read, which runs on the blocking pool.
macro_rules! read {
    ($store:expr, ($($capture:ident),*) => |$conn:ident| $body:expr) => {{
        $(let $capture = $capture.to_owned();)*
        $store
            .readers
            .read(move |$conn: &rusqlite::Connection| $body)
            .await
    }};
}

#[async_trait]
impl Catalog for SqliteStore {
    async fn create_support_request(&self, request: &crate::support::SupportRequest) -> Result<()> {
        write!(self, (request) => |conn| support::create(conn, &request))
    }

    async fn get_support_request(
        &self,
        id: &str,
    ) -> Result<Option<crate::support::SupportRequest>> {
        read!(self, (id) => |conn| support::get(conn, &id))
    }

    async fn list_support_requests(
        &self,
        tenant_id: Option<&TenantId>,
        open_only: bool,
        page: &PageRequest,
    ) -> Result<Page<crate::support::SupportRequest>> {
        let tenant_id = tenant_id.map(|t| t.as_str().to_owned());
        read!(self, (page) => |conn| support::list(conn, tenant_id.as_deref(), open_only, &page))
    }

    async fn answer_support_request(
        &self,
        id: &str,
        answer: Option<&str>,
        status: crate::support::SupportStatus,
        now: OffsetDateTime,
    ) -> Result<Option<crate::support::SupportRequest>> {
        let answer = answer.map(str::to_owned);
        write!(self, (id) => |conn| support::answer(conn, &id, answer.as_deref(), status, now))
    }

    async fn insert_hub_session(
        &self,
        session_hash: &str,
        tenant_id: Option<&TenantId>,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let tenant_id = tenant_id.cloned();
        write!(self, (session_hash) => |conn| hub::insert_hub_session(conn, &session_hash, tenant_id.as_ref(), now, expires_at))
    }

    async fn hub_session(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<crate::hub::HubSession>> {
        read!(self, (session_hash) => |conn| hub::hub_session(conn, &session_hash, now))
    }

    async fn delete_hub_session(&self, session_hash: &str) -> Result<bool> {
        write!(self, (session_hash) => |conn| hub::delete_hub_session(conn, &session_hash))
    }

    async fn ping(&self) -> Result<()> {
        read!(self, () => |conn| run::optional(conn, &ping(), |_| Ok(())).map(drop))
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        write!(self, (tenant) => |conn| catalog::create_tenant(conn, &tenant))
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        read!(self, (id) => |conn| catalog::get_tenant(conn, id.as_str()))
    }

    async fn get_tenant_by_client_id(&self, client_id: &str) -> Result<Option<Tenant>> {
        read!(self, (client_id) => |conn| catalog::get_tenant_by_client_id(conn, &client_id))
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>> {
        read!(self, (page) => |conn| catalog::list_tenants(conn, &page))
    }

    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<Option<Tenant>> {
        write!(self, (id, name) => |conn| catalog::rename_tenant(conn, &id, &name))
    }

    async fn set_tenant_retention(
        &self,
        id: &TenantId,
        seconds: Option<u64>,
    ) -> Result<Option<Tenant>> {
        write!(self, (id) => |conn| catalog::set_tenant_retention(conn, &id, seconds))
    }

    async fn delete_tenant(&self, id: &TenantId) -> Result<bool> {
        write!(self, (id) => |conn| catalog::delete_tenant(conn, &id))
    }

    async fn insert_access_token(
        &self,
        token_hash: &str,
        tenant_id: &TenantId,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        write!(self, (token_hash, tenant_id) => |conn| catalog::insert_access_token(conn, &token_hash, &tenant_id, expires_at))
    }

    async fn access_token_tenant(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TenantId>> {
        read!(self, (token_hash) => |conn| catalog::access_token_tenant(conn, &token_hash, now))
    }

    async fn revoke_access_token(&self, token_hash: &str, tenant_id: &TenantId) -> Result<bool> {
        write!(self, (token_hash, tenant_id) => |conn| catalog::revoke_access_token(conn, &token_hash, &tenant_id))
    }

    async fn purge_expired_access_tokens(&self, now: OffsetDateTime, limit: u32) -> Result<u64> {
        write!(self, () => |conn| catalog::purge_expired_access_tokens(conn, now, limit))
    }

    async fn rotate_tenant_credentials(
        &self,
        id: &TenantId,
        client_secret_hash: &str,
    ) -> Result<Option<Tenant>> {
        write!(self, (id, client_secret_hash) => |conn| catalog::rotate_tenant_credentials(conn, &id, &client_secret_hash))
    }

    async fn create_event_type(&self, event_type: &EventType) -> Result<()> {
        write!(self, (event_type) => |conn| catalog::create_event_type(conn, &event_type))
    }

    async fn get_event_type(&self, name: &str) -> Result<Option<EventType>> {
        read!(self, (name) => |conn| catalog::get_event_type(conn, &name))
    }

    async fn list_event_types(&self, page: &PageRequest) -> Result<Page<EventType>> {
        read!(self, (page) => |conn| catalog::list_event_types(conn, &page))
    }

    async fn update_event_type(&self, event_type: &EventType) -> Result<bool> {
        write!(self, (event_type) => |conn| catalog::update_event_type(conn, &event_type))
    }

    async fn delete_event_type(&self, name: &str) -> Result<bool> {
        write!(self, (name) => |conn| catalog::delete_event_type(conn, &name))
    }

    async fn event_type_names(&self, prefix: &str, limit: u32) -> Result<Vec<String>> {
        read!(self, (prefix) => |conn| catalog::event_type_names(conn, &prefix, limit))
    }

    async fn event_type_usage(&self, name: &str, sample: u32) -> Result<EventTypeUsage> {
        read!(self, (name) => |conn| catalog::event_type_usage(conn, &name, sample))
    }

    async fn count_subscriptions(&self, tenant_id: &TenantId) -> Result<u64> {
        read!(self, (tenant_id) => |conn| catalog::count_subscriptions(conn, tenant_id.as_str()))
    }

    async fn create_subscription(&self, subscription: &Subscription) -> Result<()> {
        let keyring = &self.keyring;
        write!(self, (keyring, subscription) => |conn| catalog::create_subscription(conn, &keyring, &subscription))
    }

    async fn get_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>> {
        let keyring = &self.keyring;
        read!(self, (keyring, id) => |conn| catalog::get_subscription(conn, &keyring, id.as_str()))
    }

    async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>> {
        let keyring = &self.keyring;
        read!(self, (keyring, filter, page) => |conn| catalog::list_subscriptions(conn, &keyring, &filter, &page))
    }

    async fn client_certificates(
        &self,
        after: Option<&SubscriptionId>,
        limit: u32,
    ) -> Result<Vec<(SubscriptionId, String)>> {
        let after = after.map(|id| id.as_str().to_owned());
        read!(self, (after) => |conn| catalog::client_certificates(conn, after.as_deref(), limit))
    }

    async fn update_subscription(&self, subscription: &Subscription) -> Result<bool> {
        let keyring = &self.keyring;
        write!(self, (keyring, subscription) => |conn| catalog::update_subscription(conn, &keyring, &subscription))
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool> {
        write!(self, (id) => |conn| catalog::delete_subscription(conn, &id))
    }

    async fn secret_census(&self) -> Result<SecretCensus> {
        read!(self, () => |conn| sealing::secret_census(conn))
    }

    async fn reseal_secrets(&self, scope: Reseal, limit: u32) -> Result<u64> {
        let keyring = &self.keyring;
        write!(self, (keyring) => |conn| sealing::reseal_secrets(conn, &keyring, scope, limit))
    }
}

#[async_trait]
impl DeliveryQueue for SqliteStore {
    async fn publish(&self, event: &Event) -> Result<Published> {
        Ok(self.writer.publish(event.clone(), None).await?.published)
    }

    async fn publish_and_lease(&self, event: &Event, lease: &PublishLease) -> Result<Accepted> {
        self.writer.publish(event.clone(), Some(*lease)).await
    }

    async fn publish_to(
        &self,
        event: &Event,
        subscription_id: &SubscriptionId,
        lease_until: OffsetDateTime,
    ) -> Result<Delivery> {
        write!(self, (event, subscription_id) => |conn| events::publish_to(conn, &event, &subscription_id, lease_until))
    }

    async fn get_event(&self, id: &EventId) -> Result<Option<Event>> {
        read!(self, (id) => |conn| events::get_event(conn, id.as_str()))
    }

    async fn list_events(&self, filter: &EventFilter, page: &PageRequest) -> Result<Page<Event>> {
        read!(self, (filter, page) => |conn| events::list_events(conn, &filter, &page))
    }

    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<Delivery>> {
        read!(self, (id) => |conn| events::get_delivery(conn, id.as_str()))
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<DeliverySummary>> {
        read!(self, (filter, page) => |conn| events::list_deliveries(conn, &filter, &page))
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
        write!(self, (subscription_id) => |conn| {
            queue::take_send_slot(conn, subscription_id.as_str(), args)
        })
    }

    async fn list_attempts_page(
        &self,
        delivery_id: &DeliveryId,
        page: &PageRequest,
    ) -> Result<Page<Attempt>> {
        read!(self, (delivery_id, page) => |conn| {
            events::list_attempts_page(conn, delivery_id.as_str(), &page)
        })
    }

    async fn list_attempts(&self, delivery_id: &DeliveryId) -> Result<Vec<Attempt>> {
        read!(self, (delivery_id) => |conn| events::list_attempts(conn, delivery_id.as_str()))
    }

    async fn attempts_between(
        &self,
        after: &FeedPosition,
        until: &FeedPosition,
        filter: &AttemptFeedFilter,
        limit: u32,
    ) -> Result<FeedPage> {
        read!(self, (after, until, filter) => |conn| {
            let sql = crate::statements::feed::attempts_between(&after, &until, &filter, limit);
            let items = run::all(conn, &sql, |row| crate::feed::feed_attempt(row))?;
            Ok(crate::feed::feed_page(items, limit, &until))
        })
    }

    async fn claim_due(&self, claim: &Claim) -> Result<Vec<DeliveryJob>> {
        // Last in its batch: it sees the places that batch's completions free.
        let claim = claim.clone();
        let node_id = self.node_id.clone();
        let keyring = self.keyring.clone();
        self.writer
            .write_last(move |conn: &rusqlite::Connection| {
                claim::claim_due(conn, &keyring, &claim, &node_id)
            })
            .await
    }

    async fn lease_delivery(
        &self,
        id: &DeliveryId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<DeliveryJob>> {
        let keyring = &self.keyring;
        write!(self, (keyring, id) => |conn| queue::lease_delivery(conn, &keyring, &id, now, lease_until))
    }

    async fn complete_attempt(&self, attempt: &Attempt, progress: &DeliveryProgress) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        self.writer.complete(attempt.clone(), *progress, now).await
    }

    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>> {
        read!(self, () => |conn| queue::next_due_at(conn))
    }

    async fn release_all_leases(&self) -> Result<u64> {
        write!(self, () => |conn| queue::release_all_leases(conn))
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        read!(self, () => |conn| queue::queue_stats(conn))
    }

    async fn relay_present(
        &self,
        subscription_id: &SubscriptionId,
        until: OffsetDateTime,
    ) -> Result<()> {
        let node_id = &self.node_id;
        write!(self, (subscription_id, node_id) => |conn| {
            relay::present(conn, subscription_id.as_str(), &node_id, until)
        })
    }

    async fn relay_waiting(&self, subscription_id: &SubscriptionId) -> Result<u64> {
        read!(self, (subscription_id) => |conn| relay::waiting(conn, subscription_id.as_str()))
    }

    async fn lease_unattended_relay(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        write!(self, () => |conn| relay::lease_unattended(conn, since, now, lease_until, limit))
    }

    async fn start_recovery(&self, recovery: &crate::recovery::Recovery) -> Result<()> {
        write!(self, (recovery) => |conn| recovery::start(conn, &recovery))
    }

    async fn get_recovery(&self, id: &str) -> Result<Option<crate::recovery::Recovery>> {
        read!(self, (id) => |conn| recovery::get(conn, &id))
    }

    async fn latest_recovery(
        &self,
        subscription_id: &SubscriptionId,
    ) -> Result<Option<crate::recovery::Recovery>> {
        read!(self, (subscription_id) => |conn| recovery::latest(conn, &subscription_id))
    }

    async fn count_failed_deliveries(
        &self,
        subscription_id: &SubscriptionId,
        since: OffsetDateTime,
    ) -> Result<u64> {
        read!(self, (subscription_id) => |conn| recovery::count_failed(conn, &subscription_id, since))
    }

    async fn recovery_step(
        &self,
        id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Option<crate::recovery::Recovery>> {
        write!(self, (id) => |conn| recovery::step(conn, &id, now, lease_until, limit))
    }

    async fn claim_stalled_recovery(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<crate::recovery::Recovery>> {
        write!(self, () => |conn| recovery::claim_stalled(conn, now, lease_until))
    }

    async fn activity(
        &self,
        query: &crate::hub::ActivityQuery,
    ) -> Result<Vec<crate::hub::ActivityBucket>> {
        read!(self, (query) => |conn| hub::activity(conn, &query))
    }

    async fn failing_subscriptions(
        &self,
        since: OffsetDateTime,
        tenant_id: Option<&TenantId>,
        limit: u32,
    ) -> Result<Vec<crate::hub::FailingSubscription>> {
        let tenant_id = tenant_id.cloned();
        read!(self, () => |conn| hub::failing_subscriptions(conn, since, tenant_id.as_ref(), limit))
    }

    /// One SQLite file serves one Herald process by design (`herald serve` drops every lease
    /// at start-up, which is only sound because no other process can hold a live one).
    fn single_process(&self) -> bool {
        true
    }

    /// Nothing but this process writes the file: the API wakes the dispatcher directly.
    async fn note_failure(&self, failure: &FailureNotice) -> Result<()> {
        write!(self, (failure) => |conn| notices::note_failure(conn, &failure))
    }

    async fn claim_failure_digest(
        &self,
        now: OffsetDateTime,
        sent_before: OffsetDateTime,
        noted_before: OffsetDateTime,
    ) -> Result<Option<FailureDigest>> {
        write!(self, () => |conn| notices::claim_failure_digest(conn, now, sent_before, noted_before))
    }

    fn work_notifier(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    async fn tenant_retentions(&self) -> Result<Vec<(TenantId, u64)>> {
        read!(self, () => |conn| retention::tenant_retentions(conn))
    }

    async fn delete_old_events(
        &self,
        scope: &RetentionScope,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<RetentionDeleted> {
        write!(self, (scope) => |conn| retention::delete_old_events(conn, &scope, before, limit))
    }

    async fn drop_old_payloads(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<PayloadsDropped> {
        write!(self, () => |conn| retention::drop_old_payloads(conn, before, limit))
    }
}
