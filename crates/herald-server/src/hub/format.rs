//! How the Hub writes times, statuses and failures, so every page says them alike.

use herald_store::{AttemptError, DeliveryStatus};
use maud::{Markup, html};
use time::OffsetDateTime;
use time::macros::format_description;

/// `2026-12-01 08:40:12 UTC`, in a `<time>` element a script or a reader can parse.
pub fn time(at: OffsetDateTime) -> Markup {
    let shown = at
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default();
    let machine = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    html! { time datetime=(machine) { (shown) } }
}

/// "3 min ago", "in 20 s": how far `at` is from `now`, for people.
pub fn relative(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (at - now).whole_seconds();
    let span = age(seconds.unsigned_abs());
    if seconds >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A duration in the largest unit that keeps it readable.
pub fn age(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86400 => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{} d {} h", seconds / 86400, seconds % 86400 / 3600),
    }
}

/// A status as a word in a colored badge (the word carries the meaning; the color helps).
pub fn badge(word: &str) -> Markup {
    html! { span class={"badge " (word)} { (word) } }
}

/// A delivery's status.
pub fn delivery_status(status: DeliveryStatus) -> Markup {
    badge(status.as_str())
}

/// The failing step in words.
pub fn step(error: AttemptError) -> &'static str {
    match error {
        AttemptError::Dns => "the host name could not be resolved (DNS)",
        AttemptError::Connect => "no connection could be opened",
        AttemptError::Tls => "the secure (TLS) handshake failed",
        AttemptError::Timeout => "the endpoint did not answer in time",
        AttemptError::Status => "the endpoint answered with a non-2xx status",
        AttemptError::Blocked => "the address is not allowed (private or loopback)",
    }
}

/// A failing step given by its name (as the API views carry it), in words.
pub fn step_named(name: &str) -> &'static str {
    AttemptError::parse(name).map_or("the attempt failed", step)
}

/// JSON text pretty-printed, or as it came when it does not parse.
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| text.to_owned())
}
