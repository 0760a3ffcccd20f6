//! The throughput and latency scenarios: `steady`, `fanout`, `noisy` and `latency`
//! (`backlog`, which needs a receiver that goes down and up, is in `backlog`).
//!
//! Each runs against a Herald of its own (see [`Ctx::target`]) with a tenant and
//! subscriptions of its own, publishes, waits for every delivery to arrive or the scenario's
//! deadline, and reports. Deliveries/s run from the first publish to the last arrival, so
//! they include Herald's acceptance as well as its dispatch.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::BenchError;
use crate::database::BenchDatabase;
use crate::publish::{self, EventBody, Published};
use crate::receiver::{Mode, Receiver};
use crate::report::{Latency, Ratio, ScenarioReport};
use crate::target::Target;

/// Latency phases publish for this long at most (the count is `rate` × this, up to `--events`).
const LATENCY_PHASE: Duration = Duration::from_secs(10);

/// Everything a scenario needs from the command line.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The herald binary to spawn, unless `remote` is set.
    pub herald_bin: PathBuf,
    /// `(urls, token)` of running servers to target instead.
    pub remote: Option<(Vec<String>, String)>,
    /// PostgreSQL admin URL: each scenario gets a fresh database next to it.
    pub database_url: Option<String>,
    /// `herald serve` children per scenario.
    pub nodes: usize,
    /// Events per throughput scenario.
    pub events: usize,
    /// Deliveries queued by `backlog`.
    pub backlog: usize,
    /// Publish requests in flight.
    pub publishers: usize,
    /// How long one scenario may run before it is reported incomplete.
    pub deadline: Duration,
}

impl Ctx {
    /// A fresh Herald for one scenario (or the remote ones), started with `extra` flags, on a
    /// fresh PostgreSQL database with `--database-url`.
    pub async fn target(&self, extra: &[String]) -> Result<Target, BenchError> {
        if let Some((urls, token)) = &self.remote {
            return Target::remote(urls, token).await;
        }
        let database = match &self.database_url {
            Some(url) => Some(BenchDatabase::create(url).await?),
            None => None,
        };
        Target::spawn(&self.herald_bin, extra, self.nodes, database).await
    }
}

/// Stops the target and fills what the nodes did into `report`: their cost, each node's
/// share, the commits per delivery, and the receiver's duplicates.
pub async fn conclude(target: Target, report: &mut ScenarioReport, receiver: &Receiver) {
    let finished = target.finish(report.arrived).await;
    report.process = finished.process;
    report.duplicates = receiver.duplicates();
    report.commits = finished.commits;
    report.commits_per_delivery = finished
        .commits
        .filter(|_| report.arrived > 0)
        .map(|c| c as f64 / report.arrived as f64);
    let total = finished.successes.filter(|t| *t > 0);
    report.nodes = finished.nodes;
    for node in &mut report.nodes {
        node.share_per_s = report
            .deliveries_per_s
            .zip(node.deliveries)
            .zip(total)
            .map(|((rate, mine), total)| rate * mine as f64 / total as f64);
    }
    report.notes.extend(finished.problems);
}

/// `steady` (1 subscription), `fanout` (10), or `noisy` (1 plus a blackholed one).
pub async fn throughput(
    ctx: &Ctx,
    name: &str,
    subscriptions: u16,
    blackhole: bool,
) -> Result<ScenarioReport, BenchError> {
    let started = Instant::now();
    let deadline = started + ctx.deadline;
    let receiver = Receiver::start(Mode::Answer)?;
    let hole = if blackhole {
        Some(Receiver::start(Mode::Blackhole)?)
    } else {
        None
    };
    let target = ctx.target(&[]).await?;
    let api = &target.api;
    api.event_type().await?;
    let tenant = api.tenant(name).await?;
    for n in 0..subscriptions {
        api.subscription(&tenant, &receiver.url(n)).await?;
    }
    if let Some(hole) = &hole {
        api.subscription(&tenant, &hole.url(0)).await?;
    }
    let body = EventBody::new(&tenant);
    let apis = target.apis();
    let published = publish::burst(&apis, &body, ctx.events, ctx.publishers, deadline).await;
    let expected = published.accepted.len() as u64 * u64::from(subscriptions);
    let arrived_all = receiver.wait_for(expected, deadline).await;

    let last = (0..subscriptions)
        .filter_map(|n| receiver.last_arrival(n))
        .max();
    let mut report = base_report(name, &published, expected, receiver.unique());
    report.complete = arrived_all && !published.cut_short;
    report.deliveries_per_s = rate_between(published.started, last, receiver.unique());
    conclude(target, &mut report, &receiver).await;
    if blackhole {
        report.notes.push(format!(
            "deliveries/s counts the {subscriptions} healthy subscription(s); one more is blackholed"
        ));
    }
    if !arrived_all {
        report.notes.push(format!(
            "deadline: {} of {expected} deliveries arrived",
            receiver.unique()
        ));
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// `latency`: paced publishing at 1,000 events/s and at half of `steady`'s rate (when known).
pub async fn latency(ctx: &Ctx, steady_rate: Option<f64>) -> Result<ScenarioReport, BenchError> {
    let started = Instant::now();
    let deadline = started + ctx.deadline;
    let receiver = Receiver::start(Mode::Answer)?;
    let target = ctx.target(&[]).await?;
    let api = &target.api;
    api.event_type().await?;
    let tenant = api.tenant("latency").await?;
    api.subscription(&tenant, &receiver.url(0)).await?;
    let body = EventBody::new(&tenant);
    let apis = target.apis();

    let mut phases = vec![("1000/s".to_owned(), 1000.0)];
    if let Some(rate) = steady_rate {
        phases.push((format!("half of steady ({:.0}/s)", rate / 2.0), rate / 2.0));
    }
    let mut report = ScenarioReport {
        name: "latency".into(),
        complete: true,
        ..ScenarioReport::default()
    };
    if steady_rate.is_none() {
        report
            .notes
            .push("half-of-steady phase skipped: run steady in the same invocation".into());
    }
    for (phase, rate) in phases {
        let count = ctx
            .events
            .min((rate * LATENCY_PHASE.as_secs_f64()) as usize)
            .max(1);
        let published =
            publish::paced(&apis, &body, count, rate, ctx.publishers, None, deadline).await;
        let expected = report.deliveries + published.accepted.len() as u64;
        let arrived_all = receiver.wait_for(expected, deadline).await;
        let samples = published
            .accepted
            .iter()
            .filter_map(|(id, sent)| {
                Some(receiver.arrival(0, id)?.saturating_duration_since(*sent))
            })
            .collect();
        report.complete &= arrived_all && !published.cut_short;
        report.events += published.accepted.len() as u64;
        report.deliveries = expected;
        report.publish_errors += published.errors;
        note_errors(&mut report, &published);
        report.latency.extend(Latency::of(phase, rate, samples));
    }
    report.arrived = receiver.unique();
    conclude(target, &mut report, &receiver).await;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The fields every scenario fills the same way from its publish run.
pub fn base_report(
    name: &str,
    published: &Published,
    expected: u64,
    arrived: u64,
) -> ScenarioReport {
    let mut report = ScenarioReport {
        name: name.to_owned(),
        events: published.accepted.len() as u64,
        deliveries: expected,
        arrived,
        publish_errors: published.errors,
        accepted_per_s: published.accepted_per_s(),
        ..ScenarioReport::default()
    };
    note_errors(&mut report, published);
    if published.cut_short {
        report.notes.push("deadline hit while publishing".into());
    }
    report
}

fn note_errors(report: &mut ScenarioReport, published: &Published) {
    if let Some(error) = &published.first_error {
        report.notes.push(format!(
            "{} publish errors, first: {error}",
            published.errors
        ));
    }
}

/// `count` per second between two instants.
pub fn rate_between(from: Option<Instant>, to: Option<Instant>, count: u64) -> Option<f64> {
    let seconds = to?.checked_duration_since(from?)?.as_secs_f64();
    Some(count as f64 / seconds.max(1e-9))
}

/// The headline ratio, if both rates are known.
pub fn ratio(
    value: Option<f64>,
    reference: Option<f64>,
    of: &'static str,
    target: f64,
) -> Option<Ratio> {
    Some(Ratio {
        value: value? / reference.filter(|r| *r > 0.0)?,
        of,
        target,
    })
}
