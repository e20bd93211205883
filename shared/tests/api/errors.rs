//! Proves that malformed input gets the contract's error answers (413, 415, 400 `invalid_json`,
//! 422 naming the field, 400 `invalid_request` for paths and queries) and that no answer leaks
//! internals (driver names, SQL, panic messages).

use crate::http::{Resp, TestApp, assert_error, detail};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use uuid::Uuid;

const SIGNUP: &str = "/auth/signup";
const RESERVE: &str = "/reservations/reservations/reserve";

fn post_raw(path: &str, content_type: Option<&str>, token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(body.into()).unwrap()
}

/// A JSON body a little over 64 KiB that would otherwise be valid.
fn oversized_signup() -> String {
    json!({"email": "big@example.com", "password": "correct horse battery", "name": "x".repeat(66 * 1024)}).to_string()
}

#[tokio::test]
async fn body_over_64_kib_is_413_payload_too_large() {
    let app = TestApp::new().await;
    let resp = app.send(post_raw(SIGNUP, Some("application/json"), None, oversized_signup())).await;
    assert_error(&resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(detail(&resp), "The request body is larger than the 64 KiB this request accepts.");

    let (_, token) = app.customer("ann@example.com").await;
    let body = json!({"event_id": Uuid::new_v4(), "seat_id": Uuid::new_v4(), "pad": "x".repeat(66 * 1024)});
    let resp = app.send(post_raw(RESERVE, Some("application/json"), Some(&token), body.to_string())).await;
    assert_error(&resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn body_without_json_content_type_is_415_unsupported_media_type() {
    let app = TestApp::new().await;
    let body = json!({"email": "ann@example.com", "password": "correct horse battery"}).to_string();
    let resp = app.send(post_raw(SIGNUP, None, None, body.clone())).await;
    assert_error(&resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let resp = app.send(post_raw(SIGNUP, Some("text/plain"), None, body)).await;
    assert_error(&resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    let (_, token) = app.customer("ann@example.com").await;
    let body = json!({"event_id": Uuid::new_v4(), "seat_id": Uuid::new_v4()}).to_string();
    let resp = app.send(post_raw(RESERVE, Some("application/x-www-form-urlencoded"), Some(&token), body)).await;
    assert_error(&resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = TestApp::new().await;
    for body in [r#"{"email": "ann@example.com", "#, "{not json}", "", "nul"] {
        let resp = app.send(post_raw(SIGNUP, Some("application/json"), None, body)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_json");
    }
    let (_, token) = app.customer("ann@example.com").await;
    let resp = app.send(post_raw(RESERVE, Some("application/json"), Some(&token), r#"{"event_id": "#)).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_json");
}

/// A body that is not JSON is 400 even when the parser met a wrongly typed value before the
/// syntax error: the contract's 422 is for well-formed JSON only.
#[tokio::test]
async fn cut_short_json_with_a_wrong_type_before_the_cut_is_still_400_invalid_json() {
    let app = TestApp::new().await;
    for body in ["[1, 2", r#"{"email": 5, "password": "#] {
        let resp = app.send(post_raw(SIGNUP, Some("application/json"), None, body)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_json");
    }
}

#[tokio::test]
async fn wrong_field_type_is_422_naming_the_field() {
    let app = TestApp::new().await;
    let resp = app.post(SIGNUP, json!({"email": 42, "password": "correct horse battery"}), None).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("email"), "{}", detail(&resp));

    let (_, token) = app.customer("ann@example.com").await;
    let resp = app.post(RESERVE, json!({"event_id": "not-a-uuid", "seat_id": Uuid::new_v4()}), Some(&token)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("event_id"), "{}", detail(&resp));

    let resp = app.post(RESERVE, json!({"event_id": Uuid::new_v4(), "seat_ids": "A1"}), Some(&token)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("seat_ids"), "{}", detail(&resp));
}

#[tokio::test]
async fn missing_field_is_422_naming_the_field() {
    let app = TestApp::new().await;
    let resp = app.post(SIGNUP, json!({"email": "ann@example.com"}), None).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("password"), "{}", detail(&resp));

    let (_, token) = app.customer("ann@example.com").await;
    let resp = app.post(RESERVE, json!({"seat_id": Uuid::new_v4()}), Some(&token)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("event_id"), "{}", detail(&resp));
}

#[tokio::test]
async fn malformed_uuid_in_a_path_is_400_invalid_request() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin_user().await;
    for path in [
        "/events/events/not-a-uuid",
        "/events/events/1234/seats",
        "/events/venues/zzz",
        "/auth/users/not-a-uuid",
        "/reservations/reservations/not-a-uuid",
        "/reservations/bookings/not-a-uuid",
        "/reservations/reservations/user/42",
    ] {
        let resp = app.get(path, Some(&admin)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");
    }
}

#[tokio::test]
async fn malformed_query_value_is_400_invalid_request() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin_user().await;
    for path in [
        "/events/events?limit=abc",
        "/events/events?category=nope",
        "/events/events?venue_id=not-a-uuid",
        "/events/events?from=yesterday",
        "/events/events?include_past=maybe",
        "/auth/users?offset=x",
        "/reservations/reservations?status=lost",
    ] {
        let resp = app.get(path, Some(&admin)).await;
        assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");
    }
}

#[tokio::test]
async fn limit_out_of_range_is_422_validation_failed() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin_user().await;
    for path in [
        "/events/events?limit=0",
        "/events/events?limit=201",
        "/events/events?offset=-1",
        "/auth/users?limit=0",
        "/reservations/reservations?limit=0",
    ] {
        let resp = app.get(path, Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let named = if path.contains("offset") { "offset" } else { "limit" };
        assert!(detail(&resp).contains(named), "{path}: {}", detail(&resp));
    }
}

#[tokio::test]
async fn no_error_body_leaks_internals() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin_user().await;
    let mut answers: Vec<Resp> = Vec::new();
    let hostile = ["' OR 1=1 --", "\"; DROP TABLE users; --", "%", "_", "\\", "\u{0}"];
    for text in hostile {
        let q: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
        answers.push(app.get(&format!("/events/events?q={q}"), None).await);
        answers.push(app.get(&format!("/auth/users?q={q}"), Some(&admin)).await);
        answers.push(app.post(SIGNUP, json!({"email": text, "password": text}), None).await);
        answers.push(app.post("/auth/login", json!({"email": text, "password": text}), None).await);
        answers.push(
            app.post(
                "/events/venues",
                json!({"name": text, "kind": "hall", "rows": [{"row": text, "seats": 1}]}),
                Some(&admin),
            )
            .await,
        );
    }
    answers.push(app.get("/events/events/00000000-0000-0000-0000-000000000000", None).await);
    answers.push(app.get("/events/events?from=9999-12-31T23:59:59Z&to=0001-01-01T00:00:00Z", None).await);
    answers.push(app.get("/events/events?limit=9223372036854775807", None).await);
    answers.push(app.get("/events/events?offset=9223372036854775807", None).await);
    answers.push(
        app.post(
            "/events/events",
            json!({"venue_id": Uuid::new_v4(), "name": "x", "category": "movie", "start_time": "2999-01-01T00:00:00Z", "prices": []}),
            Some(&admin),
        )
        .await,
    );
    answers.push(app.reserve(&admin, Uuid::new_v4(), Uuid::new_v4()).await);
    for (status, _, body) in &answers {
        assert!(status.as_u16() < 500, "a server error for hostile input: {status} {body}");
        let text = body.to_string().to_lowercase();
        for leak in ["sqlx", "sqlite", "panicked", "syntax error", "constraint", "select ", "insert "] {
            assert!(!text.contains(leak), "body leaks `{leak}`: {body}");
        }
    }
}
