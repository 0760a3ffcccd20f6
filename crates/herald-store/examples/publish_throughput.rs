//! Measures durable publishes per second, then claims on the backlog: `cargo run --release -p
//! herald-store --example publish_throughput -- [events] [concurrency] [subscriptions]`.
//! Each publish answers only once committed, so this is the rate at which `POST /api/v1/events`
//! could answer 202 if the store were the only cost.
//!
//! On a SQLite file in a temporary directory by default; with `HERALD_BENCH_POSTGRES=1` on a
//! fresh database of the PostgreSQL server at `HERALD_TEST_DATABASE_URL` (see
//! `.ci/postgres.sh`).

use std::sync::Arc;
use std::time::Instant;

use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sealing::Keyring;
use herald_store::sqlite::SqliteStore;
use herald_store::*;
use herald_testkit::TestDatabase;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let events = args.next().transpose()?.unwrap_or(50_000);
    let concurrency = args.next().transpose()?.unwrap_or(256);
    let subscriptions = args.next().transpose()?.unwrap_or(1);

    if std::env::var("HERALD_BENCH_POSTGRES").is_ok_and(|v| v == "1") {
        let admin = std::env::var(herald_testkit::DATABASE_URL_VAR)?;
        let database = TestDatabase::create_on(&admin).await?;
        let options = PgOptions {
            max_connections: 32,
            ..PgOptions::default()
        };
        let store = Arc::new(PgStore::connect(database.url(), options, Keyring::generate()).await?);
        println!("PostgreSQL");
        run(store, events, concurrency, subscriptions).await
    } else {
        let dir = tempfile::tempdir()?;
        let store =
            Arc::new(SqliteStore::open(&dir.path().join("herald.db"), Keyring::generate()).await?);
        println!("SQLite");
        run(store, events, concurrency, subscriptions).await
    }
}

async fn run<S: Store>(
    store: Arc<S>,
    events: usize,
    concurrency: usize,
    subscriptions: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let tenant_id = TenantId::generate();
    let now = timestamp_now();
    store
        .create_tenant(&Tenant {
            client_id: format!("client_{tenant_id}"),
            id: tenant_id.clone(),
            name: "bench".into(),
            client_secret_hash: String::new(),
            created_at: now,
            retention_seconds: None,
        })
        .await?;
    for _ in 0..subscriptions {
        store
            .create_subscription(&Subscription {
                id: SubscriptionId::generate(),
                tenant_id: tenant_id.clone(),
                url: "https://receiver.example/".into(),
                event_types: vec!["bench.*".into()],
                status: SubscriptionStatus::Active,
                description: None,
                headers: Default::default(),
                rate_limit_per_second: None,
                max_in_flight: 16,
                contact_email: None,
                secrets: vec![],
                created_at: now,
                updated_at: now,
                payload_mode: Default::default(),
                signature_scheme: Default::default(),
                signing_keys: Vec::new(),
                effective_at: None,
                client_certificate_pem: None,
                client_key_pem: None,
                server_ca_pem: None,
            })
            .await?;
    }

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let store = Arc::clone(&store);
        let tenant_id = tenant_id.clone();
        workers.spawn(async move {
            let mut n = worker;
            while n < events {
                let event = Event {
                    id: EventId::generate(),
                    event_type: "bench.tick".into(),
                    payload_json: format!(r#"{{"n": {n}, "padding": "{}"}}"#, "x".repeat(200)),
                    tenant_id: Some(tenant_id.clone()),
                    idempotency_key: Some(format!("k{n}")),
                    created_at: timestamp_now(),
                };
                store.publish(&event).await?;
                n += concurrency;
            }
            Ok::<_, StoreError>(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    println!(
        "{events} events x {subscriptions} subscriptions, {concurrency} concurrent: {:.2?} = {:.0} events/s",
        elapsed,
        events as f64 / elapsed.as_secs_f64()
    );

    // The dispatcher's side on that backlog: every delivery is due; each claim starts with no
    // lease held, so it takes a full batch (leases released outside the timing).
    let mut claiming = std::time::Duration::ZERO;
    let mut claimed = 0;
    for _ in 0..10 {
        store.release_all_leases().await?;
        let claim_started = Instant::now();
        let now = timestamp_now();
        let claim = Claim {
            now,
            lease_until: now + time::Duration::minutes(5),
            limit: 100,
            rate_horizon: std::time::Duration::from_secs(1),
            lease_window: 1,
            lease_windows: Default::default(),
        };
        claimed += store.claim_due(&claim).await?.len();
        claiming += claim_started.elapsed();
    }
    println!(
        "claim_due x10 ({claimed} deliveries) on the backlog: {:.2?} ({:.2?} each)",
        claiming,
        claiming / 10
    );
    let started = Instant::now();
    let due = store.next_due_at().await?;
    println!(
        "next_due_at: {:.2?} (due: {})",
        started.elapsed(),
        due.is_some()
    );
    let started = Instant::now();
    let stats = store.queue_stats().await?;
    println!(
        "queue_stats: {:.2?} ({} pending)",
        started.elapsed(),
        stats.pending
    );
    Ok(())
}
