//! The few API calls the relay listener makes over HTTP: a token for client credentials,
//! and the session subscription `--events` creates and deletes.

use serde::Deserialize;
use url::Url;

use super::RelayError;

/// The server's API, with the listener's bearer token.
pub(crate) struct Api {
    client: reqwest::Client,
    base: Url,
    token: String,
    /// Client credentials, kept to get a fresh token for each reconnect (a token expires;
    /// a listener runs for days).
    credentials: Option<(String, String)>,
}

/// A session subscription: its id and signing secret.
#[derive(Debug, Deserialize)]
pub(crate) struct Session {
    pub id: String,
    pub secret: String,
}

impl Api {
    /// Logs in: `token` as given, or client credentials exchanged at `POST /oauth2/token`.
    pub(crate) async fn login(
        base: Url,
        token: Option<&str>,
        credentials: Option<(&str, &str)>,
    ) -> Result<Self, RelayError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| RelayError::Unreachable(error.to_string()))?;
        let (token, credentials) = match (token, credentials) {
            (Some(token), _) => (token.to_owned(), None),
            (None, Some((id, secret))) => (
                exchange(&client, &base, id, secret).await?,
                Some((id.to_owned(), secret.to_owned())),
            ),
            (None, None) => return Err(RelayError::NoCredentials),
        };
        Ok(Self {
            client,
            base,
            token,
            credentials,
        })
    }

    /// A fresh token from the client credentials, if the listener logged in with them.
    pub(crate) async fn refresh(&mut self) -> Result<(), RelayError> {
        if let Some((id, secret)) = &self.credentials {
            self.token = exchange(&self.client, &self.base, id, secret).await?;
        }
        Ok(())
    }

    /// The bearer token.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Creates a relay subscription for `events`, for this session.
    pub(crate) async fn create_session(&self, events: &[String]) -> Result<Session, RelayError> {
        let body = serde_json::json!({
            "url": "relay:",
            "event_types": events,
            "description": "herald listen --relay session (deleted when it exits)",
            "allow_unmatched": true,
        });
        let response = self
            .client
            .post(self.url("api/v1/subscriptions")?)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|error| RelayError::Unreachable(error.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(RelayError::Refused(problem(status, response).await));
        }
        response
            .json::<Session>()
            .await
            .map_err(|error| RelayError::Refused(format!("unreadable answer: {error}")))
    }

    /// Deletes the session subscription.
    pub(crate) async fn delete_session(&self, id: &str) -> Result<(), RelayError> {
        let response = self
            .client
            .delete(self.url(&format!("api/v1/subscriptions/{id}"))?)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|error| RelayError::Unreachable(error.to_string()))?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(RelayError::Refused(problem(status, response).await))
    }

    fn url(&self, path: &str) -> Result<Url, RelayError> {
        self.base
            .join(path)
            .map_err(|error| RelayError::Url(error.to_string()))
    }
}

/// `POST /oauth2/token` with HTTP Basic client credentials.
async fn exchange(
    client: &reqwest::Client,
    base: &Url,
    id: &str,
    secret: &str,
) -> Result<String, RelayError> {
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
    }
    let url = base
        .join("oauth2/token")
        .map_err(|error| RelayError::Url(error.to_string()))?;
    let response = client
        .post(url)
        .basic_auth(id, Some(secret))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .map_err(|error| RelayError::Unreachable(error.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(RelayError::Refused(problem(status, response).await));
    }
    let token: Token = response
        .json()
        .await
        .map_err(|error| RelayError::Refused(format!("unreadable token answer: {error}")))?;
    Ok(token.access_token)
}

/// The `detail` of a problem answer, or the status alone.
async fn problem(status: reqwest::StatusCode, response: reqwest::Response) -> String {
    #[derive(Deserialize)]
    struct Problem {
        detail: Option<String>,
    }
    let detail = response
        .json::<Problem>()
        .await
        .ok()
        .and_then(|problem| problem.detail);
    match detail {
        Some(detail) => format!("the server answered {status}: {detail}"),
        None => format!("the server answered {status}"),
    }
}
