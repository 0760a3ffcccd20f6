//! PostgreSQL going away and coming back, against the test server of `.ci/postgres.sh`.
//!
//! A test binary of its own: it stops the server that other PostgreSQL tests use, and cargo
//! runs test binaries one after another, never two at once. Skipped (passing) without the
//! server's variables, like the rest of the PostgreSQL tests.

use std::time::Duration;

use herald_store::conformance::{self, new_subscription, new_tenant};
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::{Claim, DeliveryQueue, Event, StoreError, TenantId};
use herald_testkit::{PostgresServer, TestDatabase, postgres_url};
use tokio::time::{Instant, timeout};

/// A tenant with a subscription to every event type.
async fn setup(store: &PgStore) -> TenantId {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["*"]).await;
    tenant.id
}

fn event(tenant_id: &TenantId) -> Event {
    conformance::event("restart.test", Some(tenant_id), 0)
}

/// A claim of everything due at the suite's fixed time (every event here).
fn claim_now() -> Claim {
    Claim {
        limit: 10,
        ..conformance::claim(0)
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

/// With one pool for everything (4 connections), and with the publish and outcome batches on
/// pools of their own (16). One after the other: the test stops the one server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_database_is_unavailable_meanwhile_then_everything_resumes() {
    let (Some(admin), Some(server)) = (postgres_url(), PostgresServer::from_env()) else {
        return;
    };
    for max_connections in [4, 16] {
        restart_and_resume(&admin, &server, max_connections).await;
    }
}

async fn restart_and_resume(admin: &str, server: &PostgresServer, max_connections: u32) {
    let database = TestDatabase::create_on(admin).await.expect("database");
    let options = PgOptions {
        max_connections,
        acquire_timeout: Duration::from_secs(2),
    };
    let publisher = PgStore::connect(database.url(), options.clone(), conformance::keyring())
        .await
        .expect("connect");
    let observer = PgStore::connect(database.url(), options, conformance::keyring())
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
