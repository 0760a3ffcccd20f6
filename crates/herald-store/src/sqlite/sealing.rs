//! Sealed secrets on SQLite: the census and the re-seal (see [`crate::sealing`]). A re-seal
//! batch runs on the writer, so reading the rows and rewriting them is one transaction.

use rusqlite::Connection;

use super::run;
use crate::error::StoreError;
use crate::model::{Reseal, SecretCensus};
use crate::rows;
use crate::sealing::Keyring;
use crate::statements::sealing as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn secret_census(conn: &Connection) -> Result<SecretCensus> {
    let found = run::all(conn, &sql::census(), |row| {
        Ok((rows::get(row, "key_id")?, rows::get(row, "total")?))
    })?;
    Ok(rows::secret_census(found))
}

pub(super) fn reseal_secrets(
    conn: &Connection,
    keyring: &Keyring,
    scope: Reseal,
    limit: u32,
) -> Result<u64> {
    let prefix = sql::reseal_prefix(scope, keyring.primary().id());
    let found: Vec<(String, rows::SecretMaterial)> =
        run::all(conn, &sql::rows_to_reseal(&prefix, limit), |row| {
            Ok((rows::get(row, "id")?, rows::stored_material(row)?))
        })?;
    let mut resealed = 0;
    for (id, stored) in found {
        let sealed = rows::reseal_material(keyring, &id, &stored)?;
        resealed += run::execute(conn, &sql::reseal_row(&id, &sealed, &stored.secrets))? as u64;
    }
    Ok(resealed)
}
