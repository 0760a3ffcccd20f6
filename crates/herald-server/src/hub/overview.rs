//! The overview: what is happening now, for the operator across every tenant and for a
//! subscriber across its own subscriptions. Every figure is read from the store (not this
//! process's counters), so it survives a restart and agrees across PostgreSQL nodes: events
//! accepted, attempts succeeded and failed, the success rate and latency over the last hour
//! and day (as server-rendered SVG charts), pending deliveries and the oldest one's age
//! (operator), and the subscriptions failing now with their last error in words.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_store::{ActivityBucket, ActivityQuery, FailingSubscription, QueueStats};
use maud::{Markup, html};
use time::{Duration, OffsetDateTime};

use super::charts::{self, Bar};
use super::format;
use super::layout::{self, Section};
use super::session::Viewer;
use crate::api::AppState;
use crate::api::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(overview))
}

/// A window of the overview: how many buckets of how long.
struct Window {
    buckets: u32,
    bucket_seconds: u32,
}

const HOUR: Window = Window {
    buckets: 12,
    bucket_seconds: 300,
};
const DAY: Window = Window {
    buckets: 24,
    bucket_seconds: 3600,
};
/// How many failing subscriptions the overview lists.
const FAILING_SHOWN: u32 = 20;
/// "Failing now": the latest attempt within this window failed.
const FAILING_WINDOW: Duration = Duration::HOUR;

impl Window {
    /// The start of the first bucket: buckets end at the next boundary after `now`.
    fn since(&self, now: OffsetDateTime) -> OffsetDateTime {
        let length = i64::from(self.bucket_seconds);
        let current = now.unix_timestamp() - now.unix_timestamp().rem_euclid(length);
        let start = current - length * i64::from(self.buckets - 1);
        OffsetDateTime::from_unix_timestamp(start).unwrap_or(now)
    }

    /// Every bucket, empty ones included, in order.
    fn fill(&self, found: Vec<ActivityBucket>) -> Vec<ActivityBucket> {
        (0..self.buckets)
            .map(|i| {
                found
                    .iter()
                    .find(|b| b.bucket == i)
                    .cloned()
                    .unwrap_or(ActivityBucket {
                        bucket: i,
                        ..ActivityBucket::default()
                    })
            })
            .collect()
    }
}

/// Totals over a window.
#[derive(Default)]
struct Totals {
    events: u64,
    succeeded: u64,
    failed: u64,
    duration_sum: u64,
    duration_max: u64,
}

impl Totals {
    fn of(buckets: &[ActivityBucket]) -> Self {
        buckets.iter().fold(Totals::default(), |mut t, b| {
            t.events += b.events;
            t.succeeded += b.succeeded;
            t.failed += b.failed;
            t.duration_sum += b.duration_ms_sum;
            t.duration_max = t.duration_max.max(b.duration_ms_max);
            t
        })
    }

    fn attempts(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// "97.5 %", or a dash without attempts.
    fn success_rate(&self) -> String {
        match self.attempts() {
            0 => "—".to_owned(),
            n => format!("{:.1} %", self.succeeded as f64 * 100.0 / n as f64),
        }
    }

    /// "120 ms", or a dash without attempts.
    fn mean_latency(&self) -> String {
        match self.attempts() {
            0 => "—".to_owned(),
            n => format!("{} ms", self.duration_sum / n),
        }
    }
}

async fn overview(State(state): State<AppState>, viewer: Viewer) -> Response {
    let now = OffsetDateTime::now_utc();
    let tenant_id = viewer.principal.tenant().cloned();
    let query = |window: &Window| ActivityQuery {
        since: window.since(now),
        bucket_seconds: window.bucket_seconds,
        tenant_id: tenant_id.clone(),
    };
    let (hour_query, day_query) = (query(&HOUR), query(&DAY));
    // The four reads are independent: run them side by side (the store has several readers).
    let (hour, day, failing, queue) = tokio::join!(
        state.queue.activity(&hour_query),
        state.queue.activity(&day_query),
        state
            .queue
            .failing_subscriptions(now - FAILING_WINDOW, tenant_id.as_ref(), FAILING_SHOWN),
        async {
            // The queue's counts span every tenant: the operator's figure only.
            match viewer.is_operator() {
                true => state.queue.queue_stats().await.map(Some),
                false => Ok(None),
            }
        },
    );
    let (windows, failing, queue) = match (hour, day, failing, queue) {
        (Ok(hour), Ok(day), Ok(failing), Ok(queue)) => {
            ([HOUR.fill(hour), DAY.fill(day)], failing, queue)
        }
        (Err(error), ..) | (_, Err(error), ..) | (_, _, Err(error), _) | (.., Err(error)) => {
            return ApiError::from(error).into_response();
        }
    };
    let (hour, day) = (&windows[0], &windows[1]);
    let body = html! {
        div data-live="figures" {
            (figures(&Totals::of(hour), &Totals::of(day), queue.as_ref(), now))
            div.charts {
                (chart_attempts("Attempts per hour, last 24 hours", day, &DAY, HourLabel::Hour, 4))
                (chart_attempts("Attempts per 5 minutes, last hour", hour, &HOUR, HourLabel::Minute, 3))
                (chart_events("Events accepted per hour, last 24 hours", day, &DAY, now))
            }
        }
        section aria-labelledby="failing-h" {
            h2 #failing-h { "Subscriptions failing now" }
            div data-live="failing" { (failing_list(&failing, now)) }
        }
    };
    layout::page(&viewer, Section::Overview, "Overview", body).into_response()
}

/// The figure cards.
fn figures(hour: &Totals, day: &Totals, queue: Option<&QueueStats>, now: OffsetDateTime) -> Markup {
    html! {
        div.cards {
            (card("Events accepted", &hour.events.to_string(), &format!("{} in 24 h", day.events)))
            (card("Attempts succeeded", &hour.succeeded.to_string(), &format!("{} in 24 h", day.succeeded)))
            (card("Attempts failed", &hour.failed.to_string(), &format!("{} in 24 h", day.failed)))
            (card("Success rate", &hour.success_rate(), &format!("{} in 24 h", day.success_rate())))
            (card("Mean attempt latency", &hour.mean_latency(), &format!("longest {} ms in 24 h", day.duration_max)))
            @if let Some(queue) = queue {
                (card("Pending deliveries", &queue.pending.to_string(), &match queue.oldest_pending_created_at {
                    Some(oldest) => format!("oldest waiting {}", format::age((now - oldest).whole_seconds().unsigned_abs())),
                    None => "none waiting".to_owned(),
                }))
            }
        }
        p.hint { "Figures of the last hour; the smaller line is the last 24 hours." }
    }
}

fn card(label: &str, figure: &str, detail: &str) -> Markup {
    html! {
        div.card {
            div.label { (label) }
            div.figure { (figure) }
            div.hint { (detail) }
        }
    }
}

/// How a bucket's label reads.
#[derive(Clone, Copy)]
enum HourLabel {
    Hour,
    Minute,
}

fn label(window: &Window, bucket: u32, since: OffsetDateTime, kind: HourLabel) -> String {
    let start = since + Duration::seconds(i64::from(bucket * window.bucket_seconds));
    match kind {
        HourLabel::Hour => format!("{:02}:00", start.hour()),
        HourLabel::Minute => format!("{:02}:{:02}", start.hour(), start.minute()),
    }
}

fn chart_attempts(
    title: &str,
    buckets: &[ActivityBucket],
    window: &Window,
    kind: HourLabel,
    label_every: usize,
) -> Markup {
    let since = window.since(OffsetDateTime::now_utc());
    let bars: Vec<Bar> = buckets
        .iter()
        .map(|b| Bar {
            good: b.succeeded,
            bad: b.failed,
            label: label(window, b.bucket, since, kind),
        })
        .collect();
    let totals = Totals::of(buckets);
    let summary = format!(
        "{title}: {} succeeded, {} failed",
        totals.succeeded, totals.failed
    );
    html! {
        figure.chart {
            figcaption { (title) " (green: succeeded, red: failed)" }
            (charts::stacked(&summary, &bars, label_every))
        }
    }
}

fn chart_events(
    title: &str,
    buckets: &[ActivityBucket],
    window: &Window,
    now: OffsetDateTime,
) -> Markup {
    let since = window.since(now);
    let bars: Vec<Bar> = buckets
        .iter()
        .map(|b| Bar {
            good: b.events,
            bad: 0,
            label: label(window, b.bucket, since, HourLabel::Hour),
        })
        .collect();
    let summary = format!("{title}: {}", Totals::of(buckets).events);
    html! {
        figure.chart {
            figcaption { (title) }
            (charts::stacked(&summary, &bars, 4))
        }
    }
}

fn failing_list(failing: &[FailingSubscription], now: OffsetDateTime) -> Markup {
    html! {
        @if failing.is_empty() {
            p.empty { "None: every subscription's latest attempt in the last hour succeeded." }
        } @else {
            ul.failing {
                @for f in failing {
                    li data-failing=(f.subscription_id) {
                        a href={"/hub/subscriptions/" (f.subscription_id)} { (f.url) }
                        " · last attempt " (format::relative(f.last_attempt_at, now))
                        @if let Some(status) = f.response_status { " · status " (status) }
                        br;
                        span.error-text {
                            (f.error.map(format::step).unwrap_or("the attempt failed"))
                            @if let Some(message) = &f.error_message { ": " (message) }
                        }
                    }
                }
            }
        }
    }
}
