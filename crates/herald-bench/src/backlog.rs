//! `backlog`: deliveries queued while the receiver is down, then drained when it comes up.
//!
//! Queueing a million deliveries against a refusing endpoint would, with Herald's default
//! schedule, take half an hour of retries; the bench instead shapes the backlog directly:
//! 1. the receiver is down (its port refuses connections) and the subscription is paused,
//!    so publishing N events queues N deliveries without burning attempts on them;
//! 2. the subscription is resumed: every delivery gets its first attempt, which fails at once
//!    (connection refused), and is rescheduled by a short retry schedule (`1s` steps), so
//!    the backlog is made of *retries*, as after a real outage;
//! 3. once `/metrics` counts N failed attempts the receiver comes up: the drain rate runs from
//!    that instant to the last backlog arrival, and fresh events published at a modest rate
//!    meanwhile measure whether a backlog of retries starves fresh deliveries (promise 5).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::BenchError;
use crate::publish::{self, EventBody};
use crate::receiver::{Mode, Receiver};
use crate::report::{Latency, ScenarioReport};
use crate::scenarios::{Ctx, base_report, conclude, rate_between};

/// Fresh events per second published during the drain.
const FRESH_RATE: f64 = 100.0;
/// Fresh events are few; a handful in flight is plenty.
const FRESH_IN_FLIGHT: usize = 16;
/// Retry steps: many short ones, so the backlog is due soon after the outage and no delivery
/// spends its schedule while the bench waits.
const RETRY_STEP: &str = "1s";
const RETRY_STEPS: usize = 30;

/// Runs `backlog` with `ctx.backlog` deliveries.
pub async fn backlog(ctx: &Ctx) -> Result<ScenarioReport, BenchError> {
    let started = Instant::now();
    // Three phases (queue, fail, drain), each given the scenario deadline.
    let deadline = started + ctx.deadline * 3;
    let mut receiver = Receiver::down(Mode::Answer)?;
    let schedule = vec![RETRY_STEP; RETRY_STEPS].join(",");
    let target = ctx.target(&["--retry-schedule".into(), schedule]).await?;
    let api = &target.api;
    api.event_type().await?;
    let tenant = api.tenant("backlog").await?;
    let subscription = api.subscription(&tenant, &receiver.url(0)).await?;
    api.set_status(&subscription, "paused").await?;
    let body = EventBody::new(&tenant);
    let apis = target.apis();

    // 1. Queue.
    let queued = publish::burst(&apis, &body, ctx.backlog, ctx.publishers, deadline).await;
    let backlog = queued.accepted.len() as u64;
    let mut report = base_report("backlog", &queued, backlog, 0);
    if ctx.remote.is_some() {
        report
            .notes
            .push("remote server: its own retry schedule applies".into());
    }

    // 2. First attempts fail against the refusing port.
    let failing = Instant::now();
    api.set_status(&subscription, "active").await?;
    let mut failed = 0;
    while failed < backlog && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        failed = target.failed_attempts().await.unwrap_or(failed);
    }
    report.notes.push(format!(
        "{failed} first attempts failed (connection refused) in {:.1} s",
        failing.elapsed().as_secs_f64()
    ));

    // 3. The receiver comes up; drain while fresh events keep coming.
    receiver.up()?;
    let up = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let fresh_task = {
        let (apis, body, stop) = (apis.clone(), body.clone(), Arc::clone(&stop));
        let count = (FRESH_RATE * ctx.deadline.as_secs_f64() * 3.0) as usize;
        tokio::spawn(async move {
            publish::paced(
                &apis,
                &body,
                count,
                FRESH_RATE,
                FRESH_IN_FLIGHT,
                Some(stop),
                deadline,
            )
            .await
        })
    };
    let drained = receiver.wait_for(backlog, deadline).await;
    stop.store(true, Ordering::Relaxed);
    let fresh = fresh_task.await.unwrap_or_default();
    let expected = backlog + fresh.accepted.len() as u64;
    let arrived_all = receiver.wait_for(expected, deadline).await;

    let drain_end = queued
        .accepted
        .iter()
        .filter_map(|(id, _)| receiver.arrival(0, id))
        .max();
    let backlog_arrived = queued
        .accepted
        .iter()
        .filter(|(id, _)| receiver.arrival(0, id).is_some())
        .count() as u64;
    let samples = fresh
        .accepted
        .iter()
        .filter_map(|(id, sent)| Some(receiver.arrival(0, id)?.saturating_duration_since(*sent)))
        .collect();
    report.deliveries = expected;
    report.arrived = receiver.unique();
    report.deliveries_per_s = rate_between(Some(up), drain_end, backlog_arrived);
    report.latency.extend(Latency::of(
        format!("fresh during drain ({FRESH_RATE:.0}/s)"),
        FRESH_RATE,
        samples,
    ));
    report.complete = drained && arrived_all && !queued.cut_short && failed >= backlog;
    conclude(target, &mut report, &receiver).await;
    report.notes.push(format!(
        "deliveries/s is the drain rate of {backlog_arrived} queued retries; accepted/s is while queueing"
    ));
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
