//! Test support shared by every test: a real `herald listen` on 127.0.0.1:0 with captured
//! output, and signing helpers. Waiting with a deadline and recording apps come from
//! `herald-testkit`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use herald_listen::{Config, ListenArgs, Output, ServeError};
use herald_signature::Secret;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A fixed secret for tests (the Standard Webhooks specification's example).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ListenArgs,
}

/// Parses `herald listen` flags exactly as the binary would.
pub fn args(flags: &[&str]) -> ListenArgs {
    let argv = std::iter::once("listen").chain(flags.iter().copied());
    Cli::try_parse_from(argv).expect("test flags parse").args
}

/// The long `--help` of `herald listen`.
pub fn help_text() -> String {
    use clap::CommandFactory;
    Cli::command().render_long_help().to_string()
}

/// An in-memory, cloneable writer.
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A receiver served in-process on a loopback port.
pub struct Server {
    pub addr: SocketAddr,
    pub events: Buffer,
    pub notices: Buffer,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Server {
    /// Starts a receiver with these `herald listen` flags.
    pub async fn start(flags: &[&str]) -> Self {
        let args = args(flags);
        let events = Buffer::default();
        let notices = Buffer::default();
        let output = Output::new(
            args.json,
            args.verbose,
            Box::new(events.clone()),
            Box::new(notices.clone()),
        );
        let config = Config::from_args(&args)
            .expect("valid config")
            .with_output(output);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(herald_listen::serve(listener, config, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            events,
            notices,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Signals shutdown without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Signals shutdown and waits (with a deadline) for `serve` to return.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.begin_shutdown();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("serve returned within 30 s")
            .expect("serve did not panic")
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// The output lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.events.text().lines().map(str::to_owned).collect()
    }
}

/// A client that never uses a proxy (targets are loopback).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A JSON POST, as a webhook sender makes it (without one, `herald listen` answers 415).
pub fn post(url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
    client()
        .post(url)
        .header("content-type", "application/json")
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A Standard Webhooks envelope for an event type.
pub fn envelope(event_type: &str) -> String {
    format!(r#"{{"type":"{event_type}","timestamp":"2025-01-01T00:00:00Z","data":{{"n":1}}}}"#)
}

/// A POST signed with `secret` at `timestamp`.
pub fn signed_at(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    id: &str,
    timestamp: i64,
    body: impl Into<Vec<u8>>,
) -> reqwest::RequestBuilder {
    let body = body.into();
    let secret = Secret::parse(secret).unwrap();
    let signature = herald_signature::sign(&secret, id, timestamp, &body);
    with_signature(client, url, id, timestamp, &signature, body)
}

/// A POST carrying `signature` as given (any shape, valid or not) with its webhook headers.
pub fn with_signature(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: impl Into<Vec<u8>>,
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.into())
}

/// A POST signed with `secret` now.
pub fn signed(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    id: &str,
    body: impl Into<Vec<u8>>,
) -> reqwest::RequestBuilder {
    signed_at(client, url, secret, id, now(), body)
}

/// Sends and returns status and the parsed problem (or body as JSON string).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, value)
}

/// The problem type slug of a problem body.
pub fn problem_slug(problem: &serde_json::Value) -> &str {
    problem["type"]
        .as_str()
        .and_then(|t| t.strip_prefix(herald_listen::PROBLEM_TYPE_PREFIX))
        .unwrap_or("<not a problem>")
}

/// Writes a hooks file into `dir` and returns its path as a string.
pub fn hooks_file(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("hooks.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Writes an executable script into `dir`.
pub fn script(dir: &std::path::Path, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string_lossy().into_owned()
}

/// `error` with its causes, as the `herald` binary prints it (`{:#}`: each cause after a
/// colon), asserting that no cause repeats the text of the one before it.
pub fn printed_once(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        let previous = parts.last().map(String::as_str).unwrap_or_default();
        assert!(
            !previous.contains(&text),
            "the cause `{text}` is printed twice: {previous}"
        );
        parts.push(text);
        source = cause.source();
    }
    parts.join(": ")
}
