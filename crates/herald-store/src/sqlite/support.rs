//! Support requests on SQLite: the shared statements of [`crate::statements::support`].

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::model::{Page, PageRequest};
use crate::rows::{page, page_limit};
use crate::statements::support as sql;
use crate::support::{SupportRequest, SupportStatus, support_row};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn create(conn: &Connection, request: &SupportRequest) -> Result<()> {
    run::execute(conn, &sql::insert(request))?;
    Ok(())
}

pub(super) fn get(conn: &Connection, id: &str) -> Result<Option<SupportRequest>> {
    run::optional(conn, &sql::by_id(id), |row| support_row(row))
}

pub(super) fn list(
    conn: &Connection,
    tenant_id: Option<&str>,
    open_only: bool,
    request: &PageRequest,
) -> Result<Page<SupportRequest>> {
    let items = run::all(conn, &sql::list(tenant_id, open_only, request), |row| {
        support_row(row)
    })?;
    Ok(page(items, page_limit(request), |r| r.id.clone()))
}

/// Writes the answer (if given) and the status; the row after, if it exists.
pub(super) fn answer(
    conn: &Connection,
    id: &str,
    answer: Option<&str>,
    status: SupportStatus,
    now: OffsetDateTime,
) -> Result<Option<SupportRequest>> {
    if run::execute(conn, &sql::answer(id, answer, status.as_str(), now))? == 0 {
        return Ok(None);
    }
    get(conn, id)
}
