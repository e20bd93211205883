//! Outgoing webhooks: every change a receiver hears about writes its webhook event in its own
//! transaction (a change refused writes none), a fan-out makes exactly one delivery per
//! subscribed endpoint (however many jobs fan out at once), and claims take each due attempt
//! once, a booking's events to an endpoint in order.

use std::collections::HashMap;

use proeventa_core::domain::{
    DeliveryOutcome, DeliveryStatus, Gate, NewWebhook, Scan, Settlement, Ticket, TicketFilter, Webhook,
    WebhookDelivery, WebhookEventType,
};

use super::*;

fn lease() -> Duration {
    Duration::seconds(120)
}

async fn register(store: &S, events: &[&str]) -> Webhook {
    let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    let webhook = NewWebhook::parse("https://example.com/hooks", "0123456789abcdef-secret", &events)
        .unwrap_or_else(|e| panic!("webhook: {e}"));
    store.create_webhook(&webhook, Utc::now(), None).await.unwrap_or_else(|e| panic!("create webhook: {e}"))
}

async fn deliveries(store: &S, webhook: &Webhook) -> Vec<WebhookDelivery> {
    store.list_deliveries(webhook.id, page(Page::MAX_LIMIT, 0)).await.unwrap_or_else(|e| panic!("deliveries: {e}"))
}

async fn fan_out(store: &S) -> u32 {
    store.fan_out_webhook_events(100, Utc::now()).await.unwrap_or_else(|e| panic!("fan out: {e}"))
}

fn types(deliveries: &[WebhookDelivery]) -> Vec<WebhookEventType> {
    let mut types: Vec<WebhookEventType> = deliveries.iter().map(|d| d.event_type).collect();
    types.sort_by_key(|t| t.as_str());
    types
}

fn delivered() -> DeliveryOutcome {
    DeliveryOutcome { settlement: Settlement::Sent, status_code: Some(200), response: "ok".into() }
}

pub async fn a_confirm_yields_one_delivery_per_subscribed_endpoint(store: S) {
    let confirmed = register(&store, &["booking.confirmed"]).await;
    let cancels_only = register(&store, &["booking.canceled", "event.canceled"]).await;
    let everything = register(&store, &["booking.confirmed", "refund.created", "booking.canceled"]).await;
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;

    assert_eq!(fan_out(&store).await, 1, "one event: the confirm's");
    for webhook in [&confirmed, &everything] {
        let found = deliveries(&store, webhook).await;
        assert_eq!(types(&found), [WebhookEventType::BookingConfirmed], "{found:?}");
        let delivery = &found[0];
        assert_eq!((delivery.status, delivery.attempts, delivery.webhook_id), (DeliveryStatus::Pending, 0, webhook.id));
    }
    assert!(deliveries(&store, &cancels_only).await.is_empty(), "no delivery of a type it did not ask for");

    // The claim hands over the payload's facts.
    let claimed = store.claim_deliveries(10, lease(), Utc::now()).await.expect("claim");
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    for claim in &claimed {
        assert_eq!(claim.event.data["booking_id"], booking.id.to_string());
        assert_eq!(claim.event.data["payment_id"], paid.id.to_string());
        assert_eq!(claim.event.subject_id, booking.id);
        assert_eq!(claim.secret.expose(), "0123456789abcdef-secret");
    }
    assert_eq!(claimed[0].event.id, claimed[1].event.id, "one event, the same payload id for every endpoint");

    // A refused confirm (already confirmed) writes no event; fanning out again makes nothing new.
    let err = expect_err(store.confirm_payment(paid.id, "ch_ann", CARD_LAST4, Utc::now()).await, "confirm twice");
    assert!(matches!(err, StoreError::InvalidState(_)), "{err:?}");
    assert_eq!(fan_out(&store).await, 0, "a refused change writes no webhook event");
    assert_eq!(deliveries(&store, &confirmed).await.len(), 1);
}

pub async fn cancels_refunds_and_check_ins_write_their_events(store: S) {
    let all = register(
        &store,
        &["booking.confirmed", "booking.canceled", "refund.created", "event.canceled", "ticket.checked_in"],
    )
    .await;
    let venue = fixture_grid_venue(&store, 1, 6).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (kept, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_kept").await;
    let (canceled, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[1, 2]), "ch_canceled").await;
    store.cancel_booking(canceled.id, Utc::now(), None).await.expect("cancel the paid booking");
    // A canceled hold (nothing paid) reports nothing.
    let held = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[3])).await.expect("hold");
    store.cancel_booking(held.id, Utc::now(), None).await.expect("cancel the hold");
    let ticket: Ticket = store
        .list_tickets(&TicketFilter { booking_id: Some(kept.id), ..Default::default() })
        .await
        .expect("tickets")
        .remove(0);
    let scan = Scan {
        id: Uuid::new_v4(),
        ticket_id: ticket.id,
        gate: Gate::parse(Some("north")).expect("gate"),
        at: whole_millis(Utc::now()),
    };
    store.check_in(&scan).await.expect("admit");
    // A second scan refused writes nothing.
    store.check_in(&Scan { id: Uuid::new_v4(), ..scan.clone() }).await.expect("refused scan");

    assert_eq!(fan_out(&store).await, 5, "2 confirms, a cancel and its refund, a check-in, nothing else");
    let found = deliveries(&store, &all).await;
    use WebhookEventType::*;
    assert_eq!(types(&found), [BookingCanceled, BookingConfirmed, BookingConfirmed, RefundCreated, TicketCheckedIn]);
    let checked_in = found.iter().find(|d| d.event_type == TicketCheckedIn).expect("check-in delivery");
    assert_eq!(checked_in.event_id, scan.id, "a check-in's event is its admitting scan's");

    // The event canceled: its own event, and the remaining paid booking's cancel and refund.
    store.cancel_event(event.id, Utc::now(), None).await.expect("cancel the event").expect("the event exists");
    assert_eq!(fan_out(&store).await, 3);
    let found = deliveries(&store, &all).await;
    assert_eq!(found.iter().filter(|d| d.event_type == EventCanceled).count(), 1, "{found:?}");
    assert_eq!(found.len(), 8);
}

pub async fn a_bookings_events_are_claimed_in_order_per_endpoint(store: S) {
    let all = register(&store, &["booking.confirmed", "booking.canceled", "refund.created"]).await;
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel");
    assert_eq!(fan_out(&store).await, 3);

    let mut seen = Vec::new();
    for round in 0..3 {
        // A claim of one finds the claimable delivery wherever the waiting ones sort.
        let limit = if round == 0 { 1 } else { 10 };
        let claimed = store.claim_deliveries(limit, lease(), Utc::now()).await.expect("claim");
        assert_eq!(claimed.len(), 1, "one at a time: the later ones wait for the earlier: {claimed:?}");
        // While it is claimed (pending, leased), nothing else of the booking is taken.
        assert!(
            store
                .claim_deliveries(10, lease(), Utc::now() + lease() * 2)
                .await
                .expect("claim")
                .iter()
                .all(|c| c.delivery.id == claimed[0].delivery.id)
        );
        let claim = &claimed[0];
        let now = Utc::now();
        let attempts = store.list_deliveries(all.id, page(50, 0)).await.expect("list");
        let latest = attempts.iter().find(|d| d.id == claim.delivery.id).expect("listed").attempts;
        assert!(store.settle_delivery(claim.delivery.id, latest, &delivered(), now).await.expect("settle"));
        seen.push(claim.event.event_type);
    }
    use WebhookEventType::*;
    assert_eq!(seen, [BookingConfirmed, BookingCanceled, RefundCreated]);
    assert!(store.claim_deliveries(10, lease(), Utc::now()).await.expect("claim").is_empty());
}

pub async fn a_delivery_is_retried_recorded_and_replayed(store: S) {
    let hook = register(&store, &["booking.confirmed"]).await;
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_ann").await;
    fan_out(&store).await;
    let now = Utc::now();
    let claim = store.claim_deliveries(10, lease(), now).await.expect("claim").remove(0);
    assert_eq!(claim.delivery.attempts, 1);
    let retry_at = whole_millis(now + Duration::seconds(30));
    let refused = DeliveryOutcome {
        settlement: Settlement::RetryAt { at: retry_at, reason: "answered 503".into() },
        status_code: Some(503),
        response: "busy".into(),
    };
    assert!(store.settle_delivery(claim.delivery.id, 1, &refused, now).await.expect("settle"));
    // A stale claim's settlement (attempt 0) changes nothing.
    assert!(!store.settle_delivery(claim.delivery.id, 0, &delivered(), now).await.expect("stale settle"));
    let listed = deliveries(&store, &hook).await.remove(0);
    assert_eq!(
        (
            listed.status,
            listed.attempts,
            listed.last_status_code,
            listed.last_response.as_deref(),
            listed.next_attempt_at
        ),
        (DeliveryStatus::Pending, 1, Some(503), Some("busy"), Some(retry_at))
    );
    assert!(store.claim_deliveries(10, lease(), now).await.expect("claim").is_empty(), "not due before the retry");

    let err = expect_err(store.replay_delivery(hook.id, listed.id, now).await, "replay a pending one");
    assert!(matches!(err, StoreError::InvalidState(_)), "{err:?}");
    let again = store.claim_deliveries(10, lease(), retry_at).await.expect("claim").remove(0);
    assert!(store.settle_delivery(again.delivery.id, 2, &delivered(), retry_at).await.expect("settle"));
    let listed = deliveries(&store, &hook).await.remove(0);
    assert_eq!((listed.status, listed.attempts, listed.last_status_code), (DeliveryStatus::Delivered, 2, Some(200)));
    assert!(listed.delivered_at.is_some() && listed.next_attempt_at.is_none(), "{listed:?}");

    let replayed = store.replay_delivery(hook.id, listed.id, retry_at).await.expect("replay");
    assert_eq!((replayed.status, replayed.attempts, replayed.delivered_at), (DeliveryStatus::Pending, 0, None));
    let claim = store.claim_deliveries(10, lease(), retry_at).await.expect("claim").remove(0);
    assert_eq!(claim.event.id, again.event.id, "a replay posts the same payload id");

    let err = expect_err(store.replay_delivery(Uuid::new_v4(), listed.id, now).await, "another endpoint's");
    assert!(matches!(err, StoreError::NotFound(Entity::Delivery)), "{err:?}");
    store.delete_webhook(hook.id, None).await.expect("delete");
    assert!(store.list_webhooks().await.expect("list").is_empty());
    let err = expect_err(store.list_deliveries(hook.id, page(10, 0)).await, "a deleted endpoint's deliveries");
    assert!(matches!(err, StoreError::NotFound(Entity::Webhook)), "{err:?}");
    let err = expect_err(store.delete_webhook(hook.id, None).await, "delete twice");
    assert!(matches!(err, StoreError::NotFound(Entity::Webhook)), "{err:?}");
}

/// Four jobs fan out and claim at once, in rounds: each event fanned out into one delivery per
/// endpoint, and each attempt claimed by one job only.
pub async fn concurrent_jobs_deliver_each_attempt_once(store: S) {
    let hooks = [register(&store, &["booking.confirmed"]).await, register(&store, &["booking.confirmed"]).await];
    let venue = fixture_grid_venue(&store, 2, 10).await;
    let event = fixture_event(&store, &venue).await;
    let buyers = fixture_users(&store, "buyer", 10).await;
    for (i, buyer) in buyers.iter().enumerate() {
        paid_booking(&store, buyer, &event, &seat_ids(&venue, &[i * 2, i * 2 + 1]), &format!("ch_{i}")).await;
    }
    let barrier = Arc::new(Barrier::new(4));
    let mut jobs = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (store, barrier) = (store.clone(), barrier.clone());
        jobs.spawn(async move {
            barrier.wait().await;
            let mut claims: Vec<(Uuid, u32)> = Vec::new();
            for _ in 0..10 {
                store.fan_out_webhook_events(3, Utc::now()).await.expect("fan out");
                for claim in store.claim_deliveries(4, lease(), Utc::now()).await.expect("claim") {
                    claims.push((claim.delivery.id, claim.delivery.attempts));
                    let settled = store
                        .settle_delivery(claim.delivery.id, claim.delivery.attempts, &delivered(), Utc::now())
                        .await
                        .expect("settle");
                    assert!(settled, "a claim is the delivery's latest until it is settled");
                }
            }
            claims
        });
    }
    let mut claimed: HashMap<(Uuid, u32), u32> = HashMap::new();
    while let Some(done) = jobs.join_next().await {
        for claim in done.expect("a job") {
            *claimed.entry(claim).or_default() += 1;
        }
    }
    // Whatever the rounds left, one more pass finishes it.
    store.fan_out_webhook_events(100, Utc::now()).await.expect("fan out");
    for claim in store.claim_deliveries(100, lease(), Utc::now()).await.expect("claim") {
        *claimed.entry((claim.delivery.id, claim.delivery.attempts)).or_default() += 1;
    }
    assert!(claimed.values().all(|count| *count == 1), "an attempt claimed twice: {claimed:?}");
    for hook in &hooks {
        let found = deliveries(&store, hook).await;
        assert_eq!(found.len(), 10, "one delivery per confirm and endpoint: {found:?}");
        let events: BTreeSet<Uuid> = found.iter().map(|d| d.event_id).collect();
        assert_eq!(events.len(), 10);
    }
    assert_eq!(claimed.len(), 20, "every delivery claimed, each once");
}
