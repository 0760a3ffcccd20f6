//! Herald's sender: `herald serve`.
//!
//! - [`config`]: layered settings (defaults, TOML file, `HERALD_*`, flags) and `serve --help`.
//! - [`api`]: the HTTP API, auth, health, metrics endpoint and OpenAPI document.
//! - [`catalog_cache`]: event types and tenants as publishes read them, cached for a second.
//! - [`dispatch`]: the claim loop, attempts, retry schedule, per-subscription limits.
//! - [`outbound`]: the delivery HTTP client and its SSRF guard.
//! - [`metrics`]: Prometheus counters and gauges.
//!
//! [`run`] takes its listener, its store and its shutdown token as arguments, so tests bind
//! port 0 on a temporary store and stop the server explicitly; [`serve_main`] is what the
//! binary calls and only adds process concerns (config, logging, signals, the data dir).

pub mod api;
pub mod catalog_cache;
pub mod config;
pub mod dispatch;
pub mod metrics;
pub mod outbound;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sqlite::SqliteStore;
use herald_store::{DeliveryQueue, Store};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use config::{Config, LogFormat, ServeArgs};

use dispatch::schedule::RetrySchedule;
use dispatch::{Deliverer, DispatchSettings, Dispatcher};
use outbound::{AddressPolicy, Outbound};

/// Runs Herald on `listener` until `shutdown` is cancelled: the API and the dispatcher.
pub async fn run(
    config: Config,
    store: Arc<dyn Store>,
    admin_token: String,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
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
    .context("building the HTTP client")?;
    let metrics = Arc::new(metrics::Metrics::new());
    let deliverer = Arc::new(Deliverer::new(
        Arc::clone(&store),
        outbound,
        RetrySchedule::new(config.retry_schedule.clone()),
        Arc::clone(&metrics),
    ));
    let wake = Arc::new(Notify::new());
    let (handoff, handed) =
        dispatch::handoff::channel(config.lease(), dispatch::lease_window(store.as_ref()));
    let dispatcher = Dispatcher::new(
        Arc::clone(&store),
        Arc::clone(&deliverer),
        Arc::clone(&wake),
        DispatchSettings {
            max_concurrency: 512,
            batch_size: 256,
            lease: config.lease(),
            request_timeout: config.request_timeout,
        },
    )
    .with_handoff(handed);
    let dispatcher = tokio::spawn(dispatcher.run(shutdown.child_token()));

    let state = api::AppState::new(
        store,
        Arc::clone(&config),
        admin_token,
        metrics,
        deliverer,
        wake,
    )
    .with_handoff(handoff);
    let app = api::router(state).layer(tower_http::trace::TraceLayer::new_for_http());
    tracing::info!(address = %listener.local_addr()?, "herald is serving");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("serving HTTP")?;
    shutdown.cancel();
    dispatcher.await.context("the dispatcher panicked")?;
    Ok(())
}

/// `herald serve`: load the config, prepare the data dir, run until SIGINT or SIGTERM.
pub async fn serve_main(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    init_logging(config.log_format);
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let admin_token = admin_token(&config)?;
    let store = open_store(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    if config.dev {
        tracing::warn!("development mode: http:// URLs and loopback targets are allowed");
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    run(config, store, admin_token, listener, shutdown).await
}

/// PostgreSQL when a URL is configured, else the SQLite file in the data dir.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &config.database_url {
        let options = PgOptions {
            max_connections: config.db_max_connections,
            acquire_timeout: config.db_acquire_timeout,
        };
        let store = PgStore::connect(url, options)
            .await
            .context("cannot connect to PostgreSQL (database_url)")?;
        tracing::info!("running on PostgreSQL");
        return Ok(Arc::new(store));
    }
    let db_path = config.data_dir.join("herald.db");
    let store = SqliteStore::open(&db_path)
        .await
        .with_context(|| format!("cannot open the database {}", db_path.display()))?;
    // One SQLite file serves one process, so no lease can belong to a live attempt elsewhere:
    // whatever this process held before a crash is due again now, not after the lease. (On
    // PostgreSQL other nodes may hold live leases: there, leases simply expire.)
    let released = store.release_all_leases().await?;
    if released > 0 {
        tracing::info!(
            released,
            "resuming deliveries that were in flight at the last stop"
        );
    }
    Ok(Arc::new(store))
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing attempts in flight");
    shutdown.cancel();
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The configured admin token, or the one saved in the data dir, or a new one (printed once
/// and saved with mode 0600 so scripts can read it).
fn admin_token(config: &Config) -> anyhow::Result<String> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    let path = config.data_dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let token = new_admin_token();
    write_private(&path, &token)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Generated the admin token (shown once; saved to {}):",
        path.display()
    )?;
    writeln!(out, "\n    {token}\n")?;
    out.flush()?;
    Ok(token)
}

fn new_admin_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    format!(
        "hadm_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}
