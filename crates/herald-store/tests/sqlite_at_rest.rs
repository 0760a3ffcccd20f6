//! Data at rest on SQLite: what reaches the disk, file modes, legacy plaintext rows, key
//! rotation and a missing key, against real database files.

use std::path::Path;

use herald_store::conformance::{self, new_subscription, new_tenant};
use herald_store::sealing::{EncryptionKey, Keyring};
use herald_store::sqlite::SqliteStore;
use herald_store::{Catalog, Reseal, SigningSecret, StoreError, Subscription};

/// Every byte of the database: the file, its WAL and its shared-memory index.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).expect("read a database file"));
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// A secret whose key bytes are unique to this test, as the API makes them.
fn unique_secret() -> (String, String) {
    let key = EncryptionKey::generate().to_base64();
    (format!("whsec_{key}"), key)
}

#[tokio::test]
async fn no_secret_or_its_key_bytes_reach_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("herald.db"), conformance::keyring())
        .await
        .unwrap();
    let tenant = new_tenant(&store, "Acme").await;
    let (first, first_key) = unique_secret();
    let (second, second_key) = unique_secret();
    let mut sub = conformance::subscription(&tenant.id, &["*"]);
    sub.secrets[0].secret = first.clone();
    // The other secret material is sealed the same way: an Ed25519 signing key and an mTLS
    // client key (the store keeps them as given; the API validates them).
    let (signing_key, signing_key_bytes) = unique_secret();
    sub.signing_keys = vec![SigningSecret {
        secret: signing_key,
        expires_at: None,
    }];
    let client_key_marker = format!("CLIENT-KEY-{}", &signing_key_bytes[..16]);
    sub.client_key_pem = Some(format!(
        "-----BEGIN PRIVATE KEY-----\n{client_key_marker}\n-----END PRIVATE KEY-----\n"
    ));
    // A custom header that carries a credential.
    let header_token = format!("header-token-{}", &first_key[..16]);
    sub.headers
        .insert("Authorization".into(), format!("Bearer {header_token}"));
    store.create_subscription(&sub).await.unwrap();
    // A rotation: the new secret first, the old one in its grace period.
    sub.secrets.insert(
        0,
        SigningSecret {
            secret: second.clone(),
            expires_at: None,
        },
    );
    sub.secrets[1].expires_at = Some(conformance::at(3600));
    store.update_subscription(&sub).await.unwrap();
    assert_eq!(store.get_subscription(&sub.id).await.unwrap(), Some(sub));

    let mut sightings = Vec::new();
    let open = database_bytes(dir.path());
    store.close().await;
    let closed = database_bytes(dir.path());
    for (state, bytes) in [("open (WAL)", &open), ("closed", &closed)] {
        for needle in [
            "whsec_",
            &first_key,
            &second_key,
            &signing_key_bytes,
            &client_key_marker,
            "BEGIN PRIVATE KEY",
            &header_token,
            "Bearer ",
        ] {
            if contains(bytes, needle) {
                sightings.push(format!("{needle} in the files while {state}"));
            }
        }
    }
    assert!(sightings.is_empty(), "{sightings:?}");
    // The test reads something: the files are there and name the subscription's URL.
    assert!(contains(&open, "https://receiver.example/hook"));
}

/// Writes `secrets_json` as it was stored before sealing existed.
fn write_plaintext(path: &Path, sub: &Subscription) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let plaintext = serde_json::to_string(&sub.secrets).unwrap();
    conn.execute(
        "UPDATE subscriptions SET secrets_json = ?1 WHERE id = ?2",
        (&plaintext, sub.id.as_str()),
    )
    .unwrap();
}

/// Writes `headers_json` as it was stored before headers were sealed.
fn write_plaintext_headers(path: &Path, sub: &Subscription) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let plaintext = serde_json::to_string(&sub.headers).unwrap();
    conn.execute(
        "UPDATE subscriptions SET headers_json = ?1 WHERE id = ?2",
        (&plaintext, sub.id.as_str()),
    )
    .unwrap();
}

/// A database from before headers were sealed: sealed secrets beside plaintext headers. The
/// headers read as they are, and the re-seal at start (`Reseal::Plaintext`) seals them.
#[tokio::test]
async fn plaintext_headers_of_an_upgraded_database_are_sealed_by_a_reseal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(&path, conformance::keyring())
        .await
        .unwrap();
    let tenant = new_tenant(&store, "Acme").await;
    let mut sub = conformance::subscription(&tenant.id, &["*"]);
    let token = format!("legacy-token-{}", &unique_secret().1[..16]);
    sub.headers
        .insert("Authorization".into(), format!("Bearer {token}"));
    store.create_subscription(&sub).await.unwrap();
    new_subscription(&store, &tenant.id, &["*"]).await;
    store.close().await;
    write_plaintext_headers(&path, &sub);
    assert!(contains(&database_bytes(dir.path()), &token));

    let store = SqliteStore::open(&path, conformance::keyring())
        .await
        .unwrap();
    assert_eq!(
        store.get_subscription(&sub.id).await.unwrap(),
        Some(sub.clone())
    );
    assert_eq!(
        store.reseal_secrets(Reseal::Plaintext, 500).await.unwrap(),
        1
    );
    assert_eq!(
        store.reseal_secrets(Reseal::Plaintext, 500).await.unwrap(),
        0
    );
    assert_eq!(store.get_subscription(&sub.id).await.unwrap(), Some(sub));
    // Checkpoint and close, so the old page images in the WAL are gone too.
    store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("VACUUM").unwrap();
    drop(conn);
    assert!(!contains(&database_bytes(dir.path()), &token));
}

#[tokio::test]
async fn plaintext_rows_of_an_old_database_read_and_are_sealed_by_a_reseal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(&path, conformance::keyring())
        .await
        .unwrap();
    let tenant = new_tenant(&store, "Acme").await;
    let old = new_subscription(&store, &tenant.id, &["*"]).await;
    new_subscription(&store, &tenant.id, &["*"]).await;
    store.close().await;
    write_plaintext(&path, &old);

    let store = SqliteStore::open(&path, conformance::keyring())
        .await
        .unwrap();
    assert_eq!(
        store.get_subscription(&old.id).await.unwrap(),
        Some(old.clone())
    );
    assert_eq!(store.secret_census().await.unwrap().plaintext, 1);
    assert_eq!(
        store.reseal_secrets(Reseal::Plaintext, 500).await.unwrap(),
        1
    );
    assert_eq!(
        store.reseal_secrets(Reseal::Plaintext, 500).await.unwrap(),
        0
    );
    let census = store.secret_census().await.unwrap();
    assert_eq!(
        (census.plaintext, census.sealed.values().sum::<u64>()),
        (0, 2)
    );
    assert_eq!(store.get_subscription(&old.id).await.unwrap(), Some(old));
}

#[tokio::test]
async fn a_rotated_key_opens_old_secrets_and_reencrypt_moves_every_row_to_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let old_key = EncryptionKey::generate();
    let store = SqliteStore::open(&path, Keyring::new(old_key.clone(), []))
        .await
        .unwrap();
    let tenant = new_tenant(&store, "Acme").await;
    let mut subs = Vec::new();
    for _ in 0..5 {
        subs.push(new_subscription(&store, &tenant.id, &["*"]).await);
    }
    store.close().await;

    let new_key = EncryptionKey::generate();
    let rotated = Keyring::new(new_key.clone(), [old_key.clone()]);
    let store = SqliteStore::open(&path, rotated).await.unwrap();
    assert_eq!(
        store.get_subscription(&subs[0].id).await.unwrap().as_ref(),
        Some(&subs[0])
    );
    // Batches of two: 2 + 2 + 1, then nothing left.
    let mut batches = Vec::new();
    loop {
        let resealed = store.reseal_secrets(Reseal::NotPrimary, 2).await.unwrap();
        batches.push(resealed);
        if resealed == 0 {
            break;
        }
    }
    assert_eq!(batches, [2, 2, 1, 0]);
    let census = store.secret_census().await.unwrap();
    assert_eq!(
        census.sealed.into_iter().collect::<Vec<_>>(),
        [(new_key.id().to_owned(), 5)]
    );
    store.close().await;

    // The old key can go now.
    let store = SqliteStore::open(&path, Keyring::new(new_key, []))
        .await
        .unwrap();
    for sub in &subs {
        assert_eq!(
            store.get_subscription(&sub.id).await.unwrap().as_ref(),
            Some(sub)
        );
    }
    store.close().await;

    // And a store given only the old key says which key it lacks, without panicking.
    let store = SqliteStore::open(&path, Keyring::new(old_key, []))
        .await
        .unwrap();
    let error = store.get_subscription(&subs[0].id).await.unwrap_err();
    assert!(matches!(error, StoreError::Sealing(_)), "{error:?}");
    assert!(error.to_string().contains("not configured"), "{error}");
    let error = store
        .reseal_secrets(Reseal::NotPrimary, 10)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Sealing(_)), "{error:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_its_wal_and_shared_memory_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let path = dir.join("herald.db");
    let store = SqliteStore::open(&path, conformance::keyring())
        .await
        .unwrap();
    // A write, so that the WAL and its index exist.
    new_tenant(&store, "Acme").await;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for name in ["herald.db", "herald.db-wal", "herald.db-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    store.close().await;
}

/// `PRAGMA page_count` as another connection sees it (through the WAL).
fn page_count(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA page_count", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn retention_gives_the_freed_pages_back_so_the_file_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(&path, conformance::keyring())
        .await
        .unwrap();
    let tenant = new_tenant(&store, "Acme").await;
    let payload = format!(r#"{{"filler": "{}"}}"#, "x".repeat(8_000));
    for n in 0..200 {
        let event = herald_store::Event {
            payload_json: payload.clone(),
            ..conformance::event("old.event", Some(&tenant.id), n)
        };
        herald_store::DeliveryQueue::publish(&store, &event)
            .await
            .unwrap();
    }
    let full = page_count(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        mode, 2,
        "a new file is created with incremental auto-vacuum"
    );
    let mut deleted = 0;
    loop {
        let batch = herald_store::DeliveryQueue::delete_old_events(
            &store,
            &herald_store::RetentionScope::Server,
            conformance::at(1_000),
            50,
        )
        .await
        .unwrap();
        if batch.events == 0 {
            break;
        }
        deleted += batch.events;
    }
    assert_eq!(deleted, 200);
    let after = page_count(&path);
    // 200 payloads of 8 KB are some 400 pages of 4 KiB; nearly all must be gone.
    assert!(after < full - 300, "{full} pages before, {after} after");
    store.close().await;
}
