//! Herald's domain and its storage.
//!
//! - [`model`]: the domain types named in DESIGN.md (tenant, event type, subscription, event,
//!   delivery, attempt) with the prefixed ids that the API shows.
//! - The store seam, split by concern: [`Catalog`] (tenants, access tokens, event types,
//!   subscriptions, and `ping`) and [`DeliveryQueue`] (publish, claim, lease, complete,
//!   attempts, wake-ups: how a delivery moves). [`Store`] is both, by a blanket impl, for code
//!   that needs both; `Arc<dyn Store>` upcasts to either half, so a wrapper (the API's catalog
//!   cache) implements only the half it intercepts. No method has a default body, so a
//!   backend or wrapper that forgets one does not compile. Nothing above the seam knows which
//!   backend runs; the dispatcher's scheduling decisions (what status follows an attempt,
//!   when the next one is due) are made above it and handed down, so backends only persist.
//! - The attempt feed ([`FeedPosition`], [`FeedAttempt`]): every attempt in the order it was
//!   made, read by [`DeliveryQueue::attempts_between`] for live views.
//! - [`HubSession`]: the Hub's sign-in sessions, kept by the [`Catalog`].
//! - [`Recovery`]: requeuing a subscription's failed deliveries since a time, in batches.
//! - [`SupportRequest`]: a subscriber's request for help, filed from the Hub.
//! - [`sqlite`]: the embedded default.
//! - [`postgres`]: for more than one node on one database.
//! - [`sealing`]: secrets at rest (AEAD under a rotatable keyring), applied where subscription
//!   rows are encoded and decoded, so a database alone never reveals a signing secret.
//! - [`conformance`]: the test suite every implementation must pass, run by each backend's tests.
//!
//! How SQL is written: each statement once. The statements both dialects say alike live in
//! `statements` (catalog, events, queue), each a function returning its text, with `$1..$n`
//! placeholders, and its arguments (a small borrowed `Arg`: text, integer, typed null); list
//! filters are built there once with a builder that numbers placeholders. Each backend runs
//! them through one helper (`sqlite::run` on rusqlite, `postgres::run` on sqlx), and every row
//! is decoded by `rows`, whose column lists the statements splice in. What only one dialect
//! can say (`FOR UPDATE SKIP LOCKED`, `ON CONFLICT` on the idempotency index, `pg_notify`,
//! `unnest` and `json_each`, `starts_with` against `substr`, `INDEXED BY`) is written once in
//! its backend. Why this and not a query builder or queries generic over sqlx's database: the
//! SQLite writer runs tens of thousands of small statements a second on rusqlite with cached
//! prepared statements (sqlx's per-statement thread hop was a fifth of Herald's CPU), so the
//! shared form had to be plain `&'static str` texts any driver can run, with no allocation
//! per call; a builder rendering both dialects would add a dependency and rebuild the text on
//! the hot path. SQLite therefore uses rusqlite for everything (readers too), and sqlx only to
//! apply its migrations; PostgreSQL uses sqlx. A schema change is one migration per backend
//! plus the column list in `rows` and the statements that write the column.
//!
//! The store is the only source of truth: callers may cache, but every fact lives here first.
#![deny(missing_docs)]

mod claiming;
pub mod conformance;
mod error;
mod feed;
mod hub;
pub mod ids;
pub mod model;
pub mod postgres;
mod recovery;
mod response_headers;
mod rows;
pub mod sealing;
mod seam;
pub mod sqlite;
mod statements;
mod support;

pub use error::{Cause, StoreError};
pub use feed::{AttemptFeedFilter, AttemptOutcome, FeedAttempt, FeedPage, FeedPosition};
pub use hub::{ActivityBucket, ActivityQuery, FailingSubscription, HubSession};
pub use ids::{AttemptId, DeliveryId, EventId, IdError, SubscriptionId, TenantId};
pub use model::*;
pub use recovery::{Recovery, RecoveryStatus};
pub use response_headers::ResponseHeaders;
pub use seam::{Accepted, Catalog, DeliveryQueue, PublishLease, Result, Store};
pub use support::{SupportRequest, SupportStatus};
