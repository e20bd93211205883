//! The waiting list of issue 20 through the API: `POST`, `GET` and `DELETE
//! /events/events/{event_id}/waitlist`, 409 `not_sold_out` while seats can be held, and an offer
//! made by a cancellation elsewhere that the buyer sees and pays like any hold.

use crate::http::{TestApp, assert_error, parse};
use axum::http::StatusCode;
use chrono::{Datelike, Duration, Utc};
use proeventa_core::domain::Booking;
use serde_json::json;
use uuid::Uuid;

fn waitlist(event_id: Uuid) -> String {
    format!("/events/events/{event_id}/waitlist")
}

#[tokio::test]
async fn the_list_opens_when_sold_out_and_a_cancel_elsewhere_makes_an_offer_that_is_paid() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.venue_with_rows(&admin, &[("A", 2, "standard")]).await;
    let event = app.event(&admin, &venue).await;
    let (_, ann) = app.customer("ann@example.com").await;
    let (bob_user, bob) = app.customer("bob@example.com").await;
    let path = waitlist(event.id);

    let early = app.post(&path, json!({"seats": 1}), Some(&bob)).await;
    assert_error(&early, StatusCode::CONFLICT, "not_sold_out");

    let seats: Vec<Uuid> = venue.seats.iter().map(|s| s.id).collect();
    let resp = app.reserve_many(&ann, event.id, &seats).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let anns: Booking = parse(&resp.2);

    let joined = app.post(&path, json!({"seats": 1}), Some(&bob)).await;
    assert_eq!(joined.0, StatusCode::CREATED, "{}", joined.2);
    assert_eq!(joined.2["position"], 1);
    let again = app.post(&path, json!({"seats": 2}), Some(&bob)).await;
    assert_eq!(again.0, StatusCode::OK, "joining twice answers the entry: {}", again.2);
    assert_eq!(again.2["id"], joined.2["id"]);

    let entry = app.get(&path, Some(&bob)).await;
    assert_eq!(entry.0, StatusCode::OK);
    assert_eq!(
        (entry.2["status"].as_str(), entry.2["position"].as_u64(), entry.2["seats"].as_u64()),
        (Some("waiting"), Some(1), Some(1))
    );
    assert!(entry.2["offer"].is_null());

    // Ann gives one seat up: it is held for bob at once, not put back on sale.
    let cancel = app.delete(&format!("/reservations/reservations/{}", anns.reservations[0].id), Some(&ann)).await;
    assert_eq!(cancel.0, StatusCode::OK, "{}", cancel.2);
    let offered = app.get(&path, Some(&bob)).await;
    assert_eq!(offered.2["status"], "offered", "{}", offered.2);
    assert!(offered.2["position"].is_null());
    let offer = &offered.2["offer"];
    assert_eq!(offer["status"], "held");
    let booking_id: Uuid = parse(&offer["booking_id"]);
    let expires_at: chrono::DateTime<Utc> = parse(&offer["expires_at"]);
    assert!(expires_at > Utc::now() + Duration::minutes(29), "held for the offer window: {offer}");

    // Bob sees it among his reservations and pays it through the usual checkout.
    let mine = app.get(&format!("/reservations/reservations/user/{}", bob_user.id), Some(&bob)).await;
    let listed = mine.2.as_array().expect("a list");
    assert!(listed.iter().any(|r| r["booking_id"] == json!(booking_id) && r["status"] == "held"), "{}", mine.2);
    let resp = app.post("/payments/checkout", json!({"booking_id": booking_id}), Some(&bob)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "checkout: {}", resp.2);
    let payment_id: Uuid = parse(&resp.2["id"]);
    let card =
        json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": Utc::now().year() + 2, "cvc": "123"});
    let resp = app.post(&format!("/payments/{payment_id}/confirm"), card, Some(&bob)).await;
    assert_eq!(resp.0, StatusCode::OK, "confirm: {}", resp.2);
    let paid = app.get(&path, Some(&bob)).await;
    assert_eq!(paid.2["offer"]["status"], "confirmed", "{}", paid.2);

    // Leaving takes the entry off; the paid booking stays.
    let left = app.delete(&path, Some(&bob)).await;
    assert_eq!(left.0, StatusCode::NO_CONTENT);
    assert_error(&app.get(&path, Some(&bob)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.delete(&path, Some(&bob)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_wish_is_checked_and_a_tier_can_be_sold_out_alone() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, ann) = app.customer("ann@example.com").await;
    let (_, bob) = app.customer("bob@example.com").await;
    let path = waitlist(event.id);

    for seats in [0, 11] {
        let resp = app.post(&path, json!({"seats": seats}), Some(&bob)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let resp = app.post(&path, json!({"seats": 1, "tier": "royal-box"}), Some(&bob)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_error(&app.post(&path, json!({"seats": 1}), None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown = app.post(&waitlist(Uuid::new_v4()), json!({"seats": 1}), Some(&bob)).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");

    // The vip row sold out, the standard seats not: a vip wish may join, any other may not.
    let vips: Vec<Uuid> = venue.seats.iter().filter(|s| s.tier == "vip").map(|s| s.id).collect();
    assert_eq!(app.reserve_many(&ann, event.id, &vips).await.0, StatusCode::CREATED);
    assert_error(&app.post(&path, json!({"seats": 1}), Some(&bob)).await, StatusCode::CONFLICT, "not_sold_out");
    let vip = app.post(&path, json!({"seats": 2, "tier": "VIP"}), Some(&bob)).await;
    assert_eq!(vip.0, StatusCode::CREATED, "{}", vip.2);
    let entry = app.get(&path, Some(&bob)).await;
    assert_eq!((entry.2["tier"].as_str(), entry.2["seats"].as_u64()), (Some("vip"), Some(2)));
}
