//! `herald listen --relay URL`: receive a relay subscription's deliveries over an outbound
//! WebSocket to `herald serve`, with no port to expose and no tunnel (docs/relay.md).
//!
//! - `api`: the token (given, or client credentials exchanged) and, with `--events`, the
//!   session subscription created at start and deleted at exit.
//! - `connection`: one connection, each delivery handled by the receiver's own router, so
//!   a relayed request meets exactly what a direct one meets.
//! - `protocol`: the frames.
//!
//! This module only keeps the connection up: after a network loss, a server restart or
//! silence, it reconnects with exponential backoff and jitter, and says so. A handshake the
//! server refuses (bad token, another tenant's subscription) ends it with that sentence.

mod api;
mod connection;
mod protocol;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Config;
use crate::handler::{self, Shared};
use crate::{ListenArgs, ServeError};
use connection::{Ended, Target};

/// The first reconnect waits about this long; each failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two reconnects.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why the relay listener could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// `--relay` is not an http(s) URL.
    #[error("--relay {0}; give the server's URL, e.g. https://herald.example.com")]
    Url(String),
    /// Neither `--token` nor `--client-id`/`--client-secret`.
    #[error(
        "--relay needs credentials: --token (or HERALD_TOKEN), or --client-id and \
         --client-secret"
    )]
    NoCredentials,
    /// Neither `--subscription` nor `--events`.
    #[error(
        "--relay needs --subscription sub_… (a relay subscription) or --events 'PATTERN' (a \
         session subscription created for this run)"
    )]
    NoSubscription,
    /// The server could not be reached at start.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server refused (credentials, subscription).
    #[error("{0}")]
    Refused(String),
    /// The receiver's parts could not be built.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Runs `herald listen --relay` until `shutdown` completes; with `--events`, deletes its
/// session subscription on the way out.
pub async fn run(
    args: &ListenArgs,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    let base = server_url(args.relay.as_deref().unwrap_or_default())?;
    let credentials = args.client_id.as_deref().zip(args.client_secret.as_deref());
    let mut api = api::Api::login(base.clone(), args.token.as_deref(), credentials).await?;
    let (subscription, session, config) = match (&args.subscription, args.events.is_empty()) {
        (Some(id), _) => (id.clone(), None, config),
        (None, false) => {
            let session = api.create_session(&args.events).await?;
            let config = config
                .with_secret(&session.secret)
                .map_err(|error| RelayError::Refused(error.to_string()))?;
            (session.id.clone(), Some(session), config)
        }
        (None, true) => return Err(RelayError::NoSubscription),
    };
    let max_frame = relay_frame_limit(config.max_body_size);
    let shared = Arc::new(Shared::new(config)?);
    if let Some(session) = &session {
        if args.print_secret {
            shared.output.line(&session.secret);
        }
        shared.output.notice(&format!(
            "herald listen: created session subscription {} for {}; its signing secret is {} \
             (it is deleted when this exits)",
            session.id,
            args.events.join(", "),
            session.secret
        ));
    }
    let mut url = base
        .join("api/v1/relay")
        .map_err(|error| RelayError::Url(error.to_string()))?;
    url.query_pairs_mut()
        .append_pair("subscription", &subscription);
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    // Both schemes are special in `url`, so switching between them cannot fail.
    let _ = url.set_scheme(scheme);
    let mut target = Target {
        url,
        token: api.token().to_owned(),
        max_frame,
    };
    let stop = CancellationToken::new();
    let outcome = {
        let kept = keep_connected(&mut target, &mut api, &shared, args.path.as_deref(), &stop);
        tokio::pin!(kept);
        tokio::select! {
            outcome = &mut kept => outcome,
            () = shutdown => {
                stop.cancel();
                kept.await
            }
        }
    };
    let tracker = shared.tracker.clone();
    tracker.close();
    let _ = tokio::time::timeout(args.shutdown_grace, tracker.wait()).await;
    if let Some(session) = session {
        match api.delete_session(&session.id).await {
            Ok(()) => shared.output.notice(&format!(
                "herald listen: deleted session subscription {}",
                session.id
            )),
            Err(error) => shared.output.notice(&format!(
                "herald listen: could not delete session subscription {}: {error}",
                session.id
            )),
        }
    }
    outcome
}

/// Connects, and reconnects after every loss, until `stop`.
async fn keep_connected(
    target: &mut Target,
    api: &mut api::Api,
    shared: &Arc<Shared>,
    path: Option<&str>,
    stop: &CancellationToken,
) -> Result<(), RelayError> {
    let router = handler::router(Arc::clone(shared));
    let path = path.unwrap_or("/");
    let host = target.url.host_str().unwrap_or("the server").to_owned();
    shared
        .output
        .notice(&format!("herald listen: connecting to the relay at {host}"));
    let mut backoff = FIRST_BACKOFF;
    let mut failures = 0u32;
    loop {
        match connection::run(target, shared, &router, path, stop).await? {
            Ended::Stopped => return Ok(()),
            Ended::Lost { reason, attached } => {
                if attached {
                    backoff = FIRST_BACKOFF;
                    failures = 0;
                }
                failures += 1;
                let wait = jittered(backoff);
                shared.output.notice(&format!(
                    "herald listen: relay connection lost ({reason}); reconnecting in {:.1}s \
                     (try {failures})",
                    wait.as_secs_f64()
                ));
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                // The token may have expired meanwhile; a failed refresh is retried next time.
                match api.refresh().await {
                    Ok(()) => api.token().clone_into(&mut target.token),
                    Err(error) => shared.output.notice(&format!(
                        "herald listen: could not get a fresh token: {error}"
                    )),
                }
            }
        }
    }
}

/// `wait` ± 25 %, so listeners cut off together do not reconnect together.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(rand::thread_rng().gen_range(0.75..1.25))
}

/// The largest frame accepted from the server: a body of `--max-body-size` in base64 (4/3 of
/// it), plus room for the headers and the frame's own fields.
pub(crate) fn relay_frame_limit(max_body_size: usize) -> usize {
    max_body_size
        .saturating_mul(4)
        .div_ceil(3)
        .saturating_add(256 * 1024)
}

fn server_url(text: &str) -> Result<Url, RelayError> {
    let mut url =
        Url::parse(text).map_err(|error| RelayError::Url(format!("`{text}`: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RelayError::Url(format!(
            "`{text}` is not an http:// or https:// URL"
        )));
    }
    // A base ending in `/` so that joining keeps any path prefix.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}
