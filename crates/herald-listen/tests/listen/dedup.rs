//! Deduplication by webhook-id: a repeat is answered 200 without acting; a failure is not
//! remembered, so the sender's retry acts.

use crate::support::*;

#[tokio::test]
async fn a_repeated_webhook_id_is_answered_200_without_running_the_hook_again() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nevents = [\"*\"]\nshell = \"echo ran >> runs\"\n",
    );
    let server = Server::start(&["--secret", SECRET, "--hooks", &hooks]).await;
    let c = client();
    for _ in 0..3 {
        let (status, _) = send(signed(&c, &server.url("/"), SECRET, "msg_same", "{}")).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("runs")).unwrap(),
        "ran\n"
    );
    let lines = server.lines();
    assert!(lines[0].contains(" 200 verified "), "{}", lines[0]);
    assert!(lines[1].contains(" 200 duplicate "), "{}", lines[1]);
    assert!(lines[2].contains(" 200 duplicate "), "{}", lines[2]);
}

#[tokio::test]
async fn a_duplicate_line_says_the_id_was_already_handled_and_how_to_run_it_again() {
    let server = Server::start(&["--secret", SECRET]).await;
    let c = client();
    send(signed(
        &c,
        &server.url("/"),
        SECRET,
        "msg_redelivered",
        "{}",
    ))
    .await;
    send(signed(
        &c,
        &server.url("/"),
        SECRET,
        "msg_redelivered",
        "{}",
    ))
    .await;
    let line = &server.lines()[1];
    assert!(line.contains("id already handled"), "{line}");
    assert!(line.contains("--no-dedup"), "{line}");
}

#[tokio::test]
async fn with_no_dedup_a_repeated_webhook_id_runs_the_hook_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nevents = [\"*\"]\nshell = \"echo ran >> runs\"\n",
    );
    let server = Server::start(&["--secret", SECRET, "--hooks", &hooks, "--no-dedup"]).await;
    let c = client();
    for _ in 0..3 {
        let (status, _) = send(signed(&c, &server.url("/"), SECRET, "msg_again", "{}")).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("runs")).unwrap(),
        "ran\nran\nran\n"
    );
    assert!(
        server
            .lines()
            .iter()
            .all(|line| line.contains(" 200 verified ")),
        "{:?}",
        server.lines()
    );
    assert!(server.notices.text().contains("deduplication off"));
}

#[tokio::test]
async fn a_duplicate_is_still_reported_as_verified_in_json() {
    let server = Server::start(&["--secret", SECRET, "--json"]).await;
    let c = client();
    send(signed(&c, &server.url("/"), SECRET, "msg_dup", "{}")).await;
    send(signed(&c, &server.url("/"), SECRET, "msg_dup", "{}")).await;
    let second: serde_json::Value = serde_json::from_str(&server.lines()[1]).unwrap();
    assert_eq!(second["outcome"], "duplicate");
    assert_eq!(second["verified"], true);
}

#[tokio::test]
async fn a_failed_request_is_not_remembered_so_the_retry_runs_the_hook_again() {
    let dir = tempfile::tempdir().unwrap();
    // Fails the first time (no marker yet), succeeds the second.
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nevents = [\"*\"]\nshell = \"echo ran >> runs; test -e marker || { touch marker; exit 1; }\"\n",
    );
    let server = Server::start(&["--secret", SECRET, "--hooks", &hooks]).await;
    let c = client();
    let (first, _) = send(signed(&c, &server.url("/"), SECRET, "msg_retry", "{}")).await;
    let (second, _) = send(signed(&c, &server.url("/"), SECRET, "msg_retry", "{}")).await;
    assert_eq!((first, second), (500, 200));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("runs")).unwrap(),
        "ran\nran\n"
    );
}

#[tokio::test]
async fn a_request_refused_for_its_signature_does_not_mark_the_id_as_handled() {
    let server = Server::start(&["--secret", SECRET]).await;
    let c = client();
    let forged = herald_signature::Secret::generate().to_string();
    assert_eq!(
        send(signed(&c, &server.url("/"), &forged, "msg_f", "{}"))
            .await
            .0,
        401
    );
    assert_eq!(
        send(signed(&c, &server.url("/"), SECRET, "msg_f", "{}"))
            .await
            .0,
        200
    );
    assert!(server.lines()[1].contains(" 200 verified "));
}
