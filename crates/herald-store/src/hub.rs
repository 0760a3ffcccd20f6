//! What the Hub (the web dashboard of `herald serve`) keeps in the store: its sign-in
//! sessions. A session row is found by the SHA-256 hex of the random id the browser holds, so
//! the store never holds a usable session; the row says who signed in (the operator, or one
//! tenant) and until when.

use time::OffsetDateTime;

use crate::ids::TenantId;

/// A Hub session that has not expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubSession {
    /// The tenant who signed in; `None` for the operator.
    pub tenant_id: Option<TenantId>,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// Decodes a row of `statements::hub::hub_session`.
pub(crate) fn hub_session_row(
    row: &impl crate::rows::Columns,
) -> Result<HubSession, crate::StoreError> {
    let tenant_id: Option<String> = crate::rows::get(row, "tenant_id")?;
    Ok(HubSession {
        tenant_id: tenant_id.map(TenantId::from_trusted),
        expires_at: crate::rows::from_micros(crate::rows::get(row, "expires_at")?, "expires_at")?,
    })
}

/// What [`crate::DeliveryQueue::activity`] counts: from `since`, in buckets of
/// `bucket_seconds`, for every tenant or one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityQuery {
    /// The start of the first bucket.
    pub since: OffsetDateTime,
    /// Each bucket's length in seconds (at least 1).
    pub bucket_seconds: u32,
    /// Only this tenant's events (and broadcasts) and attempts.
    pub tenant_id: Option<TenantId>,
}

/// One bucket of activity: events accepted, attempts made, how they went and how long they
/// took. Buckets without any are not returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityBucket {
    /// Which bucket: 0 starts at `since`.
    pub bucket: u32,
    /// Events accepted.
    pub events: u64,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// The attempts' durations added up, in ms (for the mean).
    pub duration_ms_sum: u64,
    /// The longest attempt, in ms.
    pub duration_ms_max: u64,
}

/// A subscription whose latest attempt (within the window asked for) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailingSubscription {
    /// Which.
    pub subscription_id: crate::ids::SubscriptionId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Where it delivers.
    pub url: String,
    /// When its latest attempt started.
    pub last_attempt_at: OffsetDateTime,
    /// The failing step.
    pub error: Option<crate::model::AttemptError>,
    /// The failure in words.
    pub error_message: Option<String>,
    /// The response status, when one came.
    pub response_status: Option<u16>,
}

/// The smallest id of a time-ordered kind (`prefix` + UUIDv7) made at or after `at`: ids
/// begin with their creation time in milliseconds, so a range from it reads "since `at`"
/// on the primary key, with no index of its own.
pub(crate) fn first_id_at(prefix: &str, at: OffsetDateTime) -> String {
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    format!("{prefix}{millis:012x}{}", "0".repeat(20))
}

/// Where a range read "since `since`, after `after`" starts: the later of the first id at
/// `since` and `after`.
pub(crate) fn range_start(prefix: &str, since: OffsetDateTime, after: Option<&str>) -> String {
    let first = first_id_at(prefix, since);
    match after {
        Some(after) if after > first.as_str() => after.to_owned(),
        _ => first,
    }
}

/// Decodes a row of `statements::hub::attempt_buckets` (columns `bucket`, `attempts`,
/// `succeeded`, `duration_sum`, `duration_max`).
pub(crate) fn attempt_bucket_row(
    row: &impl crate::rows::Columns,
) -> Result<ActivityBucket, crate::StoreError> {
    let count = |column: &str| -> Result<u64, crate::StoreError> {
        let value: Option<i64> = crate::rows::get(row, column)?;
        Ok(u64::try_from(value.unwrap_or(0)).unwrap_or(0))
    };
    let attempts = count("attempts")?;
    let succeeded = count("succeeded")?;
    Ok(ActivityBucket {
        bucket: u32::try_from(count("bucket")?).unwrap_or(u32::MAX),
        events: 0,
        succeeded,
        failed: attempts.saturating_sub(succeeded),
        duration_ms_sum: count("duration_sum")?,
        duration_ms_max: count("duration_max")?,
    })
}

/// Decodes a row of `statements::hub::event_buckets` into (bucket, events).
pub(crate) fn event_bucket_row(
    row: &impl crate::rows::Columns,
) -> Result<(u32, u64), crate::StoreError> {
    let bucket: i64 = crate::rows::get(row, "bucket")?;
    let events: i64 = crate::rows::get(row, "events")?;
    Ok((
        u32::try_from(bucket).unwrap_or(u32::MAX),
        u64::try_from(events).unwrap_or(0),
    ))
}

/// Merges attempt buckets and event counts into one list ordered by bucket.
pub(crate) fn merge_buckets(
    mut attempts: Vec<ActivityBucket>,
    events: Vec<(u32, u64)>,
) -> Vec<ActivityBucket> {
    for (bucket, count) in events {
        match attempts.iter_mut().find(|b| b.bucket == bucket) {
            Some(found) => found.events = count,
            None => attempts.push(ActivityBucket {
                bucket,
                events: count,
                ..ActivityBucket::default()
            }),
        }
    }
    attempts.sort_by_key(|b| b.bucket);
    attempts
}

/// Decodes a row of `statements::hub::failing_subscriptions`.
pub(crate) fn failing_row(
    row: &impl crate::rows::Columns,
) -> Result<FailingSubscription, crate::StoreError> {
    use crate::rows::get;
    let error: Option<String> = get(row, "error")?;
    let status: Option<i64> = get(row, "response_status")?;
    Ok(FailingSubscription {
        subscription_id: crate::ids::SubscriptionId::from_trusted(get(row, "subscription_id")?),
        tenant_id: TenantId::from_trusted(get(row, "tenant_id")?),
        url: get(row, "url")?,
        last_attempt_at: crate::rows::from_micros(get(row, "started_at")?, "started_at")?,
        error: error.as_deref().and_then(crate::model::AttemptError::parse),
        error_message: get(row, "error_message")?,
        response_status: status.and_then(|s| u16::try_from(s).ok()),
    })
}
