//! A fresh PostgreSQL database per scenario (`--database-url`), so every run starts empty and
//! runs are comparable: [`BenchDatabase::create`] runs `CREATE DATABASE herald_bench_<random>`
//! over the given URL, the nodes are pointed at it, and [`BenchDatabase::drop_after`] runs
//! `DROP DATABASE … WITH (FORCE)` once they are stopped. Between the two it reads
//! `pg_stat_database.xact_commit`, the commits the nodes made, for "commits per delivery".

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
            }),
            Err(source) => Err(BenchError::CreateDatabase { name, source }),
        }
    }

    /// The URL the nodes use.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits (bounded) until no session uses the database, reads the commits made in it, and
    /// drops it. Call after the nodes are stopped. The commit count is `None` if unreadable.
    pub async fn drop_after(self) -> Result<Option<u64>, BenchError> {
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
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .map_err(|source| BenchError::Database {
            what: format!("drop database {}", self.name),
            source,
        })?;
        let _ = admin.close().await;
        Ok(commits.and_then(|c| u64::try_from(c).ok()))
    }
}

async fn connect(admin_url: &str) -> Result<PgConnection, BenchError> {
    PgConnection::connect(admin_url)
        .await
        .map_err(|source| BenchError::Database {
            what: "connect to --database-url".into(),
            source,
        })
}
