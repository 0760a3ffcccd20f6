//! Outbound HTTP: one shared client that makes every delivery request.
//!
//! - DNS goes through [`GuardedResolver`]: a name is resolved once, every address is checked
//!   against the [`AddressPolicy`], and the connection goes to those checked addresses, so a
//!   rebinding DNS server cannot swap in a private address between check and connect.
//! - IP-literal URLs skip DNS, so they are checked before the request.
//! - Redirects are never followed: a 3xx is a failed attempt like any non-2xx.
//! - The client keeps connections alive per endpoint (reqwest's pool), which is most of the
//!   cost saved on busy subscriptions.
//! - A failure becomes a step and one sentence of facts (`classify`: "connection refused:
//!   nothing listens on 127.0.0.1:4599"), never reqwest's chain of errors; what each step
//!   means and what to do about it is [`explain`], shared by the API, the CLI and the Hub.

mod classify;
pub mod explain;
pub mod mtls;
pub mod payload;
pub mod ssrf;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_store::{AttemptError, ResponseHeaders, Subscription};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;

pub use explain::{Explanation, explain};
pub use ssrf::AddressPolicy;

use classify::{Target, classify, status_sentence};

/// What one request came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How long it took.
    pub duration: Duration,
    /// The response status, if a response came.
    pub status: Option<u16>,
    /// A bounded prefix of the response body.
    pub body: Option<String>,
    /// The response's headers, bounded, if a response came.
    pub headers: Option<ResponseHeaders>,
    /// The `Retry-After` delay the endpoint asked for, if any.
    pub retry_after: Option<Duration>,
    /// Which step failed, if it failed.
    pub error: Option<AttemptError>,
    /// A sentence for people.
    pub message: Option<String>,
}

impl Outcome {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn failed(started: Instant, error: AttemptError, message: String) -> Self {
        Self {
            duration: started.elapsed(),
            status: None,
            body: None,
            headers: None,
            retry_after: None,
            error: Some(error),
            message: Some(message),
        }
    }
}

/// The delivery client.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    allow_http: bool,
    body_limit: usize,
    /// The whole-request limit, named in timeout messages.
    timeout: Duration,
    /// The connect limit (at most the request limit), named when a connection hangs.
    connect_timeout: Duration,
    /// Clients of subscriptions with mTLS material, by [`mtls::ClientTls::cache_key`]: built
    /// once (a TLS config and a connection pool each), reused for every attempt.
    tls_clients: Arc<Mutex<HashMap<String, reqwest::Client>>>,
}

/// At most this many per-subscription TLS clients are kept; past it the cache starts again
/// (clients of changed or deleted subscriptions are never used again).
const MAX_TLS_CLIENTS: usize = 4096;

/// Why a subscription URL cannot be used at all (checked when it is created, too).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// Not a URL.
    #[error("'{0}' is not a valid absolute URL")]
    Invalid(String),
    /// http outside development mode, or another scheme.
    #[error("the URL must use https (http is allowed only when the server runs with --dev)")]
    Scheme,
    /// An IP literal that the address policy refuses.
    #[error("{0} is not a public address; add it to allow_networks to deliver there")]
    Blocked(IpAddr),
    /// A host name that resolves to an address the policy refuses.
    #[error(
        "{0} resolves to {1}, which is not a public address; add it to allow_networks to deliver there"
    )]
    BlockedName(String, IpAddr),
    /// Credentials in the URL would be sent to every request and shown in listings.
    #[error("the URL must not contain a user name or password; use custom headers instead")]
    Credentials,
}

/// Idle keep-alive connections kept per host (see [`Outbound::new`]).
const IDLE_CONNECTIONS_PER_HOST: usize = 512;

impl Outbound {
    /// Builds the client. `dev` allows http and loopback targets.
    pub fn new(
        policy: AddressPolicy,
        dev: bool,
        timeout: Duration,
        body_limit: usize,
    ) -> reqwest::Result<Self> {
        let policy = Arc::new(policy);
        let connect_timeout = timeout.min(Duration::from_secs(10));
        let client = builder(&policy, timeout, connect_timeout).build()?;
        Ok(Self {
            client,
            policy,
            allow_http: dev,
            body_limit,
            timeout,
            connect_timeout,
            tls_clients: Arc::default(),
        })
    }

    /// The client for `subscription`: the shared one, or one with its client certificate
    /// and pinned CAs (built once, then cached).
    fn client_for(&self, subscription: &Subscription) -> Result<reqwest::Client, mtls::MtlsError> {
        let identity = subscription
            .client_certificate_pem
            .as_deref()
            .zip(subscription.client_key_pem.as_deref());
        let tls = mtls::ClientTls {
            identity,
            server_ca: subscription.server_ca_pem.as_deref(),
        };
        if tls.identity.is_none() && tls.server_ca.is_none() {
            return Ok(self.client.clone());
        }
        let key = tls.cache_key();
        let mut cache = self.tls_clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = mtls::client(
            builder(&self.policy, self.timeout, self.connect_timeout),
            &tls,
        )?;
        if cache.len() >= MAX_TLS_CLIENTS {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }

    /// POSTs to `subscription`'s URL with its TLS material (see [`Outbound::post`]).
    pub async fn post_for(
        &self,
        subscription: &Subscription,
        headers: HeaderMap,
        body: Bytes,
    ) -> Outcome {
        match self.client_for(subscription) {
            Ok(client) => {
                self.post_with(&client, &subscription.url, headers, body)
                    .await
            }
            Err(error) => Outcome::failed(
                Instant::now(),
                AttemptError::Tls,
                format!("the subscription's TLS settings cannot be used: {error}"),
            ),
        }
    }

    /// Checks a subscription URL: scheme, credentials, and IP literals against the policy.
    pub fn check_url(&self, text: &str) -> Result<url::Url, UrlError> {
        let url = url::Url::parse(text).map_err(|_| UrlError::Invalid(text.to_owned()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(UrlError::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !self.policy.permits(IpAddr::V4(ip)) => {
                Err(UrlError::Blocked(IpAddr::V4(ip)))
            }
            Some(url::Host::Ipv6(ip)) if !self.policy.permits(IpAddr::V6(ip)) => {
                Err(UrlError::Blocked(IpAddr::V6(ip)))
            }
            Some(_) => Ok(url),
            None => Err(UrlError::Invalid(text.to_owned())),
        }
    }

    /// [`Outbound::check_url`], and for a host name, its addresses now: a name that resolves to
    /// a refused address (`localhost`, an internal name) is refused when the subscription is
    /// made, not only at each attempt. A name that does not resolve yet is accepted (DNS may
    /// be set up later); each attempt checks again anyway.
    pub async fn check_url_resolved(&self, text: &str) -> Result<url::Url, UrlError> {
        let url = self.check_url(text)?;
        if let Some(url::Host::Domain(host)) = url.host() {
            let lookup = tokio::net::lookup_host((host, 0));
            if let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(3), lookup).await {
                for addr in addrs {
                    if !self.policy.permits(addr.ip()) {
                        return Err(UrlError::BlockedName(host.to_owned(), addr.ip()));
                    }
                }
            }
        }
        Ok(url)
    }

    /// POSTs `body` with `headers` to `url` and reports what happened; never returns an error,
    /// because every failure is an attempt outcome to record.
    pub async fn post(&self, url: &str, headers: HeaderMap, body: Bytes) -> Outcome {
        self.post_with(&self.client, url, headers, body).await
    }

    async fn post_with(
        &self,
        client: &reqwest::Client,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Outcome {
        let started = Instant::now();
        let url = match self.check_url(url) {
            Ok(url) => url,
            Err(UrlError::Blocked(ip)) => {
                return Outcome::failed(
                    started,
                    AttemptError::Blocked,
                    format!("{ip} is not a public address and is not in allow_networks"),
                );
            }
            Err(e) => return Outcome::failed(started, AttemptError::Blocked, e.to_string()),
        };
        let target = Target {
            url: &url,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
        };
        let response = match client
            .post(url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                let (kind, message) = classify(&error, &target);
                return Outcome::failed(started, kind, message);
            }
        };
        let status = response.status().as_u16();
        // Retry-After means "come back later" only on 429 and 503 (RFC 9110 §10.2.3).
        let retry_after = matches!(status, 429 | 503)
            .then(|| retry_after(response.headers()))
            .flatten();
        // From the response in hand, before its body is read: one bounded JSON text.
        let response_headers = ResponseHeaders::bounded(
            response
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        let mut kept = Vec::new();
        let mut response = response;
        let mut body_error = None;
        while kept.len() < self.body_limit {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.body_limit - kept.len();
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                Err(error) => {
                    body_error = Some(classify(&error, &target));
                    break;
                }
            }
        }
        let success = (200..300).contains(&status);
        let (error, message) = match body_error {
            // The status is what counts; a body cut short after a 2xx is still a success.
            Some((kind, message)) if !success => (Some(kind), Some(message)),
            _ if success => (None, None),
            _ => (
                Some(AttemptError::Status),
                Some(status_sentence(status, &kept)),
            ),
        };
        Outcome {
            duration: started.elapsed(),
            status: Some(status),
            body: Some(String::from_utf8_lossy(&kept).into_owned()),
            headers: Some(response_headers),
            retry_after,
            error,
            message,
        }
    }
}

/// The client settings every delivery request shares: no redirects, the time limits, the
/// connection pool, and the guarded resolver.
fn builder(
    policy: &Arc<AddressPolicy>,
    timeout: Duration,
    connect_timeout: Duration,
) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        // Enough idle connections for every attempt the dispatcher runs at once (its
        // 512 permits) to find one: with fewer, a burst to one host closes the surplus
        // and the next burst pays a TCP connect (and a TLS handshake) per request. Idle
        // ones are closed after `pool_idle_timeout` anyway.
        .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
        .tcp_nodelay(true)
        // A proxy would resolve names itself, out of reach of the address checks below.
        .no_proxy()
        .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver {
            policy: Arc::clone(policy),
        }))
}

/// `Retry-After` as delta-seconds (HTTP dates are rare from webhook receivers; ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Why name resolution refused a host.
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    #[error("{host} resolves to {ip}, which is not allowed")]
    Blocked { host: String, ip: IpAddr },
    #[error("could not resolve {host}: {source}")]
    Lookup {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host} has no address")]
    NoAddress { host: String },
}

/// Resolves once, checks every address, and hands reqwest only checked addresses.
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|source| ResolveError::Lookup {
                    host: host.clone(),
                    source,
                })?
                .collect();
            if addrs.is_empty() {
                return Err(ResolveError::NoAddress { host }.into());
            }
            // One bad address refuses the whole name: connecting to "the good one" would let
            // a DNS server steer the choice.
            if let Some(bad) = addrs.iter().find(|a| !policy.permits(a.ip())) {
                return Err(ResolveError::Blocked { host, ip: bad.ip() }.into());
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}
