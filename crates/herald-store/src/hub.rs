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
