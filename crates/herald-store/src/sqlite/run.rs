//! The one place SQLite runs a shared [`Sql`] statement: prepare (cached), bind, step.
//!
//! It owns binding and nothing else: what to run is [`crate::statements`], how a row becomes a
//! domain type is [`crate::rows`]. SQLite names a `$N` placeholder `$N` and numbers the
//! parameters in order of first appearance, which need not be `N`; binding reads each
//! parameter's name back, so a text that uses `$2` before `$1` still binds right. Every
//! statement goes through the connection's statement cache, reader and writer alike.

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{CachedStatement, Connection, Row};

use crate::error::StoreError;
use crate::statements::{Arg, Sql, placeholder_number};

type Result<T> = std::result::Result<T, StoreError>;

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match (self, self.text()) {
            (Arg::Int(Some(value)), _) => ToSqlOutput::Owned(Value::Integer(*value)),
            (_, Some(text)) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            _ => ToSqlOutput::Owned(Value::Null),
        })
    }
}

/// The statement, prepared (from the cache) with its arguments bound.
fn prepared<'c>(conn: &'c Connection, sql: &impl Sql) -> Result<CachedStatement<'c>> {
    let mut statement = conn.prepare_cached(sql.text())?;
    bind(&mut statement, sql)?;
    Ok(statement)
}

/// Binds each `$N` parameter of `statement` to `sql`'s N-th argument.
fn bind(statement: &mut rusqlite::Statement<'_>, sql: &impl Sql) -> Result<()> {
    let args = sql.args();
    for index in 1..=statement.parameter_count() {
        let number = statement.parameter_name(index).and_then(placeholder_number);
        let arg = number
            .and_then(|number| args.get(number.wrapping_sub(1)))
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "statement parameter {index} has no argument: {}",
                    sql.text()
                ))
            })?;
        statement.raw_bind_parameter(index, arg)?;
    }
    Ok(())
}

/// Runs a statement that returns no rows; the number of rows it changed.
pub(super) fn execute(conn: &Connection, sql: &impl Sql) -> Result<usize> {
    Ok(prepared(conn, sql)?.raw_execute()?)
}

/// Runs many statements of one text (a batch's rows) on one prepared statement, so each row
/// costs its binding and its step, not a statement-cache lookup of the whole text too.
pub(super) struct Repeated<'c> {
    conn: &'c Connection,
    /// The statement prepared last, with its text.
    current: Option<(String, CachedStatement<'c>)>,
}

impl<'c> Repeated<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            current: None,
        }
    }

    /// Runs `sql` (preparing it only if its text differs from the last one's).
    pub(super) fn execute(&mut self, sql: &impl Sql) -> Result<usize> {
        let statement = self.bound(sql)?;
        Ok(statement.raw_execute()?)
    }

    /// The statement of `sql`'s text (prepared only if it differs from the last one's), bound.
    fn bound(&mut self, sql: &impl Sql) -> Result<&mut CachedStatement<'c>> {
        let same = matches!(&self.current, Some((text, _)) if text == sql.text());
        if !same {
            let statement = self.conn.prepare_cached(sql.text())?;
            self.current = Some((sql.text().to_owned(), statement));
        }
        match &mut self.current {
            Some((_, statement)) => {
                bind(statement, sql)?;
                Ok(statement)
            }
            None => Err(StoreError::Corrupt("no statement was prepared".into())),
        }
    }

    /// Like [`optional`].
    pub(super) fn optional<T>(
        &mut self,
        sql: &impl Sql,
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let statement = self.bound(sql)?;
        let mut rows = statement.raw_query();
        rows.next()?.map(map).transpose()
    }
}

/// The first row, mapped (`None` if there is none).
pub(super) fn optional<T>(
    conn: &Connection,
    sql: &impl Sql,
    map: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut statement = prepared(conn, sql)?;
    let mut rows = statement.raw_query();
    rows.next()?.map(map).transpose()
}

/// Every row, mapped, read to the end (an `UPDATE … RETURNING` is complete only then).
pub(super) fn all<T>(
    conn: &Connection,
    sql: &impl Sql,
    mut map: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = prepared(conn, sql)?;
    let mut rows = statement.raw_query();
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(map(row)?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statements::statement;

    #[test]
    fn placeholders_bind_by_number_whatever_their_order_of_appearance() {
        let conn = Connection::open_in_memory().expect("in-memory database");
        let sql = statement!("SELECT $2 || $1 || $2 AS joined", "a", "b");
        let joined =
            optional(&conn, &sql, |row| Ok(row.get::<_, String>("joined")?)).expect("query");
        assert_eq!(joined.as_deref(), Some("bab"));
    }
}
