//! The stream parser and the line format.

use serde_json::json;

use super::*;

#[test]
fn events_split_across_chunks_and_characters_are_reassembled() {
    let stream = "event: attempt\nid: att_1\ndata: {\"a\":\"é\"}\n\n: keep-alive\n\nid: att_2\r\nevent: attempt\r\ndata: 1\r\ndata: 2\r\n\r\n";
    let bytes = stream.as_bytes();
    let mut parser = SseParser::default();
    let mut got = Vec::new();
    // One byte at a time: every split point, including inside `é`.
    for byte in bytes {
        got.extend(parser.feed(std::slice::from_ref(byte)).unwrap());
    }
    assert_eq!(
        got,
        vec![
            Message {
                event: "attempt".into(),
                id: Some("att_1".into()),
                data: "{\"a\":\"é\"}".into()
            },
            Message {
                event: "attempt".into(),
                id: Some("att_2".into()),
                data: "1\n2".into()
            },
        ]
    );
}

#[test]
fn an_endless_line_is_refused() {
    let mut parser = SseParser::default();
    let long = vec![b'x'; MAX_LINE + 1];
    assert!(parser.feed(&long).is_err());
}

fn attempt(event: &str, outcome: &str, status: Option<u16>, step: Option<&str>) -> Value {
    json!({
        "id": "att_1", "delivery_id": "dlv_1", "subscription_id": "sub_1", "tenant_id": "ten_1",
        "event_id": event, "event_type": "order.paid", "outcome": outcome,
        "response_status": status, "error": step, "duration_ms": 12,
        "started_at": "2030-01-01T00:00:01.123456Z", "trigger": "scheduled",
        "delivery_status": "pending", "next_attempt_at": "2030-01-01T00:00:05.5Z"
    })
}

#[test]
fn an_attempt_is_one_line_with_time_subscription_type_outcome_duration_and_what_follows() {
    let mut printer = Printer::new(Layout::Attempts, false);
    assert_eq!(
        printer.lines(&attempt("evt_1", "failed", None, Some("connect"))),
        "2030-01-01T00:00:01Z  sub_1  order.paid  failed connect  12 ms  next retry \
         2030-01-01T00:00:05Z  dlv_1\n"
    );
    let mut last = attempt("evt_1", "failed", Some(503), Some("status"));
    last["next_attempt_at"] = Value::Null;
    assert_eq!(
        printer.lines(&last),
        "2030-01-01T00:00:01Z  sub_1  order.paid  failed 503  12 ms  no more retries  dlv_1\n"
    );
    assert_eq!(
        printer.lines(&attempt("evt_1", "succeeded", Some(200), None)),
        "2030-01-01T00:00:01Z  sub_1  order.paid  succeeded 200  12 ms  delivered  dlv_1\n"
    );
}

#[test]
fn tail_groups_attempts_under_their_event() {
    let mut printer = Printer::new(Layout::ByEvent, false);
    let first = printer.lines(&attempt("evt_1", "succeeded", Some(200), None));
    let same = printer.lines(&attempt("evt_1", "failed", Some(500), Some("status")));
    let next = printer.lines(&attempt("evt_2", "succeeded", Some(204), None));
    assert_eq!(
        first,
        "2030-01-01T00:00:01Z  evt_1  order.paid\n  -> sub_1  succeeded 200  12 ms  delivered  dlv_1\n"
    );
    assert!(same.starts_with("  -> sub_1  failed 500"), "{same}");
    assert!(
        next.starts_with("2030-01-01T00:00:01Z  evt_2  order.paid\n"),
        "{next}"
    );
}

#[test]
fn terminal_escapes_from_the_server_are_not_printed() {
    let mut printer = Printer::new(Layout::Attempts, false);
    let mut sneaky = attempt("evt_1", "succeeded", Some(200), None);
    sneaky["event_type"] = json!("a\u{1b}[31mb");
    assert!(printer.lines(&sneaky).contains("a?[31mb"));
}
