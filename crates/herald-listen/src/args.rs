//! The command-line flags of `herald listen`, as a `clap::Args` the `herald` binary flattens in.
//!
//! This module only describes and parses flags; turning them into a checked [`Config`] is
//! `config.rs`'s job, so that every refusal (a bad secret, an unreadable hooks file) is a typed
//! error rather than a clap message. Durations accept plain seconds (`300`) or humantime
//! (`5m`, `1h30m`), and sizes accept bytes or a `KiB`/`MiB` suffix, because people type both.
//!
//! [`Config`]: crate::Config

use std::path::PathBuf;
use std::time::Duration;

/// Flags of `herald listen`: where to listen, how to verify, what to show and what to do.
#[derive(Debug, Clone, clap::Args)]
#[command(about = "Receive webhooks locally: verify, deduplicate, show, forward and run commands")]
pub struct ListenArgs {
    /// Address to bind. The default accepts connections from this machine only; use 0.0.0.0
    /// to accept them from elsewhere (then give a --secret).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to bind; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 4567)]
    pub port: u16,

    /// Accept webhooks on this path only (e.g. /webhooks); other paths get 404. By default
    /// every path is accepted.
    #[arg(long)]
    pub path: Option<String>,

    /// Signing secret (whsec_… as shown by the sender, or its base64 part), or an Ed25519
    /// public key (whpk_…) for asymmetric signatures. Repeat it during a secret rotation: a
    /// request is accepted when any of its signatures matches any secret. Without one, every
    /// request is accepted and shown as `unverified`. The environment variable takes a
    /// comma-separated list.
    #[arg(
        long = "secret",
        value_name = "SECRET",
        env = "HERALD_LISTEN_SECRET",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub secrets: Vec<String>,

    /// Run --forward-to and --hooks for requests nobody verified (no --secret). Unsafe: any
    /// program that can reach the port, including a web page open in your browser, can then
    /// trigger them. Without a secret and without this flag, --forward-to and --hooks are
    /// refused at start.
    #[arg(long)]
    pub insecure_no_verify: bool,

    /// Accept requests from a browser page on this origin (e.g. http://localhost:3000), or
    /// `*` for any. Repeatable. By default a request that carries an `Origin` header (which
    /// browsers add to cross-site POSTs) is refused with 403: webhook senders do not send one.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,

    /// Accept any `content-type`. By default only JSON (`application/json`, `…+json`) is
    /// accepted and anything else, or none, gets 415: form and text types are what a web page
    /// can POST without asking the browser's permission.
    #[arg(long)]
    pub allow_any_content_type: bool,

    /// How far `webhook-timestamp` may be from this machine's clock, either way, before a
    /// request is refused as a replay (stale) or as forged (future). Also how long a
    /// `webhook-id` is remembered for deduplication.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub tolerance: Duration,

    /// Show each request's headers and its body (JSON pretty-printed), and the output of the
    /// commands hooks ran.
    #[arg(short, long)]
    pub verbose: bool,

    /// Print one JSON object per request on stdout instead of a line for people (for scripts;
    /// notices go to stderr).
    #[arg(long)]
    pub json: bool,

    /// Forward each accepted webhook to this URL (your local app): the raw body and the
    /// original `webhook-*` and `content-type` headers, byte for byte. The sender gets the
    /// app's status and body back; 502 if the app cannot be reached, so the sender retries.
    #[arg(long, value_name = "URL")]
    pub forward_to: Option<String>,

    /// Forward the webhooks whose event type matches PATTERN (`consent.*`, an exact name, or
    /// `*`) to URL, as --forward-to does; repeatable, the first matching route wins, and
    /// --forward-to (if given) takes the rest. E.g. --forward 'consent.*=http://127.0.0.1:3000/consent'.
    #[arg(long = "forward", value_name = "PATTERN=URL")]
    pub forward_routes: Vec<String>,

    /// How long to wait for the app behind --forward-to before answering 504.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub forward_timeout: Duration,

    /// Run commands per event type, as described in this TOML file (see docs/hooks.md). The
    /// request is answered 2xx only if every matching command exited 0.
    #[arg(long, value_name = "FILE")]
    pub hooks: Option<PathBuf>,

    /// Largest body accepted; larger requests get 413. Bytes, or with a KiB/MiB suffix.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_body_size: usize,

    /// How long a client may take to send its headers, and then its body, before it gets 408.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub read_timeout: Duration,

    /// How many webhook ids to remember for deduplication at most. An id is remembered until
    /// its timestamp leaves --tolerance; when the memory is full of such ids, new requests get
    /// 503 (the sender retries) rather than an id being forgotten while it could be replayed.
    #[arg(long, value_name = "COUNT", default_value_t = 100_000)]
    pub dedup_capacity: usize,

    /// How much memory the remembered webhook ids may take at most (each counts its length
    /// plus 64 bytes); bytes, or with a KiB/MiB suffix. Full: as for --dedup-capacity.
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub dedup_memory: usize,

    /// Run forwarding and hooks for every request, even one whose webhook-id was already
    /// handled (to replay a redelivery on purpose). By default a repeated id is answered 200
    /// and shown as `duplicate` without acting again.
    #[arg(long)]
    pub no_dedup: bool,

    /// On SIGINT/SIGTERM, how long to let running requests and commands finish before they
    /// are reported and stopped.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Receive over the relay instead of on a port: connect out to this Herald server
    /// (https://herald.example.com) and get a relay subscription's deliveries over a
    /// WebSocket, no public URL or tunnel needed (docs/relay.md). Needs --token or
    /// --client-id/--client-secret, and --subscription or --events.
    #[arg(long, value_name = "URL", help_heading = "Relay")]
    pub relay: Option<String>,

    /// With --relay: a bearer token for the server (a tenant's access token, or the admin
    /// token).
    #[arg(
        long,
        env = "HERALD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Relay"
    )]
    pub token: Option<String>,

    /// With --relay: the tenant's client id, exchanged with --client-secret for a token.
    #[arg(
        long,
        env = "HERALD_CLIENT_ID",
        value_name = "ID",
        help_heading = "Relay"
    )]
    pub client_id: Option<String>,

    /// With --relay: the tenant's client secret.
    #[arg(
        long,
        env = "HERALD_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET",
        help_heading = "Relay"
    )]
    pub client_secret: Option<String>,

    /// With --relay: the relay subscription (created with "url": "relay:") to receive.
    #[arg(long, value_name = "sub_…", help_heading = "Relay")]
    pub subscription: Option<String>,

    /// With --relay and no --subscription: create a session subscription for these event
    /// types (comma-separated, e.g. 'consent.*'), use its secret to verify, and delete it on
    /// exit (Ctrl-C included).
    #[arg(
        long,
        value_name = "PATTERNS",
        value_delimiter = ',',
        help_heading = "Relay"
    )]
    pub events: Vec<String>,

    /// With --events: print the session subscription's signing secret alone as the first
    /// line of stdout (for a script to read), then go on receiving.
    #[arg(long, help_heading = "Relay")]
    pub print_secret: bool,
}

/// Parses `300` (seconds) or `250ms`, `5m`, `1h30m`: Herald's one duration parser, so the
/// receiver's flags and hook rules read durations as `herald serve` does.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    herald_duration::parse(text).map_err(|err| err.to_string())
}

/// Parses `1048576`, `512KiB`, `1MiB` (also `K`, `KB`, `M`, `MB`, all as powers of 1024).
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write bytes or e.g. 512KiB, 1MiB"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => return Err(format!("unknown size unit `{other}`; use KiB or MiB")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_seconds_and_humantime() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn sizes_accept_bytes_and_binary_suffixes() {
        assert_eq!(parse_size("1MiB"), Ok(1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("10"), Ok(10));
        assert!(parse_size("1GiB").is_err());
        assert!(parse_size("lots").is_err());
    }
}
