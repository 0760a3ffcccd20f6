//! Output: a line for people, more with --verbose, JSON lines with --json.

use crate::support::*;

#[tokio::test]
async fn the_line_for_people_shows_time_id_type_size_outcome_and_status() {
    let server = Server::start(&["--secret", SECRET]).await;
    let body = envelope("consent.revoked");
    send(signed(
        &client(),
        &server.url("/"),
        SECRET,
        "msg_line",
        body.clone(),
    ))
    .await;
    let lines = server.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert!(
        fields[0].ends_with('Z') && fields[0].contains('T'),
        "time: {}",
        fields[0]
    );
    assert_eq!(
        &fields[1..6],
        [
            "200",
            "verified",
            "msg_line",
            "consent.revoked",
            &body.len().to_string()
        ]
    );
    assert_eq!(fields[6], "B");
}

#[tokio::test]
async fn verbose_output_adds_headers_and_pretty_printed_json() {
    let server = Server::start(&["--secret", SECRET, "--verbose"]).await;
    send(signed(
        &client(),
        &server.url("/"),
        SECRET,
        "msg_v",
        envelope("a.b"),
    ))
    .await;
    let text = server.events.text();
    assert!(text.contains("    webhook-id: msg_v\n"), "{text}");
    assert!(text.contains("    webhook-signature: v1,"), "{text}");
    assert!(text.contains("    {\n      \"type\": \"a.b\",\n"), "{text}");
}

#[tokio::test]
async fn json_output_is_one_object_per_line_with_the_fields_scripts_need() {
    let server = Server::start(&["--secret", SECRET, "--json"]).await;
    let c = client();
    send(signed(
        &c,
        &server.url("/x"),
        SECRET,
        "msg_j",
        envelope("a.b"),
    ))
    .await;
    send(post(server.url("/x")).body("{}")).await;
    let lines = server.lines();
    assert_eq!(lines.len(), 2);
    let ok: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(ok["id"], "msg_j");
    assert_eq!(ok["type"], "a.b");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["outcome"], "verified");
    assert_eq!(ok["verified"], true);
    assert_eq!(ok["path"], "/x");
    assert_eq!(ok["size"], envelope("a.b").len());
    assert!(
        ok.get("body").is_none(),
        "the body is shown only with --verbose"
    );
    let refused: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(refused["outcome"], "rejected");
    assert_eq!(refused["status"], 401);
    assert!(refused["reason"].as_str().unwrap().contains("webhook-id"));
    assert!(server.events.text().lines().all(|l| l.starts_with('{')));
}
