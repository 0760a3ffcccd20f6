//! The checked configuration of a receiver, built from [`ListenArgs`].
//!
//! Everything that can be wrong with the flags is found here, before a port is bound: a
//! secret that is not base64, a path without a leading `/`, a forward URL that is not http,
//! a hooks file that does not parse. Errors name the flag and never echo a secret.
//! [`serve`](crate::serve) takes a `Config`, so tests build one from flags and then swap the
//! [`Output`] for in-memory buffers.

use std::time::Duration;

use herald_signature::{PublicKey, Secret, SecretError, Verifier, VerifyingKey};

use crate::ListenArgs;
use crate::hooks::{Hooks, HooksError};
use crate::output::Output;

/// Why the flags cannot make a receiver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A `--secret` could not be parsed (the secret itself is not shown).
    #[error("--secret #{position} is not a valid secret: {source}")]
    Secret {
        /// 1-based position among the secrets given.
        position: usize,
        /// Why.
        source: SecretError,
    },
    /// `--path` does not start with `/`.
    #[error("--path must start with `/`, as in /webhooks (got `{0}`)")]
    Path(String),
    /// `--forward-to` is not an http(s) URL.
    #[error("--forward-to `{url}` is not an http:// or https:// URL: {reason}")]
    ForwardUrl {
        /// What was given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// `--hooks` names a file that cannot be used.
    #[error(transparent)]
    Hooks(#[from] HooksError),
}

/// Everything a receiver needs, checked.
#[derive(Debug)]
pub struct Config {
    /// Accept only this path (`None`: any path).
    pub path: Option<String>,
    /// Checks signatures; `None` when no secret was given (requests are `unverified`).
    pub verifier: Option<Verifier>,
    /// Timestamp tolerance, also the deduplication window.
    pub tolerance: Duration,
    /// Larger bodies get 413.
    pub max_body_size: usize,
    /// Time allowed for headers, then for the body, before 408.
    pub read_timeout: Duration,
    /// Where accepted webhooks are forwarded.
    pub forward_to: Option<url::Url>,
    /// How long the app behind `forward_to` may take.
    pub forward_timeout: Duration,
    /// Commands per event type.
    pub hooks: Option<Hooks>,
    /// Most webhook ids remembered for deduplication.
    pub dedup_capacity: usize,
    /// Time given to in-flight requests and commands at shutdown.
    pub shutdown_grace: Duration,
    /// Where records and notices go.
    pub output: Output,
}

impl Config {
    /// Checks the flags; output goes to stdout (records) and stderr (notices).
    pub fn from_args(args: &ListenArgs) -> Result<Self, ConfigError> {
        let keys = args
            .secrets
            .iter()
            .filter(|text| !text.trim().is_empty())
            .enumerate()
            .map(|(index, text)| {
                parse_key(text).map_err(|source| ConfigError::Secret {
                    position: index + 1,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tolerance_seconds = i64::try_from(args.tolerance.as_secs()).unwrap_or(i64::MAX);
        let verifier =
            (!keys.is_empty()).then(|| Verifier::new(keys).with_tolerance(tolerance_seconds));

        if let Some(path) = &args.path
            && !path.starts_with('/')
        {
            return Err(ConfigError::Path(path.clone()));
        }
        let forward_to = args
            .forward_to
            .as_deref()
            .map(parse_forward_url)
            .transpose()?;
        let hooks = args.hooks.as_deref().map(Hooks::load).transpose()?;

        Ok(Self {
            path: args.path.clone(),
            verifier,
            tolerance: args.tolerance,
            max_body_size: args.max_body_size,
            read_timeout: args.read_timeout,
            forward_to,
            forward_timeout: args.forward_timeout,
            hooks,
            dedup_capacity: args.dedup_capacity,
            shutdown_grace: args.shutdown_grace,
            output: Output::stdio(args.json, args.verbose),
        })
    }

    /// Replaces where records and notices go.
    pub fn with_output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }
}

/// `whpk_…` is an Ed25519 public key; anything else is a symmetric secret.
fn parse_key(text: &str) -> Result<VerifyingKey, SecretError> {
    if text.trim().starts_with("whpk_") {
        PublicKey::parse(text).map(VerifyingKey::from)
    } else {
        Secret::parse(text).map(VerifyingKey::from)
    }
}

fn parse_forward_url(text: &str) -> Result<url::Url, ConfigError> {
    let refuse = |reason: String| ConfigError::ForwardUrl {
        url: text.to_owned(),
        reason,
    };
    let url = url::Url::parse(text).map_err(|err| refuse(err.to_string()))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(refuse(format!("the scheme is `{other}`"))),
    }
}
