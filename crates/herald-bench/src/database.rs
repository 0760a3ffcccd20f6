//! A fresh PostgreSQL database per scenario (`--database-url`), so every run starts empty and
//! runs are comparable: [`BenchDatabase::create`] runs `CREATE DATABASE herald_bench_<random>`
//! over the given URL, the nodes are pointed at it, and [`BenchDatabase::drop_after`] runs
//! `DROP DATABASE … WITH (FORCE)` once they are stopped. Between the two it reads
//! `pg_stat_database.xact_commit`, the commits the nodes made, for "commits per delivery".
//! A database not dropped that way (a scenario failed, or a signal stopped the bench) is
//! dropped when its [`BenchDatabase`] is.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::BenchError;

/// Every database the bench makes starts with this, and only those are ever dropped.
const PREFIX: &str = "herald_bench_";

/// How long the bench waits for the stopped nodes' sessions to end (and flush their
/// statistics) before it reads the commit count.
const SESSIONS_END: Duration = Duration::from_secs(5);

/// One scenario's database.
#[derive(Debug)]
pub struct BenchDatabase {
    admin_url: String,
    url: String,
    name: String,
    /// Set once [`BenchDatabase::drop_after`] ran, so `Drop` does nothing more.
    dropped: bool,
}

impl BenchDatabase {
    /// Creates an empty database next to the one `admin_url` names.
    pub async fn create(admin_url: &str) -> Result<Self, BenchError> {
        let name = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
        let mut url = reqwest::Url::parse(admin_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql") && u.has_host())
            .ok_or_else(|| BenchError::DatabaseUrl(admin_url.to_owned()))?;
        url.set_path(&format!("/{name}"));
        let mut admin = connect(admin_url).await?;
        // The name is ours (letters, digits, underscores), so it needs no quoting.
        let created = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
        match created {
            Ok(_) => Ok(Self {
                admin_url: admin_url.to_owned(),
                url: url.to_string(),
                name,
                dropped: false,
            }),
            Err(source) => Err(BenchError::CreateDatabase { name, source }),
        }
    }

    /// The URL the nodes use.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates a database and drops it at once: whether the role may, before anything is
    /// measured.
    pub async fn probe(admin_url: &str) -> Result<(), BenchError> {
        Self::create(admin_url).await?.drop_after().await.map(drop)
    }

    /// Waits (bounded) until no session uses the database, reads the commits made in it, and
    /// drops it. Call after the nodes are stopped. The commit count is `None` if unreadable.
    pub async fn drop_after(mut self) -> Result<Option<u64>, BenchError> {
        self.dropped = true;
        let mut admin = connect(&self.admin_url).await?;
        let deadline = Instant::now() + SESSIONS_END;
        loop {
            let sessions: Result<i64, _> =
                sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                    .bind(&self.name)
                    .fetch_one(&mut admin)
                    .await;
            if !sessions.is_ok_and(|n| n > 0) || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let commits: Option<i64> =
            sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
                .bind(&self.name)
                .fetch_optional(&mut admin)
                .await
                .ok()
                .flatten();
        let _ = admin.close().await;
        drop_database(&self.admin_url, &self.name).await?;
        Ok(commits.and_then(|c| u64::try_from(c).ok()))
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop may run inside the bench's runtime, which must not block on itself: a thread
        // with a runtime of its own does the work.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(BenchError::local("start a runtime to drop the database"))?;
            runtime.block_on(drop_database(&admin_url, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("{}", crate::error::chain(&error)),
            Err(_) => eprintln!("dropping database {} panicked", self.name),
        }
    }
}

/// `DROP DATABASE … WITH (FORCE)` (ending the sessions still in it) of one of ours.
async fn drop_database(admin_url: &str, name: &str) -> Result<(), BenchError> {
    let mut admin = connect(admin_url).await?;
    // The name is ours (see `create`), so it needs no quoting.
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
    dropped.map(drop).map_err(|source| BenchError::Database {
        what: format!("drop database {name}"),
        source,
    })
}

async fn connect(admin_url: &str) -> Result<PgConnection, BenchError> {
    PgConnection::connect(admin_url)
        .await
        .map_err(|source| BenchError::Database {
            what: "connect to --database-url".into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exists(admin_url: &str, name: &str) -> bool {
        let mut admin = connect(admin_url).await.expect("connect");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .expect("count");
        count == 1
    }

    #[tokio::test]
    async fn a_scenario_database_is_created_empty_and_dropped_after_with_its_commits() {
        let Some(admin_url) = herald_testkit::postgres_url() else {
            return;
        };
        let database = BenchDatabase::create(&admin_url).await.expect("create");
        let name = database.name.clone();
        assert!(exists(&admin_url, &name).await);
        let mut node = PgConnection::connect(database.url())
            .await
            .expect("connect");
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_one(&mut node)
        .await
        .expect("tables");
        assert_eq!(tables, 0, "a fresh database is empty");
        for _ in 0..3 {
            sqlx::query("SELECT 1")
                .execute(&mut node)
                .await
                .expect("select");
        }
        // As when the nodes stop: their sessions end, and report their statistics as they do.
        node.close().await.expect("close");
        let commits = database.drop_after().await.expect("drop");
        assert!(commits.is_some_and(|c| c >= 3), "{commits:?}");
        assert!(!exists(&admin_url, &name).await);
    }

    #[tokio::test]
    async fn a_database_not_dropped_after_its_scenario_is_dropped_with_its_value_even_in_use() {
        let Some(admin_url) = herald_testkit::postgres_url() else {
            return;
        };
        let database = BenchDatabase::create(&admin_url).await.expect("create");
        let name = database.name.clone();
        // A session still open (a node that was not stopped) does not keep it alive.
        let _node = PgConnection::connect(database.url())
            .await
            .expect("connect");
        drop(database);
        assert!(!exists(&admin_url, &name).await);
    }

    #[tokio::test]
    async fn a_url_that_is_not_postgres_is_refused() {
        let refused = BenchDatabase::create("mysql://127.0.0.1/x").await;
        assert!(
            matches!(refused, Err(BenchError::DatabaseUrl(_))),
            "{refused:?}"
        );
    }
}
