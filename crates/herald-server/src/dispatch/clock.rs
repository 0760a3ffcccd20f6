//! The dispatcher's time: one [`Clock`] gives both the wall time written to the store
//! (claims, leases, attempt times, the next retry) and the monotonic time of waits in this
//! process (a job's patience, a rate-limit slot, the idle sleep).
//!
//! Production runs on [`SystemClock`]; step tests run on a [`ManualClock`] they advance by
//! hand, so retries, the lease window and "dropped because its lease would expire" are tested
//! without real time and without sleeping. It must never be used for what is measured rather
//! than decided: an attempt's duration and the outbound request timeout stay on real time.
//!
//! Why one trait for both kinds of time: a manual clock has to move them together, or a test
//! that advances the wall time past a lease would still see a job as freshly received.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::watch;

/// A wait on a [`Clock`]. Boxed, so the dispatcher holds one `dyn Clock`; only waits that
/// actually sleep (a rate-limit slot ahead, an idle loop) make one.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the dispatcher reads the time. See the module documentation.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The wall time, to the microsecond (what the store keeps, so it reads back equal).
    fn now(&self) -> OffsetDateTime;
    /// The monotonic time, for waits measured in this process.
    fn instant(&self) -> Instant;
    /// Resolves once [`Self::instant`] reaches `deadline` (at once for a deadline passed).
    fn sleep_until(&self, deadline: Instant) -> Sleep;

    /// Resolves after `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.instant() + duration)
    }
}

/// The real time: `OffsetDateTime::now_utc()` and Tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        herald_store::timestamp_now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

/// A clock that moves only when told ([`Self::advance`]); wall and monotonic time move
/// together. For tests.
#[derive(Debug)]
pub struct ManualClock {
    /// The wall time when the clock was made.
    wall: OffsetDateTime,
    /// The monotonic time when the clock was made.
    start: Instant,
    /// How far it has been advanced; a watch, so sleepers wake when it moves.
    elapsed: watch::Sender<Duration>,
}

impl ManualClock {
    /// A clock standing at `wall` (truncated to the microsecond, as the store keeps times).
    pub fn starting_at(wall: OffsetDateTime) -> Self {
        let wall = wall
            .replace_nanosecond(wall.microsecond() * 1_000)
            .unwrap_or(wall);
        Self {
            wall,
            start: Instant::now(),
            elapsed: watch::Sender::new(Duration::ZERO),
        }
    }

    /// Moves both times forward by `by`, waking the sleeps that fall due.
    pub fn advance(&self, by: Duration) {
        self.elapsed.send_modify(|elapsed| *elapsed += by);
    }
}

impl Default for ManualClock {
    /// A clock standing at the current wall time.
    fn default() -> Self {
        Self::starting_at(OffsetDateTime::now_utc())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.wall + *self.elapsed.borrow()
    }

    fn instant(&self) -> Instant {
        self.start + *self.elapsed.borrow()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        let start = self.start;
        let mut elapsed = self.elapsed.subscribe();
        Box::pin(async move {
            // `wait_for` checks the current value first, so a deadline passed returns at once.
            // It fails only once the clock is dropped: time then never comes.
            if elapsed.wait_for(|e| start + *e >= deadline).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;

    async fn is_pending(sleep: &mut Sleep) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_pending())).await
    }

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_is_advanced_past_it() {
        let clock = ManualClock::default();
        let wall = clock.now();
        let mut sleep = clock.sleep(Duration::from_secs(10));
        assert!(is_pending(&mut sleep).await);
        clock.advance(Duration::from_secs(9));
        assert!(is_pending(&mut sleep).await, "9 s of 10");
        clock.advance(Duration::from_secs(1));
        assert!(!is_pending(&mut sleep).await, "10 s of 10");
        assert_eq!(clock.now() - wall, time::Duration::seconds(10));
        let mut passed = clock.sleep(Duration::ZERO);
        assert!(!is_pending(&mut passed).await, "a deadline passed");
    }
}
