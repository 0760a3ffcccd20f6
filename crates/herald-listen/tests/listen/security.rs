//! `herald listen` faces the internet (and the browser): bounded signature work, no browser
//! page can drive it, nothing a sender controls reaches the terminal raw, bounded dedup memory.

use std::time::{Duration, Instant};

use crate::support::*;

/// A receiver whose hook writes a file named `ran` when it runs, without a secret.
async fn unverified_with_hook(dir: &std::path::Path, extra: &[&str]) -> Server {
    let hooks = hooks_file(dir, "[[hook]]\nevents = [\"*\"]\nshell = \"touch ran\"\n");
    let mut flags = vec!["--insecure-no-verify", "--hooks", hooks.as_str()];
    flags.extend_from_slice(extra);
    Server::start(&flags).await
}

/// The median elapsed time of `runs` sends of the request `make` builds, and its statuses.
async fn median_elapsed(
    runs: usize,
    mut make: impl FnMut(usize) -> reqwest::RequestBuilder,
) -> (Duration, Vec<u16>) {
    let mut times = Vec::new();
    let mut statuses = Vec::new();
    for run in 0..runs {
        let request = make(run);
        let started = Instant::now();
        let (status, _) = send(request).await;
        times.push(started.elapsed());
        statuses.push(status);
    }
    times.sort();
    (times[runs / 2], statuses)
}

#[tokio::test]
async fn twenty_thousand_signature_entries_on_a_200_kb_body_cost_less_than_ten_normal_requests() {
    let server = Server::start(&["--secret", SECRET]).await;
    let c = client();
    let body = format!(
        "{{\"type\":\"big.body\",\"data\":\"{}\"}}",
        "x".repeat(200 * 1024)
    );
    let flood = "v1,AA== ".repeat(20_000);
    // Warm up the connection pool and the code paths once each.
    send(signed(&c, &server.url("/"), SECRET, "warm", body.clone())).await;

    let (normal, normal_statuses) = median_elapsed(7, |run| {
        signed(
            &c,
            &server.url("/"),
            SECRET,
            &format!("normal{run}"),
            body.clone(),
        )
    })
    .await;
    let (flooded, flooded_statuses) = median_elapsed(7, |run| {
        with_signature(
            &c,
            &server.url("/"),
            &format!("flood{run}"),
            now(),
            &flood,
            body.clone(),
        )
    })
    .await;

    assert!(
        normal_statuses.iter().all(|&s| s == 200),
        "{normal_statuses:?}"
    );
    assert!(
        flooded_statuses.iter().all(|&s| s == 401),
        "{flooded_statuses:?}"
    );
    assert!(
        flooded < normal * 10,
        "a flooded signature header cost {flooded:?}, a normal request {normal:?}"
    );
    let lines = server.lines();
    let refused = lines.last().unwrap();
    assert!(refused.contains("webhook-signature header is"), "{refused}");
}

#[tokio::test]
async fn seventeen_signature_entries_are_refused_naming_the_limit() {
    let server = Server::start(&["--secret", SECRET]).await;
    let header = "v1,AA== ".repeat(17);
    let (status, problem) = send(with_signature(
        &client(),
        &server.url("/"),
        "m",
        now(),
        &header,
        "{}",
    ))
    .await;
    assert_eq!(status, 401);
    assert_eq!(problem_slug(&problem), "too-many-signatures");
    assert!(problem["detail"].as_str().unwrap().contains("limit of 16"));
}

#[tokio::test]
async fn a_cross_origin_post_to_a_secret_less_listener_runs_no_hook() {
    let dir = tempfile::tempdir().unwrap();
    let server = unverified_with_hook(dir.path(), &[]).await;
    // What `fetch(url, {method: "POST", mode: "no-cors", body})` from a page sends.
    let browser = client()
        .post(server.url("/"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(envelope("deploy.requested"));
    let (status, problem) = send(browser).await;
    assert_eq!(status, 403);
    assert_eq!(problem_slug(&problem), "browser-origin");
    // Even with a JSON type (a browser would need a preflight, which gets 405 anyway).
    let with_json = post(server.url("/"))
        .header("origin", "https://evil.example")
        .body(envelope("deploy.requested"));
    assert_eq!(send(with_json).await.0, 403);
    assert!(!dir.path().join("ran").exists(), "the hook ran");
    let line = &server.lines()[0];
    assert!(line.contains(" 403 rejected "), "{line}");
    assert!(
        line.contains("browser page on https://evil.example"),
        "the line says why: {line}"
    );
}

#[tokio::test]
async fn a_form_or_untyped_post_without_origin_runs_no_hook_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let server = unverified_with_hook(dir.path(), &[]).await;
    let form = client()
        .post(server.url("/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b");
    let (status, problem) = send(form).await;
    assert_eq!(status, 415);
    assert_eq!(problem_slug(&problem), "unsupported-content-type");
    let (status, _) = send(client().post(server.url("/")).body("{}")).await;
    assert_eq!(status, 415);
    assert!(!dir.path().join("ran").exists(), "the hook ran");
    assert!(
        server.lines()[1].contains("no content-type"),
        "{}",
        server.lines()[1]
    );
}

#[tokio::test]
async fn allowed_origins_and_any_content_type_let_such_requests_through() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--allow-origin",
        "http://localhost:3000/",
        "--allow-any-content-type",
    ];
    let server = unverified_with_hook(dir.path(), &flags).await;
    let request = client()
        .post(server.url("/"))
        .header("origin", "http://localhost:3000")
        .header("content-type", "text/plain")
        .body("{}");
    assert_eq!(send(request).await.0, 200);
    assert!(dir.path().join("ran").exists());
}

#[test]
fn hooks_or_forwarding_without_a_secret_are_refused_at_start_unless_insecure_no_verify() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = hooks_file(
        dir.path(),
        "[[hook]]\nevents = [\"*\"]\ncommand = [\"true\"]\n",
    );
    for flags in [
        vec!["--hooks", hooks.as_str()],
        vec!["--forward-to", "http://127.0.0.1:1/"],
    ] {
        let error = herald_listen::Config::from_args(&args(&flags)).unwrap_err();
        let message = printed_once(&error);
        assert!(message.contains(flags[0]), "{message}");
        assert!(message.contains("--insecure-no-verify"), "{message}");
        let mut allowed = flags.clone();
        allowed.push("--insecure-no-verify");
        assert!(herald_listen::Config::from_args(&args(&allowed)).is_ok());
        let mut signed = flags.clone();
        signed.extend(["--secret", SECRET]);
        assert!(herald_listen::Config::from_args(&args(&signed)).is_ok());
    }
}

/// A body whose `type` is an ANSI sequence (JSON-escaped, so raw once parsed), with an OSC
/// title change, a CR and a C1 CSI in its data.
fn hostile_body() -> String {
    r#"{"type":"\u001b[2Jpwned\r","data":"\u001b]0;title\u0007 \u009b31m"}"#.to_owned()
}

/// Whether text holds any raw control other than line feeds.
fn has_raw_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[tokio::test]
async fn an_ansi_sequence_in_a_body_or_type_never_reaches_stdout_raw() {
    for mode in [
        &[][..],
        &["--verbose"][..],
        &["--json", "--verbose"][..],
        &["--json"][..],
    ] {
        let mut flags = vec!["--secret", SECRET];
        flags.extend_from_slice(mode);
        let server = Server::start(&flags).await;
        let c = client();
        let id = "msg_\u{9b}1m"; // a C1 CSI in the id header (obs-text bytes on the wire)
        let request = signed(&c, &server.url("/"), SECRET, "msg_ok", hostile_body());
        assert_eq!(send(request).await.0, 200);
        let header = reqwest::header::HeaderValue::from_bytes(id.as_bytes()).unwrap();
        let raw_body = "plain \u{1b}[31mred\r\n".to_owned();
        let request = post(server.url("/"))
            .header("webhook-id", header)
            .body(raw_body);
        send(request).await;
        let text = server.events.text();
        assert!(
            !has_raw_control(&text),
            "{mode:?} printed raw controls: {text:?}"
        );
        if mode.is_empty() {
            assert!(
                text.contains("\\x1b[2Jpwned\\r"),
                "the type is shown escaped: {text}"
            );
        }
        if mode == ["--verbose"] {
            // JSON keeps its own escapes as text: the pretty body shows `\u001b`, not ESC.
            assert!(text.contains("\\u001b]0;title\\u0007"), "{text}");
            assert!(text.contains("plain \\x1b[31mred"), "{text}");
        }
    }
}

#[tokio::test]
async fn an_unverified_body_is_printed_only_with_verbose() {
    let server = Server::start(&["--secret", SECRET]).await;
    let request = with_signature(
        &client(),
        &server.url("/"),
        "m",
        now(),
        "v1,AA==",
        "{\"secret-marker\":1}",
    );
    assert_eq!(send(request).await.0, 401);
    assert!(!server.events.text().contains("secret-marker"));
}

#[tokio::test]
async fn a_webhook_id_longer_than_256_bytes_is_refused_before_the_body_is_read() {
    let server = Server::start(&["--secret", SECRET]).await;
    let id = "i".repeat(257);
    let (status, problem) = send(signed(&client(), &server.url("/"), SECRET, &id, "{}")).await;
    assert_eq!(status, 400);
    assert_eq!(problem_slug(&problem), "id-too-long");
    let id = "i".repeat(256);
    assert_eq!(
        send(signed(&client(), &server.url("/"), SECRET, &id, "{}"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_full_dedup_memory_refuses_new_ids_with_503_and_still_knows_the_old_ones() {
    let server = Server::start(&["--secret", SECRET, "--dedup-capacity", "1"]).await;
    let c = client();
    assert_eq!(
        send(signed(&c, &server.url("/"), SECRET, "first", "{}"))
            .await
            .0,
        200
    );
    let (status, problem) = send(signed(&c, &server.url("/"), SECRET, "second", "{}")).await;
    assert_eq!(status, 503);
    assert_eq!(problem_slug(&problem), "dedup-full");
    assert_eq!(
        send(signed(&c, &server.url("/"), SECRET, "first", "{}"))
            .await
            .0,
        200
    );
    assert!(
        server.lines()[2].contains(" duplicate "),
        "{}",
        server.lines()[2]
    );
}

#[tokio::test]
async fn a_message_signed_ahead_of_the_clock_is_remembered_until_its_own_window_ends() {
    // With a 2 s tolerance, a message stamped 2 s ahead verifies for 4 s; a window counted
    // from arrival would forget it after 2 s and let the replay through.
    let server = Server::start(&["--secret", SECRET, "--tolerance", "2s"]).await;
    let c = client();
    let stamped = now() + 2;
    let first = signed_at(&c, &server.url("/"), SECRET, "ahead", stamped, "{}");
    assert_eq!(send(first).await.0, 200);
    herald_testkit::wait_for("the replay to go stale", Duration::from_secs(10), || {
        let replay = signed_at(&c, &server.url("/"), SECRET, "ahead", stamped, "{}");
        let server = &server;
        async move {
            let (status, _) = send(replay).await;
            if status == 401 {
                return Some(()); // stale now: refused by the signature check, never run twice
            }
            assert_eq!(status, 200);
            let last = server.lines().last().cloned().unwrap_or_default();
            assert!(
                last.contains(" duplicate "),
                "replayed and run again: {last}"
            );
            None
        }
    })
    .await;
}
