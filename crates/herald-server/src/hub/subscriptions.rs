//! The subscriptions pages: the list with health, one subscription with its tools (test
//! connectivity, pause or resume, rotate the secret, edit, delete), and the create form.
//!
//! Every change goes through the API's own handler (`crate::api::subscriptions`), so the
//! Hub keeps exactly the API's rules (URL checks, patterns against the catalog, limits,
//! tenant isolation); its refusal comes back as a sentence next to the form that caused it.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use herald_store::{
    DeliveryFilter, PageRequest, Subscription, SubscriptionFilter, SubscriptionId,
    SubscriptionStatus, TenantId,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::csrf;
use super::format::{self, badge};
use super::health::{self, Health};
use super::layout::{self, Section};
use super::session::Viewer;
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::api::extract::{Json, Path};
use crate::api::subscriptions::{self as api, CreateSubscription, UpdateSubscription};
use crate::api::views::TestResult;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", get(list).post(create))
        .route("/subscriptions/new", get(new_form))
        .route("/subscriptions/{id}", get(show))
        .route("/subscriptions/{id}/edit", get(edit_form).post(edit))
        .route("/subscriptions/{id}/status", post(set_status))
        .route("/subscriptions/{id}/rotate", post(rotate))
        .route("/subscriptions/{id}/test", post(test))
        .route("/subscriptions/{id}/recover", post(recover))
        .route("/subscriptions/{id}/delete", get(delete_form).post(delete))
}

/// How long before its expiry a client certificate is shown as expiring.
const CERTIFICATE_WARNING: time::Duration = time::Duration::days(30);
/// Rows per list page.
const PAGE: u32 = 25;
/// How many tenants and event types the forms offer.
const CHOICES: u32 = 200;

/// A page's failure as a response: a store error the API would answer with.
fn failed(error: impl Into<ApiError>) -> Response {
    error.into().into_response()
}

/// The list's query.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    tenant_id: Option<String>,
    cursor: Option<String>,
}

/// The tenant filter: a subscriber's own tenant always; the operator's pick, if any.
pub(super) fn tenant_filter(viewer: &Viewer, picked: Option<&str>) -> Option<TenantId> {
    match viewer.principal.tenant() {
        Some(own) => Some(own.clone()),
        None => picked
            .filter(|t| !t.is_empty())
            .and_then(|t| TenantId::parse(t).ok()),
    }
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let tenant_id = tenant_filter(&viewer, query.tenant_id.as_deref());
    let cursor = query.cursor.filter(|c| SubscriptionId::parse(c).is_ok());
    let page = PageRequest {
        cursor,
        limit: PAGE,
    };
    let filter = SubscriptionFilter {
        tenant_id: tenant_id.clone(),
    };
    let page = match state.catalog.list_subscriptions(&filter, &page).await {
        Ok(page) => page,
        Err(error) => return failed(error),
    };
    // One bounded read per row, side by side (the store has several readers).
    let healths = futures::future::join_all(
        page.items
            .iter()
            .map(|sub| health::of(&state, &sub.id, health::LIST_WINDOW)),
    )
    .await;
    let mut rows = Vec::with_capacity(page.items.len());
    for (sub, health) in page.items.into_iter().zip(healths) {
        match health {
            Ok(health) => rows.push((sub, health)),
            Err(error) => return failed(error),
        }
    }
    let tenants = match tenant_choices(&state, &viewer).await {
        Ok(tenants) => tenants,
        Err(error) => return failed(error),
    };
    let now = time::OffsetDateTime::now_utc();
    let body = html! {
        p { a.button href="/hub/subscriptions/new" { "New subscription" } }
        @if viewer.is_operator() {
            form.filters method="get" action="/hub/subscriptions" {
                label for="tenant_id" { "Tenant" }
                select #tenant_id name="tenant_id" {
                    option value="" { "Every tenant" }
                    @for (id, name) in &tenants {
                        option value=(id) selected[tenant_id.as_ref().is_some_and(|t| t.as_str() == id)] { (name) }
                    }
                }
                button type="submit" { "Show" }
            }
        }
        div data-live="subscriptions" {
            @if rows.is_empty() {
                p.empty { "No subscriptions yet. Create one to receive events at your endpoint." }
            } @else {
                div.scroll {
                table {
                    caption.sr { "Subscriptions, newest first" }
                    thead { tr {
                        th scope="col" { "Endpoint" }
                        th scope="col" { "Event types" }
                        th scope="col" { "Status" }
                        th scope="col" { "Health" }
                        th scope="col" { "Last success" }
                    } }
                    tbody {
                        @for (sub, health) in &rows {
                            tr data-subscription=(sub.id) {
                                td { a href={"/hub/subscriptions/" (sub.id)} { (sub.url) } }
                                td { (sub.event_types.join(", ")) }
                                td { (badge(sub.status.as_str())) }
                                td { (health_cell(health)) }
                                td { @match health.last_success {
                                    Some(at) => (format::relative(at, now)),
                                    None => "never",
                                } }
                            }
                        }
                    }
                }
                }
                @if let Some(next) = &page.next_cursor {
                    p { a href={"/hub/subscriptions?cursor=" (next) "&tenant_id=" (tenant_id.as_ref().map(|t| t.as_str()).unwrap_or(""))} { "Older subscriptions" } }
                }
            }
        }
    };
    layout::page(&viewer, Section::Subscriptions, "Subscriptions", body).into_response()
}

/// The health column: failing with the count and the error, or healthy.
fn health_cell(health: &Health) -> Markup {
    html! {
        @if health.failing() {
            span.badge.failing { "failing" }
            " " (health.consecutive_failures) " in a row"
            @if let Some(error) = &health.last_error { br; small.error-text { (error) } }
        } @else if health.last_success.is_some() {
            span.badge.healthy { "healthy" }
        } @else {
            span.badge.idle { "no deliveries yet" }
        }
    }
}

/// Tenants the operator may pick (id, name); none for a subscriber.
pub(super) async fn tenant_choices(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Vec<(String, String)>, herald_store::StoreError> {
    if !viewer.is_operator() {
        return Ok(Vec::new());
    }
    let page = PageRequest {
        cursor: None,
        limit: CHOICES,
    };
    let tenants = state.catalog.list_tenants(&page).await?;
    Ok(tenants
        .items
        .into_iter()
        .map(|t| (t.id.to_string(), t.name))
        .collect())
}

/// What the create and edit forms hold, kept when a submission is refused.
#[derive(Debug, Default)]
pub struct SubscriptionForm {
    csrf: String,
    tenant_id: String,
    url: String,
    /// The checked event types (one `event_type` field per box).
    event_type: Vec<String>,
    /// Typed patterns (wildcards), separated by commas or spaces.
    patterns: String,
    description: String,
}

impl SubscriptionForm {
    /// Reads the urlencoded body. By hand because a checkbox list repeats its field name,
    /// which the `Form` extractor's decoder cannot put in a list; unknown fields are ignored.
    fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            let value = value.into_owned();
            match name.as_ref() {
                "csrf" => form.csrf = value,
                "tenant_id" => form.tenant_id = value,
                "url" => form.url = value,
                "event_type" => form.event_type.push(value),
                "patterns" => form.patterns = value,
                "description" => form.description = value,
                _ => {}
            }
        }
        form
    }

    fn event_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.event_type.clone();
        types.extend(
            self.patterns
                .split([',', '\n', ' '])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
        types.dedup();
        types
    }

    fn description(&self) -> Option<String> {
        Some(self.description.trim().to_owned()).filter(|d| !d.is_empty())
    }
}

async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    form_page(&state, &viewer, &SubscriptionForm::default(), None, None).await
}

/// The create form (`editing` None) or the edit form, with a refusal next to it.
async fn form_page(
    state: &AppState,
    viewer: &Viewer,
    form: &SubscriptionForm,
    editing: Option<&Subscription>,
    error: Option<&str>,
) -> Response {
    let tenants = match tenant_choices(state, viewer).await {
        Ok(tenants) => tenants,
        Err(error) => return failed(error),
    };
    let page = PageRequest {
        cursor: None,
        limit: CHOICES,
    };
    let types = match state.catalog.list_event_types(&page).await {
        Ok(types) => types.items,
        Err(error) => return failed(error),
    };
    let chosen = form.event_types();
    let typed: Vec<&String> = chosen
        .iter()
        .filter(|c| !types.iter().any(|t| &t.name == *c))
        .collect();
    let (title, action) = match editing {
        Some(sub) => (
            "Edit subscription",
            format!("/hub/subscriptions/{}/edit", sub.id),
        ),
        None => ("New subscription", "/hub/subscriptions".to_owned()),
    };
    let body = html! {
        form.stack method="post" action=(action) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            @if viewer.is_operator() && editing.is_none() {
                label for="tenant_id" { "Tenant" }
                select #tenant_id name="tenant_id" required {
                    @for (id, name) in &tenants {
                        option value=(id) selected[form.tenant_id == *id] { (name) " (" (id) ")" }
                    }
                }
            }
            label for="url" { "Endpoint URL" }
            input #url type="url" name="url" value=(form.url) required placeholder="https://example.com/webhooks" aria-describedby="url-hint";
            p.hint #url-hint { "Herald POSTs each event here, signed with the subscription's secret." }
            fieldset {
                legend { "Event types" }
                @if types.is_empty() {
                    p.hint { "No event types are registered yet; type patterns below." }
                }
                div.choices {
                    @for t in &types {
                        label.choice {
                            input type="checkbox" name="event_type" value=(t.name) checked[chosen.contains(&t.name)];
                            " " (t.name)
                        }
                    }
                }
                label for="patterns" { "More event types or wildcards" }
                input #patterns type="text" name="patterns" value=(typed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) placeholder="consent.*" aria-describedby="patterns-hint";
                p.hint #patterns-hint { "Separate with commas; a name ending in * matches every type that starts with it." }
            }
            label for="description" { "Description (optional)" }
            input #description type="text" name="description" value=(form.description);
            @if let Some(error) = error { p.error role="alert" { (error) } }
            button type="submit" { (if editing.is_some() { "Save changes" } else { "Create subscription" }) }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        layout::page(viewer, Section::Subscriptions, title, body),
    )
        .into_response()
}

/// The refusal of a form that fails the CSRF checks; `None` when it passes.
fn refuse(headers: &HeaderMap, viewer: &Viewer, token: &str) -> Option<Response> {
    csrf::check(headers, &viewer.csrf, token)
        .err()
        .map(|refused| (StatusCode::FORBIDDEN, layout::refusal(refused.sentence())).into_response())
}

async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = SubscriptionForm::parse(&body);
    if let Some(refused) = refuse(&headers, &viewer, &form.csrf) {
        return refused;
    }
    let body = CreateSubscription {
        tenant_id: viewer
            .is_operator()
            .then(|| form.tenant_id.clone())
            .filter(|t| !t.is_empty()),
        url: form.url.trim().to_owned(),
        event_types: form.event_types(),
        description: form.description(),
        headers: None,
        rate_limit_per_second: None,
        max_in_flight: None,
        contact_email: None,
        allow_unmatched: true,
        payload_mode: None,
        signature_scheme: None,
        effective_at: None,
        client_certificate: None,
        server_ca: None,
    };
    match api::create(State(state.clone()), viewer.principal.clone(), Json(body)).await {
        Ok((_, created)) => {
            let Ok(sub) = load(&state, &viewer, &created.0.id).await else {
                return Redirect::to("/hub/subscriptions").into_response();
            };
            let notice = Notice::Secret {
                secret: created.0.secret.clone(),
                what: "created",
            };
            detail(&state, &viewer, sub, Some(notice)).await
        }
        Err(error) => form_page(&state, &viewer, &form, None, Some(error.detail())).await,
    }
}

/// Loads a subscription the viewer may see (the API's rule).
async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<Subscription, ApiError> {
    api::load(state, &viewer.principal, id).await
}

/// A tool's first two steps: its form's CSRF token checked, then the subscription loaded; the
/// page to answer with if either fails.
async fn checked_load(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    csrf: &str,
    id: &str,
) -> Result<Subscription, Response> {
    if let Some(refused) = refuse(headers, viewer, csrf) {
        return Err(refused);
    }
    load(state, viewer, id).await.map_err(failed)
}

/// What a detail page says above its tools after an action.
enum Notice {
    /// A new secret, shown this once.
    Secret { secret: String, what: &'static str },
    /// The connectivity test's answer.
    Test(Box<TestResult>),
    /// An action was refused: the sentence.
    Error(String),
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    match load(&state, &viewer, &id).await {
        Ok(sub) => detail(&state, &viewer, sub, None).await,
        Err(error) => failed(error),
    }
}

/// One subscription: its settings, health, tools, and its newest deliveries.
async fn detail(
    state: &AppState,
    viewer: &Viewer,
    sub: Subscription,
    notice: Option<Notice>,
) -> Response {
    let filter = DeliveryFilter {
        subscription_id: Some(sub.id.clone()),
        ..DeliveryFilter::default()
    };
    let page = PageRequest {
        cursor: None,
        limit: health::WINDOW,
    };
    let deliveries = match state.queue.list_deliveries(&filter, &page).await {
        Ok(page) => page.items,
        Err(error) => return failed(error),
    };
    let health = health::from_deliveries(&deliveries);
    let recovery = match state.queue.latest_recovery(&sub.id).await {
        Ok(recovery) => recovery,
        Err(error) => return failed(error),
    };
    let now = time::OffsetDateTime::now_utc();
    let day_ago = (now - time::Duration::DAY)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]"
        ))
        .unwrap_or_default();
    let paused = sub.status == SubscriptionStatus::Paused;
    // Shown with its expiry, so a certificate close to it is seen before deliveries fail.
    let client_certificate = sub
        .client_certificate_pem
        .as_deref()
        .and_then(crate::outbound::mtls::info);
    let base = format!("/hub/subscriptions/{}", sub.id);
    let body = html! {
        @match &notice {
            Some(Notice::Secret { secret, what }) => {
                section.notice.success aria-labelledby="secret-h" {
                    h2 #secret-h { "Subscription " (what) ": its signing secret" }
                    p { "Copy it now: the Hub shows it only this once. Your endpoint verifies each delivery's signature with it." }
                    div.secret {
                        code #new-secret { (secret) }
                        button type="button" data-copy="new-secret" { "Copy" }
                    }
                }
            }
            Some(Notice::Test(result)) => { (test_result(result)) }
            Some(Notice::Error(sentence)) => { p.error role="alert" { (sentence) } }
            None => {}
        }
        dl.facts {
            dt { "Endpoint" } dd { code { (sub.url) } }
            dt { "Event types" } dd { (sub.event_types.join(", ")) }
            dt { "Status" } dd { (badge(sub.status.as_str())) }
            dt { "Health" } dd data-live="health" { (health_cell(&health)) }
            dt { "Last success" } dd { @match health.last_success { Some(at) => (format::time(at)), None => "never" } }
            @if viewer.is_operator() { dt { "Tenant" } dd { code { (sub.tenant_id) } } }
            dt { "ID" } dd { code { (sub.id) } }
            @if let Some(d) = &sub.description { dt { "Description" } dd { (d) } }
            dt { "Limits" } dd { "at most " (sub.max_in_flight) " in flight"
                @if let Some(rate) = sub.rate_limit_per_second { ", " (rate) " per second" } }
            dt { "Payload" } dd { (sub.payload_mode.as_str()) ", signed " (sub.signature_scheme.as_str()) }
            @if let Some(certificate) = &client_certificate {
                dt { "Client certificate" } dd {
                    "SHA-256 " code { (certificate.fingerprint_sha256) } ", expires " (format::time(certificate.not_after))
                    @if certificate.not_after - now < CERTIFICATE_WARNING {
                        " " strong.error-text { "(expires within 30 days: send the operator a new one)" }
                    }
                }
            }
        }
        section.tools aria-labelledby="tools-h" {
            h2 #tools-h { "Tools" }
            div.actions {
                form method="post" action={(base) "/test"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    button type="submit" { "Test connectivity" }
                }
                form method="post" action={(base) "/status"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="status" value=(if paused { "active" } else { "paused" });
                    button type="submit" { (if paused { "Resume" } else { "Pause" }) }
                }
                form method="post" action={(base) "/rotate"} {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    button type="submit" { "Rotate secret" }
                }
                a.button.secondary href={(base) "/edit"} { "Edit" }
                a.button.danger href={(base) "/delete"} { "Delete" }
            }
        }
        section aria-labelledby="recover-h" {
            h2 #recover-h { "Recover failed deliveries" }
            p.hint { "After an outage of your endpoint: send again every failed delivery created since a time. Herald requeues them in the background; each gets a fresh retry schedule." }
            form.filters method="post" action={(base) "/recover"} {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="since" { "Failed since (UTC)" }
                input #since type="datetime-local" name="since" value=(day_ago) required;
                button type="submit" { "Recover" }
            }
            div data-live="recovery" {
                @if let Some(r) = &recovery {
                    div.recovery data-recovery-status=(r.status.as_str()) {
                        label for="recovery-progress" { "Recovery " code { (r.id) } ": " (r.requeued) " of " (r.total) " requeued · " (r.status.as_str()) }
                        progress #recovery-progress max=(r.total.max(1)) value=(if r.total == 0 { 1 } else { r.requeued }) { (r.requeued) " of " (r.total) }
                        p.hint { "Started " (format::time(r.created_at)) " for failures since " (format::time(r.since)) "." }
                    }
                }
            }
        }
        (super::support::ask_for_help(viewer, &sub))
        section aria-labelledby="dlv-h" {
            h2 #dlv-h { "Newest deliveries" }
            p { a href={"/hub/deliveries?subscription_id=" (sub.id)} { "All deliveries of this subscription" } }
            div data-live="deliveries" {
                (super::deliveries::table(&deliveries, now, false))
            }
        }
    };
    layout::page(viewer, Section::Subscriptions, "Subscription", body).into_response()
}

/// The connectivity test's answer, explained for someone who is not a network engineer.
fn test_result(result: &TestResult) -> Markup {
    let attempt = &result.attempt;
    html! {
        @if result.succeeded {
            section.notice.success aria-labelledby="test-h" role="status" {
                h2 #test-h { "Connectivity test passed" }
                p { "Your endpoint answered " (attempt.response_status.unwrap_or(200)) " in " (attempt.duration_ms) " ms. Deliveries can reach it." }
            }
        } @else {
            section.notice.failure aria-labelledby="test-h" role="alert" {
                h2 #test-h { "Connectivity test failed" }
                dl.facts {
                    dt { "Failing step" }
                    dd.step { (attempt.error.as_deref().map(format::step_named).unwrap_or("the attempt failed")) }
                    @if let Some(status) = attempt.response_status { dt { "Status" } dd { (status) } }
                    @if let Some(message) = &attempt.error_message { dt { "What happened" } dd { (message) } }
                    @if let Some(explanation) = &result.explanation {
                        dt { "What it means" } dd.meaning { (explanation.meaning) }
                        dt { "What to try" } dd.advice { (explanation.advice) }
                    }
                }
                @if let Some(body) = &attempt.response_body { details { summary { "Response body (start)" } pre { (body) } } }
            }
        }
    }
}

/// A form with only its token (the tools).
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
}

async fn test(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let sub = match checked_load(&state, &viewer, &headers, &form.csrf, &id).await {
        Ok(sub) => sub,
        Err(refused) => return refused,
    };
    let notice = match api::start_test(&state, sub.clone()).await {
        Ok(handle) => match handle.await {
            Ok(result) => Notice::Test(Box::new(result)),
            Err(_) => Notice::Error("The test stopped unexpectedly; try again.".to_owned()),
        },
        Err(error) => Notice::Error(error.detail().to_owned()),
    };
    detail(&state, &viewer, sub, Some(notice)).await
}

async fn set_status(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(refused) = refuse(&headers, &viewer, &form.csrf) {
        return refused;
    }
    let body = UpdateSubscription {
        status: Some(form.status.clone()),
        ..empty_update()
    };
    after_update(&state, &viewer, &id, body).await
}

/// An update that changes nothing, to fill in.
fn empty_update() -> UpdateSubscription {
    UpdateSubscription {
        url: None,
        event_types: None,
        status: None,
        description: None,
        headers: None,
        rate_limit_per_second: None,
        max_in_flight: None,
        contact_email: None,
        allow_unmatched: true,
        payload_mode: None,
        signature_scheme: None,
        effective_at: None,
        client_certificate: None,
        server_ca: None,
    }
}

/// Applies an update through the API; back to the page, or the page with the refusal.
async fn after_update(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    body: UpdateSubscription,
) -> Response {
    let result = api::update(
        State(state.clone()),
        viewer.principal.clone(),
        Path(id.to_owned()),
        Json(body),
    )
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/hub/subscriptions/{id}")).into_response(),
        Err(error) => match load(state, viewer, id).await {
            Ok(sub) => {
                detail(
                    state,
                    viewer,
                    sub,
                    Some(Notice::Error(error.detail().to_owned())),
                )
                .await
            }
            Err(error) => failed(error),
        },
    }
}

async fn rotate(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(refused) = refuse(&headers, &viewer, &form.csrf) {
        return refused;
    }
    let rotated = api::rotate_secret(
        State(state.clone()),
        viewer.principal.clone(),
        Path(id.clone()),
    )
    .await;
    match rotated {
        Ok(view) => match load(&state, &viewer, &id).await {
            Ok(sub) => {
                let notice = Notice::Secret {
                    secret: view.0.secret.clone(),
                    what: "secret rotated",
                };
                detail(&state, &viewer, sub, Some(notice)).await
            }
            Err(error) => failed(error),
        },
        Err(error) => failed(error),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let sub = match load(&state, &viewer, &id).await {
        Ok(sub) => sub,
        Err(error) => return failed(error),
    };
    let form = SubscriptionForm {
        url: sub.url.clone(),
        event_type: sub.event_types.clone(),
        description: sub.description.clone().unwrap_or_default(),
        ..SubscriptionForm::default()
    };
    form_page(&state, &viewer, &form, Some(&sub), None).await
}

async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let form = SubscriptionForm::parse(&body);
    let sub = match checked_load(&state, &viewer, &headers, &form.csrf, &id).await {
        Ok(sub) => sub,
        Err(refused) => return refused,
    };
    let body = UpdateSubscription {
        url: Some(form.url.trim().to_owned()),
        event_types: Some(form.event_types()),
        description: Some(form.description()),
        ..empty_update()
    };
    let result = api::update(
        State(state.clone()),
        viewer.principal.clone(),
        Path(id.clone()),
        Json(body),
    )
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/hub/subscriptions/{id}")).into_response(),
        Err(error) => form_page(&state, &viewer, &form, Some(&sub), Some(error.detail())).await,
    }
}

async fn delete_form(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let sub = match load(&state, &viewer, &id).await {
        Ok(sub) => sub,
        Err(error) => return failed(error),
    };
    let body = html! {
        p { "Delete the subscription to " code { (sub.url) } "? Its deliveries and their attempts are deleted with it, and it receives no more events. This cannot be undone." }
        form method="post" action={"/hub/subscriptions/" (sub.id) "/delete"} {
            input type="hidden" name="csrf" value=(viewer.csrf);
            button.danger type="submit" { "Delete subscription" }
            " "
            a href={"/hub/subscriptions/" (sub.id)} { "Keep it" }
        }
    };
    layout::page(&viewer, Section::Subscriptions, "Delete subscription", body).into_response()
}

async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(refused) = refuse(&headers, &viewer, &form.csrf) {
        return refused;
    }
    match api::remove(State(state.clone()), viewer.principal.clone(), Path(id)).await {
        Ok(_) => Redirect::to("/hub/subscriptions").into_response(),
        Err(error) => failed(error),
    }
}

/// The recover form.
#[derive(Debug, Deserialize)]
pub struct RecoverForm {
    #[serde(default)]
    csrf: String,
    /// `YYYY-MM-DDTHH:MM`, UTC (what a datetime-local input sends).
    #[serde(default)]
    since: String,
}

async fn recover(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<RecoverForm>,
) -> Response {
    let sub = match checked_load(&state, &viewer, &headers, &form.csrf, &id).await {
        Ok(sub) => sub,
        Err(refused) => return refused,
    };
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let Ok(since) = time::PrimitiveDateTime::parse(form.since.trim(), format) else {
        let sentence = "Give the time as a date and a time of day (UTC), such as 2026-12-01 08:00.";
        return detail(
            &state,
            &viewer,
            sub,
            Some(Notice::Error(sentence.to_owned())),
        )
        .await;
    };
    match crate::api::subscriptions::recover::start(&state, &sub, since.assume_utc()).await {
        Ok(_) => Redirect::to(&format!("/hub/subscriptions/{id}")).into_response(),
        Err(error) => {
            detail(
                &state,
                &viewer,
                sub,
                Some(Notice::Error(error.detail().to_owned())),
            )
            .await
        }
    }
}
