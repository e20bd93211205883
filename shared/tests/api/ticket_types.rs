//! Ticket types (issue 21) through the routers: `ticket_types` on event create and PATCH (with
//! their 422s), holds naming a type per seat and priced by it, 409 `type_sold_out` past a quota,
//! and the sales report's `by_type`.

use axum::http::StatusCode;
use chrono::{Datelike, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::{TestApp, assert_error, detail, event_body, parse, seat, tier_price};
use proeventa_core::domain::{Booking, Event, VenueWithSeats};

/// Adult at the fixture prices (1500 standard, 4500 vip), child at 800 and 2000 with a quota.
fn adult_and_child(child_quota: u32) -> Value {
    json!([
        {"name": "adult", "prices": [{"tier": "standard", "price_cents": 1500}, {"tier": "vip", "price_cents": 4500}]},
        {"name": "child", "prices": [{"tier": "standard", "price_cents": 800}, {"tier": "vip", "price_cents": 2000}],
         "quota": child_quota},
    ])
}

async fn typed_event(app: &TestApp, admin: &str, venue: &VenueWithSeats, child_quota: u32) -> Event {
    app.event_with(admin, venue, json!({"ticket_types": adult_and_child(child_quota)})).await
}

async fn reserve_typed(
    app: &TestApp,
    token: &str,
    event_id: Uuid,
    seats: &[Uuid],
    types: Value,
) -> (StatusCode, Value) {
    let body = json!({"event_id": event_id, "seat_ids": seats, "ticket_types": types});
    let (status, _, body) = app.post("/reservations/reservations/reserve", body, Some(token)).await;
    (status, body)
}

#[tokio::test]
async fn an_event_answers_its_types_and_a_hold_prices_each_seat_by_its_type() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = typed_event(&app, &admin, &venue, 5).await;
    let names: Vec<&str> = event.ticket_types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["adult", "child"]);
    assert_eq!(event.ticket_types[1].quota, Some(5));
    let (_, _, read) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(read["ticket_types"][1]["quota"], json!(5), "{read}");
    assert_eq!(read["ticket_types"][0]["quota"], Value::Null, "{read}");
    assert_eq!(read["prices"], read["ticket_types"][0]["prices"], "`prices` are the first type's");

    let (_, buyer) = app.customer("buyer@example.com").await;
    let (a1, a2, b1) = (seat(&venue, "A1"), seat(&venue, "A2"), seat(&venue, "B1"));
    let (status, body) =
        reserve_typed(&app, &buyer, event.id, &[a1, a2, b1], json!({a1.to_string(): "child", b1.to_string(): "Child"}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let booking: Booking = parse(&body);
    let by_seat = |id: Uuid| booking.reservations.iter().find(|r| r.seat_id == id).expect("the seat is held");
    assert_eq!((by_seat(a1).ticket_type.as_str(), by_seat(a1).price_cents), ("child", 800));
    assert_eq!((by_seat(a2).ticket_type.as_str(), by_seat(a2).price_cents), ("adult", 1500));
    assert_eq!((by_seat(b1).ticket_type.as_str(), by_seat(b1).price_cents), ("child", 2000));
    assert_eq!(booking.total_cents, 4300);
    assert_eq!(body["reservations"][0]["ticket_type"], json!(by_seat(booking.reservations[0].seat_id).ticket_type));

    // An event created without types sells one, `standard`, at its prices.
    let plain = app.event(&admin, &venue).await;
    assert_eq!(plain.ticket_types.len(), 1);
    assert_eq!((plain.ticket_types[0].name.as_str(), plain.ticket_types[0].quota), ("standard", None));
    let (status, _, body) = app.reserve(&buyer, plain.id, seat(&venue, "A3")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["ticket_type"].clone(), body["price_cents"].clone()),
        (json!("standard"), json!(tier_price("standard")))
    );
}

#[tokio::test]
async fn a_type_past_its_quota_is_409_type_sold_out_naming_it() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = typed_event(&app, &admin, &venue, 1).await;
    let (_, ann) = app.customer("ann@example.com").await;
    let (_, bob) = app.customer("bob@example.com").await;
    let (a1, a2) = (seat(&venue, "A1"), seat(&venue, "A2"));
    assert_eq!(
        reserve_typed(&app, &ann, event.id, &[a1], json!({a1.to_string(): "child"})).await.0,
        StatusCode::CREATED
    );
    let body = json!({"event_id": event.id, "seat_id": a2, "ticket_types": {a2.to_string(): "child"}});
    let resp = app.post("/reservations/reservations/reserve", body, Some(&bob)).await;
    assert_error(&resp, StatusCode::CONFLICT, "type_sold_out");
    assert_eq!(detail(&resp), "No child tickets are left for this event.");
    assert_eq!(app.seat_status(event.id, a2).await, proeventa_core::domain::SeatStatus::Available);
    // Adults are not limited by it.
    assert_eq!(app.reserve(&bob, event.id, a2).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_types_on_create_and_on_a_hold_are_422() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let standard_only = json!([{"tier": "standard", "price_cents": 100}]);
    let both = json!([{"tier": "standard", "price_cents": 100}, {"tier": "vip", "price_cents": 200}]);
    let many: Vec<Value> = (0..21).map(|i| json!({"name": format!("t{i}"), "prices": both})).collect();
    for (types, field) in [
        (json!([]), "ticket_types"),
        (json!([{"name": "adult", "prices": both}, {"name": "Adult", "prices": both}]), "twice"),
        (json!([{"name": "a b", "prices": both}]), "ticket_types.name"),
        (json!([{"name": "adult", "prices": standard_only}]), "vip"),
        (json!([{"name": "adult", "prices": both, "quota": 0}]), "ticket_types.quota"),
        (json!([{"name": "adult", "prices": both, "quota": 100001}]), "ticket_types.quota"),
        (json!(many), "ticket_types"),
    ] {
        let body = event_body(&venue, json!({"ticket_types": types}));
        let resp = app.post("/events/events", body, Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains(field), "{field}: {}", detail(&resp));
    }
    // `prices` beside `ticket_types` must be the first type's.
    let body = event_body(&venue, json!({"prices": both, "ticket_types": adult_and_child(2)}));
    let resp = app.post("/events/events", body, Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("prices"), "{}", detail(&resp));
    // Left out, they are.
    let mut body = event_body(&venue, json!({"ticket_types": adult_and_child(2)}));
    body.as_object_mut().expect("an object").remove("prices");
    let resp = app.post("/events/events", body, Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let event: Event = parse(&resp.2);
    assert_eq!(event.prices, event.ticket_types[0].prices);

    let (_, buyer) = app.customer("buyer@example.com").await;
    let (a1, a2) = (seat(&venue, "A1"), seat(&venue, "A2"));
    let (status, body) = reserve_typed(&app, &buyer, event.id, &[a1], json!({a1.to_string(): "senior"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown type: {body}");
    assert!(body["detail"].as_str().unwrap_or("").contains("senior"), "{body}");
    let (status, body) = reserve_typed(&app, &buyer, event.id, &[a1], json!({a2.to_string(): "child"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a type for a seat not held: {body}");
    let body = json!({"event_id": event.id, "best_available": {"count": 1}, "ticket_types": {a1.to_string(): "child"}});
    let resp = app.post("/reservations/reservations/reserve", body, Some(&buyer)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(app.seat_status(event.id, a1).await, proeventa_core::domain::SeatStatus::Available);
}

#[tokio::test]
async fn patch_replaces_the_types_and_prices_alone_change_the_first_type() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let path = format!("/events/events/{}", event.id);

    let (status, _, body) = app.patch(&path, json!({"ticket_types": adult_and_child(3)}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated: Event = parse(&body);
    assert_eq!(updated.ticket_types.len(), 2);
    assert_eq!(updated.prices, updated.ticket_types[0].prices);

    let prices = json!([{"tier": "standard", "price_cents": 1700}, {"tier": "vip", "price_cents": 5200}]);
    let (status, _, body) = app.patch(&path, json!({"prices": prices}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated: Event = parse(&body);
    assert_eq!(updated.ticket_types[0].price_of("standard"), Some(1700), "the first type takes the new prices");
    assert_eq!(updated.ticket_types[1].price_of("standard"), Some(800), "the others keep theirs");
    assert_eq!(updated.ticket_types[1].quota, Some(3));

    let (status, _, body) =
        app.patch(&path, json!({"ticket_types": [{"name": "x", "prices": []}]}), Some(&admin)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, _, stored) = app.get(&path, None).await;
    assert_eq!(parse::<Event>(&stored).ticket_types.len(), 2, "a refused PATCH changes nothing");
}

#[tokio::test]
async fn the_sales_report_counts_sold_seats_and_revenue_by_type() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = typed_event(&app, &admin, &venue, 5).await;
    let (_, buyer) = app.customer("buyer@example.com").await;
    let (a1, a2, b1) = (seat(&venue, "A1"), seat(&venue, "A2"), seat(&venue, "B1"));
    let (status, body) =
        reserve_typed(&app, &buyer, event.id, &[a1, a2, b1], json!({a1.to_string(): "child", a2.to_string(): "child"}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let booking: Booking = parse(&body);
    let resp = app.post("/payments/checkout", json!({"booking_id": booking.id}), Some(&buyer)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "checkout: {}", resp.2);
    let payment_id: Uuid = parse(&resp.2["id"]);
    let card =
        json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": Utc::now().year() + 2, "cvc": "123"});
    let resp = app.post(&format!("/payments/{payment_id}/confirm"), card, Some(&buyer)).await;
    assert_eq!(resp.0, StatusCode::OK, "confirm: {}", resp.2);

    let (status, _, report) = app.get(&format!("/admin/reports/events/{}", event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["by_type"],
        json!([
            {"ticket_type": "adult", "sold": 1, "revenue_cents": 4500},
            {"ticket_type": "child", "sold": 2, "revenue_cents": 1600},
        ]),
        "{report}"
    );
    assert_eq!(report["revenue_cents"], json!(6100));
}
