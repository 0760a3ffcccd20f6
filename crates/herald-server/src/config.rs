//! Configuration: documented defaults, then a TOML file, then `HERALD_*` environment variables,
//! then flags, each layer overriding the one before. Validation happens once, here, at start,
//! so a bad value stops the server with a [`ConfigError`] that names the setting instead of
//! surfacing later as odd behaviour. This module only reads and checks settings: it never opens
//! the data dir, a database or a port (the binary does that with the checked [`Config`]).
//!
//! clap reads flags and environment variables together (a flag wins over its variable), so
//! [`ServeArgs`] holds both; the file fills only what neither gave. Every tunable of the
//! server lives here, including the dispatcher's `max_concurrency` and `claim_batch_size`,
//! so `herald serve --help` and `docs/configuration.md` list everything an operator can set.

mod address;
mod args;
mod error;
mod limits;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

pub use args::{LogFormat, ServeArgs};
pub use error::ConfigError;
pub use limits::{LimitArgs, Limits};

/// The file layer: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    db_max_connections: Option<u32>,
    db_acquire_timeout: Option<String>,
    dev: Option<bool>,
    retry_schedule: Option<StringOrList>,
    request_timeout: Option<String>,
    allow_networks: Option<StringOrList>,
    admin_token: Option<String>,
    encryption_key_file: Option<PathBuf>,
    log_format: Option<LogFormat>,
    response_body_limit: Option<usize>,
    max_payload_size: Option<usize>,
    default_max_in_flight: Option<u32>,
    max_concurrency: Option<usize>,
    claim_batch_size: Option<u32>,
    default_rate_limit: Option<u32>,
    secret_grace_period: Option<String>,
    relay_hold: Option<String>,
    /// `token_ttl` is the name before issue 11, still read.
    #[serde(alias = "token_ttl")]
    token_lifetime: Option<String>,
    header_read_timeout: Option<String>,
    body_read_timeout: Option<String>,
    max_connections: Option<usize>,
    retention: Option<String>,
    payload_retention: Option<String>,
    // --- limits (issue 13; see `limits.rs`) ---
    max_event_types_per_subscription: Option<usize>,
    max_subscriptions_per_tenant: Option<u64>,
    max_url_length: Option<usize>,
    max_description_length: Option<usize>,
    max_headers_per_subscription: Option<usize>,
    max_header_name_length: Option<usize>,
    max_header_value_length: Option<usize>,
    // --- issue 14 ---
    public_url: Option<String>,
    akoya_profile: Option<bool>,
    operator_tenant: Option<String>,
    smtp_url: Option<String>,
    notice_from: Option<String>,
    notice_digest_interval: Option<String>,
    notice_digest_delay: Option<String>,
}

impl FileConfig {
    /// The limits the file gives.
    fn limits(&self) -> LimitArgs {
        LimitArgs {
            max_event_types_per_subscription: self.max_event_types_per_subscription,
            max_subscriptions_per_tenant: self.max_subscriptions_per_tenant,
            max_url_length: self.max_url_length,
            max_description_length: self.max_description_length,
            max_headers_per_subscription: self.max_headers_per_subscription,
            max_header_name_length: self.max_header_name_length,
            max_header_value_length: self.max_header_value_length,
        }
    }
}

/// Lists may be written `"a,b"` or `["a", "b"]` in the file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn joined(self) -> String {
        match self {
            Self::One(s) => s,
            Self::Many(v) => v.join(","),
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Where data lives (SQLite file, generated admin token).
    pub data_dir: PathBuf,
    /// PostgreSQL URL; `None` means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// PostgreSQL pool size.
    pub db_max_connections: u32,
    /// PostgreSQL pool acquire timeout.
    pub db_acquire_timeout: Duration,
    /// Development mode (http and loopback allowed).
    pub dev: bool,
    /// Delays between retries; its length is the number of retries.
    pub retry_schedule: Vec<Duration>,
    /// Per-attempt timeout.
    pub request_timeout: Duration,
    /// Non-public networks deliveries may reach.
    pub allow_networks: Vec<IpNet>,
    /// The admin token given by the operator, if any.
    pub admin_token: Option<String>,
    /// The file of encryption keys for stored secrets, if given (see `herald_store::sealing`).
    pub encryption_key_file: Option<PathBuf>,
    /// The encryption keys given inline (base64, comma-separated), if any.
    pub encryption_key: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Bytes of response body kept per attempt.
    pub response_body_limit: usize,
    /// Largest payload accepted.
    pub max_payload_size: usize,
    /// Per-subscription in-flight default.
    pub default_max_in_flight: u32,
    /// Attempts in flight at once on this node across all subscriptions: the dispatcher's
    /// global permits, which bound outbound connections and memory whatever the backlog.
    pub max_concurrency: usize,
    /// Deliveries the dispatcher claims per store query: fewer queries under load against
    /// fairer sharing between nodes.
    pub claim_batch_size: u32,
    /// Per-subscription rate default (None: unlimited).
    pub default_rate_limit: Option<u32>,
    /// Grace period of rotated-out secrets.
    pub secret_grace_period: Duration,
    /// How long a relay subscription's deliveries wait for a `herald listen --relay` to
    /// connect before they fail (see docs/relay.md).
    pub relay_hold: Duration,
    /// Lifetime of tenant access tokens, fixed when each is issued.
    pub token_lifetime: Duration,
    /// How long a client may take to send a request's headers: an unfinished request must not
    /// hold a connection (and its slot under `max_connections`) for ever.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body, from the end of its headers: a
    /// total, not an idle timeout, so a body trickled a byte at a time is cut off too.
    pub body_read_timeout: Duration,
    /// Connections served at once; a permit is taken before accepting, so a flood of clients
    /// waits in the kernel's backlog rather than in this process's memory.
    pub max_connections: usize,
    /// Events (with their deliveries and attempts) older than this are deleted; zero keeps
    /// everything.
    pub retention: Duration,
    /// Events older than this keep their row, deliveries and attempts but lose their payload
    /// and their attempts' response bodies; zero (the default) drops nothing before
    /// `retention` deletes the whole event.
    pub payload_retention: Duration,
    /// Per-tenant and per-subscription limits (see `limits.rs`).
    pub limits: Limits,
    /// The base URL subscribers reach this server at, without a trailing slash; thin
    /// payloads point under it. `None` until [`crate::run`] fills it from the listener.
    pub public_url: Option<String>,
    /// Serve the Akoya compatibility API and register Akoya's event types at start.
    pub akoya_profile: bool,
    /// The tenant whose subscriptions receive Herald's operational events (`herald.*`);
    /// `None`: they are not delivered to anyone (docs/notices.md).
    pub operator_tenant: Option<String>,
    /// The SMTP server failure digests go through (`smtp://`, `smtps://`, with user and
    /// password); `None`: no mail.
    pub smtp_url: Option<String>,
    /// The `From` address of failure digests.
    pub notice_from: Option<String>,
    /// At most one failure digest per subscription per this interval.
    pub notice_digest_interval: Duration,
    /// How long a digest waits after its first failure, so a burst goes out as one mail.
    pub notice_digest_delay: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("herald-data"),
            database_url: None,
            db_max_connections: 16,
            db_acquire_timeout: Duration::from_secs(5),
            dev: false,
            retry_schedule: vec![
                Duration::from_secs(5),
                Duration::from_secs(300),
                Duration::from_secs(1800),
            ],
            request_timeout: Duration::from_secs(15),
            allow_networks: Vec::new(),
            admin_token: None,
            encryption_key_file: None,
            encryption_key: None,
            log_format: LogFormat::Text,
            response_body_limit: 4096,
            max_payload_size: 256 * 1024,
            default_max_in_flight: 16,
            max_concurrency: 512,
            claim_batch_size: 256,
            default_rate_limit: None,
            secret_grace_period: Duration::from_secs(24 * 3600),
            relay_hold: Duration::from_secs(72 * 3600),
            token_lifetime: Duration::from_secs(3600),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            retention: Duration::from_secs(30 * 24 * 3600),
            payload_retention: Duration::ZERO,
            limits: Limits::default(),
            public_url: None,
            akoya_profile: false,
            operator_tenant: None,
            smtp_url: None,
            notice_from: None,
            notice_digest_interval: Duration::from_secs(3600),
            notice_digest_delay: Duration::from_secs(60),
        }
    }
}

/// Upper bound of `max_concurrency`: far above what one node's sockets and memory sustain,
/// and far below the most permits a tokio `Semaphore` can hold.
const MAX_CONCURRENCY_LIMIT: usize = 100_000;
/// Upper bound of `max_connections`: below what a tokio `Semaphore` holds, above any
/// process's file descriptor limit.
const MAX_CONNECTIONS_LIMIT: usize = 1_000_000;
/// Upper bound of `claim_batch_size`: one claim query's rows stay a bounded piece of memory.
const CLAIM_BATCH_SIZE_LIMIT: u32 = 10_000;

impl Config {
    /// Layers defaults, the file named by `--config`, and the flags/environment in `args`,
    /// then checks the result.
    pub fn load(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let config = Self::layer(args.clone(), file)?;
        config.validate()?;
        Ok(config)
    }

    /// Flag (or variable) first, then the file, then the default: for each setting.
    fn layer(args: ServeArgs, file: FileConfig) -> Result<Self, ConfigError> {
        let defaults = Config::default();
        let duration = |setting, flag: Option<String>, file: Option<String>, default| {
            duration_setting(setting, flag.or(file), default)
        };
        let limits = Limits::from_args(args.limits.clone().or(file.limits()))?;
        let retry_schedule = args
            .retry_schedule
            .or(file.retry_schedule.map(StringOrList::joined));
        let allow_networks = args
            .allow_networks
            .or(file.allow_networks.map(StringOrList::joined));
        Ok(Config {
            listen: match args.listen.or(file.listen) {
                Some(text) => address::resolve_listen(&text)?,
                None => defaults.listen,
            },
            data_dir: args.data_dir.or(file.data_dir).unwrap_or(defaults.data_dir),
            database_url: args.database_url.or(file.database_url),
            db_max_connections: (args.db_max_connections.or(file.db_max_connections))
                .unwrap_or(defaults.db_max_connections),
            db_acquire_timeout: duration(
                "db_acquire_timeout",
                args.db_acquire_timeout,
                file.db_acquire_timeout,
                defaults.db_acquire_timeout,
            )?,
            dev: args.dev.or(file.dev).unwrap_or(defaults.dev),
            retry_schedule: match retry_schedule {
                Some(text) => parse_schedule(&text)?,
                None => defaults.retry_schedule,
            },
            request_timeout: duration(
                "request_timeout",
                args.request_timeout,
                file.request_timeout,
                defaults.request_timeout,
            )?,
            allow_networks: match allow_networks {
                Some(text) => parse_networks(&text)?,
                None => defaults.allow_networks,
            },
            admin_token: args.admin_token.or(file.admin_token),
            encryption_key_file: args.encryption_key_file.or(file.encryption_key_file),
            encryption_key: args.encryption_key,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            response_body_limit: (args.response_body_limit.or(file.response_body_limit))
                .unwrap_or(defaults.response_body_limit),
            max_payload_size: (args.max_payload_size.or(file.max_payload_size))
                .unwrap_or(defaults.max_payload_size),
            default_max_in_flight: (args.default_max_in_flight.or(file.default_max_in_flight))
                .unwrap_or(defaults.default_max_in_flight),
            max_concurrency: (args.max_concurrency.or(file.max_concurrency))
                .unwrap_or(defaults.max_concurrency),
            claim_batch_size: (args.claim_batch_size.or(file.claim_batch_size))
                .unwrap_or(defaults.claim_batch_size),
            default_rate_limit: (args.default_rate_limit.or(file.default_rate_limit))
                .filter(|&n| n > 0),
            secret_grace_period: duration(
                "secret_grace_period",
                args.secret_grace_period,
                file.secret_grace_period,
                defaults.secret_grace_period,
            )?,
            relay_hold: duration(
                "relay_hold",
                args.relay_hold,
                file.relay_hold,
                defaults.relay_hold,
            )?,
            token_lifetime: duration(
                "token_lifetime",
                args.token_lifetime.or(args.token_ttl),
                file.token_lifetime,
                defaults.token_lifetime,
            )?,
            header_read_timeout: duration(
                "header_read_timeout",
                args.header_read_timeout,
                file.header_read_timeout,
                defaults.header_read_timeout,
            )?,
            body_read_timeout: duration(
                "body_read_timeout",
                args.body_read_timeout,
                file.body_read_timeout,
                defaults.body_read_timeout,
            )?,
            max_connections: (args.max_connections.or(file.max_connections))
                .unwrap_or(defaults.max_connections),
            retention: duration(
                "retention",
                args.retention,
                file.retention,
                defaults.retention,
            )?,
            payload_retention: duration(
                "payload_retention",
                args.payload_retention,
                file.payload_retention,
                defaults.payload_retention,
            )?,
            limits,
            public_url: args
                .public_url
                .or(file.public_url)
                .map(|url| public_url(&url))
                .transpose()?,
            akoya_profile: args
                .akoya_profile
                .or(file.akoya_profile)
                .unwrap_or(defaults.akoya_profile),
            operator_tenant: args.operator_tenant.or(file.operator_tenant),
            smtp_url: args.smtp_url.or(file.smtp_url),
            notice_from: args.notice_from.or(file.notice_from),
            notice_digest_interval: duration(
                "notice_digest_interval",
                args.notice_digest_interval,
                file.notice_digest_interval,
                defaults.notice_digest_interval,
            )?,
            notice_digest_delay: duration(
                "notice_digest_delay",
                args.notice_digest_delay,
                file.notice_digest_delay,
                defaults.notice_digest_delay,
            )?,
        })
    }

    /// How long a claim or a manual attempt holds a delivery: long enough for an attempt
    /// (bounded by the request timeout), its rate-limit slot (at most a second ahead) and
    /// recording it. A crashed node's deliveries are claimed again after this.
    pub fn lease(&self) -> Duration {
        self.request_timeout + Duration::from_secs(15)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let out_of_range = |setting, expected| Err(ConfigError::OutOfRange { setting, expected });
        if self.request_timeout.is_zero() {
            return out_of_range("request_timeout", "greater than zero");
        }
        // A zero lifetime would issue tokens that are refused at once.
        if self.token_lifetime.is_zero() {
            return out_of_range("token_lifetime", "greater than zero");
        }
        // Zero would refuse every request (or, for the cap, accept none).
        if self.header_read_timeout.is_zero() {
            return out_of_range("header_read_timeout", "greater than zero");
        }
        if self.body_read_timeout.is_zero() {
            return out_of_range("body_read_timeout", "greater than zero");
        }
        if !(1..=MAX_CONNECTIONS_LIMIT).contains(&self.max_connections) {
            return out_of_range("max_connections", "between 1 and 1000000");
        }
        if !(1..=1000).contains(&self.default_max_in_flight) {
            return out_of_range(
                "default_max_in_flight",
                "between 1 and 1000 (as max_in_flight in the API)",
            );
        }
        if !(1..=MAX_CONCURRENCY_LIMIT).contains(&self.max_concurrency) {
            return out_of_range("max_concurrency", "between 1 and 100000");
        }
        if !(1..=CLAIM_BATCH_SIZE_LIMIT).contains(&self.claim_batch_size) {
            return out_of_range("claim_batch_size", "between 1 and 10000");
        }
        if self.db_max_connections == 0 {
            return out_of_range("db_max_connections", "at least 1");
        }
        if self.max_payload_size == 0 {
            return out_of_range("max_payload_size", "at least 1 byte");
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::DatabaseUrl);
            }
            // A generated token lives in one node's data dir; the others would not know it.
            if self.admin_token.is_none() {
                return Err(ConfigError::AdminTokenRequired);
            }
            // So would a generated encryption key.
            if self.encryption_key_file.is_none() && self.encryption_key.is_none() {
                return Err(ConfigError::EncryptionKeyRequired);
            }
        }
        if self.encryption_key_file.is_some() && self.encryption_key.is_some() {
            return Err(ConfigError::EncryptionKeyTwice);
        }
        if let Some(token) = &self.admin_token
            && token.len() < 16
        {
            return out_of_range("admin_token", "at least 16 characters long");
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

fn duration_setting(
    setting: &'static str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        Some(text) => parse_duration(setting, &text),
        None => Ok(default),
    }
}

fn parse_duration(setting: &'static str, text: &str) -> Result<Duration, ConfigError> {
    herald_duration::parse(text).map_err(|source| ConfigError::Duration {
        setting,
        value: text.to_owned(),
        source,
    })
}

/// Parses `5s,5m,30m`; an empty string means no retries.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| parse_duration("retry_schedule", part))
        .collect()
}

/// `public_url`: an absolute http(s) URL, kept without its trailing slash so paths append.
fn public_url(text: &str) -> Result<String, ConfigError> {
    let refused = || ConfigError::OutOfRange {
        setting: "public_url",
        expected: "an absolute http:// or https:// URL such as https://herald.example.com",
    };
    let url = url::Url::parse(text).map_err(|_| refused())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(refused());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn parse_networks(text: &str) -> Result<Vec<IpNet>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Network {
                    value: part.to_owned(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_retry_schedule_means_no_retries() {
        assert!(parse_schedule("").unwrap().is_empty());
        assert_eq!(parse_schedule("5s, 1m").unwrap().len(), 2);
        assert!(parse_schedule("5 parsecs").is_err());
    }

    #[test]
    fn slow_client_limits_have_defaults_layer_and_refuse_zero() {
        let defaults = Config::load(&ServeArgs::default()).unwrap();
        assert_eq!(defaults.header_read_timeout, Duration::from_secs(10));
        assert_eq!(defaults.body_read_timeout, Duration::from_secs(30));
        assert_eq!(defaults.max_connections, 1024);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        let file =
            "header_read_timeout = \"2s\"\nbody_read_timeout = \"5s\"\nmax_connections = 8\n";
        std::fs::write(&path, file).unwrap();
        let args = ServeArgs {
            config: Some(path),
            max_connections: Some(3),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.header_read_timeout, Duration::from_secs(2));
        assert_eq!(config.body_read_timeout, Duration::from_secs(5));
        assert_eq!(config.max_connections, 3);
        for (args, setting) in [
            (
                ServeArgs {
                    header_read_timeout: Some("0s".into()),
                    ..ServeArgs::default()
                },
                "header_read_timeout",
            ),
            (
                ServeArgs {
                    body_read_timeout: Some("0s".into()),
                    ..ServeArgs::default()
                },
                "body_read_timeout",
            ),
            (
                ServeArgs {
                    max_connections: Some(0),
                    ..ServeArgs::default()
                },
                "max_connections",
            ),
        ] {
            let error = Config::load(&args).unwrap_err().to_string();
            assert!(error.contains(setting), "{error}");
        }
    }

    #[test]
    fn token_lifetime_is_read_under_its_old_name_too_and_must_not_be_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "token_ttl = \"10m\"\n").unwrap();
        let from_file = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        };
        let config = Config::load(&from_file).unwrap();
        assert_eq!(config.token_lifetime, Duration::from_secs(600));
        let flag = ServeArgs {
            config: Some(path),
            token_lifetime: Some("2h".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&flag).unwrap();
        assert_eq!(config.token_lifetime, Duration::from_secs(7200));
        assert_eq!(Config::default().token_lifetime, Duration::from_secs(3600));
        let zero = ServeArgs {
            token_lifetime: Some("0s".into()),
            ..ServeArgs::default()
        };
        let error = Config::load(&zero).unwrap_err().to_string();
        assert!(error.contains("token_lifetime"), "{error}");
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(
            &path,
            "request_timeout = \"3s\"\nretry_schedule = [\"1s\"]\ndev = true\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            retry_schedule: Some("2s,4s".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.request_timeout, Duration::from_secs(3));
        assert_eq!(config.retry_schedule.len(), 2);
        assert!(config.dev);
        assert_eq!(config.default_max_in_flight, 16);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "retry_shedule = \"1s\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        assert!(Config::load(&args).is_err());
    }

    #[test]
    fn dispatcher_sizes_default_to_512_and_256_and_come_from_file_then_flags() {
        let defaults = Config::load(&ServeArgs::default()).unwrap();
        assert_eq!(defaults.max_concurrency, 512);
        assert_eq!(defaults.claim_batch_size, 256);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "max_concurrency = 64\nclaim_batch_size = 32\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            claim_batch_size: Some(8),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.max_concurrency, 64);
        assert_eq!(config.claim_batch_size, 8);
    }

    #[test]
    fn zero_dispatcher_sizes_are_refused_naming_the_setting() {
        for args in [
            ServeArgs {
                max_concurrency: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                claim_batch_size: Some(0),
                ..ServeArgs::default()
            },
        ] {
            let error = Config::load(&args).unwrap_err();
            let expected = if args.max_concurrency.is_some() {
                "max_concurrency"
            } else {
                "claim_batch_size"
            };
            assert!(
                matches!(error, ConfigError::OutOfRange { setting, .. } if setting == expected),
                "{error}"
            );
        }
    }

    #[test]
    fn a_bad_duration_names_its_setting_and_value() {
        let args = ServeArgs {
            request_timeout: Some("soon".into()),
            ..ServeArgs::default()
        };
        let error = Config::load(&args).unwrap_err();
        assert_eq!(error.to_string(), "invalid request_timeout 'soon'");
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert!(cause.is_some_and(|c| c.contains(herald_duration::FORMS)));
    }

    #[test]
    fn durations_take_bare_seconds_and_units_in_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(
            &path,
            "request_timeout = \"15\"\nretry_schedule = \"250ms, 1m, 30\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            token_lifetime: Some("90".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.request_timeout, Duration::from_secs(15));
        assert_eq!(
            config.retry_schedule,
            [
                Duration::from_millis(250),
                Duration::from_secs(60),
                Duration::from_secs(30)
            ]
        );
        assert_eq!(config.token_lifetime, Duration::from_secs(90));
    }

    #[test]
    fn public_url_loses_its_trailing_slash_and_must_be_http() {
        let args = ServeArgs {
            public_url: Some("https://herald.example.com/".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://herald.example.com")
        );
        let args = ServeArgs {
            public_url: Some("herald.example.com".into()),
            ..ServeArgs::default()
        };
        let error = Config::load(&args).unwrap_err().to_string();
        assert!(error.contains("public_url"), "{error}");
    }

    #[test]
    fn listen_in_the_file_may_name_a_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "listen = \"localhost:8082\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8082)));
    }
}
