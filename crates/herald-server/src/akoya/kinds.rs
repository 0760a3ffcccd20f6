//! Akoya's notification categories and types, and the Herald event types they are.
//!
//! One table, read both ways: a subscription made as `CONSENT`/`CONSENT_REVOKED` is a Herald
//! subscription to `consent.revoked`, and a `consent.revoked` event goes out to it as
//! `CONSENT`/`CONSENT_REVOKED`. The profile registers these event types at start.

/// One Akoya notification kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// Akoya's `category` (also the `idType` of its notifications).
    pub category: &'static str,
    /// Akoya's `type`.
    pub kind: &'static str,
    /// The Herald event type.
    pub event_type: &'static str,
    /// What it means, as the event type's description.
    pub description: &'static str,
}

/// Every kind the reference lists.
pub const KINDS: [Kind; 4] = [
    Kind {
        category: "CONSENT",
        kind: "CONSENT_REVOKED",
        event_type: "consent.revoked",
        description: "An end user revoked consent at the provider (Akoya CONSENT/CONSENT_REVOKED).",
    },
    Kind {
        category: "CONSENT",
        kind: "CONSENT_UPDATED",
        event_type: "consent.updated",
        description: "An end user changed consent, e.g. the account list (Akoya CONSENT/CONSENT_UPDATED).",
    },
    Kind {
        category: "MAINTENANCE",
        kind: "PLANNED_OUTAGE",
        event_type: "maintenance.planned_outage",
        description: "A provider or the network plans an outage (Akoya MAINTENANCE/PLANNED_OUTAGE).",
    },
    Kind {
        category: "MAINTENANCE",
        kind: "SERVICE",
        event_type: "maintenance.service",
        description: "An unplanned outage is happening (Akoya MAINTENANCE/SERVICE).",
    },
];

/// The kind named `category`/`kind`.
pub fn by_names(category: &str, kind: &str) -> Option<Kind> {
    KINDS
        .into_iter()
        .find(|k| k.category == category && k.kind == kind)
}

/// The kind a Herald event type is.
pub fn by_event_type(event_type: &str) -> Option<Kind> {
    KINDS.into_iter().find(|k| k.event_type == event_type)
}

/// The kind of a subscription's patterns: exactly one, and one of the table's event types.
/// Other subscriptions of the tenant are not shown through the Akoya API.
pub fn of_patterns(patterns: &[String]) -> Option<Kind> {
    match patterns {
        [only] => by_event_type(only),
        _ => None,
    }
}

/// `category`/`type` pairs in words, for messages.
pub fn known() -> String {
    KINDS
        .iter()
        .map(|k| format!("{}/{}", k.category, k.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_both_ways() {
        for kind in KINDS {
            assert_eq!(by_names(kind.category, kind.kind), Some(kind));
            assert_eq!(by_event_type(kind.event_type), Some(kind));
        }
        assert_eq!(by_names("CONSENT", "PLANNED_OUTAGE"), None);
        assert_eq!(of_patterns(&["consent.*".to_owned()]), None);
    }
}
