//! Configuration: documented defaults, then a TOML file, then `HERALD_*` environment variables,
//! then flags, each layer overriding the one before. Validation happens once, here, at start,
//! so a bad value stops the server with a message instead of surfacing later as odd behaviour.
//!
//! clap reads flags and environment variables together (a flag wins over its variable); the
//! file fills only what neither gave.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::builder::BoolishValueParser;
use ipnet::IpNet;
use serde::Deserialize;

/// `herald serve`: run the sender (HTTP API and dispatcher), on SQLite or PostgreSQL.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    after_help = "Each setting can also come from a TOML file (--config) using the flag's name with \
underscores (e.g. retry_schedule = \"5s,5m,30m\"). Precedence: flag > environment > file > default."
)]
pub struct ServeArgs {
    /// TOML configuration file; its keys are the flag names with underscores.
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port the HTTP API listens on. [default: 127.0.0.1:8080]
    #[arg(long, env = "HERALD_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Directory for the SQLite database and the generated admin token. [default: ./herald-data]
    #[arg(long, env = "HERALD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Run on PostgreSQL instead of the embedded SQLite file (postgres://user:pass@host/db).
    /// Every node given the same URL shares the work. [default: none, SQLite in --data-dir]
    #[arg(
        long,
        env = "HERALD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// PostgreSQL connections per node (the API and the dispatcher share them). [default: 16]
    #[arg(long, env = "HERALD_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,

    /// How long a request waits for a free PostgreSQL connection before failing with 503.
    /// [default: 5s]
    #[arg(long, env = "HERALD_DB_ACQUIRE_TIMEOUT", value_name = "DURATION")]
    pub db_acquire_timeout: Option<String>,

    /// Development mode: allows http:// subscription URLs and loopback targets (127.0.0.0/8,
    /// ::1). Never use it in production. [default: false]
    #[arg(long, env = "HERALD_DEV", num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub dev: Option<bool>,

    /// Delays between retries after a failed first attempt, comma-separated (each gets ±10 %
    /// jitter). An empty value means no retries. [default: 5s,5m,30m]
    #[arg(long, env = "HERALD_RETRY_SCHEDULE", value_name = "DURATIONS")]
    pub retry_schedule: Option<String>,

    /// How long one delivery attempt may take, connection to last byte. [default: 15s]
    #[arg(long, env = "HERALD_REQUEST_TIMEOUT", value_name = "DURATION")]
    pub request_timeout: Option<String>,

    /// Networks (CIDR, comma-separated) that deliveries may reach even though they are not
    /// public, e.g. 10.1.0.0/16 for an internal subscriber. [default: none]
    #[arg(long, env = "HERALD_ALLOW_NETWORKS", value_name = "CIDRS")]
    pub allow_networks: Option<String>,

    /// Use this admin token instead of generating one at first start.
    #[arg(
        long,
        env = "HERALD_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// Log format: text (for people) or json (one object per line). [default: text]
    #[arg(long, env = "HERALD_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Bytes of each response body kept with its attempt. [default: 4096]
    #[arg(long, env = "HERALD_RESPONSE_BODY_LIMIT", value_name = "BYTES")]
    pub response_body_limit: Option<usize>,

    /// Largest accepted event payload, in bytes; larger ones get 413. [default: 262144]
    #[arg(long, env = "HERALD_MAX_PAYLOAD_SIZE", value_name = "BYTES")]
    pub max_payload_size: Option<usize>,

    /// Requests in flight per subscription when the subscription does not set its own.
    /// [default: 16]
    #[arg(long, env = "HERALD_DEFAULT_MAX_IN_FLIGHT", value_name = "N")]
    pub default_max_in_flight: Option<u32>,

    /// Requests per second given to subscriptions created without their own limit; 0 means
    /// unlimited. [default: 0]
    #[arg(long, env = "HERALD_DEFAULT_RATE_LIMIT", value_name = "N")]
    pub default_rate_limit: Option<u32>,

    /// How long a rotated-out signing secret keeps signing beside the new one. [default: 24h]
    #[arg(long, env = "HERALD_SECRET_GRACE_PERIOD", value_name = "DURATION")]
    pub secret_grace_period: Option<String>,

    /// Lifetime of tenant access tokens issued at /oauth2/token. [default: 1h]
    #[arg(long, env = "HERALD_TOKEN_TTL", value_name = "DURATION")]
    pub token_ttl: Option<String>,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The file layer: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    db_max_connections: Option<u32>,
    db_acquire_timeout: Option<String>,
    dev: Option<bool>,
    retry_schedule: Option<StringOrList>,
    request_timeout: Option<String>,
    allow_networks: Option<StringOrList>,
    admin_token: Option<String>,
    log_format: Option<LogFormat>,
    response_body_limit: Option<usize>,
    max_payload_size: Option<usize>,
    default_max_in_flight: Option<u32>,
    default_rate_limit: Option<u32>,
    secret_grace_period: Option<String>,
    token_ttl: Option<String>,
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
    /// Log format.
    pub log_format: LogFormat,
    /// Bytes of response body kept per attempt.
    pub response_body_limit: usize,
    /// Largest payload accepted.
    pub max_payload_size: usize,
    /// Per-subscription in-flight default.
    pub default_max_in_flight: u32,
    /// Per-subscription rate default (None: unlimited).
    pub default_rate_limit: Option<u32>,
    /// Grace period of rotated-out secrets.
    pub secret_grace_period: Duration,
    /// Lifetime of tenant access tokens.
    pub token_ttl: Duration,
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
            log_format: LogFormat::Text,
            response_body_limit: 4096,
            max_payload_size: 256 * 1024,
            default_max_in_flight: 16,
            default_rate_limit: None,
            secret_grace_period: Duration::from_secs(24 * 3600),
            token_ttl: Duration::from_secs(3600),
        }
    }
}

impl Config {
    /// Layers defaults, the file named by `--config`, and the flags/environment in `args`.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let defaults = Config::default();
        let retry_schedule = args
            .retry_schedule
            .clone()
            .or(file.retry_schedule.map(StringOrList::joined));
        let allow_networks = args
            .allow_networks
            .clone()
            .or(file.allow_networks.map(StringOrList::joined));
        let config = Config {
            listen: args.listen.or(file.listen).unwrap_or(defaults.listen),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or(defaults.data_dir),
            database_url: args.database_url.clone().or(file.database_url),
            db_max_connections: args
                .db_max_connections
                .or(file.db_max_connections)
                .unwrap_or(defaults.db_max_connections),
            db_acquire_timeout: duration_setting(
                "db_acquire_timeout",
                args.db_acquire_timeout
                    .as_ref()
                    .or(file.db_acquire_timeout.as_ref()),
                defaults.db_acquire_timeout,
            )?,
            dev: args.dev.or(file.dev).unwrap_or(defaults.dev),
            retry_schedule: match retry_schedule {
                Some(text) => parse_schedule(&text).context("invalid retry_schedule")?,
                None => defaults.retry_schedule,
            },
            request_timeout: duration_setting(
                "request_timeout",
                args.request_timeout
                    .as_ref()
                    .or(file.request_timeout.as_ref()),
                defaults.request_timeout,
            )?,
            allow_networks: match allow_networks {
                Some(text) => parse_networks(&text).context("invalid allow_networks")?,
                None => defaults.allow_networks,
            },
            admin_token: args.admin_token.clone().or(file.admin_token),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            response_body_limit: args
                .response_body_limit
                .or(file.response_body_limit)
                .unwrap_or(defaults.response_body_limit),
            max_payload_size: args
                .max_payload_size
                .or(file.max_payload_size)
                .unwrap_or(defaults.max_payload_size),
            default_max_in_flight: args
                .default_max_in_flight
                .or(file.default_max_in_flight)
                .unwrap_or(defaults.default_max_in_flight),
            default_rate_limit: args
                .default_rate_limit
                .or(file.default_rate_limit)
                .filter(|&n| n > 0),
            secret_grace_period: duration_setting(
                "secret_grace_period",
                args.secret_grace_period
                    .as_ref()
                    .or(file.secret_grace_period.as_ref()),
                defaults.secret_grace_period,
            )?,
            token_ttl: duration_setting(
                "token_ttl",
                args.token_ttl.as_ref().or(file.token_ttl.as_ref()),
                defaults.token_ttl,
            )?,
        };
        config.validate()?;
        Ok(config)
    }

    /// How long a claim or a manual attempt holds a delivery: long enough for an attempt
    /// (bounded by the request timeout), its rate-limit slot (at most a second ahead) and
    /// recording it. A crashed node's deliveries are claimed again after this.
    pub fn lease(&self) -> Duration {
        self.request_timeout + Duration::from_secs(15)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.request_timeout.is_zero() {
            bail!("request_timeout must be greater than zero");
        }
        if self.default_max_in_flight == 0 || self.default_max_in_flight > 1000 {
            bail!("default_max_in_flight must be between 1 and 1000 (as max_in_flight in the API)");
        }
        if self.db_max_connections == 0 {
            bail!("db_max_connections must be at least 1");
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("database_url must be a postgres:// URL");
            }
            // A generated token lives in one node's data dir; the others would not know it.
            if self.admin_token.is_none() {
                bail!(
                    "with database_url, set admin_token (--admin-token or HERALD_ADMIN_TOKEN) to \
                     the same value on every node"
                );
            }
        }
        if self.max_payload_size == 0 {
            bail!("max_payload_size must be at least 1 byte");
        }
        if let Some(token) = &self.admin_token
            && token.len() < 16
        {
            bail!("admin_token must be at least 16 characters long");
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

fn duration_setting(
    name: &str,
    value: Option<&String>,
    default: Duration,
) -> anyhow::Result<Duration> {
    match value {
        Some(text) => humantime::parse_duration(text.trim())
            .with_context(|| format!("invalid {name} '{text}' (expected e.g. 15s, 2m, 1h)")),
        None => Ok(default),
    }
}

/// Parses `5s,5m,30m`; an empty string means no retries.
pub fn parse_schedule(text: &str) -> anyhow::Result<Vec<Duration>> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            humantime::parse_duration(part)
                .with_context(|| format!("'{part}' is not a duration (expected e.g. 5s, 5m, 1h)"))
        })
        .collect()
}

fn parse_networks(text: &str) -> anyhow::Result<Vec<IpNet>> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(IpNet::from))
                .with_context(|| format!("'{part}' is not a CIDR network such as 10.0.0.0/8"))
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
}
