//! Secrets at rest through the binary: what `herald serve` writes to its data dir, rotating
//! the encryption key with `herald admin reencrypt`, and a start with the wrong key.

mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use herald_store::sealing::EncryptionKey;
use herald_testkit::{Receiver, await_within};
use serde_json::{Value, json};
use support::real::{ADMIN_TOKEN, Herald, free_port, serve_command};

const DEADLINE: Duration = Duration::from_secs(30);

/// Every byte of the SQLite database (the file, its WAL and shared memory) in `data_dir`.
fn database_bytes(data_dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(data_dir).expect("read the data dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("herald.db") {
            bytes.extend(std::fs::read(&path).expect("read"));
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn subscription(herald: &Herald, id: &str) -> Value {
    let response = herald
        .client
        .get(format!("{}/api/v1/subscriptions/{id}", herald.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("get the subscription");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

async fn stop(herald: Herald) {
    herald.interrupt().await;
    assert!(herald.exit_within(DEADLINE).await.success());
}

/// `herald admin reencrypt` with `keys`, in a clean environment.
async fn reencrypt(data_dir: &Path, keys: &str) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["admin", "reencrypt", "--encryption-key", keys, "--data-dir"])
        .arg(data_dir)
        .env_clear()
        .stdin(Stdio::null())
        .output();
    await_within("herald admin reencrypt", DEADLINE, run)
        .await
        .expect("run herald admin reencrypt")
}

#[tokio::test]
async fn a_rotated_key_reencrypt_and_a_start_without_the_key_in_use() {
    let data = tempfile::tempdir().expect("temp dir");
    let (old, new) = (EncryptionKey::generate(), EncryptionKey::generate());
    let receiver = Receiver::start().await.expect("receiver");
    let with_old = ["--encryption-key", &old.to_base64()];
    let herald = Herald::start_with(data.path(), free_port(), &with_old).await;
    herald
        .post("/api/v1/event-types", json!({"name": "key.test"}))
        .await;
    let tenant = herald.post("/api/v1/tenants", json!({"name": "k"})).await;
    let created = herald
        .post(
            "/api/v1/subscriptions",
            json!({"tenant_id": tenant["id"], "url": receiver.url(), "event_types": ["key.test"]}),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    // Neither the secret nor its key bytes are in the database files, WAL included.
    let bytes = database_bytes(data.path());
    assert!(contains(&bytes, &id), "the files hold the subscription");
    for needle in ["whsec_", &secret["whsec_".len()..]] {
        assert!(
            !contains(&bytes, needle),
            "{needle} is in the database files"
        );
    }
    stop(herald).await;

    let keys = format!("{},{}", new.to_base64(), old.to_base64());
    let output = reencrypt(data.path(), &keys).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = format!(
        "Re-encrypted 1 subscription(s); 1 now encrypted with key {}",
        new.id()
    );
    assert!(stdout.contains(&expected), "{stdout}");
    assert!(
        stdout.contains("keys after the first can be removed"),
        "{stdout}"
    );
    // Idempotent: nothing left to do.
    let again = reencrypt(data.path(), &keys).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("Re-encrypted 0 subscription(s)"));

    // The old key is gone: the new one alone reads the secret.
    let with_new = ["--encryption-key", &new.to_base64()];
    let herald = Herald::start_with(data.path(), free_port(), &with_new).await;
    assert_eq!(subscription(&herald, &id).await["secret"], secret.as_str());
    stop(herald).await;

    // The file can be compacted too (retention's one-time switch for older files).
    let vacuum = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["admin", "vacuum", "--data-dir"])
        .arg(data.path())
        .env_clear()
        .output();
    let vacuum = await_within("herald admin vacuum", DEADLINE, vacuum)
        .await
        .expect("run");
    let stdout = String::from_utf8_lossy(&vacuum.stdout);
    assert!(
        vacuum.status.success() && stdout.contains("Compacted the database"),
        "{stdout}"
    );

    // And a server given only the old key refuses to start, naming the key it lacks.
    let refused = serve_command(data.path(), free_port(), &with_old)
        .stderr(Stdio::piped())
        .output();
    let refused = await_within("the server to refuse", DEADLINE, refused)
        .await
        .expect("run herald serve");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(new.id()) && stderr.contains("not configured"),
        "{stderr}"
    );
}
