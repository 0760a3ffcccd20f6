//! Herald's test plumbing, one copy for every crate's tests: waiting on a condition with a
//! deadline ([`wait_for`], [`await_within`]), a real HTTP receiver that records what it gets
//! and answers as scripted, or holds requests open until released ([`Receiver`]), and
//! PostgreSQL test databases that are created per test and dropped after it
//! ([`TestDatabase`]), with the one rule for when PostgreSQL tests may be skipped
//! ([`postgres_url`]: never under `CI`).
//!
//! It must never depend on a herald crate: every herald crate dev-depends on this one, so the
//! arrow back would be a cycle; anything that knows Herald's API (a test server, store
//! builders) stays in the crate that owns it. It is dev-only (`publish = false`) and never
//! reaches a release build.
//!
//! The design choice a reader may question: setup that the machine can make fail (binding a
//! port, reaching PostgreSQL) returns a typed [`Error`], while the helpers that *are*
//! assertions ([`wait_for`], [`await_within`], [`Receiver::wait_for_count`],
//! [`Receiver::only_request`]) panic with a message naming what was expected, as `assert!`
//! does: a test that times out has failed, and a `Result` there would only move the same
//! panic into every caller.
#![deny(missing_docs)]

mod error;
mod postgres;
mod receiver;
mod wait;

pub use error::Error;
pub use postgres::{DATABASE_URL_VAR, PostgresServer, TestDatabase, in_ci, postgres_url};
pub use receiver::{Receiver, Reply, Request};
pub use wait::{await_within, unused_port, wait_for, wait_until};
