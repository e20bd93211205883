//! Best available (issue 19): `POST /reservations/reservations/reserve` with `best_available`
//! holds `count` adjacent seats in one row, front row and row middle first, all or none; 409
//! `seat_unavailable` when no block of that size is free; 422 for a bad ask.

use crate::http::{Resp, TestApp, assert_error, detail, parse, seat};
use axum::http::StatusCode;
use proeventa_core::domain::{Booking, Event, ReservationStatus, SeatStatus, VenueWithSeats};
use serde_json::{Value, json};

const RESERVE: &str = "/reservations/reservations/reserve";

/// Row A: 6 vip seats; rows B and C: 6 standard seats each.
async fn world(env: &[(&str, &str)]) -> (TestApp, String, String, VenueWithSeats, Event) {
    let app = TestApp::with_env(env).await;
    let admin = app.admin().await;
    let (_, token) = app.customer("ann@example.com").await;
    let venue = app.venue_with_rows(&admin, &[("A", 6, "vip"), ("B", 6, "standard"), ("C", 6, "standard")]).await;
    let event = app.event(&admin, &venue).await;
    (app, admin, token, venue, event)
}

async fn best(app: &TestApp, token: &str, event: &Event, ask: Value) -> Resp {
    app.post(RESERVE, json!({"event_id": event.id, "best_available": ask}), Some(token)).await
}

/// The booking's seats as `A3`-like labels, in seat order.
fn labels(booking: &Booking) -> Vec<String> {
    let mut seats: Vec<_> = booking.reservations.iter().map(|r| (r.seat.row.clone(), r.seat.seat_number)).collect();
    seats.sort();
    seats.into_iter().map(|(row, n)| format!("{row}{n}")).collect()
}

#[tokio::test]
async fn best_available_holds_adjacent_seats_in_the_front_row_middle() {
    let (app, _, token, venue, event) = world(&[]).await;
    let resp = best(&app, &token, &event, json!({"count": 2})).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let booking: Booking = parse(&resp.2);
    assert_eq!(labels(&booking), ["A3", "A4"], "row A's middle pair");
    assert_eq!(booking.status, ReservationStatus::Held);
    assert_eq!(booking.total_cents, 2 * 4500);
    let map = app.seat_map(event.id).await;
    for label in ["A3", "A4"] {
        let id = seat(&venue, label);
        assert_eq!(map.iter().find(|s| s.seat_id == id).map(|s| s.status), Some(SeatStatus::Held));
    }
    // The next pair goes beside it, leaving no seat alone: A1-A2 or A5-A6 (A1-A2, lower numbers).
    let next: Booking = parse(&best(&app, &token, &event, json!({"count": 2})).await.2);
    assert_eq!(labels(&next), ["A1", "A2"]);
    // Three seats no longer fit row A (A5-A6 are two). In row B the middle blocks (B2-B4, B3-B5)
    // would leave one seat alone at an end, so the nearest that does not: B1-B3.
    let three: Booking = parse(&best(&app, &token, &event, json!({"count": 3})).await.2);
    assert_eq!(labels(&three), ["B1", "B2", "B3"]);
}

#[tokio::test]
async fn best_available_keeps_to_the_tier_asked_for() {
    let (app, _, token, _, event) = world(&[]).await;
    let resp = best(&app, &token, &event, json!({"count": 4, "tier": "standard"})).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let booking: Booking = parse(&resp.2);
    assert_eq!(labels(&booking), ["B1", "B2", "B3", "B4"], "B2-B5 would leave B1 alone");
    assert!(booking.reservations.iter().all(|r| r.seat.tier == "standard"));
    let vip: Booking = parse(&best(&app, &token, &event, json!({"count": 1, "tier": "vip"})).await.2);
    assert_eq!(labels(&vip), ["A3"]);
}

#[tokio::test]
async fn best_available_is_409_only_when_no_block_of_that_size_is_free() {
    let (app, _, token, venue, event) = world(&[]).await;
    // Seven in a row: no row has seven seats.
    let resp = best(&app, &token, &event, json!({"count": 7})).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(detail(&resp), "No 7 adjacent seats are free in one row.");
    // Row A (vip) with A3 taken: no four vip seats side by side, though five are free.
    let (_, bob) = app.customer("bob@example.com").await;
    let (status, _, body) = app.reserve(&bob, event.id, seat(&venue, "A3")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let resp = best(&app, &token, &event, json!({"count": 4, "tier": "vip"})).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(detail(&resp), "No 4 adjacent seats of tier vip are free in one row.");
    // Nothing was held by the refusals.
    let held = app.seat_map(event.id).await.iter().filter(|s| s.status != SeatStatus::Available).count();
    assert_eq!(held, 1);
    // Two vip seats still fit: A1-A2, the pair that leaves no seat alone (A4-A5 would leave A6).
    let resp = best(&app, &token, &event, json!({"count": 2, "tier": "vip"})).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    assert_eq!(labels(&parse(&resp.2)), ["A1", "A2"]);
}

#[tokio::test]
async fn best_available_rejects_a_bad_ask_naming_the_field() {
    let (app, _, token, venue, event) = world(&[("MAX_HELD_SEATS_PER_USER", "4")]).await;
    let cases = [
        (json!({"event_id": event.id, "best_available": {"count": 0}}), "best_available.count"),
        (json!({"event_id": event.id, "best_available": {"count": 11}}), "best_available.count"),
        (json!({"event_id": event.id, "best_available": {"count": 5}}), "best_available.count"),
        (json!({"event_id": event.id, "best_available": {"count": 2, "tier": ""}}), "best_available.tier"),
        (json!({"event_id": event.id, "best_available": {"count": 2, "tier": "balcony"}}), "best_available.tier"),
        (json!({"event_id": event.id, "best_available": {"count": 2, "section": "north"}}), "section"),
        (json!({"event_id": event.id, "best_available": {"count": 2, "wheelchair": true}}), "wheelchair"),
        (json!({"event_id": event.id, "best_available": {}}), "count"),
        (
            json!({"event_id": event.id, "seat_ids": [seat(&venue, "A1")], "best_available": {"count": 2}}),
            "best_available",
        ),
        (
            json!({"event_id": event.id, "seat_id": seat(&venue, "A1"), "best_available": {"count": 2}}),
            "best_available",
        ),
    ];
    for (body, field) in cases {
        let resp = app.post(RESERVE, body.clone(), Some(&token)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains(field), "{body}: the detail names `{field}`: {}", detail(&resp));
    }
    assert!(app.seat_map(event.id).await.iter().all(|s| s.status == SeatStatus::Available), "nothing held");
    // Within the limit, it holds.
    let resp = best(&app, &token, &event, json!({"count": 4})).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
}

#[tokio::test]
async fn best_available_counts_against_the_hold_limit() {
    let (app, _, token, _, event) = world(&[("MAX_HELD_SEATS_PER_USER", "4")]).await;
    assert_eq!(best(&app, &token, &event, json!({"count": 3})).await.0, StatusCode::CREATED);
    let resp = best(&app, &token, &event, json!({"count": 2})).await;
    assert_error(&resp, StatusCode::CONFLICT, "hold_limit_reached");
}

#[tokio::test]
async fn best_available_needs_a_login_and_a_known_event() {
    let (app, _, token, _, event) = world(&[]).await;
    let resp = app.post(RESERVE, json!({"event_id": event.id, "best_available": {"count": 2}}), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown = json!({"event_id": uuid::Uuid::new_v4(), "best_available": {"count": 2}});
    assert_error(&app.post(RESERVE, unknown, Some(&token)).await, StatusCode::NOT_FOUND, "not_found");
}
