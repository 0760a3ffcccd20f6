//! Recover: send again every failed delivery of a subscription since a time, for when an
//! endpoint was down and is back. `POST /subscriptions/{id}/recover` starts it and answers at
//! once; the requeuing runs in the background (`crate::recoveries`: in batches, resumed by
//! any node if this one stops), recording its progress in the store, where
//! `GET /recoveries/{id}`, the Hub and the CLI read it. The dispatcher then delivers the
//! requeued deliveries like any due work (held to the subscription's limits), each with a
//! fresh retry schedule.

use std::sync::Arc;

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use herald_store::{Recovery, RecoveryStatus, Subscription};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::load;
use crate::api::AppState;
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::extract::{Json, Path};
use crate::recoveries;

/// Body of `POST /subscriptions/{id}/recover`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    /// Failed deliveries created at or after this time are sent again (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// A recovery and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryView {
    /// `rcv_…`
    pub id: String,
    /// The subscription whose failed deliveries are sent again.
    pub subscription_id: String,
    /// Failed deliveries created since then are included.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// `running` or `done`.
    pub status: String,
    /// Failed deliveries found when it started.
    pub total: u64,
    /// Requeued so far.
    pub requeued: u64,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Its latest progress.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Recovery> for RecoveryView {
    fn from(r: Recovery) -> Self {
        Self {
            id: r.id,
            subscription_id: r.subscription_id.to_string(),
            since: r.since,
            status: r.status.as_str().to_owned(),
            total: r.total,
            requeued: r.requeued,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Starts a recovery of `sub`'s failed deliveries since `since` (the API's and the Hub's).
pub(crate) async fn start(
    state: &AppState,
    sub: &Subscription,
    since: OffsetDateTime,
) -> Result<Recovery, ApiError> {
    let total = state.queue.count_failed_deliveries(&sub.id, since).await?;
    let now = herald_store::timestamp_now();
    let id: String = rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let recovery = Recovery {
        id: format!("rcv_{id}"),
        subscription_id: sub.id.clone(),
        tenant_id: sub.tenant_id.clone(),
        since,
        status: RecoveryStatus::Running,
        total,
        requeued: 0,
        created_at: now,
        updated_at: now,
        requeued_through: None,
        lease_until: Some(recoveries::lease_from(now)),
    };
    state.queue.start_recovery(&recovery).await?;
    tokio::spawn(recoveries::drive(
        Arc::clone(&state.queue),
        state.intake.clone(),
        recovery.id.clone(),
    ));
    Ok(recovery)
}

/// Send again every failed delivery of this subscription created since a time. Answers at
/// once with the recovery; it runs in the background (see `GET /recoveries/{id}`).
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/recover", tag = "subscriptions",
    operation_id = "recoverSubscription",
    params(("id" = String, Path, description = "`sub_…`", pattern = "^sub_[0-9a-fA-F]{32}$")),
    request_body = RecoverRequest,
    responses((status = 202, body = RecoveryView), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn recover(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<RecoverRequest>,
) -> Result<(StatusCode, JsonResponse<RecoveryView>), ApiError> {
    let sub = load(&state, &principal, &id).await?;
    let recovery = start(&state, &sub, body.since).await?;
    Ok((StatusCode::ACCEPTED, JsonResponse(recovery.into())))
}

/// A recovery and its progress.
#[utoipa::path(get, path = "/api/v1/recoveries/{id}", tag = "subscriptions",
    operation_id = "getRecovery",
    params(("id" = String, Path, description = "`rcv_…`", pattern = "^rcv_[0-9a-f]{32}$")),
    responses((status = 200, body = RecoveryView), (status = 404)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<RecoveryView>, ApiError> {
    match state.queue.get_recovery(&id).await? {
        Some(r) if principal.can_see(&r.tenant_id) => Ok(JsonResponse(r.into())),
        _ => Err(ApiError::not_found("recovery", &id)),
    }
}
