//! `herald bench`: how fast Herald delivers, measured against this machine's own limit.
//!
//! The bench first measures two **limits** (1 KiB bodies POSTed straight to the bench's
//! receiver: with the HTTP client Herald delivers with, the targets' reference, and with hyper
//! directly, the machine's), then runs each scenario against fresh `herald serve` children
//! (one, or `--nodes N` on one PostgreSQL database with `--database-url`; or running servers
//! given by `--url`/`--token`) and reports rates, ratios to the targets and to the
//! hyper limit, publish→arrival latency, duplicates, commits per delivery on PostgreSQL, and
//! the peak RSS and CPU time of each herald process. It never asserts a time: it is a
//! benchmark, not a test.
//!
//! - `receiver`: the fast subscriber endpoint (answering, down, or blackholed).
//! - `limit`, `hyper_limit`: the no-Herald baselines.
//! - `database`: a fresh PostgreSQL database per scenario.
//! - `target`: the nodes of a scenario (spawned or running); `setup`: their API.
//! - `publish`: concurrent, bounded publishers (burst and paced).
//! - `scenarios`: `steady`, `fanout`, `noisy`, `latency`; `backlog`: the drain.
//! - `procstats`: peak RSS and CPU from `/proc`.
//! - `report`: JSON and tables; `error`: [`BenchError`], why a measurement was impossible.
//!
//! Everything runs on 127.0.0.1, and every loop is bounded by a count and a deadline.

#![deny(missing_docs)]

mod backlog;
mod database;
mod error;
pub mod hyper_limit;
pub mod limit;
pub mod procstats;
mod publish;
pub mod receiver;
pub mod report;
mod scenarios;
mod setup;
mod target;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use crate::error::BenchError;
use crate::report::{Report, ScenarioReport};
use crate::scenarios::{Ctx, ratio};

/// A scenario to run (`all` means every one, in the order below).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// N events to 1 subscription as fast as Herald accepts them.
    Steady,
    /// Each event to 10 subscriptions.
    Fanout,
    /// Paced publishing; publish→arrival percentiles.
    Latency,
    /// `steady` plus one blackholed subscription.
    Noisy,
    /// A backlog of retries queued while the receiver was down, then drained.
    Backlog,
    /// All of the above.
    All,
}

const ORDER: [Scenario; 5] = [
    Scenario::Steady,
    Scenario::Fanout,
    Scenario::Latency,
    Scenario::Noisy,
    Scenario::Backlog,
];

/// `herald bench`: measure delivery speed against the machine's own limit.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Events published by each throughput scenario.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub events: usize,
    /// Scenarios to run (repeat the flag or separate with commas).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    pub scenario: Vec<Scenario>,
    /// Deliveries queued by the backlog scenario.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub backlog: usize,
    /// Benchmark running servers at these URLs (repeat the flag; publishers are spread
    /// across them) instead of spawning one (no process stats then).
    #[arg(
        long,
        requires = "token",
        conflicts_with = "database_url",
        value_name = "URL"
    )]
    pub url: Vec<String>,
    /// Run every scenario on PostgreSQL: each gets a fresh database created over this URL
    /// (its role needs CREATEDB) and dropped after.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// `herald serve` nodes per scenario, on the one database (only with --database-url).
    #[arg(long, default_value_t = 1, requires = "database_url", value_name = "N")]
    pub nodes: usize,
    /// Admin token of the servers given by --url.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The herald binary to spawn. [default: this executable]
    #[arg(long, value_name = "PATH")]
    pub herald_bin: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Requests in flight for the limit (Herald's default per-subscription max_in_flight).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// Publish requests in flight.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub publishers: usize,
    /// How long one scenario may run before it is reported incomplete (backlog gets 3×):
    /// seconds (300) or a duration such as 5m.
    #[arg(long, default_value = "300", value_name = "DURATION", value_parser = herald_duration::parse)]
    pub deadline: Duration,
    /// Tiny sizes (200 events, backlog 2,000) to check that every scenario still works.
    #[arg(long)]
    pub quick: bool,
}

/// Runs the bench and prints its report (a table, or JSON with `--json`) on stdout;
/// progress goes to stderr.
pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    let report = measure(&args).await?;
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(BenchError::Report)?;
        println!("{json}");
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// Runs the bench and returns its report without printing it.
pub async fn measure(args: &BenchArgs) -> Result<Report, BenchError> {
    let ctx = context(args)?;
    let wanted: Vec<Scenario> = if args.scenario.contains(&Scenario::All) {
        ORDER.to_vec()
    } else {
        ORDER
            .into_iter()
            .filter(|s| args.scenario.contains(s))
            .collect()
    };
    if let Some(url) = &ctx.database_url {
        // Whether the role may create databases, before minutes go into the limits.
        database::BenchDatabase::probe(url).await?;
    }
    let deadline = Instant::now() + ctx.deadline;
    let limit_requests = if args.quick {
        ctx.events * 10
    } else {
        ctx.events.max(50_000)
    };
    eprintln!(
        "limit: {limit_requests} requests, {} in flight",
        args.concurrency
    );
    let limit = limit::measure(limit_requests, args.concurrency, deadline).await?;
    let limit_rate = Some(limit.requests_per_s);
    eprintln!(
        "limit (hyper): {limit_requests} requests, {} connections",
        args.concurrency
    );
    let limit_hyper = hyper_limit::measure(limit_requests, args.concurrency, deadline).await?;

    let mut scenarios: Vec<ScenarioReport> = Vec::new();
    let mut steady_rate = None;
    for scenario in wanted {
        eprintln!("scenario {scenario:?}…");
        let mut report = match scenario {
            Scenario::Steady => scenarios::throughput(&ctx, "steady", 1, false).await?,
            Scenario::Fanout => scenarios::throughput(&ctx, "fanout", 10, false).await?,
            Scenario::Latency => scenarios::latency(&ctx, steady_rate).await?,
            Scenario::Noisy => scenarios::throughput(&ctx, "noisy", 1, true).await?,
            Scenario::Backlog => backlog::backlog(&ctx).await?,
            Scenario::All => continue,
        };
        report.ratio = match scenario {
            Scenario::Steady => ratio(report.deliveries_per_s, limit_rate, "limit", 0.25),
            Scenario::Fanout => ratio(report.deliveries_per_s, limit_rate, "limit", 0.5),
            Scenario::Noisy => ratio(report.deliveries_per_s, steady_rate, "steady", 0.9),
            Scenario::Backlog => ratio(report.deliveries_per_s, steady_rate, "steady", 1.0),
            _ => None,
        };
        if scenario != Scenario::Latency {
            report.ratio_hyper = report
                .deliveries_per_s
                .map(|rate| rate / limit_hyper.requests_per_s.max(1e-9));
        }
        if scenario == Scenario::Steady && report.complete {
            steady_rate = report.deliveries_per_s;
        }
        scenarios.push(report);
    }
    Ok(Report {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        target: match &ctx.remote {
            Some((urls, _)) => urls.join(", "),
            None => ctx.herald_bin.display().to_string(),
        },
        store: match (&ctx.remote, &ctx.database_url) {
            (Some(_), _) => "remote".into(),
            (None, Some(_)) => "postgres".into(),
            (None, None) => "sqlite".into(),
        },
        nodes: ctx
            .remote
            .as_ref()
            .map_or(ctx.nodes, |(urls, _)| urls.len()),
        limit: Some(limit),
        limit_hyper: Some(limit_hyper),
        scenarios,
    })
}

fn context(args: &BenchArgs) -> Result<Ctx, BenchError> {
    let herald_bin = match &args.herald_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(BenchError::CurrentExe)?,
    };
    let remote = match &args.token {
        Some(token) if !args.url.is_empty() => Some((args.url.clone(), token.clone())),
        _ => None,
    };
    let (events, backlog) = if args.quick {
        (args.events.min(200), args.backlog.min(2_000))
    } else {
        (args.events, args.backlog)
    };
    Ok(Ctx {
        herald_bin,
        remote,
        database_url: args.database_url.clone(),
        nodes: args.nodes.max(1),
        events: events.max(1),
        backlog: backlog.max(1),
        publishers: args.publishers.max(1),
        deadline: args.deadline.max(Duration::from_secs(1)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::BenchArgs;

    #[derive(Parser)]
    struct Bench {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn deadline_takes_seconds_or_a_duration_like_every_herald_duration() {
        let parse = |words: &[&str]| Bench::try_parse_from(words).map(|b| b.args.deadline);
        assert_eq!(parse(&["bench"]).unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse(&["bench", "--deadline", "120"]).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            parse(&["bench", "--deadline", "5m"]).unwrap(),
            Duration::from_secs(300)
        );
        assert!(parse(&["bench", "--deadline", "soon"]).is_err());
    }
}
