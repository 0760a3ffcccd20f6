//! Conformance cases for the Hub's sign-in sessions: they resolve to who signed in until they
//! expire, sign-out ends them, and they go with their tenant.

use super::{at, new_tenant};
use crate::seam::Store;

/// An operator session and a tenant session each resolve to who signed in, until they
/// expire; deleting one ends it and leaves the other.
pub async fn hub_session_resolves_until_it_expires_or_is_deleted<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    store
        .insert_hub_session("operator", None, at(0), at(3600))
        .await
        .unwrap();
    store
        .insert_hub_session("tenant", Some(&acme.id), at(0), at(3600))
        .await
        .unwrap();
    let operator = store
        .hub_session("operator", at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(operator.tenant_id, None);
    assert_eq!(operator.expires_at, at(3600));
    let tenant = store.hub_session("tenant", at(10)).await.unwrap().unwrap();
    assert_eq!(tenant.tenant_id, Some(acme.id.clone()));
    assert_eq!(store.hub_session("tenant", at(3600)).await.unwrap(), None);
    assert_eq!(store.hub_session("unknown", at(10)).await.unwrap(), None);
    assert!(store.delete_hub_session("operator").await.unwrap());
    assert_eq!(store.hub_session("operator", at(10)).await.unwrap(), None);
    assert!(!store.delete_hub_session("operator").await.unwrap());
    assert!(store.hub_session("tenant", at(10)).await.unwrap().is_some());
}

/// A sign-in sweeps sessions that have expired, and deleting a tenant ends its sessions.
pub async fn hub_sessions_are_swept_when_expired_and_go_with_their_tenant<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    store
        .insert_hub_session("old", None, at(0), at(60))
        .await
        .unwrap();
    store
        .insert_hub_session("acme", Some(&acme.id), at(0), at(3600))
        .await
        .unwrap();
    store
        .insert_hub_session("new", None, at(120), at(3600))
        .await
        .unwrap();
    // Swept: deleting it again finds nothing.
    assert!(!store.delete_hub_session("old").await.unwrap());
    assert!(store.delete_tenant(&acme.id).await.unwrap());
    assert_eq!(store.hub_session("acme", at(130)).await.unwrap(), None);
    assert!(store.hub_session("new", at(130)).await.unwrap().is_some());
}
