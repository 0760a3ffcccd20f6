//! Support requests' statements (see [`crate::support`]).

use super::{Built, Statement, statement};
use crate::model::PageRequest;
use crate::rows::{micros, page_limit};
use crate::support::SupportRequest;

const SELECT: &str = "SELECT id, tenant_id, subscription_id, status, message, \
                      diagnostics_json, answer, created_at, updated_at FROM support_requests";

pub(crate) fn insert(request: &SupportRequest) -> Statement<'_, 9> {
    statement!(
        "INSERT INTO support_requests (id, tenant_id, subscription_id, status, message, \
         diagnostics_json, answer, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        request.id.as_str(),
        request.tenant_id.as_str(),
        request.subscription_id.as_ref().map(|s| s.as_str()),
        request.status.as_str(),
        request.message.as_str(),
        request.diagnostics_json.as_str(),
        request.answer.as_deref(),
        micros(request.created_at),
        micros(request.updated_at),
    )
}

pub(crate) fn by_id(id: &str) -> Built<'_> {
    let mut built = Built::new(SELECT);
    built.push(" WHERE id = ").bind(id);
    built
}

/// Newest first, one page (plus one row that says another page exists); optionally one
/// tenant's, optionally not closed.
pub(crate) fn list<'a>(
    tenant_id: Option<&'a str>,
    open_only: bool,
    page: &'a PageRequest,
) -> Built<'a> {
    let mut built = Built::new(SELECT);
    built.push(" WHERE 1 = 1");
    if let Some(tenant) = tenant_id {
        built.push(" AND tenant_id = ").bind(tenant);
    }
    if open_only {
        built.push(" AND status <> 'closed'");
    }
    if let Some(cursor) = page.cursor.as_deref() {
        built.push(" AND id < ").bind(cursor);
    }
    built
        .push(" ORDER BY id DESC LIMIT ")
        .bind(i64::from(page_limit(page)) + 1);
    built
}

pub(crate) fn answer<'a>(
    id: &'a str,
    answer: Option<&'a str>,
    status: &'a str,
    now: time::OffsetDateTime,
) -> Statement<'a, 4> {
    statement!(
        "UPDATE support_requests SET answer = coalesce($2, answer), status = $3, \
         updated_at = $4 WHERE id = $1",
        id,
        answer,
        status,
        micros(now),
    )
}
