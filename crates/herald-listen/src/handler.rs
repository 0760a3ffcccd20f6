//! One request, start to finish: method and path, body, signature, deduplication, actions,
//! answer, and its record in the output.
//!
//! The work of each request runs in its own task on a `TaskTracker`, not in the connection's
//! future: a sender that gives up and hangs up must not kill a deploy halfway (hyper drops a
//! connection's future when the peer goes away), and shutdown can wait for exactly these
//! tasks. The order of checks is deliberate: the cheap gate (`gate.rs`: origin, content type,
//! id length) runs before the body is read, and the signature is checked before the id is
//! looked up, so an unsigned request can neither trigger an action nor poison the
//! deduplication memory with someone else's id.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use time::OffsetDateTime;
use tokio_util::task::TaskTracker;

use herald_signature::{HEADER_ID, HEADER_TIMESTAMP, Verifier};

use crate::config::Config;
use crate::dedup::{Claim, ClaimGuard, Dedup};
use crate::forward::{ForwardError, Forwarder};
use crate::gate::Gate;
use crate::hooks::Pattern;
use crate::output::{Outcome, Output, Record};
use crate::problem::Problem;
use crate::runner::{HookEvent, RunOutcome, Runner};
use crate::server::ServeError;
use crate::verify::{self, Verdict};

/// What a duplicate's record says: why nothing ran, and how to make it run. A sender's
/// redelivery reuses the event's id, so without this a redelivery that "succeeded" at the
/// sender looks like a webhook the receiver ignored.
const DUPLICATE_NOTE: &str = "id already handled, so not run again (a redelivery keeps its \
                              webhook-id); to run every request, restart with --no-dedup";

/// What every request task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub path: Option<String>,
    pub verifier: Option<Verifier>,
    pub max_body_size: usize,
    pub read_timeout: Duration,
    /// Refuses browser pages, non-JSON bodies and overlong ids before the body is read.
    pub gate: Gate,
    /// The timestamp tolerance in seconds: how long after its timestamp an id is remembered.
    pub window_seconds: i64,
    /// `None` with `--no-dedup`: every request acts.
    pub dedup: Option<Arc<Dedup>>,
    pub forwarder: Option<Forwarder>,
    /// `--forward` routes, first match first; `forwarder` takes what none matches.
    pub routes: Vec<(Pattern, Forwarder)>,
    pub runner: Option<Runner>,
    pub output: Output,
    /// Request tasks, so shutdown can wait for them.
    pub tracker: TaskTracker,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Result<Self, ServeError> {
        let forwarder = config
            .forward_to
            .map(|url| Forwarder::new(url, config.forward_timeout, config.max_body_size))
            .transpose()?;
        let routes = config
            .forward_routes
            .into_iter()
            .map(|(pattern, url)| {
                Forwarder::new(url, config.forward_timeout, config.max_body_size)
                    .map(|forwarder| (pattern, forwarder))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let window = i64::try_from(config.tolerance.as_secs()).unwrap_or(i64::MAX);
        Ok(Self {
            path: config.path,
            verifier: config.verifier,
            max_body_size: config.max_body_size,
            read_timeout: config.read_timeout,
            gate: Gate {
                origins: config.allowed_origins,
                any_content_type: config.any_content_type,
            },
            window_seconds: window,
            dedup: config
                .dedup
                .then(|| Arc::new(Dedup::new(config.dedup_capacity, config.dedup_memory))),
            forwarder,
            routes,
            runner: config.hooks.map(Runner::new),
            output: config.output,
            tracker: TaskTracker::new(),
        })
    }

    pub(crate) fn running_commands(&self) -> Vec<String> {
        self.runner
            .as_ref()
            .map(Runner::running)
            .unwrap_or_default()
    }

    pub(crate) fn hook_count(&self) -> Option<usize> {
        self.runner.as_ref().map(Runner::rule_count)
    }
}

/// Every method and path reaches [`handle`], which decides.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let task = Arc::clone(&shared);
    let handle = shared
        .tracker
        .spawn(async move { process(&task, request).await });
    match handle.await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the receiver failed while handling this request; see its output",
        )
        .into_response(),
    }
}

async fn process(shared: &Shared, request: Request) -> Response {
    let time = OffsetDateTime::now_utc();
    let (parts, body) = request.into_parts();
    let mut record = Record {
        time,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        id: first_text(&parts.headers, HEADER_ID),
        event_type: None,
        size: 0,
        outcome: Outcome::Rejected,
        verified: false,
        status: 0,
        reason: None,
        notes: Vec::new(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.to_string(), value)
            })
            .collect(),
        body: Bytes::new(),
        runs: Vec::new(),
    };
    let response = match decide(shared, &parts, body, time.unix_timestamp(), &mut record).await {
        Ok(response) => response,
        Err(problem) => {
            record.reason = Some(problem.detail.clone());
            let allow = problem.status_code() == StatusCode::METHOD_NOT_ALLOWED;
            let mut response = problem.into_response();
            if allow {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            response
        }
    };
    record.status = response.status().as_u16();
    shared.output.record(&record);
    response
}

async fn decide(
    shared: &Shared,
    parts: &http::request::Parts,
    body: Body,
    now: i64,
    record: &mut Record,
) -> Result<Response, Problem> {
    if parts.method != Method::POST {
        return Err(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!(
                "{} is not accepted; webhooks are sent with POST",
                parts.method
            ),
        ));
    }
    if let Some(path) = &shared.path
        && parts.uri.path() != path
    {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-path",
            "Unknown path",
            format!("this receiver accepts webhooks on {path} only"),
        ));
    }
    shared.gate.check(&parts.headers)?;
    let body = read_body(shared, &parts.headers, body).await?;
    record.size = body.len();
    record.body = body.clone();

    let verdict = verify::check(shared.verifier.as_ref(), &parts.headers, &body, now)?;
    record.verified = verdict == Verdict::Verified;
    record.outcome = match verdict {
        Verdict::Verified => Outcome::Verified,
        Verdict::Unverified => Outcome::Unverified,
    };
    record.event_type = event_type(&body);

    let id = first_text(&parts.headers, HEADER_ID).filter(|id| !id.is_empty());
    let guard = match claim(shared, id.as_deref(), now, record)? {
        Ok(guard) => guard,
        Err(duplicate) => return Ok(duplicate),
    };

    let response = act(shared, parts, body, id, record).await?;
    if let Some(guard) = guard
        && response.status().is_success()
    {
        // A verified timestamp is within the tolerance, so a replay verifies until it plus
        // the window; an unverified request's timestamp means nothing, so count from now.
        let signed_at = match verdict {
            Verdict::Verified => first_text(&parts.headers, HEADER_TIMESTAMP)
                .and_then(|text| text.trim().parse::<i64>().ok())
                .unwrap_or(now),
            Verdict::Unverified => now,
        };
        guard.remember(signed_at.saturating_add(shared.window_seconds));
    }
    Ok(response)
}

/// Claims the request's id: `Ok(Ok(guard))` to act (no guard: not deduplicated),
/// `Ok(Err(answer))` for a duplicate answered without acting, `Err` for a refusal.
fn claim(
    shared: &Shared,
    id: Option<&str>,
    now: i64,
    record: &mut Record,
) -> Result<Result<Option<ClaimGuard>, Response>, Problem> {
    let (Some(id), Some(dedup)) = (id, &shared.dedup) else {
        if id.is_none() {
            record
                .notes
                .push("no webhook-id, so not deduplicated".into());
        }
        return Ok(Ok(None));
    };
    match dedup.claim(id, now) {
        Claim::New(guard) => Ok(Ok(Some(guard))),
        Claim::Duplicate => {
            record.outcome = Outcome::Duplicate;
            record.notes.push(DUPLICATE_NOTE.into());
            Ok(Err(StatusCode::OK.into_response()))
        }
        Claim::Full => Err(dedup_full()),
        Claim::InFlight => {
            record.outcome = Outcome::Duplicate;
            Err(Problem::new(
                StatusCode::CONFLICT,
                "in-progress",
                "Already in progress",
                format!("webhook {id} is being handled right now; retry later"),
            ))
        }
    }
}

/// The 503 for a full deduplication memory (see `dedup.rs` for why nothing is forgotten).
fn dedup_full() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "dedup-full",
        "Deduplication memory full",
        "the receiver remembers as many webhook ids as --dedup-capacity and --dedup-memory \
         allow, all still inside --tolerance; retry later",
    )
}

/// Forwards, then runs hooks. Without either, answers 200.
async fn act(
    shared: &Shared,
    parts: &http::request::Parts,
    body: Bytes,
    id: Option<String>,
    record: &mut Record,
) -> Result<Response, Problem> {
    let mut response = StatusCode::OK.into_response();
    let routed = shared
        .routes
        .iter()
        .find(|(pattern, _)| pattern.matches(record.event_type.as_deref()))
        .map(|(_, forwarder)| forwarder);
    if routed.is_none() && shared.forwarder.is_none() && !shared.routes.is_empty() {
        record
            .notes
            .push("no --forward route matches this event type; not forwarded".into());
    }
    if let Some(forwarder) = routed.or(shared.forwarder.as_ref()) {
        let answer = forwarder
            .forward(&parts.headers, body.clone())
            .await
            .map_err(|err| match &err {
                ForwardError::Unreachable { .. } => Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "app-unreachable",
                    "App unreachable",
                    err.to_string(),
                ),
                ForwardError::TimedOut { .. } => Problem::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "app-timeout",
                    "App timed out",
                    err.to_string(),
                ),
            })?;
        record.notes.push(format!(
            "forwarded: app answered {}",
            answer.status.as_u16()
        ));
        response = (answer.status, answer.body).into_response();
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_TYPE);
        if let Some(content_type) = answer.content_type {
            headers.insert(header::CONTENT_TYPE, content_type);
        }
        if !answer.status.is_success() {
            return Ok(response);
        }
    }
    if let Some(runner) = &shared.runner {
        let event = HookEvent {
            id: id.unwrap_or_default(),
            event_type: record.event_type.clone(),
            timestamp: first_text(&parts.headers, HEADER_TIMESTAMP).unwrap_or_default(),
            body,
        };
        let runs = runner.run_matching(&event).await;
        if runs.is_empty() {
            record.notes.push("no hook for this event type".into());
        }
        record.notes.extend(runs.iter().map(|run| run.summary()));
        let failed = runs.iter().find(|run| !run.succeeded()).cloned();
        record.runs = runs;
        if let Some(failed) = failed {
            // Locally, say why: the last line the command wrote to stderr.
            if let Some(last) = failed.stderr.lines().rev().find(|l| !l.trim().is_empty()) {
                record
                    .notes
                    .push(format!("{} stderr: {}", failed.name, last.trim()));
            }
            let slug = match failed.outcome {
                RunOutcome::TimedOut(_) => "hook-timed-out",
                _ => "hook-failed",
            };
            // The command's output stays local: it may hold what the sender must not see.
            return Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                slug,
                "Hook failed",
                format!("{}; retry later", failed.summary()),
            ));
        }
    }
    Ok(response)
}

/// Reads the whole body within the size limit and the read timeout.
async fn read_body(shared: &Shared, headers: &HeaderMap, body: Body) -> Result<Bytes, Problem> {
    let limit = shared.max_body_size;
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Body too large",
            format!("the body is larger than the limit of {limit} bytes (--max-body-size)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let collected = tokio::time::timeout(shared.read_timeout, Limited::new(body, limit).collect());
    match collected.await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(err)) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "unreadable-body",
            "Unreadable body",
            format!("the body could not be read: {err}"),
        )),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            format!(
                "the body did not arrive within {}s (--read-timeout)",
                shared.read_timeout.as_secs_f64()
            ),
        )),
    }
}

/// The `type` of a Standard Webhooks payload (`{"type": …, "timestamp": …, "data": …}`).
fn event_type(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        event_type: Option<String>,
    }
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|envelope| envelope.event_type)
}

fn first_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}
