//! Property-based tests of the store's small languages: the event-type pattern matcher (the
//! model's `pattern_matches`, and the SQL that publishes by it, which must agree), and the
//! cursors (ids and feed positions): they round-trip, and garbage never panics.

use herald_store::conformance::{self, new_tenant};
use herald_store::sqlite::SqliteStore;
use herald_store::{
    AttemptId, Catalog, DeliveryQueue, EventId, FeedPosition, SubscriptionId, TenantId,
    pattern_matches,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Names from a tiny alphabet, so patterns and types often overlap; `_` and `%` are there
/// because SQL's LIKE would read them as wildcards.
fn name() -> impl Strategy<Value = String> {
    "[ab_%.]{1,6}"
}

/// An exact name, or a prefix (possibly empty) followed by `*`.
fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        "[ab_%.]{0,5}".prop_map(|prefix| format!("{prefix}*"))
    ]
}

proptest! {
    #[test]
    fn an_exact_pattern_matches_only_its_own_name(pattern in name(), event_type in name()) {
        prop_assert_eq!(pattern_matches(&pattern, &event_type), pattern == event_type);
        prop_assert!(pattern_matches(&pattern, &pattern));
    }

    #[test]
    fn a_wildcard_matches_exactly_the_names_with_its_prefix(
        prefix in "[ab_%.]{0,5}",
        event_type in name(),
    ) {
        let pattern = format!("{prefix}*");
        prop_assert_eq!(pattern_matches(&pattern, &event_type), event_type.starts_with(&prefix));
        prop_assert!(pattern_matches("*", &event_type));
    }

    #[test]
    fn ids_round_trip_through_their_text(_n in 0u8..4) {
        let event = EventId::generate();
        prop_assert_eq!(EventId::parse(&event.to_string()), Ok(event.clone()));
        let subscription = SubscriptionId::generate();
        prop_assert_eq!(subscription.to_string().parse::<SubscriptionId>(), Ok(subscription));
        // One kind's id is never another kind's cursor.
        prop_assert!(TenantId::parse(event.as_str()).is_err());
    }

    #[test]
    fn garbage_cursors_never_panic_and_only_well_formed_ids_parse(text in "\\PC{0,80}") {
        for (parsed, prefix) in [
            (EventId::parse(&text).is_ok(), EventId::PREFIX),
            (TenantId::parse(&text).is_ok(), TenantId::PREFIX),
            (AttemptId::parse(&text).is_ok(), AttemptId::PREFIX),
        ] {
            let well_formed = text.strip_prefix(prefix).is_some_and(|rest| {
                rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit())
            });
            prop_assert_eq!(parsed, well_formed);
        }
    }

    #[test]
    fn feed_positions_follow_time(a in 0i64..4_000_000_000_000, b in 0i64..4_000_000_000_000) {
        let at = |ms: i64| {
            FeedPosition::at(time::OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms))
        };
        prop_assert_eq!(a.cmp(&b), at(a).cmp(&at(b)));
        // An attempt made now sorts after every earlier instant.
        let now = FeedPosition::after(&AttemptId::generate());
        prop_assert!(at(a.min(1_700_000_000_000)) < now);
    }
}

/// Publishing matches subscriptions exactly as `pattern_matches` says: the store's SQL
/// (`substr`, not LIKE) and the model agree on every pattern and name, `_` and `%` included.
#[test]
fn publish_reaches_exactly_the_subscriptions_the_model_matches() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(SqliteStore::open(
            &dir.path().join("herald.db"),
            conformance::keyring(),
        ))
        .unwrap();
    let case = (
        prop::collection::vec(prop::collection::vec(pattern(), 1..4), 1..5),
        name(),
    );
    let mut runner = TestRunner::new(Config::with_cases(64));
    runner
        .run(&case, |(subscriptions, event_type)| {
            runtime.block_on(async {
                let tenant = new_tenant(&store, "props").await;
                let mut expected = 0;
                for patterns in &subscriptions {
                    let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
                    let sub = conformance::subscription(&tenant.id, &patterns);
                    store.create_subscription(&sub).await.unwrap();
                    expected += u64::from(sub.matches(&event_type));
                }
                let event = conformance::event(&event_type, Some(&tenant.id), 0);
                let published = store.publish(&event).await.unwrap();
                prop_assert_eq!(
                    published.deliveries,
                    expected,
                    "{:?} {}",
                    subscriptions,
                    event_type
                );
                Ok(())
            })
        })
        .unwrap();
}
