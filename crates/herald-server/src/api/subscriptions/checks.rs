//! The checks a subscription's fields pass before anything is stored: the configured limits
//! (pattern count, URL, description and header sizes, subscriptions per tenant), header names
//! Herald owns, the rate and in-flight limits, the contact email.
//!
//! It only checks; it never writes. Every size is checked before any work that grows with
//! the input (the pattern count before the patterns are parsed or looked up), so an oversized
//! request costs no more than a normal one. A refused limit is a `limit-exceeded` problem that
//! names the setting and its value.

use std::collections::BTreeMap;

use axum::http::{HeaderName, HeaderValue};
use herald_store::{Catalog, TenantId};

use crate::api::error::ApiError;
use crate::config::Limits;

/// Headers a subscription may not set: Herald owns them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "connection",
    "transfer-encoding",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// The number of event-type patterns, before any of them is read.
pub fn pattern_count(patterns: &[String], limits: &Limits) -> Result<(), ApiError> {
    let max = limits.max_event_types_per_subscription;
    if patterns.len() > max {
        return Err(ApiError::limit_exceeded(
            "max_event_types_per_subscription",
            max,
            &format!(
                "event_types names {} patterns; a subscription may name at most {max} (use a \
                 wildcard such as `consent.*` to cover a namespace)",
                patterns.len()
            ),
        ));
    }
    Ok(())
}

/// The URL's length, before it is parsed or resolved.
pub fn url_length(url: &str, limits: &Limits) -> Result<(), ApiError> {
    let max = limits.max_url_length;
    if url.len() > max {
        return Err(ApiError::limit_exceeded(
            "max_url_length",
            max,
            &format!(
                "url is {} bytes long; at most {max} are accepted",
                url.len()
            ),
        ));
    }
    Ok(())
}

/// The description's length.
pub fn description(description: Option<&str>, limits: &Limits) -> Result<(), ApiError> {
    let max = limits.max_description_length;
    match description {
        Some(text) if text.len() > max => Err(ApiError::limit_exceeded(
            "max_description_length",
            max,
            &format!(
                "description is {} bytes long; at most {max} are accepted",
                text.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// The custom headers: their count and sizes against the limits (all before any is parsed),
/// then each name's form and that Herald does not own it. Names are stored lowercase.
pub fn headers(
    headers: BTreeMap<String, String>,
    limits: &Limits,
) -> Result<BTreeMap<String, String>, ApiError> {
    header_sizes(&headers, limits)?;
    let mut checked = BTreeMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(ApiError::validation(format!(
                "the header '{name}' is set by Herald and cannot be customised"
            )));
        }
        HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| ApiError::validation(format!("'{name}' is not a valid header name")))?;
        HeaderValue::from_str(&value).map_err(|_| {
            ApiError::validation(format!("the value of header '{name}' is not valid"))
        })?;
        checked.insert(lower, value);
    }
    Ok(checked)
}

fn header_sizes(headers: &BTreeMap<String, String>, limits: &Limits) -> Result<(), ApiError> {
    let max = limits.max_headers_per_subscription;
    if headers.len() > max {
        return Err(ApiError::limit_exceeded(
            "max_headers_per_subscription",
            max,
            &format!(
                "headers has {} entries; at most {max} are accepted",
                headers.len()
            ),
        ));
    }
    for (name, value) in headers {
        let max = limits.max_header_name_length;
        if name.len() > max {
            return Err(ApiError::limit_exceeded(
                "max_header_name_length",
                max,
                &format!("a header name is {} bytes long", name.len()),
            ));
        }
        let max = limits.max_header_value_length;
        if value.len() > max {
            return Err(ApiError::limit_exceeded(
                "max_header_value_length",
                max,
                &format!("the value of header '{name}' is {} bytes long", value.len()),
            ));
        }
    }
    Ok(())
}

/// Room for one more subscription of `tenant_id`. Counted, then inserted, without a lock:
/// two concurrent creates may both pass at `max - 1`, so a tenant can end one or two over
/// the limit, never unboundedly (each create is one request of the tenant's own).
pub async fn room_for_subscription(
    catalog: &dyn Catalog,
    tenant_id: &TenantId,
    limits: &Limits,
) -> Result<(), ApiError> {
    let max = limits.max_subscriptions_per_tenant;
    if catalog.count_subscriptions(tenant_id).await? >= max {
        return Err(ApiError::limit_exceeded(
            "max_subscriptions_per_tenant",
            max,
            &format!(
                "the tenant has {max} subscriptions already; delete one, or ask the operator \
                 to raise the limit"
            ),
        ));
    }
    Ok(())
}

/// The rate and in-flight limits a subscription asks for.
pub fn rate_and_in_flight(rate: Option<u32>, max_in_flight: Option<u32>) -> Result<(), ApiError> {
    if rate == Some(0) {
        return Err(ApiError::validation(
            "rate_limit_per_second must be at least 1 (or null for no limit)",
        ));
    }
    if max_in_flight.is_some_and(|n| n == 0 || n > 1000) {
        return Err(ApiError::validation(
            "max_in_flight must be between 1 and 1000",
        ));
    }
    Ok(())
}

/// A contact email: something with an `@`, at most 254 bytes.
pub fn email(email: &Option<String>) -> Result<(), ApiError> {
    match email {
        Some(e) if !e.contains('@') || e.len() > 254 => Err(ApiError::validation(format!(
            "contact_email '{e}' is not an email address"
        ))),
        _ => Ok(()),
    }
}
