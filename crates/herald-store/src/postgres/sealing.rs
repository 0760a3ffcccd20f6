//! Sealed secrets on PostgreSQL: the census and the re-seal (see [`crate::sealing`]). Nodes
//! may re-seal at once: each row is rewritten only if it still holds what was read.

use sqlx::PgConnection;

use super::run;
use crate::error::StoreError;
use crate::model::{Reseal, SecretCensus};
use crate::rows;
use crate::sealing::Keyring;
use crate::statements::sealing as sql;

type Result<T> = std::result::Result<T, StoreError>;

pub(super) async fn secret_census(conn: &mut PgConnection) -> Result<SecretCensus> {
    let found = run::all(conn, &sql::census(), |row| {
        Ok((rows::get(row, "key_id")?, rows::get(row, "total")?))
    })
    .await?;
    Ok(rows::secret_census(found))
}

/// Runs inside the caller's transaction.
pub(super) async fn reseal_secrets(
    conn: &mut PgConnection,
    keyring: &Keyring,
    scope: Reseal,
    limit: u32,
) -> Result<u64> {
    let prefix = sql::reseal_prefix(scope, keyring.primary().id());
    let found: Vec<(String, rows::SecretMaterial)> =
        run::all(&mut *conn, &sql::rows_to_reseal(&prefix, limit), |row| {
            Ok((rows::get(row, "id")?, rows::stored_material(row)?))
        })
        .await?;
    let mut resealed = 0;
    for (id, stored) in found {
        let sealed = rows::reseal_material(keyring, &id, &stored)?;
        resealed +=
            run::execute(&mut *conn, &sql::reseal_row(&id, &sealed, &stored.secrets)).await?;
    }
    Ok(resealed)
}
