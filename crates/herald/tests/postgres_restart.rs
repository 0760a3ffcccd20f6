//! The database going away (issue 4): writes fail with 503 and a problem body, readiness says
//! so, and when PostgreSQL returns everything resumes by itself: no accepted event is lost and
//! Herald is not restarted. Needs `HERALD_TEST_DATABASE_URL` and the `HERALD_TEST_PG_*`
//! variables that `.ci/postgres.sh` exports to stop and start the server.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use herald_testkit::{PostgresServer, Receiver, Reply, TestDatabase, wait_for};
use serde_json::json;
use support::real::{ADMIN_TOKEN, Herald, free_port};

async fn publish(herald: &Herald, tenant: &str, n: usize) -> reqwest::Response {
    herald
        .client
        .post(format!("{}/api/v1/events", herald.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"type": "pg.restart", "tenant_id": tenant, "payload": {"n": n}}))
        .send()
        .await
        .expect("herald answers")
}

async fn accepted_id(response: reqwest::Response) -> Option<String> {
    if response.status() != 202 {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body["id"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_loses_no_accepted_event() {
    let Some(database) = TestDatabase::create().await.expect("a test database") else {
        return;
    };
    let Some(server) = PostgresServer::from_env() else {
        return;
    };
    let url = database.url().to_owned();
    let data = tempfile::tempdir().expect("temp dir");
    let args = ["--database-url", url.as_str(), "--db-acquire-timeout", "1s"];
    let herald = Herald::start_with(data.path(), free_port(), &args).await;
    // A slow receiver keeps deliveries in flight and pending while the database goes away.
    let receiver = Receiver::answering(Reply::ok().after(Duration::from_millis(5)))
        .await
        .expect("receiver");
    let tenant = herald.subscribe("pg.restart", &receiver.url()).await;

    let mut accepted = HashSet::new();
    for n in 0..300 {
        accepted.insert(
            accepted_id(publish(&herald, &tenant, n).await)
                .await
                .expect("accepted"),
        );
    }
    server.stop().await.expect("stop PostgreSQL");

    let response = publish(&herald, &tenant, 1_000).await;
    assert_eq!(response.status(), 503, "a write without a database is 503");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.expect("problem");
    assert_eq!(problem["type"], "urn:herald:problem:unavailable");
    let ready = herald
        .client
        .get(format!("{}/readyz", herald.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);

    server.start().await.expect("start PostgreSQL");
    // Herald reconnects by itself: publishing works again without restarting it.
    let mut n = 2_000;
    let first = wait_for("publishing to work again", Duration::from_secs(60), || {
        n += 1;
        let attempt = n;
        let herald = &herald;
        let tenant = &tenant;
        async move { accepted_id(publish(herald, tenant, attempt).await).await }
    })
    .await;
    accepted.insert(first);
    for n in 3_000..3_100 {
        accepted.insert(
            accepted_id(publish(&herald, &tenant, n).await)
                .await
                .expect("accepted"),
        );
    }
    receiver
        .wait_for_succeeded_ids(&accepted, Duration::from_secs(120))
        .await;
    herald.kill().await;
}
