//! The overview: what is happening now, for the operator across every tenant and for a
//! subscriber across its own subscriptions.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_store::{DeliveryFilter, PageRequest};
use maud::html;
use time::OffsetDateTime;

use super::format;
use super::health;
use super::layout::{self, Section};
use super::session::Viewer;
use crate::api::AppState;
use crate::api::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(overview))
}

async fn overview(State(state): State<AppState>, viewer: Viewer) -> Response {
    let filter = DeliveryFilter {
        tenant_id: viewer.principal.tenant().cloned(),
        ..DeliveryFilter::default()
    };
    let page = PageRequest {
        cursor: None,
        limit: 20,
    };
    let recent = match state.queue.list_deliveries(&filter, &page).await {
        Ok(page) => page.items,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let now = OffsetDateTime::now_utc();
    let _ = health::WINDOW;
    let body = html! {
        section aria-labelledby="recent-h" {
            h2 #recent-h { "Newest deliveries" }
            div data-live="recent" { (super::deliveries::table(&recent, now, true)) }
        }
        p { (format::age(0)) }
    };
    layout::page(&viewer, Section::Overview, "Overview", body).into_response()
}
