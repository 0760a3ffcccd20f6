//! PostgreSQL for tests: the one rule for when a PostgreSQL test may be skipped
//! ([`postgres_url`]), a database of its own per test ([`TestDatabase`]: created empty, dropped
//! when the test is done), and the server itself for tests that stop and start it
//! ([`PostgresServer`]).
//!
//! The rule: the admin URL comes from `HERALD_TEST_DATABASE_URL` (`source .ci/postgres.sh`
//! starts a private server and sets it). Without it a test prints "skipped: …" and passes,
//! except under CI (`CI` set to anything but empty, `false` or `0`), where a PostgreSQL test
//! that did not run must fail the build rather than pass unseen.
//!
//! It must never drop a database it did not create: names are `herald_test_<uuid>`, and
//! dropping refuses any other. Dropping happens in `Drop` too, on a thread of its own with its
//! own small runtime, because `Drop` cannot await and may run inside a runtime that cannot
//! block on another; `WITH (FORCE)` ends the sessions a test left open (its store's pool).

mod server;

use sqlx::{Connection, PgConnection};

pub use server::PostgresServer;

use crate::Error;

/// The variable holding the admin URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const DATABASE_URL_VAR: &str = "HERALD_TEST_DATABASE_URL";

/// The prefix of every database this kit creates (and the only ones it drops).
const PREFIX: &str = "herald_test_";

/// Whether the tests run under CI (`CI` set and not empty, `false` or `0`), where every test
/// that needs something outside Rust (PostgreSQL, the Python interop library) must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| !matches!(ci.trim(), "" | "false" | "0"))
}

/// The admin URL from [`DATABASE_URL_VAR`], or `None` after printing that the test is skipped.
///
/// # Panics
/// Under CI ([`in_ci`]) when it is not set: there, a PostgreSQL test must run.
pub fn postgres_url() -> Option<String> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                !in_ci(),
                "{DATABASE_URL_VAR} must be set under CI, where the PostgreSQL tests must run \
                 (source .ci/postgres.sh)"
            );
            println!("skipped: {DATABASE_URL_VAR} is not set (source .ci/postgres.sh to run it)");
            None
        }
    }
}

/// A new, empty database for one test, dropped when this value is dropped or
/// [`destroyed`](TestDatabase::destroy). Keep it alive as long as the test uses the database.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    url: String,
    name: String,
    /// Set once dropped, so `Drop` does not try again.
    dropped: bool,
}

impl TestDatabase {
    /// A new database on the server of [`postgres_url`], or `None` when the test is skipped.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses to create it.
    ///
    /// # Panics
    /// Under CI without a URL (see [`postgres_url`]).
    pub async fn create() -> Result<Option<TestDatabase>, Error> {
        match postgres_url() {
            Some(admin_url) => TestDatabase::create_on(&admin_url).await.map(Some),
            None => Ok(None),
        }
    }

    /// A new database `herald_test_<uuid>` on the server of `admin_url`.
    ///
    /// # Errors
    /// When `admin_url` is not a `postgres://` URL, or the server cannot be reached or refuses.
    pub async fn create_on(admin_url: &str) -> Result<TestDatabase, Error> {
        let name = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
        let url = with_database(admin_url, &name)?;
        let mut admin = PgConnection::connect(admin_url).await?;
        // The name is ours (letters, digits, underscores), so it needs no quoting.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(TestDatabase {
            admin_url: admin_url.to_owned(),
            url,
            name,
            dropped: false,
        })
    }

    /// Its URL: the admin URL with the database replaced.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name, `herald_test_<uuid>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops it now, ending whatever sessions are still connected, and reports a failure
    /// (which `Drop` can only print).
    ///
    /// # Errors
    /// When the server cannot be reached or refuses.
    pub async fn destroy(mut self) -> Result<(), Error> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| Error::Database(sqlx::Error::Io(error)))?;
            runtime.block_on(drop_database(&admin_url, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            // Never panic in Drop (it may run while a failing test unwinds): say so instead.
            Ok(Err(error)) => eprintln!("could not drop test database {}: {error}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), Error> {
    let ours = name
        .strip_prefix(PREFIX)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()));
    if !ours {
        return Err(Error::NotATestDatabase(name.to_owned()));
    }
    let mut admin = PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// `admin_url` with its database (the URL's path) replaced by `name`, keeping any `?query`.
/// (A few lines rather than a URL crate: the shape of a PostgreSQL URL is all this needs.)
fn with_database(admin_url: &str, name: &str) -> Result<String, Error> {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority = base
        .find("://")
        .map(|at| at + 3)
        .ok_or_else(|| Error::InvalidUrl(admin_url.to_owned()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_and_keeps_the_rest() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "d1").ok(),
            Some("postgres://postgres@127.0.0.1:5432/d1".to_owned())
        );
        assert_eq!(
            with_database("postgres://u:p@db:6543?sslmode=disable", "d2").ok(),
            Some("postgres://u:p@db:6543/d2?sslmode=disable".to_owned())
        );
        assert!(with_database("not a url", "x").is_err());
    }

    #[tokio::test]
    async fn only_databases_this_kit_made_are_dropped() {
        for name in ["postgres", "herald_test_", "herald_test_x; DROP TABLE t"] {
            let refused = drop_database("postgres://127.0.0.1:1/postgres", name).await;
            assert!(
                matches!(refused, Err(Error::NotATestDatabase(_))),
                "{name}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_test_database_is_created_empty_and_dropped_with_its_value() {
        let Some(database) = TestDatabase::create().await.expect("create") else {
            return;
        };
        let name = database.name().to_owned();
        let admin = database.admin_url.clone();
        let mut conn = PgConnection::connect(database.url())
            .await
            .expect("connect");
        drop(database);
        let mut admin = PgConnection::connect(&admin).await.expect("connect admin");
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("count");
        assert_eq!(left, 0, "dropped even with a session still open");
        assert!(sqlx::query("SELECT 1").execute(&mut conn).await.is_err());
    }
}
