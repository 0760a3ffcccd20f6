//! The relay's frames: JSON text messages on the WebSocket, one per message.
//!
//! Server to listener: [`ServerFrame::Attached`] once, then [`ServerFrame::Deliver`] per
//! attempt. Listener to server: [`ClientFrame::Result`], answering a `deliver` by its `seq`.
//! The body travels as base64 so its bytes (what the signature covers) arrive exactly; header
//! values are text (Herald only sends text values). `herald listen` declares the same shapes
//! (`herald-listen/src/relay/protocol.rs`); the wire format is documented in docs/relay.md
//! and both halves are tested together end to end.

use serde::{Deserialize, Serialize};

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The listener is attached to `subscription`; `waiting` deliveries are pending, and at
    /// most `max_in_flight` will be outstanding on this connection at once.
    Attached {
        /// `sub_…`
        subscription: String,
        /// Pending deliveries at attach time: what the listener is catching up on.
        waiting: u64,
        /// The subscription's `max_in_flight`.
        max_in_flight: u32,
    },
    /// One attempt: the request an HTTP delivery would make.
    Deliver {
        /// Answer with this in [`ClientFrame::Result`].
        seq: u64,
        /// `dlv_…`
        delivery_id: String,
        /// Which attempt of the delivery this is (1 for the first).
        attempt: u32,
        /// The request headers, in order (`webhook-id`, `webhook-timestamp`,
        /// `webhook-signature`, `content-type` and custom headers).
        headers: Vec<(String, String)>,
        /// The body, base64 (standard alphabet, padded).
        body: String,
    },
}

/// What the listener sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// What handling a `deliver` produced: the status, headers and body prefix the listener
    /// answered, and how long it took.
    Result {
        /// The `seq` of the `deliver` answered.
        seq: u64,
        /// The status the listener's handler answered.
        status: u16,
        /// Its response headers.
        #[serde(default)]
        headers: Vec<(String, String)>,
        /// A prefix of its response body (text, lossily decoded).
        #[serde(default)]
        body: String,
        /// How long handling took, in milliseconds.
        #[serde(default)]
        duration_ms: u64,
    },
}
