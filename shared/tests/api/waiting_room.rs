//! The waiting room of issue 20 through the API: an event's opening (`on_sale_at`) and queue
//! settings on create, PATCH and read, a reserve before the opening answered 409 `not_on_sale`
//! with the opening in the body, and the queue itself: join, poll, admission, and the reserve
//! that needs it (403 `queue_required` without, with a foreign or an expired admission token).

use crate::http::{TestApp, assert_error, parse, rfc3339, seat};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use proeventa_core::domain::{Event, QueueSettings};
use serde_json::json;

const RESERVE: &str = "/reservations/reservations/reserve";

fn settings(enabled: bool) -> QueueSettings {
    QueueSettings { enabled, admit_per_minute: 60, max_active_buyers: 100, session_minutes: 10 }
}

#[tokio::test]
async fn an_event_carries_its_opening_and_queue_through_create_patch_and_read() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let plain = app.event(&admin, &venue).await;
    assert_eq!((plain.on_sale_at, plain.queue), (None, None), "absent: on sale at once, no queue");

    let opens: DateTime<Utc> = rfc3339(Utc::now() + Duration::days(1)).parse().expect("a time");
    let queue = json!({"enabled": true, "admit_per_minute": 60, "max_active_buyers": 100, "session_minutes": 10});
    let event = app.event_with(&admin, &venue, json!({"on_sale_at": rfc3339(opens), "queue": queue})).await;
    assert_eq!((event.on_sale_at, event.queue), (Some(opens), Some(settings(true))));
    let read: Event = parse(&app.get(&format!("/events/events/{}", event.id), None).await.2);
    assert_eq!((read.on_sale_at, read.queue), (Some(opens), Some(settings(true))));

    let path = format!("/events/events/{}", event.id);
    let resp = app.patch(&path, json!({"name": "Renamed"}), Some(&admin)).await;
    let kept: Event = parse(&resp.2);
    assert_eq!((kept.on_sale_at, kept.queue), (Some(opens), Some(settings(true))), "absent fields are kept");

    let off = json!({"enabled": false, "admit_per_minute": 60, "max_active_buyers": 100, "session_minutes": 10});
    let resp = app.patch(&path, json!({"queue": off}), Some(&admin)).await;
    assert_eq!(parse::<Event>(&resp.2).queue, Some(settings(false)));
    let resp = app.patch(&path, json!({"on_sale_at": null, "queue": null}), Some(&admin)).await;
    let cleared: Event = parse(&resp.2);
    assert_eq!((cleared.on_sale_at, cleared.queue), (None, None), "null clears");
}

#[tokio::test]
async fn an_opening_after_the_start_or_a_queue_setting_out_of_range_is_refused() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let start = Utc::now() + Duration::days(30);
    let late = app
        .post(
            "/events/events",
            crate::http::event_body(&venue, json!({"on_sale_at": rfc3339(start + Duration::hours(1))})),
            Some(&admin),
        )
        .await;
    assert_error(&late, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(late.2["detail"].as_str().is_some_and(|d| d.contains("on_sale_at")), "{}", late.2);

    let zero = json!({"enabled": true, "admit_per_minute": 0, "max_active_buyers": 100, "session_minutes": 10});
    let resp = app.post("/events/events", crate::http::event_body(&venue, json!({"queue": zero})), Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(resp.2["detail"].as_str().is_some_and(|d| d.contains("queue.admit_per_minute")), "{}", resp.2);

    // A PATCH is judged against the start the event keeps.
    let event = app.event(&admin, &venue).await;
    let after_start = rfc3339(event.start_time + Duration::minutes(1));
    let resp =
        app.patch(&format!("/events/events/{}", event.id), json!({"on_sale_at": after_start}), Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn a_reserve_before_the_opening_is_409_not_on_sale_with_the_opening() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let opens: DateTime<Utc> = rfc3339(Utc::now() + Duration::hours(2)).parse().expect("a time");
    let event = app.event_with(&admin, &venue, json!({"on_sale_at": rfc3339(opens)})).await;

    let resp = app.reserve(&ann, event.id, seat(&venue, "A1")).await;
    let (status, _, body) = &resp;
    assert_eq!((*status, body["error"].as_str()), (StatusCode::CONFLICT, Some("not_on_sale")), "{body}");
    assert_eq!(body["on_sale_at"], rfc3339(opens), "{body}");
    let detail = body["detail"].as_str().unwrap_or("");
    assert!(detail.starts_with("Tickets for this event go on sale at "), "a sentence for a person: {detail}");

    // The opening moved into the past: the same request, with the same Idempotency-Key, now holds.
    let path = format!("/events/events/{}", event.id);
    let resp = app.patch(&path, json!({"on_sale_at": rfc3339(Utc::now() - Duration::minutes(1))}), Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let request = || {
        let body = json!({"event_id": event.id, "seat_id": seat(&venue, "A1")});
        let mut request = crate::http::json_request(axum::http::Method::POST, RESERVE, Some(body), Some(&ann));
        request.headers_mut().insert("idempotency-key", "opening-1".parse().expect("a header value"));
        request
    };
    let resp = app.patch(&path, json!({"on_sale_at": rfc3339(opens)}), Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let early = app.send(request()).await;
    assert_eq!(early.2["error"], "not_on_sale", "{}", early.2);
    let resp = app.patch(&path, json!({"on_sale_at": null}), Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let open = app.send(request()).await;
    assert_eq!(open.0, StatusCode::CREATED, "a not_on_sale answer is not replayed: {}", open.2);
}

fn reserve_with_admission(
    token: &str,
    event_id: uuid::Uuid,
    seat_id: uuid::Uuid,
    admission: Option<&str>,
) -> axum::http::Request<axum::body::Body> {
    let body = json!({"event_id": event_id, "seat_id": seat_id});
    let mut request = crate::http::json_request(axum::http::Method::POST, RESERVE, Some(body), Some(token));
    if let Some(admission) = admission {
        request.headers_mut().insert("x-admission-token", admission.parse().expect("a header value"));
    }
    request
}

fn poll(event_id: uuid::Uuid, queue_token: &str, etag: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let path = format!("/queue/events/{event_id}/status");
    let mut request = crate::http::json_request(axum::http::Method::GET, &path, None, None);
    request.headers_mut().insert("x-queue-token", queue_token.parse().expect("a header value"));
    if let Some(etag) = etag {
        request.headers_mut().insert("if-none-match", etag.parse().expect("a header value"));
    }
    request
}

#[tokio::test]
async fn a_buyer_joins_the_queue_polls_is_admitted_and_holds_with_the_admission_only() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (ann_user, ann) = app.customer("ann@example.com").await;
    let (_, bob) = app.customer("bob@example.com").await;
    let venue = app.small_venue(&admin).await;
    let queue = json!({"enabled": true, "admit_per_minute": 60, "max_active_buyers": 1, "session_minutes": 10});
    let event = app.event_with(&admin, &venue, json!({"queue": queue})).await;
    let join = format!("/queue/events/{}/join", event.id);

    // Without an admission, the store refuses the hold of an event behind its waiting room, and
    // the Idempotency-Key is not spent on that answer.
    let resp = app.send(reserve_with_admission(&ann, event.id, seat(&venue, "A1"), None)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "queue_required");
    assert!(crate::http::detail(&resp).contains("X-Admission-Token"), "{}", resp.2);

    // Joining twice is one place; the event is on sale already, so places are in arrival order.
    let first = app.post(&join, json!({}), Some(&ann)).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    assert_eq!(first.2["position"], 1, "{}", first.2);
    let again = app.post(&join, json!({}), Some(&ann)).await;
    assert_eq!(again.2["position"], 1, "the same place: {}", again.2);
    let bobs = app.post(&join, json!({}), Some(&bob)).await;
    assert_eq!(bobs.2["position"], 2, "{}", bobs.2);
    let ann_ticket = first.2["queue_token"].as_str().expect("a queue token").to_owned();
    let bob_ticket = bobs.2["queue_token"].as_str().expect("a queue token").to_owned();

    // Before the pace lets anyone through: a place, what is ahead, no admission. A poll that
    // names the status it has is answered 304.
    let waiting = app.send(poll(event.id, &bob_ticket, None)).await;
    assert_eq!(waiting.0, StatusCode::OK, "{}", waiting.2);
    assert_eq!((waiting.2["position"].as_u64(), waiting.2["ahead"].as_u64()), (Some(2), Some(1)), "{}", waiting.2);
    assert!(waiting.2["admission_token"].is_null(), "{}", waiting.2);
    assert!(waiting.2["estimated_wait_seconds"].as_u64().is_some_and(|s| s >= 1), "{}", waiting.2);
    let etag = waiting.1.get("etag").and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
    assert_eq!(waiting.1.get("cache-control").and_then(|v| v.to_str().ok()), Some("private, max-age=1"));
    let (status, _, _) = app.send_raw(poll(event.id, &bob_ticket, Some(&etag))).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // The pace lets one through (at most one active buyer): ann, first in line.
    let admitted = app.state.store.advance_queue(event.id, Utc::now() + Duration::seconds(5)).await.expect("a pace");
    assert_eq!(admitted, 1);
    // As `serve`'s pace does after letting buyers through: this process's polls see it at once.
    app.state.queue_polls.forget_frontiers();
    let ann_status = app.send(poll(event.id, &ann_ticket, None)).await;
    let admission = ann_status.2["admission_token"].as_str().expect("ann is admitted").to_owned();
    assert_eq!(ann_status.2["estimated_wait_seconds"], 0, "{}", ann_status.2);
    assert!(ann_status.2["session_ends_at"].is_string(), "{}", ann_status.2);
    let bob_status = app.send(poll(event.id, &bob_ticket, None)).await;
    assert!(bob_status.2["admission_token"].is_null(), "bob waits: at most one active buyer: {}", bob_status.2);
    assert_eq!(bob_status.2["ahead"], 0, "{}", bob_status.2);

    // Ann's admission is hers, for this event: bob cannot hold with it.
    let foreign = app.send(reserve_with_admission(&bob, event.id, seat(&venue, "A2"), Some(&admission))).await;
    assert_error(&foreign, StatusCode::FORBIDDEN, "queue_required");
    let held = app.send(reserve_with_admission(&ann, event.id, seat(&venue, "A1"), Some(&admission))).await;
    assert_eq!(held.0, StatusCode::CREATED, "{}", held.2);

    // Paying, with the admission sent along, ends ann's session: the slot is bob's at the next turn.
    let resp = app.post("/payments/checkout", json!({"booking_id": held.2["booking_id"]}), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let card = json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2040, "cvc": "123"});
    let path = format!("/payments/{}/confirm", resp.2["id"].as_str().expect("a payment id"));
    let mut confirm = crate::http::json_request(axum::http::Method::POST, &path, Some(card), Some(&ann));
    confirm.headers_mut().insert("x-admission-token", admission.parse().expect("a header value"));
    let paid = app.send(confirm).await;
    assert_eq!(paid.0, StatusCode::OK, "{}", paid.2);
    let done = app.send(poll(event.id, &ann_ticket, None)).await;
    assert!(done.2["admission_token"].is_null(), "the sale ended her session: {}", done.2);
    let admitted = app.state.store.advance_queue(event.id, Utc::now() + Duration::seconds(10)).await.expect("a pace");
    assert_eq!(admitted, 1, "bob takes the freed slot");
    app.state.queue_polls.forget_frontiers();
    let bob_admitted = app.send(poll(event.id, &bob_ticket, None)).await;
    assert!(bob_admitted.2["admission_token"].is_string(), "{}", bob_admitted.2);

    // The organiser sees it: two joined, both let through, bob the one active buyer.
    let stats = app.get(&format!("/queue/events/{}/stats", event.id), Some(&admin)).await;
    assert_eq!(stats.2, json!({"joined": 2, "let_through": 2, "waiting": 0, "active": 1}));
    assert_error(
        &app.get(&format!("/queue/events/{}/stats", event.id), Some(&ann)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // An expired admission (signed by the same keys, past its end) holds nothing.
    let expired = app.state.queue_tokens.admission(event.id, ann_user.id, Utc::now() - Duration::seconds(1));
    let late = app.send(reserve_with_admission(&ann, event.id, seat(&venue, "A3"), Some(&expired))).await;
    assert_error(&late, StatusCode::FORBIDDEN, "queue_required");

    // A poll needs the ticket of this event's queue: none, garbage or another event's is refused.
    let no_ticket = app.get(&format!("/queue/events/{}/status", event.id), None).await;
    assert_error(&no_ticket, StatusCode::FORBIDDEN, "queue_required");
    let refused = app.send(poll(event.id, "garbage", None)).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "queue_required");
    let other = app.event_with(&admin, &venue, json!({"queue": queue})).await;
    let misplaced = app.send(poll(other.id, &ann_ticket, None)).await;
    assert_error(&misplaced, StatusCode::FORBIDDEN, "queue_required");

    // Switching the queue off lets holds through with no admission at all.
    let resp = app.patch(&format!("/events/events/{}", event.id), json!({"queue": null}), Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let free = app.send(reserve_with_admission(&bob, event.id, seat(&venue, "A2"), None)).await;
    assert_eq!(free.0, StatusCode::CREATED, "{}", free.2);
}

#[tokio::test]
async fn a_waiting_buyer_sees_an_admission_made_by_another_process_within_a_second() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let queue = json!({"enabled": true, "admit_per_minute": 60, "max_active_buyers": 5, "session_minutes": 10});
    let event = app.event_with(&admin, &venue, json!({"queue": queue})).await;
    let joined = app.post(&format!("/queue/events/{}/join", event.id), json!({}), Some(&ann)).await;
    let ticket = joined.2["queue_token"].as_str().expect("a queue token").to_owned();
    let waiting = app.send(poll(event.id, &ticket, None)).await;
    assert!(waiting.2["admission_token"].is_null() && waiting.2["ahead"] == 0, "{}", waiting.2);

    // Another process (job-expire-holds on Lambda, another server) lets her through: this one's
    // polls may answer what they remember of her waiting place for a second, never longer.
    let admitted = app.state.store.advance_queue(event.id, Utc::now() + Duration::seconds(5)).await.expect("a pace");
    assert_eq!(admitted, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let status = app.send(poll(event.id, &ticket, None)).await;
    assert!(status.2["admission_token"].is_string(), "admitted a second on: {}", status.2);
}

#[tokio::test]
async fn joining_needs_an_account_and_an_event_with_its_waiting_room_on() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let plain = app.event(&admin, &venue).await;
    let join = |id: uuid::Uuid| format!("/queue/events/{id}/join");
    assert_error(&app.post(&join(plain.id), json!({}), None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_error(&app.post(&join(plain.id), json!({}), Some(&ann)).await, StatusCode::CONFLICT, "invalid_state");
    let missing = app.post(&join(uuid::Uuid::new_v4()), json!({}), Some(&ann)).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let bad = app.post("/queue/events/not-a-uuid/join", json!({}), Some(&ann)).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_request");

    // Before the opening a joiner has no position yet: it is drawn at the opening.
    let opens = rfc3339(Utc::now() + Duration::hours(1));
    let queue = json!({"enabled": true, "admit_per_minute": 120, "max_active_buyers": 10, "session_minutes": 10});
    let early = app.event_with(&admin, &venue, json!({"on_sale_at": opens, "queue": queue})).await;
    let joined = app.post(&join(early.id), json!({}), Some(&ann)).await;
    assert_eq!(joined.0, StatusCode::OK, "{}", joined.2);
    assert!(joined.2["position"].is_null(), "{}", joined.2);
    let status = app.send(poll(early.id, joined.2["queue_token"].as_str().expect("a ticket"), None)).await;
    assert!(status.2["position"].is_null() && status.2["ahead"].is_null(), "{}", status.2);
    assert!(
        status.2["estimated_wait_seconds"].as_u64().is_some_and(|s| s > 3000),
        "at least the hour until the opening: {}",
        status.2
    );
}
