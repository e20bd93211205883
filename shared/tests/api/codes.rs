//! Promo and access codes (issue 21): `/admin/codes` (create, list, change, delete; 422s naming
//! the problem, 409 `code_taken`, customers refused), a checkout with `promo_code` (the amount
//! after the server's discount and `discount_cents`, 422 `invalid_code`), a confirm of a code with
//! no use left (409 `code_exhausted`, nothing charged, the seats still held, a checkout without the
//! code then works) and a presale hold with and without an access code.

use chrono::{Datelike, Duration, Utc};

use crate::http::{TestApp, assert_error, detail, parse, rfc3339, seat};
use axum::http::StatusCode;
use proeventa_core::domain::{Booking, Code, Payment, PaymentStatus, ReservationStatus};
use serde_json::{Value, json};
use uuid::Uuid;

fn card() -> Value {
    json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": Utc::now().year() + 2, "cvc": "123"})
}

async fn create_code(app: &TestApp, admin: &str, body: Value) -> Code {
    let resp = app.post("/admin/codes", body, Some(admin)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "create code: {}", resp.2);
    parse(&resp.2)
}

#[tokio::test]
async fn admins_create_list_change_and_delete_codes() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let body = json!({"code": "spring-25", "kind": "percent", "value": 25, "max_uses": 100, "tiers": ["vip"]});
    let code = create_code(&app, &admin, body.clone()).await;
    assert_eq!((code.code.as_str(), code.value, code.uses), ("SPRING-25", Some(25), 0));
    assert_error(&app.post("/admin/codes", body.clone(), Some(&admin)).await, StatusCode::CONFLICT, "code_taken");
    let upper = json!({"code": "SPRING-25", "kind": "fixed", "value": 100});
    assert_error(&app.post("/admin/codes", upper, Some(&admin)).await, StatusCode::CONFLICT, "code_taken");
    // Customers neither see nor make codes.
    assert_error(&app.get("/admin/codes", Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.post("/admin/codes", body, Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.get("/admin/codes", None).await, StatusCode::UNAUTHORIZED, "unauthorized");

    let (status, _, listed) = app.get("/admin/codes", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Vec<Code>>(&listed), std::slice::from_ref(&code));

    let path = format!("/admin/codes/{}", code.id);
    let (status, _, changed) = app.patch(&path, json!({"value": 30, "max_uses": null}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let changed: Code = parse(&changed);
    assert_eq!((changed.value, changed.max_uses), (Some(30), None));
    let resp = app.patch(&path, json!({"value": 0}), Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("value"), "{}", detail(&resp));
    let (_, _, audit) = app.get(&format!("/admin/audit?entity=code:{}", code.id), Some(&admin)).await;
    let actions: Vec<&str> = audit.as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["code.updated", "code.created"]);

    let (status, _, _) = app.delete(&path, Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.delete(&path, Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.patch(&path, json!({"value": 5}), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    let (_, _, listed) = app.get("/admin/codes", Some(&admin)).await;
    assert_eq!(listed, json!([]));
    let (_, _, audit) = app.get(&format!("/admin/audit?entity=code:{}", code.id), Some(&admin)).await;
    assert_eq!(audit[0]["action"], "code.deleted");
}

#[tokio::test]
async fn bad_codes_are_refused_naming_the_problem() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let now = Utc::now();
    let cases = [
        (json!({"code": "ab", "kind": "percent", "value": 5}), "code"),
        (json!({"code": "no spaces", "kind": "percent", "value": 5}), "code"),
        (json!({"code": "PCT", "kind": "percent", "value": 0}), "value"),
        (json!({"code": "PCT", "kind": "percent", "value": 101}), "value"),
        (json!({"code": "FIX", "kind": "fixed", "value": 0}), "value"),
        (json!({"code": "FIX", "kind": "fixed"}), "value"),
        (json!({"code": "ACC", "kind": "access", "value": 5, "event_id": Uuid::new_v4()}), "value"),
        (json!({"code": "ACC", "kind": "access"}), "event_id"),
        (json!({"code": "USES", "kind": "fixed", "value": 5, "max_uses": 0}), "max_uses"),
        (
            json!({"code": "WIN", "kind": "fixed", "value": 5, "valid_from": rfc3339(now), "valid_to": rfc3339(now - Duration::hours(1))}),
            "valid_to",
        ),
        (json!({"code": "TIER", "kind": "fixed", "value": 5, "tiers": ["<b>"]}), "tiers"),
    ];
    for (body, field) in cases {
        let resp = app.post("/admin/codes", body.clone(), Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains(field), "{body}: {}", detail(&resp));
    }
    let resp = app.post("/admin/codes", json!({"code": "KIND", "kind": "bogus", "value": 5}), Some(&admin)).await;
    assert!(resp.0.is_client_error() && resp.0 != StatusCode::NOT_FOUND, "{resp:?}");
    let (_, _, listed) = app.get("/admin/codes", Some(&admin)).await;
    assert_eq!(listed, json!([]), "nothing was written");
}

#[tokio::test]
async fn a_checkout_with_a_code_pays_the_discounted_amount() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let other = app.event(&admin, &venue).await;
    create_code(&app, &admin, json!({"code": "TENOFF", "kind": "percent", "value": 10})).await;
    create_code(&app, &admin, json!({"code": "OTHER", "kind": "fixed", "value": 100, "event_id": other.id})).await;
    create_code(&app, &admin, json!({"code": "BALCONY", "kind": "fixed", "value": 100, "tiers": ["balcony"]})).await;
    let later = rfc3339(Utc::now() + Duration::days(1));
    create_code(&app, &admin, json!({"code": "LATER", "kind": "fixed", "value": 100, "valid_from": later})).await;
    let resp = app.reserve_many(&ann, event.id, &[seat(&venue, "A1"), seat(&venue, "B1")]).await;
    let booking: Booking = parse(&resp.2);

    for (code, words) in [
        ("NOSUCH", "no such code"),
        ("OTHER", "not valid for this event"),
        ("BALCONY", "does not apply"),
        ("LATER", "not valid yet"),
        ("x", "no such code"),
    ] {
        let resp =
            app.post("/payments/checkout", json!({"booking_id": booking.id, "promo_code": code}), Some(&ann)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code");
        assert!(detail(&resp).to_lowercase().contains(words), "{code}: {}", detail(&resp));
    }
    let resp =
        app.post("/payments/checkout", json!({"booking_id": booking.id, "promo_code": "tenoff"}), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let payment: Payment = parse(&resp.2);
    // 10% of 1500 + 4500.
    assert_eq!((payment.amount_cents, payment.discount_cents), (5400, 600));
    assert_eq!(resp.2["promo_code"], "TENOFF");
    let resp = app.post(&format!("/payments/{}/confirm", payment.id), card(), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    assert_eq!((resp.2["amount_cents"].as_i64(), resp.2["status"].as_str()), (Some(5400), Some("succeeded")));
    let (_, _, listed) = app.get("/admin/codes", Some(&admin)).await;
    let tenoff = listed.as_array().expect("codes").iter().find(|c| c["code"] == "TENOFF").expect("TENOFF").clone();
    assert_eq!(tenoff["uses"], 1);

    // A refund of the canceled booking gives back what was paid, not the prices.
    let (status, _, _) = app.delete(&format!("/reservations/bookings/{}", booking.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, read) = app.get(&format!("/payments/{}", payment.id), Some(&ann)).await;
    assert_eq!((read["refunded_cents"].as_i64(), read["status"].as_str()), (Some(5400), Some("refunded")));
}

#[tokio::test]
async fn a_code_with_no_use_left_is_409_at_confirm_and_the_seats_stay_held() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let (_, bob) = app.customer("bob@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    create_code(&app, &admin, json!({"code": "LASTONE", "kind": "fixed", "value": 500, "max_uses": 1})).await;
    let anns: Booking = parse(&app.reserve_many(&ann, event.id, &[seat(&venue, "A1")]).await.2);
    let bobs: Booking = parse(&app.reserve_many(&bob, event.id, &[seat(&venue, "A2")]).await.2);
    let checkout = |token: String, booking: Uuid| {
        let app = &app;
        async move {
            let resp = app
                .post("/payments/checkout", json!({"booking_id": booking, "promo_code": "LASTONE"}), Some(&token))
                .await;
            assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
            parse::<Payment>(&resp.2)
        }
    };
    let ann_pays = checkout(ann.clone(), anns.id).await;
    let bob_pays = checkout(bob.clone(), bobs.id).await;
    assert_eq!((ann_pays.amount_cents, bob_pays.amount_cents), (1000, 1000));
    let resp = app.post(&format!("/payments/{}/confirm", ann_pays.id), card(), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);

    let resp = app.post(&format!("/payments/{}/confirm", bob_pays.id), card(), Some(&bob)).await;
    assert_error(&resp, StatusCode::CONFLICT, "code_exhausted");
    assert!(detail(&resp).contains("nothing was charged"), "{}", detail(&resp));
    let (_, _, read) = app.get(&format!("/payments/{}", bob_pays.id), Some(&bob)).await;
    assert_eq!(parse::<Payment>(&read).status, PaymentStatus::Failed, "closed, so a new checkout may follow");
    let (_, _, booking) = app.get(&format!("/reservations/bookings/{}", bobs.id), Some(&bob)).await;
    assert_eq!(parse::<Booking>(&booking).status, ReservationStatus::Held, "the seats stay held");
    // Without the code, Bob pays full price.
    let resp = app.post("/payments/checkout", json!({"booking_id": bobs.id}), Some(&bob)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let full: Payment = parse(&resp.2);
    assert_eq!((full.amount_cents, full.discount_cents), (1500, 0));
    let resp = app.post(&format!("/payments/{}/confirm", full.id), card(), Some(&bob)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
}

#[tokio::test]
async fn a_presale_hold_needs_a_valid_access_code_and_is_paid_with_it() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let opens = rfc3339(Utc::now() + Duration::days(2));
    let event = app.event_with(&admin, &venue, json!({"on_sale_at": opens})).await;
    let other = app.event(&admin, &venue).await;
    create_code(&app, &admin, json!({"code": "FANS", "kind": "access", "event_id": event.id, "max_uses": 10})).await;
    create_code(&app, &admin, json!({"code": "ELSEWHERE", "kind": "access", "event_id": other.id})).await;
    create_code(&app, &admin, json!({"code": "DISCOUNT", "kind": "percent", "value": 10})).await;
    let reserve = |code: Option<&str>| {
        let mut body = json!({"event_id": event.id, "seat_ids": [seat(&venue, "A1")]});
        if let Some(code) = code {
            body["access_code"] = json!(code);
        }
        app.post("/reservations/reservations/reserve", body, Some(&ann))
    };
    let refused = reserve(None).await;
    assert_eq!((refused.0, refused.2["error"].as_str()), (StatusCode::CONFLICT, Some("not_on_sale")), "{}", refused.2);
    for code in ["NOPE", "ELSEWHERE", "DISCOUNT"] {
        assert_error(&reserve(Some(code)).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code");
    }
    let resp = reserve(Some("fans")).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let booking: Booking = parse(&resp.2);

    // Checked out without its access code (or with a discount), a presale booking is refused.
    let resp = app.post("/payments/checkout", json!({"booking_id": booking.id}), Some(&ann)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code");
    let resp =
        app.post("/payments/checkout", json!({"booking_id": booking.id, "promo_code": "DISCOUNT"}), Some(&ann)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code");
    let resp =
        app.post("/payments/checkout", json!({"booking_id": booking.id, "promo_code": "FANS"}), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let payment: Payment = parse(&resp.2);
    assert_eq!((payment.amount_cents, payment.discount_cents), (1500, 0));
    let resp = app.post(&format!("/payments/{}/confirm", payment.id), card(), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let (_, _, listed) = app.get("/admin/codes", Some(&admin)).await;
    let fans = listed.as_array().expect("codes").iter().find(|c| c["code"] == "FANS").expect("FANS").clone();
    assert_eq!(fans["uses"], 1);
}

/// Adult (the default, visible) and members (hidden, at 900 for a standard seat, a quota of 2).
fn adult_and_hidden_members() -> Value {
    json!([
        {"name": "adult", "prices": [{"tier": "standard", "price_cents": 1500}, {"tier": "vip", "price_cents": 4500}]},
        {"name": "members", "prices": [{"tier": "standard", "price_cents": 900}, {"tier": "vip", "price_cents": 3000}],
         "quota": 2, "hidden": true},
    ])
}

fn type_names(event: &Value) -> Vec<&str> {
    event["ticket_types"].as_array().expect("types").iter().map(|t| t["name"].as_str().expect("a name")).collect()
}

#[tokio::test]
async fn a_hidden_type_is_listed_and_held_only_with_an_access_code_that_unlocks_it() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, ann) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event_with(&admin, &venue, json!({"ticket_types": adult_and_hidden_members()})).await;
    let other = app.event(&admin, &venue).await;
    create_code(&app, &admin, json!({"code": "MEMBERS", "kind": "access", "event_id": event.id, "max_uses": 5})).await;
    create_code(&app, &admin, json!({"code": "ELSEWHERE", "kind": "access", "event_id": other.id})).await;
    create_code(
        &app,
        &admin,
        json!({"code": "STAFF-ONLY", "kind": "access", "event_id": event.id, "ticket_types": ["crew"]}),
    )
    .await;
    let path = format!("/events/events/{}", event.id);

    // Listing: hidden from the public and customers, shown to admins and with the code.
    let (_, _, public) = app.get(&path, None).await;
    assert_eq!(type_names(&public), ["adult"], "{public}");
    let (_, _, customer) = app.get(&path, Some(&ann)).await;
    assert_eq!(type_names(&customer), ["adult"]);
    let (_, _, listed) = app.get("/events/events", None).await;
    let found = listed.as_array().expect("events").iter().find(|e| e["id"] == json!(event.id)).expect("listed");
    assert_eq!(type_names(found), ["adult"]);
    let (_, _, by_admin) = app.get(&path, Some(&admin)).await;
    assert_eq!(type_names(&by_admin), ["adult", "members"]);
    assert_eq!(by_admin["ticket_types"][1]["hidden"], json!(true));
    let (status, _, unlocked) = app.get(&format!("{path}?access_code=members"), None).await;
    assert_eq!(status, StatusCode::OK, "{unlocked}");
    assert_eq!(type_names(&unlocked), ["adult", "members"]);
    let (_, _, listed) = app.get("/events/events?access_code=MEMBERS", None).await;
    let found = listed.as_array().expect("events").iter().find(|e| e["id"] == json!(event.id)).expect("listed");
    assert_eq!(type_names(found), ["adult", "members"]);
    // A code for the other event, or tied to other types, unlocks nothing here.
    assert_error(
        &app.get(&format!("{path}?access_code=ELSEWHERE"), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_code",
    );
    let (_, _, tied) = app.get(&format!("{path}?access_code=STAFF-ONLY"), None).await;
    assert_eq!(type_names(&tied), ["adult"]);
    assert_error(
        &app.get("/events/events?access_code=NOPE", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_code",
    );

    // Holds: refused without the code exactly as a type the event does not sell.
    let reserve = |seat_id: Uuid, ticket_type: &str, code: Option<&str>| {
        let mut body =
            json!({"event_id": event.id, "seat_ids": [seat_id], "ticket_types": {seat_id.to_string(): ticket_type}});
        if let Some(code) = code {
            body["access_code"] = json!(code);
        }
        app.post("/reservations/reservations/reserve", body, Some(&ann))
    };
    let (a1, a2, a3) = (seat(&venue, "A1"), seat(&venue, "A2"), seat(&venue, "A3"));
    let locked = reserve(a1, "members", None).await;
    assert_error(&locked, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let unknown = reserve(a1, "nosuch", None).await;
    assert_eq!(detail(&locked).replace("members", "X"), detail(&unknown).replace("nosuch", "X"));
    assert_error(&reserve(a1, "members", Some("ELSEWHERE")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code");
    let tied = reserve(a1, "members", Some("STAFF-ONLY")).await;
    assert_eq!(detail(&tied), detail(&locked), "a code that unlocks other types unlocks nothing here");
    let resp = reserve(a1, "members", Some("members")).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let booking: Booking = parse(&resp.2);
    assert_eq!((booking.reservations[0].ticket_type.as_str(), booking.reservations[0].price_cents), ("members", 900));
    // The hidden type's quota (2) still holds.
    let (_, bob) = app.customer("bob@example.com").await;
    let body = |seat_id: Uuid| json!({"event_id": event.id, "seat_ids": [seat_id], "ticket_types": {seat_id.to_string(): "members"}, "access_code": "MEMBERS"});
    let resp = app.post("/reservations/reservations/reserve", body(a2), Some(&bob)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let full = app.post("/reservations/reservations/reserve", body(a3), Some(&bob)).await;
    assert_error(&full, StatusCode::CONFLICT, "type_sold_out");

    // Checkout: with the code that unlocked it (its use counted at confirm), never without.
    let resp = app.post("/payments/checkout", json!({"booking_id": booking.id}), Some(&ann)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code");
    let resp =
        app.post("/payments/checkout", json!({"booking_id": booking.id, "promo_code": "MEMBERS"}), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let payment: Payment = parse(&resp.2);
    assert_eq!(payment.amount_cents, 900);
    let resp = app.post(&format!("/payments/{}/confirm", payment.id), card(), Some(&ann)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let (_, _, listed) = app.get("/admin/codes", Some(&admin)).await;
    let members = listed.as_array().expect("codes").iter().find(|c| c["code"] == "MEMBERS").expect("MEMBERS").clone();
    assert_eq!(members["uses"], 1);
}

#[tokio::test]
async fn the_first_ticket_type_cannot_be_hidden() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let prices = json!([{"tier": "standard", "price_cents": 1500}, {"tier": "vip", "price_cents": 4500}]);
    let types = json!([{"name": "members", "prices": prices, "hidden": true}, {"name": "adult", "prices": prices}]);
    let resp =
        app.post("/events/events", crate::http::event_body(&venue, json!({"ticket_types": types})), Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("hidden"), "{}", resp.2);
}
