//! `herald serve` reads a config file the way people write it: `listen` may name a host
//! (`localhost:PORT`), and durations may be bare seconds or carry a unit, in the file and in
//! flags alike. A clear refusal names the setting when a value cannot be used.

mod support;

use std::process::Stdio;
use std::time::Duration;

use herald_testkit::wait_for;
use support::real::{ADMIN_TOKEN, free_port};
use tokio::process::Command;

fn serve(dir: &std::path::Path, config: &str, extra: &[&str]) -> Command {
    let path = dir.join("herald.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .args(["serve", "--dev", "--config"])
        .arg(&path)
        .args(extra)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "error")
        .env_remove("HERALD_LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn listen_on_localhost_and_durations_in_every_form_start_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "listen = \"localhost:{port}\"\nrequest_timeout = \"15\"\nretry_schedule = \"250ms, 1m, 30\"\n"
    );
    let _server = serve(dir.path(), &config, &["--token-ttl", "90"])
        .spawn()
        .unwrap();

    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    wait_for("herald serve on localhost", Duration::from_secs(30), || {
        let (client, ready) = (client.clone(), ready.clone());
        async move {
            let response = client.get(ready).send().await.ok()?;
            response.status().is_success().then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_bad_duration_stops_serve_naming_the_setting_and_the_forms() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("listen = \"127.0.0.1:{}\"\n", free_port());

    let output = serve(dir.path(), &config, &["--request-timeout", "soon"])
        .output()
        .await
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid request_timeout 'soon'"),
        "{stderr}"
    );
    assert!(stderr.contains("250ms, 15s, 1m"), "{stderr}");
}
