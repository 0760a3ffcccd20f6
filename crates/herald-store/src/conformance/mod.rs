//! The conformance suite: the behaviour every [`Store`] must show, written once and run
//! against each backend, so SQLite and PostgreSQL cannot drift apart.
//!
//! Each case is a public async function taking a fresh, empty store; the
//! [`store_conformance_tests!`](crate::store_conformance_tests) macro turns every case into
//! its own `#[tokio::test]` in the backend's test crate. Cases never sleep: times are fixed
//! instants passed to the store (`claim.now`, `created_at`), so leases and due times are tested
//! by moving those instants, not the clock. Cases panic on failure, as tests do.

mod attempt_pages;
mod attempts;
mod catalog;
mod delivery_forms;
mod dispatch;
mod events;
mod feed;
mod handoff;
mod hub;
mod limits;
mod limits_catalog;
mod manual_slots;
mod notices;
mod relay;
mod retention;
mod sealing;
mod tokens;

pub use attempt_pages::*;
pub use attempts::*;
pub use catalog::*;
pub use delivery_forms::*;
pub use dispatch::*;
pub use events::*;
pub use feed::*;
pub use handoff::*;
pub use hub::*;
pub use limits::*;
pub use limits_catalog::*;
pub use manual_slots::*;
pub use notices::*;
pub use relay::*;
pub use retention::*;
pub use sealing::*;
pub use tokens::*;

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime, macros::datetime};

use crate::ids::{AttemptId, DeliveryId, EventId, SubscriptionId, TenantId};
use crate::model::*;
use crate::sealing::{EncryptionKey, Keyring};
use crate::seam::Store;

/// Expands to one `#[tokio::test]` per conformance case. `$factory` is called once per test
/// and returns a future of `(store, guard)`: the store to test, fresh and empty, and a value
/// kept alive until the test ends (a temporary directory, a database to drop; `()` if none).
/// With `optional` first, the factory's future yields an `Option` of that pair instead, and
/// `None` skips the test (a backend whose server is not configured here).
///
/// ```ignore
/// herald_store::store_conformance_tests!(|| async {
///     let dir = tempfile::tempdir().unwrap();
///     let store = SqliteStore::open(&dir.path().join("herald.db"), conformance::keyring())
///         .await
///         .unwrap();
///     (store, dir)
/// });
/// herald_store::store_conformance_tests!(optional || async {
///     let database = herald_testkit::TestDatabase::create().await.ok()??;
///     // …
/// #   None::<((), ())>
/// });
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    (optional $factory:expr) => {
        $crate::store_conformance_tests!(@list optional $factory);
    };
    ($factory:expr) => {
        $crate::store_conformance_tests!(@list always $factory);
    };
    (@list $mode:ident $factory:expr) => {
        $crate::store_conformance_tests!(@cases $mode $factory;
            // catalog
            ping_answers,
            tenant_round_trips_and_is_found_by_client_id,
            renaming_a_tenant_changes_only_its_name,
            duplicate_tenant_id_or_client_id_conflicts,
            tenants_page_newest_first_with_a_cursor,
            access_token_resolves_to_its_tenant_until_it_expires,
            // retention
            retention_deletes_old_finished_events_with_their_deliveries_and_attempts,
            tenant_retention_scopes_its_events_apart_from_the_servers,
            dropping_payloads_keeps_the_delivery_log,
            a_delivery_whose_payload_was_dropped_is_not_leased_again,
            // sealed secrets
            subscription_secrets_are_sealed_under_the_primary_key,
            resealing_current_secrets_rewrites_nothing,
            // tokens
            revoked_access_token_no_longer_resolves,
            rotating_credentials_replaces_the_hash_and_revokes_the_tenants_tokens,
            purge_deletes_expired_access_tokens_in_batches,
            // Hub sessions
            hub_session_resolves_until_it_expires_or_is_deleted,
            hub_sessions_are_swept_when_expired_and_go_with_their_tenant,
            activity_counts_events_and_attempts_per_bucket_and_tenant,
            failing_subscriptions_are_those_whose_latest_attempt_failed,
            recovery_requeues_failed_deliveries_in_batches_and_keeps_progress,
            stalled_recoveries_are_claimed_once_their_lease_ends,
            support_requests_are_filed_listed_answered_and_closed,
            event_type_round_trips_updates_and_deletes,
            duplicate_event_type_name_conflicts,
            event_types_page_by_name_ascending,
            event_type_names_are_found_by_prefix,
            event_type_usage_counts_exact_and_wildcard_subscriptions,
            subscription_round_trips_every_field,
            updating_a_subscription_replaces_its_fields_and_patterns,
            subscriptions_page_newest_first_and_filter_by_tenant,
            missing_rows_read_as_none_and_changes_report_false,
            subscriptions_are_counted_per_tenant,
            attempts_page_oldest_first_with_a_cursor,
            manual_send_slots_follow_the_rate_and_share_the_claims_sequence,
            // events
            publish_creates_one_pending_delivery_per_matching_subscription_of_the_tenant,
            broadcast_reaches_matching_subscriptions_of_every_tenant,
            wildcard_matches_by_prefix_and_underscore_is_literal,
            overlapping_patterns_give_one_delivery,
            paused_subscription_still_gets_deliveries_created,
            deleted_subscription_gets_no_deliveries,
            repeated_idempotency_key_returns_the_first_event_and_creates_nothing,
            idempotency_keys_are_scoped_per_tenant,
            payload_is_kept_byte_for_byte,
            new_delivery_is_pending_and_due_at_event_creation,
            events_page_newest_first_filtered_by_type_and_tenant,
            deliveries_page_newest_first_with_filters,
            deliveries_list_shows_the_subscription_url_and_the_latest_attempt,
            publish_to_creates_one_leased_delivery_to_that_subscription_only,
            // delivery forms (issue 14)
            delivery_forms_round_trip_on_create_and_update,
            events_before_effective_at_are_not_delivered_to_that_subscription,
            client_certificates_are_listed_by_id_a_page_at_a_time,
            // dispatch: claiming
            claim_due_takes_only_deliveries_that_are_due,
            claim_due_skips_paused_subscriptions_until_resumed,
            claimed_delivery_is_not_claimed_again_while_leased,
            expired_lease_can_be_claimed_again,
            claim_due_caps_each_subscription_at_its_max_in_flight,
            claim_due_puts_fresh_deliveries_before_retries,
            claim_due_respects_the_limit,
            claimed_job_carries_its_event_and_subscription,
            finished_deliveries_are_never_claimed,
            // dispatch: limits that hold across nodes
            in_flight_counts_unexpired_leases_from_any_claimer,
            expired_lease_frees_capacity,
            manual_lease_counts_toward_in_flight,
            lease_window_lets_a_subscription_hold_that_many_max_in_flights,
            rate_limited_claims_are_spaced_by_the_rate,
            rate_slots_continue_across_claims,
            concurrent_claims_never_return_the_same_delivery,
            // dispatch: deliveries handed out at publish, attempts recorded together
            publish_and_lease_hands_out_up_to_max_in_flight,
            publish_and_lease_hands_out_up_to_the_lease_window,
            publish_and_lease_skips_paused_and_rate_limited_subscriptions,
            publish_and_lease_hands_out_nothing_for_a_duplicate,
            concurrent_completions_are_each_recorded,
            concurrent_publishes_make_one_event_per_idempotency_key,
            concurrent_publish_and_lease_hands_out_at_most_max_in_flight,
            // the relay
            relay_deliveries_wait_until_this_node_holds_a_listener,
            relay_deliveries_unattended_past_the_bound_are_leased_for_failing,
            // dispatch: attempts and the queue
            lease_delivery_conflicts_with_an_unexpired_lease,
            complete_attempt_records_the_attempt_moves_status_and_releases_the_lease,
            only_scheduled_attempts_count_for_the_schedule,
            attempt_response_headers_are_kept_in_order_and_read_back,
            release_all_leases_makes_claimed_deliveries_claimable,
            queue_stats_counts_pending_deliveries,
            next_due_at_is_the_earliest_claimable_time,
            deleting_a_subscription_removes_its_deliveries_and_attempts,
            deleting_a_tenant_removes_its_subscriptions_deliveries_tokens_and_events,
            // the attempt feed
            feed_lists_attempts_oldest_first_with_their_delivery,
            feed_reads_only_between_the_two_positions,
            feed_shows_the_following_attempt_as_what_came_next,
            feed_filters_by_tenant_subscription_event_type_and_outcome,
            feed_pages_follow_positions_without_loss_or_repeat,
            // failure notices (issue 14)
            failure_digest_takes_a_subscriptions_failures_once_per_interval,
            concurrent_digest_claims_send_once,
        );
    };
    (@cases $mode:ident $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let Some((store, _guard)) = $crate::store_conformance_tests!(@make $mode $factory)
                else {
                    return;
                };
                $crate::conformance::$case(&store).await;
            }
        )*
    };
    (@make always $factory:expr) => {
        Some(($factory)().await)
    };
    (@make optional $factory:expr) => {
        ($factory)().await
    };
}

/// The keyring every test store is opened with: one fixed key, so that stores opened on one
/// database (several nodes, a reopened file) open each other's secrets, and cases can name the
/// key that seals (`keyring().primary().id()`). Never use it outside tests.
pub fn keyring() -> Keyring {
    Keyring::new(EncryptionKey::from_bytes([0x5e; 32]), [])
}

/// The suite's fixed "now": every time in a case is this plus some seconds.
pub fn at(seconds: i64) -> OffsetDateTime {
    datetime!(2030-01-01 00:00 UTC) + Duration::seconds(seconds)
}

/// A tenant named `name`, created at [`at`]`(0)`, not stored.
pub fn tenant(name: &str) -> Tenant {
    let id = TenantId::generate();
    Tenant {
        client_id: format!("client_{id}"),
        id,
        name: name.to_owned(),
        client_secret_hash: "0".repeat(64),
        created_at: at(0),
        retention_seconds: None,
    }
}

/// A [`tenant`] stored in `store`.
pub async fn new_tenant<S: Store>(store: &S, name: &str) -> Tenant {
    let tenant = tenant(name);
    store.create_tenant(&tenant).await.expect("create tenant");
    tenant
}

/// An active subscription of `tenant_id` to `patterns` (max 16 in flight, one secret), not
/// stored.
pub fn subscription(tenant_id: &TenantId, patterns: &[&str]) -> Subscription {
    Subscription {
        id: SubscriptionId::generate(),
        tenant_id: tenant_id.clone(),
        url: "https://receiver.example/hook".to_owned(),
        event_types: patterns.iter().map(|p| (*p).to_owned()).collect(),
        status: SubscriptionStatus::Active,
        description: None,
        headers: BTreeMap::new(),
        rate_limit_per_second: None,
        max_in_flight: 16,
        contact_email: None,
        secrets: vec![SigningSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            expires_at: None,
        }],
        created_at: at(0),
        updated_at: at(0),
        payload_mode: Default::default(),
        signature_scheme: Default::default(),
        signing_keys: Vec::new(),
        effective_at: None,
        client_certificate_pem: None,
        client_key_pem: None,
        server_ca_pem: None,
    }
}

/// A [`subscription`] stored in `store`.
pub async fn new_subscription<S: Store>(
    store: &S,
    tenant_id: &TenantId,
    patterns: &[&str],
) -> Subscription {
    let subscription = subscription(tenant_id, patterns);
    store
        .create_subscription(&subscription)
        .await
        .expect("create subscription");
    subscription
}

/// An event of `event_type` for `tenant_id` (`None`: a broadcast) created at
/// [`at`]`(seconds)`, not published.
pub fn event(event_type: &str, tenant_id: Option<&TenantId>, seconds: i64) -> Event {
    Event {
        id: EventId::generate(),
        event_type: event_type.to_owned(),
        payload_json: r#"{"n":1}"#.to_owned(),
        tenant_id: tenant_id.cloned(),
        idempotency_key: None,
        created_at: at(seconds),
    }
}

async fn publish<S: Store>(
    store: &S,
    event_type: &str,
    tenant_id: Option<&TenantId>,
    seconds: i64,
) -> Published {
    store
        .publish(&event(event_type, tenant_id, seconds))
        .await
        .expect("publish")
}

/// A claim at `now` leasing for 60 s, with a limit too high to matter and a 1 s rate horizon.
pub fn claim(now: i64) -> Claim {
    Claim {
        now: at(now),
        lease_until: at(now + 60),
        limit: 100,
        rate_horizon: std::time::Duration::from_secs(1),
        lease_window: 1,
        lease_windows: std::collections::HashMap::new(),
    }
}

async fn claim_ids<S: Store>(store: &S, claim: &Claim) -> Vec<DeliveryId> {
    let jobs = store.claim_due(claim).await.expect("claim_due");
    jobs.into_iter().map(|job| job.delivery.id).collect()
}

/// Every delivery of an event (there are few in a case).
async fn deliveries_of<S: Store>(store: &S, event_id: &EventId) -> Vec<Delivery> {
    let filter = DeliveryFilter {
        event_id: Some(event_id.clone()),
        ..Default::default()
    };
    let page = store
        .list_deliveries(
            &filter,
            &PageRequest {
                cursor: None,
                limit: 1000,
            },
        )
        .await
        .expect("list deliveries");
    page.items.into_iter().map(|s| s.delivery).collect()
}

/// The one delivery of an event.
async fn only_delivery<S: Store>(store: &S, event_id: &EventId) -> Delivery {
    let mut all = deliveries_of(store, event_id).await;
    assert_eq!(all.len(), 1, "expected exactly one delivery of {event_id}");
    all.remove(0)
}

/// An attempt of `delivery_id` at [`at`]`(seconds)` that got `status` (`None`: a timeout).
pub fn attempt(
    delivery_id: &DeliveryId,
    seconds: i64,
    status: Option<u16>,
    trigger: AttemptTrigger,
) -> Attempt {
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    Attempt {
        id: AttemptId::generate(),
        delivery_id: delivery_id.clone(),
        started_at: at(seconds),
        duration_ms: 42,
        response_status: status,
        response_body: status.map(|s| format!("status {s}")),
        response_headers: status
            .map(|_| crate::ResponseHeaders::bounded([("x-request-id", &b"req-1"[..])])),
        error: if ok {
            None
        } else {
            Some(if status.is_some() {
                AttemptError::Status
            } else {
                AttemptError::Timeout
            })
        },
        error_message: if ok {
            None
        } else {
            Some("the endpoint did not accept it".to_owned())
        },
        trigger,
    }
}

/// Progress after a failed scheduled attempt: still pending, next try at `next`.
fn retry_at(next: i64) -> DeliveryProgress {
    DeliveryProgress {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(at(next)),
        counts_for_schedule: true,
    }
}

/// Progress that ends a delivery with `status`.
pub fn finished(status: DeliveryStatus) -> DeliveryProgress {
    DeliveryProgress {
        status,
        next_attempt_at: None,
        counts_for_schedule: true,
    }
}

fn page(limit: u32, cursor: Option<String>) -> PageRequest {
    PageRequest { cursor, limit }
}
