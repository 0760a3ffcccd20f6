//! The one error type of the test kit: what can go wrong while setting a test up (a port, a
//! database, `pg_ctl`), never a failed expectation (those panic, see the crate root).

use std::io;

/// Why a receiver, a test database or the test PostgreSQL server could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No port on 127.0.0.1 for a receiver.
    #[error("cannot listen on 127.0.0.1 for a test receiver: {0}")]
    Bind(#[source] io::Error),
    /// The admin URL is not a `postgres://` URL this kit can put a database name into.
    #[error("not a postgres:// URL with a database: {0:?}")]
    InvalidUrl(String),
    /// A database name this kit did not make: it refuses to drop it.
    #[error("refusing to drop {0:?}: not a database made by TestDatabase")]
    NotATestDatabase(String),
    /// PostgreSQL refused or failed a statement, or could not be reached.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// `pg_ctl` could not run or failed.
    #[error("pg_ctl: {0}")]
    PgCtl(#[source] io::Error),
}
