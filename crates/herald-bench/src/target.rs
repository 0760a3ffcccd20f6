//! The Herald under test: the nodes of one scenario.
//!
//! [`Target::spawn`] starts one or more `herald serve --dev` children, each on a fresh
//! temporary data directory and a free port of 127.0.0.1, sharing a generated
//! `HERALD_ADMIN_TOKEN` (and, on PostgreSQL, a generated `HERALD_ENCRYPTION_KEY` and the
//! scenario's own database); a child's output goes to a log file in its directory, shown when
//! it fails to start. [`Target::remote`] uses servers that are already running
//! (`--url`/`--token`): then no process statistics are reported. [`Target::finish`] reads
//! what each node did before it stops them, and only then drops the database.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::process::{Child, Command};

use crate::BenchError;
use crate::database::BenchDatabase;
use crate::procstats::{self, ProcStats};
use crate::report::NodeReport;
use crate::setup::{Api, Attempts};

/// How long a spawned server may take to answer `/readyz`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Target::finish`] waits for the nodes' counts of recorded attempts to catch up with
/// the arrivals.
const SETTLE: Duration = Duration::from_secs(5);

/// The Herald nodes of one scenario: children we own, or running servers.
pub struct Target {
    /// The API client of the first node, for setup.
    pub api: Api,
    nodes: Vec<Node>,
    /// The scenario's database, dropped by [`Target::finish`] after the nodes stopped.
    database: Option<BenchDatabase>,
}

/// One `herald serve`.
struct Node {
    api: Api,
    /// Its attempt counters when the scenario began (zero for a node we started).
    before: Attempts,
    /// The child, if we spawned it (killed on drop).
    child: Option<Child>,
    /// Holds the data directory until the child is gone.
    _data_dir: Option<tempfile::TempDir>,
}

/// What the nodes did, read when a scenario ends.
#[derive(Debug, Default)]
pub struct Finished {
    /// Per node (only when there are several).
    pub nodes: Vec<NodeReport>,
    /// The spawned node's cost; with several nodes, the sum of CPU and the largest peak RSS.
    pub process: Option<ProcStats>,
    /// Transactions committed in the scenario's PostgreSQL database.
    pub commits: Option<u64>,
    /// Successful attempts over all nodes, from `/metrics`.
    pub successes: Option<u64>,
    /// What went wrong while finishing (the report carries it as a note).
    pub problems: Vec<String>,
}

impl Target {
    /// Servers that already run at `urls`, administered with `token`. Their attempt counters
    /// are read now, so this scenario's deliveries are told from earlier ones.
    pub async fn remote(urls: &[String], token: &str) -> Result<Self, BenchError> {
        let mut nodes = Vec::new();
        for url in urls {
            let api = Api::new(url.trim_end_matches('/'), token)?;
            let before = api.attempts().await.unwrap_or_default();
            nodes.push(Node {
                api,
                before,
                child: None,
                _data_dir: None,
            });
        }
        Self::of(nodes, None)
    }

    /// Starts `nodes` × `bin serve` with `extra` flags (on `database` if given), and waits
    /// for each.
    pub async fn spawn(
        bin: &Path,
        extra: &[String],
        nodes: usize,
        database: Option<BenchDatabase>,
    ) -> Result<Self, BenchError> {
        let token = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let mut flags = extra.to_vec();
        let mut env = vec![("HERALD_ADMIN_TOKEN", token.clone())];
        if let Some(database) = &database {
            flags.extend(["--database-url".to_owned(), database.url().to_owned()]);
            env.push(("HERALD_ENCRYPTION_KEY", encryption_key()));
        }
        let mut started = Vec::new();
        for _ in 0..nodes.max(1) {
            match Node::spawn(bin, &flags, &env, &token).await {
                Ok(node) => started.push(node),
                Err(error) => {
                    // Stop the nodes already up (dropping kills them) before the database goes.
                    drop(started);
                    if let Some(database) = database {
                        let _ = database.drop_after().await;
                    }
                    return Err(error);
                }
            }
        }
        Self::of(started, database)
    }

    fn of(nodes: Vec<Node>, database: Option<BenchDatabase>) -> Result<Self, BenchError> {
        let api = nodes
            .first()
            .map(|n| n.api.clone())
            .ok_or(BenchError::NoServer)?;
        Ok(Self {
            api,
            nodes,
            database,
        })
    }

    /// One API client per node, to spread publishers across them.
    pub fn apis(&self) -> Vec<Api> {
        self.nodes.iter().map(|n| n.api.clone()).collect()
    }

    /// Each node's successful attempts so far.
    async fn succeeded(&self) -> Vec<Result<u64, BenchError>> {
        let mut counts = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            counts.push(node.attempts().await.map(|a| a.succeeded));
        }
        counts
    }

    /// Attempts that did not succeed, over all nodes.
    pub async fn failed_attempts(&self) -> Result<u64, BenchError> {
        let mut sum = 0;
        for node in &self.nodes {
            sum += node.attempts().await?.failed;
        }
        Ok(sum)
    }

    /// Reads every node's deliveries and cost, stops the children (SIGKILL: their data
    /// directories are thrown away anyway), then reads the commits and drops the database.
    ///
    /// A node counts a delivery once its attempt is recorded, which comes after the request
    /// arrived, so the counts are read once they add up to `arrived` (the receiver's count),
    /// or after [`SETTLE`] if they never do.
    pub async fn finish(mut self, arrived: u64) -> Finished {
        let mut finished = Finished::default();
        let settle = Instant::now() + SETTLE;
        let counts = loop {
            let counts = self.succeeded().await;
            let total: u64 = counts.iter().filter_map(|c| c.as_ref().ok()).sum();
            if total >= arrived || counts.iter().any(Result::is_err) || Instant::now() >= settle {
                break counts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut successes = Some(0);
        for (node, count) in self.nodes.iter().zip(counts) {
            let deliveries = match count {
                Ok(succeeded) => Some(succeeded),
                Err(error) => {
                    finished.problems.push(format!(
                        "{}: {}",
                        node.api.base,
                        crate::error::chain(&error)
                    ));
                    None
                }
            };
            successes = successes.zip(deliveries).map(|(a, b)| a + b);
            finished.nodes.push(NodeReport {
                url: node.api.base.clone(),
                deliveries,
                share_per_s: None,
                process: node.stats(),
            });
        }
        finished.successes = successes;
        let stats: Vec<ProcStats> = finished.nodes.iter().filter_map(|n| n.process).collect();
        if !stats.is_empty() {
            finished.process = Some(ProcStats {
                peak_rss_mb: stats.iter().map(|p| p.peak_rss_mb).fold(0.0, f64::max),
                cpu_seconds: stats.iter().map(|p| p.cpu_seconds).sum(),
            });
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill().await;
            }
        }
        if let Some(database) = self.database.take() {
            match database.drop_after().await {
                Ok(commits) => finished.commits = commits,
                Err(error) => finished.problems.push(crate::error::chain(&error)),
            }
        }
        if finished.nodes.len() < 2 {
            finished.nodes.clear();
        }
        finished
    }
}

/// A fresh 32-byte key in base64, shared by the nodes of one scenario (`HERALD_ENCRYPTION_KEY`).
/// Its bytes are two v4 UUIDs (244 random bits) rather than a new random-number dependency:
/// the key seals only the secrets of a database dropped minutes later.
fn encryption_key() -> String {
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(a.as_bytes());
    bytes[16..].copy_from_slice(b.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Node {
    async fn spawn(
        bin: &Path,
        flags: &[String],
        env: &[(&str, String)],
        token: &str,
    ) -> Result<Self, BenchError> {
        let data_dir = tempfile::Builder::new()
            .prefix("herald-bench-")
            .tempdir()
            .map_err(BenchError::local("create a data directory"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(BenchError::local("find a free port on 127.0.0.1"))?
            .port();
        let log_path = data_dir.path().join("herald.log");
        let log =
            std::fs::File::create(&log_path).map_err(BenchError::local("create the server log"))?;
        let log_copy = log
            .try_clone()
            .map_err(BenchError::local("create the server log"))?;
        let child = Command::new(bin)
            .arg("serve")
            .arg("--dev")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir.path().join("data"))
            .args(flags)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_copy))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                bin: bin.to_owned(),
                source,
            })?;
        let api = Api::new(&format!("http://127.0.0.1:{port}"), token)?;
        let mut node = Self {
            api,
            before: Attempts::default(),
            child: Some(child),
            _data_dir: Some(data_dir),
        };
        if let Err(reason) = node.wait_ready().await {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(BenchError::ServerStart {
                reason,
                log_tail: tail.join("\n"),
            });
        }
        Ok(node)
    }

    /// Waits for `/readyz`; the error is why the server is not ready, in words.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        return Err(format!("herald serve exited at start ({status})"));
                    }
                    Ok(None) => {}
                    Err(error) => return Err(format!("cannot watch herald serve: {error}")),
                }
            }
            if self.api.ready().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "herald serve did not become ready within {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Attempts made since the scenario began.
    async fn attempts(&self) -> Result<Attempts, BenchError> {
        let now = self.api.attempts().await?;
        Ok(Attempts {
            succeeded: now.succeeded.saturating_sub(self.before.succeeded),
            failed: now.failed.saturating_sub(self.before.failed),
        })
    }

    /// Peak RSS and CPU seconds of the spawned process so far.
    fn stats(&self) -> Option<ProcStats> {
        procstats::read(self.child.as_ref()?.id()?)
    }
}
