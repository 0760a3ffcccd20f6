//! The checked configuration of a receiver, built from [`ListenArgs`].
//!
//! Everything that can be wrong with the flags is found here, before a port is bound: a
//! secret that is not base64, has bad padding or is too short to be a real one, a path without
//! a leading `/`, a forward URL that is not http, a hooks file that does not parse or names a
//! program or directory that is not there. Errors name the flag and never echo a secret.
//!
//! A secret's base64 is diagnosed here rather than in `herald-signature`, whose parser only
//! says yes or no: a person who pasted half a secret needs to hear "cut short", and a short
//! secret is refused although the signature scheme would accept it, because a secret under
//! 24 bytes is almost always a paste that lost its end, not a choice. `--forward-to` and
//! `--hooks` without a secret are refused unless `--insecure-no-verify` says the risk is
//! taken: the receiver listens on a port any web page in the developer's browser can POST to.
//! [`serve`](crate::serve) takes a `Config`, so tests build one from flags and then swap the
//! [`Output`] for in-memory buffers.

use std::time::Duration;

use herald_signature::{PublicKey, Secret, SecretError, Verifier, VerifyingKey};

use crate::ListenArgs;
use crate::hooks::{Hooks, HooksError, Pattern};
use crate::output::Output;

/// Why the flags cannot make a receiver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A `--secret` could not be parsed (the secret itself is not shown).
    #[error(
        "--secret #{position} {reason}; copy the whole secret as the sender shows it \
         (whsec_…)"
    )]
    Secret {
        /// 1-based position among the secrets given.
        position: usize,
        /// What is wrong with it, in words that never quote it.
        reason: String,
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
    /// A `--forward` is not `PATTERN=URL` with an event type pattern and an http(s) URL.
    #[error(
        "--forward `{route}` {reason}; write it as PATTERN=URL, e.g. \
         'consent.*=http://127.0.0.1:3000/consent'"
    )]
    ForwardRoute {
        /// What was given.
        route: String,
        /// Why it was refused.
        reason: String,
    },
    /// `--hooks` names a file that cannot be used.
    #[error(transparent)]
    Hooks(#[from] HooksError),
    /// `--forward-to` or `--hooks` without `--secret`, and without `--insecure-no-verify`.
    #[error(
        "{flag} without --secret would let anyone who can reach this port (a web page in your \
         browser included) trigger it; give the sender's --secret, or pass \
         --insecure-no-verify to accept that risk"
    )]
    Unverified {
        /// The flag that would act on unverified requests.
        flag: &'static str,
    },
}

/// Which browser origins may send requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origins {
    /// Only these (as `scheme://host[:port]`, compared without case); empty: none.
    Only(Vec<String>),
    /// `--allow-origin '*'`.
    Any,
}

impl Origins {
    fn from_flags(flags: &[String]) -> Self {
        if flags.iter().any(|origin| origin.trim() == "*") {
            return Self::Any;
        }
        Self::Only(
            flags
                .iter()
                .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        )
    }

    /// Whether a request with this `Origin` value may go on.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(list) => list
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin.trim())),
        }
    }
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
    /// `--forward` routes: webhooks whose event type matches go to that URL, first match first.
    pub forward_routes: Vec<(Pattern, url::Url)>,
    /// How long the app behind `forward_to` may take.
    pub forward_timeout: Duration,
    /// Commands per event type.
    pub hooks: Option<Hooks>,
    /// Most webhook ids remembered for deduplication.
    pub dedup_capacity: usize,
    /// Most bytes the remembered ids may take (each id's length plus a fixed overhead).
    pub dedup_memory: usize,
    /// Browser origins whose requests are accepted (by default none).
    pub allowed_origins: Origins,
    /// Whether any `content-type` is accepted (by default JSON only).
    pub any_content_type: bool,
    /// Whether a repeated webhook id is answered without acting (`false` with `--no-dedup`).
    pub dedup: bool,
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
                parse_key(text).map_err(|reason| ConfigError::Secret {
                    position: index + 1,
                    reason,
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
        let forward_routes = args
            .forward_routes
            .iter()
            .map(|route| parse_route(route))
            .collect::<Result<Vec<_>, _>>()?;
        let hooks = args.hooks.as_deref().map(Hooks::load).transpose()?;
        // After the file is read, so a missing hooks file is reported as that first. Over the
        // relay there is no port for anyone else to reach: requests come only from the server
        // the listener authenticated.
        refuse_unverified_actions(args, verifier.is_some() || args.relay.is_some())?;

        Ok(Self {
            path: args.path.clone(),
            verifier,
            tolerance: args.tolerance,
            max_body_size: args.max_body_size,
            read_timeout: args.read_timeout,
            forward_to,
            forward_routes,
            forward_timeout: args.forward_timeout,
            hooks,
            dedup_capacity: args.dedup_capacity,
            dedup_memory: args.dedup_memory,
            allowed_origins: Origins::from_flags(&args.allow_origins),
            any_content_type: args.allow_any_content_type,
            dedup: !args.no_dedup,
            shutdown_grace: args.shutdown_grace,
            output: Output::stdio(args.json, args.verbose),
        })
    }

    /// Verifies requests with `secret` alone (a relay session subscription's own, which the
    /// listener learns only when it creates it).
    pub fn with_secret(mut self, secret: &str) -> Result<Self, ConfigError> {
        let key = parse_key(secret).map_err(|reason| ConfigError::Secret {
            position: 1,
            reason,
        })?;
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        self.verifier = Some(Verifier::new(vec![key]).with_tolerance(tolerance));
        Ok(self)
    }

    /// Replaces where records and notices go.
    pub fn with_output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }
}

/// Refuses `--forward-to` and `--hooks` without a secret, unless `--insecure-no-verify`.
fn refuse_unverified_actions(args: &ListenArgs, verified: bool) -> Result<(), ConfigError> {
    if verified || args.insecure_no_verify {
        return Ok(());
    }
    let flag = match (&args.forward_to, &args.hooks) {
        (Some(_), _) => "--forward-to",
        (None, _) if !args.forward_routes.is_empty() => "--forward",
        (None, Some(_)) => "--hooks",
        (None, None) => return Ok(()),
    };
    Err(ConfigError::Unverified { flag })
}

/// The fewest bytes a symmetric secret may decode to (Standard Webhooks secrets are 24 to 64).
pub const MIN_SECRET_BYTES: usize = 24;

/// `whpk_…` is an Ed25519 public key; anything else is a symmetric secret. The error says
/// what is wrong in words that never quote the secret.
fn parse_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    let explain = |error: SecretError| match error {
        SecretError::NotBase64 => "is not valid base64".to_owned(),
        other => format!("cannot be used: {other}"),
    };
    if text.starts_with("whpk_") {
        return PublicKey::parse(text)
            .map(VerifyingKey::from)
            .map_err(explain);
    }
    let encoded = text.strip_prefix("whsec_").unwrap_or(text);
    let decoded = base64_length(encoded)?;
    if decoded < MIN_SECRET_BYTES {
        return Err(format!(
            "decodes to only {decoded} bytes, too short for a signing secret (they are \
             {MIN_SECRET_BYTES} to 64 bytes), so part of it is probably missing"
        ));
    }
    Secret::parse(text).map(VerifyingKey::from).map_err(explain)
}

/// How many bytes `encoded` (standard base64, padded) decodes to, or what is wrong with it.
fn base64_length(encoded: &str) -> Result<usize, String> {
    let data = encoded.trim_end_matches('=');
    let padding = encoded.len() - data.len();
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    if let Some(position) = data.find(|c: char| !alphabet(c)) {
        return Err(format!(
            "has a character that is not base64 at position {} (base64 is A-Z, a-z, 0-9, + \
             and /, with = only at the end)",
            position + 1
        ));
    }
    let needed = (4 - data.len() % 4) % 4;
    if data.len() % 4 == 1 {
        return Err("is cut short: its base64 ends in a stray character".to_owned());
    }
    if padding != needed {
        return Err(format!(
            "has bad base64 padding: it should end in {needed} `=`, not {padding} (often a sign \
             that it was copied only in part)"
        ));
    }
    Ok(data.len() * 3 / 4)
}

/// `PATTERN=URL` of `--forward`.
fn parse_route(text: &str) -> Result<(Pattern, url::Url), ConfigError> {
    let refuse = |reason: String| ConfigError::ForwardRoute {
        route: text.to_owned(),
        reason,
    };
    let (pattern, url) = text
        .split_once('=')
        .ok_or_else(|| refuse("has no `=`".to_owned()))?;
    let pattern = Pattern::parse(pattern).map_err(refuse)?;
    let url = parse_forward_url(url.trim()).map_err(|error| refuse(error.to_string()))?;
    Ok((pattern, url))
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

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn a_whole_secret_of_24_bytes_is_accepted() {
        assert!(parse_key(FULL).is_ok());
        assert_eq!(base64_length("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Ok(24));
    }

    #[test]
    fn a_secret_with_bad_padding_is_refused_saying_so() {
        let reason = parse_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAA").unwrap_err();
        assert!(reason.contains("bad base64 padding"), "{reason}");
        assert!(reason.contains("end in 2 `=`, not 0"), "{reason}");
        let reason = parse_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=").unwrap_err();
        assert!(reason.contains("end in 0 `=`, not 1"), "{reason}");
    }

    #[test]
    fn a_secret_under_24_bytes_is_refused_as_too_short() {
        let reason = parse_key("whsec_MfKQ9r8GKYqrTwjU").unwrap_err();
        assert!(reason.contains("only 12 bytes"), "{reason}");
    }

    #[test]
    fn a_stray_character_or_a_foreign_one_is_named_without_quoting_the_secret() {
        let reason = parse_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA").unwrap_err();
        assert!(reason.contains("cut short"), "{reason}");
        let reason = parse_key("whsec_MfKQ9r8G*YqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert!(reason.contains("position 9"), "{reason}");
        assert!(!reason.contains("MfKQ"), "{reason}");
    }
}
