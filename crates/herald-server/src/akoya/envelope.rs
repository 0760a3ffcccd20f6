//! The body Akoya's receivers expect: a thin pointer in Akoya's field names.
//!
//! ```json
//! {"category": "CONSENT", "type": "CONSENT_REVOKED",
//!  "notificationPayload": {"id": "c-42", "idType": "CONSENT",
//!                          "customFields": [{"name": "INITIATOR", "value": "INDIVIDUAL"}]},
//!  "url": {"href": "https://herald.example.com/api/v1/events/evt_…", "action": "GET"},
//!  "notificationId": "evt_…", "sentOn": "2030-01-01T00:00:00Z",
//!  "subscriber": {…}, "publisher": {…}}
//! ```
//!
//! Built from the published event: `notificationPayload.id` is the payload's `id` (a string),
//! else the event id; `customFields` is the payload's `customFields` list when it has one,
//! else one `{name, value}` per other top-level string, number or boolean, the name in
//! upper case. The category and type come from the event type ([`super::kinds`]); the
//! connectivity test (`herald.test`) goes out as the subscription's own kind with the custom
//! field `TEST: true`. `url` points to the event, readable with the subscriber's service token.

use bytes::Bytes;
use herald_store::{Event, Subscription};
use serde::Serialize;
use serde_json::{Map, Value};

use super::kinds::{self, Kind};
use crate::outbound::payload::{event_url, timestamp};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    category: String,
    #[serde(rename = "type")]
    kind: String,
    notification_payload: NotificationPayload,
    url: Link,
    notification_id: &'a str,
    sent_on: String,
    subscriber: Party<'a>,
    publisher: Party<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationPayload {
    id: String,
    id_type: String,
    custom_fields: Vec<Value>,
}

#[derive(Serialize)]
struct Link {
    href: String,
    action: &'static str,
}

/// `subscriber` and `publisher`, with the fields of Akoya's sandbox test event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Party<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    registry: &'static str,
    registered_entity_id: &'a str,
}

/// The Akoya body of `event` for `subscription`.
pub fn envelope(event: &Event, subscription: &Subscription, public_url: &str) -> Bytes {
    let test = event.event_type == TEST_EVENT_TYPE;
    let (category, kind) = names(event, subscription);
    // The payload was valid JSON when published; an object is what carries fields.
    let payload: Map<String, Value> = serde_json::from_str(&event.payload_json).unwrap_or_default();
    let mut custom_fields = custom_fields(&payload);
    if test {
        custom_fields.push(serde_json::json!({"name": "TEST", "value": "true"}));
    }
    let id = match payload.get("id") {
        Some(Value::String(id)) => id.clone(),
        _ => event.id.to_string(),
    };
    let envelope = Envelope {
        notification_payload: NotificationPayload {
            id,
            id_type: category.clone(),
            custom_fields,
        },
        category,
        kind,
        url: Link {
            href: event_url(public_url, &event.id),
            action: "GET",
        },
        notification_id: event.id.as_str(),
        sent_on: timestamp(event),
        subscriber: Party {
            name: subscription.tenant_id.as_str(),
            kind: "DATA_RECIPIENT",
            registry: "HERALD",
            registered_entity_id: subscription.tenant_id.as_str(),
        },
        publisher: Party {
            name: "Herald",
            kind: "DATA_PROVIDER",
            registry: "HERALD",
            registered_entity_id: public_url,
        },
    };
    // Strings, lists of JSON values and plain structs always serialise.
    Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
}

/// The event type of the connectivity test (Herald's `/test` and Akoya's).
const TEST_EVENT_TYPE: &str = "herald.test";

/// `category` and `type`: the table's for its event types; the subscription's own for the
/// connectivity test; otherwise (an event type outside the table, sent to a subscription made
/// through Herald's API with `payload_mode: akoya`) the first dotted segment and the rest,
/// upper case.
fn names(event: &Event, subscription: &Subscription) -> (String, String) {
    let kind = match kinds::by_event_type(&event.event_type) {
        Some(kind) => Some(kind),
        None if event.event_type == TEST_EVENT_TYPE => {
            kinds::of_patterns(&subscription.event_types)
        }
        None => None,
    };
    if let Some(Kind { category, kind, .. }) = kind {
        return (category.to_owned(), kind.to_owned());
    }
    let (category, rest) = event
        .event_type
        .split_once('.')
        .unwrap_or((&event.event_type, ""));
    (
        category.to_uppercase(),
        rest.replace('.', "_").to_uppercase(),
    )
}

fn custom_fields(payload: &Map<String, Value>) -> Vec<Value> {
    if let Some(Value::Array(fields)) = payload.get("customFields") {
        return fields.clone();
    }
    payload
        .iter()
        .filter(|(name, _)| name.as_str() != "id")
        .filter_map(|(name, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => return None,
            };
            Some(serde_json::json!({"name": name.to_uppercase(), "value": value}))
        })
        .collect()
}
