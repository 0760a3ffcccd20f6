//! The statements that look after sealed secrets as stored (see [`crate::sealing`]): how many
//! rows each key seals, and re-sealing rows under the primary key, a batch at a time.
//!
//! They read the stored text's prefix only (`hs1:<key id>:`), never open a value: opening is
//! the keyring's, in Rust, between [`rows_to_reseal`] and [`reseal_row`].

use super::{Statement, statement};
use crate::sealing::SEALED_PREFIX;

/// Subscriptions per sealing key (one row per key id, `key_id` and `total`); plaintext rows
/// (written before sealing) count under the empty key id.
pub(crate) fn census() -> Statement<'static, 0> {
    statement!(
        "SELECT CASE WHEN substr(secrets_json, 1, 4) = 'hs1:' \
                THEN substr(secrets_json, 5, 8) ELSE '' END AS key_id, \
            count(*) AS total \
         FROM subscriptions GROUP BY 1 ORDER BY 1"
    )
}

/// At most `limit` subscriptions (`id` and their secret material, by id) whose secrets or
/// headers do not start with `prefix`: `hs1:` finds plaintext rows, `hs1:<primary id>:` every
/// row not sealed by the primary key. (Headers were sealed after secrets: an upgraded
/// database has rows with sealed secrets and plaintext headers.)
pub(crate) fn rows_to_reseal(prefix: &str, limit: u32) -> Statement<'_, 2> {
    statement!(
        "SELECT id, secrets_json, signing_keys_json, client_key_pem, headers_json \
         FROM subscriptions \
         WHERE substr(secrets_json, 1, length(CAST($1 AS TEXT))) <> $1 \
            OR substr(headers_json, 1, length(CAST($1 AS TEXT))) <> $1 \
         ORDER BY id LIMIT $2",
        prefix,
        i64::from(limit),
    )
}

/// Replaces one row's sealed secret material, only if its secrets are still what was read
/// (`$5`): a subscription updated meanwhile keeps what that update sealed.
pub(crate) fn reseal_row<'a>(
    id: &'a str,
    sealed: &'a crate::rows::SecretMaterial,
    read: &'a str,
) -> Statement<'a, 6> {
    statement!(
        "UPDATE subscriptions SET secrets_json = $2, signing_keys_json = $3, \
         client_key_pem = $4, headers_json = $6 WHERE id = $1 AND secrets_json = $5",
        id,
        sealed.secrets.as_str(),
        sealed.signing_keys.as_str(),
        sealed.client_key.as_deref(),
        read,
        sealed.headers.as_str(),
    )
}

/// The prefix rows must start with to need no re-seal in `scope`.
pub(crate) fn reseal_prefix(scope: crate::model::Reseal, primary_id: &str) -> String {
    match scope {
        crate::model::Reseal::Plaintext => SEALED_PREFIX.to_owned(),
        crate::model::Reseal::NotPrimary => format!("{SEALED_PREFIX}{primary_id}:"),
    }
}
