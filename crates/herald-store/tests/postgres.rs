//! The conformance suite and multi-node behaviour against PostgreSQL: two or more `PgStore`s on
//! one database stand for nodes. Each test gets a database of its own, so they run in parallel.
//!
//! Needs `HERALD_TEST_DATABASE_URL` (see `herald_testkit::postgres_url`): skipped without it,
//! except under CI, where it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_store::conformance::{self, new_tenant};
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::{
    AttemptTrigger, Catalog, Claim, DeliveryQueue, DeliveryStatus, Event, StoreError, Subscription,
    SubscriptionId, SubscriptionStatus, TenantId,
};
use herald_testkit::TestDatabase;

/// A fresh store on a database of its own, dropped with the guard; `None` skips the test.
async fn fresh() -> Option<(PgStore, TestDatabase)> {
    let database = TestDatabase::create()
        .await
        .expect("create a test database")?;
    let store = PgStore::connect(database.url(), PgOptions::default(), conformance::keyring())
        .await
        .expect("connect");
    Some((store, database))
}

herald_store::store_conformance_tests!(optional fresh);

/// Another node on the same database.
async fn node(database: &TestDatabase) -> PgStore {
    PgStore::connect(database.url(), PgOptions::default(), conformance::keyring())
        .await
        .expect("connect another node")
}

async fn tenant(store: &PgStore) -> TenantId {
    new_tenant(store, "Acme").await.id
}

/// A subscription to every event type allowing `max_in_flight`.
async fn subscription(store: &PgStore, tenant_id: &TenantId, max_in_flight: u32) -> Subscription {
    let subscription = Subscription {
        max_in_flight,
        ..conformance::subscription(tenant_id, &["*"])
    };
    store
        .create_subscription(&subscription)
        .await
        .expect("subscription");
    subscription
}

fn event(tenant_id: &TenantId, key: Option<String>) -> Event {
    Event {
        idempotency_key: key,
        ..conformance::event("load.test", Some(tenant_id), 0)
    }
}

/// A claim of at most `limit` at the suite's fixed time, when every event here is due.
fn claim(limit: u32) -> Claim {
    Claim {
        limit,
        ..conformance::claim(0)
    }
}

/// Waits for a wake-up, failing after a deadline.
async fn woken(notify: &tokio::sync::Notify, what: &str) {
    tokio::time::timeout(Duration::from_secs(10), notify.notified())
        .await
        .unwrap_or_else(|_| panic!("no wake-up within 10 s after {what}"));
}

/// Two nodes claim and complete in loops until the backlog is done. Each node counts what it
/// holds before releasing it in the database, so the shared count never exceeds the real one,
/// and the real one must stay within max_in_flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_claiming_concurrently_never_exceed_max_in_flight_nor_share_a_delivery() {
    let Some((first, database)) = fresh().await else {
        return;
    };
    let nodes = [Arc::new(first), Arc::new(node(&database).await)];
    let tenant_id = tenant(&nodes[0]).await;
    let narrow = subscription(&nodes[0], &tenant_id, 3).await;
    let wide = subscription(&nodes[0], &tenant_id, 8).await;
    let limits = BTreeMap::from([(narrow.id.clone(), 3), (wide.id.clone(), 8)]);
    const EVENTS: usize = 150;
    for _ in 0..EVENTS {
        nodes[0]
            .publish(&event(&tenant_id, None))
            .await
            .expect("publish");
    }

    let in_flight: Arc<Mutex<BTreeMap<SubscriptionId, u32>>> = Arc::default();
    let claimed: Arc<Mutex<Vec<herald_store::DeliveryId>>> = Arc::default();
    let mut workers = tokio::task::JoinSet::new();
    for (index, node) in nodes.iter().enumerate() {
        for _ in 0..3 {
            let (node, in_flight, claimed, limits) = (
                Arc::clone(node),
                Arc::clone(&in_flight),
                Arc::clone(&claimed),
                limits.clone(),
            );
            workers.spawn(async move {
                let mut done = 0;
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                while claimed.lock().expect("lock").len() < 2 * EVENTS {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the backlog never drained"
                    );
                    let jobs = node.claim_due(&claim(4)).await.expect("claim");
                    {
                        let mut counts = in_flight.lock().expect("lock");
                        for job in &jobs {
                            let count = counts.entry(job.subscription.id.clone()).or_default();
                            *count += 1;
                            assert!(
                                *count <= limits[&job.subscription.id],
                                "{} in flight to a subscription allowing {}",
                                count,
                                limits[&job.subscription.id]
                            );
                        }
                        claimed
                            .lock()
                            .expect("lock")
                            .extend(jobs.iter().map(|j| j.delivery.id.clone()));
                    }
                    if jobs.is_empty() {
                        tokio::task::yield_now().await;
                    }
                    for job in jobs {
                        *in_flight
                            .lock()
                            .expect("lock")
                            .get_mut(&job.subscription.id)
                            .expect("counted") -= 1;
                        let attempt = conformance::attempt(
                            &job.delivery.id,
                            1,
                            Some(200),
                            AttemptTrigger::Scheduled,
                        );
                        let progress = conformance::finished(DeliveryStatus::Succeeded);
                        node.complete_attempt(&attempt, &progress)
                            .await
                            .expect("complete");
                        done += 1;
                    }
                }
                (index, done)
            });
        }
    }
    let mut per_node = [0; 2];
    while let Some(joined) = workers.join_next().await {
        let (index, done) = joined.expect("worker");
        per_node[index] += done;
    }
    let claimed = claimed.lock().expect("lock").clone();
    let distinct: BTreeSet<_> = claimed.iter().collect();
    assert_eq!(
        distinct.len(),
        claimed.len(),
        "a delivery was claimed twice"
    );
    assert_eq!(claimed.len(), 2 * EVENTS);
    assert!(
        per_node.iter().all(|&n| n > 0),
        "both nodes worked: {per_node:?}"
    );
    assert_eq!(nodes[1].queue_stats().await.expect("stats").pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_apply_the_migrations_once() {
    let Some(database) = TestDatabase::create().await.expect("database") else {
        return;
    };
    let mut starting = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let url = database.url().to_owned();
        starting.spawn(async move {
            PgStore::connect(&url, PgOptions::default(), conformance::keyring()).await
        });
    }
    let mut stores = Vec::new();
    while let Some(joined) = starting.join_next().await {
        stores.push(joined.expect("task").expect("every node starts"));
    }
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(database.url())
        .await
        .expect("connect");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let embedded = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations directory")
        .count();
    assert_eq!(applied as usize, embedded);
}

#[tokio::test]
async fn publishing_on_one_node_wakes_the_others() {
    let Some((publisher, database)) = fresh().await else {
        return;
    };
    let idle = node(&database).await;
    let notify = idle.work_notifier().expect("PostgreSQL has a notifier");
    let tenant_id = tenant(&publisher).await;
    subscription(&publisher, &tenant_id, 16).await;
    publisher
        .publish(&event(&tenant_id, None))
        .await
        .expect("publish");
    woken(&notify, "a publish").await;
}

#[tokio::test]
async fn resuming_a_subscription_wakes_the_others() {
    let Some((operator, database)) = fresh().await else {
        return;
    };
    let tenant_id = tenant(&operator).await;
    let mut paused = subscription(&operator, &tenant_id, 16).await;
    paused.status = SubscriptionStatus::Paused;
    assert!(operator.update_subscription(&paused).await.expect("pause"));
    // Listening starts after the pause, so only the resume can wake it.
    let idle = node(&database).await;
    let notify = idle.work_notifier().expect("PostgreSQL has a notifier");
    paused.status = SubscriptionStatus::Active;
    assert!(operator.update_subscription(&paused).await.expect("resume"));
    woken(&notify, "a resume").await;
}

/// Completes `jobs` as succeeded attempts on `node`, releasing their leases.
async fn complete(node: &PgStore, jobs: Vec<herald_store::DeliveryJob>) {
    for job in jobs {
        let attempt =
            conformance::attempt(&job.delivery.id, 1, Some(200), AttemptTrigger::Scheduled);
        node.complete_attempt(&attempt, &conformance::finished(DeliveryStatus::Succeeded))
            .await
            .expect("complete");
    }
}

/// The lease window (claims and publish hand-offs up to `max_in_flight × 2` leases) is a
/// node's only while it holds every lease of the subscription; once two nodes hold leases,
/// all of them together stay within `max_in_flight`, so the nodes' requests do too.
#[tokio::test]
async fn a_node_gets_the_lease_window_only_while_it_holds_every_lease_of_the_subscription() {
    let Some((first, database)) = fresh().await else {
        return;
    };
    let (a, b) = (first, node(&database).await);
    let tenant_id = tenant(&a).await;
    subscription(&a, &tenant_id, 3).await;
    for _ in 0..20 {
        a.publish(&event(&tenant_id, None)).await.expect("publish");
    }
    let windowed = Claim {
        lease_window: 2,
        ..claim(100)
    };

    let mut a_holds = a.claim_due(&windowed).await.expect("claim on a");
    assert_eq!(a_holds.len(), 6, "alone, a node leases 3 × 2");
    assert!(
        b.claim_due(&windowed).await.expect("claim on b").is_empty(),
        "b gets nothing beside 6"
    );
    let lease = herald_store::PublishLease {
        now: windowed.now,
        lease_until: windowed.lease_until,
        lease_window: 2,
    };
    let handed = b
        .publish_and_lease(&event(&tenant_id, None), &lease)
        .await
        .expect("publish on b");
    assert!(handed.jobs.is_empty(), "nor through a publish's hand-off");

    complete(&a, a_holds.split_off(2)).await;
    let b_holds = b.claim_due(&windowed).await.expect("claim on b");
    assert_eq!(
        b_holds.len(),
        1,
        "beside a's 2, b fills up to max_in_flight (3), no window"
    );
    assert!(
        a.claim_due(&windowed).await.expect("claim on a").is_empty(),
        "a has no window beside b's lease"
    );

    complete(&b, b_holds).await;
    assert_eq!(
        a.claim_due(&windowed).await.expect("claim on a").len(),
        4,
        "alone again, a gets its window back: 3 × 2 - 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_with_one_idempotency_key_on_two_nodes_create_one_event() {
    let Some((first, database)) = fresh().await else {
        return;
    };
    let nodes = [Arc::new(first), Arc::new(node(&database).await)];
    let tenant_id = tenant(&nodes[0]).await;
    subscription(&nodes[0], &tenant_id, 16).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40 {
        let node = Arc::clone(&nodes[n % 2]);
        let event = event(&tenant_id, Some("the-key".into()));
        tasks.spawn(async move { node.publish(&event).await });
    }
    let mut ids = BTreeSet::new();
    let mut firsts = 0;
    while let Some(joined) = tasks.join_next().await {
        let published = joined.expect("task").expect("publish");
        assert_eq!(published.deliveries, 1);
        firsts += usize::from(!published.duplicate);
        ids.insert(published.event_id);
    }
    assert_eq!((ids.len(), firsts), (1, 1));
    assert_eq!(nodes[1].queue_stats().await.expect("stats").pending, 1);
}

/// Deliveries have no foreign key to their subscription (migrations/postgres/0011): a publish
/// locks the subscriptions it matches instead, and a delete removes the subscription before
/// its deliveries. Whichever way each publish interleaves with the delete, none of its
/// deliveries outlives the subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_deleted_while_two_nodes_publish_to_it_leaves_no_delivery_behind() {
    let Some((first, database)) = fresh().await else {
        return;
    };
    let nodes = [Arc::new(first), Arc::new(node(&database).await)];
    let tenant_id = tenant(&nodes[0]).await;
    let doomed = subscription(&nodes[0], &tenant_id, 16).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..200 {
        let node = Arc::clone(&nodes[n % 2]);
        let event = event(&tenant_id, None);
        tasks.spawn(async move { node.publish(&event).await });
    }
    assert!(
        nodes[1]
            .delete_subscription(&doomed.id)
            .await
            .expect("delete while publishing")
    );
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task").expect("publish");
    }
    assert_eq!(nodes[0].queue_stats().await.expect("stats").pending, 0);
    let left = nodes[0]
        .list_deliveries(
            &herald_store::DeliveryFilter {
                tenant_id: Some(tenant_id.clone()),
                ..Default::default()
            },
            &herald_store::PageRequest {
                limit: 10,
                cursor: None,
            },
        )
        .await
        .expect("list deliveries");
    assert!(
        left.items.is_empty(),
        "deliveries left behind: {}",
        left.items.len()
    );
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    // Nothing listens on a port the kernel just handed out and took back.
    let port = herald_testkit::unused_port().expect("a free port");
    let options = PgOptions {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(1),
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let error = PgStore::connect(&url, options, conformance::keyring())
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
}

/// From 6 connections on, the publish and outcome batches run on pools of their own
/// (postgres/pools.rs); together with the main pool they still open no more than
/// `max_connections`, plus the one `LISTEN` connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_opens_at_most_max_connections_while_publishing_completing_and_reading() {
    let Some(database) = TestDatabase::create()
        .await
        .expect("create a test database")
    else {
        return;
    };
    let options = PgOptions {
        max_connections: 10,
        ..PgOptions::default()
    };
    let store = Arc::new(
        PgStore::connect(database.url(), options, conformance::keyring())
            .await
            .expect("connect"),
    );
    let tenant_id = tenant(&store).await;
    subscription(&store, &tenant_id, 16).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..300 {
        let store = Arc::clone(&store);
        let tenant_id = tenant_id.clone();
        tasks.spawn(async move {
            store
                .publish(&event(&tenant_id, None))
                .await
                .expect("publish");
            if n % 3 == 0 {
                let jobs = store.claim_due(&claim(8)).await.expect("claim");
                complete(&store, jobs).await;
            } else {
                store.queue_stats().await.expect("read");
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task");
    }
    // Idle pooled connections stay open for minutes, so every connection the node opened
    // during the load is still there to count.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(database.url())
        .await
        .expect("connect to count");
    let opened: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count connections");
    assert!(opened <= 11, "{opened} connections for a pool of 10");
    assert!(opened > 2, "the load ran on {opened} connections");
}
