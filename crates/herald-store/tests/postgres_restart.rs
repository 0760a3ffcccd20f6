//! PostgreSQL going away and coming back, against the test server of `.ci/postgres.sh`.
//!
//! A test binary of its own: it stops the server that other PostgreSQL tests use, and cargo
//! runs test binaries one after another, never two at once. Skipped (passing) without the
//! server's variables, like the rest of the PostgreSQL tests.

use std::time::Duration;

use herald_store::postgres::testing::{TestDatabase, TestServer, admin_url_or_skip};
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::{
    Catalog, Claim, DeliveryQueue, Event, EventId, StoreError, Subscription, SubscriptionId,
    SubscriptionStatus, Tenant, TenantId, timestamp_now,
};
use tokio::time::{Instant, timeout};

async fn setup(store: &PgStore) -> TenantId {
    let id = TenantId::generate();
    let tenant = Tenant {
        client_id: format!("client_{id}"),
        id: id.clone(),
        name: "Acme".into(),
        client_secret_hash: "0".repeat(64),
        created_at: timestamp_now(),
    };
    store.create_tenant(&tenant).await.expect("tenant");
    let subscription = Subscription {
        id: SubscriptionId::generate(),
        tenant_id: id.clone(),
        url: "https://receiver.example/".into(),
        event_types: vec!["*".into()],
        status: SubscriptionStatus::Active,
        description: None,
        headers: Default::default(),
        rate_limit_per_second: None,
        max_in_flight: 16,
        contact_email: None,
        secrets: vec![],
        created_at: timestamp_now(),
        updated_at: timestamp_now(),
    };
    store
        .create_subscription(&subscription)
        .await
        .expect("subscription");
    id
}

fn event(tenant_id: &TenantId) -> Event {
    Event {
        id: EventId::generate(),
        event_type: "restart.test".into(),
        payload_json: "{}".into(),
        tenant_id: Some(tenant_id.clone()),
        idempotency_key: None,
        created_at: timestamp_now(),
    }
}

/// A claim of everything due now.
fn claim_now() -> Claim {
    let now = timestamp_now();
    Claim {
        now,
        lease_until: now + time::Duration::minutes(1),
        limit: 10,
        rate_horizon: Duration::from_secs(1),
        lease_window: 1,
    }
}

/// Whether both stores' listeners on `database_url`'s database have re-subscribed (their
/// sessions' last statement was the LISTEN).
async fn listening(database_url: &str) -> bool {
    let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(database_url).await else {
        return false;
    };
    sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&mut conn)
    .await
    .is_ok_and(|count| count >= 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_database_is_unavailable_meanwhile_then_everything_resumes() {
    let (Some(admin), Some(server)) = (admin_url_or_skip(), TestServer::from_env()) else {
        return;
    };
    let database = TestDatabase::create(&admin).await.expect("database");
    let options = PgOptions {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(2),
    };
    let publisher = PgStore::connect(database.url(), options.clone())
        .await
        .expect("connect");
    let observer = PgStore::connect(database.url(), options)
        .await
        .expect("connect");
    let wake = observer.work_notifier().expect("PostgreSQL has a notifier");
    let tenant_id = setup(&publisher).await;
    let before = event(&tenant_id);
    publisher.publish(&before).await.expect("publish before");

    server.stop().await.expect("stop PostgreSQL");
    let down = publisher.publish(&event(&tenant_id)).await;
    assert!(
        matches!(down, Err(StoreError::Unavailable(_))),
        "a write while the database is down: {down:?}"
    );
    let down = observer.claim_due(&claim_now()).await;
    assert!(
        matches!(down, Err(StoreError::Unavailable(_))),
        "a claim while the database is down: {down:?}"
    );

    server.start().await.expect("start PostgreSQL");
    // The same stores, no reconnecting by hand: the pool replaces its dead connections.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = event(&tenant_id);
    loop {
        match publisher.publish(&after).await {
            Ok(_) => break,
            Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::task::yield_now().await;
            }
            Err(error) => panic!("publishing after the restart: {error:?}"),
        }
    }
    assert_eq!(
        publisher.get_event(&before.id).await.expect("read"),
        Some(before),
        "committed before the restart, kept"
    );
    let claimed = observer
        .claim_due(&claim_now())
        .await
        .expect("claim after restart");
    assert_eq!(claimed.len(), 2, "both accepted events are claimable");

    // The observer's listener re-subscribes by itself; then a publish wakes it again.
    while !listening(database.url()).await {
        assert!(
            Instant::now() < deadline,
            "the listener never re-subscribed"
        );
        tokio::task::yield_now().await;
    }
    // Consume the wake-ups of the outage and the reconnect, then expect a fresh one.
    while timeout(Duration::from_millis(100), wake.notified())
        .await
        .is_ok()
    {}
    publisher
        .publish(&event(&tenant_id))
        .await
        .expect("publish");
    timeout(Duration::from_secs(10), wake.notified())
        .await
        .expect("a publish after the restart wakes the other node");
}
