//! Proves `Idempotency-Key` on `POST /reservations/reservations/reserve`: a retry with the same
//! key, user and body replays the first answer (success or client error) and changes nothing; the
//! same key with another body is refused; keys are per user; malformed keys are 400.

use crate::http::{self, Resp, TestApp, assert_error, json_request, seat};
use axum::http::{Method, StatusCode};
use proeventa_core::domain::{Event, Reservation, SeatStatus, User, VenueWithSeats};
use serde_json::{Value, json};

const RESERVE: &str = "/reservations/reservations/reserve";
const REPLAYED: &str = "idempotent-replayed";

struct World {
    app: TestApp,
    ann: User,
    ann_token: String,
    bob_token: String,
    venue: VenueWithSeats,
    event: Event,
}

impl World {
    async fn new() -> Self {
        let app = TestApp::new().await;
        let admin = app.admin().await;
        let (ann, ann_token) = app.customer("ann@example.com").await;
        let (_, bob_token) = app.customer("bob@example.com").await;
        let venue = app.small_venue(&admin).await;
        let event = app.event(&admin, &venue).await;
        Self { app, ann, ann_token, bob_token, venue, event }
    }

    fn body(&self, label: &str) -> Value {
        json!({"event_id": self.event.id, "seat_id": seat(&self.venue, label)})
    }

    async fn reserve_with_key(&self, token: &str, key: &str, body: Value) -> Resp {
        let mut request = json_request(Method::POST, RESERVE, Some(body), Some(token));
        request.headers_mut().insert("idempotency-key", key.parse().unwrap());
        self.app.send(request).await
    }

    async fn reservations_of_ann(&self) -> Vec<Reservation> {
        let (status, _, body) =
            self.app.get(&format!("/reservations/reservations/user/{}", self.ann.id), Some(&self.ann_token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        http::parse(&body)
    }
}

fn replayed(resp: &Resp) -> bool {
    resp.1.get(REPLAYED).is_some_and(|v| v == "true")
}

#[tokio::test]
async fn same_key_and_body_replays_the_first_answer_and_reserves_once() {
    let w = World::new().await;
    let first = w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    assert!(!replayed(&first), "the first answer is not a replay");
    let again = w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    assert_eq!(again.0, StatusCode::CREATED, "{}", again.2);
    assert_eq!(again.2, first.2);
    let held = w.reservations_of_ann().await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].id, http::parse::<Reservation>(&first.2).id);
}

#[tokio::test]
async fn replayed_answer_carries_idempotent_replayed_true() {
    let w = World::new().await;
    w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    let again = w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    assert!(replayed(&again), "{:?}", again.1);
}

#[tokio::test]
async fn same_key_with_another_body_is_422() {
    let w = World::new().await;
    let first = w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    assert_eq!(first.0, StatusCode::CREATED);
    let other = w.reserve_with_key(&w.ann_token, "order-1", w.body("A2")).await;
    assert_error(&other, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(w.app.seat_status(w.event.id, seat(&w.venue, "A2")).await, SeatStatus::Available);
    assert_eq!(w.reservations_of_ann().await.len(), 1);
}

#[tokio::test]
async fn key_that_first_answered_409_replays_409() {
    let w = World::new().await;
    let (status, _, body) = w.app.reserve(&w.bob_token, w.event.id, seat(&w.venue, "A1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bobs: Reservation = http::parse(&body);

    let first = w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    assert_error(&first, StatusCode::CONFLICT, "seat_unavailable");

    // The seat frees up, but the retry still gets the first answer and holds nothing.
    let (status, _, _) = w.app.delete(&format!("/reservations/reservations/{}", bobs.id), Some(&w.bob_token)).await;
    assert_eq!(status, StatusCode::OK);
    let again = w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    assert_error(&again, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(again.2, first.2);
    assert!(replayed(&again), "{:?}", again.1);
    assert_eq!(w.app.seat_status(w.event.id, seat(&w.venue, "A1")).await, SeatStatus::Available);
    assert!(w.reservations_of_ann().await.is_empty());
}

#[tokio::test]
async fn different_users_use_the_same_key_independently() {
    let w = World::new().await;
    let anns = w.reserve_with_key(&w.ann_token, "order-1", w.body("A1")).await;
    assert_eq!(anns.0, StatusCode::CREATED, "{}", anns.2);
    let bobs = w.reserve_with_key(&w.bob_token, "order-1", w.body("A2")).await;
    assert_eq!(bobs.0, StatusCode::CREATED, "{}", bobs.2);
    assert!(!replayed(&bobs));
    assert_ne!(bobs.2["id"], anns.2["id"]);
    // Even with the very same body, Bob's request is his own, not a replay of Ann's.
    let bob_same = w.reserve_with_key(&w.bob_token, "order-2", w.body("A3")).await;
    let ann_same = w.reserve_with_key(&w.ann_token, "order-2", w.body("A3")).await;
    assert_eq!(bob_same.0, StatusCode::CREATED, "{}", bob_same.2);
    assert_error(&ann_same, StatusCode::CONFLICT, "seat_unavailable");
    assert!(!replayed(&ann_same));
}

#[tokio::test]
async fn invalid_idempotency_key_is_400_invalid_request() {
    let w = World::new().await;
    let too_long = "k".repeat(256);
    let resp = w.reserve_with_key(&w.ann_token, &too_long, w.body("A1")).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");
    let resp = w.reserve_with_key(&w.ann_token, "", w.body("A1")).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(w.app.seat_status(w.event.id, seat(&w.venue, "A1")).await, SeatStatus::Available);
    // 255 characters is the most, and fine.
    let resp = w.reserve_with_key(&w.ann_token, &"k".repeat(255), w.body("A1")).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
}

#[tokio::test]
async fn request_without_a_key_is_not_deduplicated() {
    let w = World::new().await;
    let (status, headers, _) = w.app.reserve(&w.ann_token, w.event.id, seat(&w.venue, "A1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(headers.get(REPLAYED).is_none());
    let resp = w.app.reserve(&w.ann_token, w.event.id, seat(&w.venue, "A1")).await;
    assert_error(&resp, StatusCode::CONFLICT, "seat_unavailable");
}

/// API.md: "Mutating POSTs accept an optional Idempotency-Key header"; the catalog's POSTs are
/// mutating POSTs of an authenticated user, so a retried venue creation must not make a second venue.
#[tokio::test]
async fn venue_creation_with_the_same_key_creates_one_venue() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let body = json!({"name": "Retry Hall", "kind": "hall", "rows": [{"row": "A", "seats": 2}]});
    let mut answers = Vec::new();
    for _ in 0..2 {
        let mut request = json_request(Method::POST, "/events/venues", Some(body.clone()), Some(&admin));
        request.headers_mut().insert("idempotency-key", "venue-1".parse().unwrap());
        answers.push(app.send(request).await);
    }
    assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].2);
    assert_eq!((answers[1].0, &answers[1].2), (answers[0].0, &answers[0].2));
    let (_, _, venues) = app.get("/events/venues", None).await;
    assert_eq!(venues.as_array().map(Vec::len), Some(1), "{venues}");
}

/// The same rule for `POST /events/events`: a retried event creation must not make a second event.
#[tokio::test]
async fn event_creation_with_the_same_key_creates_one_event() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let body = http::event_body(&venue, json!({}));
    let mut answers = Vec::new();
    for _ in 0..2 {
        let mut request = json_request(Method::POST, "/events/events", Some(body.clone()), Some(&admin));
        request.headers_mut().insert("idempotency-key", "event-1".parse().unwrap());
        answers.push(app.send(request).await);
    }
    assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].2);
    assert_eq!((answers[1].0, &answers[1].2), (answers[0].0, &answers[0].2));
    let (_, _, events) = app.get("/events/events?include_past=true", None).await;
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
}
