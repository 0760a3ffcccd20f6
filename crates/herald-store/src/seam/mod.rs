//! The store seam, split by concern: [`Catalog`] (the rows people manage) and
//! [`DeliveryQueue`] (how a delivery moves). [`Store`] is both, for code that needs both.
//!
//! It owns the contract every backend keeps, and nothing else: no SQL and no scheduling
//! decision lives here. Why two traits and a blanket `Store` rather than one wide trait: a
//! wrapper that intercepts catalog calls (the API's catalog cache) then implements only
//! [`Catalog`], and a method it forgets is a compile error instead of a silent default.
//! `Arc<dyn Store>` still works downstream: supertrait methods are callable on it, and it
//! upcasts to `Arc<dyn Catalog>` or `Arc<dyn DeliveryQueue>`.

mod catalog;
mod queue;

pub use catalog::Catalog;
pub use queue::{Accepted, DeliveryQueue, PublishLease};

use crate::error::StoreError;

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Herald's persistence: the [`Catalog`] and the [`DeliveryQueue`] of one database. Implemented
/// for every type that implements both; implement those two instead.
pub trait Store: Catalog + DeliveryQueue {}

impl<T: Catalog + DeliveryQueue + ?Sized> Store for T {}
