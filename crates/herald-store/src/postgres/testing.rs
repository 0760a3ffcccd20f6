//! Support for tests that run against PostgreSQL: a fresh, empty database per test, created
//! through an admin URL, so tests run in parallel on one server without seeing each other.
//!
//! Tests read the admin URL from `HERALD_TEST_DATABASE_URL` (`.ci/postgres.sh` starts a
//! private server and sets it). Without it they skip, except under `CI`, where a missing
//! database must fail the run rather than pass it silently. This lives in the library, not in
//! one test crate, because the store's suite and the server's end-to-end suite both use it.

use sqlx::{Connection, PgConnection};

use crate::error::StoreError;

/// The variable holding the admin URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const DATABASE_URL_VAR: &str = "HERALD_TEST_DATABASE_URL";

/// The admin URL from [`DATABASE_URL_VAR`], or `None` (after printing that the test is
/// skipped) when it is not set.
///
/// # Panics
/// When it is not set but `CI` is: in CI the PostgreSQL tests must run, so a missing URL
/// fails the test instead of letting it pass unrun.
pub fn admin_url_or_skip() -> Option<String> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| !ci.is_empty() && ci != "false") => {
            panic!("{DATABASE_URL_VAR} must be set in CI (source .ci/postgres.sh)")
        }
        _ => {
            println!("skipped: {DATABASE_URL_VAR} not set");
            None
        }
    }
}

/// Creates a new, empty database `herald_t_<random>` on the server of `admin_url` and returns
/// its URL (the admin URL with the database name replaced). The caller drops it (see
/// [`drop_database`] and [`TestDatabase`]).
pub async fn fresh_database(admin_url: &str) -> Result<String, StoreError> {
    let name = format!("herald_t_{}", uuid::Uuid::new_v4().simple());
    let url = with_database(admin_url, &name)?;
    let mut admin = PgConnection::connect(admin_url).await?;
    // The name is ours (letters, digits, underscores), so it needs no quoting.
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(url)
}

/// Drops the database named by `url` (made by [`fresh_database`]), disconnecting whoever is
/// still connected to it.
pub async fn drop_database(admin_url: &str, url: &str) -> Result<(), StoreError> {
    let name = database_of(url)?;
    if !name.starts_with("herald_t_")
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(StoreError::Database(
            sqlx::Error::Configuration(
                format!("refusing to drop {name:?}: not a database made by fresh_database").into(),
            )
            .into(),
        ));
    }
    let mut admin = PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// A fresh database that is dropped when this value is dropped (keep it alive as long as the
/// test uses the database).
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    url: String,
}

impl TestDatabase {
    /// Creates the database (see [`fresh_database`]).
    pub async fn create(admin_url: &str) -> Result<TestDatabase, StoreError> {
        Ok(TestDatabase {
            admin_url: admin_url.to_owned(),
            url: fresh_database(admin_url).await?,
        })
    }

    /// Its URL, for [`super::PgStore::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside a runtime (which cannot block on another), so
        // the drop runs on a thread of its own with a small runtime, joined before returning.
        let (admin_url, url) = (self.admin_url.clone(), self.url.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| StoreError::Unavailable(error.into()))?;
            runtime.block_on(drop_database(&admin_url, &url))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            // A leftover database in a test cluster is harmless; say so and carry on.
            Ok(Err(error)) => eprintln!("could not drop test database {}: {error}", self.url),
            Err(_) => eprintln!("dropping test database {} panicked", self.url),
        }
    }
}

/// The test server started by `.ci/postgres.sh`, for tests that stop and start it (a restart
/// under load). Read from `HERALD_TEST_PG_CTL`, `HERALD_TEST_PG_DATA` and
/// `HERALD_TEST_PG_USER` (the OS user owning the cluster; empty or unset: the current user).
#[derive(Clone, Debug)]
pub struct TestServer {
    pg_ctl: String,
    data: String,
    user: Option<String>,
}

impl TestServer {
    /// The server from the environment, or `None` (after printing that the test is skipped)
    /// when `.ci/postgres.sh` did not set it up.
    pub fn from_env() -> Option<TestServer> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|value: &String| !value.is_empty())
        };
        match (var("HERALD_TEST_PG_CTL"), var("HERALD_TEST_PG_DATA")) {
            (Some(pg_ctl), Some(data)) => Some(TestServer {
                pg_ctl,
                data,
                user: var("HERALD_TEST_PG_USER"),
            }),
            _ => {
                println!("skipped: HERALD_TEST_PG_CTL and HERALD_TEST_PG_DATA not set");
                None
            }
        }
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, committed work is kept)
    /// and waits until it is down.
    pub async fn stop(&self) -> std::io::Result<()> {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]).await
    }

    /// Starts the server again with the settings in its data directory and waits until it
    /// accepts connections.
    pub async fn start(&self) -> std::io::Result<()> {
        let log = format!("{}/restarted.log", self.data);
        self.pg_ctl(&["-l", &log, "-w", "-t", "60", "start"]).await
    }

    async fn pg_ctl(&self, args: &[&str]) -> std::io::Result<()> {
        let mut command = match &self.user {
            // PostgreSQL refuses to run as root: run pg_ctl as the cluster's owner.
            Some(user) => {
                let mut command = tokio::process::Command::new("runuser");
                command.args(["-u", user, "--", &self.pg_ctl]);
                command
            }
            None => tokio::process::Command::new(&self.pg_ctl),
        };
        // A working directory the owner can read (pg_ctl warns otherwise).
        command
            .args(["-D", &self.data])
            .args(args)
            .current_dir(&self.data)
            .stdout(std::process::Stdio::null());
        let status = command.status().await?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "pg_ctl {args:?} failed: {status}"
            )))
        }
    }
}

/// `admin_url` with its database (the URL's path) replaced by `name`: everything after the
/// authority up to any `?query`. (A few lines rather than a URL crate: the shape of a
/// PostgreSQL URL is all this needs.)
fn with_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority = base
        .find("://")
        .map(|at| at + 3)
        .ok_or_else(|| invalid_url(admin_url))?;
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |at| authority + at);
    let mut url = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Ok(url)
}

/// The database named by `url` (its path, without the query).
fn database_of(url: &str) -> Result<&str, StoreError> {
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    let authority = base
        .find("://")
        .map(|at| at + 3)
        .ok_or_else(|| invalid_url(url))?;
    let path = base[authority..]
        .find('/')
        .ok_or_else(|| invalid_url(url))?;
    Ok(&base[authority + path + 1..])
}

fn invalid_url(url: &str) -> StoreError {
    StoreError::Database(
        sqlx::Error::Configuration(
            format!("not a postgres:// URL with a database: {url:?}").into(),
        )
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_and_keeps_the_rest() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "herald_t_1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/herald_t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:6543?sslmode=disable", "herald_t_2").unwrap(),
            "postgres://u:p@db:6543/herald_t_2?sslmode=disable"
        );
        assert_eq!(
            database_of("postgres://u:p@db:6543/herald_t_2?sslmode=disable").unwrap(),
            "herald_t_2"
        );
        assert!(with_database("not a url", "x").is_err());
    }
}
