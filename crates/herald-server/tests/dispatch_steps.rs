//! The dispatcher driven step by step: a real SQLite store on a temporary file, a real HTTP
//! receiver on 127.0.0.1:0, and a manual clock, so retries, gates, the lease window and
//! "dropped because its lease would expire" are proven without real time and without sleeping.
//! Every wait is on a condition with a deadline. The receiver is the testkit's, held open where
//! a test needs requests in flight.

use std::sync::Arc;
use std::time::Duration;

use herald_server::dispatch::schedule::RetrySchedule;
use herald_server::dispatch::{Deliverer, DispatchSettings, Dispatcher, ManualClock, Step};
use herald_server::metrics::Metrics;
use herald_server::outbound::{AddressPolicy, Outbound};
use herald_store::sqlite::SqliteStore;
use herald_store::{
    Delivery, DeliveryFilter, DeliveryQueue, DeliveryStatus, Event, EventId, PageRequest,
    SigningSecret, Store, Subscription, SubscriptionId, SubscriptionStatus, Tenant, TenantId,
};
use herald_testkit::{Receiver, Reply, await_within, wait_until};

/// How long any awaited condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

const EVENT_TYPE: &str = "order.created";

// --- a dispatcher on a manual clock -----------------------------------------------------------

/// How a test's dispatcher is set up.
struct Setup {
    max_in_flight: u32,
    batch_size: u32,
    lease: Duration,
    request_timeout: Duration,
    retry_schedule: Vec<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            max_in_flight: 4,
            batch_size: 256,
            lease: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
            retry_schedule: vec![Duration::from_secs(10); 3],
        }
    }
}

struct Rig {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    dispatcher: Dispatcher,
    receiver: Receiver,
    tenant: TenantId,
    subscription: SubscriptionId,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn rig(self) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(
                &dir.path().join("herald.db"),
                herald_store::conformance::keyring(),
            )
            .await
            .unwrap(),
        );
        let clock = Arc::new(ManualClock::default());
        let receiver = Receiver::start().await.expect("receiver");
        let loopback = vec!["127.0.0.0/8".parse().unwrap()];
        let outbound = Outbound::new(
            AddressPolicy::new(loopback),
            true,
            self.request_timeout,
            4096,
        )
        .unwrap();
        let queue = Arc::clone(&store) as Arc<dyn DeliveryQueue>;
        let deliverer = Arc::new(Deliverer::new(
            Arc::clone(&queue),
            outbound,
            RetrySchedule::new(self.retry_schedule),
            Arc::new(Metrics::new()),
            clock.clone(),
        ));
        let settings = DispatchSettings {
            max_concurrency: 64,
            batch_size: self.batch_size,
            lease: self.lease,
            request_timeout: self.request_timeout,
        };
        let dispatcher = Dispatcher::new(queue, deliverer, clock.clone(), settings);
        let tenant = create_tenant(store.as_ref(), &clock).await;
        let subscription = subscribe(
            store.as_ref(),
            &clock,
            &tenant,
            &receiver,
            self.max_in_flight,
        )
        .await;
        Rig {
            store,
            clock,
            dispatcher,
            receiver,
            tenant,
            subscription,
            _dir: dir,
        }
    }
}

async fn create_tenant(store: &dyn Store, clock: &ManualClock) -> TenantId {
    use herald_server::dispatch::Clock;
    let tenant = Tenant {
        id: TenantId::generate(),
        name: "Acme".into(),
        client_id: "acme".into(),
        client_secret_hash: "0".repeat(64),
        created_at: clock.now(),
        retention_seconds: None,
    };
    store.create_tenant(&tenant).await.unwrap();
    tenant.id
}

async fn subscribe(
    store: &dyn Store,
    clock: &ManualClock,
    tenant: &TenantId,
    receiver: &Receiver,
    max_in_flight: u32,
) -> SubscriptionId {
    use herald_server::dispatch::Clock;
    let subscription = Subscription {
        id: SubscriptionId::generate(),
        tenant_id: tenant.clone(),
        url: receiver.url(),
        event_types: vec![EVENT_TYPE.into()],
        status: SubscriptionStatus::Active,
        description: None,
        headers: Default::default(),
        rate_limit_per_second: None,
        max_in_flight,
        contact_email: None,
        secrets: vec![SigningSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            expires_at: None,
        }],
        created_at: clock.now(),
        updated_at: clock.now(),
        payload_mode: Default::default(),
        signature_scheme: Default::default(),
        signing_keys: Vec::new(),
        effective_at: None,
        client_certificate_pem: None,
        client_key_pem: None,
        server_ca_pem: None,
    };
    store.create_subscription(&subscription).await.unwrap();
    subscription.id
}

impl Rig {
    /// An event for the rig's tenant, created now on the manual clock (so due now).
    fn event(&self) -> Event {
        use herald_server::dispatch::Clock;
        Event {
            id: EventId::generate(),
            event_type: EVENT_TYPE.into(),
            payload_json: "{}".into(),
            tenant_id: Some(self.tenant.clone()),
            idempotency_key: None,
            created_at: self.clock.now(),
        }
    }

    /// Publishes `count` events straight to the store (nothing leased: the claim's work).
    async fn publish_unleased(&self, count: usize) -> Vec<EventId> {
        let mut ids = Vec::new();
        for _ in 0..count {
            let event = self.event();
            self.store.publish(&event).await.unwrap();
            ids.push(event.id);
        }
        ids
    }

    async fn step(&self) -> Step {
        await_within("a step", DEADLINE, self.dispatcher.step())
            .await
            .unwrap()
    }

    /// Waits until every started job is attempted and recorded, or dropped.
    async fn settle(&self) {
        await_within(
            "the started jobs to finish",
            DEADLINE,
            self.dispatcher.settle(),
        )
        .await;
    }

    /// The delivery of `event` to the rig's subscription.
    async fn delivery(&self, event: &EventId) -> Delivery {
        let filter = DeliveryFilter {
            subscription_id: Some(self.subscription.clone()),
            event_id: Some(event.clone()),
            ..DeliveryFilter::default()
        };
        let page = PageRequest {
            cursor: None,
            limit: 10,
        };
        let mut page = self.store.list_deliveries(&filter, &page).await.unwrap();
        assert_eq!(page.items.len(), 1, "one delivery per event");
        page.items.remove(0).delivery
    }
}

// --- the behaviours ------------------------------------------------------------------------

#[tokio::test]
async fn single_process_store_leases_up_to_twice_max_in_flight() {
    let rig = Setup {
        max_in_flight: 2,
        ..Setup::default()
    }
    .rig()
    .await;
    assert!(rig.store.single_process(), "SQLite is single-process");
    rig.receiver.hold();
    rig.publish_unleased(6).await;

    assert_eq!(rig.step().await.claimed, 4, "2 × max_in_flight leased");
    assert_eq!(
        rig.step().await.claimed,
        0,
        "no more while those hold leases"
    );

    rig.receiver.release();
    rig.settle().await;
    assert_eq!(
        rig.step().await.claimed,
        2,
        "the rest, once the leases are released"
    );
    rig.settle().await;
    assert_eq!(rig.receiver.count(), 6);
}

#[tokio::test]
async fn gate_keeps_a_subscription_at_max_in_flight() {
    let rig = Setup {
        max_in_flight: 2,
        ..Setup::default()
    }
    .rig()
    .await;
    rig.receiver.hold();
    rig.publish_unleased(4).await;
    assert_eq!(rig.step().await.claimed, 4);

    wait_until("max_in_flight requests", DEADLINE, || {
        rig.receiver.in_flight() >= 2
    })
    .await;
    rig.receiver.release();
    rig.settle().await;

    assert_eq!(rig.receiver.count(), 4, "every leased delivery was sent");
    assert_eq!(
        rig.receiver.max_in_flight(),
        2,
        "never more than max_in_flight at once"
    );
}

#[tokio::test]
async fn failed_attempt_is_claimed_again_when_its_retry_is_due() {
    let rig = Setup::default().rig().await;
    rig.receiver.then(Reply::status(500));
    let event = rig.publish_unleased(1).await.remove(0);

    assert_eq!(rig.step().await.claimed, 1);
    rig.settle().await;
    let failed = rig.delivery(&event).await;
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert_eq!(failed.attempts, 1);
    // 10 s ± 10 % on the manual clock: the schedule reads the dispatcher's clock.
    use herald_server::dispatch::Clock;
    let retry_in = failed.next_attempt_at.unwrap() - rig.clock.now();
    assert!(
        (9.0..=11.0).contains(&retry_in.as_seconds_f64()),
        "{retry_in}"
    );

    assert_eq!(rig.step().await.claimed, 0, "not due yet");
    rig.clock.advance(Duration::from_secs(12));
    assert_eq!(rig.step().await.claimed, 1, "due: claimed again");
    rig.settle().await;

    let done = rig.delivery(&event).await;
    assert_eq!(done.status, DeliveryStatus::Succeeded);
    assert_eq!(done.attempts, 2);
    let ids = rig.receiver.webhook_ids();
    assert_eq!(ids, vec![event.to_string(); 2], "the same webhook-id");
}

#[tokio::test]
async fn job_whose_lease_would_expire_is_dropped_unattempted() {
    // Patience: 30 s lease − 5 s request timeout − 5 s margin = 20 s.
    let rig = Setup {
        max_in_flight: 1,
        lease: Duration::from_secs(30),
        request_timeout: Duration::from_secs(5),
        ..Setup::default()
    }
    .rig()
    .await;
    rig.receiver.hold();
    let events = rig.publish_unleased(2).await;
    assert_eq!(rig.step().await.claimed, 2, "the second waits at the gate");
    wait_until("the first request", DEADLINE, || {
        rig.receiver.in_flight() >= 1
    })
    .await;

    // The second job has waited longer than its patience when the gate opens.
    rig.clock.advance(Duration::from_secs(21));
    rig.receiver.release();
    rig.settle().await;
    assert_eq!(rig.receiver.webhook_ids(), vec![events[0].to_string()]);
    let dropped = rig.delivery(&events[1]).await;
    assert_eq!(dropped.status, DeliveryStatus::Pending);
    assert_eq!(dropped.attempts, 0, "no attempt, no request");

    assert_eq!(rig.step().await.claimed, 0, "its lease still holds");
    rig.clock.advance(Duration::from_secs(10));
    assert_eq!(
        rig.step().await.claimed,
        1,
        "claimed again once its lease ended"
    );
    rig.settle().await;
    let done = rig.delivery(&events[1]).await;
    assert_eq!(done.status, DeliveryStatus::Succeeded);
    assert_eq!(done.attempts, 1);
}

#[tokio::test]
async fn fresh_deliveries_come_before_retries() {
    let rig = Setup {
        batch_size: 1,
        ..Setup::default()
    }
    .rig()
    .await;
    rig.receiver.then(Reply::status(500));
    let retried = rig.publish_unleased(1).await.remove(0);
    assert_eq!(rig.step().await.claimed, 1);
    rig.settle().await;

    // The retry has been due for a while when a fresh event arrives.
    rig.clock.advance(Duration::from_secs(20));
    let fresh = rig.publish_unleased(1).await.remove(0);
    assert_eq!(rig.step().await.claimed, 1);
    rig.settle().await;
    assert_eq!(
        rig.receiver.webhook_ids().last(),
        Some(&fresh.to_string()),
        "the fresh delivery went first"
    );

    assert_eq!(rig.step().await.claimed, 1);
    rig.settle().await;
    assert_eq!(
        rig.receiver.webhook_ids().last(),
        Some(&retried.to_string())
    );
}

#[tokio::test]
async fn intake_starts_what_it_leased_and_leaves_the_rest_to_a_claim() {
    let rig = Setup {
        max_in_flight: 1,
        ..Setup::default()
    }
    .rig()
    .await;
    rig.receiver.hold();
    let intake = rig.dispatcher.intake();
    let mut events = Vec::new();
    for _ in 0..3 {
        let event = rig.event();
        let published = intake.publish(&event).await.unwrap();
        assert_eq!(published.deliveries, 1);
        events.push(event.id);
    }

    // Two were leased at publish (max_in_flight 1 × window 2) and run without any step.
    wait_until("the first handed-over request", DEADLINE, || {
        rig.receiver.in_flight() >= 1
    })
    .await;
    rig.receiver.release();
    rig.settle().await;
    let sent: Vec<String> = events[..2].iter().map(ToString::to_string).collect();
    assert_eq!(rig.receiver.webhook_ids(), sent);

    assert_eq!(rig.step().await.claimed, 1, "the third is the claim's");
    rig.settle().await;
    assert_eq!(
        rig.delivery(&events[2]).await.status,
        DeliveryStatus::Succeeded
    );
}
