//! Failure digests by e-mail: a task that claims due digests from the store (at most one per
//! subscription per interval, claimed atomically so a restart or a second node never sends
//! twice) and mails each to its subscription's contact through the configured SMTP server.
//! A digest whose mail fails is logged and not retried: its failures stay visible in the API.

use std::sync::Arc;
use std::time::Duration;

use herald_store::{FailureDigest, Store};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

/// Why the mail settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// `smtp_url` does not parse.
    #[error(
        "smtp_url is not a usable SMTP URL (smtp://user:pass@host:587, ?tls=required for STARTTLS, or smtps://user:pass@host:465)"
    )]
    SmtpUrl(#[source] lettre::transport::smtp::Error),
    /// `notice_from` is not an address.
    #[error("notice_from is not an e-mail address")]
    From(#[source] lettre::address::AddressError),
    /// `smtp_url` without `notice_from`.
    #[error("smtp_url is set but notice_from is not: set the From address of failure digests")]
    MissingFrom,
}

/// How often digests go out.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    /// At most one digest per subscription per this.
    pub(super) interval: Duration,
    /// A digest waits this long after its first failure, gathering the burst.
    pub(super) delay: Duration,
}

impl Timing {
    /// How often the store is asked for due digests: often enough that neither the delay nor
    /// the interval is overshot by much, and never a busy loop.
    fn poll(&self) -> Duration {
        (self.delay.min(self.interval) / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(30))
    }
}

/// The SMTP transport and the sender's address.
pub(super) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub(super) fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(MailError::SmtpUrl)?
            .build();
        let from = from.parse().map_err(MailError::From)?;
        Ok(Self { transport, from })
    }
}

/// Sends due digests until `shutdown`.
pub(super) async fn run(
    store: Arc<dyn Store>,
    mailer: Mailer,
    timing: Timing,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(timing.poll());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        send_due(store.as_ref(), &mailer, timing).await;
    }
}

/// Claims and mails every digest due now.
async fn send_due(store: &dyn Store, mailer: &Mailer, timing: Timing) {
    loop {
        let now = herald_store::timestamp_now();
        let claimed = store
            .claim_failure_digest(now, now - timing.interval, now - timing.delay)
            .await;
        let digest = match claimed {
            Ok(Some(digest)) => digest,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "claiming a failure digest failed; trying again later");
                return;
            }
        };
        send(store, mailer, &digest).await;
    }
}

/// Mails one digest to its subscription's current contact (none, or gone: nothing to send).
async fn send(store: &dyn Store, mailer: &Mailer, digest: &FailureDigest) {
    let subscription = match store.get_subscription(&digest.subscription_id).await {
        Ok(Some(subscription)) => subscription,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, subscription = %digest.subscription_id, "a failure digest was not sent: its subscription could not be read");
            return;
        }
    };
    let Some(contact) = subscription.contact_email.as_deref() else {
        return;
    };
    let message = contact
        .parse::<Mailbox>()
        .map_err(|error| error.to_string())
        .and_then(|to| {
            Message::builder()
                .from(mailer.from.clone())
                .to(to)
                .subject(subject(digest))
                .header(ContentType::TEXT_PLAIN)
                .body(body(digest, &subscription.url))
                .map_err(|error| error.to_string())
        });
    let sent = match message {
        Ok(message) => mailer
            .transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| error.to_string()),
        Err(error) => Err(error),
    };
    match sent {
        Ok(()) => {
            tracing::info!(subscription = %digest.subscription_id, failures = digest.failures.len(), "failure digest mailed")
        }
        Err(error) => {
            tracing::warn!(%error, subscription = %digest.subscription_id, "a failure digest could not be mailed")
        }
    }
}

fn subject(digest: &FailureDigest) -> String {
    match digest.failures.len() {
        1 => format!(
            "Herald: 1 delivery failed for subscription {}",
            digest.subscription_id
        ),
        n => format!(
            "Herald: {n} deliveries failed for subscription {}",
            digest.subscription_id
        ),
    }
}

/// One entry per failure: which delivery and event, when, and the last error in words.
fn body(digest: &FailureDigest, url: &str) -> String {
    let mut text = format!(
        "These deliveries to {url} (subscription {}) failed after their last retry.\n\
         The subscription is unchanged; redeliver them from the API or the Hub once the \
         endpoint is fixed.\n\n",
        digest.subscription_id
    );
    for failure in &digest.failures {
        let when = failure.failed_at.format(&Rfc3339).unwrap_or_default();
        text.push_str(&format!(
            "- delivery {}\n  event {} ({})\n  failed at {when}\n  last error: {}\n",
            failure.delivery_id, failure.event_id, failure.event_type, failure.error
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_and_from_addresses_are_checked() {
        assert!(
            Mailer::new(
                "smtps://user:pass@mail.example.com:465",
                "herald@example.com"
            )
            .is_ok()
        );
        assert!(
            Mailer::new(
                "smtp://mail.example.com:587?tls=required",
                "Herald <h@example.com>"
            )
            .is_ok()
        );
        assert!(matches!(
            Mailer::new("http://mail.example.com", "herald@example.com"),
            Err(MailError::SmtpUrl(_))
        ));
        assert!(matches!(
            Mailer::new("smtp://127.0.0.1:25", "not an address"),
            Err(MailError::From(_))
        ));
    }

    #[test]
    fn the_store_is_polled_often_enough_but_never_in_a_busy_loop() {
        let hourly = Timing {
            interval: Duration::from_secs(3600),
            delay: Duration::from_secs(60),
        };
        assert_eq!(hourly.poll(), Duration::from_secs(15));
        let instant = Timing {
            interval: Duration::ZERO,
            delay: Duration::ZERO,
        };
        assert_eq!(instant.poll(), Duration::from_millis(100));
    }
}
