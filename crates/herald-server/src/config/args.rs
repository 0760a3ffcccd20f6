//! The flags of `herald serve` ([`ServeArgs`]): every setting, its `HERALD_*` variable and the
//! help text that documents it. Each is optional here, so [`Config::load`](super::Config::load)
//! can tell "not given" from "given the default" when it layers the file underneath; the
//! defaults are stated in the help (`[default: …]`) and applied in `Config::default`.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use serde::Deserialize;

/// `herald serve`: run the sender (HTTP API and dispatcher), on SQLite or PostgreSQL.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    after_help = "Each setting can also come from a TOML file (--config) using the flag's name with \
underscores (e.g. retry_schedule = \"5s,5m,30m\"). Precedence: flag > environment > file > default.

A DURATION is seconds (15) or a number and a unit (250ms, 15s, 1m, 2h, 1h30m)."
)]
pub struct ServeArgs {
    /// TOML configuration file; its keys are the flag names with underscores.
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port the HTTP API listens on: IP:port, or host:port (resolved once, at
    /// start; IPv4 preferred). [default: 127.0.0.1:8080]
    #[arg(long, env = "HERALD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

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

    /// PostgreSQL connections per node, shared by the API and the dispatcher; from 6 on,
    /// publish and outcome batches keep 3 of them as their own. [default: 16]
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

    /// File of encryption keys for the secrets stored in the database: one base64 32-byte key
    /// per line, the first sealing, every one opening (rotation: put a new key first, keep
    /// the old after it, run `herald admin reencrypt`, then drop the old). [default: on
    /// SQLite, DIR/encryption-key, generated at first start; PostgreSQL requires a key]
    #[arg(long, env = "HERALD_ENCRYPTION_KEY_FILE", value_name = "FILE")]
    pub encryption_key_file: Option<PathBuf>,

    /// The encryption keys themselves instead of a file (base64, comma-separated, the first
    /// sealing). Prefer the variable to the flag, which other users can see in `ps`.
    #[arg(
        long,
        env = "HERALD_ENCRYPTION_KEY",
        value_name = "KEYS",
        hide_env_values = true
    )]
    pub encryption_key: Option<String>,

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

    /// Delivery attempts in flight at once on this node, across all subscriptions (each
    /// subscription is also held to its own max_in_flight). Raise it when many subscriptions
    /// are busy at once; lower it to bound outbound connections and memory. [default: 512]
    #[arg(long, env = "HERALD_MAX_CONCURRENCY", value_name = "N")]
    pub max_concurrency: Option<usize>,

    /// Deliveries the dispatcher claims from the store per query. Larger batches mean fewer
    /// queries under load; smaller ones share work more evenly between nodes on one
    /// PostgreSQL database. [default: 256]
    #[arg(long, env = "HERALD_CLAIM_BATCH_SIZE", value_name = "N")]
    pub claim_batch_size: Option<u32>,

    /// Requests per second given to subscriptions created without their own limit; 0 means
    /// unlimited. [default: 0]
    #[arg(long, env = "HERALD_DEFAULT_RATE_LIMIT", value_name = "N")]
    pub default_rate_limit: Option<u32>,

    /// How long a rotated-out signing secret keeps signing beside the new one. [default: 24h]
    #[arg(long, env = "HERALD_SECRET_GRACE_PERIOD", value_name = "DURATION")]
    pub secret_grace_period: Option<String>,

    /// How long a relay subscription's deliveries wait for `herald listen --relay` to connect;
    /// past it, with no listener connected since, they fail ("no relay client was connected
    /// for …"). [default: 72h]
    #[arg(long, env = "HERALD_RELAY_HOLD", value_name = "DURATION")]
    pub relay_hold: Option<String>,

    /// Lifetime of tenant access tokens issued at /oauth2/token (and by `herald login`).
    /// [default: 1h]
    #[arg(long, env = "HERALD_TOKEN_LIFETIME", value_name = "DURATION")]
    pub token_lifetime: Option<String>,

    /// How long a client may take to send a request's headers (a connection that has not
    /// finished them by then is closed). [default: 10s]
    #[arg(long, env = "HERALD_HEADER_READ_TIMEOUT", value_name = "DURATION")]
    pub header_read_timeout: Option<String>,

    /// How long a client may take to send a request's whole body, counted from the end of its
    /// headers; a slower body is refused with 408 and the connection closed. [default: 30s]
    #[arg(long, env = "HERALD_BODY_READ_TIMEOUT", value_name = "DURATION")]
    pub body_read_timeout: Option<String>,

    /// HTTP connections the API serves at once; further clients wait in the listen backlog
    /// until one closes. [default: 1024]
    #[arg(long, env = "HERALD_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Events older than this are deleted, with their deliveries, attempts and idempotency
    /// keys (never one with a delivery still pending); 0 keeps everything. A tenant's own
    /// retention (`herald tenants update --retention`) overrides it. [default: 30d]
    #[arg(long, env = "HERALD_RETENTION", value_name = "DURATION")]
    pub retention: Option<String>,

    /// Events older than this lose their payload and their attempts' response bodies, while
    /// the event, its deliveries and attempts (status, times, errors) stay until --retention;
    /// 0 drops nothing sooner. [default: 0]
    #[arg(long, env = "HERALD_PAYLOAD_RETENTION", value_name = "DURATION")]
    pub payload_retention: Option<String>,

    /// The name of --token-lifetime before issue 11, still read (the flag and
    /// HERALD_TOKEN_TTL); --token-lifetime wins.
    #[arg(long, env = "HERALD_TOKEN_TTL", value_name = "DURATION", hide = true)]
    pub token_ttl: Option<String>,

    /// The base URL subscribers reach this server at (https://herald.example.com): thin
    /// payloads and the Akoya envelope point to events under it. [default: http:// and the
    /// address the API listens on]
    #[arg(long, env = "HERALD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Serve the Akoya Notifications compatibility API (/notifications/v1/…) and register
    /// Akoya's event types at start (docs/akoya.md). [default: false]
    #[arg(long, env = "HERALD_AKOYA_PROFILE", num_args = 0..=1, default_missing_value = "true",
          value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub akoya_profile: Option<bool>,

    /// The tenant id whose subscriptions receive Herald's operational events (herald.*, e.g.
    /// herald.delivery.failed); no other tenant ever does (docs/notices.md). [default: none:
    /// operational events are not delivered]
    #[arg(long, env = "HERALD_OPERATOR_TENANT", value_name = "TENANT_ID")]
    pub operator_tenant: Option<String>,

    /// The SMTP server failure digests are mailed through: smtp://user:pass@host:587 (add
    /// ?tls=required for STARTTLS) or smtps://user:pass@host:465 (TLS). [default: none: no
    /// mail]
    #[arg(long, env = "HERALD_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,

    /// The From address of failure digests (required with --smtp-url).
    #[arg(long, env = "HERALD_NOTICE_FROM", value_name = "ADDRESS")]
    pub notice_from: Option<String>,

    /// At most one failure digest per subscription per this interval. [default: 1h]
    #[arg(long, env = "HERALD_NOTICE_DIGEST_INTERVAL", value_name = "DURATION")]
    pub notice_digest_interval: Option<String>,

    /// How long a digest waits after its first failure, so a burst goes out as one mail.
    /// [default: 1m]
    #[arg(long, env = "HERALD_NOTICE_DIGEST_DELAY", value_name = "DURATION")]
    pub notice_digest_delay: Option<String>,

    /// Per-tenant and per-subscription limits.
    #[command(flatten)]
    pub limits: super::LimitArgs,
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
