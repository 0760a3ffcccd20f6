//! Cases for `take_send_slot`: the rate-limit slot a manual attempt (connectivity test,
//! redelivery) takes from the same sequence `claim_due` hands out.

use super::*;

/// At 2 per second, slots go 500 ms apart up to the horizon, then none; a claim continues
/// after them; a rate of 0 is no limit; an unknown subscription gets none.
pub async fn manual_send_slots_follow_the_rate_and_share_the_claims_sequence<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut limited = subscription(&tenant.id, &["consent.*"]);
    limited.rate_limit_per_second = Some(2);
    store.create_subscription(&limited).await.unwrap();
    let horizon = std::time::Duration::from_secs(1);
    let take = |now| store.take_send_slot(&limited.id, 2, now, horizon);
    assert_eq!(take(at(0)).await.unwrap(), Some(at(0)));
    assert_eq!(
        take(at(0)).await.unwrap(),
        Some(at(0) + Duration::milliseconds(500))
    );
    assert_eq!(
        take(at(0)).await.unwrap(),
        None,
        "the next is past the horizon"
    );
    // A claim at the same moment finds the slots taken: nothing is handed out before 1 s.
    publish(store, "consent.revoked", Some(&tenant.id), 0).await;
    let mut at_zero = claim(0);
    at_zero.rate_horizon = horizon;
    assert!(store.claim_due(&at_zero).await.unwrap().is_empty());
    assert_eq!(take(at(1)).await.unwrap(), Some(at(1)));

    let unlimited = store
        .take_send_slot(&limited.id, 0, at(5), horizon)
        .await
        .unwrap();
    assert_eq!(unlimited, Some(at(5)));
    let unknown = store
        .take_send_slot(&SubscriptionId::generate(), 2, at(5), horizon)
        .await
        .unwrap();
    assert_eq!(unknown, None);
}
