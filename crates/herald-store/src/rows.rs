//! Turning rows into domain types, for every backend; and the column lists that the
//! statements ([`crate::statements`]) splice in, so that a column is named in one place.
//!
//! Both backends store the same shapes: ids and names as text, times as integer unix
//! microseconds (the precision PostgreSQL keeps, so both round-trip alike), counts as 64-bit
//! integers, lists and maps as JSON text. So one set of builders serves both, over the
//! [`Columns`] each backend's row type implements. Everything read back goes through [`get`],
//! which turns a decode failure into [`StoreError::Corrupt`] naming the column: a row that does
//! not decode is a bug or a manual edit, never something a client did, and it must not panic
//! the server. A schema change is one migration per backend plus this file and the
//! statements that write the column.

use std::collections::BTreeMap;

use sqlx::{Decode, Postgres, Row, Type};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{AttemptId, DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::sealing::Keyring;

/// A value both backends decode (text, integers, and their options): through sqlx on
/// PostgreSQL, through rusqlite on SQLite.
pub(crate) trait Column:
    Sized + for<'r> Decode<'r, Postgres> + Type<Postgres> + rusqlite::types::FromSql
{
}

impl<T> Column for T where
    T: Sized + for<'r> Decode<'r, Postgres> + Type<Postgres> + rusqlite::types::FromSql
{
}

/// A backend's row, read by column name.
pub(crate) trait Columns {
    /// The named column, decoded; a failure is corruption.
    fn column<T: Column>(&self, column: &str) -> Result<T, StoreError>;
}

impl Columns for sqlx::postgres::PgRow {
    fn column<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        self.try_get(column)
            .map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
    }
}

/// SQLite's rows, on the writer's connection and the readers' alike.
impl Columns for rusqlite::Row<'_> {
    fn column<T: Column>(&self, column: &str) -> Result<T, StoreError> {
        self.get(column)
            .map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
    }
}

/// One column of a row, with decode failures reported as corruption.
pub(crate) fn get<T: Column>(row: &impl Columns, column: &str) -> Result<T, StoreError> {
    row.column(column)
}

/// A time as stored: unix microseconds (sub-microsecond digits are dropped).
pub(crate) fn micros(time: OffsetDateTime) -> i64 {
    // i64 microseconds reach past the year 292,000; OffsetDateTime stops at 9999, so the
    // conversion cannot overflow for any representable time.
    (time.unix_timestamp_nanos() / 1_000) as i64
}

/// A stored time back as a date.
pub(crate) fn from_micros(value: i64, column: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000)
        .map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
}

fn time_column(row: &impl Columns, column: &str) -> Result<OffsetDateTime, StoreError> {
    from_micros(get(row, column)?, column)
}

fn optional_time_column(
    row: &impl Columns,
    column: &str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    get::<Option<i64>>(row, column)?
        .map(|value| from_micros(value, column))
        .transpose()
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &impl Columns,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
}

fn optional_json_column<T: serde::de::DeserializeOwned>(
    row: &impl Columns,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = get(row, column)?;
    text.map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|error| StoreError::Corrupt(format!("column {column}: {error}")))
}

fn u32_column(row: &impl Columns, column: &str) -> Result<u32, StoreError> {
    let value: i64 = get(row, column)?;
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("column {column}: {value} is out of range")))
}

fn parsed<T>(
    row: &impl Columns,
    column: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    parse(&text)
        .ok_or_else(|| StoreError::Corrupt(format!("column {column}: unknown value '{text}'")))
}

/// JSON text of a value we built ourselves (maps and lists of strings cannot fail to encode).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Corrupt(format!("encoding JSON: {error}")))
}

/// Column list matching [`tenant`], as a literal for `concat!`.
macro_rules! tenant_columns {
    () => {
        "id, name, client_id, client_secret_hash, created_at, retention_seconds"
    };
}
pub(crate) use tenant_columns;

pub(crate) fn tenant(row: &impl Columns) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId::from_trusted(get(row, "id")?),
        name: get(row, "name")?,
        client_id: get(row, "client_id")?,
        client_secret_hash: get(row, "client_secret_hash")?,
        created_at: time_column(row, "created_at")?,
        retention_seconds: get::<Option<i64>>(row, "retention_seconds")?
            .map(u64::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("column retention_seconds: out of range".into()))?,
    })
}

/// A tenant's own retention from [`crate::statements::retention::tenant_retentions`]' rows.
pub(crate) fn tenant_retention(row: &impl Columns) -> Result<(TenantId, u64), StoreError> {
    let seconds: i64 = get(row, "retention_seconds")?;
    let seconds = u64::try_from(seconds)
        .map_err(|_| StoreError::Corrupt(format!("column retention_seconds: {seconds}")))?;
    Ok((TenantId::from_trusted(get(row, "id")?), seconds))
}

/// Column list matching [`event_type`], as a literal for `concat!`.
macro_rules! event_type_columns {
    () => {
        "name, description, schema_json, example_json, created_at, updated_at"
    };
}
pub(crate) use event_type_columns;

pub(crate) fn event_type(row: &impl Columns) -> Result<EventType, StoreError> {
    Ok(EventType {
        name: get(row, "name")?,
        description: get(row, "description")?,
        schema: optional_json_column(row, "schema_json")?,
        example: optional_json_column(row, "example_json")?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

/// An [`EventTypeUsage`] from [`crate::statements::catalog::subscriptions_using`]'s rows:
/// `(subscription_id, total)`, each row carrying the total.
pub(crate) fn event_type_usage(rows: Vec<(String, i64)>) -> EventTypeUsage {
    let subscriptions = rows
        .first()
        .map_or(0, |(_, total)| u64::try_from(*total).unwrap_or(0));
    EventTypeUsage {
        subscriptions,
        first: rows
            .into_iter()
            .map(|(id, _)| SubscriptionId::from_trusted(id))
            .collect(),
    }
}

/// Column list matching [`subscription`], as a literal for `concat!`.
macro_rules! subscription_columns {
    () => {
        "id, tenant_id, url, event_types_json, status, \
    description, headers_json, rate_limit_per_second, max_in_flight, contact_email, \
    secrets_json, created_at, updated_at, \
    payload_mode, signature_scheme, signing_keys_json, effective_at, \
    client_certificate_pem, client_key_pem, server_ca_pem"
    };
}
pub(crate) use subscription_columns;

/// A subscription's secret material as stored, sealed (see [`crate::sealing`]).
pub(crate) struct SecretMaterial {
    /// `secrets_json`: the HMAC secrets.
    pub secrets: String,
    /// `signing_keys_json`: the Ed25519 private keys.
    pub signing_keys: String,
    /// `client_key_pem`: the mTLS private key.
    pub client_key: Option<String>,
    /// `headers_json`: the custom headers, whose values may be credentials
    /// (`Authorization: Bearer …`).
    pub headers: String,
}

/// What a sealed column is bound to besides the key: the subscription's id and, for the
/// columns added after `secrets_json`, the column's name, so a value copied to another row
/// or another column does not open.
fn seal_context(id: &str, column: &str) -> String {
    format!("{id}/{column}")
}

/// The one place that encodes and seals a subscription's secret material (and
/// [`subscription`] the one that opens it).
pub(crate) fn secret_material(
    sub: &Subscription,
    keyring: &Keyring,
) -> Result<SecretMaterial, StoreError> {
    let id = sub.id.as_str();
    Ok(SecretMaterial {
        secrets: seal_secrets(keyring, &sub.id, &sub.secrets)?,
        signing_keys: seal_column(
            keyring,
            &to_json(&sub.signing_keys)?,
            id,
            "signing_keys_json",
        )?,
        client_key: sub
            .client_key_pem
            .as_deref()
            .map(|pem| seal_column(keyring, pem, id, "client_key_pem"))
            .transpose()?,
        headers: seal_column(keyring, &to_json(&sub.headers)?, id, "headers_json")?,
    })
}

fn seal_column(
    keyring: &Keyring,
    plaintext: &str,
    id: &str,
    column: &str,
) -> Result<String, StoreError> {
    keyring
        .seal_str(plaintext, &seal_context(id, column))
        .map_err(|error| StoreError::Corrupt(format!("sealing {column}: {error}")))
}

/// Opens a sealed column; a plaintext value (written before sealing) reads as it is.
fn open_column(
    keyring: &Keyring,
    stored: &str,
    id: &str,
    column: &str,
) -> Result<String, StoreError> {
    keyring
        .open_str(stored, &seal_context(id, column))
        .map_err(|error| StoreError::Sealing(format!("{column}: {error}")))
}

/// A subscription row, its secret material opened with `keyring`.
pub(crate) fn subscription(
    row: &impl Columns,
    keyring: &Keyring,
) -> Result<Subscription, StoreError> {
    let rate_limit: Option<i64> = get(row, "rate_limit_per_second")?;
    let rate_limit_per_second = rate_limit
        .map(u32::try_from)
        .transpose()
        .map_err(|_| StoreError::Corrupt("column rate_limit_per_second: out of range".into()))?;
    let id: String = get(row, "id")?;
    let headers = open_column(
        keyring,
        &get::<String>(row, "headers_json")?,
        &id,
        "headers_json",
    )?;
    let headers: BTreeMap<String, String> = serde_json::from_str(&headers)
        .map_err(|error| StoreError::Corrupt(format!("column headers_json: {error}")))?;
    let secrets = open_secrets(keyring, &id, &get::<String>(row, "secrets_json")?)?;
    let id_for_keys = id.clone();
    Ok(Subscription {
        id: SubscriptionId::from_trusted(id),
        tenant_id: TenantId::from_trusted(get(row, "tenant_id")?),
        url: get(row, "url")?,
        event_types: json_column(row, "event_types_json")?,
        status: parsed(row, "status", SubscriptionStatus::parse)?,
        description: get(row, "description")?,
        headers,
        rate_limit_per_second,
        max_in_flight: u32_column(row, "max_in_flight")?,
        contact_email: get(row, "contact_email")?,
        secrets,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
        payload_mode: parsed(row, "payload_mode", PayloadMode::parse)?,
        signature_scheme: parsed(row, "signature_scheme", SignatureScheme::parse)?,
        signing_keys: {
            let stored: String = get(row, "signing_keys_json")?;
            let text = open_column(keyring, &stored, &id_for_keys, "signing_keys_json")?;
            serde_json::from_str(&text).map_err(|error| {
                StoreError::Corrupt(format!("column signing_keys_json: {error}"))
            })?
        },
        effective_at: optional_time_column(row, "effective_at")?,
        client_certificate_pem: get(row, "client_certificate_pem")?,
        client_key_pem: get::<Option<String>>(row, "client_key_pem")?
            .map(|stored| open_column(keyring, &stored, &id_for_keys, "client_key_pem"))
            .transpose()?,
        server_ca_pem: get(row, "server_ca_pem")?,
    })
}

/// The one place subscription secrets are sealed: `secrets_json` holds the JSON list of
/// [`SigningSecret`]s sealed as a whole, bound to the subscription's id (so a sealed list
/// copied to another row does not open).
pub(crate) fn seal_secrets(
    keyring: &Keyring,
    id: &SubscriptionId,
    secrets: &[SigningSecret],
) -> Result<String, StoreError> {
    keyring
        .seal_str(&to_json(&secrets)?, id.as_str())
        .map_err(|error| StoreError::Corrupt(format!("sealing secrets_json: {error}")))
}

/// The one place subscription secrets are opened; a plaintext list (written before sealing)
/// reads as it is, and is sealed by the next write or by a re-seal.
pub(crate) fn open_secrets(
    keyring: &Keyring,
    id: &str,
    stored: &str,
) -> Result<Vec<SigningSecret>, StoreError> {
    let text = keyring
        .open_str(stored, id)
        .map_err(|error| StoreError::Sealing(error.to_string()))?;
    serde_json::from_str(&text)
        .map_err(|error| StoreError::Corrupt(format!("column secrets_json: {error}")))
}

/// A subscription's secret material as a row holds it (sealed, or plaintext from before
/// sealing), for a re-seal.
pub(crate) fn stored_material(row: &impl Columns) -> Result<SecretMaterial, StoreError> {
    Ok(SecretMaterial {
        secrets: get(row, "secrets_json")?,
        signing_keys: get(row, "signing_keys_json")?,
        client_key: get(row, "client_key_pem")?,
        headers: get(row, "headers_json")?,
    })
}

/// A subscription's stored secret material sealed anew under the primary key (each column
/// opened first with whichever key sealed it, or read as plaintext). Every write seals the
/// four columns together, so one key seals them all, and the census reads `secrets_json`
/// alone; the choice of rows to re-seal also reads `headers_json`, which was sealed later
/// (so an upgraded database has sealed secrets beside plaintext headers).
pub(crate) fn reseal_material(
    keyring: &Keyring,
    id: &str,
    stored: &SecretMaterial,
) -> Result<SecretMaterial, StoreError> {
    let secrets = open_secrets(keyring, id, &stored.secrets)?;
    let signing_keys = open_column(keyring, &stored.signing_keys, id, "signing_keys_json")?;
    let client_key = stored
        .client_key
        .as_deref()
        .map(|sealed| open_column(keyring, sealed, id, "client_key_pem"))
        .transpose()?;
    let headers = open_column(keyring, &stored.headers, id, "headers_json")?;
    Ok(SecretMaterial {
        secrets: seal_secrets(
            keyring,
            &SubscriptionId::from_trusted(id.to_owned()),
            &secrets,
        )?,
        signing_keys: seal_column(keyring, &signing_keys, id, "signing_keys_json")?,
        client_key: client_key
            .map(|pem| seal_column(keyring, &pem, id, "client_key_pem"))
            .transpose()?,
        headers: seal_column(keyring, &headers, id, "headers_json")?,
    })
}

/// A [`SecretCensus`] from [`crate::statements::sealing::census`]'s `(key_id, total)` rows.
pub(crate) fn secret_census(rows: Vec<(String, i64)>) -> SecretCensus {
    let mut census = SecretCensus::default();
    for (key_id, total) in rows {
        let total = u64::try_from(total).unwrap_or(0);
        if key_id.is_empty() {
            census.plaintext += total;
        } else {
            census.sealed.insert(key_id, total);
        }
    }
    census
}

/// Column list matching [`event`], as a literal for `concat!`.
macro_rules! event_columns {
    () => {
        "id, event_type, payload_json, tenant_id, idempotency_key, created_at"
    };
}
pub(crate) use event_columns;

pub(crate) fn event(row: &impl Columns) -> Result<Event, StoreError> {
    Ok(Event {
        id: EventId::from_trusted(get(row, "id")?),
        event_type: get(row, "event_type")?,
        payload_json: get(row, "payload_json")?,
        tenant_id: get::<Option<String>>(row, "tenant_id")?.map(TenantId::from_trusted),
        idempotency_key: get(row, "idempotency_key")?,
        created_at: time_column(row, "created_at")?,
    })
}

/// Column list matching [`delivery`], as a literal for `concat!`.
macro_rules! delivery_columns {
    () => {
        "id, event_id, subscription_id, tenant_id, event_type, \
    status, attempts, scheduled_attempts, next_attempt_at, created_at, updated_at"
    };
}
pub(crate) use delivery_columns;

pub(crate) fn delivery(row: &impl Columns) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: DeliveryId::from_trusted(get(row, "id")?),
        event_id: EventId::from_trusted(get(row, "event_id")?),
        subscription_id: SubscriptionId::from_trusted(get(row, "subscription_id")?),
        tenant_id: TenantId::from_trusted(get(row, "tenant_id")?),
        event_type: get(row, "event_type")?,
        status: parsed(row, "status", DeliveryStatus::parse)?,
        attempts: u32_column(row, "attempts")?,
        scheduled_attempts: u32_column(row, "scheduled_attempts")?,
        next_attempt_at: optional_time_column(row, "next_attempt_at")?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

/// Column list matching [`attempt`], as a literal for `concat!`.
macro_rules! attempt_columns {
    () => {
        "id, delivery_id, started_at, duration_ms, \
    response_status, response_body, response_headers, error, error_message, triggered_by"
    };
}
pub(crate) use attempt_columns;

/// A row of [`crate::statements::events::list_deliveries`]: the delivery's columns, then
/// `subscription_url` and the latest attempt's `last_*` columns (null when none was made).
pub(crate) fn delivery_summary(row: &impl Columns) -> Result<DeliverySummary, StoreError> {
    let last_attempt = match optional_time_column(row, "last_attempt_at")? {
        Some(started_at) => Some(LastAttempt {
            started_at,
            response_status: status_column(row, "last_response_status")?,
            error: error_column(row, "last_error")?,
            error_message: get(row, "last_error_message")?,
        }),
        None => None,
    };
    Ok(DeliverySummary {
        delivery: delivery(row)?,
        subscription_url: get(row, "subscription_url")?,
        last_attempt,
    })
}

fn status_column(row: &impl Columns, column: &str) -> Result<Option<u16>, StoreError> {
    let status: Option<i64> = get(row, column)?;
    status
        .map(u16::try_from)
        .transpose()
        .map_err(|_| StoreError::Corrupt(format!("column {column}: out of range")))
}

fn error_column(row: &impl Columns, column: &str) -> Result<Option<AttemptError>, StoreError> {
    let error: Option<String> = get(row, column)?;
    error
        .map(|text| {
            AttemptError::parse(&text).ok_or_else(|| {
                StoreError::Corrupt(format!("column {column}: unknown value '{text}'"))
            })
        })
        .transpose()
}

pub(crate) fn attempt(row: &impl Columns) -> Result<Attempt, StoreError> {
    let duration: i64 = get(row, "duration_ms")?;
    Ok(Attempt {
        id: AttemptId::from_trusted(get(row, "id")?),
        delivery_id: DeliveryId::from_trusted(get(row, "delivery_id")?),
        started_at: time_column(row, "started_at")?,
        duration_ms: u64::try_from(duration)
            .map_err(|_| StoreError::Corrupt(format!("column duration_ms: {duration}")))?,
        response_status: status_column(row, "response_status")?,
        response_body: get(row, "response_body")?,
        response_headers: get::<Option<String>>(row, "response_headers")?
            .map(crate::ResponseHeaders::from_stored),
        error: error_column(row, "error")?,
        error_message: get(row, "error_message")?,
        trigger: parsed(row, "triggered_by", AttemptTrigger::parse)?,
    })
}

/// A failure waiting for its digest, from [`crate::statements::notices`]' rows.
pub(crate) fn failure_notice(row: &impl Columns) -> Result<FailureNotice, StoreError> {
    Ok(FailureNotice {
        delivery_id: DeliveryId::from_trusted(get(row, "delivery_id")?),
        subscription_id: SubscriptionId::from_trusted(get(row, "subscription_id")?),
        event_id: EventId::from_trusted(get(row, "event_id")?),
        event_type: get(row, "event_type")?,
        error: get(row, "error")?,
        failed_at: time_column(row, "failed_at")?,
    })
}

/// A claimed digest from its taken failures, oldest first.
pub(crate) fn failure_digest(
    subscription_id: String,
    mut failures: Vec<FailureNotice>,
) -> FailureDigest {
    failures.sort_by(|a, b| {
        (a.failed_at, a.delivery_id.as_str()).cmp(&(b.failed_at, b.delivery_id.as_str()))
    });
    FailureDigest {
        subscription_id: SubscriptionId::from_trusted(subscription_id),
        failures,
    }
}

/// A duplicate publish's answer from [`crate::statements::events::first_with_key`]'s row.
pub(crate) fn duplicate(row: &impl Columns) -> Result<Published, StoreError> {
    let deliveries: i64 = get(row, "deliveries")?;
    Ok(Published {
        event_id: EventId::from_trusted(get(row, "id")?),
        deliveries: u64::try_from(deliveries).unwrap_or(0),
        duplicate: true,
    })
}

/// The earlier of the unleased and the leased next due times, as `next_due_at` answers.
pub(crate) fn earliest_due(
    unleased: Option<i64>,
    leased: Option<i64>,
) -> Result<Option<OffsetDateTime>, StoreError> {
    let earliest = match (unleased, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    earliest
        .map(|at| from_micros(at, "next_attempt_at"))
        .transpose()
}

/// Queue statistics from the pending count and the oldest pending creation time.
pub(crate) fn queue_stats(pending: i64, oldest: Option<i64>) -> Result<QueueStats, StoreError> {
    Ok(QueueStats {
        pending: u64::try_from(pending).unwrap_or(0),
        oldest_pending_created_at: oldest.map(|at| from_micros(at, "created_at")).transpose()?,
    })
}

/// Splits a subscription pattern into what `subscription_event_types` stores.
pub(crate) fn pattern_row(pattern: &str) -> (&str, bool) {
    match pattern.strip_suffix('*') {
        Some(prefix) => (prefix, true),
        None => (pattern, false),
    }
}

/// Turns a `limit + 1` fetch into a page: the extra row only says that another page exists.
pub(crate) fn page<T>(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = limit as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(&cursor_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// A page of tenants (newest first; the cursor is the last id).
pub(crate) fn tenant_page(items: Vec<Tenant>, request: &PageRequest) -> Page<Tenant> {
    page(items, page_limit(request), |t| t.id.to_string())
}

/// A page of event types (by name; the cursor is the last name).
pub(crate) fn event_type_page(items: Vec<EventType>, request: &PageRequest) -> Page<EventType> {
    page(items, page_limit(request), |t| t.name.clone())
}

/// A page of subscriptions (newest first; the cursor is the last id).
pub(crate) fn subscription_page(
    items: Vec<Subscription>,
    request: &PageRequest,
) -> Page<Subscription> {
    page(items, page_limit(request), |s| s.id.to_string())
}

/// A page of events (newest first; the cursor is the last id).
pub(crate) fn event_page(items: Vec<Event>, request: &PageRequest) -> Page<Event> {
    page(items, page_limit(request), |e| e.id.to_string())
}

/// A page of deliveries (newest first; the cursor is the last id).
pub(crate) fn delivery_page(
    items: Vec<DeliverySummary>,
    request: &PageRequest,
) -> Page<DeliverySummary> {
    page(items, page_limit(request), |d| d.delivery.id.to_string())
}

/// A page of a delivery's attempts (oldest first; the cursor is the last id).
pub(crate) fn attempt_page(items: Vec<Attempt>, request: &PageRequest) -> Page<Attempt> {
    page(items, page_limit(request), |a| a.id.to_string())
}

/// The effective page size: a limit of 0 would make a page that can never advance.
pub(crate) fn page_limit(page: &PageRequest) -> u32 {
    page.limit.max(1)
}
