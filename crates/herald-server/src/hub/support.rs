//! Ask for help: a subscriber files a support request from a failing subscription, with a
//! message; Herald attaches the diagnostics (the subscription's settings without secrets, the
//! latest connectivity test, the last 20 attempts) and publishes `herald.support.requested`.
//! The operator sees the requests here, answers and closes them. A tenant sees only its own.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use herald_store::{
    AttemptFeedFilter, FeedPosition, PageRequest, Subscription, SupportRequest, SupportStatus,
    TenantId,
};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::csrf;
use super::format;
use super::layout::{self, Section};
use super::session::Viewer;
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::operational;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/support", get(list))
        .route("/support/{id}", get(show).post(answer))
        .route("/subscriptions/{id}/support", post(file))
}

/// Rows per page.
const PAGE: u32 = 50;
/// How many of the latest attempts the diagnostics hold.
const ATTEMPTS: usize = 20;
/// How far back the diagnostics look for attempts, and how many they read at most.
const LOOK_BACK: Duration = Duration::DAY;
const READ_AT_MOST: u32 = 500;
/// The longest message accepted.
const MESSAGE_LIMIT: usize = 4000;

/// The diagnostics attached to a request about `sub`.
async fn diagnostics(state: &AppState, sub: &Subscription) -> Result<Value, ApiError> {
    let now = OffsetDateTime::now_utc();
    let filter = AttemptFeedFilter {
        subscription_id: Some(sub.id.clone()),
        ..AttemptFeedFilter::default()
    };
    let feed = state
        .queue
        .attempts_between(
            &FeedPosition::at(now - LOOK_BACK),
            &FeedPosition::at(now + Duration::SECOND),
            &filter,
            READ_AT_MOST,
        )
        .await?;
    let skip = feed.items.len().saturating_sub(ATTEMPTS);
    let attempts: Vec<Value> = feed.items[skip..]
        .iter()
        .map(|f| {
            json!({
                "started_at": rfc3339(f.attempt.started_at),
                "event_type": f.event_type,
                "trigger": f.attempt.trigger.as_str(),
                "duration_ms": f.attempt.duration_ms,
                "response_status": f.attempt.response_status,
                "error": f.attempt.error.map(|e| e.as_str()),
                "error_message": f.attempt.error_message,
            })
        })
        .collect();
    let test = feed
        .items
        .iter()
        .rev()
        .find(|f| f.event_type == "herald.test")
        .map(|f| {
            json!({
                "started_at": rfc3339(f.attempt.started_at),
                "succeeded": f.attempt.succeeded(),
                "response_status": f.attempt.response_status,
                "error": f.attempt.error.map(|e| e.as_str()),
                "error_message": f.attempt.error_message,
            })
        });
    Ok(json!({
        "subscription": {
            "id": sub.id.as_str(),
            "url": sub.url,
            "event_types": sub.event_types,
            "status": sub.status.as_str(),
            "description": sub.description,
            // Header values may be credentials: only their names.
            "header_names": sub.headers.keys().collect::<Vec<_>>(),
            "rate_limit_per_second": sub.rate_limit_per_second,
            "max_in_flight": sub.max_in_flight,
        },
        "latest_connectivity_test": test,
        "attempts": attempts,
    }))
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The "ask for help" form.
#[derive(Debug, Deserialize)]
pub struct FileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    message: String,
}

async fn file(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<FileForm>,
) -> Response {
    if let Err(refused) = csrf::check(&headers, &viewer.csrf, &form.csrf) {
        return (StatusCode::FORBIDDEN, layout::refusal(refused.sentence())).into_response();
    }
    let sub = match crate::api::subscriptions::load(&state, &viewer.principal, &id).await {
        Ok(sub) => sub,
        Err(error) => return error.into_response(),
    };
    let message = form.message.trim();
    if message.is_empty() || message.len() > MESSAGE_LIMIT {
        let sentence =
            format!("Write what happened and what you need, in 1 to {MESSAGE_LIMIT} characters.");
        return (StatusCode::UNPROCESSABLE_ENTITY, layout::refusal(&sentence)).into_response();
    }
    let diagnostics = match diagnostics(&state, &sub).await {
        Ok(diagnostics) => diagnostics,
        Err(error) => return error.into_response(),
    };
    let now = herald_store::timestamp_now();
    // Time-ordered like every id, so the newest request lists first.
    let request = SupportRequest {
        id: format!(
            "sup_{}",
            &herald_store::EventId::generate().as_str()[herald_store::EventId::PREFIX.len()..]
        ),
        tenant_id: sub.tenant_id.clone(),
        subscription_id: Some(sub.id.clone()),
        status: SupportStatus::Open,
        message: message.to_owned(),
        diagnostics_json: diagnostics.to_string(),
        answer: None,
        created_at: now,
        updated_at: now,
    };
    if let Err(error) = state.catalog.create_support_request(&request).await {
        return ApiError::from(error).into_response();
    }
    let payload = json!({
        "support_request_id": request.id,
        "tenant_id": request.tenant_id.as_str(),
        "subscription_id": sub.id.as_str(),
        "hub_path": format!("/hub/support/{}", request.id),
    });
    // Only to the operator tenant's subscriptions: another tenant subscribed to `herald.*`
    // must not learn of this one's request. Without an operator tenant it goes to nobody.
    if let Some(operator) = &state.config.operator_tenant {
        let published = operational::publish_to_operator(
            state.catalog.as_ref(),
            state.queue.as_ref(),
            &state.intake,
            &TenantId::from_trusted(operator.clone()),
            operational::SUPPORT_REQUESTED,
            &payload,
            None,
        )
        .await;
        if let Err(error) = published {
            // The request is filed; the operator sees it in the Hub even without the event.
            tracing::warn!(%error, request = %request.id, "could not publish herald.support.requested");
        }
    }
    Redirect::to(&format!("/hub/support/{}", request.id)).into_response()
}

/// The list's query.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    /// `all` shows closed requests too.
    show: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let open_only = query.show.as_deref() != Some("all");
    let page = PageRequest {
        cursor: query.cursor.filter(|c| c.starts_with("sup_")),
        limit: PAGE,
    };
    let page = state
        .catalog
        .list_support_requests(viewer.principal.tenant(), open_only, &page)
        .await;
    let page = match page {
        Ok(page) => page,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let now = OffsetDateTime::now_utc();
    let body = html! {
        p {
            @if open_only { a href="/hub/support?show=all" { "Show closed requests too" } }
            @else { a href="/hub/support" { "Show open requests only" } }
        }
        div data-live="support" {
            @if page.items.is_empty() {
                p.empty { "No support requests." }
            } @else {
                div.scroll {
                table {
                    thead { tr {
                        th scope="col" { "Filed" }
                        th scope="col" { "Status" }
                        th scope="col" { "Tenant" }
                        th scope="col" { "Message" }
                    } }
                    tbody {
                        @for r in &page.items {
                            tr data-support=(r.id) {
                                td { a href={"/hub/support/" (r.id)} { (format::relative(r.created_at, now)) } }
                                td { (format::badge(r.status.as_str())) }
                                td { code { (r.tenant_id) } }
                                td { (excerpt(&r.message)) }
                            }
                        }
                    }
                }
                }
                @if let Some(next) = &page.next_cursor {
                    p { a href={"/hub/support?cursor=" (next) (if open_only { "" } else { "&show=all" })} { "Older requests" } }
                }
            }
        }
    };
    layout::page(&viewer, Section::Support, "Support requests", body).into_response()
}

/// The first line of a message, at most 120 characters.
fn excerpt(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    match line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// Loads a request the viewer may see.
async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<SupportRequest, ApiError> {
    match state.catalog.get_support_request(id).await? {
        Some(r) if viewer.principal.can_see(&r.tenant_id) => Ok(r),
        _ => Err(ApiError::not_found("support request", id)),
    }
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let request = match load(&state, &viewer, &id).await {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let body = html! {
        dl.facts {
            dt { "Status" } dd #support-status { (format::badge(request.status.as_str())) }
            dt { "Filed" } dd { (format::time(request.created_at)) }
            dt { "Tenant" } dd { code { (request.tenant_id) } }
            @if let Some(sub) = &request.subscription_id {
                dt { "Subscription" } dd { a href={"/hub/subscriptions/" (sub)} { code { (sub) } } }
            }
        }
        h2 { "Message" }
        p.message { (request.message) }
        @if let Some(answer) = &request.answer {
            h2 { "Answer" }
            p.answer #support-answer { (answer) }
        }
        @if viewer.is_operator() && request.status != SupportStatus::Closed {
            form.stack method="post" action={"/hub/support/" (request.id)} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="answer" { "Your answer" }
                textarea #answer name="answer" rows="4" {}
                div.actions {
                    button type="submit" name="action" value="answer" { "Send answer" }
                    button.secondary type="submit" name="action" value="close" { "Close request" }
                }
            }
        }
        h2 { "Diagnostics Herald attached" }
        pre.payload { (format::pretty_json(&request.diagnostics_json)) }
    };
    layout::page(&viewer, Section::Support, "Support request", body).into_response()
}

/// The operator's answer form.
#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    action: String,
}

async fn answer(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<AnswerForm>,
) -> Response {
    if let Err(refused) = csrf::check(&headers, &viewer.csrf, &form.csrf) {
        return (StatusCode::FORBIDDEN, layout::refusal(refused.sentence())).into_response();
    }
    if let Err(error) = viewer.principal.require_admin() {
        return error.into_response();
    }
    if let Err(error) = load(&state, &viewer, &id).await {
        return error.into_response();
    }
    let answer = Some(form.answer.trim()).filter(|a| !a.is_empty());
    let status = match (form.action.as_str(), answer) {
        ("close", _) => SupportStatus::Closed,
        (_, Some(_)) => SupportStatus::Answered,
        (_, None) => {
            let sentence = "Write an answer first, or close the request.";
            return (StatusCode::UNPROCESSABLE_ENTITY, layout::refusal(sentence)).into_response();
        }
    };
    let now = herald_store::timestamp_now();
    match state
        .catalog
        .answer_support_request(&id, answer, status, now)
        .await
    {
        Ok(Some(_)) => Redirect::to(&format!("/hub/support/{id}")).into_response(),
        Ok(None) => ApiError::not_found("support request", &id).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// The "ask for help" section of a subscription's page.
pub fn ask_for_help(viewer: &Viewer, sub: &Subscription) -> maud::Markup {
    html! {
        section aria-labelledby="help-h" {
            h2 #help-h { "Ask for help" }
            p.hint { "Tell the operator what you see. Herald attaches this subscription's settings (without secrets), the latest connectivity test and the last 20 attempts." }
            form.stack method="post" action={"/hub/subscriptions/" (sub.id) "/support"} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="help-message" { "What happened, and what do you need?" }
                textarea #help-message name="message" rows="4" required maxlength=(MESSAGE_LIMIT) {}
                button type="submit" { "Send to the operator" }
            }
        }
    }
}
