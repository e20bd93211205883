//! `/admin/webhooks/*`: registering, listing and deleting endpoints, their deliveries and a
//! replay; and the delivery itself, to a real HTTP receiver on a free loopback port that checks
//! every signature: down first (each delivery recorded with why, pending for a retry), then up
//! (each event delivered once, a booking's in order). Access for every caller is in `authz_matrix`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use proeventa_core::webhooks::{SIGNATURE_HEADER, WebhookSender};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::http::{TestApp, assert_error, seat};

const SECRET: &str = "receiver-secret-0123456789";

fn hook_body(url: &str, events: &[&str]) -> Value {
    json!({"url": url, "secret": SECRET, "events": events})
}

#[tokio::test]
async fn an_admin_registers_lists_and_deletes_endpoints_whose_secret_is_never_answered() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (status, _, created) = app
        .post(
            "/admin/webhooks",
            hook_body("https://example.com/in", &["booking.confirmed", "refund.created"]),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["url"], "https://example.com/in");
    assert_eq!(created["events"], json!(["booking.confirmed", "refund.created"]));
    assert!(!created.to_string().contains(SECRET) && created.get("secret").is_none(), "{created}");
    let (status, _, listed) = app.get("/admin/webhooks", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(!listed.to_string().contains(SECRET), "{listed}");

    let id = created["id"].as_str().expect("an id");
    let (status, _, deliveries) = app.get(&format!("/admin/webhooks/{id}/deliveries"), Some(&admin)).await;
    assert_eq!((status, deliveries), (StatusCode::OK, json!([])));
    let (status, _, _) = app.delete(&format!("/admin/webhooks/{id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.delete(&format!("/admin/webhooks/{id}"), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &app.get(&format!("/admin/webhooks/{id}/deliveries"), Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let replay = format!("/admin/webhooks/{id}/deliveries/{}/replay", Uuid::new_v4());
    assert_error(&app.post(&replay, json!({}), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_bad_endpoint_is_refused_with_a_sentence_and_nothing_is_registered() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for body in [
        hook_body("ftp://example.com/in", &["booking.confirmed"]),
        hook_body("example.com/in", &["booking.confirmed"]),
        json!({"url": "https://example.com/in", "secret": "too-short", "events": ["booking.confirmed"]}),
        json!({"url": "https://example.com/in", "secret": "x".repeat(257), "events": ["booking.confirmed"]}),
        hook_body("https://example.com/in", &[]),
        hook_body("https://example.com/in", &["booking.exploded"]),
    ] {
        let resp = app.post("/admin/webhooks", body.clone(), Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(!resp.2.to_string().contains("too-short"), "the secret is never echoed: {}", resp.2);
    }
    let (_, _, listed) = app.get("/admin/webhooks", Some(&admin)).await;
    assert_eq!(listed, json!([]));
}

/// What the receiver saw: each delivery's event, in arrival order, and how many arrived unsigned
/// or wrongly signed.
#[derive(Default)]
struct Received {
    events: Vec<Value>,
    bad_signatures: u32,
}

fn signature_is_valid(headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(header) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else { return false };
    let mut parts = header.split(',');
    let (Some(t), Some(v1)) =
        (parts.next().and_then(|p| p.strip_prefix("t=")), parts.next().and_then(|p| p.strip_prefix("v1=")))
    else {
        return false;
    };
    let Ok(timestamp) = t.parse::<i64>() else { return false };
    if (Utc::now().timestamp() - timestamp).abs() > 300 {
        return false;
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).expect("a key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let Some(given) = proeventa_core::hex::decode(v1) else { return false };
    mac.verify_slice(&given).is_ok()
}

async fn receive(State(seen): State<Arc<Mutex<Received>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut seen = seen.lock().expect("the receiver's record");
    if !signature_is_valid(&headers, &body) {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    seen.events.push(serde_json::from_slice(&body).expect("a JSON payload"));
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn deliveries_reach_a_real_receiver_signed_once_each_in_order_per_booking_after_it_was_down() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    // A free loopback port, closed again: the receiver is down.
    let port = {
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        probe.local_addr().expect("its address").port()
    };
    let url = format!("http://127.0.0.1:{port}/hooks");
    let all = ["booking.confirmed", "booking.canceled", "refund.created", "event.canceled", "ticket.checked_in"];
    let (status, _, hook) = app.post("/admin/webhooks", hook_body(&url, &all), Some(&admin)).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let hook_id = hook["id"].as_str().expect("an id").to_owned();

    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, buyer) = app.customer("buyer@example.com").await;
    let kept = app.paid_booking(&buyer, event.id, &[seat(&venue, "A1")]).await;
    let canceled = app.paid_booking(&buyer, event.id, &[seat(&venue, "A2"), seat(&venue, "A3")]).await;
    let (status, _, body) = app.delete(&format!("/reservations/bookings/{}", canceled.id), Some(&buyer)).await;
    assert!(status.is_success(), "cancel: {status} {body}");

    let sender = WebhookSender::new(app.state.store.clone()).expect("a sender");
    let mut now = Utc::now();
    let first = sender.pass(now).await.expect("a pass");
    assert_eq!(first.fanned_out, 4, "2 confirms, a cancel, its refund");
    // Down: the first event of each booking tried (the canceled one's later events wait for its
    // confirmation), each recorded with why, pending for a retry.
    assert_eq!((first.claimed, first.retrying, first.delivered), (2, 2, 0), "{first}");
    let (status, _, deliveries) = app.get(&format!("/admin/webhooks/{hook_id}/deliveries"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let tried: Vec<&Value> = deliveries.as_array().expect("a list").iter().filter(|d| d["attempts"] == 1).collect();
    assert_eq!(tried.len(), 2, "{deliveries}");
    for delivery in &tried {
        assert_eq!(delivery["status"], "pending");
        assert_eq!(delivery["last_status_code"], Value::Null);
        assert!(delivery["last_response"].as_str().is_some_and(|r| r.starts_with("no answer")), "{delivery}");
        assert!(delivery["next_attempt_at"].as_str().is_some(), "{delivery}");
    }

    // Up: the same port, a receiver that checks each signature.
    let seen = Arc::new(Mutex::new(Received::default()));
    let receiver = axum::Router::new().route("/hooks", post(receive)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("the receiver's port again");
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await });

    for _ in 0..10 {
        // Past every retry's due time.
        now += Duration::hours(2);
        let pass = sender.pass(now).await.expect("a pass");
        if pass.claimed == 0 {
            break;
        }
    }
    server.abort();
    let (events, bad_signatures) = {
        let seen = seen.lock().expect("the record");
        (seen.events.clone(), seen.bad_signatures)
    };
    assert_eq!(bad_signatures, 0);
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().expect("an id")).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!((ids.len(), unique.len()), (4, 4), "each event delivered once: {events:?}");
    let mut by_booking: HashMap<String, Vec<String>> = HashMap::new();
    for event in &events {
        assert!(event["created_at"].as_str().is_some(), "{event}");
        by_booking
            .entry(event["data"]["booking_id"].as_str().expect("a booking").to_owned())
            .or_default()
            .push(event["type"].as_str().expect("a type").to_owned());
    }
    assert_eq!(by_booking[&kept.id.to_string()], ["booking.confirmed"]);
    assert_eq!(by_booking[&canceled.id.to_string()], ["booking.confirmed", "booking.canceled", "refund.created"]);

    // Every delivery recorded delivered with the answer; a replay posts it again, same id.
    let (_, _, deliveries) = app.get(&format!("/admin/webhooks/{hook_id}/deliveries"), Some(&admin)).await;
    let list = deliveries.as_array().expect("a list");
    assert!(list.iter().all(|d| d["status"] == "delivered" && d["last_status_code"] == 204), "{deliveries}");
    let delivery_id = list[0]["id"].as_str().expect("an id");
    let replay = format!("/admin/webhooks/{hook_id}/deliveries/{delivery_id}/replay");
    let (status, _, replayed) = app.post(&replay, json!({}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!((replayed["status"].as_str(), replayed["attempts"].as_u64()), (Some("pending"), Some(0)));
    assert_error(&app.post(&replay, json!({}), Some(&admin)).await, StatusCode::CONFLICT, "invalid_state");
}
