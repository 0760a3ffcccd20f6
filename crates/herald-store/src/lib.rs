//! Herald's domain and its storage.
//!
//! - [`model`]: the domain types named in DESIGN.md (tenant, event type, subscription, event,
//!   delivery, attempt) with the prefixed ids that the API shows.
//! - [`Store`]: the one trait every storage backend implements. Nothing above it knows which
//!   backend runs; the dispatcher's scheduling decisions (what status follows an attempt, when
//!   the next one is due) are made above it and handed down, so backends only persist.
//! - [`sqlite`]: the embedded default.
//! - [`postgres`]: for more than one node on one database; [`postgres::testing`] gives tests
//!   a fresh database each.
//! - [`conformance`]: the test suite every implementation must pass, run by each backend's tests.
//!
//! The store is the only source of truth: callers may cache, but every fact lives here first.
#![deny(missing_docs)]

mod claiming;
pub mod conformance;
mod error;
pub mod ids;
pub mod model;
pub mod postgres;
mod rows;
mod seam;
pub mod sqlite;
mod statements;

pub use error::{Cause, StoreError};
pub use ids::{AttemptId, DeliveryId, EventId, IdError, SubscriptionId, TenantId};
pub use model::*;
pub use seam::{Accepted, Catalog, DeliveryQueue, PublishLease, Result, Store};
