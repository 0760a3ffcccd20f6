//! Conformance cases for access tokens beyond issue and lookup: revocation by their tenant,
//! rotation of a tenant's credentials (which revokes every token it holds), and the purge of
//! expired tokens in bounded batches. Times are fixed instants, never the clock.

use super::{at, new_tenant};
use crate::seam::Store;

/// A tenant revokes its own token; another tenant's revocation of it changes nothing.
pub async fn revoked_access_token_no_longer_resolves<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let other = new_tenant(store, "Other").await;
    store
        .insert_access_token("hash-1", &acme.id, at(3600))
        .await
        .unwrap();
    assert!(
        !store
            .revoke_access_token("hash-1", &other.id)
            .await
            .unwrap()
    );
    assert_eq!(
        store.access_token_tenant("hash-1", at(0)).await.unwrap(),
        Some(acme.id.clone())
    );
    assert!(store.revoke_access_token("hash-1", &acme.id).await.unwrap());
    assert_eq!(
        store.access_token_tenant("hash-1", at(0)).await.unwrap(),
        None
    );
    assert!(!store.revoke_access_token("hash-1", &acme.id).await.unwrap());
}

/// Rotating credentials stores the new hash and deletes the tenant's tokens, only its own.
pub async fn rotating_credentials_replaces_the_hash_and_revokes_the_tenants_tokens<S: Store>(
    store: &S,
) {
    let acme = new_tenant(store, "Acme").await;
    let other = new_tenant(store, "Other").await;
    for (hash, tenant) in [("a-1", &acme), ("a-2", &acme), ("o-1", &other)] {
        store
            .insert_access_token(hash, &tenant.id, at(3600))
            .await
            .unwrap();
    }
    let new_hash = "f".repeat(64);
    let rotated = store
        .rotate_tenant_credentials(&acme.id, &new_hash)
        .await
        .unwrap()
        .expect("the tenant exists");
    assert_eq!(rotated.client_secret_hash, new_hash);
    assert_eq!(rotated.client_id, acme.client_id);
    let stored = store.get_tenant(&acme.id).await.unwrap().unwrap();
    assert_eq!(stored.client_secret_hash, new_hash);
    for hash in ["a-1", "a-2"] {
        assert_eq!(store.access_token_tenant(hash, at(0)).await.unwrap(), None);
    }
    assert_eq!(
        store.access_token_tenant("o-1", at(0)).await.unwrap(),
        Some(other.id.clone())
    );
    let missing = crate::ids::TenantId::generate();
    assert!(
        store
            .rotate_tenant_credentials(&missing, &new_hash)
            .await
            .unwrap()
            .is_none()
    );
}

/// The purge deletes expired tokens only, at most `limit` at a time.
pub async fn purge_deletes_expired_access_tokens_in_batches<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    for n in 0..5 {
        store
            .insert_access_token(&format!("old-{n}"), &acme.id, at(60))
            .await
            .unwrap();
    }
    store
        .insert_access_token("live", &acme.id, at(3600))
        .await
        .unwrap();
    assert_eq!(
        store.purge_expired_access_tokens(at(59), 10).await.unwrap(),
        0
    );
    assert_eq!(
        store.purge_expired_access_tokens(at(60), 3).await.unwrap(),
        3
    );
    assert_eq!(
        store.purge_expired_access_tokens(at(60), 3).await.unwrap(),
        2
    );
    assert_eq!(
        store.purge_expired_access_tokens(at(60), 3).await.unwrap(),
        0
    );
    assert_eq!(
        store.access_token_tenant("live", at(60)).await.unwrap(),
        Some(acme.id.clone())
    );
    // An expired token that is purged cannot come back by moving the clock backwards.
    assert_eq!(
        store.access_token_tenant("old-0", at(0)).await.unwrap(),
        None
    );
}
