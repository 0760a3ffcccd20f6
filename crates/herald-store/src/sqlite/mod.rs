//! The embedded default store: one SQLite file in WAL mode.
//!
//! Reads go to a small pool of sqlx connections; every write goes to the single [`writer`]
//! thread, which owns the only write connection (rusqlite) and commits queued writes together
//! (group commit), so concurrent `publish` calls share one fsync while each still answers only
//! once durable (`synchronous=FULL`: a committed transaction survives kill -9 and power loss).
//! Routing all writes through one connection is also what keeps `SQLITE_BUSY` away: SQLite has
//! one writer. Only this process may use the file (`DeliveryQueue::single_process`).
//! Migrations in `migrations/sqlite/` are applied by [`SqliteStore::open`].

mod catalog;
mod checkpoint;
mod dispatch;
mod events;
mod handoff;
mod publish;
mod write_jobs;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};

use rusqlite::OpenFlags;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::seam::{Accepted, Catalog, DeliveryQueue, PublishLease, Result};
use writer::Writer;

/// The schema, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for a lock held by another process (e.g. a `sqlite3` shell or
/// a backup) before failing as `Unavailable`. Our own connections never wait on each other.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read connections. WAL readers never block the writer or each other; a few cover the API's
/// concurrent reads without holding many file handles.
const READ_CONNECTIONS: u32 = 4;

/// Herald's store on a SQLite file. Share it behind an `Arc`; dropping the last handle stops
/// the writer once it has committed what is queued.
pub struct SqliteStore {
    /// Reads (every `get`/`list`, stats): served concurrently from WAL snapshots.
    read: SqlitePool,
    /// Writes: queued to the single writer thread, which commits them in batches.
    writer: Writer,
    /// The writer thread, joined by [`SqliteStore::close`] so a caller can know the file is
    /// released (tests reopen the same file).
    writer_thread: std::thread::JoinHandle<()>,
    /// Copies the WAL back into the database file, off the writer's thread.
    checkpointer: checkpoint::Checkpointer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating the file and its parent directory if needed) the database at `path`,
    /// applies pending migrations and starts the writer. Must be called within a Tokio runtime.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|error| StoreError::Unavailable(error.into()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Statements are logged at the caller's level (the store's callers log failures);
            // logging each of tens of thousands of inserts a second would cost more than them.
            .disable_statement_logging();
        let mut migrate_conn: SqliteConnection = options.connect().await?;
        MIGRATOR.run(&mut migrate_conn).await?;
        sqlx::Connection::close(migrate_conn).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await?;
        let checkpointer = checkpoint::Checkpointer::spawn(path, BUSY_TIMEOUT)?;
        let (writer, writer_thread) = Writer::spawn(write_connection(path)?)
            .map_err(|error| StoreError::Unavailable(error.into()))?;
        Ok(Self {
            read,
            writer,
            writer_thread,
            checkpointer,
        })
    }

    /// Stops the writer after it has committed everything queued, and closes every connection.
    pub async fn close(self) {
        let Self {
            read,
            writer,
            writer_thread,
            checkpointer,
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
        read.close().await;
    }

    /// A connection for reading.
    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>> {
        Ok(self.read.acquire().await?)
    }
}

/// The writer's connection, set up as the read pool's are (WAL is a property of the file,
/// already set; the rest holds per connection). Its statement cache keeps every statement
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

/// Sends a write to the writer: `write!(self, |conn| (captures) => call(conn, …))` moves the
/// captured values into the job, because it runs later on the writer thread.
macro_rules! write {
    ($store:expr, ($($capture:ident),*) => |$conn:ident| $body:expr) => {{
        $(let $capture = $capture.clone();)*
        $store
            .writer
            .write(move |$conn: &rusqlite::Connection| $body)
            .await
    }};
}

#[async_trait]
impl Catalog for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.reader().await?)
            .await?;
        Ok(())
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        write!(self, (tenant) => |conn| catalog::create_tenant(conn, &tenant))
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        catalog::get_tenant(&mut *self.reader().await?, id.as_str()).await
    }

    async fn get_tenant_by_client_id(&self, client_id: &str) -> Result<Option<Tenant>> {
        catalog::get_tenant_by_client_id(&mut *self.reader().await?, client_id).await
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>> {
        catalog::list_tenants(&mut *self.reader().await?, page).await
    }

    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<Option<Tenant>> {
        let name = name.to_owned();
        write!(self, (id, name) => |conn| catalog::rename_tenant(conn, &id, &name))
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
        let token_hash = token_hash.to_owned();
        write!(self, (token_hash, tenant_id) => |conn| catalog::insert_access_token(conn, &token_hash, &tenant_id, expires_at))
    }

    async fn access_token_tenant(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TenantId>> {
        catalog::access_token_tenant(&mut *self.reader().await?, token_hash, now).await
    }

    async fn create_event_type(&self, event_type: &EventType) -> Result<()> {
        write!(self, (event_type) => |conn| catalog::create_event_type(conn, &event_type))
    }

    async fn get_event_type(&self, name: &str) -> Result<Option<EventType>> {
        catalog::get_event_type(&mut *self.reader().await?, name).await
    }

    async fn list_event_types(&self, page: &PageRequest) -> Result<Page<EventType>> {
        catalog::list_event_types(&mut *self.reader().await?, page).await
    }

    async fn update_event_type(&self, event_type: &EventType) -> Result<bool> {
        write!(self, (event_type) => |conn| catalog::update_event_type(conn, &event_type))
    }

    async fn delete_event_type(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        write!(self, (name) => |conn| catalog::delete_event_type(conn, &name))
    }

    async fn create_subscription(&self, subscription: &Subscription) -> Result<()> {
        write!(self, (subscription) => |conn| catalog::create_subscription(conn, &subscription))
    }

    async fn get_subscription(&self, id: &SubscriptionId) -> Result<Option<Subscription>> {
        catalog::get_subscription(&mut *self.reader().await?, id.as_str()).await
    }

    async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>> {
        catalog::list_subscriptions(&mut *self.reader().await?, filter, page).await
    }

    async fn update_subscription(&self, subscription: &Subscription) -> Result<bool> {
        write!(self, (subscription) => |conn| catalog::update_subscription(conn, &subscription))
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool> {
        write!(self, (id) => |conn| catalog::delete_subscription(conn, &id))
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
        events::get_event(&mut *self.reader().await?, id.as_str()).await
    }

    async fn list_events(&self, filter: &EventFilter, page: &PageRequest) -> Result<Page<Event>> {
        events::list_events(&mut *self.reader().await?, filter, page).await
    }

    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<Delivery>> {
        events::get_delivery(&mut *self.reader().await?, id.as_str()).await
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>> {
        events::list_deliveries(&mut *self.reader().await?, filter, page).await
    }

    async fn list_attempts(&self, delivery_id: &DeliveryId) -> Result<Vec<Attempt>> {
        events::list_attempts(&mut *self.reader().await?, delivery_id.as_str()).await
    }

    async fn claim_due(&self, claim: &Claim) -> Result<Vec<DeliveryJob>> {
        // Last in its batch: it sees the places that batch's completions free.
        let claim = claim.clone();
        self.writer
            .write_last(move |conn: &rusqlite::Connection| dispatch::claim_due(conn, &claim))
            .await
    }

    async fn lease_delivery(
        &self,
        id: &DeliveryId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<DeliveryJob>> {
        write!(self, (id) => |conn| dispatch::lease_delivery(conn, &id, now, lease_until))
    }

    async fn complete_attempt(&self, attempt: &Attempt, progress: &DeliveryProgress) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        self.writer.complete(attempt.clone(), *progress, now).await
    }

    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>> {
        dispatch::next_due_at(&mut *self.reader().await?).await
    }

    async fn release_all_leases(&self) -> Result<u64> {
        write!(self, () => |conn| dispatch::release_all_leases(conn))
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        dispatch::queue_stats(&mut *self.reader().await?).await
    }

    /// One SQLite file serves one Herald process by design (`herald serve` drops every lease
    /// at start-up, which is only sound because no other process can hold a live one).
    fn single_process(&self) -> bool {
        true
    }

    /// Nothing but this process writes the file: the API wakes the dispatcher directly.
    fn work_notifier(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}
