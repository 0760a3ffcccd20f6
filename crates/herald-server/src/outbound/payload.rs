//! Thin payloads: a delivery body that points to the event instead of carrying it.
//!
//! `{"type", "timestamp", "id", "url"}`, where `url` is `GET /api/v1/events/{id}` under the
//! server's public URL, readable with the subscriber's tenant token (as Stripe's thin events:
//! the receiver fetches what it needs, and nothing of the payload travels in the webhook).
//! The full body (`dispatch::attempt::envelope`) is built elsewhere, byte for byte from the
//! published text; this one holds only Herald's own fields, so it is serialised normally.

use bytes::Bytes;
use herald_store::{Event, EventId};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

/// The body of a thin delivery, fields in this order.
#[derive(Serialize)]
struct Thin<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: String,
    id: &'a str,
    url: String,
}

/// Where an event is read: `{public_url}/api/v1/events/{id}`.
pub fn event_url(public_url: &str, id: &EventId) -> String {
    format!("{public_url}/api/v1/events/{id}")
}

/// An event's creation time as the bodies show it (RFC 3339).
pub fn timestamp(event: &Event) -> String {
    event
        .created_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| event.created_at.unix_timestamp().to_string())
}

/// The thin body of `event`.
pub fn thin(event: &Event, public_url: &str) -> Bytes {
    let thin = Thin {
        event_type: &event.event_type,
        timestamp: timestamp(event),
        id: event.id.as_str(),
        url: event_url(public_url, &event.id),
    };
    // A struct of strings always serialises.
    Bytes::from(serde_json::to_vec(&thin).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thin_body_names_the_event_and_where_to_read_it() {
        let event = Event {
            id: EventId::generate(),
            event_type: "consent.revoked".to_owned(),
            payload_json: r#"{"secret":"not in a thin body"}"#.to_owned(),
            tenant_id: None,
            idempotency_key: None,
            created_at: time::macros::datetime!(2030-01-01 00:00 UTC),
        };
        let body = thin(&event, "https://herald.example.com");
        let text = std::str::from_utf8(&body).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"type":"consent.revoked","timestamp":"2030-01-01T00:00:00Z","id":"{id}","url":"https://herald.example.com/api/v1/events/{id}"}}"#,
                id = event.id
            )
        );
    }
}
