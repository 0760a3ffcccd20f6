//! The retry schedule: what follows a failed attempt (DESIGN promise 3).
//!
//! Pure functions of the delivery, the outcome and the clock, so the rules are tested without
//! a network or a store.

use std::time::Duration;

use herald_store::{AttemptTrigger, Delivery, DeliveryProgress, DeliveryStatus};
use rand::Rng;
use time::OffsetDateTime;

/// Delays between retries, with ±10 % jitter.
#[derive(Clone, Debug)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// A schedule of `delays.len()` retries.
    pub fn new(delays: Vec<Duration>) -> Self {
        Self { delays }
    }

    /// The delivery's state after an attempt that `succeeded` or not. Only scheduled
    /// attempts spend the schedule; a failed redelivery leaves the delivery as it was, and a
    /// failed connectivity test is final (nobody waits for a test to be retried).
    pub fn progress(
        &self,
        delivery: &Delivery,
        trigger: AttemptTrigger,
        succeeded: bool,
        retry_after: Option<Duration>,
        now: OffsetDateTime,
    ) -> DeliveryProgress {
        let counts_for_schedule = trigger == AttemptTrigger::Scheduled;
        if succeeded {
            return DeliveryProgress {
                status: DeliveryStatus::Succeeded,
                next_attempt_at: None,
                counts_for_schedule,
            };
        }
        match trigger {
            AttemptTrigger::Redelivery => DeliveryProgress {
                status: delivery.status,
                next_attempt_at: delivery.next_attempt_at,
                counts_for_schedule,
            },
            AttemptTrigger::Test => DeliveryProgress {
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                counts_for_schedule,
            },
            AttemptTrigger::Scheduled => {
                // `scheduled_attempts` counts attempts before this one: 0 for the first.
                let retry_index = delivery.scheduled_attempts as usize;
                match self.delays.get(retry_index) {
                    Some(&step) => DeliveryProgress {
                        status: DeliveryStatus::Pending,
                        next_attempt_at: Some(now + delay(step, retry_after)),
                        counts_for_schedule,
                    },
                    None => DeliveryProgress {
                        status: DeliveryStatus::Failed,
                        next_attempt_at: None,
                        counts_for_schedule,
                    },
                }
            }
        }
    }
}

/// The step with ±10 % jitter, or the endpoint's `Retry-After` capped at twice the step.
fn delay(step: Duration, retry_after: Option<Duration>) -> Duration {
    if let Some(asked) = retry_after {
        return asked.min(step * 2);
    }
    let jitter = rand::thread_rng().gen_range(0.9..=1.1);
    step.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use herald_store::{DeliveryId, EventId, SubscriptionId, TenantId};

    use super::*;

    fn delivery(scheduled_attempts: u32) -> Delivery {
        let now = OffsetDateTime::now_utc();
        Delivery {
            id: DeliveryId::generate(),
            event_id: EventId::generate(),
            subscription_id: SubscriptionId::generate(),
            tenant_id: TenantId::generate(),
            event_type: "a.b".into(),
            status: DeliveryStatus::Pending,
            attempts: scheduled_attempts,
            scheduled_attempts,
            next_attempt_at: Some(now),
            created_at: now,
            updated_at: now,
        }
    }

    fn schedule() -> RetrySchedule {
        RetrySchedule::new(vec![
            Duration::from_secs(5),
            Duration::from_secs(300),
            Duration::from_secs(1800),
        ])
    }

    #[test]
    fn three_retries_then_the_delivery_fails() {
        let now = OffsetDateTime::now_utc();
        for done in 0..3 {
            let p =
                schedule().progress(&delivery(done), AttemptTrigger::Scheduled, false, None, now);
            assert_eq!(
                p.status,
                DeliveryStatus::Pending,
                "after attempt {}",
                done + 1
            );
        }
        let p = schedule().progress(&delivery(3), AttemptTrigger::Scheduled, false, None, now);
        assert_eq!(p.status, DeliveryStatus::Failed);
        assert_eq!(p.next_attempt_at, None);
    }

    #[test]
    fn retry_delays_have_ten_percent_jitter() {
        let now = OffsetDateTime::now_utc();
        for _ in 0..50 {
            let p = schedule().progress(&delivery(1), AttemptTrigger::Scheduled, false, None, now);
            let wait = (p.next_attempt_at.unwrap() - now).as_seconds_f64();
            assert!((270.0..=330.0).contains(&wait), "{wait}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_twice_the_step() {
        let now = OffsetDateTime::now_utc();
        let asked = Some(Duration::from_secs(8));
        let p = schedule().progress(&delivery(0), AttemptTrigger::Scheduled, false, asked, now);
        assert_eq!(p.next_attempt_at.unwrap() - now, time::Duration::seconds(8));
        let asked = Some(Duration::from_secs(3600));
        let p = schedule().progress(&delivery(0), AttemptTrigger::Scheduled, false, asked, now);
        assert_eq!(
            p.next_attempt_at.unwrap() - now,
            time::Duration::seconds(10)
        );
    }

    #[test]
    fn failed_redelivery_keeps_the_delivery_as_it_was() {
        let mut failed = delivery(4);
        failed.status = DeliveryStatus::Failed;
        failed.next_attempt_at = None;
        let now = OffsetDateTime::now_utc();
        let p = schedule().progress(&failed, AttemptTrigger::Redelivery, false, None, now);
        assert_eq!(p.status, DeliveryStatus::Failed);
        assert!(!p.counts_for_schedule);
        let p = schedule().progress(&failed, AttemptTrigger::Redelivery, true, None, now);
        assert_eq!(p.status, DeliveryStatus::Succeeded);
    }

    #[test]
    fn an_empty_schedule_fails_after_the_first_attempt() {
        let now = OffsetDateTime::now_utc();
        let p = RetrySchedule::new(vec![]).progress(
            &delivery(0),
            AttemptTrigger::Scheduled,
            false,
            None,
            now,
        );
        assert_eq!(p.status, DeliveryStatus::Failed);
    }
}
