//! A node's connections: a pool for each group-committed writer ([`super::publish`],
//! [`super::completions`]) and one for everything else.
//!
//! Why not one pool: sqlx hands out the idle connection that has waited longest, so the few
//! transactions a node runs at once still rotate through every connection of the pool, and
//! each PostgreSQL backend warms up on its own. It plans every statement it meets (afresh for
//! its first five calls, before it settles on a generic plan) and fills its own catalog
//! caches. With one pool of 16, every hot statement was planned on all 16 backends. A writer
//! that runs at most N transactions at once and owns a pool of N connections keeps its
//! statements on N warm backends (PostgreSQL CPU per `herald bench` run: docs/performance.md).

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{PgOptions, completions, publish};
use crate::error::StoreError;

/// The connections the two writers own between them.
const WRITERS: u32 = (publish::MAX_RUNNING + completions::MAX_RUNNING) as u32;

/// The main pool's size when the writers get pools of their own out of `total` connections:
/// only if that leaves the main pool at least as many as the writers hold.
fn main_share(total: u32) -> Option<u32> {
    total.checked_sub(WRITERS).filter(|&rest| rest >= WRITERS)
}

/// The node's pools. Their connections add up to [`PgOptions::max_connections`].
pub(super) struct Pools {
    /// Every operation that is not a publish, an outcome or a claim.
    pub(super) main: PgPool,
    /// Publish batches.
    pub(super) publishes: PgPool,
    /// Outcome batches and the claims that run in them.
    pub(super) completions: PgPool,
}

impl Pools {
    /// Connects the main pool (so a database that cannot be reached fails here); the writers'
    /// pools connect on first use. The writers get pools of their own only when that leaves at
    /// least as many connections to the main pool; with fewer connections in all, everything
    /// shares one pool.
    pub(super) async fn connect(
        connect: PgConnectOptions,
        options: &PgOptions,
    ) -> Result<Self, StoreError> {
        let sized = |max: u32| {
            PgPoolOptions::new()
                .max_connections(max.max(1))
                .acquire_timeout(options.acquire_timeout)
        };
        let Some(rest) = main_share(options.max_connections) else {
            let main = sized(options.max_connections).connect_with(connect).await?;
            return Ok(Self {
                publishes: main.clone(),
                completions: main.clone(),
                main,
            });
        };
        let main = sized(rest).connect_with(connect.clone()).await?;
        let own = |running: usize| sized(running as u32).connect_lazy_with(connect.clone());
        Ok(Self {
            publishes: own(publish::MAX_RUNNING),
            completions: own(completions::MAX_RUNNING),
            main,
        })
    }

    /// Closes every pool after the calls in progress.
    pub(super) async fn close(self) {
        let Self {
            main,
            publishes,
            completions,
        } = self;
        tokio::join!(main.close(), publishes.close(), completions.close());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writers_get_their_own_connections_only_out_of_six_or_more() {
        assert_eq!(WRITERS, 3);
        assert_eq!(main_share(16), Some(13));
        assert_eq!(main_share(6), Some(3));
        for shared in [0, 1, 2, 3, 4, 5] {
            assert_eq!(main_share(shared), None, "{shared} connections");
        }
    }
}
