//! The one place PostgreSQL runs a shared [`Sql`] statement, through sqlx (whose per-connection
//! cache keeps each text prepared).
//!
//! It owns binding and nothing else: what to run is [`crate::statements`], how a row becomes a
//! domain type is [`crate::rows`]. `$N` is PostgreSQL's own placeholder, so arguments bind in
//! order. Statements only PostgreSQL says (array arguments, `FOR UPDATE`) are written with
//! sqlx directly in their modules.

use sqlx::PgConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;

use crate::error::StoreError;
use crate::statements::{Arg, Sql};

type Result<T> = std::result::Result<T, StoreError>;

/// The statement with its arguments bound.
fn query<'q>(sql: &'q impl Sql) -> Query<'q, sqlx::Postgres, PgArguments> {
    sql.args()
        .iter()
        .fold(sqlx::query(sql.text()), |query, arg| match arg {
            Arg::Int(value) => query.bind(*value),
            Arg::Text(_) | Arg::Owned(_) => query.bind(arg.text()),
        })
}

/// Runs a statement that returns no rows; the number of rows it changed.
pub(super) async fn execute(conn: &mut PgConnection, sql: &impl Sql) -> Result<u64> {
    Ok(query(sql).execute(conn).await?.rows_affected())
}

/// The first row, mapped (`None` if there is none).
pub(super) async fn optional<T>(
    conn: &mut PgConnection,
    sql: &impl Sql,
    map: impl FnOnce(&PgRow) -> Result<T>,
) -> Result<Option<T>> {
    query(sql)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(map)
        .transpose()
}

/// Every row, mapped.
pub(super) async fn all<T>(
    conn: &mut PgConnection,
    sql: &impl Sql,
    map: impl FnMut(&PgRow) -> Result<T>,
) -> Result<Vec<T>> {
    query(sql).fetch_all(conn).await?.iter().map(map).collect()
}
