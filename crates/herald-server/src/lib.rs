//! Herald's sender as a library: everything `herald serve` runs, and nothing of the process
//! around it.
//!
//! - [`config`]: layered settings (defaults, TOML file, `HERALD_*`, flags) and `serve --help`.
//! - [`api`]: the HTTP API, auth, health, metrics endpoint and OpenAPI document.
//! - [`akoya`]: the Akoya profile, a compatibility API over Herald's own subscriptions.
//! - [`catalog_cache`]: event types and tenants as publishes read them, cached for a second;
//!   it wraps the store's `Catalog` half only.
//! - [`dispatch`]: the dispatcher (a `step` on a `Clock`, repeated by `run`), the publish
//!   `Intake`, attempts, retry schedule, per-subscription limits; it sees the store's
//!   `DeliveryQueue` half only. How a delivery moves: `dispatch/lease.rs`.
//! - [`hub`]: the Hub, the web dashboard served at `/hub` beside the API (server-rendered
//!   pages, sessions in the store, CSRF-checked forms).
//! - [`outbound`]: the delivery HTTP client and its SSRF guard.
//! - [`relay`]: relay subscriptions' deliveries over a `herald listen --relay` WebSocket.
//! - [`metrics`]: Prometheus counters and gauges; [`certificate_expiry`] sets the client
//!   certificates' expiry gauges from the store.
//! - [`operational`]: Herald's own `herald.*` event types.
//! - [`notices`]: failure notices: `herald.delivery.failed` to the operator tenant and
//!   e-mail digests to a subscription's contact.
//! - [`token_purge`]: the background purge of expired access tokens.
//! - [`retention`]: the background deletion of events older than `retention`.
//! - [`recoveries`]: recoveries in the background, and the sweep that resumes interrupted
//!   ones.
//! - [`server`]: how the listener is served: the connection cap, the header-read timeout and
//!   graceful shutdown (the body-read deadline is a layer of [`api`]).
//!
//! [`run`] takes its config, store, admin token, listener and shutdown token as arguments, so
//! tests bind port 0 on a temporary store and stop the server explicitly. This crate never
//! installs signal handlers or a log subscriber, never touches the data dir and never chooses
//! a store: those are process concerns, and the `herald` binary owns them (its `wiring`
//! module), so a library user or a test can run several servers in one process. Errors are
//! typed ([`RunError`], [`ConfigError`]) and carry what went wrong and what to do.

pub mod akoya;
pub mod api;
pub mod catalog_cache;
pub mod certificate_expiry;
pub mod config;
pub mod dispatch;
pub mod hub;
pub mod metrics;
pub mod notices;
pub mod operational;
pub mod outbound;
pub mod recoveries;
pub mod relay;
pub mod retention;
pub mod server;
pub mod token_purge;

use std::sync::Arc;

use herald_store::{Catalog, DeliveryQueue, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, ConfigError, LogFormat, ServeArgs};

use dispatch::schedule::RetrySchedule;
use dispatch::{Clock, Deliverer, DispatchSettings, Dispatcher, SystemClock};
use outbound::{AddressPolicy, Outbound};

/// Why [`run`] stopped before its shutdown token asked it to, or could not stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The delivery HTTP client could not be built (TLS or resolver setup of this machine).
    #[error("cannot build the delivery HTTP client; check the machine's TLS setup")]
    HttpClient(#[source] reqwest::Error),
    /// The listener given to [`run`] has no local address (it is not a bound socket).
    #[error("cannot read the address of the HTTP listener")]
    ListenerAddress(#[source] std::io::Error),
    /// The dispatcher task panicked: a bug. Deliveries it held are claimed again after their
    /// lease.
    #[error("the dispatcher stopped unexpectedly (a bug: please report it with the log)")]
    Dispatcher(#[source] tokio::task::JoinError),
    /// The Akoya profile's event types could not be registered (the store failed at start).
    #[error("cannot register the Akoya profile's event types; check the store")]
    AkoyaEventTypes(#[source] herald_store::StoreError),
    /// The operational event types could not be registered (the store failed at start).
    #[error("cannot register Herald's operational event types; check the store")]
    OperationalEventTypes(#[source] herald_store::StoreError),
    /// The failure notice settings cannot be used.
    #[error(transparent)]
    Notices(#[from] notices::MailError),
    /// The task failing relay deliveries past `relay_hold` panicked: a bug.
    #[error("the relay hold sweep stopped unexpectedly (a bug: please report it with the log)")]
    RelayHold(#[source] tokio::task::JoinError),
    /// The task purging expired access tokens panicked: a bug.
    #[error("the access token purge stopped unexpectedly (a bug: please report it with the log)")]
    TokenPurge(#[source] tokio::task::JoinError),
    /// The retention task panicked.
    #[error("retention stopped unexpectedly (a bug: please report it with the log)")]
    Retention(#[source] tokio::task::JoinError),
}

/// Runs Herald on `listener` until `shutdown` is cancelled: the API and the dispatcher.
pub async fn run(
    config: Config,
    store: Arc<dyn Store>,
    admin_token: String,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let address = listener.local_addr().map_err(RunError::ListenerAddress)?;
    let mut config = config;
    // Thin payloads point under the public URL; without one, the address actually bound.
    config
        .public_url
        .get_or_insert_with(|| format!("http://{address}"));
    let config = Arc::new(config);
    let mut allow = config.allow_networks.clone();
    if config.dev {
        allow.extend(
            ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse::<ipnet::IpNet>().ok()),
        );
    }
    let outbound = Outbound::new(
        AddressPolicy::new(allow),
        config.dev,
        config.request_timeout,
        config.response_body_limit,
    )
    .map_err(RunError::HttpClient)?;
    if config.akoya_profile {
        akoya::register_event_types(store.as_ref())
            .await
            .map_err(RunError::AkoyaEventTypes)?;
    }
    operational::register(store.as_ref())
        .await
        .map_err(RunError::OperationalEventTypes)?;
    let (failures, failure_queue) = notices::channel();
    let metrics = Arc::new(metrics::Metrics::new());
    // The dispatcher's side sees only the delivery queue; the API gets both halves.
    let queue: Arc<dyn DeliveryQueue> = Arc::clone(&store) as Arc<dyn DeliveryQueue>;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let relay = Arc::new(relay::RelayHub::new(
        Arc::clone(&queue),
        Arc::clone(&clock),
        relay::RelaySettings {
            hold: config.relay_hold,
            request_timeout: config.request_timeout,
            response_body_limit: config.response_body_limit,
        },
        shutdown.child_token(),
    ));
    let deliverer = Arc::new(
        Deliverer::new(
            Arc::clone(&queue),
            outbound,
            RetrySchedule::new(config.retry_schedule.clone()),
            Arc::clone(&metrics),
            Arc::clone(&clock),
        )
        .with_public_url(config.public_url.clone().unwrap_or_default())
        .with_failure_sink(failures)
        .with_relay(Arc::clone(&relay)),
    );
    let dispatcher = Dispatcher::new(
        queue,
        Arc::clone(&deliverer),
        clock,
        DispatchSettings {
            max_concurrency: config.max_concurrency,
            batch_size: config.claim_batch_size,
            lease: config.lease(),
            request_timeout: config.request_timeout,
        },
    );
    let intake = dispatcher.intake();
    let notice_tasks = notices::start(
        &config,
        failure_queue,
        Arc::clone(&store),
        intake.clone(),
        shutdown.child_token(),
    )?;
    let dispatcher = tokio::spawn(dispatcher.run(shutdown.child_token()));
    let certificates = tokio::spawn(certificate_expiry::run(
        Arc::clone(&store) as Arc<dyn Catalog>,
        Arc::clone(&metrics),
        shutdown.child_token(),
    ));
    let recoveries = tokio::spawn(recoveries::run(
        Arc::clone(&store) as Arc<dyn DeliveryQueue>,
        intake.clone(),
        shutdown.child_token(),
    ));
    let relay_hold = tokio::spawn(relay::hold::run(relay, shutdown.child_token()));
    let purge = tokio::spawn(token_purge::run(
        Arc::clone(&store) as Arc<dyn Catalog>,
        shutdown.child_token(),
    ));

    let retention = tokio::spawn(retention::run(
        Arc::clone(&store) as Arc<dyn DeliveryQueue>,
        Arc::clone(&metrics),
        retention::Policy {
            retention: config.retention,
            payload_retention: config.payload_retention,
        },
        shutdown.child_token(),
    ));

    let state = api::AppState::new(
        store,
        Arc::clone(&config),
        admin_token,
        metrics,
        deliverer,
        intake,
    );
    // Live streams end with the server, so a graceful shutdown never waits on a client.
    let streams = api::LiveStreams::new(shutdown.child_token());
    let app = api::router(state)
        .layer(axum::Extension(streams))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    tracing::info!(%address, "herald is serving");
    let limits = server::ConnectionLimits {
        header_read_timeout: config.header_read_timeout,
        max_connections: config.max_connections,
    };
    server::serve(listener, app, limits, shutdown.clone()).await;
    shutdown.cancel();
    dispatcher.await.map_err(RunError::Dispatcher)?;
    purge.await.map_err(RunError::TokenPurge)?;
    for task in notice_tasks {
        if let Err(error) = task.await {
            tracing::error!(%error, "a failure notice task stopped unexpectedly");
        }
    }
    relay_hold.await.map_err(RunError::RelayHold)?;
    retention.await.map_err(RunError::Retention)?;
    if let Err(error) = certificates.await {
        tracing::error!(%error, "the client certificates' expiry scan stopped unexpectedly");
    }
    if let Err(error) = recoveries.await {
        tracing::error!(%error, "the recoveries' sweep stopped unexpectedly");
    }
    Ok(())
}
