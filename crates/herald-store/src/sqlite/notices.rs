//! Failure notices on SQLite: every write runs on the single writer, so a digest claim and
//! the failures it takes commit together.

use rusqlite::Connection;
use time::OffsetDateTime;

use super::run;
use crate::model::{FailureDigest, FailureNotice};
use crate::rows;
use crate::seam::Result;
use crate::statements::notices as sql;

pub(super) fn note_failure(conn: &Connection, failure: &FailureNotice) -> Result<()> {
    run::execute(conn, &sql::insert_failure(failure))?;
    Ok(())
}

pub(super) fn claim_failure_digest(
    conn: &Connection,
    now: OffsetDateTime,
    sent_before: OffsetDateTime,
    noted_before: OffsetDateTime,
) -> Result<Option<FailureDigest>> {
    let candidate = sql::digest_candidate(sent_before, noted_before);
    let Some(subscription_id) = run::optional(conn, &candidate, |row| {
        rows::get::<String>(row, "subscription_id")
    })?
    else {
        return Ok(None);
    };
    let claim = sql::claim_digest(&subscription_id, now, sent_before);
    if run::optional(conn, &claim, |_| Ok(()))?.is_none() {
        return Ok(None);
    }
    let taken = sql::take_failures(&subscription_id, now);
    let failures = run::all(conn, &taken, |row| rows::failure_notice(row))?;
    Ok(Some(rows::failure_digest(subscription_id, failures)))
}
