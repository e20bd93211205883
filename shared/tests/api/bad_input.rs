//! Hostile and broken input against every operation that takes it (the operations are read from
//! `proeventa_core::api::openapi()`): bodies over 64 KiB, cut-short, deeply nested and non-UTF-8
//! JSON, wrong content types, huge and negative paging numbers, unknown enum values, path ids that
//! are not UUIDs. Each gets a 4xx of API.md with exactly `{"error","detail"}`, never a 5xx, and the
//! store is checked afterwards wherever the request could have written something.

use crate::http::{Resp, TestApp, event_body, parse, seat};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use proeventa_core::domain::{Event, Page, ReservationFilter, Role, SeatStatus, VenueWithSeats};
use proeventa_core::payments::SimulatedProvider;
use serde_json::{Value, json};
use uuid::Uuid;

const WEBHOOK_SECRET: &str = "bad-input-webhook-secret";

/// An app with a webhook secret, an admin, a customer, a small venue and an event.
struct World {
    app: TestApp,
    admin: String,
    customer: String,
    customer_id: Uuid,
    venue: VenueWithSeats,
    event: Event,
    /// An outgoing webhook's endpoint (its deliveries are a paged list).
    webhook: Uuid,
}

async fn world() -> World {
    let app = TestApp::with_env(&[("WEBHOOK_SECRET", WEBHOOK_SECRET)]).await;
    let admin = app.admin().await;
    let (customer, customer_token) = app.customer("carla@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let hook =
        json!({"url": "https://example.com/hooks", "secret": "0123456789abcdef", "events": ["booking.confirmed"]});
    let (status, _, hook) = app.post("/admin/webhooks", hook, Some(&admin)).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let webhook = hook["id"].as_str().and_then(|id| id.parse().ok()).expect("a webhook id");
    World { app, admin, customer: customer_token, customer_id: customer.id, venue, event, webhook }
}

/// Every (method, path template, operation) of the OpenAPI document.
fn operations() -> Vec<(String, String, Value)> {
    let doc = serde_json::to_value(proeventa_core::api::openapi()).expect("the document serializes");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if let Some(operation) = item.get(method) {
                out.push((method.to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    out
}

/// The operations that take a JSON body.
fn json_body_operations() -> Vec<(String, String)> {
    let ops: Vec<(String, String)> = operations()
        .into_iter()
        .filter(|(_, _, op)| op["requestBody"]["content"]["application/json"].is_object())
        .map(|(m, p, _)| (m, p))
        .collect();
    assert!(ops.len() >= 10, "only {} operations take JSON: {ops:?}", ops.len());
    ops
}

/// A path template with every `{param}` replaced by a well-formed id (the owner checks and
/// lookups come after the body is read, so any existing or unknown id will do).
fn fill(template: &str, w: &World) -> String {
    let mut path = template.to_owned();
    for (param, value) in [
        ("{user_id}", w.customer_id),
        ("{event_id}", w.event.id),
        ("{venue_id}", w.venue.venue.id),
        ("{webhook_id}", w.webhook),
    ] {
        path = path.replace(param, &value.to_string());
    }
    while let (Some(start), Some(end)) = (path.find('{'), path.find('}')) {
        path.replace_range(start..=end, &Uuid::new_v4().to_string());
    }
    path
}

fn raw(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    token: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let method: Method = method.to_uppercase().parse().expect("method");
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(body.into()).expect("request")
}

/// A request to a JSON operation as the caller that gets past its authentication: the admin for
/// bearer routes, a correctly signed delivery for the webhook.
fn json_op(w: &World, method: &str, template: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let path = fill(template, w);
    let mut request = raw(method, &path, content_type, Some(&w.admin), body.clone());
    if template == "/payments/webhook" {
        let signature = SimulatedProvider::sign(WEBHOOK_SECRET.as_bytes(), &body);
        request.headers_mut().insert("x-signature", signature.parse().expect("header"));
    }
    request
}

/// The answer is the contract's error: this status, this code, exactly `{"error","detail"}`, and
/// a detail written for a person (see `parser_words`).
fn check(resp: &Resp, status: StatusCode, code: &str, what: &str, failures: &mut Vec<String>) {
    let (got, _, body) = resp;
    let keys: Vec<&String> = body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    let detail_ok = body["detail"].as_str().is_some_and(|d| !d.trim().is_empty());
    if *got != status || body["error"] != code || keys.len() != 2 || !detail_ok {
        failures.push(format!("{what}: expected {status} `{code}`, got {got}: {body}"));
    }
    check_human(resp, what, failures);
}

/// What a parser, deserializer or driver says, which a person should never read in a `detail`.
const PARSER_WORDS: &[&str] = &[
    "UUID",
    "pars",
    "invalid character",
    "invalid digit",
    "invalid type",
    "invalid value",
    "invalid length",
    "expected",
    "unknown variant",
    "deserializ",
    "serde",
    "at line",
    "column",
    "Malformed",
    "Failed to",
    "integer `",
    "string \"",
    "struct ",
    "i64",
    "u32",
];

/// Flags a `detail` that carries a parser's words.
fn check_human(resp: &Resp, what: &str, failures: &mut Vec<String>) {
    let detail = resp.2["detail"].as_str().unwrap_or("");
    if let Some(word) = PARSER_WORDS.iter().find(|w| detail.to_lowercase().contains(&w.to_lowercase())) {
        failures.push(format!("{what}: the detail has parser words ({word:?}): {detail}"));
    }
}

fn finish(failures: Vec<String>, checked: usize) {
    assert!(checked > 0, "nothing was checked");
    assert!(failures.is_empty(), "{} of {checked} requests answered wrongly:\n{}", failures.len(), failures.join("\n"));
}

async fn user_count(w: &World) -> usize {
    w.app.state.store.list_users(None, Page { limit: 200, offset: 0 }).await.expect("users").len()
}

async fn venue_count(w: &World) -> usize {
    w.app.state.store.list_venues().await.expect("venues").len()
}

async fn active_reservations(w: &World) -> usize {
    let filter =
        ReservationFilter { user_id: None, event_id: None, status: None, page: Page { limit: 200, offset: 0 } };
    let all = w.app.state.store.list_reservations(&filter, chrono::Utc::now()).await.expect("reservations");
    all.iter().filter(|r| matches!(r.status.as_str(), "held" | "confirmed")).count()
}

/// What the store holds that a bad request could have added to.
async fn snapshot(w: &World) -> (usize, usize, usize, usize) {
    let events = w.app.get("/events/events?include_past=true&limit=200", None).await.2;
    let events = events.as_array().map_or(0, Vec::len);
    (user_count(w).await, venue_count(w).await, events, active_reservations(w).await)
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_on_every_json_operation_and_write_nothing() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    // Valid JSON, so only the size is wrong; and 100k `[`, which would also nest too deep. The
    // door's sync takes a batch of up to 256 KiB, and a venue's creation or new layout (up to
    // 100,000 seats) up to 5 MiB: their bodies are over that.
    let padded = |kib: usize| {
        json!({"email": "big@example.com", "password": "correct horse battery", "name": "x".repeat(kib * 1024)})
            .to_string()
            .into_bytes()
    };
    for (method, template) in json_body_operations() {
        let bodies = match template.as_str() {
            "/checkin/sync" => [padded(262), vec![b'['; 300_000]],
            "/events/venues" if method == "post" => [padded(5 * 1024 + 10), vec![b'['; 5_300_000]],
            "/events/venues/{venue_id}" if method == "patch" => [padded(5 * 1024 + 10), vec![b'['; 5_300_000]],
            _ => [padded(70), vec![b'['; 100_000]],
        };
        for body in &bodies {
            let resp = w.app.send(json_op(&w, &method, &template, Some("application/json"), body.clone())).await;
            check(
                &resp,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &format!("{method} {template}"),
                &mut failures,
            );
            checked += 1;
        }
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "an oversized request wrote something");
}

#[tokio::test]
async fn truncated_nested_and_non_utf8_json_is_400_invalid_json_on_every_json_operation() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut bodies: Vec<(&str, Vec<u8>)> = vec![
        ("cut short", br#"{"email": "ann@example.com", "name": "#.to_vec()),
        ("cut inside a string", br#"{"event_id": "3f2a"#.to_vec()),
        ("empty", Vec::new()),
        ("only whitespace", b"  \n ".to_vec()),
        ("two documents", br#"{} {}"#.to_vec()),
        ("trailing comma", br#"{"name": "x",}"#.to_vec()),
        ("single quotes", br#"{'name': 'x'}"#.to_vec()),
        ("NaN", br#"{"seats": NaN}"#.to_vec()),
        ("non-UTF-8 bytes in a string", b"{\"name\": \"\xff\xfe\xfd\", \"email\": \"a\xc3\x28@x.io\"}".to_vec()),
        ("UTF-16 with a byte order mark", b"\xff\xfe{\x00}\x00".to_vec()),
        ("Latin-1", b"{\"name\": \"Jos\xe9\"}".to_vec()),
    ];
    // Nested far beyond any parser's depth limit, yet under 64 KiB, and never closed.
    bodies.push(("30k `[` unclosed", vec![b'['; 30_000]));
    bodies.push(("10k objects deep, unclosed", br#"{"a":"#.repeat(10_000)));
    for (method, template) in json_body_operations() {
        for (name, body) in &bodies {
            let resp = w.app.send(json_op(&w, &method, &template, Some("application/json"), body.clone())).await;
            check(
                &resp,
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &format!("{method} {template}: {name}"),
                &mut failures,
            );
            checked += 1;
        }
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "a broken body wrote something");
    // The server still answers after all that.
    assert_eq!(w.app.get("/health", None).await.0, StatusCode::OK);
}

/// Nesting is no weapon: a balanced 20k-deep array is well-formed JSON of the wrong shape (an
/// object is expected), so 422, answered without exhausting the stack.
#[tokio::test]
async fn deeply_nested_well_formed_json_is_422_on_every_json_operation() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    let deep = [vec![b'['; 20_000], vec![b']'; 20_000]].concat();
    for (method, template) in json_body_operations() {
        let resp = w.app.send(json_op(&w, &method, &template, Some("application/json"), deep.clone())).await;
        let what = format!("{method} {template}: 20k-deep array");
        check(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &what, &mut failures);
        checked += 1;
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "a deeply nested body wrote something");
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415_on_every_json_operation() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, template) in json_body_operations() {
        // The webhook reads the raw body its signature covers, whatever the content type says.
        if template == "/payments/webhook" {
            continue;
        }
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
            Some("application/jsonp"),
            Some("json"),
            Some(""),
        ] {
            let body = br#"{"name": "x"}"#.to_vec();
            let resp = w.app.send(json_op(&w, &method, &template, content_type, body)).await;
            let what = format!("{method} {template} with content-type {content_type:?}");
            check(&resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", &what, &mut failures);
            checked += 1;
        }
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "a request with a wrong content type wrote something");
}

#[tokio::test]
async fn huge_negative_and_malformed_paging_numbers_are_4xx_on_every_paged_operation() {
    let w = world().await;
    let paged: Vec<String> = operations()
        .into_iter()
        .filter(|(method, _, op)| {
            method == "get" && op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "limit"))
        })
        .map(|(_, path, _)| path)
        .collect();
    assert!(paged.len() >= 5, "paged operations: {paged:?}");
    let mut failures = Vec::new();
    let mut checked = 0;
    let cases: &[(&str, StatusCode, &str)] = &[
        ("limit=-1", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("limit=201", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("limit=9223372036854775807", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("limit=-9223372036854775808", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("offset=-1", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("offset=-9223372036854775808", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ("limit=99999999999999999999999", StatusCode::BAD_REQUEST, "invalid_request"),
        ("offset=99999999999999999999999", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=1.5", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=1e3", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=%00", StatusCode::BAD_REQUEST, "invalid_request"),
        ("offset=ten", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=10&limit=20", StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for template in &paged {
        let path = fill(template, &w);
        for (query, status, code) in cases {
            let resp = w.app.get(&format!("{path}?{query}"), Some(&w.admin)).await;
            check(&resp, *status, code, &format!("GET {template}?{query}"), &mut failures);
            checked += 1;
        }
        // The largest offset there is is not an error, just past the end.
        let resp = w.app.get(&format!("{path}?offset=9223372036854775807&limit=200"), Some(&w.admin)).await;
        if resp.0 != StatusCode::OK || resp.2 != json!([]) {
            failures.push(format!("GET {template}?offset=i64::MAX: expected 200 [], got {} {}", resp.0, resp.2));
        }
        checked += 1;
    }
    finish(failures, checked);
}

#[tokio::test]
async fn path_ids_that_are_not_uuids_are_400_invalid_request_on_every_operation() {
    let w = world().await;
    let before = snapshot(&w).await;
    let long = "a".repeat(2000);
    let not_uuids = [
        "not-a-uuid",
        "1",
        "-1",
        "0x10",
        "00000000-0000-0000-0000-00000000000g",
        "00000000-0000-0000-0000-0000000000000",
        "%00",
        "%FF%FE",
        "%27%20OR%201%3D1--",
        "..%2F..%2Fetc%2Fpasswd",
        long.as_str(),
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, template, _) in operations() {
        if !template.contains('{') {
            continue;
        }
        for bad in not_uuids {
            let mut path = template.clone();
            while let (Some(start), Some(end)) = (path.find('{'), path.find('}')) {
                path.replace_range(start..=end, bad);
            }
            let body = if method == "post" || method == "patch" { br#"{}"#.to_vec() } else { Vec::new() };
            let content_type = (!body.is_empty()).then_some("application/json");
            let resp = w.app.send(raw(&method, &path, content_type, Some(&w.admin), body)).await;
            let what = format!("{} {path}", method.to_uppercase());
            check(&resp, StatusCode::BAD_REQUEST, "invalid_request", &what, &mut failures);
            checked += 1;
        }
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "a request with a malformed id wrote something");
}

#[tokio::test]
async fn unknown_enum_values_are_400_in_queries_and_422_in_bodies_and_write_nothing() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    // Queries: the value is not one the parameter's enum allows (case matters: the wire names are lowercase).
    for path in [
        "/events/events?category=opera",
        "/events/events?category=Movie",
        "/events/events?category=",
        "/reservations/reservations?status=lost",
        "/reservations/reservations?status=HELD",
        &format!("/reservations/reservations/user/{}?status=reserved", w.customer_id),
        &format!("/reservations/reservations/event/{}?status=sold", w.event.id),
    ] {
        let resp = w.app.get(path, Some(&w.admin)).await;
        check(&resp, StatusCode::BAD_REQUEST, "invalid_request", &format!("GET {path}"), &mut failures);
        checked += 1;
    }
    // Bodies: well-formed JSON with a value outside the enum names the field.
    let bodies: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/events/venues".into(),
            json!({"name": "X", "kind": "stadium", "rows": [{"row": "A", "seats": 2}]}),
            "kind",
        ),
        (
            Method::POST,
            "/events/venues".into(),
            json!({"name": "X", "kind": "Hall", "rows": [{"row": "A", "seats": 2}]}),
            "kind",
        ),
        (Method::POST, "/events/events".into(), event_body(&w.venue, json!({"category": "opera"})), "category"),
        (Method::POST, "/events/events".into(), event_body(&w.venue, json!({"category": 7})), "category"),
        (Method::PATCH, format!("/events/events/{}", w.event.id), json!({"category": "circus"}), "category"),
        (Method::PATCH, format!("/auth/users/{}", w.customer_id), json!({"role": "superuser"}), "role"),
        (Method::PATCH, format!("/auth/users/{}", w.customer_id), json!({"role": "Admin"}), "role"),
        (Method::PATCH, format!("/auth/users/{}", w.customer_id), json!({"role": ["admin"]}), "role"),
    ];
    for (method, path, body, field) in bodies {
        let what = format!("{method} {path} {body}");
        let resp = w.app.request(method, &path, Some(body), Some(&w.admin)).await;
        check(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &what, &mut failures);
        if !resp.2["detail"].as_str().unwrap_or("").contains(field) {
            failures.push(format!("{what}: the detail does not name `{field}`: {}", resp.2));
        }
        checked += 1;
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "a request with an unknown enum value wrote something");
    let customer = w.app.state.store.user(w.customer_id).await.expect("user").expect("the customer");
    assert_eq!(customer.role, Role::Customer);
    let (_, _, event) = w.app.get(&format!("/events/events/{}", w.event.id), None).await;
    assert_eq!(event["category"], "concert", "{event}");
}

/// The document's enums list what the API accepts and answers: the wire names, not Rust's.
#[tokio::test]
async fn the_document_lists_the_wire_names_of_every_enum() {
    let doc = serde_json::to_value(proeventa_core::api::openapi()).expect("the document serializes");
    let schemas = &doc["components"]["schemas"];
    for (name, wire) in [
        ("Category", vec!["movie", "theatre", "concert", "sport", "comedy", "other"]),
        ("VenueKind", vec!["cinema", "theatre", "arena", "hall", "other"]),
        ("Role", vec!["customer", "staff", "admin"]),
        ("TicketStatus", vec!["valid", "used", "revoked"]),
        ("ReservationStatus", vec!["held", "confirmed", "canceled", "expired"]),
        ("SeatStatus", vec!["available", "held", "sold"]),
        ("EventStatus", vec!["on_sale", "canceled"]),
        ("PaymentStatus", vec!["pending", "succeeded", "failed", "refunded", "partially_refunded"]),
    ] {
        assert_eq!(schemas[name]["enum"], json!(wire), "{name} in the document: {}", schemas[name]);
    }
}

/// A multi-seat hold with one bad seat holds none of them; so does every malformed selection.
#[tokio::test]
async fn a_bad_seat_selection_holds_nothing() {
    let w = world().await;
    let a1 = seat(&w.venue, "A1");
    let other_venue = w.app.venue_with_rows(&w.admin, &[("Z", 1, "standard")]).await;
    let foreign = seat(&other_venue, "Z1");
    let eleven: Vec<Uuid> = (0..11).map(|_| Uuid::new_v4()).collect();
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"event_id": w.event.id, "seat_ids": [a1, foreign]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"event_id": w.event.id, "seat_ids": [a1, Uuid::new_v4()]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (json!({"event_id": w.event.id, "seat_ids": eleven}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({"event_id": w.event.id, "seat_ids": []}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            json!({"event_id": w.event.id, "seat_ids": [a1, "A2"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"event_id": w.event.id, "seat_id": a1, "seat_ids": [a1]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"event_id": w.event.id, "seat_ids": [a1, null]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (json!({"event_id": w.event.id, "seat_ids": [[a1]]}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({"event_id": Uuid::new_v4(), "seat_ids": [a1]}), StatusCode::NOT_FOUND, "not_found"),
    ];
    let mut failures = Vec::new();
    let checked = cases.len();
    for (body, status, code) in cases {
        let resp = w.app.post("/reservations/reservations/reserve", body.clone(), Some(&w.customer)).await;
        check(&resp, status, code, &format!("reserve {body}"), &mut failures);
    }
    finish(failures, checked);
    assert_eq!(active_reservations(&w).await, 0, "a refused selection held seats");
    assert_eq!(w.app.seat_status(w.event.id, a1).await, SeatStatus::Available);
}

/// Bytes that are not UTF-8 where text is expected (query, header) are refused or read as
/// text, never a 5xx; a token that is not UTF-8 is 401.
#[tokio::test]
async fn non_utf8_query_and_header_bytes_are_never_a_server_error() {
    let w = world().await;
    let mut request = raw("get", "/auth/me", None, None, Vec::new());
    request.headers_mut().insert(
        header::AUTHORIZATION,
        axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe.\xfd").expect("opaque header bytes"),
    );
    let resp = w.app.send(request).await;
    let mut failures = Vec::new();
    check(&resp, StatusCode::UNAUTHORIZED, "unauthorized", "a token that is not UTF-8", &mut failures);
    for path in ["/events/events?q=%FF%FE", "/events/events?q=%C3%28", "/auth/users?q=%80"] {
        let resp = w.app.get(path, Some(&w.admin)).await;
        // Either read as text (with replacement characters) and answered, or refused as malformed.
        if !(resp.0 == StatusCode::OK || (resp.0 == StatusCode::BAD_REQUEST && resp.2["error"] == "invalid_request")) {
            failures.push(format!("GET {path}: {} {}", resp.0, resp.2));
        }
    }
    let mut request = raw("post", "/payments/checkout", Some("application/json"), Some(&w.customer), "{}");
    request.headers_mut().insert("idempotency-key", axum::http::HeaderValue::from_bytes(b"k\xffey").expect("bytes"));
    let resp = w.app.send(request).await;
    check(&resp, StatusCode::BAD_REQUEST, "invalid_request", "an Idempotency-Key that is not ASCII", &mut failures);
    finish(failures, 5);
    let _: Vec<Event> = parse(&w.app.get("/events/events", None).await.2);
}

/// Every request body is an object: serde would fill a struct from an array of its fields, so
/// an array (or any other JSON value) is refused before it can stand in for one.
#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_422_on_every_json_operation() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    let bodies: [&[u8]; 6] = [b"[null, null]", b"[]", b"null", b"\"admin\"", b"42", b"true"];
    for (method, template) in json_body_operations() {
        for body in bodies {
            let resp = w.app.send(json_op(&w, &method, &template, Some("application/json"), body.to_vec())).await;
            let what = format!("{method} {template}: {}", String::from_utf8_lossy(body));
            check(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &what, &mut failures);
            checked += 1;
        }
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "a body that is not an object wrote something");
}

/// Garbage in every place a request carries input (path ids, query values, body fields of the
/// wrong type) answers a 4xx whose `detail` is a sentence for a person: the field or link named,
/// none of the parser's words. A body field's error still names the field.
#[tokio::test]
async fn garbage_anywhere_gets_a_detail_for_people_on_every_operation() {
    let w = world().await;
    let before = snapshot(&w).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    // Every field name any body of the API takes, each given values of the wrong type in turn.
    let fields = [
        "email",
        "password",
        "name",
        "role",
        "disabled",
        "event_id",
        "seat_id",
        "seat_ids",
        "booking_id",
        "venue_id",
        "title",
        "description",
        "category",
        "start_time",
        "end_time",
        "prices",
        "kind",
        "rows",
        "time_zone",
        "card_number",
        "exp_month",
        "exp_year",
        "cvc",
        "code",
        "gate",
        "scans",
        "token",
        "amount_cents",
        "status",
    ];
    let garbage = [json!("x%y"), json!(-7.5), json!([1, "two"]), json!({"a": {}}), json!(true)];
    for (method, template) in json_body_operations() {
        for value in &garbage {
            let body: serde_json::Map<String, Value> =
                fields.iter().map(|f| ((*f).to_owned(), value.clone())).collect();
            let bytes = Value::Object(body).to_string().into_bytes();
            let resp = w.app.send(json_op(&w, &method, &template, Some("application/json"), bytes)).await;
            let what = format!("{method} {template} with every field {value}");
            if !resp.0.is_client_error() {
                failures.push(format!("{what}: expected a 4xx, got {}: {}", resp.0, resp.2));
            }
            check_human(&resp, &what, &mut failures);
            checked += 1;
        }
    }
    for (method, template, op) in operations() {
        let queries: Vec<String> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter().filter(|p| p["in"] == "query").filter_map(|p| p["name"].as_str()).map(str::to_owned).collect()
            })
            .unwrap_or_default();
        let path = fill(&template, &w);
        for query in &queries {
            for bad in ["%FF", "not-a-thing", "-1e999", "{}"] {
                let uri = format!("{path}?{query}={bad}");
                let body = if method == "post" || method == "patch" { br#"{}"#.to_vec() } else { Vec::new() };
                let content_type = (!body.is_empty()).then_some("application/json");
                let resp = w.app.send(raw(&method, &uri, content_type, Some(&w.admin), body)).await;
                let what = format!("{} {uri}", method.to_uppercase());
                if resp.0.is_server_error() {
                    failures.push(format!("{what}: a server error: {}", resp.2));
                }
                check_human(&resp, &what, &mut failures);
                checked += 1;
            }
        }
    }
    // The link the issue quotes: a mistyped event id reads as a sentence about the event link.
    let resp = w.app.get("/events/events/not-an-event", None).await;
    check(&resp, StatusCode::BAD_REQUEST, "invalid_request", "GET /events/events/not-an-event", &mut failures);
    if resp.2["detail"] != "That event link is not valid." {
        failures.push(format!("a mistyped event link: {}", resp.2));
    }
    finish(failures, checked);
    assert_eq!(snapshot(&w).await, before, "a garbage request wrote something");
}
