//! `HERALD_URL` / `--server` the way people write them: without a scheme, or copied from the
//! API docs with `/api/v1` at the end. Each reaches the same API routes.

mod support;

use herald_testkit::Reply;
use reqwest::Method;
use support::{fake_api, herald};

const EMPTY_LIST: &str = r#"{"data":[],"next_cursor":null}"#;

async fn tenants_list_with_server(server: impl Fn(&str) -> String) {
    let api = fake_api().await;
    api.on(Method::GET, "/api/v1/tenants", Reply::json(200, EMPTY_LIST));

    let run = herald(&server(&api.base_url()), &["tenants", "list"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(api.only_request().path, "/api/v1/tenants");
}

#[tokio::test]
async fn server_without_a_scheme_is_reached_over_http() {
    tenants_list_with_server(|base| base.trim_start_matches("http://").to_owned()).await;
}

#[tokio::test]
async fn server_ending_in_api_v1_reaches_the_same_routes() {
    tenants_list_with_server(|base| format!("{}/api/v1", base.trim_end_matches('/'))).await;
    tenants_list_with_server(|base| format!("{}/api/v1/", base.trim_end_matches('/'))).await;
}

#[tokio::test]
async fn server_with_another_scheme_is_a_usage_error_with_an_example() {
    let run = herald("ftp://127.0.0.1:8080", &["tenants", "list"]).await;

    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("http://127.0.0.1:8080"),
        "{}",
        run.stderr
    );
}
