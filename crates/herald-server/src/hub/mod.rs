//! The Hub: the web dashboard `herald serve` serves beside its API, where operators and
//! subscribers see, test and fix their webhooks without curl.
//!
//! - [`session`]: sign-in (the admin token, or a tenant's client id and secret), the session
//!   cookie, and [`session::Viewer`], who is looking at a page.
//! - [`csrf`]: the check every state-changing form passes.
//! - [`layout`]: the page shell, one stylesheet and one small script ([`assets`]).
//! - One file per page family: [`overview`], [`subscriptions`], [`deliveries`], [`events`],
//!   [`support`].
//!
//! Pages are rendered on the server with maud (checked at compile time, escaping every value
//! by default: payloads, headers and response bodies come from strangers), and work without
//! JavaScript; the script only refreshes live regions and copies secrets. A page handler
//! gathers its data through the store or the API's own handlers (so the Hub and the API never
//! disagree on a rule), then renders; it holds no SQL. Every Hub answer carries a strict
//! Content-Security-Policy ([`headers`]).

mod assets;
mod charts;
mod csrf;
mod deliveries;
mod events;
mod format;
mod headers;
mod health;
mod layout;
mod overview;
mod session;
mod subscriptions;
mod support;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

use crate::api::AppState;

/// Every Hub route, under `/hub`, and `/` leading there.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/hub") }))
        .nest(
            "/hub",
            Router::new()
                .merge(session::router())
                .merge(overview::router())
                .merge(subscriptions::router())
                .merge(deliveries::router())
                .merge(events::router())
                .merge(support::router())
                .merge(assets::router())
                .layer(axum::middleware::from_fn(headers::security_headers)),
        )
}
