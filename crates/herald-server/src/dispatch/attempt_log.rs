//! One `info` line per attempt, so `herald serve` shows every delivery happen: subscription,
//! event type, event, delivery, attempt, outcome, status or failing step, duration, and the
//! next retry or "no more retries". The facts are tracing fields (the JSON log carries each
//! as a key), and the message says the same in words for people reading the text log.
//!
//! It owns the per-subscription rate limit of those lines and nothing else: it never decides
//! what happens to a delivery and never writes to the store. The choice to know: a flood is
//! cut per subscription, at most [`LINES_PER_SUBSCRIPTION_PER_SECOND`] lines in each
//! subscription's one-second window, then one "… N more attempts for sub_… suppressed" line
//! when that window is next looked at (that subscription's next attempt, or a sweep made at
//! most once a second on any attempt), so one failing endpoint cannot drown the others'
//! lines. The counts sit behind a std `Mutex`: the critical section is a map lookup, never
//! held across an await, and logging happens after it is released.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herald_store::{
    Attempt, AttemptError, AttemptOutcome, DeliveryProgress, Event, SubscriptionId,
};
use time::format_description::well_known::Rfc3339;

/// At most this many attempt lines per subscription per second; the rest are counted and
/// reported in one line.
pub const LINES_PER_SUBSCRIPTION_PER_SECOND: u32 = 5;

/// The length of a subscription's counting window.
const WINDOW: Duration = Duration::from_secs(1);

/// Logs attempts, rate-limited per subscription.
#[derive(Debug)]
pub struct AttemptLog {
    /// Lines allowed per subscription per window.
    per_window: u32,
    /// The open windows, and when they were last swept.
    state: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    /// Only subscriptions with an attempt in the last window or so: swept once a window.
    windows: HashMap<SubscriptionId, Window>,
    last_sweep: Option<Instant>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for AttemptLog {
    fn default() -> Self {
        Self::new(LINES_PER_SUBSCRIPTION_PER_SECOND)
    }
}

impl AttemptLog {
    /// A log allowing `per_second` lines per subscription per second (0 is taken as 1).
    pub fn new(per_second: u32) -> Self {
        Self {
            per_window: per_second.max(1),
            state: Mutex::new(LogState::default()),
        }
    }

    /// Logs `attempt` of `event` to `subscription` (or counts it, past the limit), at `now`.
    pub fn note(
        &self,
        now: Instant,
        subscription: &SubscriptionId,
        event: &Event,
        attempt: &Attempt,
        progress: &DeliveryProgress,
    ) {
        let (suppressed, log_this) = self.decide(now, subscription);
        for (id, count) in suppressed {
            tracing::info!(
                subscription = %id,
                suppressed = count,
                "… {count} more attempts for {id} suppressed (at most {} lines per \
                 subscription per second)",
                self.per_window
            );
        }
        if log_this {
            log_attempt(subscription, event, attempt, progress);
        }
    }

    /// Updates the counts: which windows to report as suppressed now, and whether this
    /// attempt gets its line.
    fn decide(
        &self,
        now: Instant,
        subscription: &SubscriptionId,
    ) -> (Vec<(SubscriptionId, u64)>, bool) {
        // A poisoned lock only means another thread panicked while counting: the counts are
        // still usable, and logging must never take the dispatcher down.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut report = Vec::new();
        let sweep_due = state
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= WINDOW);
        if sweep_due {
            state.last_sweep = Some(now);
            state.windows.retain(|id, window| {
                let open = now.saturating_duration_since(window.start) < WINDOW;
                if !open && window.suppressed > 0 {
                    report.push((id.clone(), window.suppressed));
                }
                open
            });
        }
        let window = state.windows.entry(subscription.clone()).or_insert(Window {
            start: now,
            logged: 0,
            suppressed: 0,
        });
        if now.saturating_duration_since(window.start) >= WINDOW {
            if window.suppressed > 0 {
                report.push((subscription.clone(), window.suppressed));
            }
            *window = Window {
                start: now,
                logged: 0,
                suppressed: 0,
            };
        }
        let log_this = window.logged < self.per_window;
        if log_this {
            window.logged += 1;
        } else {
            window.suppressed += 1;
        }
        (report, log_this)
    }
}

/// The one line of an attempt.
fn log_attempt(
    subscription: &SubscriptionId,
    event: &Event,
    attempt: &Attempt,
    progress: &DeliveryProgress,
) {
    let outcome = AttemptOutcome::of(attempt);
    let next_retry = match progress.next_attempt_at {
        Some(at) => at.format(&Rfc3339).unwrap_or_else(|_| at.to_string()),
        None => "no more retries".to_owned(),
    };
    let status = attempt
        .response_status
        .map_or_else(|| "no status".to_owned(), |status| status.to_string());
    let how = match (outcome, attempt.error) {
        (AttemptOutcome::Succeeded, _) => format!("succeeded with {status}"),
        (AttemptOutcome::Failed, None | Some(AttemptError::Status)) => {
            format!("failed with status {status}")
        }
        (AttemptOutcome::Failed, Some(step)) => format!("failed at {}", step.as_str()),
    };
    let then = match progress.next_attempt_at {
        Some(_) => format!("next retry at {next_retry}"),
        None => next_retry.clone(),
    };
    tracing::info!(
        subscription = %subscription,
        event_type = %event.event_type,
        event = %event.id,
        delivery = %attempt.delivery_id,
        attempt = %attempt.id,
        trigger = attempt.trigger.as_str(),
        outcome = outcome.as_str(),
        status = attempt.response_status,
        step = attempt.error.map(|step| step.as_str()),
        duration_ms = attempt.duration_ms,
        next_retry = %next_retry,
        "attempt {how} in {} ms; {then}",
        attempt.duration_ms,
    );
}

#[cfg(test)]
mod tests;
