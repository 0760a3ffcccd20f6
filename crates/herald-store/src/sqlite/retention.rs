//! Retention on SQLite: one batch of old events deleted (or their payloads emptied) on the
//! writer (so it is one short transaction among the others, never a long one that deliveries
//! wait behind), then the pages it freed handed back to the file system, so the file shrinks
//! (`auto_vacuum = INCREMENTAL`, set when the file is created; see
//! [`super::SqliteStore::vacuum`] for older files).

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::ids::TenantId;
use crate::model::{PayloadsDropped, RetentionDeleted, RetentionScope};
use crate::rows::{self, to_json};
use crate::statements::{retention as sql, statement};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn tenant_retentions(conn: &Connection) -> Result<Vec<(TenantId, u64)>> {
    run::all(conn, &sql::tenant_retentions(), |row| {
        rows::tenant_retention(row)
    })
}

pub(super) fn delete_old_events(
    conn: &Connection,
    scope: &RetentionScope,
    before: OffsetDateTime,
    limit: u32,
) -> Result<RetentionDeleted> {
    let id = |row: &rusqlite::Row<'_>| rows::get(row, "id");
    let ids: Vec<String> = match scope {
        RetentionScope::Server => run::all(conn, &sql::old_events(before, limit), id)?,
        RetentionScope::Tenant(tenant) => {
            run::all(conn, &sql::old_events_of_tenant(tenant, before, limit), id)?
        }
    };
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
    incremental_vacuum(conn)?;
    Ok(RetentionDeleted {
        events: events as u64,
        deliveries: u64::try_from(deliveries).unwrap_or(0),
        attempts: u64::try_from(attempts).unwrap_or(0),
    })
}

pub(super) fn drop_old_payloads(
    conn: &Connection,
    before: OffsetDateTime,
    limit: u32,
) -> Result<PayloadsDropped> {
    let ids: Vec<String> = run::all(conn, &sql::old_payloads(before, limit), |row| {
        rows::get(row, "id")
    })?;
    if ids.is_empty() {
        return Ok(PayloadsDropped::default());
    }
    let ids = to_json(&ids)?;
    let attempts = statement!(
        "UPDATE attempts SET response_body = NULL WHERE response_body IS NOT NULL \
           AND delivery_id IN (SELECT id FROM deliveries \
                               WHERE event_id IN (SELECT value FROM json_each($1)))",
        ids.as_str(),
    );
    let attempts = run::execute(conn, &attempts)?;
    let events = statement!(
        "UPDATE events SET payload_json = '' WHERE id IN (SELECT value FROM json_each($1))",
        ids.as_str(),
    );
    let events = run::execute(conn, &events)?;
    incremental_vacuum(conn)?;
    Ok(PayloadsDropped {
        events: events as u64,
        attempts: attempts as u64,
    })
}

/// Gives the freed pages back (a no-op on a file created without incremental auto-vacuum).
/// It frees pages as it is stepped, so it is stepped to the end.
fn incremental_vacuum(conn: &Connection) -> Result<()> {
    let mut vacuum = conn.prepare_cached("PRAGMA incremental_vacuum")?;
    let mut steps = vacuum.raw_query();
    while steps.next()?.is_some() {}
    Ok(())
}
