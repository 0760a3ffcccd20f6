//! The relay's frames, as `herald serve` defines them (`herald-server/src/relay/protocol.rs`;
//! the wire format is in docs/relay.md): JSON text messages, the body in base64. Declared
//! again here rather than shared, so the receiver does not depend on the sender's crate; the
//! end-to-end relay tests run both halves together.

use serde::{Deserialize, Serialize};

/// What the server sends.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerFrame {
    /// Attached; `waiting` deliveries are pending.
    Attached {
        subscription: String,
        waiting: u64,
        max_in_flight: u32,
    },
    /// One attempt to handle (its `delivery_id` and `attempt` are not needed here: the
    /// request's own `webhook-id` is what the handler deduplicates by).
    Deliver {
        seq: u64,
        headers: Vec<(String, String)>,
        body: String,
    },
}

/// What the listener answers.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClientFrame {
    /// What the handler answered to a `deliver`.
    Result {
        seq: u64,
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        duration_ms: u64,
    },
}
