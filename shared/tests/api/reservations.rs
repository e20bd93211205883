//! Proves the `/reservations/*` routes of API.md: single and multi-seat holds (all seats or
//! none), who may read and cancel which reservation or booking, the listings, and that a lapsed
//! hold reads `expired` and frees its seat without any sweeper.
//!
//! Not covered here: canceling a `confirmed` reservation (the 24-hour rule for customers),
//! because the store has no way yet to confirm a hold outside the payments flow.

use std::time::Duration as StdDuration;

use crate::http::{Resp, TestApp, assert_error, detail, parse, seat, tier_price};
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use proeventa_core::domain::{
    Booking, Event, EventChanges, Reservation, ReservationStatus, SeatStatus, User, VenueWithSeats,
};
use serde_json::json;
use uuid::Uuid;

const RESERVE: &str = "/reservations/reservations/reserve";

/// An app with an admin, two customers, a small venue (A1-A4 standard, B1-B2 vip) and an event.
struct World {
    app: TestApp,
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

    async fn with_env(env: &[(&str, &str)]) -> Self {
        let app = TestApp::with_env(env).await;
        let admin = app.admin().await;
        let (ann, ann_token) = app.customer("ann@example.com").await;
        let (bob, bob_token) = app.customer("bob@example.com").await;
        let venue = app.small_venue(&admin).await;
        let event = app.event(&admin, &venue).await;
        Self { app, admin, ann, ann_token, bob, bob_token, venue, event }
    }

    fn seat(&self, label: &str) -> Uuid {
        seat(&self.venue, label)
    }

    /// Ann holds one seat; panics unless it answers 201.
    async fn ann_holds(&self, label: &str) -> Reservation {
        let (status, _, body) = self.app.reserve(&self.ann_token, self.event.id, self.seat(label)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        parse(&body)
    }

    async fn status_of(&self, label: &str) -> SeatStatus {
        self.app.seat_status(self.event.id, self.seat(label)).await
    }
}

fn reservations(resp: &Resp) -> Vec<Reservation> {
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    parse(&resp.2)
}

fn ids(reservations: &[Reservation]) -> Vec<Uuid> {
    reservations.iter().map(|r| r.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Reserving

#[tokio::test]
async fn reserving_one_seat_answers_a_held_reservation_for_the_caller() {
    let w = World::with_env(&[("HOLD_TTL_SECONDS", "900")]).await;
    let before = Utc::now();
    let (status, _, body) = w
        .app
        .post(
            RESERVE,
            json!({"event_id": w.event.id, "seat_id": w.seat("B2"), "user_id": w.bob.id}),
            Some(&w.ann_token),
        )
        .await;
    let after = Utc::now();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let r: Reservation = parse(&body);
    assert_eq!(r.user_id, w.ann.id, "the acting user comes from the token");
    assert_eq!((r.event_id, r.seat_id, r.status), (w.event.id, w.seat("B2"), ReservationStatus::Held));
    assert_eq!((r.seat.row.as_str(), r.seat.seat_number, r.seat.tier.as_str()), ("B", 2, "vip"));
    assert_eq!((r.price_cents, r.currency.as_str()), (tier_price("vip"), "EUR"));
    let ttl = Duration::seconds(900);
    let slack = Duration::seconds(2);
    assert!(
        r.expires_at >= before + ttl - slack && r.expires_at <= after + ttl + slack,
        "expires_at {} is not about now + 900 s",
        r.expires_at
    );
    // A single-seat reserve makes a booking too.
    let (status, _, body) = w.app.get(&format!("/reservations/bookings/{}", r.booking_id), Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let booking: Booking = parse(&body);
    assert_eq!(booking.reservations, vec![r]);
}

/// Finding 6 of issue 15: reserve requests are limited per account and per client address
/// (counted in the store), whatever they answer; another account is not affected.
#[tokio::test]
async fn reserve_requests_are_limited_per_account_with_retry_after() {
    let w = World::with_env(&[("RESERVE_LIMIT_PER_MINUTE", "4")]).await;
    w.ann_holds("A1").await;
    for _ in 0..3 {
        let resp = w.app.reserve(&w.ann_token, w.event.id, w.seat("A1")).await;
        assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    }
    let resp = w.app.reserve(&w.ann_token, w.event.id, w.seat("A2")).await;
    assert_error(&resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = resp.1["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(detail(&resp).starts_with("Too many reservation requests"), "{}", detail(&resp));
    assert_eq!(w.status_of("A2").await, SeatStatus::Available, "a refused request held nothing");
    let resp = w.app.reserve(&w.bob_token, w.event.id, w.seat("A2")).await;
    assert_eq!(resp.0, StatusCode::CREATED, "another account is not limited: {}", resp.2);
}

#[tokio::test]
async fn reserve_requests_are_limited_per_client_address() {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let w = World::with_env(&[("RESERVE_LIMIT_PER_ADDRESS_PER_MINUTE", "2")]).await;
    let from = |token: &str, label: &str, addr: SocketAddr| {
        let body = json!({"event_id": w.event.id, "seat_id": w.seat(label)});
        let mut request = crate::http::json_request(axum::http::Method::POST, RESERVE, Some(body), Some(token));
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    };
    let office = SocketAddr::from(([203, 0, 113, 20], 40000));
    assert_eq!(w.app.send(from(&w.ann_token, "A1", office)).await.0, StatusCode::CREATED);
    assert_eq!(w.app.send(from(&w.bob_token, "A2", office)).await.0, StatusCode::CREATED);
    let resp = w.app.send(from(&w.bob_token, "A3", office)).await;
    assert_error(&resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let home = SocketAddr::from(([198, 51, 100, 20], 40000));
    assert_eq!(w.app.send(from(&w.bob_token, "A3", home)).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn reserving_several_seats_answers_a_booking_with_its_total() {
    let w = World::new().await;
    let seats = [w.seat("A1"), w.seat("A2"), w.seat("B1")];
    let (status, _, body) = w.app.reserve_many(&w.ann_token, w.event.id, &seats).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let booking: Booking = parse(&body);
    assert_eq!((booking.user_id, booking.event_id, booking.status), (w.ann.id, w.event.id, ReservationStatus::Held));
    assert_eq!(booking.total_cents, 2 * tier_price("standard") + tier_price("vip"));
    assert_eq!(booking.currency, "EUR");
    let mut held: Vec<Uuid> = booking.reservations.iter().map(|r| r.seat_id).collect();
    held.sort();
    let mut wanted = seats.to_vec();
    wanted.sort();
    assert_eq!(held, wanted);
    for r in &booking.reservations {
        assert_eq!((r.booking_id, r.user_id, r.status), (booking.id, w.ann.id, ReservationStatus::Held));
    }
    for label in ["A1", "A2", "B1"] {
        assert_eq!(w.status_of(label).await, SeatStatus::Held, "{label}");
    }
}

#[tokio::test]
async fn reserve_with_a_bad_seat_selection_is_422() {
    let w = World::with_env(&[]).await;
    let big = w.app.venue_with_rows(&w.admin, &[("A", 12, "standard")]).await;
    let big_event = w.app.event(&w.admin, &big).await;
    let eleven: Vec<Uuid> = big.seats.iter().take(11).map(|s| s.id).collect();
    let a1 = w.seat("A1");
    let cases = [
        (json!({"event_id": w.event.id, "seat_id": a1, "seat_ids": [w.seat("A2")]}), w.event.id),
        (json!({"event_id": w.event.id}), w.event.id),
        (json!({"event_id": w.event.id, "seat_ids": []}), w.event.id),
        (json!({"event_id": w.event.id, "seat_ids": [a1, a1]}), w.event.id),
        (json!({"event_id": big_event.id, "seat_ids": eleven}), big_event.id),
    ];
    for (body, event_id) in cases {
        let resp = w.app.post(RESERVE, body.clone(), Some(&w.ann_token)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains("seat_id"), "{body}: {}", detail(&resp));
        assert!(w.app.seat_map(event_id).await.iter().all(|s| s.status == SeatStatus::Available), "{body}");
    }
    // Ten is the most, and allowed.
    let ten: Vec<Uuid> = big.seats.iter().take(10).map(|s| s.id).collect();
    let (status, _, body) = w.app.reserve_many(&w.ann_token, big_event.id, &ten).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn reserving_a_taken_seat_is_409_naming_the_seat() {
    let w = World::new().await;
    w.ann_holds("A1").await;
    let resp = w.app.reserve(&w.bob_token, w.event.id, w.seat("A1")).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(detail(&resp), "Row A · Seat 1 is no longer available.");
    // Not even its holder may hold it twice.
    let resp = w.app.reserve(&w.ann_token, w.event.id, w.seat("A1")).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
}

#[tokio::test]
async fn holding_past_max_held_seats_per_user_is_409_naming_the_limit() {
    let w = World::with_env(&[("MAX_HELD_SEATS_PER_USER", "3")]).await;
    let (status, _, body) = w.app.reserve_many(&w.ann_token, w.event.id, &[w.seat("A1"), w.seat("A2")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Two more would make four: refused whole, nothing held.
    let resp = w.app.reserve_many(&w.ann_token, w.event.id, &[w.seat("A3"), w.seat("A4")]).await;
    assert_error(&resp, StatusCode::CONFLICT, "hold_limit_reached");
    assert_eq!(detail(&resp), "You can hold at most 3 seats for this event at a time.");
    assert_eq!(w.status_of("A3").await, SeatStatus::Available);
    assert_eq!(w.status_of("A4").await, SeatStatus::Available);
    // One more is within the limit; then a single seat is refused the same way.
    w.ann_holds("A3").await;
    let resp = w.app.reserve(&w.ann_token, w.event.id, w.seat("A4")).await;
    assert_error(&resp, StatusCode::CONFLICT, "hold_limit_reached");
    assert!(detail(&resp).contains("at most 3 seats"), "{}", detail(&resp));
    // The limit is the caller's own: bob holds the seat ann could not.
    let (status, _, body) = w.app.reserve(&w.bob_token, w.event.id, w.seat("A4")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn multi_seat_reserve_with_one_taken_seat_holds_none() {
    let w = World::new().await;
    w.ann_holds("A2").await;
    let resp = w.app.reserve_many(&w.bob_token, w.event.id, &[w.seat("A1"), w.seat("A2"), w.seat("A3")]).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(detail(&resp), "Row A · Seat 2 is no longer available.");
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);
    assert_eq!(w.status_of("A2").await, SeatStatus::Held);
    assert_eq!(w.status_of("A3").await, SeatStatus::Available);
    let bobs =
        reservations(&w.app.get(&format!("/reservations/reservations/user/{}", w.bob.id), Some(&w.bob_token)).await);
    assert!(bobs.is_empty(), "{bobs:?}");
}

#[tokio::test]
async fn reserving_for_an_unknown_event_is_404() {
    let w = World::new().await;
    let resp = w.app.reserve(&w.ann_token, Uuid::new_v4(), w.seat("A1")).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn reserving_a_seat_of_another_venue_is_422() {
    let w = World::new().await;
    let other = w.app.venue_with_rows(&w.admin, &[("Z", 2, "standard")]).await;
    let resp = w.app.reserve(&w.ann_token, w.event.id, seat(&other, "Z1")).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let resp = w.app.reserve(&w.ann_token, w.event.id, Uuid::new_v4()).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let resp = w.app.reserve_many(&w.ann_token, w.event.id, &[w.seat("A1"), seat(&other, "Z1")]).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);
}

#[tokio::test]
async fn reserving_for_a_canceled_event_is_422() {
    let w = World::new().await;
    let (status, _, _) = w.app.delete(&format!("/events/events/{}", w.event.id), Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK);
    let resp = w.app.reserve(&w.ann_token, w.event.id, w.seat("A1")).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn reserving_for_an_event_that_started_is_422() {
    let w = World::new().await;
    let changes = EventChanges { start_time: Some(Utc::now() - Duration::minutes(5)), ..Default::default() };
    assert!(w.app.state.store.update_event(w.event.id, changes).await.unwrap().is_some());
    let resp = w.app.reserve(&w.ann_token, w.event.id, w.seat("A1")).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn reserving_anonymously_is_401() {
    let w = World::new().await;
    let resp = w.app.post(RESERVE, json!({"event_id": w.event.id, "seat_id": w.seat("A1")}), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);
}

// ---------------------------------------------------------------------------------------------
// Listings

#[tokio::test]
async fn user_reservations_are_for_self_or_admin_newest_first() {
    let w = World::new().await;
    let first = w.ann_holds("A1").await;
    tokio::time::sleep(StdDuration::from_millis(5)).await;
    let second = w.ann_holds("A2").await;
    let path = format!("/reservations/reservations/user/{}", w.ann.id);

    let own = reservations(&w.app.get(&path, Some(&w.ann_token)).await);
    assert_eq!(ids(&own), vec![second.id, first.id]);

    let resp = w.app.get(&path, Some(&w.bob_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");

    let seen_by_admin = reservations(&w.app.get(&path, Some(&w.admin)).await);
    assert_eq!(ids(&seen_by_admin), vec![second.id, first.id]);

    let resp = w.app.get(&path, None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn user_reservations_filter_by_status_and_include_canceled_ones() {
    let w = World::new().await;
    let kept = w.ann_holds("A1").await;
    let dropped = w.ann_holds("A2").await;
    let (status, _, _) = w.app.delete(&format!("/reservations/reservations/{}", dropped.id), Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/reservations/reservations/user/{}", w.ann.id);
    assert_eq!(ids(&reservations(&w.app.get(&format!("{path}?status=held"), Some(&w.ann_token)).await)), vec![kept.id]);
    assert_eq!(
        ids(&reservations(&w.app.get(&format!("{path}?status=canceled"), Some(&w.ann_token)).await)),
        vec![dropped.id]
    );
    assert_eq!(reservations(&w.app.get(&path, Some(&w.ann_token)).await).len(), 2);
}

#[tokio::test]
async fn event_reservations_are_admin_only() {
    let w = World::new().await;
    let ann = w.ann_holds("A1").await;
    let (status, _, body) = w.app.reserve(&w.bob_token, w.event.id, w.seat("A2")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bob: Reservation = parse(&body);
    let path = format!("/reservations/reservations/event/{}", w.event.id);

    let resp = w.app.get(&path, Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = w.app.get(&path, None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");

    let mut all = ids(&reservations(&w.app.get(&path, Some(&w.admin)).await));
    all.sort();
    let mut wanted = vec![ann.id, bob.id];
    wanted.sort();
    assert_eq!(all, wanted);
    let canceled = reservations(&w.app.get(&format!("{path}?status=canceled"), Some(&w.admin)).await);
    assert!(canceled.is_empty(), "{canceled:?}");
}

#[tokio::test]
async fn oversight_listing_is_admin_only_and_filters() {
    let w = World::new().await;
    let other_event = w.app.event(&w.admin, &w.venue).await;
    let ann_here = w.ann_holds("A1").await;
    let (_, _, body) = w.app.reserve(&w.ann_token, other_event.id, w.seat("A1")).await;
    let ann_there: Reservation = parse(&body);
    let (_, _, body) = w.app.reserve(&w.bob_token, w.event.id, w.seat("A2")).await;
    let bob_here: Reservation = parse(&body);
    let (status, _, _) = w.app.delete(&format!("/reservations/reservations/{}", bob_here.id), Some(&w.bob_token)).await;
    assert_eq!(status, StatusCode::OK);

    let resp = w.app.get("/reservations/reservations", Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");

    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    let get = |query: String| {
        let app = &w.app;
        let admin = w.admin.clone();
        async move {
            sorted(ids(&reservations(&app.get(&format!("/reservations/reservations{query}"), Some(&admin)).await)))
        }
    };
    assert_eq!(get(String::new()).await, sorted(vec![ann_here.id, ann_there.id, bob_here.id]));
    assert_eq!(get(format!("?event_id={}", w.event.id)).await, sorted(vec![ann_here.id, bob_here.id]));
    assert_eq!(get(format!("?user_id={}", w.ann.id)).await, sorted(vec![ann_here.id, ann_there.id]));
    assert_eq!(get("?status=canceled".into()).await, vec![bob_here.id]);
    assert_eq!(get(format!("?event_id={}&user_id={}&status=held", w.event.id, w.ann.id)).await, vec![ann_here.id]);
    assert_eq!(get("?limit=1".into()).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// One reservation

#[tokio::test]
async fn get_reservation_is_for_its_owner_or_admin() {
    let w = World::new().await;
    let r = w.ann_holds("A1").await;
    let path = format!("/reservations/reservations/{}", r.id);
    let (status, _, body) = w.app.get(&path, Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Reservation>(&body), r);
    let resp = w.app.get(&path, Some(&w.bob_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (status, _, body) = w.app.get(&path, Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Reservation>(&body), r);
    let resp = w.app.get(&format!("/reservations/reservations/{}", Uuid::new_v4()), Some(&w.admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn delete_reservation_is_for_its_owner_or_admin() {
    let w = World::new().await;
    let anns = w.ann_holds("A1").await;
    let resp = w.app.delete(&format!("/reservations/reservations/{}", anns.id), Some(&w.bob_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(w.status_of("A1").await, SeatStatus::Held);

    let (status, _, body) = w.app.delete(&format!("/reservations/reservations/{}", anns.id), Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse::<Reservation>(&body).status, ReservationStatus::Canceled);

    let resp = w.app.delete(&format!("/reservations/reservations/{}", Uuid::new_v4()), Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn canceling_a_hold_frees_its_seat_at_once() {
    let w = World::new().await;
    let r = w.ann_holds("A1").await;
    let (status, _, body) = w.app.delete(&format!("/reservations/reservations/{}", r.id), Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let canceled: Reservation = parse(&body);
    assert_eq!((canceled.id, canceled.status), (r.id, ReservationStatus::Canceled));
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);
    let (status, _, body) = w.app.reserve(&w.bob_token, w.event.id, w.seat("A1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn canceling_twice_is_409_invalid_state() {
    let w = World::new().await;
    let r = w.ann_holds("A1").await;
    let path = format!("/reservations/reservations/{}", r.id);
    let (status, _, _) = w.app.delete(&path, Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK);
    let resp = w.app.delete(&path, Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
}

// ---------------------------------------------------------------------------------------------
// Bookings

#[tokio::test]
async fn get_booking_is_for_its_owner_or_admin() {
    let w = World::new().await;
    let (status, _, body) = w.app.reserve_many(&w.ann_token, w.event.id, &[w.seat("A1"), w.seat("A2")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let booking: Booking = parse(&body);
    let path = format!("/reservations/bookings/{}", booking.id);
    let (status, _, body) = w.app.get(&path, Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Booking>(&body), booking);
    let resp = w.app.get(&path, Some(&w.bob_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (status, _, body) = w.app.get(&path, Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Booking>(&body), booking);
    let resp = w.app.get(&format!("/reservations/bookings/{}", Uuid::new_v4()), Some(&w.admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn delete_booking_cancels_every_seat_for_owner_or_admin() {
    let w = World::new().await;
    let (_, _, body) = w.app.reserve_many(&w.ann_token, w.event.id, &[w.seat("A1"), w.seat("B1")]).await;
    let booking: Booking = parse(&body);
    let path = format!("/reservations/bookings/{}", booking.id);

    let resp = w.app.delete(&path, Some(&w.bob_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(w.status_of("A1").await, SeatStatus::Held);

    let (status, _, body) = w.app.delete(&path, Some(&w.ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let canceled: Booking = parse(&body);
    assert_eq!(canceled.status, ReservationStatus::Canceled);
    assert!(canceled.reservations.iter().all(|r| r.status == ReservationStatus::Canceled), "{body}");
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);
    assert_eq!(w.status_of("B1").await, SeatStatus::Available);

    let resp = w.app.delete(&path, Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");

    // An admin may cancel anyone's booking.
    let (_, _, body) = w.app.reserve_many(&w.bob_token, w.event.id, &[w.seat("A3"), w.seat("A4")]).await;
    let bobs: Booking = parse(&body);
    let (status, _, body) = w.app.delete(&format!("/reservations/bookings/{}", bobs.id), Some(&w.admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp = w.app.delete(&format!("/reservations/bookings/{}", Uuid::new_v4()), Some(&w.admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

// ---------------------------------------------------------------------------------------------
// Lapsed holds

#[tokio::test]
async fn lapsed_hold_reads_expired_and_frees_the_seat_without_a_sweeper() {
    let w = World::with_env(&[("HOLD_TTL_SECONDS", "1")]).await;
    let r = w.ann_holds("A1").await;
    assert_eq!(w.status_of("A1").await, SeatStatus::Held);
    tokio::time::sleep(StdDuration::from_millis(1200)).await;

    let (_, _, body) = w.app.get(&format!("/reservations/reservations/{}", r.id), Some(&w.ann_token)).await;
    assert_eq!(parse::<Reservation>(&body).status, ReservationStatus::Expired);
    let (_, _, body) = w.app.get(&format!("/reservations/bookings/{}", r.booking_id), Some(&w.ann_token)).await;
    assert_eq!(parse::<Booking>(&body).status, ReservationStatus::Expired);
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);

    let (status, _, body) = w.app.reserve(&w.bob_token, w.event.id, w.seat("A1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(parse::<Reservation>(&body).user_id, w.bob.id);
    // The lapsed hold stays expired, and canceling it is refused.
    let resp = w.app.delete(&format!("/reservations/reservations/{}", r.id), Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
}

#[tokio::test]
async fn lapsed_hold_is_listed_as_expired_and_its_seat_counts_as_available() {
    let w = World::with_env(&[("HOLD_TTL_SECONDS", "1")]).await;
    let r = w.ann_holds("A1").await;
    tokio::time::sleep(StdDuration::from_millis(1200)).await;

    let path = format!("/reservations/reservations/user/{}", w.ann.id);
    let listed = reservations(&w.app.get(&path, Some(&w.ann_token)).await);
    assert_eq!(ids(&listed), vec![r.id]);
    assert_eq!(listed[0].status, ReservationStatus::Expired);
    let expired = reservations(&w.app.get(&format!("{path}?status=expired"), Some(&w.ann_token)).await);
    assert_eq!(ids(&expired), vec![r.id]);
    let held = reservations(&w.app.get(&format!("{path}?status=held"), Some(&w.ann_token)).await);
    assert!(held.is_empty(), "a lapsed hold is listed as held: {held:?}");

    let (_, _, body) = w.app.get(&format!("/events/events/{}", w.event.id), None).await;
    let event: Event = parse(&body);
    assert_eq!(event.seats_available, event.seats_total);
}
