//! The per-tenant and per-subscription limits (promise 9: every input bounded): their flags
//! ([`LimitArgs`]), their validated values ([`Limits`]) and the defaults.
//!
//! It owns the numbers only; the API enforces them (`api/subscriptions.rs`) and refuses with a
//! `limit-exceeded` problem that names the setting and its value. Kept apart from the other
//! settings so the whole block reads (and merges) as one: each limit is one field here, one
//! flag, one file key of the same name, and one row of the "Limits" table in
//! `docs/security.md`. Why a setting is never 0: a limit of 0 would refuse every subscription,
//! which no operator means; an operator who wants no limit sets a large one.

use serde::Deserialize;

use super::ConfigError;

/// The limits' flags and variables (each optional, so the file can fill what they leave).
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
pub struct LimitArgs {
    /// Event-type patterns one subscription may name. [default: 100]
    #[arg(
        long,
        env = "HERALD_MAX_EVENT_TYPES_PER_SUBSCRIPTION",
        value_name = "N"
    )]
    pub max_event_types_per_subscription: Option<usize>,

    /// Subscriptions one tenant may have. [default: 1000]
    #[arg(long, env = "HERALD_MAX_SUBSCRIPTIONS_PER_TENANT", value_name = "N")]
    pub max_subscriptions_per_tenant: Option<u64>,

    /// Longest subscription URL, in bytes. [default: 2048]
    #[arg(long, env = "HERALD_MAX_URL_LENGTH", value_name = "BYTES")]
    pub max_url_length: Option<usize>,

    /// Longest subscription description, in bytes. [default: 1024]
    #[arg(long, env = "HERALD_MAX_DESCRIPTION_LENGTH", value_name = "BYTES")]
    pub max_description_length: Option<usize>,

    /// Custom headers one subscription may set. [default: 20]
    #[arg(long, env = "HERALD_MAX_HEADERS_PER_SUBSCRIPTION", value_name = "N")]
    pub max_headers_per_subscription: Option<usize>,

    /// Longest custom header name, in bytes. [default: 256]
    #[arg(long, env = "HERALD_MAX_HEADER_NAME_LENGTH", value_name = "BYTES")]
    pub max_header_name_length: Option<usize>,

    /// Longest custom header value, in bytes. [default: 4096]
    #[arg(long, env = "HERALD_MAX_HEADER_VALUE_LENGTH", value_name = "BYTES")]
    pub max_header_value_length: Option<usize>,
}

impl LimitArgs {
    /// Each limit from `self`, else from `file`.
    pub(super) fn or(self, file: LimitArgs) -> LimitArgs {
        LimitArgs {
            max_event_types_per_subscription: self
                .max_event_types_per_subscription
                .or(file.max_event_types_per_subscription),
            max_subscriptions_per_tenant: self
                .max_subscriptions_per_tenant
                .or(file.max_subscriptions_per_tenant),
            max_url_length: self.max_url_length.or(file.max_url_length),
            max_description_length: self.max_description_length.or(file.max_description_length),
            max_headers_per_subscription: self
                .max_headers_per_subscription
                .or(file.max_headers_per_subscription),
            max_header_name_length: self.max_header_name_length.or(file.max_header_name_length),
            max_header_value_length: self
                .max_header_value_length
                .or(file.max_header_value_length),
        }
    }
}

/// The limits the API enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Patterns per subscription (checked before any other work on them).
    pub max_event_types_per_subscription: usize,
    /// Subscriptions per tenant (counted in the store at create).
    pub max_subscriptions_per_tenant: u64,
    /// URL length in bytes.
    pub max_url_length: usize,
    /// Description length in bytes.
    pub max_description_length: usize,
    /// Custom headers per subscription.
    pub max_headers_per_subscription: usize,
    /// Custom header name length in bytes.
    pub max_header_name_length: usize,
    /// Custom header value length in bytes.
    pub max_header_value_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_types_per_subscription: 100,
            max_subscriptions_per_tenant: 1000,
            max_url_length: 2048,
            max_description_length: 1024,
            max_headers_per_subscription: 20,
            max_header_name_length: 256,
            max_header_value_length: 4096,
        }
    }
}

impl Limits {
    /// The limits given (flag or variable, then file), the rest at their defaults, checked.
    pub fn from_args(args: LimitArgs) -> Result<Self, ConfigError> {
        let d = Limits::default();
        let limits = Limits {
            max_event_types_per_subscription: args
                .max_event_types_per_subscription
                .unwrap_or(d.max_event_types_per_subscription),
            max_subscriptions_per_tenant: args
                .max_subscriptions_per_tenant
                .unwrap_or(d.max_subscriptions_per_tenant),
            max_url_length: args.max_url_length.unwrap_or(d.max_url_length),
            max_description_length: args
                .max_description_length
                .unwrap_or(d.max_description_length),
            max_headers_per_subscription: args
                .max_headers_per_subscription
                .unwrap_or(d.max_headers_per_subscription),
            max_header_name_length: args
                .max_header_name_length
                .unwrap_or(d.max_header_name_length),
            max_header_value_length: args
                .max_header_value_length
                .unwrap_or(d.max_header_value_length),
        };
        limits.validate()?;
        Ok(limits)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let sizes = [
            (
                "max_event_types_per_subscription",
                self.max_event_types_per_subscription,
            ),
            ("max_url_length", self.max_url_length),
            ("max_description_length", self.max_description_length),
            (
                "max_headers_per_subscription",
                self.max_headers_per_subscription,
            ),
            ("max_header_name_length", self.max_header_name_length),
            ("max_header_value_length", self.max_header_value_length),
        ];
        for (setting, value) in sizes {
            if value == 0 {
                return Err(ConfigError::OutOfRange {
                    setting,
                    expected: "at least 1",
                });
            }
        }
        if self.max_subscriptions_per_tenant == 0 {
            return Err(ConfigError::OutOfRange {
                setting: "max_subscriptions_per_tenant",
                expected: "at least 1",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_wins_over_the_file_and_the_rest_keep_their_defaults() {
        let flags = LimitArgs {
            max_url_length: Some(100),
            ..LimitArgs::default()
        };
        let file = LimitArgs {
            max_url_length: Some(50),
            max_headers_per_subscription: Some(3),
            ..LimitArgs::default()
        };
        let limits = Limits::from_args(flags.or(file)).unwrap();
        assert_eq!(limits.max_url_length, 100);
        assert_eq!(limits.max_headers_per_subscription, 3);
        assert_eq!(limits.max_event_types_per_subscription, 100);
    }

    #[test]
    fn a_zero_limit_is_refused_naming_the_setting() {
        let args = LimitArgs {
            max_subscriptions_per_tenant: Some(0),
            ..LimitArgs::default()
        };
        let error = Limits::from_args(args).unwrap_err().to_string();
        assert!(error.contains("max_subscriptions_per_tenant"), "{error}");
    }
}
