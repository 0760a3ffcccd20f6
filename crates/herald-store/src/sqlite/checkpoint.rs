//! WAL checkpoints on a thread of their own, off the writer's path.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages, so
//! every few hundred commits one caller's write waited for pages to be copied back into the
//! database file (5 % of the writer thread's time under load). The writer connection turns
//! that off, and this thread runs a `PASSIVE` checkpoint (which never blocks the writer or
//! readers) at a short interval instead. Durability does not depend on it: a commit is durable
//! once in the WAL; the checkpoint only keeps the WAL from growing.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StoreError;

/// How often the WAL is copied back: at tens of megabytes a second of WAL this keeps it to a
/// few megabytes.
const INTERVAL: Duration = Duration::from_millis(250);

/// The running checkpointer; dropping [`Self::stop`]'s sender ends it.
pub(super) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` on its own connection.
    pub(super) fn spawn(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(busy_timeout)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("herald-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &stopped))
            .map_err(|error| StoreError::Unavailable(error.into()))?;
        Ok(Self { stop, thread })
    }

    /// Runs a last checkpoint and waits for the thread to end (blocking).
    pub(super) fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            tracing::error!("the SQLite checkpoint thread panicked");
        }
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    loop {
        let last = !matches!(
            stopped.recv_timeout(INTERVAL),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "checkpointing the SQLite WAL failed");
        }
        if last {
            return;
        }
    }
}
