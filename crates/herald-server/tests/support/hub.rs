//! A signed-in Hub session over plain HTTP, for tests of what the Hub's pages show and do
//! (the browser journeys are in `crates/herald/tests/hub.rs`).

use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use serde_json::Value;

use super::{ADMIN_TOKEN, TestServer};

/// A session cookie and the CSRF token its forms carry.
pub struct HubSession {
    base: String,
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl HubSession {
    /// The operator, signed in with the admin token.
    pub async fn operator(server: &TestServer) -> Self {
        Self::sign_in(server, &[("as", "operator"), ("admin_token", ADMIN_TOKEN)]).await
    }

    /// A tenant (as `POST /api/v1/tenants` answered it), signed in with its credentials.
    pub async fn tenant(server: &TestServer, tenant: &Value) -> Self {
        let client_id = tenant["client_id"].as_str().expect("client id");
        let secret = tenant["client_secret"].as_str().expect("client secret");
        let form = [
            ("as", "tenant"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        Self::sign_in(server, &form).await
    }

    async fn sign_in(server: &TestServer, form: &[(&str, &str)]) -> Self {
        // Redirects are the answers under test: never followed.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client
            .post(format!("{}/hub/signin", server.base))
            .header(ORIGIN, &server.base)
            .form(form)
            .send()
            .await
            .expect("sign in");
        assert!(response.status().is_redirection(), "{}", response.status());
        let cookie = response.headers()[SET_COOKIE].to_str().expect("cookie");
        let cookie = cookie.split(';').next().expect("name=value").to_owned();
        let mut session = Self {
            base: server.base.clone(),
            client,
            cookie,
            csrf: String::new(),
        };
        let (_, overview) = session.get("/hub").await;
        let (_, after) = overview
            .split_once("name=\"csrf\" value=\"")
            .expect("a form with the CSRF token");
        session.csrf = after.split('"').next().expect("the token").to_owned();
        session
    }

    /// GETs a page: its status and HTML.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .expect("a Hub page");
        let status = response.status().as_u16();
        (status, response.text().await.expect("html"))
    }

    /// Posts a form from the Hub's own origin with this session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, &self.base)
            .header(COOKIE, &self.cookie)
            .form(&form)
            .send()
            .await
            .expect("a Hub form")
    }
}
