//! Cases for the paged read of a delivery's attempts (`list_attempts_page`): what the API's
//! `GET /deliveries/{id}` and `GET /deliveries/{id}/attempts` serve, a bounded page at a time.

use super::*;

/// Five attempts read two at a time: in the order they were made, each once, the last page
/// without a cursor; another delivery's attempts never appear.
pub async fn attempts_page_oldest_first_with_a_cursor<S: Store>(store: &S) {
    let tenant = new_tenant(store, "Acme").await;
    new_subscription(store, &tenant.id, &["consent.*"]).await;
    let first = publish(store, "consent.revoked", Some(&tenant.id), 0).await;
    let other = publish(store, "consent.granted", Some(&tenant.id), 0).await;
    let id = only_delivery(store, &first.event_id).await.id;
    let other_id = only_delivery(store, &other.event_id).await.id;
    let mut made = Vec::new();
    for n in 0..5 {
        let made_now = attempt(&id, n, Some(500), AttemptTrigger::Redelivery);
        let progress = DeliveryProgress {
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(at(100)),
            counts_for_schedule: false,
        };
        store.complete_attempt(&made_now, &progress).await.unwrap();
        made.push(made_now);
        let noise = attempt(&other_id, n, Some(200), AttemptTrigger::Redelivery);
        store
            .complete_attempt(&noise, &finished(DeliveryStatus::Succeeded))
            .await
            .unwrap();
    }
    let mut read = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_attempts_page(&id, &PageRequest { cursor, limit: 2 })
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        read.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(read, made);
    let none = store
        .list_attempts_page(&DeliveryId::generate(), &PageRequest::default())
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next_cursor.is_none());
}
