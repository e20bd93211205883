//! `/admin/audit`: the audit log, for admins. An admin's changes through the API each show as one
//! entry with the admin, the entity and the changed fields; a refused change (404, 409, 422) shows
//! none; filters and paging; bad filters are 400/422. Access for every caller is in `authz_matrix`.

use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::{TestApp, assert_error};

fn entries(body: &Value) -> &Vec<Value> {
    body.as_array().unwrap_or_else(|| panic!("a list: {body}"))
}

fn actions(body: &Value) -> Vec<&str> {
    entries(body).iter().map(|e| e["action"].as_str().expect("an action")).collect()
}

#[tokio::test]
async fn an_admins_changes_are_listed_newest_first_with_who_what_and_the_changed_fields() {
    let app = TestApp::new().await;
    let (admin, token) = app.admin_user().await;
    let venue = app.small_venue(&token).await;
    let event = app.event(&token, &venue).await;
    let path = format!("/events/events/{}", event.id);
    let (status, _, body) = app.patch(&path, json!({"name": "Renamed concert"}), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (customer, _) = app.customer("ann@example.com").await;
    let (status, _, body) =
        app.patch(&format!("/auth/users/{}", customer.id), json!({"role": "staff"}), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = app.delete(&path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, body) = app.get("/admin/audit", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(actions(&body), ["event.canceled", "user.updated", "event.updated", "event.created", "venue.created"]);
    for entry in entries(&body) {
        assert_eq!((&entry["actor_id"], &entry["actor_email"]), (&json!(admin.id), &json!("admin@example.com")));
        let keys: Vec<&str> = entry.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["action", "actor_email", "actor_id", "after", "at", "before", "entity_id", "entity_kind", "id"]
        );
    }
    let renamed = &entries(&body)[2];
    assert_eq!((&renamed["entity_kind"], &renamed["entity_id"]), (&json!("event"), &json!(event.id)));
    assert_eq!(
        (&renamed["before"], &renamed["after"]),
        (&json!({"name": event.name}), &json!({"name": "Renamed concert"}))
    );
    assert_eq!(entries(&body)[4]["before"], Value::Null, "a creation has no before");

    let (_, _, of_event) = app.get(&format!("/admin/audit?entity=event:{}", event.id), Some(&token)).await;
    assert_eq!(actions(&of_event), ["event.canceled", "event.updated", "event.created"]);
    let (_, _, users) = app.get("/admin/audit?entity=user", Some(&token)).await;
    assert_eq!(actions(&users), ["user.updated"]);
    assert_eq!(entries(&users)[0]["after"], json!({"role": "staff"}));
    let (_, _, by_admin) = app.get(&format!("/admin/audit?actor={}&limit=2&offset=1", admin.id), Some(&token)).await;
    assert_eq!(actions(&by_admin), ["user.updated", "event.updated"]);
    let (_, _, by_other) = app.get(&format!("/admin/audit?actor={}", customer.id), Some(&token)).await;
    assert!(entries(&by_other).is_empty());
    let (_, _, future) = app.get("/admin/audit?from=2999-01-01T00:00:00Z", Some(&token)).await;
    assert!(entries(&future).is_empty());
    let (_, _, past) = app.get("/admin/audit?to=2000-01-01T00:00:00Z", Some(&token)).await;
    assert!(entries(&past).is_empty());
    let (_, _, window) = app.get("/admin/audit?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z", Some(&token)).await;
    assert_eq!(entries(&window).len(), 5);
}

#[tokio::test]
async fn refused_changes_write_no_entry() {
    let app = TestApp::new().await;
    let (admin, token) = app.admin_user().await;
    let venue = app.small_venue(&token).await;
    let event = app.event(&token, &venue).await;
    let path = format!("/events/events/{}", event.id);
    let (status, _, body) = app.get("/admin/audit", Some(&token)).await;
    assert_eq!((status, entries(&body).len()), (StatusCode::OK, 2), "{body}");

    // 404: no such event or account.
    let ghost = format!("/events/events/{}", Uuid::new_v4());
    assert_error(&app.patch(&ghost, json!({"name": "Ghost"}), Some(&token)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.delete(&ghost, Some(&token)).await, StatusCode::NOT_FOUND, "not_found");
    let nobody = format!("/auth/users/{}", Uuid::new_v4());
    assert_error(
        &app.patch(&nobody, json!({"disabled": true}), Some(&token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // 422: a bad change; 409: demoting oneself.
    let bad = app.patch(&path, json!({"duration_minutes": 0}), Some(&token)).await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let myself = format!("/auth/users/{}", admin.id);
    assert_error(
        &app.patch(&myself, json!({"role": "customer"}), Some(&token)).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    // 200 with nothing changed: the same name again.
    let (status, _, body) = app.patch(&path, json!({"name": event.name}), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // 409 after a cancel: the cancel's entry only.
    assert_eq!(app.delete(&path, Some(&token)).await.0, StatusCode::OK);
    let changed = app.patch(&path, json!({"name": "Too late"}), Some(&token)).await;
    assert_error(&changed, StatusCode::CONFLICT, "invalid_state");

    let (_, _, body) = app.get("/admin/audit", Some(&token)).await;
    assert_eq!(actions(&body), ["event.canceled", "event.created", "venue.created"]);
}

#[tokio::test]
async fn bad_filters_are_refused_with_a_sentence() {
    let app = TestApp::new().await;
    let token = app.admin().await;
    for (query, status, code) in [
        ("entity=booking", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("entity=event:42", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("actor=someone", StatusCode::BAD_REQUEST, "invalid_request"),
        ("from=yesterday", StatusCode::BAD_REQUEST, "invalid_request"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("limit=201", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("offset=-1", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ] {
        let resp = app.get(&format!("/admin/audit?{query}"), Some(&token)).await;
        assert_error(&resp, status, code);
    }
}

#[tokio::test]
async fn customers_and_staff_cannot_read_the_audit_log() {
    let app = TestApp::new().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let (_, staff) = app.staff("door@example.com").await;
    assert_error(&app.get("/admin/audit", Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.get("/admin/audit", Some(&staff)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.get("/admin/audit", None).await, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn an_admins_cancel_of_a_customers_paid_seat_lists_its_refund_and_the_customers_own_cancel_does_not() {
    let app = TestApp::new().await;
    let (admin, token) = app.admin_user().await;
    let venue = app.small_venue(&token).await;
    let event = app.event(&token, &venue).await;
    let (_, buyer) = app.customer("ann@example.com").await;
    let (a1, a2) = (venue.seats[0].id, venue.seats[1].id);
    let booking = app.paid_booking(&buyer, event.id, &[a1, a2]).await;
    let (status, _, payments) = app.get("/payments", Some(&buyer)).await;
    assert_eq!(status, StatusCode::OK, "{payments}");
    let payment_id = payments[0]["id"].clone();

    let first = booking.reservations.iter().find(|r| r.seat_id == a1).expect("seat A1");
    let (status, _, body) = app.delete(&format!("/reservations/reservations/{}", first.id), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Canceled already: 409, no entry.
    let again = app.delete(&format!("/reservations/reservations/{}", first.id), Some(&token)).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    // The customer cancels the rest of the booking: a refund, but no admin action.
    let (status, _, body) = app.delete(&format!("/reservations/bookings/{}", booking.id), Some(&buyer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, body) = app.get("/admin/audit?entity=payment", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(actions(&body), ["payment.refunded"]);
    let entry = &entries(&body)[0];
    assert_eq!((&entry["entity_kind"], &entry["entity_id"]), (&json!("payment"), &payment_id));
    assert_eq!((&entry["actor_id"], &entry["actor_email"]), (&json!(admin.id), &json!("admin@example.com")));
    assert_eq!(entry["before"], json!({"refunded_cents": 0}));
    assert_eq!(entry["after"], json!({"refunded_cents": 1500, "booking_id": booking.id, "seats": [a1]}));
    let (_, _, of_payment) =
        app.get(&format!("/admin/audit?entity=payment:{}", payment_id.as_str().unwrap()), Some(&token)).await;
    assert_eq!(actions(&of_payment), ["payment.refunded"]);
}
