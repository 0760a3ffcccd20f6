//! What people read: `deliveries list` fits the terminal and says where each delivery goes
//! and why its last attempt failed; piped output keeps whole values; logs carry no colour
//! codes into a pipe.

mod support;

use std::process::Stdio;
use std::time::Duration;

use herald_testkit::{Reply, wait_for};
use reqwest::Method;
use support::real::{ADMIN_TOKEN, free_port};
use support::{TOKEN, fake_api, herald_env};

const LONG_URL: &str = "https://hooks.example.com/a/rather/long/path/to/the/herald/receiver";

fn deliveries_page() -> String {
    serde_json::json!({
        "data": [
            {
                "id": "dlv_01J9ZP6Q0V3X8D2K7M4N5R6S7T",
                "status": "pending",
                "attempt_count": 2,
                "event_type": "consent.revoked",
                "subscription_url": LONG_URL,
                "last_attempt": {
                    "started_at": "2025-01-01T00:00:05Z",
                    "response_status": null,
                    "error": "connect",
                    "error_message": "connection refused: nothing listens on 127.0.0.1:4599"
                },
                "next_attempt_at": "2025-01-01T00:05:05Z",
            },
            {
                "id": "dlv_01J9ZP6Q0V3X8D2K7M4N5R6S7V",
                "status": "failed",
                "attempt_count": 4,
                "event_type": "consent.revoked",
                "subscription_url": "https://short.example/",
                "last_attempt": {
                    "started_at": "2025-01-01T00:35:05Z",
                    "response_status": 503,
                    "error": "status",
                    "error_message": "the endpoint answered 503"
                },
                "next_attempt_at": null,
            }
        ],
        "next_cursor": null
    })
    .to_string()
}

async fn deliveries_list(env: &[(&str, &str)]) -> support::Run {
    let api = fake_api().await;
    api.on(
        Method::GET,
        "/api/v1/deliveries",
        Reply::json(200, deliveries_page()),
    );
    let dir = tempfile::tempdir().unwrap();
    let run = herald_env(
        &api.base_url(),
        &["deliveries", "list"],
        Some(TOKEN),
        dir.path(),
        None,
        env,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    run
}

#[tokio::test]
async fn deliveries_list_fits_the_width_and_shows_url_and_last_error() {
    let run = deliveries_list(&[("COLUMNS", "140")]).await;

    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.iter().all(|l| l.chars().count() <= 140),
        "{}",
        run.stdout
    );
    assert!(lines[0].contains("URL") && lines[0].contains("LAST ERROR"));
    // Ids are whole (people copy them); the long URL and error are cut with `…`.
    assert!(lines[1].starts_with("dlv_01J9ZP6Q0V3X8D2K7M4N5R6S7T "));
    assert!(lines[1].contains("https://hooks.example"), "{}", lines[1]);
    assert!(lines[1].contains('…'), "{}", lines[1]);
    assert!(lines[1].contains("connect: connection"), "{}", lines[1]);
    assert!(lines[2].contains("https://short.example/"), "{}", lines[2]);
    assert!(lines[2].contains("HTTP 503"), "{}", lines[2]);
}

#[tokio::test]
async fn piped_deliveries_list_keeps_whole_values() {
    let run = deliveries_list(&[]).await;

    assert!(run.stdout.contains(LONG_URL), "{}", run.stdout);
    assert!(run.stdout.contains("nothing listens on 127.0.0.1:4599"));
    assert!(!run.stdout.contains('…'), "{}", run.stdout);
}

#[tokio::test]
async fn serve_logs_into_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    wait_for("herald serve to be ready", Duration::from_secs(30), || {
        let (client, ready) = (client.clone(), ready.clone());
        async move {
            let response = client.get(ready).send().await.ok()?;
            response.status().is_success().then_some(())
        }
    })
    .await;
    child.start_kill().unwrap();
    let output = child.wait_with_output().await.unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("INFO"), "no log lines: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes in: {stderr:?}");
}
