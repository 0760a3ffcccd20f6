//! The Hub's user journeys in a real headless Chromium, from Debian's `chromium` package,
//! driven by Playwright for Python (`tests/hub/journeys.py`), against a real `herald serve
//! --dev` and real receivers on 127.0.0.1.
//!
//! The server runs with `--operator-tenant`, so the operator's own subscription receives
//! `herald.support.requested` (and another tenant's `herald.*` subscription does not).
//!
//! The script asks this test to change the world between steps (`need receiver-fails`) and
//! waits for `ready`; it prints `journey ok: NAME` for each journey it saw through. Outside CI
//! a missing Chromium or Playwright prints "skipped"; under CI (`herald_testkit::in_ci`) the
//! test fails instead. Screenshots of every page at 1280 and 390 px land in
//! `target/hub-screenshots/` (docs/hub/ holds a copy).

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use herald_testkit::{Receiver, Reply, await_within};
use serde_json::json;
use support::real::{ADMIN_TOKEN, Herald, free_port};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole browser run, at most (2 cores shared with the rest of the suite).
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// What the script proves, one line each.
const JOURNEYS: [&str; 11] = [
    "wrong_secret_shows_a_clear_error",
    "operator_creates_a_tenants_subscription",
    "published_delivery_appears_without_reload",
    "newly_failing_subscription_shows_on_the_overview_within_5s",
    "failed_attempts_show_status_and_next_retry",
    "connectivity_test_explains_the_failing_step",
    "redeliver_succeeds",
    "csrf_from_another_origin_is_refused",
    "tenant_sees_only_its_own_data",
    "support_request_reaches_the_operator",
    "recover_a_batch_with_its_progress",
];

/// Whether Chromium and Playwright are here; prints "skipped" outside CI, fails under it.
async fn browser_available() -> bool {
    let playwright = Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success());
    let chromium = Path::new(CHROMIUM).exists();
    if playwright && chromium {
        return true;
    }
    assert!(
        !herald_testkit::in_ci(),
        "CI is set but the Hub's browser test cannot run: Chromium at {CHROMIUM} present: \
         {chromium}, python3 playwright importable: {playwright} (.ci/run installs both)"
    );
    println!("skipped: hub journeys (install chromium and `pip install playwright`; see .ci/run)");
    false
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/hub-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshots directory");
    dir
}

/// A page on another origin whose button posts `field=value` pairs to `target`.
fn attack_page(target: &str, csrf: &str) -> Reply {
    let html = format!(
        "<!doctype html><html lang=en><title>Prize</title><form method=post action=\"{target}\">\
         <input type=hidden name=status value=paused>\
         <input type=hidden name=csrf value=\"{csrf}\">\
         <button type=submit>Win a prize</button></form></html>"
    );
    Reply::status(200).with_body("text/html; charset=utf-8", html)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_journeys_in_chromium() {
    if !browser_available().await {
        return;
    }
    let receiver = Receiver::start().await.expect("a receiver");
    receiver.otherwise(Reply::ok());
    let attacker = Receiver::start().await.expect("another origin");
    let data = tempfile::tempdir().unwrap();
    // The operator tenant must exist before the server that names it starts: made by a first
    // run, then the server restarts with `--operator-tenant`, as an operator would set it up.
    let port = free_port();
    let first = Herald::start(data.path(), port).await;
    let operator = first
        .post("/api/v1/tenants", json!({"name": "Operator desk"}))
        .await;
    let operator_id = operator["id"].as_str().expect("tenant id").to_owned();
    first.interrupt().await;
    assert!(first.exit_within(RUN_LIMIT).await.success());
    // A first retry soon, then a long wait: a failing delivery stays pending with a retry due.
    let herald = Herald::start_with(
        data.path(),
        port,
        &[
            "--retry-schedule",
            "1s,10m",
            "--operator-tenant",
            &operator_id,
        ],
    )
    .await;
    // No retries: a failing delivery is failed at once, ready to be recovered.
    let no_retry_data = tempfile::tempdir().unwrap();
    let no_retry =
        Herald::start_with(no_retry_data.path(), free_port(), &["--retry-schedule", ""]).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hub/journeys.py");
    let mut child = Command::new("python3")
        .arg(script)
        .env("HUB_URL", &herald.url)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("OPERATOR_TENANT_ID", &operator_id)
        .env("RECEIVER_URL", receiver.base_url())
        .env("ATTACKER_URL", attacker.base_url())
        .env("NO_RETRY_HUB_URL", &no_retry.url)
        .env("SHOTS_DIR", screenshots_dir())
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the journeys");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut proven = Vec::new();
    let conversation = async {
        while let Some(line) = lines.next_line().await.expect("the script's output") {
            println!("{line}");
            if let Some(journey) = line.strip_prefix("journey ok: ") {
                proven.push(journey.to_owned());
                continue;
            }
            let Some(need) = line.strip_prefix("need ") else {
                continue;
            };
            let mut words = need.split(' ');
            match words.next() {
                Some("receiver-fails") => {
                    receiver.otherwise(Reply::status(500).with_body("text/plain", "boom"));
                }
                Some("receiver-succeeds") => {
                    receiver.otherwise(Reply::ok());
                }
                Some("attack-page") => {
                    let target = words.next().expect("a target");
                    let csrf = words.next().expect("a token");
                    attacker.otherwise(attack_page(target, csrf));
                }
                other => panic!("the script needs something unknown: {other:?}"),
            }
            stdin
                .write_all(b"ready\n")
                .await
                .expect("answer the script");
        }
        child.wait().await.expect("the script ends")
    };
    let status = await_within("the browser journeys", RUN_LIMIT, conversation).await;
    assert!(status.success(), "the journeys script failed: {status}");
    assert_eq!(proven, JOURNEYS, "every journey proven, in order");
}
