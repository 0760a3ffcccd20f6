//! Retention on SQLite: one batch of old events deleted on the writer (so it is one short
//! transaction among the others, never a long one that deliveries wait behind), then the pages
//! it freed handed back to the file system, so the file shrinks (`auto_vacuum = INCREMENTAL`,
//! set when the file is created; see [`super::SqliteStore::vacuum`] for older files).

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::model::RetentionDeleted;
use crate::rows::{self, to_json};
use crate::statements::{retention as sql, statement};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn delete_old_events(
    conn: &Connection,
    before: OffsetDateTime,
    limit: u32,
) -> Result<RetentionDeleted> {
    let ids: Vec<String> = run::all(conn, &sql::old_events(before, limit), |row| {
        rows::get(row, "id")
    })?;
    if ids.is_empty() {
        return Ok(RetentionDeleted::default());
    }
    let ids = to_json(&ids)?;
    // The writer is the only writer: nothing becomes pending between the choice and here.
    let counts = statement!(
        "SELECT (SELECT count(*) FROM deliveries \
                 WHERE event_id IN (SELECT value FROM json_each($1))) AS deliveries, \
                (SELECT count(*) FROM attempts WHERE delivery_id IN \
                   (SELECT id FROM deliveries \
                    WHERE event_id IN (SELECT value FROM json_each($1)))) AS attempts",
        ids.as_str(),
    );
    let (deliveries, attempts): (i64, i64) = run::optional(conn, &counts, |row| {
        Ok((rows::get(row, "deliveries")?, rows::get(row, "attempts")?))
    })?
    .unwrap_or_default();
    let delete = statement!(
        "DELETE FROM events WHERE id IN (SELECT value FROM json_each($1))",
        ids.as_str(),
    );
    let events = run::execute(conn, &delete)?;
    // Gives the freed pages back (a no-op on a file created without incremental auto-vacuum).
    // It frees pages as it is stepped, so it is stepped to the end.
    let mut vacuum = conn.prepare_cached("PRAGMA incremental_vacuum")?;
    let mut steps = vacuum.raw_query();
    while steps.next()?.is_some() {}
    Ok(RetentionDeleted {
        events: events as u64,
        deliveries: u64::try_from(deliveries).unwrap_or(0),
        attempts: u64::try_from(attempts).unwrap_or(0),
    })
}
