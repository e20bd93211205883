//! Proves the checkout routes of issue 22: `POST /reservations/bookings/{id}/extend` (once per
//! booking, by `HOLD_EXTENSION_SECONDS`, refused for lapsed, paid or canceled bookings, owner or
//! admin) and `GET /payments/config` (what the payment page shows).

use std::time::Duration as StdDuration;

use crate::http::{TestApp, assert_error, parse, seat};
use axum::http::StatusCode;
use chrono::Duration;
use proeventa_core::domain::Booking;
use serde_json::json;
use uuid::Uuid;

fn extend_path(booking_id: Uuid) -> String {
    format!("/reservations/bookings/{booking_id}/extend")
}

#[tokio::test]
async fn a_hold_is_extended_once_by_the_configured_time() {
    let app = TestApp::with_env(&[("HOLD_EXTENSION_SECONDS", "120")]).await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let resp = app.reserve_many(&ann, event.id, &[seat(&venue, "A1"), seat(&venue, "A2")]).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let booking: Booking = parse(&resp.2);

    let (status, _, body) = app.post(&extend_path(booking.id), json!({}), Some(&ann)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let extended: Booking = parse(&body);
    assert_eq!(extended.expires_at, booking.expires_at + Duration::seconds(120));
    for (before, after) in booking.reservations.iter().zip(&extended.reservations) {
        assert_eq!(after.expires_at, before.expires_at + Duration::seconds(120), "every seat is extended");
    }

    let resp = app.post(&extend_path(booking.id), json!({}), Some(&ann)).await;
    assert_error(&resp, StatusCode::CONFLICT, "extension_used");
    let (_, _, body) = app.get(&format!("/reservations/bookings/{}", booking.id), Some(&ann)).await;
    assert_eq!(parse::<Booking>(&body).expires_at, extended.expires_at, "the refused second changed nothing");
}

#[tokio::test]
async fn an_extension_is_refused_for_others_unknown_paid_and_unauthenticated() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let (_, bob) = app.customer("bob@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let resp = app.reserve_many(&ann, event.id, &[seat(&venue, "A1")]).await;
    let booking: Booking = parse(&resp.2);

    let resp = app.post(&extend_path(booking.id), json!({}), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    // As every booking route: another customer's booking is forbidden, an unknown one not found.
    let resp = app.post(&extend_path(booking.id), json!({}), Some(&bob)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.post(&extend_path(Uuid::new_v4()), json!({}), Some(&ann)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.post("/reservations/bookings/not-a-booking/extend", json!({}), Some(&ann)).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");

    let paid = app.paid_booking(&ann, event.id, &[seat(&venue, "A2")]).await;
    let resp = app.post(&extend_path(paid.id), json!({}), Some(&ann)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");

    // An admin may extend a customer's hold, as they may cancel it.
    let (status, _, body) = app.post(&extend_path(booking.id), json!({}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp = app.delete(&format!("/reservations/bookings/{}", booking.id), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let resp = app.post(&extend_path(booking.id), json!({}), Some(&ann)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
}

#[tokio::test]
async fn a_lapsed_hold_is_not_extended() {
    let app = TestApp::with_env(&[("HOLD_TTL_SECONDS", "1")]).await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let resp = app.reserve_many(&ann, event.id, &[seat(&venue, "A1")]).await;
    let booking: Booking = parse(&resp.2);
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    let resp = app.post(&extend_path(booking.id), json!({}), Some(&ann)).await;
    assert_error(&resp, StatusCode::CONFLICT, "hold_expired");
}

#[tokio::test]
async fn payments_config_names_the_provider_and_test_mode() {
    let app = TestApp::new().await;
    let (status, _, body) = app.get("/payments/config", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"provider": "simulated", "test_mode": true}));
}
