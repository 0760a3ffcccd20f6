//! The Hub's deliveries pages over plain HTTP: the operator's tenant switch (cursor pages
//! keep it; a subscriber cannot use it to see another tenant), and each attempt's response
//! headers, shown escaped and also in the API's attempts.

mod support;

use axum::http::StatusCode;
use herald_testkit::{Receiver, Reply};
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;
use support::hub::HubSession;

/// The deliveries list's page size.
const PAGE: usize = 50;

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("id")
}

/// The ids of the delivery rows a page lists.
fn delivery_rows(html: &str) -> Vec<String> {
    html.split("data-delivery=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The "Older deliveries" link, unescaped.
fn older_link(html: &str) -> Option<String> {
    let (before, _) = html.split_once("\">Older deliveries")?;
    let (_, href) = before.rsplit_once("href=\"")?;
    Some(href.replace("&amp;", "&"))
}

#[tokio::test]
async fn operator_switches_tenant_on_the_deliveries_page_and_pages_keep_the_switch() {
    let server = TestServer::start().await;
    let receiver = Receiver::answering(Reply::ok()).await.expect("receiver");
    server.create_event_type("order.created").await;
    let acme = server.create_tenant("Acme").await;
    let globex = server.create_tenant("Globex").await;
    server
        .subscribe_tenant(id(&acme), &receiver.url(), "order.created")
        .await;
    server
        .subscribe_tenant(id(&globex), &receiver.url(), "order.created")
        .await;
    // One more than a page of Acme's, so the switch must survive the cursor; one of Globex's.
    server
        .publish_numbered("order.created", PAGE + 1, id(&acme))
        .await;
    let globex_event = server
        .publish("order.created", json!({}), Some(id(&globex)))
        .await;
    let globex_delivery = id(&server.deliveries_of(&globex_event).await[0]).to_owned();

    let operator = HubSession::operator(&server).await;
    let (status, everyone) = operator.get("/hub/deliveries").await;
    assert_eq!(status, 200);
    assert!(everyone.contains("Every tenant"), "the switch is offered");
    assert!(delivery_rows(&everyone).contains(&globex_delivery));

    let (_, first) = operator
        .get(&format!("/hub/deliveries?tenant_id={}", id(&acme)))
        .await;
    let mut acme_rows = delivery_rows(&first);
    assert_eq!(acme_rows.len(), PAGE);
    let older = older_link(&first).expect("a link to the next page");
    assert!(
        older.contains(&format!("tenant_id={}", id(&acme))),
        "{older}"
    );
    let (_, second) = operator.get(&older).await;
    acme_rows.extend(delivery_rows(&second));
    assert_eq!(acme_rows.len(), PAGE + 1, "every one of Acme's, once");
    assert!(!acme_rows.contains(&globex_delivery), "no other tenant's");
    assert!(older_link(&second).is_none());

    // A subscriber's switch is ignored: its own deliveries only.
    let subscriber = HubSession::tenant(&server, &globex).await;
    let (_, own) = subscriber
        .get(&format!("/hub/deliveries?tenant_id={}", id(&acme)))
        .await;
    assert_eq!(delivery_rows(&own), vec![globex_delivery]);
    assert!(!own.contains("Every tenant"), "no switch for a subscriber");
}

#[tokio::test]
async fn each_attempt_shows_the_response_headers_the_endpoint_sent_escaped_in_hub_and_api() {
    let server = TestServer::start().await;
    let reply = Reply::status(503)
        .with_header("X-Request-Id", "req-7f3a")
        .with_header("X-Note", "<script>alert(1)</script>");
    let receiver = Receiver::answering(reply).await.expect("receiver");
    let (_, _, event_id) = server.one_event_to(&receiver.url()).await;
    receiver
        .wait_for_count(1, std::time::Duration::from_secs(20))
        .await;
    let delivery_id = id(&server.deliveries_of(&event_id).await[0]).to_owned();
    let path = format!("/api/v1/deliveries/{delivery_id}/attempts");
    let attempts = herald_testkit::wait_for(
        "the attempt recorded",
        std::time::Duration::from_secs(20),
        || async {
            let page = server
                .expect(StatusCode::OK, Method::GET, &path, None)
                .await;
            let data = page["data"].as_array()?.clone();
            (!data.is_empty()).then_some(data)
        },
    )
    .await;
    let headers = attempts[0]["response_headers"]
        .as_array()
        .expect("the attempt's headers");
    assert!(
        headers.contains(&json!({"name": "x-request-id", "value": "req-7f3a"})),
        "{headers:?}"
    );

    let operator = HubSession::operator(&server).await;
    let (status, page) = operator
        .get(&format!("/hub/deliveries/{delivery_id}"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Response headers ("), "a fold per attempt");
    assert!(page.contains("x-request-id"));
    assert!(page.contains("req-7f3a"));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped"
    );
    assert!(!page.contains("<script>alert(1)"), "never raw");
}
