//! The door, `/checkin/*`: the public key; online scans (admitted, a second scan 409 with the
//! winning scan's time and gate, revoked 410, wrong event, altered and foreign codes 422, a
//! ticket that does not exist 404); staff and admins only; live counts; the offline manifest; and
//! offline scans synced in batches that can be replayed without changing anything.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use proeventa_core::domain::{Role, SeatLabel, Ticket, TicketStatus};
use proeventa_core::tickets::TicketKeys;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::{Resp, TestApp, assert_error, detail, json_request, rfc3339, seat};

/// An admin, door staff, Ann with a paid booking of A1, A2, B1 for an event, and another event.
struct Door {
    app: TestApp,
    admin: String,
    staff: String,
    ann_token: String,
    event_id: Uuid,
    other_event_id: Uuid,
    /// Ann's tickets by seat label (`A1`, `A2`, `B1`): (ticket id, code, reservation id).
    tickets: Vec<(String, Uuid, String, String)>,
}

async fn door() -> Door {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, staff) = app.staff("door@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let other = app.event(&admin, &venue).await;
    let (_, ann_token) = app.customer("ann@example.com").await;
    let seats = ["A1", "A2", "B1"].map(|label| seat(&venue, label));
    app.paid_booking(&ann_token, event.id, &seats).await;
    let (status, _, body) = app.get("/reservations/tickets", Some(&ann_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tickets = body
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            let label = t["seat_label"].as_str().expect("a seat label").replace("Row ", "").replace(" · Seat ", "");
            let id = t["id"].as_str().and_then(|s| s.parse().ok()).expect("an id");
            let code = t["code"].as_str().expect("a code").to_owned();
            (label, id, code, t["reservation_id"].as_str().expect("a reservation").to_owned())
        })
        .collect();
    Door { app, admin, staff, ann_token, event_id: event.id, other_event_id: other.id, tickets }
}

impl Door {
    fn ticket(&self, label: &str) -> (Uuid, &str) {
        let (_, id, code, _) = self.tickets.iter().find(|t| t.0 == label).expect("a ticket of that seat");
        (*id, code.as_str())
    }

    fn reservation(&self, label: &str) -> &str {
        &self.tickets.iter().find(|t| t.0 == label).expect("a ticket of that seat").3
    }

    async fn scan(&self, body: Value, token: Option<&str>) -> Resp {
        self.app.post("/checkin/scan", body, token).await
    }

    async fn sync(&self, body: Value) -> Resp {
        self.app.post("/checkin/sync", body, Some(&self.staff)).await
    }

    async fn summary(&self) -> Value {
        let (status, _, body) =
            self.app.get(&format!("/checkin/events/{}/summary", self.event_id), Some(&self.staff)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn cancel_seat(&self, label: &str) {
        let path = format!("/reservations/reservations/{}", self.reservation(label));
        let resp = self.app.delete(&path, Some(&self.ann_token)).await;
        assert_eq!(resp.0, StatusCode::OK, "cancel {label}: {}", resp.2);
    }
}

/// A ticket the store never issued, for `event_id`.
fn unissued_ticket(event_id: Uuid) -> Ticket {
    Ticket {
        id: Uuid::new_v4(),
        booking_id: Uuid::new_v4(),
        reservation_id: Uuid::new_v4(),
        event_id,
        user_id: Uuid::new_v4(),
        seat_id: Uuid::new_v4(),
        seat: SeatLabel { section: None, row: "Z".into(), seat_number: 99, tier: "standard".into() },
        price_cents: 100,
        discount_cents: 0,
        currency: "EUR".into(),
        holder_name: "Nobody".into(),
        status: TicketStatus::Valid,
        issued_at: Utc::now(),
        admission: None,
        revoked_at: None,
    }
}

/// The body of a 409 `already_checked_in`: the error and the winning scan's time and gate.
fn assert_already_checked_in(resp: &Resp, gate: &str) -> DateTime<Utc> {
    let (status, _, body) = resp;
    assert_eq!((*status, body["error"].as_str()), (StatusCode::CONFLICT, Some("already_checked_in")), "{body}");
    assert_eq!(body["gate"], gate, "{body}");
    let at: DateTime<Utc> = body["checked_in_at"].as_str().and_then(|s| s.parse().ok()).expect("checked_in_at");
    let sentence = detail(resp);
    assert!(sentence.contains(gate) && sentence.contains(&at.format("%H:%M:%S").to_string()), "{sentence}");
    at
}

#[tokio::test]
async fn the_public_key_is_public() {
    let d = door().await;
    let (status, _, body) = d.app.get("/checkin/key", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, serde_json::to_value(d.app.state.tickets.public_key()).expect("the key serializes"));
    assert_eq!(body["algorithm"], "Ed25519");
}

#[tokio::test]
async fn the_first_scan_admits_and_a_second_is_409_with_the_winning_time_and_gate() {
    let d = door().await;
    let (id, code) = d.ticket("A1");
    let before = Utc::now() - Duration::seconds(1);
    let (status, _, body) =
        d.scan(json!({"code": code, "event_id": d.event_id, "gate": "north"}), Some(&d.staff)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "admitted", "ticket_id": id, "seat_label": "Row A · Seat 1", "holder_name": body["holder_name"]})
    );
    assert!(body["holder_name"].as_str().is_some_and(|n| !n.is_empty()), "{body}");

    // The same ticket again, at another gate and by an admin: refused, naming the first scan.
    let again = d.scan(json!({"code": code, "gate": "south"}), Some(&d.admin)).await;
    let at = assert_already_checked_in(&again, "north");
    assert!(at >= before && at <= Utc::now(), "{at}");

    // The ticket reads used, with its admission.
    let (_, _, ticket) = d.app.get(&format!("/reservations/tickets/{id}"), Some(&d.ann_token)).await;
    assert_eq!(ticket["status"], "used");
    assert_eq!(ticket["admission"]["gate"], "north");
}

#[tokio::test]
async fn a_scan_with_no_gate_is_at_the_main_gate() {
    let d = door().await;
    let (_, code) = d.ticket("A2");
    assert_eq!(d.scan(json!({"code": code}), Some(&d.staff)).await.0, StatusCode::OK);
    assert_already_checked_in(&d.scan(json!({"code": code}), Some(&d.staff)).await, "main");
}

#[tokio::test]
async fn concurrent_scans_of_one_ticket_admit_it_once() {
    let d = door().await;
    let (_, code) = d.ticket("A1");
    let requests = (0..20)
        .map(|i| {
            let body = json!({"code": code, "gate": format!("gate-{i}")});
            json_request(axum::http::Method::POST, "/checkin/scan", Some(body), Some(&d.staff))
        })
        .collect();
    let answers = d.app.send_concurrently(requests).await;
    let admitted = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused = answers.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).count();
    assert_eq!((admitted, refused), (1, 19), "{answers:?}");
    assert_eq!(d.summary().await["admitted"], 1);
}

#[tokio::test]
async fn a_canceled_seats_ticket_is_410_revoked() {
    let d = door().await;
    d.cancel_seat("B1").await;
    let (_, code) = d.ticket("B1");
    assert_error(&d.scan(json!({"code": code}), Some(&d.staff)).await, StatusCode::GONE, "ticket_revoked");
}

#[tokio::test]
async fn a_ticket_of_another_event_is_422_wrong_event_and_not_admitted() {
    let d = door().await;
    let (_, code) = d.ticket("A1");
    let resp = d.scan(json!({"code": code, "event_id": d.other_event_id}), Some(&d.staff)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "wrong_event");
    assert_eq!(d.summary().await["admitted"], 0);
}

#[tokio::test]
async fn altered_foreign_and_garbage_codes_are_422_invalid_ticket() {
    let d = door().await;
    let (_, code) = d.ticket("A1");
    // One character changed in the middle of the signed payload.
    let mut chars: Vec<char> = code.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    let altered: String = chars.into_iter().collect();
    // The same ticket, signed with a key that is not the server's.
    let stored = d.app.state.store.ticket(d.ticket("A1").0).await.expect("the store answers").expect("A1's ticket");
    let foreign = TicketKeys::from_secret(&TicketKeys::generate_secret()).expect("a key").code(&stored);
    let truncated = &code[..code.len() - 10];
    for bad in [altered.as_str(), foreign.as_str(), truncated, "PE1.garbage", "", "hello world"] {
        let resp = d.scan(json!({"code": bad, "event_id": d.event_id}), Some(&d.staff)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_ticket");
    }
    assert_eq!(d.summary().await["admitted"], 0, "no refused code admitted anyone");
}

#[tokio::test]
async fn a_correctly_signed_code_of_no_ticket_is_404() {
    let d = door().await;
    let code = d.app.state.tickets.code(&unissued_ticket(d.event_id));
    assert_error(&d.scan(json!({"code": code}), Some(&d.staff)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_door_is_for_staff_and_admins_only() {
    let d = door().await;
    let (_, code) = d.ticket("A1");
    let summary = format!("/checkin/events/{}/summary", d.event_id);
    let manifest = format!("/checkin/events/{}/manifest", d.event_id);
    let sync = json!({"event_id": d.event_id, "scans": [{"scan_id": Uuid::new_v4(), "code": code, "scanned_at": rfc3339(Utc::now())}]});
    for (token, status, error) in [
        (Some(d.ann_token.as_str()), StatusCode::FORBIDDEN, "forbidden"),
        (None, StatusCode::UNAUTHORIZED, "unauthorized"),
    ] {
        assert_error(&d.scan(json!({"code": code}), token).await, status, error);
        assert_error(&d.app.get(&summary, token).await, status, error);
        assert_error(&d.app.get(&manifest, token).await, status, error);
        assert_error(&d.app.post("/checkin/sync", sync.clone(), token).await, status, error);
    }
    assert_eq!(d.summary().await["admitted"], 0, "refused callers admitted no one");
    // Staff can do nothing else an admin can.
    assert_error(&d.app.get("/auth/users", Some(&d.staff)).await, StatusCode::FORBIDDEN, "forbidden");
    let resp = d.app.get(&format!("/reservations/reservations/event/{}", d.event_id), Some(&d.staff)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn admins_make_staff_and_cannot_make_themselves_staff() {
    let d = door().await;
    let (clerk, clerk_token) = d.app.customer("clerk@example.com").await;
    let (_, code) = d.ticket("A1");
    assert_error(&d.scan(json!({"code": code}), Some(&clerk_token)).await, StatusCode::FORBIDDEN, "forbidden");
    let (status, _, body) =
        d.app.patch(&format!("/auth/users/{}", clerk.id), json!({"role": "staff"}), Some(&d.admin)).await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::OK, Some("staff")), "{body}");
    assert_eq!(d.scan(json!({"code": code}), Some(&clerk_token)).await.0, StatusCode::OK);

    let (admin, admin_token) = d.app.user_with_role("boss@example.com", Role::Admin).await;
    for role in ["staff", "customer"] {
        let resp = d.app.patch(&format!("/auth/users/{}", admin.id), json!({"role": role}), Some(&admin_token)).await;
        assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
    }
}

#[tokio::test]
async fn the_summary_counts_sold_admitted_to_come_revoked_and_gates() {
    let d = door().await;
    d.cancel_seat("B1").await;
    let (_, code) = d.ticket("A1");
    assert_eq!(d.scan(json!({"code": code, "gate": "north"}), Some(&d.staff)).await.0, StatusCode::OK);
    let summary = d.summary().await;
    assert_eq!(
        summary,
        json!({"event_id": d.event_id, "sold": 2, "admitted": 1, "to_come": 1, "revoked": 1,
               "gates": [{"gate": "north", "admitted": 1}]})
    );
    let (status, _, other) = d.app.get(&format!("/checkin/events/{}/summary", d.other_event_id), Some(&d.admin)).await;
    assert_eq!((status, other["sold"].as_u64()), (StatusCode::OK, Some(0)), "{other}");
    let resp = d.app.get(&format!("/checkin/events/{}/summary", Uuid::new_v4()), Some(&d.staff)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_manifest_lists_valid_used_and_revoked_tickets_and_changes_version_with_them() {
    let d = door().await;
    let path = format!("/checkin/events/{}/manifest", d.event_id);
    let (status, _, first) = d.app.get(&path, Some(&d.staff)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["tickets"].as_array().map(Vec::len), Some(3), "{first}");
    assert_eq!(first["revoked"], json!([]));

    d.cancel_seat("B1").await;
    let (_, code) = d.ticket("A1");
    assert_eq!(d.scan(json!({"code": code, "gate": "north"}), Some(&d.staff)).await.0, StatusCode::OK);
    let (status, _, manifest) = d.app.get(&path, Some(&d.admin)).await;
    assert_eq!(status, StatusCode::OK, "{manifest}");
    assert_eq!(manifest["event_id"], d.event_id.to_string());
    assert_eq!(manifest["public_key"], serde_json::to_value(d.app.state.tickets.public_key()).unwrap());
    assert!(manifest["version"].as_i64() > first["version"].as_i64(), "a revocation changes the version");
    assert!(manifest["generated_at"].is_string());
    assert_eq!(manifest["revoked"], json!([d.ticket("B1").0]));
    let tickets = manifest["tickets"].as_array().expect("tickets");
    assert_eq!(tickets.len(), 2);
    let a1 = tickets.iter().find(|t| t["id"] == d.ticket("A1").0.to_string()).expect("A1");
    assert_eq!((a1["status"].as_str(), a1["gate"].as_str()), (Some("used"), Some("north")), "{a1}");
    assert!(a1["admitted_at"].is_string(), "{a1}");
    let a2 = tickets.iter().find(|t| t["id"] == d.ticket("A2").0.to_string()).expect("A2");
    assert_eq!(a2["status"], "valid");
    assert!(a2.get("gate").is_none() && a2.get("admitted_at").is_none(), "{a2}");
    assert_eq!(a2["seat_label"], "Row A · Seat 2");
    assert!(a2["holder_name"].is_string());

    let resp = d.app.get(&format!("/checkin/events/{}/manifest", Uuid::new_v4()), Some(&d.staff)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_sync_batch_answers_each_scan_in_order_and_a_replay_changes_nothing() {
    let d = door().await;
    d.cancel_seat("B1").await;
    let (a1, a1_code) = d.ticket("A1");
    let (a2, a2_code) = d.ticket("A2");
    let (b1, b1_code) = d.ticket("B1");
    let early = Utc::now() - Duration::minutes(10);
    let late = Utc::now() - Duration::minutes(5);
    // A2 was admitted online at the north gate before the offline gate syncs.
    assert_eq!(d.scan(json!({"code": a2_code, "gate": "north"}), Some(&d.staff)).await.0, StatusCode::OK);
    let unknown = d.app.state.tickets.code(&unissued_ticket(d.event_id));
    let foreign_event = d.app.state.tickets.code(&unissued_ticket(d.other_event_id));
    let scan =
        |code: &str, at: DateTime<Utc>| json!({"scan_id": Uuid::new_v4(), "code": code, "scanned_at": rfc3339(at)});
    let scans = vec![
        scan(a1_code, early),
        scan(a1_code, late),
        scan(a2_code, early),
        scan(b1_code, early),
        scan("PE1.not-a-code", early),
        scan(&foreign_event, early),
        scan(&unknown, early),
    ];
    let batch = json!({"event_id": d.event_id, "gate": "east", "scans": scans});
    let (status, _, first) = d.sync(batch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let results = first["results"].as_array().expect("results");
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap_or("")).collect();
    assert_eq!(
        statuses,
        [
            "admitted",
            "already_checked_in",
            "already_checked_in",
            "ticket_revoked",
            "invalid_ticket",
            "wrong_event",
            "not_found"
        ]
    );
    for (result, sent) in results.iter().zip(&scans) {
        assert_eq!(result["scan_id"], sent["scan_id"], "answered in order");
    }
    assert_eq!(results[0]["ticket_id"], a1.to_string());
    assert_eq!(
        (results[0]["gate"].as_str(), results[0]["checked_in_at"].as_str()),
        (Some("east"), Some(rfc3339(early).as_str()))
    );
    assert_eq!(results[0]["seat_label"], "Row A · Seat 1");
    // The duplicate names the winning scan: the offline gate's, at its own time.
    assert_eq!(
        (results[1]["gate"].as_str(), results[1]["checked_in_at"].as_str()),
        (Some("east"), Some(rfc3339(early).as_str()))
    );
    assert_eq!(
        (results[2]["ticket_id"].as_str(), results[2]["gate"].as_str()),
        (Some(a2.to_string().as_str()), Some("north"))
    );
    assert_eq!(results[3]["ticket_id"], b1.to_string());
    assert!(results[4].get("ticket_id").is_none(), "{}", results[4]);

    let before = d.summary().await;
    let (status, _, replay) = d.sync(batch).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay, first, "a replayed batch answers the same");
    assert_eq!(d.summary().await, before, "and changes nothing");
    assert_eq!(before["admitted"], 2);
    assert_eq!(before["gates"], json!([{"gate": "east", "admitted": 1}, {"gate": "north", "admitted": 1}]));
}

#[tokio::test]
async fn a_scan_keeps_its_own_gate_over_the_batchs() {
    let d = door().await;
    let (_, code) = d.ticket("A1");
    let body = json!({"event_id": d.event_id, "gate": "east",
                      "scans": [{"scan_id": Uuid::new_v4(), "code": code, "scanned_at": rfc3339(Utc::now()), "gate": "west"}]});
    let (status, _, answer) = d.sync(body).await;
    assert_eq!((status, answer["results"][0]["gate"].as_str()), (StatusCode::OK, Some("west")), "{answer}");
}

#[tokio::test]
async fn bad_scan_and_sync_bodies_are_refused_with_the_contracts_errors() {
    let d = door().await;
    let (_, code) = d.ticket("A1");
    let one = |code: &str| json!({"scan_id": Uuid::new_v4(), "code": code, "scanned_at": rfc3339(Utc::now())});
    let too_many: Vec<Value> = (0..501).map(|_| one("PE1.x")).collect();
    let cases = [
        (json!({"event_id": d.event_id, "scans": []}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({"event_id": d.event_id, "scans": too_many}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({"scans": [one(code)]}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            json!({"event_id": d.event_id, "scans": [{"code": code}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"event_id": d.event_id, "gate": "", "scans": [one(code)]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (json!({"event_id": "nope", "scans": [one(code)]}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ];
    for (body, status, error) in cases {
        let resp = d.sync(body.clone()).await;
        assert_error(&resp, status, error);
    }
    let resp = d.scan(json!({"code": code, "gate": "x".repeat(41)}), Some(&d.staff)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_error(
        &d.scan(json!({"gate": "north"}), Some(&d.staff)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_error(
        &d.scan(json!({"code": 7}), Some(&d.staff)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let raw = axum::http::Request::builder()
        .method("POST")
        .uri("/checkin/scan")
        .header("authorization", format!("Bearer {}", d.staff))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .expect("a request");
    assert_error(&d.app.send(raw).await, StatusCode::BAD_REQUEST, "invalid_json");
    assert_eq!(d.summary().await["admitted"], 0, "no refused body admitted anyone");
}

/// The sync route takes more than the API's usual 64 KiB, and its 413 names its own limit.
#[tokio::test]
async fn a_sync_body_over_its_limit_is_413_naming_256_kib() {
    let d = door().await;
    let body = json!({"event_id": d.event_id, "scans": [], "pad": "x".repeat(260 * 1024)});
    let resp = d.sync(body).await;
    assert_error(&resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(detail(&resp), "The request body is larger than the 256 KiB this request accepts.");
}

#[tokio::test]
async fn a_full_batch_of_500_scans_fits_the_sync_body_limit() {
    let d = door().await;
    let (_, code) = d.ticket("A1");
    let scans: Vec<Value> = (0..500)
        .map(|_| json!({"scan_id": Uuid::new_v4(), "code": code, "scanned_at": rfc3339(Utc::now()), "gate": "north-east-gate"}))
        .collect();
    let body = json!({"event_id": d.event_id, "scans": scans});
    assert!(body.to_string().len() > 64 * 1024, "the batch is over the API's usual 64 KiB");
    let (status, _, answer) = d.sync(body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 500);
    assert_eq!(results.iter().filter(|r| r["status"] == "admitted").count(), 1);
}
