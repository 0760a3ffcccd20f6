//! Support requests: a subscriber asks the operator for help from the Hub, with the
//! diagnostics Herald attached; the operator answers and closes it.

use time::OffsetDateTime;

use crate::ids::{SubscriptionId, TenantId};

/// Where a support request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupportStatus {
    /// Waiting for the operator.
    Open,
    /// The operator answered; the subscriber may still write back by filing another.
    Answered,
    /// Done.
    Closed,
}

impl SupportStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Answered => "answered",
            Self::Closed => "closed",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "answered" => Some(Self::Answered),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// One support request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportRequest {
    /// `sup_…`, time-ordered.
    pub id: String,
    /// Who asked.
    pub tenant_id: TenantId,
    /// The subscription it is about, if any.
    pub subscription_id: Option<SubscriptionId>,
    /// Open, answered or closed.
    pub status: SupportStatus,
    /// What the subscriber wrote.
    pub message: String,
    /// What Herald attached (JSON text): settings without secrets, the latest connectivity
    /// test, the latest attempts.
    pub diagnostics_json: String,
    /// The operator's answer.
    pub answer: Option<String>,
    /// When it was filed.
    pub created_at: OffsetDateTime,
    /// Its latest change.
    pub updated_at: OffsetDateTime,
}

/// Decodes a row of the support statements.
pub(crate) fn support_row(
    row: &impl crate::rows::Columns,
) -> Result<SupportRequest, crate::StoreError> {
    use crate::rows::{from_micros, get};
    let status: String = get(row, "status")?;
    let subscription_id: Option<String> = get(row, "subscription_id")?;
    Ok(SupportRequest {
        id: get(row, "id")?,
        tenant_id: TenantId::from_trusted(get(row, "tenant_id")?),
        subscription_id: subscription_id.map(SubscriptionId::from_trusted),
        status: SupportStatus::parse(&status)
            .ok_or_else(|| crate::StoreError::Corrupt(format!("support status {status}")))?,
        message: get(row, "message")?,
        diagnostics_json: get(row, "diagnostics_json")?,
        answer: get(row, "answer")?,
        created_at: from_micros(get(row, "created_at")?, "created_at")?,
        updated_at: from_micros(get(row, "updated_at")?, "updated_at")?,
    })
}
