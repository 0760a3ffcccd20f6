//! Test support: a fake Herald API (a `herald-testkit` receiver with canned replies) and a
//! builder that runs the `herald` binary against it.
//!
//! The fake knows nothing of Herald: each test states the replies it needs,
//! so a test reads as "the server says X; the CLI must send Y and print Z".
//! The binary runs in an empty temporary directory with a clean
//! environment, so no `./herald-data/admin-token` or `HERALD_*` variable of
//! the developer's machine leaks in.

#![allow(dead_code)] // each test binary uses its own subset

pub mod real;

use std::path::Path;
use std::process::Stdio;

use herald_testkit::{Receiver, Reply};
use tokio::io::AsyncWriteExt;

/// A fake API on 127.0.0.1: answers what a test routes with [`Receiver::on`], and 404 to
/// anything else.
pub async fn fake_api() -> Receiver {
    let api = Receiver::start().await.expect("a fake API");
    api.otherwise(Reply::status(404).with_body("text/plain", "no canned reply"));
    api
}

/// An RFC 9457 problem answer.
pub fn problem(status: u16, title: &str, detail: &str) -> Reply {
    let body = serde_json::json!({
        "type": "https://herald.dev/problems/test",
        "title": title,
        "status": status,
        "detail": detail,
    });
    Reply::status(status).with_body("application/problem+json", body.to_string())
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The token the builder sends unless told otherwise.
pub const TOKEN: &str = "test-admin-token";

/// Runs `herald` with `args` against `server`, with `HERALD_TOKEN` set to
/// [`TOKEN`], in a fresh empty directory.
pub async fn herald(server: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    herald_with(server, args, Some(TOKEN), dir.path(), None).await
}

/// The general form: `token` None leaves `HERALD_TOKEN` unset; `stdin` None
/// gives the binary an empty stdin.
pub async fn herald_with(
    server: &str,
    args: &[&str],
    token: Option<&str>,
    dir: &Path,
    stdin: Option<&str>,
) -> Run {
    herald_env(server, args, token, dir, stdin, &[]).await
}

/// [`herald_with`], with extra environment variables (`COLUMNS`, `NO_COLOR`, …).
pub async fn herald_env(
    server: &str,
    args: &[&str],
    token: Option<&str>,
    dir: &Path,
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .args(args)
        .env_remove("COLUMNS")
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("HERALD_URL", server)
        .env_remove("HERALD_TOKEN")
        .env_remove("HERALD_DATA_DIR")
        // `herald login`'s file lives here, not in the developer's home.
        .env("HERALD_CONFIG_DIR", dir.join("config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("HERALD_TOKEN", token);
    }
    let mut child = command.spawn().expect("the herald binary starts");
    let mut input = child.stdin.take().unwrap();
    // The binary may exit without reading stdin; a closed pipe is fine.
    let _ = input.write_all(stdin.unwrap_or("").as_bytes()).await;
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    Run {
        code: output.status.code().expect("herald exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Command-line words split on whitespace, for arguments without spaces.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A local address where nothing listens.
pub fn unused_address() -> String {
    let port = herald_testkit::unused_port().expect("a free port");
    format!("http://127.0.0.1:{port}")
}
