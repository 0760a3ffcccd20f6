//! Sealed secrets (see [`crate::sealing`]): every backend seals subscription secrets under
//! the primary key on every write, opens them on every read, and counts and re-seals them.
//! Legacy plaintext rows and key rotation need a second keyring or raw SQL, so they are tested
//! per backend (`tests/*_at_rest.rs`).

use super::*;

/// Secrets written by create and update are sealed under the primary key, and read back as
/// they were written, including on the claim path that signs deliveries.
pub async fn subscription_secrets_are_sealed_under_the_primary_key<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut sub = new_subscription(store, &tenant.id, &["consent.*"]).await;
    new_subscription(store, &tenant.id, &["other.*"]).await;
    let primary = keyring().primary().id().to_owned();
    let census = store.secret_census().await.unwrap();
    assert_eq!(census.plaintext, 0);
    assert_eq!(census.sealed, BTreeMap::from([(primary.clone(), 2)]));

    sub.secrets.push(SigningSecret {
        secret: "whsec_cHJldmlvdXM=".to_owned(),
        expires_at: Some(at(60)),
    });
    assert!(store.update_subscription(&sub).await.unwrap());
    assert_eq!(
        store.get_subscription(&sub.id).await.unwrap(),
        Some(sub.clone())
    );
    store
        .publish(&event("consent.revoked", Some(&tenant.id), 0))
        .await
        .unwrap();
    let jobs = store.claim_due(&claim(1)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].subscription.secrets, sub.secrets);
    assert_eq!(
        store.secret_census().await.unwrap().sealed,
        BTreeMap::from([(primary, 2)])
    );
}

/// With everything already sealed by the primary key, a re-seal in either scope rewrites
/// nothing (it is idempotent), and the secrets still read back.
pub async fn resealing_current_secrets_rewrites_nothing<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let sub = new_subscription(store, &tenant.id, &["*"]).await;
    assert_eq!(
        store.reseal_secrets(Reseal::Plaintext, 100).await.unwrap(),
        0
    );
    assert_eq!(
        store.reseal_secrets(Reseal::NotPrimary, 100).await.unwrap(),
        0
    );
    assert_eq!(store.get_subscription(&sub.id).await.unwrap(), Some(sub));
}
