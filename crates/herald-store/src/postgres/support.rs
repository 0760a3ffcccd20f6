//! Support requests on PostgreSQL: the shared statements of [`crate::statements::support`].

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::model::{Page, PageRequest};
use crate::rows::{page, page_limit};
use crate::statements::support as sql;
use crate::support::{SupportRequest, SupportStatus, support_row};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn create(conn: &mut PgConnection, request: &SupportRequest) -> Result<()> {
    run::execute(conn, &sql::insert(request)).await?;
    Ok(())
}

pub(super) async fn get(conn: &mut PgConnection, id: &str) -> Result<Option<SupportRequest>> {
    run::optional(conn, &sql::by_id(id), support_row).await
}

pub(super) async fn list(
    conn: &mut PgConnection,
    tenant_id: Option<&str>,
    open_only: bool,
    request: &PageRequest,
) -> Result<Page<SupportRequest>> {
    let items = run::all(conn, &sql::list(tenant_id, open_only, request), support_row).await?;
    Ok(page(items, page_limit(request), |r| r.id.clone()))
}

/// Writes the answer (if given) and the status; the row after, if it exists. The caller
/// runs it in one transaction.
pub(super) async fn answer(
    conn: &mut PgConnection,
    id: &str,
    answer: Option<&str>,
    status: SupportStatus,
    now: OffsetDateTime,
) -> Result<Option<SupportRequest>> {
    if run::execute(conn, &sql::answer(id, answer, status.as_str(), now)).await? == 0 {
        return Ok(None);
    }
    get(conn, id).await
}
