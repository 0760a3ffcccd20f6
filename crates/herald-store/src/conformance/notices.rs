//! Conformance cases for failure notices: failures wait for their subscription's digest, a
//! digest is claimed once per interval, and of two claimers only one gets the failures.
//! Times are fixed instants, never the clock.

use super::at;
use crate::ids::{DeliveryId, EventId, SubscriptionId};
use crate::model::FailureNotice;
use crate::seam::Store;

fn failure(delivery: &str, subscription: &str, seconds: i64) -> FailureNotice {
    FailureNotice {
        delivery_id: DeliveryId::from_trusted(delivery.to_owned()),
        subscription_id: SubscriptionId::from_trusted(subscription.to_owned()),
        event_id: EventId::from_trusted(format!("evt-{delivery}")),
        event_type: "order.created".to_owned(),
        error: "connection refused".to_owned(),
        failed_at: at(seconds),
    }
}

/// A digest takes every failure of one subscription noted so far, oldest first, once; the next
/// digest of that subscription is claimed only after the interval.
pub async fn failure_digest_takes_a_subscriptions_failures_once_per_interval<S: Store>(store: &S) {
    let hour = time::Duration::hours(1);
    assert_eq!(
        store
            .claim_failure_digest(at(0), at(0) - hour, at(0))
            .await
            .unwrap(),
        None
    );
    store
        .note_failure(&failure("d-2", "sub-a", 20))
        .await
        .unwrap();
    store
        .note_failure(&failure("d-1", "sub-a", 10))
        .await
        .unwrap();
    // Noted twice (failed again after a redelivery): kept once.
    store
        .note_failure(&failure("d-1", "sub-a", 10))
        .await
        .unwrap();
    store
        .note_failure(&failure("d-3", "sub-b", 30))
        .await
        .unwrap();

    let now = at(60);
    let first = store
        .claim_failure_digest(now, now - hour, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.subscription_id.as_str(), "sub-a");
    assert_eq!(
        first.failures,
        vec![failure("d-1", "sub-a", 10), failure("d-2", "sub-a", 20)]
    );
    let second = store
        .claim_failure_digest(now, now - hour, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.subscription_id.as_str(), "sub-b");
    assert_eq!(
        store
            .claim_failure_digest(now, now - hour, now)
            .await
            .unwrap(),
        None
    );

    // A failure noted after `noted_before` waits for its gathering time.
    store
        .note_failure(&failure("d-5", "sub-c", 50))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_failure_digest(now, now - hour, at(40))
            .await
            .unwrap(),
        None
    );
    let gathered = store
        .claim_failure_digest(now, now - hour, at(50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gathered.subscription_id.as_str(), "sub-c");

    // A new failure of sub-a within the hour waits; after it, it is the next digest.
    store
        .note_failure(&failure("d-4", "sub-a", 120))
        .await
        .unwrap();
    let later = at(600);
    assert_eq!(
        store
            .claim_failure_digest(later, later - hour, later)
            .await
            .unwrap(),
        None
    );
    let after_hour = at(60 + 3600);
    let third = store
        .claim_failure_digest(after_hour, after_hour - hour, after_hour)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.failures, vec![failure("d-4", "sub-a", 120)]);
}

/// Two claimers racing for the same due digest: exactly one gets its failures.
pub async fn concurrent_digest_claims_send_once<S: Store>(store: &S) {
    for n in 0..5 {
        store
            .note_failure(&failure(&format!("d-{n}"), "sub-a", n))
            .await
            .unwrap();
    }
    let now = at(60);
    let before = now - time::Duration::hours(1);
    let (a, b) = tokio::join!(
        store.claim_failure_digest(now, before, now),
        store.claim_failure_digest(now, before, now)
    );
    let claimed: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(claimed.len(), 1, "one claimer only: {claimed:?}");
    assert_eq!(claimed[0].failures.len(), 5);
}
