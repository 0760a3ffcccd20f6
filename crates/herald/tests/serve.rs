//! `herald serve` at first start: the admin token is generated, printed once and saved 0600.

mod support;

use std::process::Stdio;
use std::time::Duration;

use herald_testkit::wait_for;
use support::real::free_port;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn serve(data_dir: &std::path::Path, port: u16) -> tokio::process::Child {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("HERALD_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn herald serve")
}

async fn tenants_status(port: u16, token: &str) -> Option<u16> {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/tenants"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

#[tokio::test]
async fn first_start_prints_the_admin_token_once_and_saves_it_private() {
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut child = serve(data.path(), port);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let token_path = data.path().join("admin-token");
    let saved = wait_for("the admin token file", Duration::from_secs(30), || async {
        std::fs::read_to_string(&token_path).ok()
    })
    .await;
    let token = saved.trim().to_owned();
    assert!(token.len() >= 32, "a long random token: {token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut printed = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains(&token) {
            break;
        }
    }
    assert!(
        printed.contains(&token),
        "the token is printed at first start: {printed}"
    );
    let status = wait_for("the API", Duration::from_secs(30), || {
        tenants_status(port, &token)
    })
    .await;
    assert_eq!(status, 200, "the printed token is the admin token");
    child.kill().await.expect("kill");

    // A restart reuses the saved token and prints nothing.
    let mut child = serve(data.path(), port);
    let status = wait_for("the API after restart", Duration::from_secs(30), || {
        tenants_status(port, &token)
    })
    .await;
    assert_eq!(status, 200);
    child.kill().await.expect("kill");
    let mut rest = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    while let Ok(Some(line)) = stdout.next_line().await {
        rest.push_str(&line);
    }
    assert!(!rest.contains(&token), "the token is printed only once");
}
