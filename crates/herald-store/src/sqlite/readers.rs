//! The read side of the SQLite store: a few rusqlite connections that answer `get`/`list`
//! and the dispatcher's questions concurrently from WAL snapshots, beside the writer.
//!
//! It owns those connections and never writes through them (`query_only`). Why rusqlite here
//! and not sqlx: the writer is rusqlite already, so reads and writes share one query library,
//! one set of statement helpers ([`super::run`]) and one row type, and a function such as
//! "this tenant" is written once whether the writer asks (inside its batch) or a reader does.
//! A read runs on Tokio's blocking pool holding one connection; a semaphore bounds the reads
//! in progress to the connections there are, so a burst of reads waits instead of opening
//! more files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::error::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// The read connections. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub(super) struct Readers {
    inner: Arc<Inner>,
}

struct Inner {
    /// Connections not in use. A std `Mutex`: held only to push or pop, never across a read.
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection that may exist.
    permits: Arc<Semaphore>,
    /// The database file, for opening connections as they are first needed.
    path: PathBuf,
    /// How long a read waits for a lock held by another process.
    busy_timeout: Duration,
}

impl Readers {
    /// Up to `connections` read connections to the database at `path`, opened when needed.
    pub(super) fn new(path: &Path, connections: usize, busy_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                idle: Mutex::new(Vec::with_capacity(connections)),
                permits: Arc::new(Semaphore::new(connections.max(1))),
                path: path.to_owned(),
                busy_timeout,
            }),
        }
    }

    /// Runs `op` on a read connection, on the blocking pool.
    pub(super) async fn read<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite store is closed".into()))?;
        let inner = Arc::clone(&self.inner);
        let read = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match inner.take() {
                Some(conn) => conn,
                None => inner.open()?,
            };
            let output = op(&conn);
            inner.give_back(conn);
            output
        });
        read.await
            .map_err(|error| StoreError::Unavailable(error.into()))?
    }

    /// Closes every idle connection and refuses further reads.
    pub(super) fn close(&self) {
        self.inner.permits.close();
        let idle = std::mem::take(&mut *self.inner.lock());
        drop(idle);
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A read that panicked held no lock here (the lock is never held across a read).
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Option<Connection> {
        self.lock().pop()
    }

    fn give_back(&self, conn: Connection) {
        if !self.permits.is_closed() {
            self.lock().push(conn);
        }
    }

    fn open(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }
}
