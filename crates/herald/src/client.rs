//! The HTTP client for Herald's API: one request in, raw body or a typed
//! error out.
//!
//! Response bodies stay text (and `serde_json::Value` once parsed) on
//! purpose: the CLI prints what the server says and never depends on the
//! server's Rust types, so the two can evolve apart. Errors are sorted into
//! the three things a caller acts on differently: the API said no (a
//! problem), the server could not be reached, or the answer made no sense.
//!
//! The server's address is read forgivingly ([`server_url`]): `127.0.0.1:8080` without a
//! scheme means `http://`, and a URL copied from the API docs with `/api/v1` at its end means
//! the same server, because that is what a person who types either means.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use url::Url;

/// How long to wait for a TCP/TLS connection before calling the server
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request limit. Generous because `subscriptions test` waits for a
/// full outbound attempt (15 s by default) on the server's side.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The reqwest limit of [`ApiClient::post_announced`], which enforces its own
/// limits per phase instead.
const ANNOUNCED_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// Added to the server's announced limit: the time to record the attempt and
/// send the answer.
const ANNOUNCED_MARGIN: Duration = Duration::from_secs(30);

/// Where the bearer token came from. Named, never shown, when the server
/// refuses it: "which token did it use?" is the first question after a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// No token was sent.
    None,
    /// `--token`.
    Flag,
    /// `HERALD_TOKEN`.
    Env,
    /// The file `herald login` saved (its path).
    Login(String),
    /// The admin token file of a local `herald serve` (its path).
    AdminFile(String),
}

impl TokenSource {
    /// What to say when the server refused this token (401).
    fn refused_hint(&self) -> String {
        let elsewhere = "pass another with --token or HERALD_TOKEN (tenants: `herald login`)";
        match self {
            TokenSource::None => {
                "no token was sent: pass the admin token with --token or HERALD_TOKEN, \
                 or as a tenant run `herald login`"
                    .to_owned()
            }
            TokenSource::Flag => format!("the token given with --token was refused; {elsewhere}"),
            TokenSource::Env => format!("the token in HERALD_TOKEN was refused; {elsewhere}"),
            TokenSource::Login(path) => format!(
                "the token `herald login` saved in {path} was refused (it may have expired); \
                 run `herald login` again"
            ),
            TokenSource::AdminFile(path) => format!(
                "the admin token read from {path} was refused: is this the server that wrote \
                 it? {elsewhere}"
            ),
        }
    }
}

/// The path every API route starts with; [`ApiClient::url`] adds it.
const API_PREFIX: [&str; 2] = ["api", "v1"];

/// Reads `--server` / `HERALD_URL`: `host:port` without a scheme is `http://host:port`, and a
/// trailing `/api/v1` (or `/api/v1/`) is dropped, since every request adds it. Any other path
/// prefix is kept, for servers behind a proxy.
pub fn server_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| {
        format!("`{text}` is not a server address ({e}); write e.g. http://127.0.0.1:8080")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "`{text}` is not an http:// or https:// server address; write e.g. http://127.0.0.1:8080"
        ));
    }
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if segments.ends_with(&API_PREFIX.map(str::to_owned)) {
        let kept = &segments[..segments.len() - API_PREFIX.len()];
        url.set_path(&kept.join("/"));
    }
    Ok(url)
}

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// The server answered with a non-2xx status; `title` and `detail` come
    /// from its `application/problem+json` body when it sent one; `hint` is
    /// the CLI's own advice (which token a 401 refused).
    Problem {
        status: u16,
        title: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// No answer: connection refused, DNS failure, TLS failure or timeout.
    Unreachable { base: String, reason: String },
    /// A 2xx answer the CLI cannot read (not JSON where JSON was expected).
    Unexpected(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Problem {
                status,
                title,
                detail,
                hint,
            } => {
                write!(f, "{title} (HTTP {status})")?;
                if let Some(detail) = detail {
                    write!(f, ": {detail}")?;
                }
                if let Some(hint) = hint {
                    write!(f, "\nhint: {hint}")?;
                }
                Ok(())
            }
            ApiError::Unreachable { base, reason } => write!(
                f,
                "cannot reach the Herald server at {base}: {reason}\n\
                 hint: is `herald serve` running there? Point the CLI elsewhere with --server or HERALD_URL"
            ),
            ApiError::Unexpected(message) => {
                write!(f, "unexpected answer from the server: {message}")
            }
        }
    }
}

impl std::error::Error for ApiError {}

/// A 2xx answer: its body as sent.
pub struct Response {
    pub body: String,
}

impl Response {
    /// The body as JSON; an empty body (204) is `null`.
    pub fn json(&self) -> Result<Value, ApiError> {
        if self.body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&self.body)
            .map_err(|e| ApiError::Unexpected(format!("the body is not JSON ({e})")))
    }
}

/// A client bound to one server and one bearer token.
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    /// Where `token` came from, named when the server refuses it.
    source: TokenSource,
}

impl ApiClient {
    /// `base` is the server's root URL (`http://127.0.0.1:8080`); a path
    /// prefix is kept, for servers behind a proxy.
    pub fn new(base: Url, token: Option<(String, TokenSource)>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("herald-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let (token, source) = match token {
            Some((token, source)) => (Some(token), source),
            None => (None, TokenSource::None),
        };
        Ok(ApiClient {
            http,
            base,
            token,
            source,
        })
    }

    /// `POST /oauth2/token`: a tenant's client credentials (HTTP Basic) for
    /// an access token. With `oauth_revoke`, the only routes outside `/api/v1`,
    /// and the only ones that send no bearer token.
    pub async fn oauth_token(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Response, ApiError> {
        let form = "grant_type=client_credentials".to_owned();
        self.oauth_form("token", client_id, client_secret, form)
            .await
    }

    /// `POST /oauth2/revoke` (RFC 7009): revokes one of the tenant's access
    /// tokens; succeeds also for a token that was unknown or expired.
    pub async fn oauth_revoke(
        &self,
        client_id: &str,
        client_secret: &str,
        token: &str,
    ) -> Result<Response, ApiError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        self.oauth_form("revoke", client_id, client_secret, form)
            .await
    }

    /// Posts `form` to `/oauth2/{endpoint}` with the client credentials as
    /// HTTP Basic.
    async fn oauth_form(
        &self,
        endpoint: &str,
        client_id: &str,
        client_secret: &str,
        form: String,
    ) -> Result<Response, ApiError> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["oauth2", endpoint]);
        }
        let response = self
            .http
            .post(url)
            .basic_auth(client_id, Some(client_secret))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| self.transport_error(e))?;
        if (200..300).contains(&status) {
            Ok(Response { body })
        } else {
            Err(problem(status, &body))
        }
    }

    /// The URL of `/api/v1/{segments…}?{query}`; each segment is
    /// percent-encoded, so ids and names cannot change the path.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(API_PREFIX).extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request; `body` is JSON text, sent as is.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<String>,
    ) -> Result<Response, ApiError> {
        let mut request = self.request(method, segments, query);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| self.transport_error(e))?;
        self.finish(status, body)
    }

    /// A POST whose answer's headers come before its body (the connectivity test): `head` sees
    /// the headers of a 2xx answer as soon as they arrive, and returns how long the body may
    /// take (the server's limit for the attempt). The headers must come within the usual
    /// limit; the body gets the server's limit plus a margin, so a server configured with a
    /// long `request_timeout` is not called unreachable.
    pub async fn post_announced(
        &self,
        segments: &[&str],
        head: impl FnOnce(&reqwest::header::HeaderMap) -> Option<Duration>,
    ) -> Result<Response, ApiError> {
        let request = self
            .request(Method::POST, segments, &[])
            .timeout(ANNOUNCED_LIMIT);
        let response = tokio::time::timeout(REQUEST_TIMEOUT, request.send())
            .await
            .map_err(|_| self.no_answer(REQUEST_TIMEOUT))?
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let within = (200..300)
            .contains(&status)
            .then(|| head(response.headers()))
            .flatten()
            .map_or(REQUEST_TIMEOUT, |limit| limit + ANNOUNCED_MARGIN);
        let body = tokio::time::timeout(within, response.text())
            .await
            .map_err(|_| self.no_answer(within))?
            .map_err(|e| self.transport_error(e))?;
        self.finish(status, body)
    }

    /// A request to `/api/v1/{segments…}` with the bearer token, if any.
    fn request(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(segments, query));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A 2xx body as the response; anything else as a problem, with the
    /// CLI's hint about the token on a 401.
    fn finish(&self, status: u16, body: String) -> Result<Response, ApiError> {
        if (200..300).contains(&status) {
            return Ok(Response { body });
        }
        let mut error = problem(status, &body);
        if let ApiError::Problem { hint, .. } = &mut error
            && status == 401
        {
            *hint = Some(self.source.refused_hint());
        }
        Err(error)
    }

    fn no_answer(&self, limit: Duration) -> ApiError {
        ApiError::Unreachable {
            base: self.base.to_string(),
            reason: format!("no complete answer within {}s", limit.as_secs()),
        }
    }

    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Response, ApiError> {
        self.send(Method::GET, segments, query, None).await
    }

    pub async fn post(
        &self,
        segments: &[&str],
        body: Option<String>,
    ) -> Result<Response, ApiError> {
        self.send(Method::POST, segments, &[], body).await
    }

    pub async fn patch(&self, segments: &[&str], body: String) -> Result<Response, ApiError> {
        self.send(Method::PATCH, segments, &[], Some(body)).await
    }

    pub async fn delete(&self, segments: &[&str]) -> Result<Response, ApiError> {
        self.send(Method::DELETE, segments, &[], None).await
    }

    /// Opens a server-sent-events stream (`GET /api/v1/{segments…}`), resuming after
    /// `last_event_id` when given. The response is returned once its headers are in, for the
    /// caller to read as it arrives; a non-2xx answer is read whole and is the problem. It has
    /// no overall time limit (a stream runs until stopped); the caller watches for silence.
    pub async fn open_stream(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("herald-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Unexpected(root_cause(&e)))?;
        let mut request = http
            .get(self.url(segments, query))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(problem(status, &body))
    }

    fn transport_error(&self, err: reqwest::Error) -> ApiError {
        if err.is_connect() || err.is_timeout() {
            ApiError::Unreachable {
                base: self.base.to_string(),
                reason: root_cause(&err),
            }
        } else {
            ApiError::Unexpected(root_cause(&err))
        }
    }
}

/// reqwest's own message ("error sending request") hides the useful part
/// ("Connection refused"); the innermost source says what happened.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Reads an RFC 9457 problem body; anything else becomes a problem titled by
/// the status, with the start of the body as its detail.
fn problem(status: u16, body: &str) -> ApiError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    let title = field("title").unwrap_or_else(|| reason.to_owned());
    let detail = field("detail").or_else(|| {
        let text = body.trim();
        (parsed.is_none() && !text.is_empty()).then(|| text.chars().take(500).collect())
    });
    ApiError::Problem {
        status,
        title,
        detail,
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::server_url;

    fn parsed(text: &str) -> String {
        server_url(text).map_or_else(|e| format!("error: {e}"), |u| u.to_string())
    }

    #[test]
    fn an_address_without_a_scheme_means_http() {
        assert_eq!(parsed("127.0.0.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(parsed("localhost:8080"), "http://localhost:8080/");
        assert_eq!(parsed("herald.internal"), "http://herald.internal/");
    }

    #[test]
    fn a_trailing_api_v1_is_dropped_and_other_prefixes_kept() {
        assert_eq!(parsed("http://h:1/api/v1"), "http://h:1/");
        assert_eq!(parsed("http://h:1/api/v1/"), "http://h:1/");
        assert_eq!(parsed("h:1/herald/api/v1"), "http://h:1/herald");
        assert_eq!(parsed("https://h/herald/"), "https://h/herald/");
    }

    #[test]
    fn other_schemes_and_garbage_are_refused_with_an_example() {
        assert!(parsed("ftp://h/").contains("http://127.0.0.1:8080"));
        assert!(parsed("http://").starts_with("error:"));
        assert!(parsed("127.0.0.1:notaport").starts_with("error:"));
    }
}
