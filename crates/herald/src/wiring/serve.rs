//! `herald serve`: the checked config, then logging, the data dir and its lock, the admin token,
//! the encryption keys, the store (its leases released, plaintext secrets sealed, keys checked),
//! the listening socket and the signal handler, in that order, then `herald_server::run` until
//! a signal.
//!
//! The order is what a failed start reports: a bad setting is refused before anything is
//! created, a second server on the same data dir is refused before it touches a file there,
//! and the admin token is printed before the store opens, as at every first start so far. This module decides nothing about serving itself; that is `herald_server::run`.

use anyhow::Context;
use herald_server::{Config, ServeArgs};
use tokio::net::TcpListener;

use super::{admin_token, data_dir, encryption_key, lock, logging, signals, store};

/// Runs `herald serve` with these flags until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    logging::init(config.log_format);
    data_dir::prepare(&config.data_dir)?;
    // Held until this function returns, that is until the server has stopped.
    let _lock = lock::acquire(&config.data_dir)?;
    let admin_token = admin_token::load_or_generate(&config)?;
    let keyring = encryption_key::load_or_generate(&config)?;
    let store = store::open(&config, keyring.clone()).await?;
    store::prepare(store.as_ref(), &keyring).await?;
    let listener = TcpListener::bind(config.listen).await.with_context(|| {
        format!(
            "cannot listen on {}; is another server running there? (choose another with --listen)",
            config.listen
        )
    })?;
    admin_token::record_server_url(&config.data_dir, listener.local_addr()?)?;
    if config.dev {
        tracing::warn!("development mode: http:// URLs and loopback targets are allowed");
    }
    // Installed last: until the server runs, a signal should end a slow start (a PostgreSQL
    // that does not answer) at once, as it did before the handler existed.
    let shutdown = signals::shutdown_token_or_exit(
        "stopping: no new attempts start; press Ctrl-C again to exit at once",
    );
    herald_server::run(config, store, admin_token, listener, shutdown).await?;
    Ok(())
}
