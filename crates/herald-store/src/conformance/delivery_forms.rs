//! Cases for how a subscription's deliveries look and are signed (payload mode, signature
//! scheme and its Ed25519 keys) and from when it takes events (`effective_at`).

use super::*;

/// The delivery-form fields are stored and read back as written, on create and on update.
pub async fn delivery_forms_round_trip_on_create_and_update<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut sub = subscription(&tenant.id, &["consent.revoked"]);
    sub.payload_mode = PayloadMode::Thin;
    sub.signature_scheme = SignatureScheme::V1a;
    sub.signing_keys = vec![SigningSecret {
        secret: "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned(),
        expires_at: None,
    }];
    sub.effective_at = Some(at(30));
    store.create_subscription(&sub).await.expect("create");
    let read = store.get_subscription(&sub.id).await.expect("get");
    assert_eq!(read.as_ref(), Some(&sub));

    sub.payload_mode = PayloadMode::Akoya;
    sub.signature_scheme = SignatureScheme::V1;
    sub.signing_keys.push(SigningSecret {
        secret: "whsk_HxwdHhobGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=".to_owned(),
        expires_at: Some(at(90)),
    });
    sub.effective_at = None;
    assert!(store.update_subscription(&sub).await.expect("update"));
    let read = store.get_subscription(&sub.id).await.expect("get");
    assert_eq!(read.as_ref(), Some(&sub));
}

/// Events published before a subscription's `effective_at` get no delivery to it; events at
/// or after it do; other subscriptions are not affected.
pub async fn events_before_effective_at_are_not_delivered_to_that_subscription<S: Store>(
    store: &S,
) {
    let tenant = new_tenant(store, "Acme").await;
    let mut later = subscription(&tenant.id, &["consent.*"]);
    later.effective_at = Some(at(100));
    store.create_subscription(&later).await.expect("create");
    let always = new_subscription(store, &tenant.id, &["consent.*"]).await;

    let early = publish(store, "consent.revoked", Some(&tenant.id), 99).await;
    assert_eq!(early.deliveries, 1);
    let targets: Vec<_> = deliveries_of(store, &early.event_id)
        .await
        .into_iter()
        .map(|d| d.subscription_id)
        .collect();
    assert_eq!(targets, vec![always.id.clone()]);

    let on_time = publish(store, "consent.revoked", Some(&tenant.id), 100).await;
    assert_eq!(on_time.deliveries, 2);

    // The leasing publish (the API's path) follows the same rule.
    let leased = store
        .publish_and_lease(
            &event("consent.revoked", Some(&tenant.id), 50),
            &crate::seam::PublishLease {
                now: at(50),
                lease_until: at(110),
                lease_window: 1,
            },
        )
        .await
        .expect("publish_and_lease");
    assert_eq!(leased.published.deliveries, 1);
    assert!(
        leased
            .jobs
            .iter()
            .all(|job| job.subscription.id == always.id)
    );
}

/// `client_certificates` lists exactly the subscriptions with a client certificate, with the
/// certificate (never the key), by id, a page after another; one deleted or whose
/// certificate was removed drops out.
pub async fn client_certificates_are_listed_by_id_a_page_at_a_time<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut with = Vec::new();
    for n in 0..3 {
        let mut sub = subscription(&tenant.id, &["a.b"]);
        sub.client_certificate_pem = Some(format!("CERTIFICATE {n}"));
        sub.client_key_pem = Some(format!("KEY {n}"));
        store.create_subscription(&sub).await.expect("create");
        with.push(sub);
    }
    new_subscription(store, &tenant.id, &["a.b"]).await;
    with.sort_by(|a, b| a.id.cmp(&b.id));
    let expected: Vec<(SubscriptionId, String)> = with
        .iter()
        .map(|s| (s.id.clone(), s.client_certificate_pem.clone().expect("pem")))
        .collect();

    let first = store.client_certificates(None, 2).await.expect("page");
    assert_eq!(first, expected[..2]);
    let rest = store
        .client_certificates(Some(&first[1].0), 2)
        .await
        .expect("page");
    assert_eq!(rest, expected[2..]);

    let mut removed = with[0].clone();
    removed.client_certificate_pem = None;
    removed.client_key_pem = None;
    assert!(store.update_subscription(&removed).await.expect("update"));
    assert!(
        store
            .delete_subscription(&with[1].id)
            .await
            .expect("delete")
    );
    let left = store.client_certificates(None, 10).await.expect("page");
    assert_eq!(left, expected[2..]);
}
