//! Secrets at rest on PostgreSQL: what a dump of the database shows, legacy plaintext rows,
//! key rotation across nodes and a missing key. Skipped without a test server, except in CI.

use herald_store::conformance::{self, new_subscription, new_tenant};
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::sealing::{EncryptionKey, Keyring};
use herald_store::{Catalog, Reseal, SigningSecret, StoreError};
use herald_testkit::TestDatabase;

async fn node(database: &TestDatabase, keyring: Keyring) -> PgStore {
    PgStore::connect(database.url(), PgOptions::default(), keyring)
        .await
        .expect("connect")
}

/// The whole database as text: `pg_dump` from the test server's own binaries (beside the
/// `pg_ctl` that `.ci/postgres.sh` exports) when there is one, else every row of every table.
async fn dump(database: &TestDatabase) -> String {
    let pg_dump = std::env::var("HERALD_TEST_PG_CTL")
        .ok()
        .map(|pg_ctl| std::path::Path::new(&pg_ctl).with_file_name("pg_dump"))
        .filter(|path| path.exists());
    if let Some(pg_dump) = pg_dump {
        let output = tokio::process::Command::new(pg_dump)
            .arg(database.url())
            .output()
            .await
            .expect("run pg_dump");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return String::from_utf8(output.stdout).expect("a UTF-8 dump");
    }
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(database.url())
        .await
        .expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    let mut text = String::new();
    for table in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" AS t"))
                .fetch_all(&mut conn)
                .await
                .expect("read a table");
        text.push_str(&rows.join("\n"));
    }
    text
}

#[tokio::test]
async fn a_dump_of_the_database_holds_no_secret_or_its_key_bytes() {
    let Some(database) = TestDatabase::create().await.expect("a test database") else {
        return;
    };
    let store = node(&database, conformance::keyring()).await;
    let tenant = new_tenant(&store, "Acme").await;
    let (first_key, second_key) = (
        EncryptionKey::generate().to_base64(),
        EncryptionKey::generate().to_base64(),
    );
    let mut sub = conformance::subscription(&tenant.id, &["*"]);
    sub.secrets[0].secret = format!("whsec_{first_key}");
    // A custom header that carries a credential.
    let header_token = format!("header-token-{}", &second_key[..16]);
    sub.headers
        .insert("Authorization".into(), format!("Bearer {header_token}"));
    store.create_subscription(&sub).await.unwrap();
    sub.secrets[0].expires_at = Some(conformance::at(3600));
    sub.secrets.insert(
        0,
        SigningSecret {
            secret: format!("whsec_{second_key}"),
            expires_at: None,
        },
    );
    store.update_subscription(&sub).await.unwrap();
    assert_eq!(
        store.get_subscription(&sub.id).await.unwrap(),
        Some(sub.clone())
    );

    let dump = dump(&database).await;
    assert!(
        dump.contains(sub.id.as_str()),
        "the dump holds the subscription"
    );
    for needle in [
        "whsec_",
        first_key.as_str(),
        second_key.as_str(),
        header_token.as_str(),
        "Bearer ",
    ] {
        assert!(!dump.contains(needle), "{needle} is in the dump");
    }
    store.close().await;
}

#[tokio::test]
async fn nodes_rotate_the_key_reencrypt_and_a_node_without_the_key_gets_a_clear_error() {
    let Some(database) = TestDatabase::create().await.expect("a test database") else {
        return;
    };
    let old = EncryptionKey::generate();
    let new = EncryptionKey::generate();
    let before = node(&database, Keyring::new(old.clone(), [])).await;
    let tenant = new_tenant(&before, "Acme").await;
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(new_subscription(&before, &tenant.id, &["*"]).await);
    }
    // Plaintext, as an older version stored it.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(database.url())
        .await
        .unwrap();
    sqlx::query("UPDATE subscriptions SET secrets_json = $1 WHERE id = $2")
        .bind(serde_json::to_string(&subs[2].secrets).unwrap())
        .bind(subs[2].id.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    // Sealed secrets beside plaintext headers, as a version before headers were sealed left
    // them: the re-seal of plaintext rows picks this row up too.
    sqlx::query("UPDATE subscriptions SET headers_json = $1 WHERE id = $2")
        .bind(serde_json::to_string(&subs[1].headers).unwrap())
        .bind(subs[1].id.as_str())
        .execute(&mut conn)
        .await
        .unwrap();

    let rotated = node(&database, Keyring::new(new.clone(), [old.clone()])).await;
    for sub in &subs {
        assert_eq!(
            rotated.get_subscription(&sub.id).await.unwrap().as_ref(),
            Some(sub)
        );
    }
    let census = rotated.secret_census().await.unwrap();
    assert_eq!(
        (census.plaintext, census.sealed.get(old.id()).copied()),
        (1, Some(2))
    );
    assert_eq!(
        rotated.reseal_secrets(Reseal::Plaintext, 10).await.unwrap(),
        2
    );
    assert_eq!(
        rotated
            .reseal_secrets(Reseal::NotPrimary, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        rotated
            .reseal_secrets(Reseal::NotPrimary, 10)
            .await
            .unwrap(),
        0
    );
    let census = rotated.secret_census().await.unwrap();
    assert_eq!(
        census.sealed.into_iter().collect::<Vec<_>>(),
        [(new.id().to_owned(), 3)]
    );

    let after = node(&database, Keyring::new(new, [])).await;
    for sub in &subs {
        assert_eq!(
            after.get_subscription(&sub.id).await.unwrap().as_ref(),
            Some(sub)
        );
    }
    let error = before.get_subscription(&subs[0].id).await.unwrap_err();
    assert!(matches!(error, StoreError::Sealing(_)), "{error:?}");
    assert!(error.to_string().contains("not configured"), "{error}");
    for store in [before, rotated, after] {
        store.close().await;
    }
}
