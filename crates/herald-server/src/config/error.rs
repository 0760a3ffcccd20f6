//! Why a configuration is refused: one [`ConfigError`] per way a setting can be wrong, each
//! naming the setting (its TOML key, which is also the flag name with underscores) and saying
//! what a valid value looks like.
//!
//! The cause of a parse failure (the TOML or duration parser's own message) is kept as the
//! error's `source`, not repeated in its text, so the binary's `{:#}` prints each once.

use std::path::PathBuf;

/// A setting that cannot be used; the server refuses to start with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file named by `--config` cannot be read.
    #[error("cannot read the config file {}", path.display())]
    ReadFile {
        /// The file given.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not TOML, has a wrong type, or has a key Herald does not know.
    #[error("invalid config file {}", path.display())]
    ParseFile {
        /// The file given.
        path: PathBuf,
        /// The TOML parser's explanation (boxed: it is large).
        source: Box<toml::de::Error>,
    },
    /// A duration setting does not parse.
    #[error("invalid {setting} '{value}'")]
    Duration {
        /// The setting's key.
        setting: &'static str,
        /// What was given (the whole value, or one item of a list).
        value: String,
        /// Why, and the forms that work (the one duration parser's message).
        source: herald_duration::DurationError,
    },
    /// `listen` is neither `IP:port` nor a `host:port` that resolves.
    #[error("invalid listen '{value}': {reason}")]
    Listen {
        /// What was given.
        value: String,
        /// Why it cannot be listened on.
        reason: String,
    },
    /// An `allow_networks` item is neither a CIDR network nor an address.
    #[error("invalid allow_networks: '{value}' is not a CIDR network such as 10.0.0.0/8")]
    Network {
        /// The item given.
        value: String,
    },
    /// A setting is outside the range Herald accepts.
    #[error("{setting} must be {expected}")]
    OutOfRange {
        /// The setting's key.
        setting: &'static str,
        /// The accepted range, in words ("at least 1", "between 1 and 1000", …).
        expected: &'static str,
    },
    /// `database_url` is not a PostgreSQL URL.
    #[error("database_url must be a postgres:// or postgresql:// URL")]
    DatabaseUrl,
    /// Several nodes share one database, so a token generated in one node's data dir would be
    /// unknown to the others.
    #[error(
        "with database_url, set admin_token (--admin-token or HERALD_ADMIN_TOKEN) to the same \
         value on every node"
    )]
    AdminTokenRequired,
    /// Several nodes share one database, so each must be given the keys that seal its
    /// secrets; a key generated in one node's data dir would be unknown to the others.
    #[error(
        "with database_url, set encryption_key_file (--encryption-key-file) or          HERALD_ENCRYPTION_KEY to the same keys on every node (make one with          `openssl rand -base64 32`)"
    )]
    EncryptionKeyRequired,
    /// Both an encryption key file and inline keys were given: which one seals is unclear.
    #[error("set encryption_key_file or HERALD_ENCRYPTION_KEY (--encryption-key), not both")]
    EncryptionKeyTwice,
}
