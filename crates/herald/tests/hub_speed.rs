//! How fast the Hub's pages render on a large store: 100,000 events, 1,000 subscriptions
//! (10 tenants), 100,000 deliveries and 1,000,000 attempts spread over 30 days, written
//! straight into a SQLite store, then every page fetched from a real `herald serve`.
//!
//! A measurement, not a check of speed (tests never assert wall-clock durations): it is
//! `#[ignore]`d because the fill takes a while, and prints each page's median and slowest
//! answer time over a few requests. Run it with
//!
//! ```sh
//! cargo test -p herald --test hub_speed -- --ignored --nocapture
//! ```
//!
//! The numbers are in docs/hub.md. Every page must answer 200, which the test asserts.

mod support;

use std::time::{Duration, Instant};

use support::real::{ADMIN_TOKEN, Herald, free_port};

const TENANTS: i64 = 10;
const SUBSCRIPTIONS: i64 = 1_000;
const EVENTS: i64 = 100_000;
const ATTEMPTS_PER_DELIVERY: i64 = 10;
const DAYS: i64 = 30;
/// Requests per page.
const SAMPLES: usize = 7;

/// Writes the data set with SQL that generates it (recursive CTEs), in one transaction.
fn fill(path: &std::path::Path, now_ms: i64) {
    let conn = rusqlite::Connection::open(path).expect("open the store file");
    let start_ms = now_ms - DAYS * 86_400_000;
    let step_ms = DAYS * 86_400_000 / EVENTS;
    let future_us = (now_ms + 86_400_000) * 1000;
    let sql = format!(
        "BEGIN;
        INSERT INTO tenants (id, name, client_id, client_secret_hash, created_at)
          WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {TENANTS} - 1)
          SELECT printf('ten_%032x', i), 'Tenant ' || i, 'client_' || i, 'x', {start_ms} * 1000 FROM n;
        INSERT INTO subscriptions (id, tenant_id, url, event_types_json, status, description,
            headers_json, rate_limit_per_second, max_in_flight, contact_email, secrets_json,
            created_at, updated_at)
          WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {SUBSCRIPTIONS} - 1)
          SELECT printf('sub_%032x', i), printf('ten_%032x', i % {TENANTS}),
            'https://hooks.example.com/' || i, '[\"order.created\"]', 'active', NULL, '{{}}', NULL, 16,
            NULL, '[{{\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"expires_at\":null}}]',
            {start_ms} * 1000, {start_ms} * 1000 FROM n;
        INSERT INTO subscription_event_types (subscription_id, pattern, is_prefix)
          SELECT id, 'order.created', 0 FROM subscriptions;
        INSERT INTO events (id, event_type, payload_json, tenant_id, idempotency_key, created_at)
          WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {EVENTS} - 1)
          SELECT printf('evt_%012x%020x', {start_ms} + i * {step_ms}, i), 'order.created',
            '{{\"order\":' || i || '}}', printf('ten_%032x', (i % {SUBSCRIPTIONS}) % {TENANTS}), NULL,
            ({start_ms} + i * {step_ms}) * 1000 FROM n;
        INSERT INTO deliveries (id, event_id, subscription_id, tenant_id, event_type, status,
            attempts, scheduled_attempts, next_attempt_at, lease_until, created_at, updated_at)
          WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {EVENTS} - 1)
          SELECT printf('dlv_%012x%020x', {start_ms} + i * {step_ms}, i),
            printf('evt_%012x%020x', {start_ms} + i * {step_ms}, i),
            printf('sub_%032x', i % {SUBSCRIPTIONS}),
            printf('ten_%032x', (i % {SUBSCRIPTIONS}) % {TENANTS}), 'order.created',
            CASE i % 20 WHEN 0 THEN 'failed' WHEN 1 THEN 'pending' ELSE 'succeeded' END,
            {ATTEMPTS_PER_DELIVERY}, {ATTEMPTS_PER_DELIVERY},
            CASE i % 20 WHEN 1 THEN {future_us} ELSE NULL END, NULL,
            ({start_ms} + i * {step_ms}) * 1000, ({start_ms} + i * {step_ms}) * 1000 FROM n;
        INSERT INTO attempts (id, delivery_id, started_at, duration_ms, response_status,
            response_body, error, error_message, triggered_by)
          WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < {ATTEMPTS_PER_DELIVERY} - 1)
          SELECT printf('att_%012x%020x', d.created_at / 1000 + k.j * 1000, d.rowid * 16 + k.j),
            d.id, d.created_at + k.j * 1000000, 20 + k.j,
            CASE WHEN k.j = {ATTEMPTS_PER_DELIVERY} - 1 AND d.status = 'succeeded' THEN 200 ELSE 500 END,
            'ok',
            CASE WHEN k.j = {ATTEMPTS_PER_DELIVERY} - 1 AND d.status = 'succeeded' THEN NULL ELSE 'status' END,
            CASE WHEN k.j = {ATTEMPTS_PER_DELIVERY} - 1 AND d.status = 'succeeded' THEN NULL
              ELSE 'the endpoint answered 500' END,
            'scheduled'
          FROM deliveries d, k;
        COMMIT;
        ANALYZE;"
    );
    conn.execute_batch(&sql).expect("fill the store");
}

/// Signs in as the operator; the session cookie.
async fn sign_in(client: &reqwest::Client, herald: &Herald) -> String {
    let response = client
        .post(format!("{}/hub/signin", herald.url))
        .form(&[("as", "operator"), ("admin_token", ADMIN_TOKEN)])
        .send()
        .await
        .expect("sign in");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills 1,000,000 attempts (about a minute in a debug build); run with --ignored"]
async fn hub_pages_timed_with_a_million_attempts() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("herald.db");
    // The schema, as the server makes it; then the rows.
    drop(
        herald_store::sqlite::SqliteStore::open(&db, herald_store::conformance::keyring())
            .await
            .expect("create the store"),
    );
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let filling = Instant::now();
    fill(&db, now_ms);
    println!("filled in {:.1} s", filling.elapsed().as_secs_f64());

    let herald = Herald::start(data.path(), free_port()).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = sign_in(&client, &herald).await;
    let sub = format!("sub_{:032x}", 7);
    let delivery = format!("dlv_{:012x}{:020x}", now_ms - DAYS * 86_400_000, 0);
    let event = format!("evt_{:012x}{:020x}", now_ms - DAYS * 86_400_000, 0);
    let pages = [
        "/hub".to_owned(),
        "/hub/subscriptions".to_owned(),
        format!("/hub/subscriptions/{sub}"),
        "/hub/deliveries".to_owned(),
        "/hub/deliveries?status=failed".to_owned(),
        format!("/hub/deliveries?subscription_id={sub}"),
        format!("/hub/deliveries/{delivery}"),
        "/hub/events".to_owned(),
        "/hub/events?event_type=order.created&before=2000-01-01T00:00".to_owned(),
        format!("/hub/events/{event}"),
        "/hub/support".to_owned(),
    ];
    println!("| page | median | slowest |\n|---|---|---|");
    for page in pages {
        let mut times: Vec<Duration> = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            let response = client
                .get(format!("{}{page}", herald.url))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("the page");
            let status = response.status();
            let body = response.text().await.expect("the body");
            times.push(started.elapsed());
            assert_eq!(status, 200, "{page}: {body}");
        }
        times.sort();
        println!(
            "| `{page}` | {} ms | {} ms |",
            times[SAMPLES / 2].as_millis(),
            times[SAMPLES - 1].as_millis()
        );
    }
}
