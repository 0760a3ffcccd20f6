//! The attempt feed: every recorded attempt in the order it was made, with what its delivery
//! says about it (subscription, tenant, event, status, next retry), for live views that follow
//! the store (`GET /api/v1/attempts/stream`, `herald deliveries watch`).
//!
//! It owns the feed's types and its positions; it never decides what a reader may see (the
//! API narrows the filter to the caller's tenant). The design choice to know: a position is
//! an attempt id (UUIDv7, so ids sort by when they were made) or a time turned into the
//! smallest id of that millisecond, and a read takes attempts strictly between two positions.
//! Attempts commit a moment after their id is made, so a reader asks only for attempts made
//! before a recent instant (its `until`): an attempt still being committed then has an id
//! above `until` and is read on a later turn, not skipped. Rows live in the store, so a feed
//! works on every PostgreSQL node and survives restarts.

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{AttemptId, EventId, SubscriptionId, TenantId};
use crate::model::{Attempt, DeliveryStatus};
use crate::rows::{self, Columns, get};

/// A place in the feed: just after an attempt, or at an instant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedPosition(String);

impl FeedPosition {
    /// Before every attempt made at or after `time`, after every attempt made before it (to
    /// the millisecond, the precision of a UUIDv7's clock).
    pub fn at(time: OffsetDateTime) -> Self {
        let millis = (time.unix_timestamp_nanos() / 1_000_000).clamp(0, (1 << 48) - 1);
        // The 12 hex digits of the timestamp, then zeros: below every id of that millisecond
        // (whose version digit is 7) and above every id of an earlier one.
        Self(format!(
            "{}{millis:012x}{}",
            AttemptId::PREFIX,
            "0".repeat(20)
        ))
    }

    /// Just after `id`.
    pub fn after(id: &AttemptId) -> Self {
        Self(id.as_str().to_ascii_lowercase())
    }

    /// The position as the text the store compares ids with.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an attempt ended: what the feed can be filtered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Succeeded,
    /// Anything else: a non-2xx status or a failing step.
    Failed,
}

impl AttemptOutcome {
    /// The name the API and CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses that name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// The outcome of `attempt`.
    pub fn of(attempt: &Attempt) -> Self {
        if attempt.succeeded() {
            Self::Succeeded
        } else {
            Self::Failed
        }
    }
}

/// Narrows the feed; every field set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptFeedFilter {
    /// Only attempts of this tenant's deliveries.
    pub tenant_id: Option<TenantId>,
    /// Only attempts to this subscription.
    pub subscription_id: Option<SubscriptionId>,
    /// Only attempts of events of this type.
    pub event_type: Option<String>,
    /// Only attempts that ended this way.
    pub outcome: Option<AttemptOutcome>,
}

/// One attempt as the feed shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedAttempt {
    /// The attempt as recorded.
    pub attempt: Attempt,
    /// Its delivery's subscription.
    pub subscription_id: SubscriptionId,
    /// Its delivery's tenant.
    pub tenant_id: TenantId,
    /// The event delivered.
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// The delivery's status when the feed was read (after this attempt, or later ones).
    pub delivery_status: DeliveryStatus,
    /// What followed this attempt: the start of the delivery's next attempt when one was
    /// made since, otherwise the delivery's next scheduled attempt when the feed was read;
    /// `None`: no more retries.
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// What one read of the feed returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedPage {
    /// Matching attempts, oldest first.
    pub items: Vec<FeedAttempt>,
    /// Where the next read starts: the last item when the page is full, otherwise the read's
    /// `until` (everything before it was looked at), so a narrow filter does not scan the same
    /// rows again on the next turn.
    pub position: FeedPosition,
}

/// Decodes a row of the feed's statement (`statements::feed`); a row that does not decode is
/// corruption, as everywhere in `rows`.
pub(crate) fn feed_attempt(row: &impl Columns) -> Result<FeedAttempt, StoreError> {
    let status: String = get(row, "d_status")?;
    let following: Option<i64> = get(row, "following_started_at")?;
    let next = match following {
        Some(started) => Some(started),
        None => get(row, "d_next_attempt_at")?,
    };
    Ok(FeedAttempt {
        attempt: rows::attempt(row)?,
        subscription_id: SubscriptionId::from_trusted(get(row, "d_subscription_id")?),
        tenant_id: TenantId::from_trusted(get(row, "d_tenant_id")?),
        event_id: EventId::from_trusted(get(row, "d_event_id")?),
        event_type: get(row, "d_event_type")?,
        delivery_status: DeliveryStatus::parse(&status).ok_or_else(|| {
            StoreError::Corrupt(format!("column d_status: unknown value '{status}'"))
        })?,
        next_attempt_at: next
            .map(|micros| rows::from_micros(micros, "d_next_attempt_at"))
            .transpose()?,
    })
}

/// The page a read answers: `position` is the last item when `limit` items came back (there
/// may be more), otherwise `until`.
pub(crate) fn feed_page(items: Vec<FeedAttempt>, limit: u32, until: &FeedPosition) -> FeedPage {
    let position = match items.last() {
        Some(last) if items.len() >= limit.max(1) as usize => FeedPosition::after(&last.attempt.id),
        _ => until.clone(),
    };
    FeedPage { items, position }
}
