//! Interoperability with the official Standard Webhooks Python library: it verifies what
//! herald-signature signs, and `herald listen` accepts what it signs (and only with the right
//! secret). Skipped when the library is missing, except under CI, where that fails.

use std::path::PathBuf;
use std::process::Command;

use herald_signature::Secret;

use crate::support::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs interop.py; `None` means "skipped" (library missing outside CI).
fn python(args: &[&str]) -> Option<std::process::Output> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/interop.py");
    let output = Command::new("python3").arg(&script).args(args).output();
    let missing = match &output {
        Ok(output) => output.status.code() == Some(77),
        Err(_) => true,
    };
    if missing {
        let why = match &output {
            Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
            Err(err) => format!("cannot run python3: {err}"),
        };
        // The same rule as for PostgreSQL: what CI must run may not skip there.
        assert!(
            !herald_testkit::in_ci(),
            "CI is set but the standardwebhooks interop cannot run: {why}"
        );
        println!("skipped: standardwebhooks interop ({why}); `pip install standardwebhooks`");
        return None;
    }
    output.ok()
}

fn python_accepts(
    secret: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &[u8],
) -> Option<bool> {
    let timestamp = timestamp.to_string();
    let output = python(&["verify", secret, id, &timestamp, signature, &hex(body)])?;
    Some(output.status.success())
}

#[test]
fn python_standardwebhooks_verifies_what_herald_signature_signs() {
    let current = Secret::generate();
    let previous = Secret::parse(SECRET).unwrap();
    let body = r#"{"type":"consent.revoked","data":{"name":"Zoë ✓"}}"#.as_bytes();
    let timestamp = now();
    let header = herald_signature::sign_header(&[&current, &previous], "msg_py", timestamp, body);

    let Some(accepted) = python_accepts(&current.to_string(), "msg_py", timestamp, &header, body)
    else {
        return;
    };
    assert!(
        accepted,
        "the library refused herald's signature with the current secret"
    );
    // During a rotation the library must find the entry for the secret it knows.
    let bare_previous = SECRET.trim_start_matches("whsec_");
    assert_eq!(
        python_accepts(bare_previous, "msg_py", timestamp, &header, body),
        Some(true)
    );
    // And it is not accepting everything: a changed body is refused.
    let tampered = br#"{"type":"consent.revoked","data":{}}"#;
    assert_eq!(
        python_accepts(&current.to_string(), "msg_py", timestamp, &header, tampered),
        Some(false)
    );
}

#[tokio::test]
async fn herald_listen_accepts_what_python_signs_and_rejects_another_secret() {
    let body = br#"{"type":"maintenance.planned_outage","data":{"at":"2030-01-01"}}"#;
    let timestamp = now();
    let sign = |secret: &str| {
        python(&[
            "sign",
            secret,
            "msg_from_py",
            &timestamp.to_string(),
            &hex(body),
        ])
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let Some(good) = sign(SECRET) else { return };
    let Some(bad) = sign(&Secret::generate().to_string()) else {
        return;
    };
    assert!(good.starts_with("v1,"), "{good}");

    let server = Server::start(&["--secret", SECRET]).await;
    let post = |signature: String| {
        post(server.url("/"))
            .header("webhook-id", "msg_from_py")
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
    };
    let (refused, problem) = send(post(bad)).await;
    assert_eq!(refused, 401);
    assert_eq!(problem_slug(&problem), "no-matching-signature");
    let (accepted, _) = send(post(good)).await;
    assert_eq!(accepted, 200);
    let line = server.lines()[1].clone();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &fields[1..5],
        [
            "200",
            "verified",
            "msg_from_py",
            "maintenance.planned_outage"
        ]
    );
}
