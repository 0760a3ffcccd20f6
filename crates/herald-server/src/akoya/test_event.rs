//! `POST /notifications/v1/test` `{id}`: pushes a test event to that subscription's callback
//! now, as Akoya's sandbox does, and answers how the push went.
//!
//! It is Herald's connectivity test (`herald.test`, recorded as an attempt with trigger
//! `test`), in Akoya's envelope: the subscription's own category and type, with the custom
//! field `TEST: true`. It takes a turn from the dispatcher like Herald's `/test`, so a busy
//! subscription answers 429.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use herald_store::AttemptTrigger;
use serde::{Deserialize, Serialize};

use super::auth::ServiceToken;
use super::error::AkoyaError;
use super::subscriptions::load;
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::api::subscriptions::publish_test_event;

#[derive(Debug, Deserialize)]
struct TestRequest {
    id: String,
}

/// How the push went.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// The test event's id (`notificationId` in the body sent, and its `webhook-id`).
    notification_id: String,
    /// The subscription tested.
    subscription_id: String,
    /// Whether the callback answered 2xx.
    delivered: bool,
    /// The callback's status, if it answered.
    callback_status: Option<u16>,
    /// What went wrong, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn push(
    State(state): State<AppState>,
    ServiceToken(tenant_id): ServiceToken,
    body: Bytes,
) -> Result<Json<TestResult>, AkoyaError> {
    let request: TestRequest = serde_json::from_slice(&body)
        .map_err(|_| AkoyaError::bad_request("the body must be {\"id\": \"<subscriptionId>\"}"))?;
    let sub = load(&state, &tenant_id, &request.id).await?;
    let turn = state
        .intake
        .manual_turn(&sub)
        .await
        .map_err(|refused| AkoyaError::from(ApiError::manual_busy(refused)))?;
    let job = publish_test_event(&state, sub).await?;
    let deliverer = Arc::clone(&state.deliverer);
    // Its own task: a caller that hangs up must not cut the attempt off before it is recorded.
    let attempt = tokio::spawn(async move {
        let attempt = deliverer.attempt(&job, AttemptTrigger::Test).await;
        drop(turn);
        (job, attempt)
    });
    let (job, attempt) = attempt
        .await
        .map_err(|_| AkoyaError::from(ApiError::internal()))?;
    Ok(Json(TestResult {
        notification_id: job.event.id.to_string(),
        subscription_id: job.subscription.id.to_string(),
        delivered: attempt.succeeded(),
        callback_status: attempt.response_status,
        error: attempt.error_message,
    }))
}
