//! Prefixed, time-ordered ids (`evt_0192…`). The prefix says what an id names, so a tenant id
//! pasted where an event id belongs is refused with a clear message; time order (UUIDv7) makes
//! the id itself a stable pagination cursor, newest first.

use std::fmt;

/// Why a string is not a valid id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{value}' is not a valid {what} id (expected {prefix} followed by 32 hex digits)")]
pub struct IdError {
    /// The rejected text.
    pub value: String,
    /// What kind of id was expected.
    pub what: &'static str,
    /// The prefix that kind carries.
    pub prefix: &'static str,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new id, ordered after every id made before it.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Checks the prefix and the shape.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let valid = text
                    .strip_prefix($prefix)
                    .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()));
                if valid {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(IdError { value: text.to_owned(), what: $what, prefix: $prefix })
                }
            }

            /// Wraps a value read back from the database, which was valid when written.
            pub fn from_trusted(text: String) -> Self {
                Self(text)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// Names a tenant.
    TenantId, "ten_", "tenant"
);
id_type!(
    /// Names a subscription.
    SubscriptionId, "sub_", "subscription"
);
id_type!(
    /// Names an event; also the `webhook-id` of every request that carries it.
    EventId, "evt_", "event"
);
id_type!(
    /// Names a delivery (one event to one subscription).
    DeliveryId, "dlv_", "delivery"
);
id_type!(
    /// Names an attempt (one HTTP request).
    AttemptId, "att_", "attempt"
);

/// A new name for this process in the database (`relay_presence.node_id`): random, so two
/// processes, or one restarted, never share one.
pub(crate) fn node_id() -> String {
    format!("node_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_creation() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert_eq!(EventId::parse(a.as_str()).unwrap(), a);
        assert!(a < b);
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let tenant = TenantId::generate();
        let err = EventId::parse(tenant.as_str()).unwrap_err();
        assert_eq!(err.prefix, "evt_");
    }
}
