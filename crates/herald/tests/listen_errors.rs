//! `herald listen` refusing to start: each error printed once, on one line, saying what went
//! wrong and what to do, with exit code 1.

mod support;

use std::time::Duration;

use herald_testkit::await_within;
use support::{Run, herald_with, unused_address};

/// Runs `herald listen` with `args` in `dir`; it must give up at once.
async fn listen_refused(dir: &std::path::Path, args: &[&str]) -> Run {
    let mut argv = vec!["listen"];
    argv.extend_from_slice(args);
    let server = unused_address();
    let run = herald_with(&server, &argv, None, dir, None);
    let run = await_within("herald listen to refuse", Duration::from_secs(30), run).await;
    assert_eq!(run.code, 1, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {run:?}");
    assert!(lines[0].starts_with("error: "), "{run:?}");
    run
}

#[tokio::test]
async fn a_busy_port_says_so_once_and_suggests_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let run = listen_refused(dir.path(), &["--port", &port]).await;
    assert!(
        run.stderr
            .contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--port"), "{}", run.stderr);
    assert!(
        !run.stderr.to_lowercase().contains("address already in use"),
        "the OS's words are not repeated after ours: {}",
        run.stderr
    );
}

#[tokio::test]
async fn a_missing_hooks_file_prints_its_cause_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = listen_refused(dir.path(), &["--port", "0", "--hooks", "nope.toml"]).await;
    let stderr = &run.stderr;
    assert!(
        stderr.contains("cannot read the hooks file nope.toml; check the --hooks path"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
}

#[tokio::test]
async fn a_cut_secret_is_refused_with_the_reason_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = listen_refused(
        dir.path(),
        &[
            "--port",
            "0",
            "--secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa",
        ],
    )
    .await;
    let stderr = &run.stderr;
    assert!(stderr.contains("bad base64 padding"), "{stderr}");
    assert_eq!(stderr.matches("padding").count(), 1, "{stderr}");
}
