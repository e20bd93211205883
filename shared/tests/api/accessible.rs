//! Accessible seating (issue 19) through the router: the event setting `accessible_release_hours`
//! (create, PATCH, every answer, 422 out of range), `accessible: true` reserves of chosen seats,
//! best available for a wheelchair user (a space and its companions, 409 when none, 422 over 4),
//! and a general best available that skips held-back seats until the release.

use crate::http::{Resp, TestApp, assert_error, detail, parse};
use axum::http::StatusCode;
use proeventa_core::domain::{Booking, Event, VenueWithSeats};
use serde_json::{Value, json};

const RESERVE: &str = "/reservations/reservations/reserve";

/// One section "Floor": row 1 is seat 1 plain, 2 a wheelchair space, 3 to 5 companion seats, 6
/// plain; row 2 is six plain seats.
async fn venue(app: &TestApp, admin: &str) -> VenueWithSeats {
    let row = |r: i32| {
        let seats: Vec<Value> = (1..=6)
            .map(|n| {
                let mut seat = json!({"number": n, "x": 10 + 2 * n, "y": 10 + 3 * r});
                match (r, n) {
                    (1, 2) => seat["attributes"] = json!(["wheelchair"]),
                    (1, 3..=5) => seat["attributes"] = json!(["companion"]),
                    _ => {}
                }
                seat
            })
            .collect();
        json!({"row": r.to_string(), "tier": "standard", "seats": seats})
    };
    let layout = json!({
        "width": 40, "height": 30,
        "sections": [{"name": "Floor", "shape": [[5, 5], [35, 5], [35, 25], [5, 25]], "rows": [row(1), row(2)]}],
    });
    let body = json!({"name": "Accessible Hall", "location": "Bonn", "kind": "hall", "layout": layout});
    let resp = app.post("/events/venues", body, Some(admin)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    parse(&resp.2)
}

/// The app, an admin, a buyer, the venue and an event (30 days ahead) holding back 48 hours.
async fn world() -> (TestApp, String, String, VenueWithSeats, Event) {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, token) = app.customer("ann@example.com").await;
    let venue = venue(&app, &admin).await;
    let event = app.event_with(&admin, &venue, json!({"accessible_release_hours": 48})).await;
    (app, admin, token, venue, event)
}

fn seat(venue: &VenueWithSeats, row: &str, number: i32) -> uuid::Uuid {
    venue.seats.iter().find(|s| s.row == row && s.seat_number == number).expect("a seat").id
}

async fn best(app: &TestApp, token: &str, event: &Event, ask: Value) -> Resp {
    app.post(RESERVE, json!({"event_id": event.id, "best_available": ask}), Some(token)).await
}

/// The booking's seats as `row-number` labels, in seat order.
fn labels(booking: &Booking) -> Vec<String> {
    let mut seats: Vec<_> = booking.reservations.iter().map(|r| (r.seat.row.clone(), r.seat.seat_number)).collect();
    seats.sort();
    seats.into_iter().map(|(row, n)| format!("{row}-{n}")).collect()
}

#[tokio::test]
async fn the_release_hours_are_set_shown_changed_and_checked() {
    let (app, admin, _, venue, event) = world().await;
    assert_eq!(event.accessible_release_hours, Some(48));
    let read = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(read.2["accessible_release_hours"], 48);
    let plain = app.event(&admin, &venue).await;
    let read = app.get(&format!("/events/events/{}", plain.id), None).await;
    assert_eq!(read.2["accessible_release_hours"], Value::Null, "unset reads as null");

    let path = format!("/events/events/{}", event.id);
    let changed = app.patch(&path, json!({"accessible_release_hours": 0}), Some(&admin)).await;
    assert_eq!((changed.0, &changed.2["accessible_release_hours"]), (StatusCode::OK, &json!(0)));
    let renamed = app.patch(&path, json!({"name": "Renamed"}), Some(&admin)).await;
    assert_eq!(renamed.2["accessible_release_hours"], 0, "absent: unchanged");
    let cleared = app.patch(&path, json!({"accessible_release_hours": null}), Some(&admin)).await;
    assert_eq!(cleared.2["accessible_release_hours"], Value::Null);

    for bad in [json!(-1), json!(8761)] {
        let resp = app.patch(&path, json!({"accessible_release_hours": bad}), Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains("accessible_release_hours"), "{}", detail(&resp));
        let body = crate::http::event_body(&venue, json!({"accessible_release_hours": bad}));
        let resp = app.post("/events/events", body, Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
}

#[tokio::test]
async fn a_chosen_wheelchair_space_needs_an_accessible_reserve_before_the_release() {
    let (app, _, token, venue, event) = world().await;
    let space = seat(&venue, "1", 2);
    let resp = app.reserve(&token, event.id, space).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(
        detail(&resp),
        "Floor · Row 1 · Seat 2 is a wheelchair space, kept for wheelchair users until 48 hours before the show; ask for it as a wheelchair user (accessible) to book it."
    );
    let party = [space, seat(&venue, "1", 3)];
    let body = json!({"event_id": event.id, "seat_ids": party, "accessible": true});
    let resp = app.post(RESERVE, body, Some(&token)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
}

#[tokio::test]
async fn best_available_for_a_wheelchair_user_holds_a_space_and_its_companions() {
    let (app, _, token, _, event) = world().await;
    let resp = best(&app, &token, &event, json!({"count": 4, "accessible": true})).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    assert_eq!(labels(&parse(&resp.2)), ["1-2", "1-3", "1-4", "1-5"]);
    // The only space is held: none is left.
    let (_, bob) = app.customer("bob@example.com").await;
    let resp = best(&app, &bob, &event, json!({"count": 2, "accessible": true})).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(detail(&resp), "No wheelchair space with 1 companion seat beside it is free.");
    let resp = best(&app, &bob, &event, json!({"count": 5, "accessible": true})).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("best_available.count"), "{}", detail(&resp));
}

#[tokio::test]
async fn general_best_available_skips_held_back_seats_until_the_release() {
    let (app, admin, token, _, event) = world().await;
    // Row 1 has no 3 adjacent seats that are not held back (1, then 6): row 2 it is.
    let resp = best(&app, &token, &event, json!({"count": 3})).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    assert!(labels(&parse(&resp.2)).iter().all(|l| l.starts_with("2-")), "{}", resp.2);
    // Row 2 now has three seats left; a block of 4 exists only across the held-back seats.
    let resp = best(&app, &token, &event, json!({"count": 4})).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    // Released (31 days before a start 30 days away is past): row 1's seats sell as any.
    let path = format!("/events/events/{}", event.id);
    let changed = app.patch(&path, json!({"accessible_release_hours": 31 * 24}), Some(&admin)).await;
    assert_eq!(changed.0, StatusCode::OK, "{}", changed.2);
    let resp = best(&app, &token, &event, json!({"count": 4})).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    assert!(labels(&parse(&resp.2)).iter().all(|l| l.starts_with("1-")), "{}", resp.2);
}
