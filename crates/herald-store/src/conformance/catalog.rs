//! Cases for the rows people manage: tenants, access tokens, event types, subscriptions.

use std::collections::BTreeMap;

use super::*;
use crate::error::StoreError;

/// `ping` succeeds on a working store.
pub async fn ping_answers<S: Store>(store: &S) {
    store.ping().await.expect("ping");
}

/// A tenant reads back as written, by id and by client id.
pub async fn tenant_round_trips_and_is_found_by_client_id<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    assert_eq!(
        store.get_tenant(&tenant.id).await.unwrap(),
        Some(tenant.clone())
    );
    assert_eq!(
        store
            .get_tenant_by_client_id(&tenant.client_id)
            .await
            .unwrap(),
        Some(tenant)
    );
    assert_eq!(
        store
            .get_tenant_by_client_id("client_nobody")
            .await
            .unwrap(),
        None
    );
}

/// Renaming returns the renamed tenant and keeps everything else.
pub async fn renaming_a_tenant_changes_only_its_name<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let renamed = store
        .rename_tenant(&tenant.id, "Acme Energy")
        .await
        .unwrap();
    let expected = Tenant {
        name: "Acme Energy".to_owned(),
        ..tenant.clone()
    };
    assert_eq!(renamed, Some(expected.clone()));
    assert_eq!(store.get_tenant(&tenant.id).await.unwrap(), Some(expected));
    assert_eq!(
        store
            .rename_tenant(&TenantId::generate(), "x")
            .await
            .unwrap(),
        None
    );
}

/// Tenant ids and client ids are unique.
pub async fn duplicate_tenant_id_or_client_id_conflicts<S: Store>(store: &S) {
    let first = new_tenant(store, "Acme").await;
    let same_client = Tenant {
        id: TenantId::generate(),
        ..first.clone()
    };
    let err = store.create_tenant(&same_client).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let same_id = Tenant {
        client_id: "client_other".to_owned(),
        ..first
    };
    let err = store.create_tenant(&same_id).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

/// Pages go newest first; following the cursor visits every tenant once, and the last page
/// has no cursor.
pub async fn tenants_page_newest_first_with_a_cursor<S: Store>(store: &S) {
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(new_tenant(store, &format!("t{n}")).await.id);
    }
    created.reverse();
    let first = store.list_tenants(&page(2, None)).await.unwrap();
    let second = store
        .list_tenants(&page(2, first.next_cursor.clone()))
        .await
        .unwrap();
    let third = store
        .list_tenants(&page(2, second.next_cursor.clone()))
        .await
        .unwrap();
    let seen: Vec<_> = [&first, &second, &third]
        .iter()
        .flat_map(|p| p.items.iter().map(|t| t.id.clone()))
        .collect();
    assert_eq!(seen, created);
    assert_eq!(
        (first.items.len(), second.items.len(), third.items.len()),
        (2, 2, 1)
    );
    assert!(first.next_cursor.is_some() && second.next_cursor.is_some());
    assert_eq!(third.next_cursor, None);
    let exact = store.list_tenants(&page(5, None)).await.unwrap();
    assert_eq!(
        exact.next_cursor, None,
        "a page that holds the rest has no next page"
    );
}

/// A token names its tenant strictly before `expires_at`, and nothing after; hashes are unique.
pub async fn access_token_resolves_to_its_tenant_until_it_expires<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    store
        .insert_access_token("hash-1", &tenant.id, at(3600))
        .await
        .unwrap();
    assert_eq!(
        store.access_token_tenant("hash-1", at(0)).await.unwrap(),
        Some(tenant.id.clone())
    );
    assert_eq!(
        store.access_token_tenant("hash-1", at(3599)).await.unwrap(),
        Some(tenant.id.clone())
    );
    assert_eq!(
        store.access_token_tenant("hash-1", at(3600)).await.unwrap(),
        None
    );
    assert_eq!(
        store.access_token_tenant("hash-2", at(0)).await.unwrap(),
        None
    );
    let err = store
        .insert_access_token("hash-1", &tenant.id, at(7200))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

/// An event type with a schema and an example reads back, updates (description, schema,
/// example, `updated_at`, not
/// `created_at`) and deletes.
pub async fn event_type_round_trips_updates_and_deletes<S: Store>(store: &S) {
    let mut event_type = EventType {
        name: "consent.revoked".to_owned(),
        description: Some("A customer revoked consent".to_owned()),
        schema: Some(serde_json::json!({"type": "object", "required": ["consent_id"]})),
        example: Some(serde_json::json!({"consent_id": "c_42"})),
        created_at: at(0),
        updated_at: at(0),
    };
    store.create_event_type(&event_type).await.unwrap();
    assert_eq!(
        store.get_event_type("consent.revoked").await.unwrap(),
        Some(event_type.clone())
    );

    event_type.description = None;
    event_type.schema = None;
    event_type.example = None;
    event_type.updated_at = at(10);
    assert!(store.update_event_type(&event_type).await.unwrap());
    assert_eq!(
        store.get_event_type("consent.revoked").await.unwrap(),
        Some(event_type.clone())
    );

    assert!(store.delete_event_type("consent.revoked").await.unwrap());
    assert_eq!(store.get_event_type("consent.revoked").await.unwrap(), None);
    assert!(!store.delete_event_type("consent.revoked").await.unwrap());
    assert!(!store.update_event_type(&event_type).await.unwrap());
}

fn event_type(name: &str) -> EventType {
    EventType {
        name: name.to_owned(),
        description: None,
        schema: None,
        example: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// Event type names are unique.
pub async fn duplicate_event_type_name_conflicts<S: Store>(store: &S) {
    store.create_event_type(&event_type("a.b")).await.unwrap();
    let err = store
        .create_event_type(&event_type("a.b"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

/// Event types list by name ascending, the cursor being the last name.
pub async fn event_types_page_by_name_ascending<S: Store>(store: &S) {
    for name in [
        "maintenance.planned_outage",
        "consent.revoked",
        "consent.granted",
    ] {
        store.create_event_type(&event_type(name)).await.unwrap();
    }
    let first = store.list_event_types(&page(2, None)).await.unwrap();
    let names: Vec<_> = first.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["consent.granted", "consent.revoked"]);
    assert_eq!(first.next_cursor.as_deref(), Some("consent.revoked"));
    let second = store
        .list_event_types(&page(2, first.next_cursor))
        .await
        .unwrap();
    let names: Vec<_> = second.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["maintenance.planned_outage"]);
    assert_eq!(second.next_cursor, None);
}

/// Every field of a subscription survives the round trip, pattern order included.
pub async fn subscription_round_trips_every_field<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut sub = subscription(&tenant.id, &["maintenance.*", "consent.revoked"]);
    sub.status = SubscriptionStatus::Paused;
    sub.description = Some("billing".to_owned());
    sub.headers = BTreeMap::from([("x-team".to_owned(), "billing".to_owned())]);
    sub.rate_limit_per_second = Some(5);
    sub.max_in_flight = 3;
    sub.contact_email = Some("ops@acme.example".to_owned());
    sub.secrets.push(SigningSecret {
        secret: "whsec_b2xk".to_owned(),
        expires_at: Some(at(86_400)),
    });
    store.create_subscription(&sub).await.unwrap();
    assert_eq!(
        store.get_subscription(&sub.id).await.unwrap(),
        Some(sub.clone())
    );
    let err = store.create_subscription(&sub).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

/// An update replaces every mutable field, and publish matches the new patterns only.
pub async fn updating_a_subscription_replaces_its_fields_and_patterns<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    let mut sub = new_subscription(store, &tenant.id, &["consent.revoked"]).await;
    sub.url = "https://elsewhere.example/".to_owned();
    sub.event_types = vec!["maintenance.*".to_owned()];
    sub.status = SubscriptionStatus::Paused;
    sub.description = Some("moved".to_owned());
    sub.headers = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
    sub.rate_limit_per_second = Some(1);
    sub.max_in_flight = 1;
    sub.contact_email = Some("x@y.example".to_owned());
    sub.secrets = vec![SigningSecret {
        secret: "whsec_new".to_owned(),
        expires_at: None,
    }];
    sub.updated_at = at(5);
    assert!(store.update_subscription(&sub).await.unwrap());
    assert_eq!(
        store.get_subscription(&sub.id).await.unwrap(),
        Some(sub.clone())
    );

    assert_eq!(
        publish(store, "consent.revoked", Some(&tenant.id), 1)
            .await
            .deliveries,
        0
    );
    assert_eq!(
        publish(store, "maintenance.planned_outage", Some(&tenant.id), 1)
            .await
            .deliveries,
        1
    );
}

/// Subscriptions list newest first, optionally only one tenant's.
pub async fn subscriptions_page_newest_first_and_filter_by_tenant<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let a1 = new_subscription(store, &acme.id, &["*"]).await;
    let g1 = new_subscription(store, &globex.id, &["*"]).await;
    let a2 = new_subscription(store, &acme.id, &["*"]).await;

    let all = store
        .list_subscriptions(&SubscriptionFilter::default(), &page(10, None))
        .await
        .unwrap();
    let ids: Vec<_> = all.items.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, [a2.id.clone(), g1.id.clone(), a1.id.clone()]);

    let filter = SubscriptionFilter {
        tenant_id: Some(acme.id.clone()),
    };
    let first = store
        .list_subscriptions(&filter, &page(1, None))
        .await
        .unwrap();
    assert_eq!(
        first.items.iter().map(|s| &s.id).collect::<Vec<_>>(),
        [&a2.id]
    );
    let second = store
        .list_subscriptions(&filter, &page(1, first.next_cursor))
        .await
        .unwrap();
    assert_eq!(
        second.items.iter().map(|s| &s.id).collect::<Vec<_>>(),
        [&a1.id]
    );
    assert_eq!(second.next_cursor, None);
}

/// Lookups of unknown ids read `None`; updates and deletes of them report false.
pub async fn missing_rows_read_as_none_and_changes_report_false<S: Store>(store: &S) {
    let tenant = tenant("ghost");
    assert_eq!(store.get_tenant(&tenant.id).await.unwrap(), None);
    assert!(!store.delete_tenant(&tenant.id).await.unwrap());
    let sub = subscription(&tenant.id, &["*"]);
    assert_eq!(store.get_subscription(&sub.id).await.unwrap(), None);
    assert!(!store.update_subscription(&sub).await.unwrap());
    assert!(!store.delete_subscription(&sub.id).await.unwrap());
    assert_eq!(store.get_event(&EventId::generate()).await.unwrap(), None);
    assert_eq!(
        store.get_delivery(&DeliveryId::generate()).await.unwrap(),
        None
    );
    assert!(
        store
            .list_attempts(&DeliveryId::generate())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_event_type("nothing.here").await.unwrap(), None);
}

/// Names are listed by prefix, ascending, up to the limit; `_` in a prefix is a literal
/// character, not a wildcard.
pub async fn event_type_names_are_found_by_prefix<S: Store>(store: &S) {
    for name in [
        "consent.revoked",
        "consent.granted",
        "consentx.other",
        "maintenance.planned_outage",
        "maintenanceXplanned.y",
    ] {
        store.create_event_type(&event_type(name)).await.unwrap();
    }
    let names = |prefix: &'static str, limit| async move {
        store.event_type_names(prefix, limit).await.unwrap()
    };
    assert_eq!(
        names("consent.", 10).await,
        ["consent.granted", "consent.revoked"]
    );
    assert_eq!(
        names("consent", 2).await,
        ["consent.granted", "consent.revoked"]
    );
    assert_eq!(names("", 1).await, ["consent.granted"]);
    assert_eq!(names("", 10).await.len(), 5);
    assert_eq!(names("maintenance_", 10).await, Vec::<String>::new());
    assert_eq!(names("nothing.", 10).await, Vec::<String>::new());
}

/// An event type is used by every subscription (any tenant, paused too) whose exact pattern
/// or wildcard covers it, each counted once, listed by id up to the sample size.
pub async fn event_type_usage_counts_exact_and_wildcard_subscriptions<S: Store>(store: &S) {
    let acme = new_tenant(store, "Acme").await;
    let globex = new_tenant(store, "Globex").await;
    let exact = new_subscription(store, &acme.id, &["consent.revoked"]).await;
    let both = new_subscription(store, &globex.id, &["consent.*", "consent.revoked"]).await;
    let mut paused = subscription(&acme.id, &["*"]);
    paused.status = SubscriptionStatus::Paused;
    store.create_subscription(&paused).await.unwrap();
    let _other = new_subscription(store, &acme.id, &["consent.granted", "consentx.*"]).await;
    let _underscore = new_subscription(store, &acme.id, &["consent_revoked"]).await;

    let usage = store.event_type_usage("consent.revoked", 10).await.unwrap();
    let mut expected = vec![exact.id.clone(), both.id.clone(), paused.id.clone()];
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(usage.subscriptions, 3);
    assert_eq!(usage.first, expected);

    let sampled = store.event_type_usage("consent.revoked", 2).await.unwrap();
    assert_eq!(
        sampled.subscriptions, 3,
        "the count is not cut by the sample"
    );
    assert_eq!(sampled.first, expected[..2]);

    assert!(store.delete_subscription(&exact.id).await.unwrap());
    let usage = store.event_type_usage("consent.revoked", 10).await.unwrap();
    assert_eq!(usage.subscriptions, 2);

    let unused = store.event_type_usage("maintenance.x", 10).await.unwrap();
    assert_eq!(unused.subscriptions, 1, "only the paused `*` covers it");
    let none = store.event_type_usage("maintenance.x", 0).await.unwrap();
    assert_eq!(none.subscriptions, 1, "a sample of 0 still counts");
}
