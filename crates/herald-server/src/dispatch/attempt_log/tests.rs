//! The attempt log, read back as JSON lines from a subscriber writing to a buffer.

use std::io::Write;
use std::sync::{Arc, Mutex};

use herald_store::{AttemptError, AttemptId, AttemptTrigger, DeliveryId, DeliveryStatus, EventId};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

/// What the subscriber wrote.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `body` under a JSON subscriber and returns the lines it wrote, parsed.
fn json_lines(body: impl FnOnce()) -> Vec<Value> {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, body);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn event() -> Event {
    Event {
        id: EventId::generate(),
        event_type: "order.paid".to_owned(),
        payload_json: "{}".to_owned(),
        tenant_id: None,
        idempotency_key: None,
        created_at: datetime!(2030-01-01 00:00 UTC),
    }
}

fn failed_attempt(step: AttemptError, status: Option<u16>) -> Attempt {
    Attempt {
        id: AttemptId::generate(),
        delivery_id: DeliveryId::generate(),
        started_at: datetime!(2030-01-01 00:00 UTC),
        duration_ms: 12,
        response_status: status,
        response_body: None,
        response_headers: None,
        error: Some(step),
        error_message: Some("refused".to_owned()),
        trigger: AttemptTrigger::Scheduled,
    }
}

fn retry(at: Option<OffsetDateTime>) -> DeliveryProgress {
    DeliveryProgress {
        status: if at.is_some() {
            DeliveryStatus::Pending
        } else {
            DeliveryStatus::Failed
        },
        next_attempt_at: at,
        counts_for_schedule: true,
    }
}

#[test]
fn each_attempt_is_one_info_line_carrying_its_facts_as_fields() {
    let log = AttemptLog::new(5);
    let subscription = SubscriptionId::generate();
    let event = event();
    let connect = failed_attempt(AttemptError::Connect, None);
    let mut succeeded = failed_attempt(AttemptError::Status, Some(204));
    succeeded.error = None;
    succeeded.error_message = None;
    let status = failed_attempt(AttemptError::Status, Some(503));
    let now = Instant::now();
    let lines = json_lines(|| {
        let next = Some(datetime!(2030-01-01 00:00:05 UTC));
        log.note(now, &subscription, &event, &connect, &retry(next));
        log.note(now, &subscription, &event, &succeeded, &retry(None));
        log.note(now, &subscription, &event, &status, &retry(None));
    });
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for line in &lines {
        assert_eq!(line["level"], "INFO");
        let fields = &line["fields"];
        assert_eq!(fields["subscription"], subscription.as_str());
        assert_eq!(fields["event_type"], "order.paid");
        assert_eq!(fields["event"], event.id.as_str());
        assert_eq!(fields["duration_ms"], 12);
    }
    let first = &lines[0]["fields"];
    assert_eq!(first["delivery"], connect.delivery_id.as_str());
    assert_eq!(first["attempt"], connect.id.as_str());
    assert_eq!(first["outcome"], "failed");
    assert_eq!(first["step"], "connect");
    assert!(first.get("status").is_none(), "no response, no status");
    assert_eq!(first["next_retry"], "2030-01-01T00:00:05Z");
    assert_eq!(
        first["message"],
        "attempt failed at connect in 12 ms; next retry at 2030-01-01T00:00:05Z"
    );
    let second = &lines[1]["fields"];
    assert_eq!(
        (second["outcome"].as_str(), second["status"].as_u64()),
        (Some("succeeded"), Some(204))
    );
    assert_eq!(second["next_retry"], "no more retries");
    assert_eq!(
        lines[2]["fields"]["message"],
        "attempt failed with status 503 in 12 ms; no more retries"
    );
}

#[test]
fn a_flood_is_cut_per_subscription_and_the_rest_counted_in_one_line() {
    let log = AttemptLog::new(3);
    let flooding = SubscriptionId::generate();
    let quiet = SubscriptionId::generate();
    let event = event();
    let attempt = failed_attempt(AttemptError::Timeout, None);
    let start = Instant::now();
    let lines = json_lines(|| {
        for _ in 0..10 {
            log.note(start, &flooding, &event, &attempt, &retry(None));
        }
        // The flood does not take the quiet subscription's lines.
        log.note(start, &quiet, &event, &attempt, &retry(None));
        // A second later the window reopens: the count is reported, then lines resume.
        let later = start + Duration::from_millis(1_001);
        log.note(later, &flooding, &event, &attempt, &retry(None));
    });
    let subscriptions: Vec<&str> = lines
        .iter()
        .map(|line| line["fields"]["subscription"].as_str().unwrap())
        .collect();
    assert_eq!(
        subscriptions,
        [flooding.as_str(); 3]
            .into_iter()
            .chain([quiet.as_str(), flooding.as_str(), flooding.as_str()])
            .collect::<Vec<_>>()
    );
    let report = &lines[4]["fields"];
    assert_eq!(report["suppressed"], 7);
    assert_eq!(
        report["message"],
        format!(
            "… 7 more attempts for {flooding} suppressed (at most 3 lines per subscription \
             per second)"
        )
    );
    assert_eq!(lines[5]["fields"]["outcome"], "failed");
}

#[test]
fn a_subscription_gone_quiet_has_its_count_reported_by_the_next_sweep() {
    let log = AttemptLog::new(1);
    let flooding = SubscriptionId::generate();
    let other = SubscriptionId::generate();
    let event = event();
    let attempt = failed_attempt(AttemptError::Dns, None);
    let start = Instant::now();
    let lines = json_lines(|| {
        for _ in 0..4 {
            log.note(start, &flooding, &event, &attempt, &retry(None));
        }
        log.note(
            start + Duration::from_secs(2),
            &other,
            &event,
            &attempt,
            &retry(None),
        );
    });
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[1]["fields"]["subscription"], flooding.as_str());
    assert_eq!(lines[1]["fields"]["suppressed"], 3);
    assert_eq!(lines[2]["fields"]["subscription"], other.as_str());
}
