//! The Hub's sign-in sessions on SQLite: the shared statements of
//! [`crate::statements::hub`], writes on the writer's connection inside its batch.

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::hub::{HubSession, hub_session_row};
use crate::ids::TenantId;
use crate::statements::hub as sql;

type Result<T> = std::result::Result<T, StoreError>;

/// Sweeps a few expired sessions, then writes the new one, in the writer's one transaction.
pub(super) fn insert_hub_session(
    conn: &Connection,
    session_hash: &str,
    tenant_id: Option<&TenantId>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<()> {
    run::execute(conn, &sql::purge_expired_hub_sessions(now))?;
    let insert = sql::insert_hub_session(session_hash, tenant_id.map(TenantId::as_str), expires_at);
    run::execute(conn, &insert)?;
    Ok(())
}

pub(super) fn hub_session(
    conn: &Connection,
    session_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<HubSession>> {
    run::optional(conn, &sql::hub_session(session_hash, now), |row| {
        hub_session_row(row)
    })
}

pub(super) fn delete_hub_session(conn: &Connection, session_hash: &str) -> Result<bool> {
    Ok(run::execute(conn, &sql::delete_hub_session(session_hash))? > 0)
}

/// Attempts and events per bucket, read on one reader connection.
pub(super) fn activity(
    conn: &Connection,
    query: &crate::hub::ActivityQuery,
) -> Result<Vec<crate::hub::ActivityBucket>> {
    use crate::hub::{attempt_bucket_row, event_bucket_row, first_id_at, merge_buckets};
    let bucket = i64::from(query.bucket_seconds.max(1)) * 1_000_000;
    let first_attempt = first_id_at(crate::ids::AttemptId::PREFIX, query.since);
    let first_event = first_id_at(crate::ids::EventId::PREFIX, query.since);
    let (attempts, events) = match &query.tenant_id {
        None => (
            run::all(
                conn,
                &sql::attempt_buckets(&first_attempt, query.since, bucket),
                |row| attempt_bucket_row(row),
            )?,
            run::all(
                conn,
                &sql::event_buckets(&first_event, query.since, bucket),
                |row| event_bucket_row(row),
            )?,
        ),
        Some(tenant) => (
            run::all(
                conn,
                &sql::attempt_buckets_of_tenant(
                    &first_attempt,
                    query.since,
                    bucket,
                    tenant.as_str(),
                ),
                |row| attempt_bucket_row(row),
            )?,
            run::all(
                conn,
                &sql::event_buckets_of_tenant(&first_event, query.since, bucket, tenant.as_str()),
                |row| event_bucket_row(row),
            )?,
        ),
    };
    Ok(merge_buckets(attempts, events))
}

pub(super) fn failing_subscriptions(
    conn: &Connection,
    since: OffsetDateTime,
    tenant_id: Option<&TenantId>,
    limit: u32,
) -> Result<Vec<crate::hub::FailingSubscription>> {
    let first = crate::hub::first_id_at(crate::ids::AttemptId::PREFIX, since);
    match tenant_id {
        None => run::all(conn, &sql::failing_subscriptions(&first, limit), |row| {
            crate::hub::failing_row(row)
        }),
        Some(tenant) => run::all(
            conn,
            &sql::failing_subscriptions_of_tenant(&first, limit, tenant.as_str()),
            |row| crate::hub::failing_row(row),
        ),
    }
}
