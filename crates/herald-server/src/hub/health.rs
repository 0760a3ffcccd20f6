//! A subscription's health as the Hub shows it: when a delivery last succeeded, how many of
//! its latest deliveries failed in a row, and the latest error in words. Read from its
//! newest deliveries (one bounded, index-backed page), so it survives a restart and agrees
//! across nodes.

use herald_store::{
    DeliveryFilter, DeliveryStatus, DeliverySummary, PageRequest, StoreError, SubscriptionId,
};
use time::OffsetDateTime;

use crate::api::AppState;

/// How many of a subscription's newest deliveries its page looks at for its health.
pub const WINDOW: u32 = 20;
/// The same in a list of subscriptions, where every row reads its own.
pub const LIST_WINDOW: u32 = 8;

/// What the newest deliveries of one subscription say.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// When its latest successful delivery's last attempt started, within the window.
    pub last_success: Option<OffsetDateTime>,
    /// Its newest deliveries whose latest attempt failed, counted until one that succeeded.
    pub consecutive_failures: u32,
    /// The latest failed attempt's message, if the newest attempted delivery failed.
    pub last_error: Option<String>,
}

impl Health {
    /// Failing now: its newest attempted delivery failed.
    pub fn failing(&self) -> bool {
        self.consecutive_failures > 0
    }
}

/// Reads the health of one subscription.
pub async fn of(state: &AppState, id: &SubscriptionId, window: u32) -> Result<Health, StoreError> {
    let filter = DeliveryFilter {
        subscription_id: Some(id.clone()),
        ..DeliveryFilter::default()
    };
    let page = PageRequest {
        cursor: None,
        limit: window,
    };
    let page = state.queue.list_deliveries(&filter, &page).await?;
    Ok(from_deliveries(&page.items))
}

/// Health from deliveries, newest first.
pub fn from_deliveries(deliveries: &[DeliverySummary]) -> Health {
    let mut health = Health::default();
    let mut streak_open = true;
    for summary in deliveries {
        let Some(last) = &summary.last_attempt else {
            continue; // not attempted yet: says nothing about the endpoint
        };
        let failed = last.error.is_some();
        if summary.delivery.status == DeliveryStatus::Succeeded || !failed {
            if health.last_success.is_none() {
                health.last_success = Some(last.started_at);
            }
            streak_open = false;
        } else if streak_open {
            if health.consecutive_failures == 0 {
                health.last_error = last
                    .error_message
                    .clone()
                    .or_else(|| last.error.map(|e| super::format::step(e).to_owned()));
            }
            health.consecutive_failures += 1;
        }
        if !streak_open && health.last_success.is_some() {
            break;
        }
    }
    health
}
