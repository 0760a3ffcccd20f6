//! The Hub's sign-in sessions on PostgreSQL: the shared statements of
//! [`crate::statements::hub`]; the caller opens the transaction a sign-in writes in.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::error::StoreError;
use crate::hub::{HubSession, hub_session_row};
use crate::ids::TenantId;
use crate::statements::hub as sql;

type Result<T> = std::result::Result<T, StoreError>;

/// Sweeps a few expired sessions, then writes the new one.
pub(super) async fn insert_hub_session(
    conn: &mut PgConnection,
    session_hash: &str,
    tenant_id: Option<&TenantId>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<()> {
    run::execute(conn, &sql::purge_expired_hub_sessions(now)).await?;
    let insert = sql::insert_hub_session(session_hash, tenant_id.map(TenantId::as_str), expires_at);
    run::execute(conn, &insert).await?;
    Ok(())
}

pub(super) async fn hub_session(
    conn: &mut PgConnection,
    session_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<HubSession>> {
    run::optional(conn, &sql::hub_session(session_hash, now), hub_session_row).await
}

pub(super) async fn delete_hub_session(
    conn: &mut PgConnection,
    session_hash: &str,
) -> Result<bool> {
    Ok(run::execute(conn, &sql::delete_hub_session(session_hash)).await? > 0)
}

/// Attempts and events per bucket.
pub(super) async fn activity(
    conn: &mut PgConnection,
    query: &crate::hub::ActivityQuery,
) -> Result<Vec<crate::hub::ActivityBucket>> {
    use crate::hub::{attempt_bucket_row, event_bucket_row, first_id_at, merge_buckets};
    let bucket = i64::from(query.bucket_seconds.max(1)) * 1_000_000;
    let first_attempt = first_id_at(crate::ids::AttemptId::PREFIX, query.since);
    let first_event = first_id_at(crate::ids::EventId::PREFIX, query.since);
    let (attempts, events) = match &query.tenant_id {
        None => {
            let attempts = sql::attempt_buckets(&first_attempt, query.since, bucket);
            let events = sql::event_buckets(&first_event, query.since, bucket);
            (
                run::all(conn, &attempts, attempt_bucket_row).await?,
                run::all(conn, &events, event_bucket_row).await?,
            )
        }
        Some(tenant) => {
            let attempts = sql::attempt_buckets_of_tenant(
                &first_attempt,
                query.since,
                bucket,
                tenant.as_str(),
            );
            let events =
                sql::event_buckets_of_tenant(&first_event, query.since, bucket, tenant.as_str());
            (
                run::all(conn, &attempts, attempt_bucket_row).await?,
                run::all(conn, &events, event_bucket_row).await?,
            )
        }
    };
    Ok(merge_buckets(attempts, events))
}

pub(super) async fn failing_subscriptions(
    conn: &mut PgConnection,
    since: OffsetDateTime,
    tenant_id: Option<&TenantId>,
    limit: u32,
) -> Result<Vec<crate::hub::FailingSubscription>> {
    let first = crate::hub::first_id_at(crate::ids::AttemptId::PREFIX, since);
    match tenant_id {
        None => {
            let statement = sql::failing_subscriptions(&first, limit);
            run::all(conn, &statement, crate::hub::failing_row).await
        }
        Some(tenant) => {
            let statement = sql::failing_subscriptions_of_tenant(&first, limit, tenant.as_str());
            run::all(conn, &statement, crate::hub::failing_row).await
        }
    }
}
