//! Graceful shutdown: a running command finishes; one that will not is reported and stopped.

use std::time::Duration;

use herald_testkit::wait_until;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

/// A hook that writes `started` and then blocks until `release` is created.
fn blocking_hooks(dir: &std::path::Path) -> String {
    hooks_file(
        dir,
        "[[hook]]\nname = \"blocker\"\nevents = [\"*\"]\n\
         shell = \"touch started; while [ ! -e release ]; do sleep 0.02; done; echo finished > done\"\n",
    )
}

#[tokio::test]
async fn shutdown_lets_a_running_hook_finish_and_answers_its_request() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = blocking_hooks(dir.path());
    let mut server = Server::start(&["--insecure-no-verify", "--hooks", &hooks]).await;
    let url = server.url("/");
    let request = tokio::spawn(async move { send(post(url).body("{}")).await });
    wait_until("the hook started", WAIT, || {
        dir.path().join("started").exists()
    })
    .await;

    server.begin_shutdown();
    wait_until("shutdown began", WAIT, || {
        server.notices.text().contains("shutting down")
    })
    .await;
    assert!(
        !server.is_finished(),
        "serve must wait for the running hook"
    );
    std::fs::write(dir.path().join("release"), "").unwrap();

    assert_eq!(request.await.unwrap().0, 200);
    assert!(dir.path().join("done").exists());
    server.stop().await.expect("a clean shutdown");
}

#[tokio::test]
async fn a_hook_still_running_after_the_grace_period_is_reported_and_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = blocking_hooks(dir.path());
    let server = Server::start(&[
        "--insecure-no-verify",
        "--hooks",
        &hooks,
        "--shutdown-grace",
        "200ms",
    ])
    .await;
    let url = server.url("/");
    let _request = tokio::spawn(async move { post(url).body("{}").send().await });
    wait_until("the hook started", WAIT, || {
        dir.path().join("started").exists()
    })
    .await;

    let notices = server.notices.clone();
    let err = server.stop().await.unwrap_err();
    assert!(
        matches!(err, herald_listen::ServeError::CommandsStopped(ref running) if running.len() == 1)
    );
    assert!(
        notices.text().contains("stopping: hook blocker for event"),
        "{}",
        notices.text()
    );
}
