//! The `LISTEN` task: turns other nodes' `pg_notify('herald_work')` into a wake-up of this
//! node's dispatcher, so the first attempt of a new delivery does not wait for a poll.
//!
//! It holds one connection of its own (outside the pool) and never gives up: when the
//! connection drops (the database restarts, the network cuts), it reconnects with a capped
//! exponential backoff and re-subscribes. Notifications sent while it was away are lost, so
//! every reconnect also signals the dispatcher, which then looks for due work itself. It signals
//! with [`Notify::notify_one`], which stores a permit when nobody waits: a wake-up that
//! arrives while the dispatcher is busy is not lost. The task stops when the [`Listener`] is
//! dropped (with the store).

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::events::WORK_CHANNEL;
use crate::error::StoreError;

/// The first wait before reconnecting; doubled on each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between reconnection attempts: short enough that a database back from a
/// restart is noticed within seconds.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The running `LISTEN` task and what it signals. Dropping it stops the task.
pub(super) struct Listener {
    /// Signalled on every notification and every reconnect.
    notify: Arc<Notify>,
    /// Aborted on drop: the task loops forever otherwise.
    task: JoinHandle<()>,
}

impl Listener {
    /// Connects and subscribes before returning, so that every notification committed after
    /// this (by any node) is heard.
    pub(super) async fn start(pool: PgPool) -> Result<Self, StoreError> {
        let listener = subscribe(&pool).await?;
        let notify = Arc::new(Notify::new());
        let task = tokio::spawn(run(pool, listener, Arc::clone(&notify)));
        Ok(Self { notify, task })
    }

    /// The dispatcher's wake-up.
    pub(super) fn notifier(&self) -> Arc<Notify> {
        Arc::clone(&self.notify)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(WORK_CHANNEL).await?;
    Ok(listener)
}

async fn run(pool: PgPool, mut listener: PgListener, notify: Arc<Notify>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => notify.notify_one(),
            Ok(None) => {
                // sqlx reconnected (and re-subscribed) by itself; what was sent in between is
                // lost, so let the dispatcher look.
                tracing::warn!("the LISTEN connection to PostgreSQL was lost and re-established");
                notify.notify_one();
            }
            Err(_) if pool.is_closed() => return,
            Err(error) => {
                // Any other failure may leave the listener on a dead connection; start afresh.
                tracing::warn!(%error, "the LISTEN connection to PostgreSQL failed; reconnecting");
                listener = reconnect(&pool).await;
                notify.notify_one();
            }
        }
    }
}

/// A new subscribed listener, retrying with backoff for as long as it takes.
async fn reconnect(pool: &PgPool) -> PgListener {
    let mut backoff = MIN_BACKOFF;
    loop {
        tokio::time::sleep(backoff).await;
        match subscribe(pool).await {
            Ok(listener) => {
                tracing::info!("listening to PostgreSQL again");
                return listener;
            }
            Err(error) => {
                tracing::debug!(%error, ?backoff, "reconnecting the LISTEN connection failed");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
