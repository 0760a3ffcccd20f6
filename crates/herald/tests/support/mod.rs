//! Test support: a fake Herald API that answers canned replies and records
//! every request, and a builder that runs the `herald` binary against it.
//!
//! The fake knows nothing of Herald: each test states the replies it needs,
//! so a test reads as "the server says X; the CLI must send Y and print Z".
//! The binary runs in an empty temporary directory with a clean
//! environment, so no `./herald-data/admin-token` or `HERALD_*` variable of
//! the developer's machine leaks in.

#![allow(dead_code)] // each test binary uses its own subset

pub mod real;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;

/// One request as the fake API received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub body: String,
}

impl Recorded {
    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// A canned answer for one method and path.
#[derive(Clone)]
struct Reply {
    method: Method,
    path: String,
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

#[derive(Clone, Default)]
struct Shared {
    replies: Arc<Mutex<Vec<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

/// A fake API on 127.0.0.1, port chosen by the OS.
pub struct FakeApi {
    pub url: String,
    shared: Shared,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let shared = Shared::default();
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeApi {
            url: format!("http://{addr}"),
            shared,
        }
    }

    /// Answers `method path` with `status` and a JSON body.
    pub fn reply(&self, method: Method, path: &str, status: u16, body: &str) -> &Self {
        self.push(method, path, status, "application/json", body)
    }

    /// Answers `method path` with `status` and an RFC 9457 problem body.
    pub fn problem(
        &self,
        method: Method,
        path: &str,
        status: u16,
        title: &str,
        detail: &str,
    ) -> &Self {
        let body = serde_json::json!({
            "type": "https://herald.dev/problems/test",
            "title": title,
            "status": status,
            "detail": detail,
        });
        self.push(
            method,
            path,
            status,
            "application/problem+json",
            &body.to_string(),
        )
    }

    fn push(
        &self,
        method: Method,
        path: &str,
        status: u16,
        content_type: &'static str,
        body: &str,
    ) -> &Self {
        self.shared.replies.lock().unwrap().push(Reply {
            method,
            path: path.to_owned(),
            status: StatusCode::from_u16(status).unwrap(),
            content_type,
            body: body.to_owned(),
        });
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The only request received; fails the test if there were others.
    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests.into_iter().next().unwrap()
    }
}

async fn answer(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.lock().unwrap().push(Recorded {
        method: method.clone(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        authorization: headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned()),
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let reply = shared
        .replies
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.method == method && r.path == uri.path())
        .cloned();
    match reply {
        Some(r) => (r.status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response(),
        None => (StatusCode::NOT_FOUND, "no canned reply").into_response(),
    }
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The token the builder sends unless told otherwise.
pub const TOKEN: &str = "test-admin-token";

/// Runs `herald` with `args` against `server`, with `HERALD_TOKEN` set to
/// [`TOKEN`], in a fresh empty directory.
pub async fn herald(server: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    herald_with(server, args, Some(TOKEN), dir.path(), None).await
}

/// The general form: `token` None leaves `HERALD_TOKEN` unset; `stdin` None
/// gives the binary an empty stdin.
pub async fn herald_with(
    server: &str,
    args: &[&str],
    token: Option<&str>,
    dir: &Path,
    stdin: Option<&str>,
) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .args(args)
        .current_dir(dir)
        .env("HERALD_URL", server)
        .env_remove("HERALD_TOKEN")
        .env_remove("HERALD_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("HERALD_TOKEN", token);
    }
    let mut child = command.spawn().expect("the herald binary starts");
    let mut input = child.stdin.take().unwrap();
    // The binary may exit without reading stdin; a closed pipe is fine.
    let _ = input.write_all(stdin.unwrap_or("").as_bytes()).await;
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    Run {
        code: output.status.code().expect("herald exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Command-line words split on whitespace, for arguments without spaces.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A local address where nothing listens: bound, then released.
pub fn unused_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
