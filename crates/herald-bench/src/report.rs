//! What a run measured, as JSON for machines and as tables for people.
//!
//! Numbers only: nothing here compares a time against a target and fails. The ratios carry
//! their target beside them so a reader sees how far off a number is, but the bench never
//! asserts a timing (it is a benchmark, not a test).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::limit::LimitReport;
use crate::procstats::ProcStats;

/// A whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Cores this machine offers (`available_parallelism`).
    pub cores: usize,
    /// The server measured: the binary spawned, or the URL(s) targeted.
    pub target: String,
    /// The store measured: `sqlite`, `postgres`, or `remote` (whatever `--url` runs on).
    pub store: String,
    /// Herald nodes each scenario ran against.
    pub nodes: usize,
    /// The machine's own HTTP limit with Herald's client (reqwest): the targets' reference.
    pub limit: Option<LimitReport>,
    /// The same limit with the fastest loopback client (hyper directly, keep-alive
    /// connections each with one request in flight, as wrk would).
    pub limit_hyper: Option<LimitReport>,
    /// One entry per scenario run, in order.
    pub scenarios: Vec<ScenarioReport>,
}

/// One scenario's numbers.
#[derive(Debug, Default, Serialize)]
pub struct ScenarioReport {
    /// `steady`, `fanout`, `latency`, `noisy` or `backlog`.
    pub name: String,
    /// False if a deadline cut it short or not every delivery arrived.
    pub complete: bool,
    /// Why it is incomplete, or what else a reader should know.
    pub notes: Vec<String>,
    /// Events accepted.
    pub events: u64,
    /// Deliveries expected to arrive (events × subscriptions that must receive them).
    pub deliveries: u64,
    /// Deliveries that arrived (distinct).
    pub arrived: u64,
    /// Publish requests that failed.
    pub publish_errors: u64,
    /// Accepted events per second while publishing.
    pub accepted_per_s: Option<f64>,
    /// Deliveries per second, first publish to last arrival (backlog: the drain rate).
    pub deliveries_per_s: Option<f64>,
    /// The headline ratio against its reference and target.
    pub ratio: Option<Ratio>,
    /// Deliveries/s ÷ the hyper limit: how close Herald is to the machine.
    pub ratio_hyper: Option<f64>,
    /// Arrivals beyond the first per webhook-id and subscription (0 with healthy nodes).
    pub duplicates: u64,
    /// Transactions committed in the scenario's PostgreSQL database (`pg_stat_database`).
    pub commits: Option<u64>,
    /// `commits` ÷ deliveries arrived.
    pub commits_per_delivery: Option<f64>,
    /// Per node, when the scenario ran on several.
    pub nodes: Vec<NodeReport>,
    /// Publish→arrival latency, per phase.
    pub latency: Vec<Latency>,
    /// Cost of the herald process (absent when targeting `--url`).
    pub process: Option<ProcStats>,
    /// Wall time of the scenario.
    pub seconds: f64,
}

/// What one of several nodes did in a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// The node's API address.
    pub url: String,
    /// Successful attempts it made (its `/metrics`), if readable.
    pub deliveries: Option<u64>,
    /// Its share of the scenario's deliveries/s.
    pub share_per_s: Option<f64>,
    /// Its peak RSS and CPU (absent for `--url` nodes).
    pub process: Option<ProcStats>,
}

/// `value` = this scenario's rate ÷ the reference's.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// The quotient.
    pub value: f64,
    /// `limit` or `steady`.
    pub of: &'static str,
    /// The target for `value` (at least).
    pub target: f64,
}

/// Publish→arrival latency of one phase.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// What was measured, e.g. `1000/s` or `fresh during drain`.
    pub phase: String,
    /// Events published per second asked for.
    pub rate: f64,
    /// Events measured.
    pub count: usize,
    /// Percentiles and maximum, in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples`; `None` when empty.
    pub fn of(phase: String, rate: f64, mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1].as_secs_f64() * 1000.0
        };
        Some(Self {
            phase,
            rate,
            count: samples.len(),
            p50_ms: at(50.0),
            p90_ms: at(90.0),
            p99_ms: at(99.0),
            max_ms: at(100.0),
        })
    }
}

impl Report {
    /// The tables for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "herald bench: {} cores, target {}, store {}, {} node(s)",
            self.cores, self.target, self.store, self.nodes
        );
        for (name, limit) in [("reqwest", &self.limit), ("hyper", &self.limit_hyper)] {
            if let Some(limit) = limit {
                let _ = writeln!(
                    out,
                    "limit ({name}): {:.0} requests/s ({} requests of 1 KiB, {} in flight{})",
                    limit.requests_per_s,
                    limit.requests,
                    limit.concurrency,
                    if limit.complete { "" } else { ", INCOMPLETE" }
                );
            }
        }
        let _ = writeln!(
            out,
            "\n{:<9} {:>9} {:>13} {:>11} {:>13} {:>26} {:>8} {:>5} {:>9} {:>7} {:>9}  status",
            "scenario",
            "events",
            "deliveries",
            "accepted/s",
            "deliveries/s",
            "ratio (target)",
            "vs hyper",
            "dups",
            "peak RSS",
            "CPU s",
            "commits/d"
        );
        for s in &self.scenarios {
            let ratio = s.ratio.as_ref().map_or("-".to_owned(), |r| {
                format!("{:.2} of {} (>= {})", r.value, r.of, r.target)
            });
            let (rss, cpu) = s.process.map_or(("-".to_owned(), "-".to_owned()), |p| {
                (
                    format!("{:.0} MB", p.peak_rss_mb),
                    format!("{:.1}", p.cpu_seconds),
                )
            });
            let _ = writeln!(
                out,
                "{:<9} {:>9} {:>13} {:>11} {:>13} {:>26} {:>8} {:>5} {:>9} {:>7} {:>9}  {}",
                s.name,
                s.events,
                format!("{}/{}", s.arrived, s.deliveries),
                rate(s.accepted_per_s),
                rate(s.deliveries_per_s),
                ratio,
                s.ratio_hyper.map_or("-".to_owned(), |r| format!("{r:.2}")),
                s.duplicates,
                rss,
                cpu,
                s.commits_per_delivery
                    .map_or("-".to_owned(), |c| format!("{c:.2}")),
                if s.complete { "ok" } else { "INCOMPLETE" }
            );
        }
        self.node_table(&mut out);
        let latencies: Vec<_> = self
            .scenarios
            .iter()
            .flat_map(|s| s.latency.iter().map(move |l| (&s.name, l)))
            .collect();
        if !latencies.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<9} {:<26} {:>7} {:>9} {:>9} {:>9} {:>9}",
                "scenario", "phase", "events", "p50 ms", "p90 ms", "p99 ms", "max ms"
            );
            for (name, l) in latencies {
                let _ = writeln!(
                    out,
                    "{:<9} {:<26} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                    name, l.phase, l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
                );
            }
        }
        for s in &self.scenarios {
            for note in &s.notes {
                let _ = writeln!(out, "note ({}): {note}", s.name);
            }
        }
        out
    }
}

impl Report {
    /// Per-node lines of the scenarios that ran on several nodes.
    fn node_table(&self, out: &mut String) {
        if self.scenarios.iter().all(|s| s.nodes.is_empty()) {
            return;
        }
        let _ = writeln!(
            out,
            "\n{:<9} {:<24} {:>11} {:>13} {:>9} {:>7}",
            "scenario", "node", "deliveries", "deliveries/s", "peak RSS", "CPU s"
        );
        for s in &self.scenarios {
            for node in &s.nodes {
                let (rss, cpu) = node.process.map_or(("-".to_owned(), "-".to_owned()), |p| {
                    (
                        format!("{:.0} MB", p.peak_rss_mb),
                        format!("{:.1}", p.cpu_seconds),
                    )
                });
                let _ = writeln!(
                    out,
                    "{:<9} {:<24} {:>11} {:>13} {:>9} {:>7}",
                    s.name,
                    node.url.trim_start_matches("http://"),
                    node.deliveries.map_or("-".to_owned(), |d| d.to_string()),
                    rate(node.share_per_s),
                    rss,
                    cpu
                );
            }
        }
    }
}

fn rate(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.0}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let latency = Latency::of("x".into(), 1.0, samples).unwrap();
        assert_eq!(latency.p50_ms, 50.0);
        assert_eq!(latency.p99_ms, 99.0);
        assert_eq!(latency.max_ms, 100.0);
    }

    #[test]
    fn no_samples_no_latency() {
        assert!(Latency::of("x".into(), 1.0, Vec::new()).is_none());
    }
}
