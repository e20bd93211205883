//! The refunds of `/payments/*` (API.md): canceling a paid seat, booking or event refunds what
//! was paid (the 24-hour rule for customers); a payment of a canceled or started event is refused
//! and charges nothing; the provider's signed webhook records its refunds once. The fixture
//! (`World`) and the cards are the parent module's.

use super::*;

#[tokio::test]
async fn canceling_one_paid_seat_refunds_its_price() {
    let w = World::new().await;
    let (booking, payment) = w.paid_booking(&w.ann_token, &["A1", "B1"]).await;
    let vip = booking.reservations.iter().find(|r| r.seat_id == w.seat("B1")).expect("B1 in the booking");
    let (status, _, body) = w.app.delete(&format!("/reservations/reservations/{}", vip.id), Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = w.payment(payment.id).await;
    assert_eq!(after.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(after.refunded_cents, w.price("B1"));
    assert_eq!(w.charge_of(payment.id).refunded_cents, w.price("B1"));
    assert_eq!(w.status_of("B1").await, SeatStatus::Available);
    assert_eq!(w.status_of("A1").await, SeatStatus::Sold);
}

#[tokio::test]
async fn canceling_a_paid_booking_refunds_it_all() {
    let w = World::new().await;
    let (booking, payment) = w.paid_booking(&w.ann_token, &["A1", "B1"]).await;
    let (status, _, body) = w.app.delete(&format!("/reservations/bookings/{}", booking.id), Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = w.payment(payment.id).await;
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Refunded, 6000));
    assert_eq!(w.charge_of(payment.id).refunded_cents, 6000);
}

#[tokio::test]
async fn canceling_the_remaining_seats_after_one_completes_the_refund() {
    let w = World::new().await;
    let (booking, payment) = w.paid_booking(&w.ann_token, &["A1", "B1"]).await;
    let standard = booking.reservations.iter().find(|r| r.seat_id == w.seat("A1")).expect("A1 in the booking");
    let resp = w.app.delete(&format!("/reservations/reservations/{}", standard.id), Some(&w.ann_token)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let resp = w.app.delete(&format!("/reservations/bookings/{}", booking.id), Some(&w.ann_token)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let after = w.payment(payment.id).await;
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Refunded, 6000));
    assert_eq!(w.charge_of(payment.id).refunded_cents, 6000);
}

#[tokio::test]
async fn canceling_an_event_refunds_every_paid_booking() {
    let w = World::new().await;
    let (_, ann_payment) = w.paid_booking(&w.ann_token, &["A1", "B1"]).await;
    let (_, bob_payment) = w.paid_booking(&w.bob_token, &["A2"]).await;
    let unpaid = w.book(&w.bob_token, &["A3"]).await;
    let (status, _, body) = w.app.delete(&format!("/events/events/{}", w.event.id), Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for payment in [ann_payment, bob_payment] {
        let after = w.payment(payment.id).await;
        assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Refunded, payment.amount_cents), "{after:?}");
        assert_eq!(w.charge_of(payment.id).refunded_cents, payment.amount_cents);
    }
    assert_eq!(statuses(&w.booking(unpaid.id).await), vec![ReservationStatus::Canceled]);
}

#[tokio::test]
async fn confirming_after_the_event_was_canceled_is_refused_and_charges_nothing() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let (status, _, body) = w.app.delete(&format!("/events/events/{}", w.event.id), Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_eq!(resp.0, StatusCode::CONFLICT, "{}", resp.2);
    assert!(w.charges_of(payment.id).iter().all(|c| !c.captured), "{:?}", w.charges_of(payment.id));
    assert_eq!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Canceled]);
}

impl World {
    /// The show begins: the event's start is moved to a moment ago, straight in the store (the
    /// API refuses a start in the past), so holds placed before it are still running.
    async fn start_the_show(&self) {
        let changes = EventChanges { start_time: Some(Utc::now() - Duration::seconds(1)), ..Default::default() };
        self.app.state.store.update_event(self.event.id, changes).await.expect("move the start").expect("event");
    }
}

#[tokio::test]
async fn confirming_after_the_event_started_is_409_voids_the_authorization_and_fails_the_payment() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1", "B1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    w.start_the_show().await;

    let resp = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
    assert_eq!(detail(&resp), "The event has already started, so this payment was not taken.");
    let failed = w.payment(payment.id).await;
    assert_eq!((failed.status, failed.refunded_cents), (PaymentStatus::Failed, 0));
    let charge = w.charge_of(payment.id);
    assert!(charge.voided && !charge.captured, "the authorization is voided, nothing charged: {charge:?}");
    assert!(
        !statuses(&w.booking(booking.id).await).contains(&ReservationStatus::Confirmed),
        "no seat was sold for a show that began"
    );
    let again = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    assert_eq!(w.charges_of(payment.id).len(), 1, "a failed payment is not sent to the provider again");
}

#[tokio::test]
async fn checkout_after_the_event_started_is_409_invalid_state() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    w.start_the_show().await;
    let resp = w.checkout(Some(&w.ann_token), booking.id).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
    assert_eq!(detail(&resp), "This event has already started, so it can no longer be paid for.");
    assert!(w.list("/payments", &w.ann_token).await.is_empty(), "no payment was opened");
}

/// An event 23 hours ahead: inside the 24-hour window in which customers may not cancel paid seats.
async fn event_in_23_hours(w: &World) -> Event {
    let start = rfc3339(Utc::now() + Duration::hours(23));
    w.app.event_with(&w.admin, &w.venue, json!({"start_time": start})).await
}

#[tokio::test]
async fn customer_cannot_cancel_a_paid_seat_within_24_hours_of_the_start() {
    let w = World::new().await;
    let soon = event_in_23_hours(&w).await;
    let booking = w.book_for(&w.ann_token, soon.id, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    w.confirm_ok(&w.ann_token, payment.id).await;
    let reservation = booking.reservations[0].id;
    let resp = w.app.delete(&format!("/reservations/reservations/{reservation}"), Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = w.app.delete(&format!("/reservations/bookings/{}", booking.id), Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let after = w.payment(payment.id).await;
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Succeeded, 0));
    assert_eq!(w.charge_of(payment.id).refunded_cents, 0);
    assert_eq!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Confirmed]);
}

#[tokio::test]
async fn admin_may_cancel_a_paid_seat_within_24_hours_of_the_start() {
    let w = World::new().await;
    let soon = event_in_23_hours(&w).await;
    let booking = w.book_for(&w.ann_token, soon.id, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    w.confirm_ok(&w.ann_token, payment.id).await;
    let reservation = booking.reservations[0].id;
    let (status, _, body) = w.app.delete(&format!("/reservations/reservations/{reservation}"), Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = w.payment(payment.id).await;
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Refunded, payment.amount_cents));
    assert_eq!(w.charge_of(payment.id).refunded_cents, payment.amount_cents);
}

// ---------------------------------------------------------------------------------------------
// Webhook

#[tokio::test]
async fn signed_charge_refunded_webhook_records_the_refund() {
    let w = World::new().await;
    let (_, payment) = w.paid_booking(&w.ann_token, &["A1", "B1"]).await;
    let event =
        json!({"id": "evt_refund_1", "type": "charge.refunded", "payment_id": payment.id, "amount_cents": 1500});
    let (status, _, body) = w.signed_webhook(&event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"received": true, "duplicate": false}));
    let after = w.payment(payment.id).await;
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::PartiallyRefunded, 1500));
}

#[tokio::test]
async fn signed_charge_failed_webhook_fails_a_pending_payment() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let event = json!({"id": "evt_failed_1", "type": "charge.failed", "payment_id": payment.id});
    let (status, _, body) = w.signed_webhook(&event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"received": true, "duplicate": false}));
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Failed);
}

#[tokio::test]
async fn webhook_with_a_forged_signature_is_401() {
    let w = World::new().await;
    let (_, payment) = w.paid_booking(&w.ann_token, &["A1"]).await;
    let event = json!({"id": "evt_forged", "type": "charge.refunded", "payment_id": payment.id, "amount_cents": 1500});
    let other_secret = SimulatedProvider::sign(b"not-the-secret", event.to_string().as_bytes());
    assert_error(&w.webhook(&event, Some(other_secret)).await, StatusCode::UNAUTHORIZED, "unauthorized");
    // A valid signature of another body does not sign this one.
    let other_body = json!({"id": "evt_other", "type": "charge.succeeded"});
    let borrowed = SimulatedProvider::sign(WEBHOOK_SECRET.as_bytes(), other_body.to_string().as_bytes());
    assert_error(&w.webhook(&event, Some(borrowed)).await, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_error(&w.webhook(&event, Some("sha256=zz".into())).await, StatusCode::UNAUTHORIZED, "unauthorized");
    let after = w.payment(payment.id).await;
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Succeeded, 0));
    // The forged deliveries were not remembered: the real one still takes effect.
    let (status, _, body) = w.signed_webhook(&event).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"received": true, "duplicate": false})));
}

#[tokio::test]
async fn webhook_without_a_signature_is_401() {
    let w = World::new().await;
    let (_, payment) = w.paid_booking(&w.ann_token, &["A1"]).await;
    let event =
        json!({"id": "evt_unsigned", "type": "charge.refunded", "payment_id": payment.id, "amount_cents": 1500});
    assert_error(&w.webhook(&event, None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(w.payment(payment.id).await.refunded_cents, 0);
}

#[tokio::test]
async fn replayed_webhook_event_is_a_duplicate_without_a_second_refund() {
    let w = World::new().await;
    let (_, payment) = w.paid_booking(&w.ann_token, &["A1", "B1"]).await;
    let event =
        json!({"id": "evt_refund_twice", "type": "charge.refunded", "payment_id": payment.id, "amount_cents": 1500});
    let first = w.signed_webhook(&event).await;
    assert_eq!((first.0, &first.2), (StatusCode::OK, &json!({"received": true, "duplicate": false})));
    let again = w.signed_webhook(&event).await;
    assert_eq!((again.0, &again.2), (StatusCode::OK, &json!({"received": true, "duplicate": true})));
    let after = w.payment(payment.id).await;
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::PartiallyRefunded, 1500));
}

#[tokio::test]
async fn webhook_event_refused_the_first_time_is_not_remembered_as_received() {
    let w = World::new().await;
    let event = json!({"id": "evt_unknown_payment", "type": "charge.refunded", "payment_id": Uuid::new_v4(), "amount_cents": 100});
    assert_error(&w.signed_webhook(&event).await, StatusCode::NOT_FOUND, "not_found");
    // The provider delivers again; the event had no effect, so it is not a duplicate.
    assert_error(&w.signed_webhook(&event).await, StatusCode::NOT_FOUND, "not_found");
}
