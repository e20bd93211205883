//! The authorization matrix: every operation the OpenAPI document lists (read from
//! `proeventa_core::api::openapi()`, so a new route is covered the day it is added) × every kind of
//! caller — anonymous, the owning customer, another customer, door staff, an admin, a disabled account, and
//! tokens that are expired, tampered with, `alg: none`, or signed with another secret. Each answer
//! must be the one API.md gives, be a status the document lists for that operation, never a 5xx,
//! and never leak a password (hash) or the owner's data to someone else.

use std::collections::BTreeMap;

use crate::http::{JWT_SECRET, PASSWORD, Resp, TestApp, assert_error, base64url, event_body, parse};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Datelike, Utc};
use proeventa_core::auth::{Claims, TokenKeys};
use proeventa_core::domain::{
    Booking, CLAIM_LEASE, CodeDraft, CodeKind, DeliveryOutcome, Email, Event, HoldLimit, HoldRequest, HoldTtl,
    MessageFacts, NewCode, NewWebhook, Payment, ResetRequest, ResetToken, Role, SeatSelection, Settlement, User,
    UserChanges, VenueWithSeats,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// Who may call an operation, as API.md's `auth` column says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// `–`: anyone, with or without a token (a token is ignored).
    Public,
    /// `HMAC`: the payment webhook; bearer tokens mean nothing to it.
    Signed,
    /// `user`: any enabled account.
    User,
    /// `self or admin` / `owner or admin`: the owner of the resource in the path, or an admin.
    OwnerOrAdmin,
    /// `owner`: only the buyer (checkout, confirm), not even an admin.
    Owner,
    /// `admin`.
    Admin,
    /// `staff`: door staff or an admin (admins can do everything staff can).
    Staff,
    /// `owner or admin, else 404`: a ticket (its id travels in every code), hidden from anyone else.
    TicketOwnerOrAdmin,
    /// `queue ticket`: the `X-Queue-Token` a join hands out, not a bearer token.
    QueueTicket,
}

/// API.md's auth column, by operation. An operation of the document that is missing here fails
/// the matrix, so a new route cannot ship without its access rule being written down.
fn access(method: &str, path: &str) -> Option<Access> {
    use Access::*;
    Some(match (method, path) {
        ("get", "/" | "/health" | "/openapi.json" | "/docs" | "/redoc" | "/redoc/redoc.standalone.js") => Public,
        ("post", "/auth/signup" | "/auth/login") => Public,
        ("post", "/auth/password-reset" | "/auth/password-reset/confirm") => Public,
        ("get" | "patch", "/auth/me") => User,
        ("get", "/auth/users/{user_id}") => OwnerOrAdmin,
        ("get", "/auth/users") | ("patch", "/auth/users/{user_id}") => Admin,
        (
            "get",
            "/events/venues" | "/events/venues/{venue_id}" | "/events/venues/{venue_id}/layout" | "/events/events",
        ) => Public,
        (
            "get",
            "/events/events/{event_id}" | "/events/events/{event_id}/seats" | "/events/events/{event_id}/seat-states",
        ) => Public,
        ("post", "/events/venues" | "/events/events") | ("patch" | "delete", "/events/events/{event_id}") => Admin,
        ("patch", "/events/venues/{venue_id}") => Admin,
        ("put" | "delete", "/events/events/{event_id}/poster") => Admin,
        ("post", "/reservations/reservations/reserve") => User,
        ("get", "/reservations/reservations/user/{user_id}") => OwnerOrAdmin,
        ("get", "/reservations/reservations/event/{event_id}" | "/reservations/reservations") => Admin,
        ("get" | "delete", "/reservations/reservations/{reservation_id}" | "/reservations/bookings/{booking_id}") => {
            OwnerOrAdmin
        }
        ("post", "/reservations/bookings/{booking_id}/extend") => OwnerOrAdmin,
        ("get", "/payments/config") => Public,
        ("post", "/payments/checkout" | "/payments/{payment_id}/confirm") => Owner,
        ("get", "/payments/{payment_id}") => OwnerOrAdmin,
        ("get", "/payments") => User,
        ("post", "/payments/webhook") => Signed,
        ("get", "/reservations/tickets") => User,
        (
            "get",
            "/reservations/tickets/{ticket_id}"
            | "/reservations/tickets/{ticket_id}/qr.svg"
            | "/reservations/tickets/{ticket_id}/ticket.pdf"
            | "/reservations/tickets/{ticket_id}/calendar.ics"
            | "/reservations/bookings/{booking_id}/tickets.pdf",
        ) => TicketOwnerOrAdmin,
        ("get", "/checkin/key") => Public,
        ("post", "/checkin/scan" | "/checkin/sync") => Staff,
        ("get", "/checkin/events/{event_id}/summary" | "/checkin/events/{event_id}/manifest") => Staff,
        ("get", "/admin/messages") | ("post", "/admin/messages/{message_id}/resend") => Admin,
        ("get", "/admin/reports/events/{event_id}" | "/admin/reports/events/{event_id}/orders.csv") => Admin,
        ("get", "/admin/reports/sales") => Admin,
        ("get", "/admin/audit") => Admin,
        ("post", "/queue/events/{event_id}/join") => User,
        ("get", "/queue/events/{event_id}/status") => QueueTicket,
        ("get", "/queue/events/{event_id}/stats") => Admin,
        ("post" | "get" | "delete", "/events/events/{event_id}/waitlist") => User,
        ("get" | "post", "/admin/webhooks") | ("delete", "/admin/webhooks/{webhook_id}") => Admin,
        ("get", "/admin/webhooks/{webhook_id}/deliveries") => Admin,
        ("post", "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/replay") => Admin,
        ("get" | "post", "/admin/codes") | ("patch" | "delete", "/admin/codes/{code_id}") => Admin,
        _ => return None,
    })
}

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// Ann: owns every resource the paths name.
    Owner,
    /// Bob: another customer.
    OtherCustomer,
    /// Door staff: an account with the `staff` role.
    Staff,
    Admin,
    /// A customer disabled after the token was issued.
    Disabled,
    /// The owner's token, expired.
    Expired,
    /// The admin's token with one character of the signature changed.
    Tampered,
    /// The admin's claims with `alg: none` and no signature.
    AlgNone,
    /// The admin's claims signed with a secret that is not the server's.
    ForeignSecret,
}

const CALLERS: [Caller; 10] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::OtherCustomer,
    Caller::Staff,
    Caller::Admin,
    Caller::Disabled,
    Caller::Expired,
    Caller::Tampered,
    Caller::AlgNone,
    Caller::ForeignSecret,
];

/// What a caller must get from an operation.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// Let through: every request of the matrix is otherwise valid, so a 2xx (3xx for `/docs`).
    Allowed,
    Refused(StatusCode, &'static str),
}

fn expect(access: Access, caller: Caller) -> Expect {
    use Caller::*;
    let unauthorized = Expect::Refused(StatusCode::UNAUTHORIZED, "unauthorized");
    let forbidden = Expect::Refused(StatusCode::FORBIDDEN, "forbidden");
    let not_found = Expect::Refused(StatusCode::NOT_FOUND, "not_found");
    match (access, caller) {
        (Access::Public, _) => Expect::Allowed,
        // No caller of the matrix holds the webhook secret, nor a queue ticket.
        (Access::Signed, _) => unauthorized,
        (Access::QueueTicket, _) => Expect::Refused(StatusCode::FORBIDDEN, "queue_required"),
        (_, Anonymous | Tampered | AlgNone | ForeignSecret) => unauthorized,
        (_, Expired) => Expect::Refused(StatusCode::UNAUTHORIZED, "token_expired"),
        (_, Disabled) => forbidden,
        (Access::User, Owner | OtherCustomer | Staff | Admin) => Expect::Allowed,
        (Access::OwnerOrAdmin, Owner | Admin) => Expect::Allowed,
        (Access::OwnerOrAdmin, OtherCustomer | Staff) => forbidden,
        (Access::Owner, Owner) => Expect::Allowed,
        (Access::Owner, OtherCustomer | Staff | Admin) => forbidden,
        (Access::Admin, Admin) => Expect::Allowed,
        (Access::Admin, Owner | OtherCustomer | Staff) => forbidden,
        (Access::Staff, Staff | Admin) => Expect::Allowed,
        (Access::Staff, Owner | OtherCustomer) => forbidden,
        (Access::TicketOwnerOrAdmin, Owner | Admin) => Expect::Allowed,
        (Access::TicketOwnerOrAdmin, OtherCustomer | Staff) => not_found,
    }
}

/// Accounts, tokens and a venue shared by every cell of the matrix.
struct People {
    owner: User,
    owner_token: String,
    other_token: String,
    staff_token: String,
    admin: User,
    admin_token: String,
    disabled_token: String,
    venue: VenueWithSeats,
    /// Text of the owner's that only the owner and admins may ever see.
    owner_secrets: Vec<String>,
}

/// The resources a path names: fresh for every request that may change them.
struct Resources {
    event: Event,
    /// An event behind its waiting room (what a join is for).
    queued_event: Uuid,
    /// A sold-out event on whose waiting list every signed-in caller of the matrix already is.
    sold_out_event: Uuid,
    /// Seats A1 and A2, with a pending payment.
    booking: Booking,
    payment: Payment,
    /// Seat A3, held without a payment (what a checkout is for).
    unpaid_booking: Uuid,
    /// Seat B1, paid: its booking and its ticket (with the code the QR carries).
    paid_booking: Uuid,
    ticket: Uuid,
    code: String,
    /// The paid booking's confirmation, failed (what an admin's resend is for).
    failed_message: Uuid,
    /// A fresh password reset token of the `login@` account (what a reset's confirm is for).
    reset_token: String,
    /// An outgoing webhook endpoint, and its delivery of the paid booking's confirmation,
    /// delivered (what a replay is for).
    webhook: Uuid,
    delivery: Uuid,
    /// A promo code (what a change or a deletion of one is for).
    promo: Uuid,
}

async fn people(app: &TestApp) -> People {
    let (owner, owner_token) = app.customer("owner-ann@example.com").await;
    let (_, other_token) = app.customer("bob@example.com").await;
    let (_, staff_token) = app.staff("door-staff@example.com").await;
    let (admin, admin_token) = app.admin_user().await;
    let (disabled, disabled_token) = app.customer("dora@example.com").await;
    app.customer("login@example.com").await;
    let changes = UserChanges { disabled: Some(true), ..UserChanges::default() };
    app.state.store.update_user(disabled.id, changes).await.expect("disable dora");
    let venue = app.venue_with_rows(&admin_token, &[("A", 4, "standard"), ("B", 2, "vip")]).await;
    let owner_secrets = vec![owner.id.to_string(), owner.email.clone()];
    People { owner, owner_token, other_token, staff_token, admin, admin_token, disabled_token, venue, owner_secrets }
}

/// An event; the owner's booking of seats A1, A2 with its pending payment; the owner's unpaid hold of A3.
async fn resources(app: &TestApp, people: &People) -> Resources {
    let event = app.event(&people.admin_token, &people.venue).await;
    let queue = json!({"enabled": true, "admit_per_minute": 60, "max_active_buyers": 10, "session_minutes": 10});
    let queued_event = app.event_with(&people.admin_token, &people.venue, json!({"queue": queue})).await.id;
    let sold_out_event = sold_out_with_a_waiting_list(app, people).await;
    let seats: Vec<Uuid> = people.venue.seats.iter().take(2).map(|s| s.id).collect();
    let resp = app.reserve_many(&people.owner_token, event.id, &seats).await;
    assert_eq!(resp.0, StatusCode::CREATED, "fixture hold: {}", resp.2);
    let booking: Booking = parse(&resp.2);
    let resp = app.post("/payments/checkout", json!({"booking_id": booking.id}), Some(&people.owner_token)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "fixture checkout: {}", resp.2);
    let payment = parse(&resp.2);
    let resp = app.reserve(&people.owner_token, event.id, people.venue.seats[2].id).await;
    assert_eq!(resp.0, StatusCode::CREATED, "fixture single hold: {}", resp.2);
    let unpaid_booking = parse::<Uuid>(&resp.2["booking_id"]);
    // The endpoints of earlier cells go (all but the oldest, the shared resources'), so each
    // confirm fans out to a few endpoints, not to one per cell so far.
    for stale in app.state.store.list_webhooks().await.expect("webhooks").iter().skip(1) {
        app.state.store.delete_webhook(stale.id, None).await.expect("delete a stale webhook");
    }
    let webhook = app
        .state
        .store
        .create_webhook(
            &NewWebhook::parse("https://example.com/matrix", "matrix-secret-0123456789", &["booking.confirmed".into()])
                .expect("a webhook"),
            Utc::now(),
            None,
        )
        .await
        .expect("fixture webhook")
        .id;
    let paid_booking = app.paid_booking(&people.owner_token, event.id, &[people.venue.seats[4].id]).await.id;
    let delivery = delivered_webhook(app, webhook).await;
    let resp = app.get(&format!("/reservations/tickets?booking_id={paid_booking}"), Some(&people.owner_token)).await;
    assert_eq!(resp.0, StatusCode::OK, "fixture tickets: {}", resp.2);
    let ticket = parse::<Uuid>(&resp.2[0]["id"]);
    let code = resp.2[0]["code"].as_str().expect("a ticket code").to_owned();
    let failed_message = failed_confirmation(app, paid_booking).await;
    let reset_token = ResetToken::generate();
    let reset = ResetRequest {
        email: Email::parse("login@example.com").expect("an address"),
        token: reset_token.clone(),
        expires_at: Utc::now() + chrono::Duration::minutes(30),
    };
    assert!(app.state.store.issue_password_reset(&reset, Utc::now()).await.expect("a reset"), "login@ exists");
    let reset_token = reset_token.expose().to_owned();
    let draft = CodeDraft {
        code: format!("M{}", &Uuid::new_v4().simple().to_string()[..12]),
        kind: Some(CodeKind::Percent),
        value: Some(10),
        ..CodeDraft::default()
    };
    let promo = app
        .state
        .store
        .create_code(&NewCode::parse(draft, None).expect("a code"), Utc::now())
        .await
        .expect("fixture code")
        .id;
    Resources {
        event,
        queued_event,
        sold_out_event,
        booking,
        payment,
        unpaid_booking,
        paid_booking,
        ticket,
        code,
        failed_message,
        reset_token,
        webhook,
        delivery,
        promo,
    }
}

/// The endpoint's deliveries fanned out and settled delivered, as a delivery job would; one of them.
async fn delivered_webhook(app: &TestApp, webhook: Uuid) -> Uuid {
    let store = &app.state.store;
    store.fan_out_webhook_events(1000, Utc::now()).await.expect("fan out");
    let delivered = DeliveryOutcome { settlement: Settlement::Sent, status_code: Some(200), response: "ok".into() };
    let mut found = None;
    for claim in store.claim_deliveries(200, CLAIM_LEASE, Utc::now()).await.expect("claim") {
        let delivery = &claim.delivery;
        store.settle_delivery(delivery.id, delivery.attempts, &delivered, Utc::now()).await.expect("settle");
        if delivery.webhook_id == webhook {
            found = Some(delivery.id);
        }
    }
    found.expect("the endpoint's delivery of the confirmation")
}

/// An event whose every seat the owner holds, with the owner, the other customer, the door staff
/// and the admin on its waiting list.
async fn sold_out_with_a_waiting_list(app: &TestApp, people: &People) -> Uuid {
    let event = app.event(&people.admin_token, &people.venue).await.id;
    // Held through the store: the owner's reserves through the API are rate-limited, and the
    // other resources use them up.
    let seats = people.venue.seats.iter().map(|s| s.id).collect();
    let hold = HoldRequest {
        booking_id: Uuid::new_v4(),
        user_id: people.owner.id,
        event_id: event,
        seats: SeatSelection::parse(seats).expect("the venue's seats"),
        ttl: HoldTtl::from_seconds(600).expect("a ttl"),
        limit: HoldLimit::max(),
        admitted: false,
        presale: false,
        unlocked_types: Vec::new(),
        accessible: false,
    };
    app.state.store.hold(&hold, Utc::now()).await.expect("fixture sell-out");
    for token in [&people.owner_token, &people.other_token, &people.staff_token, &people.admin_token] {
        let resp = app.post(&format!("/events/events/{event}/waitlist"), json!({"seats": 1}), Some(token)).await;
        assert_eq!(resp.0, StatusCode::CREATED, "fixture waiting list: {}", resp.2);
    }
    event
}

/// The booking's confirmation message, given up on as a sender would after its last attempt.
async fn failed_confirmation(app: &TestApp, booking: Uuid) -> Uuid {
    let now = Utc::now();
    let claimed = app.state.store.claim_messages(200, CLAIM_LEASE, now).await.expect("claim the outbox");
    let message = claimed
        .into_iter()
        .find(|m| matches!(m.facts, MessageFacts::BookingConfirmed { booking_id, .. } if booking_id == booking))
        .expect("the booking's confirmation in the outbox");
    let failed = Settlement::Failed { reason: "550 mailbox unavailable".into() };
    assert!(app.state.store.settle_message(message.id, message.attempts, &failed, now).await.expect("settle"));
    message.id
}

fn token_for(people: &People, caller: Caller) -> Option<String> {
    let admin_claims = || {
        let now = Utc::now().timestamp();
        Claims { sub: people.admin.id, role: Role::Admin, iat: now, exp: now + 600, ver: 0 }
    };
    match caller {
        Caller::Anonymous => None,
        Caller::Owner => Some(people.owner_token.clone()),
        Caller::OtherCustomer => Some(people.other_token.clone()),
        Caller::Staff => Some(people.staff_token.clone()),
        Caller::Admin => Some(people.admin_token.clone()),
        Caller::Disabled => Some(people.disabled_token.clone()),
        Caller::Expired => Some(TokenKeys::new(JWT_SECRET.as_bytes(), -10).issue(&people.owner).expect("token")),
        Caller::Tampered => {
            let (signed, signature) = people.admin_token.rsplit_once('.').expect("a JWT");
            let mut chars: Vec<char> = signature.chars().collect();
            chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
            Some(format!("{signed}.{}", chars.into_iter().collect::<String>()))
        }
        Caller::AlgNone => {
            let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
            let claims = base64url(&serde_json::to_vec(&admin_claims()).expect("claims"));
            Some(format!("{header}.{claims}."))
        }
        Caller::ForeignSecret => {
            let key = jsonwebtoken::EncodingKey::from_secret(b"not the server's secret at all, 0123456789");
            Some(jsonwebtoken::encode(&jsonwebtoken::Header::default(), &admin_claims(), &key).expect("token"))
        }
    }
}

/// The path with every `{param}` replaced by the owner's resource of that kind.
fn concrete_path(template: &str, people: &People, res: &Resources) -> String {
    let mut path = template.to_owned();
    let values = [
        ("{user_id}", people.owner.id),
        ("{venue_id}", people.venue.venue.id),
        ("{event_id}", res.event.id),
        ("{booking_id}", res.booking.id),
        ("{reservation_id}", res.booking.reservations[0].id),
        ("{payment_id}", res.payment.id),
        ("{ticket_id}", res.ticket),
        ("{message_id}", res.failed_message),
        ("{webhook_id}", res.webhook),
        ("{delivery_id}", res.delivery),
        ("{code_id}", res.promo),
    ];
    // Only an event behind its waiting room has a queue to join.
    if template.starts_with("/queue/") {
        path = path.replace("{event_id}", &res.queued_event.to_string());
    }
    // Only a sold-out event has a waiting list.
    if template.ends_with("/waitlist") {
        path = path.replace("{event_id}", &res.sold_out_event.to_string());
    }
    // A booking's tickets are printed once it is paid.
    if template.ends_with("/tickets.pdf") {
        path = path.replace("{booking_id}", &res.paid_booking.to_string());
    }
    for (param, value) in values {
        path = path.replace(param, &value.to_string());
    }
    assert!(!path.contains('{'), "the matrix does not know a parameter of {template}: teach `concrete_path` about it");
    path
}

/// A body that is valid for the operation when the caller is let through, so an allowed caller
/// must get a 2xx; `None` for operations without a body.
fn body_for(method: &str, path: &str, people: &People, res: &Resources) -> Option<Value> {
    let free_seat = people.venue.seats[3].id;
    Some(match (method, path) {
        ("post", "/auth/signup") => {
            json!({"email": format!("new-{}@example.com", Uuid::new_v4().simple()), "password": PASSWORD})
        }
        ("post", "/auth/login") => json!({"email": "login@example.com", "password": PASSWORD}),
        // Anyone may ask (a fresh address each time, so the per-address limit is never reached).
        ("post", "/auth/password-reset") => json!({"email": format!("reset-{}@example.com", Uuid::new_v4().simple())}),
        // The password stays the same, so the login cells keep working.
        ("post", "/auth/password-reset/confirm") => json!({"token": res.reset_token, "password": PASSWORD}),
        ("patch", "/auth/me") => json!({"name": "Renamed"}),
        ("patch", "/auth/users/{user_id}") => json!({"disabled": false}),
        ("post", "/events/venues") => json!({"name": "Hall 2", "kind": "hall", "rows": [{"row": "A", "seats": 2}]}),
        ("post", "/events/events") => event_body(&people.venue, json!({})),
        ("patch", "/events/venues/{venue_id}") => json!({"time_zone": "Europe/Madrid"}),
        ("patch", "/events/events/{event_id}") => json!({"name": "Renamed concert"}),
        ("post", "/events/events/{event_id}/waitlist") => json!({"seats": 1}),
        ("post", "/reservations/reservations/reserve") => json!({"event_id": res.event.id, "seat_id": free_seat}),
        ("post", "/payments/checkout") => json!({"booking_id": res.unpaid_booking}),
        ("post", "/payments/{payment_id}/confirm") => {
            json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": Utc::now().year() + 2, "cvc": "123"})
        }
        ("post", "/payments/webhook") => {
            json!({"id": "evt_matrix", "type": "charge.refunded", "payment_id": res.payment.id, "amount_cents": 1})
        }
        ("post", "/checkin/scan") => json!({"code": res.code, "event_id": res.event.id, "gate": "matrix"}),
        ("post", "/checkin/sync") => json!({"event_id": res.event.id, "scans": [
            {"scan_id": Uuid::new_v4(), "code": res.code, "scanned_at": Utc::now().to_rfc3339()}
        ]}),
        ("post", "/admin/webhooks") => json!({
            "url": "https://example.com/hooks", "secret": "0123456789abcdef", "events": ["booking.confirmed"]
        }),
        ("post", "/admin/codes") => {
            json!({"code": format!("N{}", &Uuid::new_v4().simple().to_string()[..12]), "kind": "fixed", "value": 100})
        }
        ("post" | "patch", _) => json!({}),
        _ => return None,
    })
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let poster_upload = method == "put" && path.ends_with("/poster");
    let method: Method = method.to_uppercase().parse().expect("method");
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if poster_upload {
        // A poster's body is the image itself.
        return builder.header(header::CONTENT_TYPE, "image/png").body(Body::from(small_png())).expect("request");
    }
    match body {
        Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

/// Every (method, path template, operation) of the served OpenAPI document.
fn operations() -> Vec<(String, String, Value)> {
    let doc = serde_json::to_value(proeventa_core::api::openapi()).expect("the document serializes");
    let paths = doc["paths"].as_object().expect("paths").clone();
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete", "options", "head", "patch", "trace"] {
            if let Some(operation) = item.get(method) {
                out.push((method.to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    out
}

/// Whether an answer is exactly the contract's error: this status, this code, `{"error","detail"}`.
fn is_error(resp: &Resp, status: StatusCode, code: &str) -> bool {
    let keys: Option<Vec<&String>> = resp.2.as_object().map(|o| o.keys().collect());
    resp.0 == status
        && resp.2["error"] == code
        && keys.is_some_and(|k| k.len() == 2)
        && resp.2["detail"].as_str().is_some_and(|d| !d.trim().is_empty())
}

/// Router tests run in `shared/`, where ReDoc's bundle (installed by `make vendor` at the
/// workspace root) is not found: its documented answer then is 503 `unavailable`.
fn redoc_not_installed(path: &str, status: StatusCode) -> bool {
    path == "/redoc/redoc.standalone.js" && status == StatusCode::SERVICE_UNAVAILABLE
}

/// Any object key anywhere in the body that names password material.
fn password_keys(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = k.to_lowercase();
                if key.contains("password") || key.contains("hash") {
                    found.push(k.clone());
                }
                password_keys(v, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| password_keys(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_operation_answers_every_kind_of_caller_as_api_md_says() {
    // Every operation is tried by every kind of caller, so the owner reserves far more often than
    // a person would in a minute: this matrix is about who may, not how often (that is tested
    // on its own in reservations.rs).
    let posters = std::env::temp_dir().join(format!("proeventa-matrix-posters-{}", Uuid::new_v4().simple()));
    let app = TestApp::with_env(&[("RESERVE_LIMIT_PER_MINUTE", "1000")]).await.keeping_posters_in(&posters);
    let people = people(&app).await;
    let shared = resources(&app, &people).await;
    let operations = operations();
    assert!(operations.len() >= 30, "the document lists only {} operations", operations.len());

    let mut failures: Vec<String> = Vec::new();
    let mut cells = 0;
    for (method, template, operation) in &operations {
        let Some(access) = access(method, template) else {
            failures.push(format!(
                "{} {template}: no access rule in the matrix (add it from API.md)",
                method.to_uppercase()
            ));
            continue;
        };
        // The document must say what the matrix checks: bearer routes declare the scheme, others don't.
        let declares_bearer =
            operation["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        let protected = !matches!(access, Access::Public | Access::Signed | Access::QueueTicket);
        if declares_bearer != protected {
            failures.push(format!(
                "{} {template}: the document {} bearer security, API.md says {access:?}",
                method.to_uppercase(),
                if declares_bearer { "declares" } else { "does not declare" }
            ));
        }
        let documented: Vec<String> =
            operation["responses"].as_object().map(|r| r.keys().cloned().collect()).unwrap_or_default();
        for caller in CALLERS {
            cells += 1;
            // Reads share one set of resources; anything that may change them gets its own.
            let fresh;
            let res = if method == "get" {
                &shared
            } else {
                fresh = resources(&app, &people).await;
                &fresh
            };
            let path = concrete_path(template, &people, res);
            let token = token_for(&people, caller);
            let body = body_for(method, template, &people, res);
            let resp: Resp = app.send(request(method, &path, token.as_deref(), body)).await;
            let what = format!("{} {path} as {caller:?} ({access:?})", method.to_uppercase());
            let status = resp.0;
            if status.is_server_error() && !redoc_not_installed(&path, status) {
                failures.push(format!("{what}: server error {status}: {}", resp.2));
            }
            if !documented.iter().any(|d| d == status.as_str() || d == "default") {
                failures.push(format!("{what}: {status} is not among the documented {documented:?}"));
            }
            match expect(access, caller) {
                Expect::Allowed => {
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        failures.push(format!("{what}: refused with {status}: {}", resp.2));
                    } else if !status.is_success() && !status.is_redirection() && !redoc_not_installed(&path, status) {
                        failures.push(format!(
                            "{what}: a valid request let through must succeed, got {status}: {}",
                            resp.2
                        ));
                    }
                }
                Expect::Refused(want, code) => {
                    if !is_error(&resp, want, code) {
                        failures.push(format!("{what}: expected {want} `{code}`, got {status}: {}", resp.2));
                    }
                }
            }
            let text = resp.2.to_string();
            if text.contains("$argon2") {
                failures.push(format!("{what}: a password hash in the body"));
            }
            let mut keys = Vec::new();
            // The document describes request fields named `password`; it holds no account's data.
            if template != "/openapi.json" {
                password_keys(&resp.2, &mut keys);
            }
            if !keys.is_empty() {
                failures.push(format!("{what}: password fields {keys:?} in the body"));
            }
            // Only the owner, an admin, and the owner's own credentials may see the owner's data;
            // door staff see who holds a ticket (its holder's name, here the e-mail) at the door.
            let may_see_owner =
                matches!(caller, Caller::Owner | Caller::Admin) || (caller == Caller::Staff && access == Access::Staff);
            if !may_see_owner {
                for secret in &people.owner_secrets {
                    if text.contains(secret.as_str()) {
                        failures.push(format!("{what}: the body shows the owner's `{secret}`: {text}"));
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&posters);
    assert!(cells >= 30 * CALLERS.len(), "only {cells} cells ran");
    assert!(failures.is_empty(), "{} of {cells} cells failed:\n{}", failures.len(), failures.join("\n"));
}

/// The owner checks are about the resource, not the route: every owned id of another customer is
/// refused, and a list filtered on another user is refused too.
#[tokio::test]
async fn another_customers_lists_are_refused_and_own_lists_hold_only_own_data() {
    let app = TestApp::new().await;
    let people = people(&app).await;
    let res = resources(&app, &people).await;
    let owner = people.owner.id;

    let resp = app.get(&format!("/payments?user_id={owner}"), Some(&people.other_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.get(&format!("/reservations/reservations/user/{owner}"), Some(&people.other_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");

    // Bob's own lists exist and hold nothing of Ann's.
    for path in ["/payments".to_owned(), "/auth/me".to_owned(), "/reservations/tickets".to_owned()] {
        let (status, _, body) = app.get(&path, Some(&people.other_token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let text = body.to_string();
        for secret in [
            owner.to_string(),
            res.booking.id.to_string(),
            res.payment.id.to_string(),
            res.paid_booking.to_string(),
            res.ticket.to_string(),
        ] {
            assert!(!text.contains(&secret), "{path} shows Bob Ann's {secret}: {text}");
        }
    }
    // Ann's own list has her payments (the pending one and the paid one), and the admin's view of
    // her has them too; the same for her ticket.
    for token in [&people.owner_token, &people.admin_token] {
        let (status, _, body) = app.get(&format!("/payments?user_id={owner}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let payments = parse::<Vec<Payment>>(&body);
        assert_eq!(payments.len(), 2, "{body}");
        assert!(payments.iter().all(|p| p.user_id == owner) && payments.iter().any(|p| p.id == res.payment.id));
        let (status, _, body) = app.get(&format!("/reservations/tickets?user_id={owner}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body.as_array().map(|t| t.iter().map(|t| t["id"].clone()).collect::<Vec<_>>()),
            Some(vec![json!(res.ticket)])
        );
    }
    let resp = app.get(&format!("/reservations/tickets?user_id={owner}"), Some(&people.other_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}

/// A refused caller changes nothing: after every refused mutating request of the matrix's
/// callers, the owner's booking is still held and the payment still pending.
#[tokio::test]
async fn refused_mutations_change_nothing() {
    let app = TestApp::new().await;
    let people = people(&app).await;
    let res = resources(&app, &people).await;
    let mut attempts: BTreeMap<String, StatusCode> = BTreeMap::new();
    for caller in CALLERS.into_iter().filter(|c| !matches!(c, Caller::Owner | Caller::Admin)) {
        let token = token_for(&people, caller);
        for (method, template) in [
            ("delete", "/reservations/reservations/{reservation_id}"),
            ("delete", "/reservations/bookings/{booking_id}"),
            ("post", "/payments/{payment_id}/confirm"),
            ("delete", "/events/events/{event_id}"),
            ("patch", "/auth/users/{user_id}"),
        ] {
            let path = concrete_path(template, &people, &res);
            let body = match method {
                "post" => body_for(method, template, &people, &res),
                "patch" => Some(json!({"disabled": true, "role": "admin"})),
                _ => None,
            };
            let (status, _, body) = app.send(request(method, &path, token.as_deref(), body)).await;
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
                "{method} {path} as {caller:?}: {status} {body}"
            );
            attempts.insert(format!("{method} {template} {caller:?}"), status);
        }
    }
    assert_eq!(attempts.len(), 8 * 5);
    let (_, _, booking) =
        app.get(&format!("/reservations/bookings/{}", res.booking.id), Some(&people.owner_token)).await;
    let booking: Booking = parse(&booking);
    assert!(booking.reservations.iter().all(|r| r.status.to_string() == "held"), "{booking:?}");
    let (_, _, payment) = app.get(&format!("/payments/{}", res.payment.id), Some(&people.owner_token)).await;
    assert_eq!(payment["status"], "pending", "{payment}");
    let (_, _, event) = app.get(&format!("/events/events/{}", res.event.id), None).await;
    assert_eq!(event["status"], "on_sale", "{event}");
    let (_, _, me) = app.get("/auth/me", Some(&people.owner_token)).await;
    assert_eq!((me["role"].as_str(), me["disabled"].as_bool()), (Some("customer"), Some(false)), "{me}");
}

/// A 32 × 18 PNG, the smallest honest poster upload.
fn small_png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(32, 18, |x, y| image::Rgb([(x * 7) as u8, (y * 13) as u8, 120]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("encode the test picture");
    out.into_inner()
}
