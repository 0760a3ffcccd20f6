//! The relay: a subscriber's `herald listen --relay` connects *out* to this server over a
//! WebSocket and receives a relay subscription's deliveries over it, byte for byte as an HTTP
//! delivery, and its answer becomes the attempt's response. How it works, the cluster design
//! and its limits: docs/relay.md.
//!
//! - [`protocol`]: the frames.
//! - `socket`: `GET /api/v1/relay`, the handshake (the API's auth) and one task per
//!   connection (pings, dead-connection detection, presence heartbeat).
//! - [`RelayHub`] (`hub`): the listeners of this node per subscription, and
//!   [`RelayHub::deliver`], the dispatcher's one call into the relay.
//! - [`hold`]: the bound on how long deliveries wait for a listener.
//!
//! It never decides when to attempt (the dispatcher does, as for HTTP) and holds nothing the
//! store does not: while no listener is attached here, this node does not even claim the
//! subscription's deliveries (the store's presence filter), so they wait in the database,
//! unattempted, for whichever node a listener attaches to.

pub mod hold;
mod hub;
pub mod protocol;
mod socket;

use std::time::Duration;

use axum::Router;
use axum::routing::get;

pub use hub::{PRESENCE_TTL, RelayHub};
pub use socket::{DEAD_AFTER, PING_EVERY, RESULT_FRAME_LIMIT};

use crate::api::AppState;

/// What the relay needs from the server's settings.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    /// How long a relay subscription's deliveries wait for a listener before they fail.
    pub hold: Duration,
    /// How long a listener may take to answer an attempt (the server's request timeout).
    pub request_timeout: Duration,
    /// Bytes of an answer's body kept on the attempt (the server's response body limit).
    pub response_body_limit: usize,
}

/// `GET /relay` (mounted under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new().route("/relay", get(socket::handshake))
}
