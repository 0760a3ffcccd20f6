//! Recoveries: "send again every failed delivery of this subscription since a time". The
//! server requeues them in the background, a batch at a time
//! ([`crate::DeliveryQueue::recovery_step`]), and records its progress in the recovery's row
//! in the same transaction, so a reload, the API and the CLI all show where it is.
//!
//! A recovery survives the node that runs it: the row holds a progress cursor (the largest
//! delivery id requeued so far) and a lease that every batch renews. A running recovery whose
//! lease ended (its node crashed) is claimed by a node
//! ([`crate::DeliveryQueue::claim_stalled_recovery`], atomic across PostgreSQL nodes) and
//! continued after its cursor, so no delivery is requeued twice by one recovery.

use time::OffsetDateTime;

use crate::ids::{DeliveryId, SubscriptionId, TenantId};

/// Where a recovery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryStatus {
    /// Batches are still being requeued.
    Running,
    /// Every failed delivery found was requeued.
    Done,
}

impl RecoveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
        }
    }

    /// What a batch that requeued `found` of at most `limit` leaves: fewer than asked means
    /// none is left.
    pub(crate) fn after_batch(found: usize, limit: u32) -> Self {
        if found < limit as usize {
            Self::Done
        } else {
            Self::Running
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// One recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// `rcv_…`
    pub id: String,
    /// Whose failed deliveries.
    pub subscription_id: SubscriptionId,
    /// The subscription's tenant.
    pub tenant_id: TenantId,
    /// Failed deliveries created at or after this time are requeued.
    pub since: OffsetDateTime,
    /// Running or done.
    pub status: RecoveryStatus,
    /// How many failed deliveries there were when it started.
    pub total: u64,
    /// How many have been requeued so far.
    pub requeued: u64,
    /// When it started.
    pub created_at: OffsetDateTime,
    /// Its latest progress.
    pub updated_at: OffsetDateTime,
    /// The progress cursor: the largest delivery id requeued so far (none before the first).
    pub requeued_through: Option<DeliveryId>,
    /// Until when the node running it holds it; after that another node may continue it.
    pub lease_until: Option<OffsetDateTime>,
}

/// Decodes a row of the recovery statements.
pub(crate) fn recovery_row(row: &impl crate::rows::Columns) -> Result<Recovery, crate::StoreError> {
    use crate::rows::{from_micros, get};
    let status: String = get(row, "status")?;
    let count = |column: &str| -> Result<u64, crate::StoreError> {
        let value: i64 = get(row, column)?;
        Ok(u64::try_from(value).unwrap_or(0))
    };
    Ok(Recovery {
        id: get(row, "id")?,
        subscription_id: SubscriptionId::from_trusted(get(row, "subscription_id")?),
        tenant_id: TenantId::from_trusted(get(row, "tenant_id")?),
        since: from_micros(get(row, "since")?, "since")?,
        status: RecoveryStatus::parse(&status)
            .ok_or_else(|| crate::StoreError::Corrupt(format!("recovery status {status}")))?,
        total: count("total")?,
        requeued: count("requeued")?,
        created_at: from_micros(get(row, "created_at")?, "created_at")?,
        updated_at: from_micros(get(row, "updated_at")?, "updated_at")?,
        requeued_through: get::<Option<String>>(row, "requeued_through")?
            .map(DeliveryId::from_trusted),
        lease_until: get::<Option<i64>>(row, "lease_until")?
            .map(|micros| from_micros(micros, "lease_until"))
            .transpose()?,
    })
}
