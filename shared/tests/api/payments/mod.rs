//! Proves the `/payments/*` routes of API.md: checkout of a held booking (server-side amount,
//! hold extension), card confirmation through the simulated provider (test cards, Luhn, expiry,
//! one capture, void when the seats were lost), who may read which payment, refunds on
//! cancellation (seat, booking, event; the 24-hour rule), the signed webhook, Idempotency-Key on
//! checkout and confirm, that card data is never echoed or stored, and the OpenAPI document.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::http::{Resp, TestApp, assert_error, detail, json_request, parse, rfc3339, seat, tier_price};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Datelike, Duration, Utc};
use proeventa_core::domain::{
    Booking, Event, EventChanges, Payment, PaymentStatus, ReservationStatus, SeatStatus, User, VenueWithSeats,
};
use proeventa_core::payments::{SimulatedCharge, SimulatedProvider};
use serde_json::{Value, json};
use sqlx::Row;
use uuid::Uuid;

/// Card confirmation through the simulated provider.
mod confirm;
/// Refunds on cancellation and the provider's signed webhook.
mod refunds;

const CHECKOUT: &str = "/payments/checkout";
const WEBHOOK: &str = "/payments/webhook";
const REPLAYED: &str = "idempotent-replayed";
const WEBHOOK_SECRET: &str = "whsec-router-tests-0123456789";

const GOOD_CARD: &str = "4242 4242 4242 4242";
const GOOD_CARD_DIGITS: &str = "4242424242424242";
const OTHER_GOOD_CARD: &str = "5555 5555 5555 4444";
const DECLINED_CARD: &str = "4000 0000 0000 0002";
const INSUFFICIENT_FUNDS_CARD: &str = "4000 0000 0000 9995";
const LUHN_INVALID_CARD: &str = "4242 4242 4242 4241";
const CVC: &str = "7319";

/// An app paying through a simulated provider, with an admin, two customers, a small venue
/// (A1-A4 standard, B1-B2 vip) and an event thirty days ahead.
struct World {
    app: TestApp,
    provider: Arc<SimulatedProvider>,
    admin: String,
    ann: User,
    ann_token: String,
    bob: User,
    bob_token: String,
    venue: VenueWithSeats,
    event: Event,
}

impl World {
    async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// `WEBHOOK_SECRET` is always set; `env` adds or replaces keys.
    async fn with_env(env: &[(&str, &str)]) -> Self {
        let mut pairs = vec![("WEBHOOK_SECRET", WEBHOOK_SECRET)];
        pairs.extend_from_slice(env);
        let (app, provider) = TestApp::with_provider(&pairs).await;
        let admin = app.admin().await;
        let (ann, ann_token) = app.customer("ann@example.com").await;
        let (bob, bob_token) = app.customer("bob@example.com").await;
        let venue = app.small_venue(&admin).await;
        let event = app.event(&admin, &venue).await;
        Self { app, provider, admin, ann, ann_token, bob, bob_token, venue, event }
    }

    fn seat(&self, label: &str) -> Uuid {
        seat(&self.venue, label)
    }

    fn price(&self, label: &str) -> i64 {
        let id = self.seat(label);
        let seat = self.venue.seats.iter().find(|s| s.id == id).expect("seat");
        tier_price(&seat.tier)
    }

    /// `token`'s user holds `labels` of the event as one booking; panics unless it answers 201.
    async fn book(&self, token: &str, labels: &[&str]) -> Booking {
        self.book_for(token, self.event.id, labels).await
    }

    async fn book_for(&self, token: &str, event_id: Uuid, labels: &[&str]) -> Booking {
        let seats: Vec<Uuid> = labels.iter().map(|l| self.seat(l)).collect();
        let (status, _, body) = self.app.reserve_many(token, event_id, &seats).await;
        assert_eq!(status, StatusCode::CREATED, "reserve {labels:?}: {body}");
        parse(&body)
    }

    async fn checkout(&self, token: Option<&str>, booking_id: Uuid) -> Resp {
        self.app.post(CHECKOUT, json!({"booking_id": booking_id}), token).await
    }

    /// A checkout that must answer 201.
    async fn checkout_ok(&self, token: &str, booking_id: Uuid) -> Payment {
        let (status, _, body) = self.checkout(Some(token), booking_id).await;
        assert_eq!(status, StatusCode::CREATED, "checkout: {body}");
        parse(&body)
    }

    async fn confirm(&self, token: &str, payment_id: Uuid, card: Value) -> Resp {
        self.app.post(&format!("/payments/{payment_id}/confirm"), card, Some(token)).await
    }

    /// A confirm that must answer 200.
    async fn confirm_ok(&self, token: &str, payment_id: Uuid) -> Payment {
        let (status, _, body) = self.confirm(token, payment_id, card(GOOD_CARD)).await;
        assert_eq!(status, StatusCode::OK, "confirm: {body}");
        parse(&body)
    }

    /// `token`'s user holds `labels`, checks out and pays with the good card.
    async fn paid_booking(&self, token: &str, labels: &[&str]) -> (Booking, Payment) {
        let booking = self.book(token, labels).await;
        let payment = self.checkout_ok(token, booking.id).await;
        let paid = self.confirm_ok(token, payment.id).await;
        assert_eq!(paid.status, PaymentStatus::Succeeded, "{paid:?}");
        (booking, paid)
    }

    /// A payment as an admin reads it.
    async fn payment(&self, id: Uuid) -> Payment {
        let (status, _, body) = self.app.get(&format!("/payments/{id}"), Some(&self.admin)).await;
        assert_eq!(status, StatusCode::OK, "get payment: {body}");
        parse(&body)
    }

    /// A booking as an admin reads it.
    async fn booking(&self, id: Uuid) -> Booking {
        let (status, _, body) = self.app.get(&format!("/reservations/bookings/{id}"), Some(&self.admin)).await;
        assert_eq!(status, StatusCode::OK, "get booking: {body}");
        parse(&body)
    }

    async fn list(&self, path: &str, token: &str) -> Vec<Payment> {
        let (status, _, body) = self.app.get(path, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        parse(&body)
    }

    /// The simulated provider's charges for one payment.
    fn charges_of(&self, payment_id: Uuid) -> Vec<SimulatedCharge> {
        self.provider.charges().into_values().filter(|c| c.payment_id == payment_id).collect()
    }

    /// The single charge of a payment; panics unless there is exactly one.
    fn charge_of(&self, payment_id: Uuid) -> SimulatedCharge {
        let charges = self.charges_of(payment_id);
        assert_eq!(charges.len(), 1, "expected one charge for {payment_id}: {charges:?}");
        charges[0].clone()
    }

    async fn status_of(&self, label: &str) -> SeatStatus {
        self.app.seat_status(self.event.id, self.seat(label)).await
    }

    /// A webhook delivery of `body` with `signature` as its `x-signature` header, if any.
    async fn webhook(&self, body: &Value, signature: Option<String>) -> Resp {
        let raw = body.to_string();
        let mut builder =
            Request::builder().method(Method::POST).uri(WEBHOOK).header(header::CONTENT_TYPE, "application/json");
        if let Some(signature) = signature {
            builder = builder.header("x-signature", signature);
        }
        self.app.send(builder.body(Body::from(raw)).expect("request")).await
    }

    /// A webhook delivery signed with the configured secret.
    async fn signed_webhook(&self, body: &Value) -> Resp {
        let signature = SimulatedProvider::sign(WEBHOOK_SECRET.as_bytes(), body.to_string().as_bytes());
        self.webhook(body, Some(signature)).await
    }

    /// A POST with an `Idempotency-Key`.
    async fn post_with_key(&self, path: &str, body: Value, token: &str, key: &str) -> Resp {
        let mut request = json_request(Method::POST, path, Some(body), Some(token));
        request.headers_mut().insert("idempotency-key", key.parse().expect("header value"));
        self.app.send(request).await
    }
}

/// A confirm body for `number`, expiring in two years.
fn card(number: &str) -> Value {
    json!({"card_number": number, "exp_month": 12, "exp_year": Utc::now().year() + 2, "cvc": CVC, "cardholder": "Ann Tester"})
}

fn replayed(resp: &Resp) -> bool {
    resp.1.get(REPLAYED).is_some_and(|v| v == "true")
}

fn statuses(booking: &Booking) -> Vec<ReservationStatus> {
    booking.reservations.iter().map(|r| r.status).collect()
}

/// Panics when a JSON value names a card field or holds the card number or the CVC.
fn assert_no_card_data(what: &str, value: &Value) {
    match value {
        Value::String(s) => {
            assert!(
                [GOOD_CARD_DIGITS, GOOD_CARD, LUHN_INVALID_CARD, "4242424242424241"].iter().all(|n| !s.contains(n)),
                "{what} holds a full card number: {s}"
            );
            assert_ne!(s, CVC, "{what} holds the CVC");
        }
        Value::Number(n) => assert_ne!(n.to_string(), CVC, "{what} holds the CVC"),
        Value::Array(items) => items.iter().for_each(|v| assert_no_card_data(what, v)),
        Value::Object(map) => {
            for (k, v) in map {
                assert!(k != "cvc" && k != "card_number", "{what} has a `{k}` field: {value}");
                assert_no_card_data(what, v);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Checkout

#[tokio::test]
async fn checkout_opens_a_pending_payment_for_the_server_computed_amount() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1", "B1"]).await;
    let (status, _, body) =
        w.app.post(CHECKOUT, json!({"booking_id": booking.id, "amount_cents": 1}), Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let payment: Payment = parse(&body);
    assert_eq!(payment.status, PaymentStatus::Pending);
    assert_eq!(payment.amount_cents, w.price("A1") + w.price("B1"), "the amount in the body is ignored");
    assert_eq!(payment.amount_cents, 6000);
    assert_eq!(payment.currency, "EUR");
    assert_eq!((payment.booking_id, payment.user_id), (booking.id, w.ann.id));
    assert_eq!(payment.provider, "simulated");
    assert_eq!(payment.refunded_cents, 0);
    assert_eq!(payment.card_last4, None);
    assert_eq!(w.payment(payment.id).await, payment, "GET answers what checkout answered");
}

#[tokio::test]
async fn checkout_extends_the_hold_to_the_payment_window() {
    let w = World::with_env(&[("HOLD_TTL_SECONDS", "60"), ("PAYMENT_WINDOW_SECONDS", "900")]).await;
    let booking = w.book(&w.ann_token, &["A1", "B1"]).await;
    let before = Utc::now();
    w.checkout_ok(&w.ann_token, booking.id).await;
    let after = w.booking(booking.id).await;
    assert_eq!(statuses(&after), vec![ReservationStatus::Held; 2]);
    for old in &booking.reservations {
        let new = after.reservations.iter().find(|r| r.id == old.id).expect("the same reservations");
        // Stored to the millisecond, hence the second of slack below `before + 900 s`.
        assert!(new.expires_at > old.expires_at, "hold not extended: {old:?} -> {new:?}");
        assert!(new.expires_at >= before + Duration::seconds(899), "hold extended too little: {new:?}");
    }
}

#[tokio::test]
async fn checkout_anonymously_is_401() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    assert_error(&w.checkout(None, booking.id).await, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn checkout_of_another_customers_booking_is_403() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    assert_error(&w.checkout(Some(&w.bob_token), booking.id).await, StatusCode::FORBIDDEN, "forbidden");
    assert!(w.list("/payments", &w.ann_token).await.is_empty());
}

/// Checkout is for the owner only: an admin who does not own the booking gets 403 too.
#[tokio::test]
async fn checkout_by_an_admin_who_is_not_the_owner_is_403() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    assert_error(&w.checkout(Some(&w.admin), booking.id).await, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn checkout_of_an_unknown_booking_is_404() {
    let w = World::new().await;
    assert_error(&w.checkout(Some(&w.ann_token), Uuid::new_v4()).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn second_checkout_of_a_booking_is_409_invalid_state() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let first = w.checkout_ok(&w.ann_token, booking.id).await;
    let again = w.checkout(Some(&w.ann_token), booking.id).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    let payments = w.list("/payments", &w.ann_token).await;
    assert_eq!(payments, vec![first]);
}

#[tokio::test]
async fn checkout_after_the_hold_lapsed_is_409_hold_expired() {
    let w = World::with_env(&[("HOLD_TTL_SECONDS", "1")]).await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    tokio::time::sleep(StdDuration::from_millis(1200)).await;
    assert_error(&w.checkout(Some(&w.ann_token), booking.id).await, StatusCode::CONFLICT, "hold_expired");
    assert!(w.list("/payments", &w.ann_token).await.is_empty());
}

#[tokio::test]
async fn checkout_of_a_canceled_booking_is_409_invalid_state() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1", "A2"]).await;
    let (status, _, body) = w.app.delete(&format!("/reservations/bookings/{}", booking.id), Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(&w.checkout(Some(&w.ann_token), booking.id).await, StatusCode::CONFLICT, "invalid_state");
}

// ---------------------------------------------------------------------------------------------
// Reads

#[tokio::test]
async fn get_payment_is_for_its_owner_or_admin() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let path = format!("/payments/{}", payment.id);
    let (status, _, body) = w.app.get(&path, Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse::<Payment>(&body), payment);
    assert_error(&w.app.get(&path, Some(&w.bob_token)).await, StatusCode::FORBIDDEN, "forbidden");
    let (status, _, body) = w.app.get(&path, Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse::<Payment>(&body), payment);
}

#[tokio::test]
async fn get_unknown_payment_is_404() {
    let w = World::new().await;
    let resp = w.app.get(&format!("/payments/{}", Uuid::new_v4()), Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn payment_routes_need_a_token() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let confirm = w.app.post(&format!("/payments/{}/confirm", payment.id), card(GOOD_CARD), None).await;
    assert_error(&confirm, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_error(
        &w.app.get(&format!("/payments/{}", payment.id), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_error(&w.app.get("/payments", None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(w.charges_of(payment.id).is_empty());
}

#[tokio::test]
async fn listing_payments_shows_only_the_callers_own() {
    let w = World::new().await;
    let ann_booking = w.book(&w.ann_token, &["A1"]).await;
    let ann_payment = w.checkout_ok(&w.ann_token, ann_booking.id).await;
    let bob_booking = w.book(&w.bob_token, &["A2"]).await;
    let bob_payment = w.checkout_ok(&w.bob_token, bob_booking.id).await;
    assert_eq!(w.list("/payments", &w.ann_token).await, vec![ann_payment.clone()]);
    assert_eq!(w.list("/payments", &w.bob_token).await, vec![bob_payment]);
    assert_eq!(w.list(&format!("/payments?user_id={}", w.ann.id), &w.ann_token).await, vec![ann_payment]);
}

#[tokio::test]
async fn admin_lists_every_payment_or_one_users_with_user_id() {
    let w = World::new().await;
    let ann_booking = w.book(&w.ann_token, &["A1"]).await;
    let ann_payment = w.checkout_ok(&w.ann_token, ann_booking.id).await;
    let bob_booking = w.book(&w.bob_token, &["A2"]).await;
    let bob_payment = w.checkout_ok(&w.bob_token, bob_booking.id).await;
    let mut all: Vec<Uuid> = w.list("/payments", &w.admin).await.iter().map(|p| p.id).collect();
    all.sort();
    let mut expected = vec![ann_payment.id, bob_payment.id];
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(w.list(&format!("/payments?user_id={}", w.bob.id), &w.admin).await, vec![bob_payment]);
}

#[tokio::test]
async fn customer_listing_another_users_payments_is_403() {
    let w = World::new().await;
    let resp = w.app.get(&format!("/payments?user_id={}", w.bob.id), Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

// ---------------------------------------------------------------------------------------------
// Idempotency-Key

#[tokio::test]
async fn checkout_with_the_same_idempotency_key_replays_and_opens_one_payment() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let body = json!({"booking_id": booking.id});
    let first = w.post_with_key(CHECKOUT, body.clone(), &w.ann_token, "checkout-1").await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    assert!(!replayed(&first));
    let again = w.post_with_key(CHECKOUT, body, &w.ann_token, "checkout-1").await;
    assert_eq!((again.0, &again.2), (StatusCode::CREATED, &first.2));
    assert!(replayed(&again), "{:?}", again.1);
    assert_eq!(w.list("/payments", &w.ann_token).await, vec![parse::<Payment>(&first.2)]);
}

#[tokio::test]
async fn checkout_with_a_reused_idempotency_key_and_another_body_is_422() {
    let w = World::new().await;
    let first = w.book(&w.ann_token, &["A1"]).await;
    let second = w.book(&w.ann_token, &["A2"]).await;
    let resp = w.post_with_key(CHECKOUT, json!({"booking_id": first.id}), &w.ann_token, "checkout-1").await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let resp = w.post_with_key(CHECKOUT, json!({"booking_id": second.id}), &w.ann_token, "checkout-1").await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(w.list("/payments", &w.ann_token).await.len(), 1);
}

#[tokio::test]
async fn confirm_with_the_same_idempotency_key_replays_and_charges_once() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let path = format!("/payments/{}/confirm", payment.id);
    let first = w.post_with_key(&path, card(GOOD_CARD), &w.ann_token, "pay-1").await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    assert!(!replayed(&first));
    let again = w.post_with_key(&path, card(GOOD_CARD), &w.ann_token, "pay-1").await;
    assert_eq!((again.0, &again.2), (StatusCode::OK, &first.2));
    assert!(replayed(&again), "{:?}", again.1);
    let charge = w.charge_of(payment.id);
    assert!(charge.captured, "{charge:?}");
}

#[tokio::test]
async fn confirm_with_a_reused_idempotency_key_and_another_card_is_422() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let path = format!("/payments/{}/confirm", payment.id);
    let first = w.post_with_key(&path, card(GOOD_CARD), &w.ann_token, "pay-1").await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    let other = w.post_with_key(&path, card(OTHER_GOOD_CARD), &w.ann_token, "pay-1").await;
    assert_error(&other, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(w.charge_of(payment.id).captured);
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

#[tokio::test]
async fn openapi_document_lists_every_payments_route_and_the_payment_schema() {
    let app = TestApp::new().await;
    let (status, _, doc) = app.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let expected = [
        ("/payments/checkout", "post"),
        ("/payments/{payment_id}/confirm", "post"),
        ("/payments/{payment_id}", "get"),
        ("/payments", "get"),
        ("/payments/webhook", "post"),
    ];
    for (path, method) in expected {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not documented");
    }
    let payment = &doc["components"]["schemas"]["Payment"];
    assert!(payment.is_object(), "no Payment schema");
    for field in ["id", "booking_id", "user_id", "amount_cents", "currency", "status", "card_last4", "refunded_cents"] {
        assert!(payment["properties"][field].is_object(), "Payment has no `{field}`: {payment}");
    }
}
