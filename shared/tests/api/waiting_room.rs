//! The waiting room of issue 20 through the API: an event's opening (`on_sale_at`) and queue
//! settings on create, PATCH and read, and a reserve before the opening answered 409
//! `not_on_sale` with the opening in the body.

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
