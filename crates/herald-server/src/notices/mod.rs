//! Failure notices: what follows when a delivery ends `failed` (its retry schedule spent).
//!
//! The dispatcher hands each such failure to a [`FailureSink`], which never blocks: a bounded
//! channel to one task, which (a) publishes `herald.delivery.failed` to the operator tenant's
//! subscriptions to it, never to the failing subscription and never to another tenant
//! ([`operator`]), and (b) notes the failure in the store for the subscription's next e-mail
//! digest when SMTP is configured. A second task ([`digest`]) claims due digests from the
//! store and mails them, at most one per subscription per interval, whichever node claims it.
//! A failed delivery of a `herald.*` event emits nothing, so there is no loop; a subscription's
//! status never changes here.

mod digest;
mod operator;

use std::sync::Arc;

use herald_store::{
    Attempt, AttemptTrigger, DeliveryId, DeliveryJob, DeliveryStatus, EventId, FailureNotice,
    Store, SubscriptionId, TenantId,
};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::dispatch::Intake;
use crate::operational;

pub use digest::MailError;

/// Failures waiting for the notice task; beyond this a failure's notice is dropped (and
/// logged) rather than slow a delivery.
const QUEUE: usize = 1024;

/// A delivery that ended `failed`, as the notice task needs it.
#[derive(Clone, Debug)]
pub struct DeliveryFailed {
    delivery_id: DeliveryId,
    subscription_id: SubscriptionId,
    tenant_id: TenantId,
    contact_email: Option<String>,
    event_id: EventId,
    event_type: String,
    error: String,
    attempts: u32,
    failed_at: OffsetDateTime,
}

/// The dispatcher's end: hands failures over without waiting. Cheap to clone.
#[derive(Clone, Debug)]
pub struct FailureSink {
    sender: mpsc::Sender<DeliveryFailed>,
}

/// The notice task's end of the channel, given to [`start`].
#[derive(Debug)]
pub struct FailureQueue {
    receiver: mpsc::Receiver<DeliveryFailed>,
}

/// A sink and the queue it fills.
pub fn channel() -> (FailureSink, FailureQueue) {
    let (sender, receiver) = mpsc::channel(QUEUE);
    (FailureSink { sender }, FailureQueue { receiver })
}

impl FailureSink {
    /// Called after each recorded attempt: hands a scheduled attempt that ended its delivery
    /// `failed` to the notice task, unless its event is Herald's own (no loop).
    pub fn attempt_recorded(
        &self,
        job: &DeliveryJob,
        attempt: &Attempt,
        status: DeliveryStatus,
        failed_at: OffsetDateTime,
    ) {
        if status != DeliveryStatus::Failed
            || attempt.trigger != AttemptTrigger::Scheduled
            || operational::is_operational(&job.event.event_type)
        {
            return;
        }
        let failed = DeliveryFailed {
            delivery_id: job.delivery.id.clone(),
            subscription_id: job.subscription.id.clone(),
            tenant_id: job.subscription.tenant_id.clone(),
            contact_email: job.subscription.contact_email.clone(),
            event_id: job.event.id.clone(),
            event_type: job.event.event_type.clone(),
            error: error_in_words(attempt),
            attempts: job.delivery.attempts.saturating_add(1),
            failed_at,
        };
        if self.sender.try_send(failed).is_err() {
            tracing::warn!(delivery = %job.delivery.id, "too many failure notices at once; this one is dropped");
        }
    }
}

/// The last attempt's error as a person reads it.
fn error_in_words(attempt: &Attempt) -> String {
    if let Some(message) = attempt.error_message.as_deref().filter(|m| !m.is_empty()) {
        return message.to_owned();
    }
    if let Some(error) = attempt.error {
        return error.as_str().to_owned();
    }
    match attempt.response_status {
        Some(status) => format!("the endpoint answered HTTP {status}"),
        None => "no answer".to_owned(),
    }
}

/// Starts the notice task and, with SMTP configured, the digest task; both stop with
/// `shutdown`. Logs once what is not delivered for want of a setting.
pub fn start(
    config: &Config,
    queue: FailureQueue,
    store: Arc<dyn Store>,
    intake: Intake,
    shutdown: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, MailError> {
    let mailer = match (&config.smtp_url, &config.notice_from) {
        (Some(url), Some(from)) => Some(digest::Mailer::new(url, from)?),
        (Some(_), None) => return Err(MailError::MissingFrom),
        (None, _) => {
            tracing::info!("no smtp_url set: failure digests are not mailed (docs/notices.md)");
            None
        }
    };
    let operator = config.operator_tenant.clone().map(TenantId::from_trusted);
    if operator.is_none() {
        tracing::info!(
            "no operator_tenant set: operational events (herald.delivery.failed, herald.support.requested) are not delivered (docs/notices.md)"
        );
    }
    let mut tasks = Vec::new();
    let notes_failures = mailer.is_some();
    if let Some(mailer) = mailer {
        let timing = digest::Timing {
            interval: config.notice_digest_interval,
            delay: config.notice_digest_delay,
        };
        tasks.push(tokio::spawn(digest::run(
            Arc::clone(&store),
            mailer,
            timing,
            shutdown.child_token(),
        )));
    }
    let worker = Worker {
        store,
        intake,
        operator,
        notes_failures,
    };
    tasks.push(tokio::spawn(worker.run(queue, shutdown)));
    Ok(tasks)
}

/// The notice task: one failure at a time, off the dispatcher's path.
struct Worker {
    store: Arc<dyn Store>,
    intake: Intake,
    operator: Option<TenantId>,
    notes_failures: bool,
}

impl Worker {
    async fn run(self, mut queue: FailureQueue, shutdown: CancellationToken) {
        loop {
            let failed = tokio::select! {
                () = shutdown.cancelled() => return,
                failed = queue.receiver.recv() => match failed {
                    Some(failed) => failed,
                    None => return,
                },
            };
            self.handle(&failed).await;
        }
    }

    async fn handle(&self, failed: &DeliveryFailed) {
        if let Some(operator) = &self.operator {
            let published =
                operator::publish_failure(self.store.as_ref(), &self.intake, operator, failed);
            if let Err(error) = published.await {
                tracing::warn!(%error, delivery = %failed.delivery_id, "publishing herald.delivery.failed failed");
            }
        }
        if self.notes_failures && failed.contact_email.is_some() {
            let notice = FailureNotice {
                delivery_id: failed.delivery_id.clone(),
                subscription_id: failed.subscription_id.clone(),
                event_id: failed.event_id.clone(),
                event_type: failed.event_type.clone(),
                error: failed.error.clone(),
                failed_at: failed.failed_at,
            };
            if let Err(error) = self.store.note_failure(&notice).await {
                tracing::warn!(%error, delivery = %failed.delivery_id, "noting a failure for its digest failed");
            }
        }
    }
}
