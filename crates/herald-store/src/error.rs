//! The store's typed error. Callers map it to HTTP: `Conflict` → 409, `PayloadDropped` → 410,
//! `Unavailable` → 503, anything else → 500 (logged, never shown to clients).

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint refused the write (the message names what already exists).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The event's payload was removed by payload retention, so it cannot be sent again (the
    /// message names the event).
    #[error("payload dropped: {0}")]
    PayloadDropped(String),
    /// The database cannot be reached or is busy beyond its timeout; retrying later may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Stored data could not be decoded (a bug or a manual edit of the database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A stored secret could not be opened with the configured encryption keys (a key is
    /// missing from the keyring, or the value was altered): the message says which key.
    #[error("cannot open a stored secret: {0}")]
    Sealing(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[source] Cause),
    /// Applying the schema migrations failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The underlying failure: a driver's error (sqlx for reads and PostgreSQL, rusqlite for the
/// SQLite writer), or one of our own.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.into()),
            sqlx::Error::Database(db)
                if db.code().is_some_and(|code| unavailable_sqlstate(&code)) =>
            {
                StoreError::Unavailable(error.into())
            }
            _ => StoreError::Database(error.into()),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match &error {
            rusqlite::Error::SqliteFailure(failure, message)
                if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::Conflict(
                    message
                        .clone()
                        .unwrap_or_else(|| "a unique constraint failed".to_owned()),
                )
            }
            // The file cannot be written right now (locked by another process beyond the busy
            // timeout, a full disk, an I/O error): retrying later may work.
            rusqlite::Error::SqliteFailure(failure, _)
                if matches!(
                    failure.code,
                    ErrorCode::DatabaseBusy
                        | ErrorCode::DatabaseLocked
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::DiskFull
                        | ErrorCode::CannotOpen
                        | ErrorCode::ReadOnly
                ) =>
            {
                StoreError::Unavailable(error.into())
            }
            _ => StoreError::Database(error.into()),
        }
    }
}

/// PostgreSQL's SQLSTATEs meaning "the server is not there right now" rather than "this
/// statement is wrong": class 08 (connection exception), class 57 (operator intervention:
/// the server shutting down or restarting, `57P01`..`57P03`), and class 53 (insufficient
/// resources, such as too many connections). SQLite's codes are numbers and never match.
fn unavailable_sqlstate(code: &str) -> bool {
    code.len() == 5 && (code.starts_with("08") || code.starts_with("57") || code.starts_with("53"))
}

#[cfg(test)]
mod tests {
    use super::unavailable_sqlstate;

    #[test]
    fn connection_and_shutdown_sqlstates_are_unavailable() {
        for code in ["08006", "08001", "57P01", "57P03", "53300"] {
            assert!(unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "5", "2067"] {
            assert!(!unavailable_sqlstate(code), "{code}");
        }
    }
}
