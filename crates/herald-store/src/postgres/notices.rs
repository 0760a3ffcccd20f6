//! Failure notices on PostgreSQL: the digest claim runs in one transaction (the caller's), so
//! of two nodes claiming the same subscription's digest only one moves its last-sent time and
//! takes its failures.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::run;
use crate::model::{FailureDigest, FailureNotice};
use crate::rows;
use crate::seam::Result;
use crate::statements::notices as sql;

pub(super) async fn note_failure(conn: &mut PgConnection, failure: &FailureNotice) -> Result<()> {
    run::execute(conn, &sql::insert_failure(failure)).await?;
    Ok(())
}

pub(super) async fn claim_failure_digest(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    sent_before: OffsetDateTime,
    noted_before: OffsetDateTime,
) -> Result<Option<FailureDigest>> {
    let candidate = sql::digest_candidate(sent_before, noted_before);
    let Some(subscription_id) = run::optional(conn, &candidate, |row| {
        rows::get::<String>(row, "subscription_id")
    })
    .await?
    else {
        return Ok(None);
    };
    let claim = sql::claim_digest(&subscription_id, now, sent_before);
    if run::optional(conn, &claim, |_| Ok(())).await?.is_none() {
        return Ok(None);
    }
    let taken = sql::take_failures(&subscription_id, now);
    let failures = run::all(conn, &taken, rows::failure_notice).await?;
    Ok(Some(rows::failure_digest(subscription_id, failures)))
}
