//! Running hook commands: stdin, environment, timeout, concurrency limit, captured output.
//!
//! A command gets the raw body on stdin and `HERALD_EVENT_ID`, `HERALD_EVENT_TYPE` and
//! `HERALD_TIMESTAMP` in its environment. It is spawned directly from its argv unless its rule
//! is a `shell` rule. A `Semaphore` permit is taken before spawning, so at most
//! `max_concurrent` commands run at once whatever the request rate. A command that outlives its
//! timeout is killed; `kill_on_drop` also kills it if its task is dropped at shutdown.
//!
//! Output is captured, not inherited, so it cannot interleave with the request log; only the
//! last [`OUTPUT_TAIL`] bytes of each stream are kept, so a chatty command cannot exhaust
//! memory. Running commands are listed in a registry so a shutdown that cannot wait for them
//! can say which ones it stopped.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::hooks::{Hooks, Program, Rule};

/// Bytes of stdout and of stderr kept per command.
pub const OUTPUT_TAIL: usize = 4096;

/// How long to keep reading a command's output after it exited (a background process it
/// started may hold the pipe open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// The event a command runs for.
#[derive(Debug, Clone)]
pub(crate) struct HookEvent {
    pub id: String,
    pub event_type: Option<String>,
    pub timestamp: String,
    pub body: Bytes,
}

/// How one command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Exited 0.
    Succeeded,
    /// Exited non-zero or was killed by a signal (the text says which).
    Failed(String),
    /// Killed after its timeout.
    TimedOut(Duration),
    /// Could not be started (e.g. program not found).
    NotStarted(String),
}

/// What one command did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The rule's name.
    pub name: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// The end of its stdout, lossily decoded.
    pub stdout: String,
    /// The end of its stderr, lossily decoded.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl RunReport {
    /// Whether it exited 0.
    pub fn succeeded(&self) -> bool {
        self.outcome == RunOutcome::Succeeded
    }

    /// One phrase for the output line, e.g. `deploy exited 0 in 1.2s`.
    pub fn summary(&self) -> String {
        let elapsed = format!("{:.1}s", self.elapsed.as_secs_f64());
        match &self.outcome {
            RunOutcome::Succeeded => format!("{} exited 0 in {elapsed}", self.name),
            RunOutcome::Failed(how) => format!("{} {how} after {elapsed}", self.name),
            RunOutcome::TimedOut(limit) => {
                format!(
                    "{} timed out after {}s and was killed",
                    self.name,
                    limit.as_secs()
                )
            }
            RunOutcome::NotStarted(why) => format!("{} could not start: {why}", self.name),
        }
    }
}

/// Runs the matching rules of a hooks file.
#[derive(Debug)]
pub(crate) struct Runner {
    hooks: Hooks,
    permits: Arc<Semaphore>,
    running: Mutex<BTreeMap<u64, String>>,
    next_ticket: AtomicU64,
}

impl Runner {
    pub(crate) fn new(hooks: Hooks) -> Self {
        let permits = Arc::new(Semaphore::new(hooks.max_concurrent));
        Self {
            hooks,
            permits,
            running: Mutex::new(BTreeMap::new()),
            next_ticket: AtomicU64::new(0),
        }
    }

    /// How many rules the hooks file has.
    pub(crate) fn rule_count(&self) -> usize {
        self.hooks.rules.len()
    }

    /// Descriptions of the commands running now.
    pub(crate) fn running(&self) -> Vec<String> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.values().cloned().collect()
    }

    /// Runs every matching rule in file order, stopping at the first that fails.
    pub(crate) async fn run_matching(&self, event: &HookEvent) -> Vec<RunReport> {
        let mut reports = Vec::new();
        for rule in self.hooks.matching(event.event_type.as_deref()) {
            let report = self.run_one(rule, event).await;
            let failed = !report.succeeded();
            reports.push(report);
            if failed {
                break;
            }
        }
        reports
    }

    async fn run_one(&self, rule: &Rule, event: &HookEvent) -> RunReport {
        let started = Instant::now();
        let report = |outcome, stdout, stderr| RunReport {
            name: rule.name.clone(),
            outcome,
            stdout,
            stderr,
            elapsed: started.elapsed(),
        };
        // The semaphore is never closed, so acquiring only waits.
        let Ok(_permit) = self.permits.acquire().await else {
            let outcome = RunOutcome::NotStarted("the runner is shutting down".into());
            return report(outcome, String::new(), String::new());
        };
        let Some(mut command) = build(rule, event) else {
            let outcome = RunOutcome::NotStarted("the rule names no program".into());
            return report(outcome, String::new(), String::new());
        };
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                return report(
                    RunOutcome::NotStarted(err.to_string()),
                    String::new(),
                    String::new(),
                );
            }
        };
        let _registered = self.register(rule, event, child.id());

        if let Some(mut stdin) = child.stdin.take() {
            let body = event.body.clone();
            // A command that ignores stdin may exit before reading it: a broken pipe is fine.
            tokio::spawn(async move {
                let _ = stdin.write_all(&body).await;
            });
        }
        let stdout = child.stdout.take().map(|out| tokio::spawn(tail(out)));
        let stderr = child.stderr.take().map(|err| tokio::spawn(tail(err)));

        let outcome = match tokio::time::timeout(rule.timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => RunOutcome::Succeeded,
            Ok(Ok(status)) => RunOutcome::Failed(match status.code() {
                Some(code) => format!("exited {code}"),
                None => format!("was killed ({status})"),
            }),
            Ok(Err(err)) => RunOutcome::Failed(format!("could not be waited for: {err}")),
            Err(_) => {
                let _ = child.kill().await;
                RunOutcome::TimedOut(rule.timeout)
            }
        };
        let stdout = collect(stdout).await;
        let stderr = collect(stderr).await;
        report(outcome, stdout, stderr)
    }

    fn register(&self, rule: &Rule, event: &HookEvent, pid: Option<u32>) -> Registered<'_> {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let pid = pid.map(|pid| format!(", pid {pid}")).unwrap_or_default();
        let text = format!("hook {} for event {}{pid}", rule.name, event.id);
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.insert(ticket, text);
        Registered {
            runner: self,
            ticket,
        }
    }
}

/// Removes a command from the registry when it ends, however it ends.
struct Registered<'a> {
    runner: &'a Runner,
    ticket: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut running = self
            .runner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        running.remove(&self.ticket);
    }
}

fn build(rule: &Rule, event: &HookEvent) -> Option<Command> {
    let mut command = match &rule.program {
        Program::Exec(argv) => {
            let (program, args) = argv.split_first()?;
            let mut command = Command::new(program);
            command.args(args);
            command
        }
        Program::Shell(script) => {
            let mut command = Command::new("/bin/sh");
            // `$0` is the rule's name, so the shell's own error messages say which hook failed.
            command.arg("-c").arg(script).arg(&rule.name);
            command
        }
    };
    command
        .current_dir(&rule.workdir)
        .envs(&rule.env)
        .env("HERALD_EVENT_ID", &event.id)
        .env(
            "HERALD_EVENT_TYPE",
            event.event_type.as_deref().unwrap_or(""),
        )
        .env("HERALD_TIMESTAMP", &event.timestamp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Some(command)
}

/// Reads a stream to its end, keeping only the last [`OUTPUT_TAIL`] bytes.
async fn tail(mut stream: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 8192];
    while let Ok(read) = stream.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        kept.extend_from_slice(&buffer[..read]);
        if kept.len() > OUTPUT_TAIL {
            kept.drain(..kept.len() - OUTPUT_TAIL);
        }
    }
    kept
}

async fn collect(reader: Option<tokio::task::JoinHandle<Vec<u8>>>) -> String {
    let Some(mut reader) = reader else {
        return String::new();
    };
    match tokio::time::timeout(DRAIN_AFTER_EXIT, &mut reader).await {
        Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(Err(_)) => String::new(),
        Err(_) => {
            reader.abort();
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::path::Path;
    use std::pin::pin;
    use std::task::Poll;

    use super::*;

    fn event(id: &str) -> HookEvent {
        HookEvent {
            id: id.to_owned(),
            event_type: Some("a.b".to_owned()),
            timestamp: "0".to_owned(),
            body: Bytes::from_static(b"{}"),
        }
    }

    /// Polls a future exactly once.
    async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        let mut future = Some(future);
        std::future::poll_fn(|cx| {
            let poll = future.take().map_or(Poll::Pending, |f| f.poll(cx));
            Poll::Ready(poll)
        })
        .await
    }

    #[tokio::test]
    async fn at_most_max_concurrent_commands_run_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let text = "max_concurrent = 1\n[[hook]]\nname = \"wait\"\nevents = [\"*\"]\n\
                    shell = \"touch started-$HERALD_EVENT_ID; while [ ! -e go-$HERALD_EVENT_ID ]; do sleep 0.02; done\"\n";
        let hooks = Hooks::parse(text, Path::new("hooks.toml"), dir.path()).unwrap();
        let runner = Runner::new(hooks);

        let (first_event, second_event) = (event("1"), event("2"));
        let mut first = pin!(runner.run_matching(&first_event));
        let mut second = pin!(runner.run_matching(&second_event));
        assert!(poll_once(first.as_mut()).await.is_pending());
        assert_eq!(runner.running().len(), 1);
        // Polling the second spawns nothing while the first holds the only permit.
        assert!(poll_once(second.as_mut()).await.is_pending());
        assert_eq!(runner.running().len(), 1);
        assert!(runner.running()[0].contains("event 1"));

        std::fs::write(dir.path().join("go-1"), "").unwrap();
        std::fs::write(dir.path().join("go-2"), "").unwrap();
        let (first, second) = tokio::join!(first, second);
        assert!(first[0].succeeded() && second[0].succeeded());
        assert!(dir.path().join("started-2").exists());
    }
}
