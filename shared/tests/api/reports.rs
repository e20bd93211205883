//! `/admin/reports/*`: an event's sales report (seats sold, held, available, revenue, refunds, by
//! type, by tier and per hour) and its orders as CSV, for admins; 404 for an unknown event.
//! Access for every caller is in `authz_matrix`.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::{TestApp, assert_error, seat, tier_price};

fn report_path(event_id: Uuid) -> String {
    format!("/admin/reports/events/{event_id}")
}

/// The sum of `field` over the report's hours.
fn hours_sum(report: &Value, field: &str) -> i64 {
    report["sales_per_hour"].as_array().expect("hours").iter().map(|h| h[field].as_i64().expect("a number")).sum()
}

#[tokio::test]
async fn an_admin_sees_seats_sold_held_and_available_with_the_revenue_by_tier_type_and_hour() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, buyer) = app.customer("buyer@example.com").await;
    app.paid_booking(&buyer, event.id, &[seat(&venue, "A1"), seat(&venue, "B1")]).await;
    assert_eq!(app.reserve(&buyer, event.id, seat(&venue, "A2")).await.0, StatusCode::CREATED);

    let (status, _, report) = app.get(&report_path(event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (standard, vip) = (tier_price("standard"), tier_price("vip"));
    assert_eq!(report["event_id"], json!(event.id));
    assert_eq!(
        [&report["seats"], &report["sold"], &report["held"], &report["available"]],
        [&json!(6), &json!(2), &json!(1), &json!(3)],
        "{report}"
    );
    assert_eq!(report["revenue_cents"], json!(standard + vip));
    assert_eq!(report["refunded_cents"], json!(0));
    assert_eq!(report["by_type"], json!([{"ticket_type": "standard", "sold": 2, "revenue_cents": standard + vip}]));
    assert_eq!(
        report["by_tier"],
        json!([
            {"tier": "standard", "seats": 4, "sold": 1, "held": 1, "available": 2, "revenue_cents": standard},
            {"tier": "vip", "seats": 2, "sold": 1, "held": 0, "available": 1, "revenue_cents": vip},
        ])
    );
    assert_eq!((hours_sum(&report, "sold"), hours_sum(&report, "revenue_cents")), (2, standard + vip), "{report}");
}

#[tokio::test]
async fn a_paid_seat_canceled_is_refunded_available_again_and_stays_in_the_hour_it_was_sold() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, buyer) = app.customer("buyer@example.com").await;
    let booking = app.paid_booking(&buyer, event.id, &[seat(&venue, "A1")]).await;
    let (status, _, body) =
        app.delete(&format!("/reservations/reservations/{}", booking.reservations[0].id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, report) = app.get(&report_path(event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((&report["sold"], &report["available"]), (&json!(0), &json!(6)), "{report}");
    assert_eq!((&report["revenue_cents"], &report["refunded_cents"]), (&json!(0), &json!(tier_price("standard"))));
    assert_eq!((hours_sum(&report, "sold"), hours_sum(&report, "revenue_cents")), (1, tier_price("standard")));
}

#[tokio::test]
async fn an_event_with_no_sale_reports_every_seat_available_and_no_hour() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;

    let (status, _, report) = app.get(&report_path(event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((&report["seats"], &report["available"], &report["sold"]), (&json!(6), &json!(6), &json!(0)));
    assert_eq!(report["sales_per_hour"], json!([]));
}

#[tokio::test]
async fn an_unknown_event_has_no_report_and_no_orders() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let unknown = Uuid::new_v4();
    assert_error(&app.get(&report_path(unknown), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    let csv = app.get(&format!("{}/orders.csv", report_path(unknown)), Some(&admin)).await;
    assert_error(&csv, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn customers_cannot_see_an_events_report_or_its_orders() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, customer) = app.customer("buyer@example.com").await;
    assert_error(&app.get(&report_path(event.id), Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden");
    let csv = app.get(&format!("{}/orders.csv", report_path(event.id)), Some(&customer)).await;
    assert_error(&csv, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn the_orders_csv_has_a_line_per_seat_sold_with_its_holder_quoted_and_no_card_data() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, buyer) = app.customer("buyer@example.com").await;
    let (status, _, body) = app.patch("/auth/me", json!({"name": "Smith, \"Ann\""}), Some(&buyer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let booking = app.paid_booking(&buyer, event.id, &[seat(&venue, "A1"), seat(&venue, "B2")]).await;

    let (status, headers, body) = app.get(&format!("{}/orders.csv", report_path(event.id)), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment; filename=\"orders-"));
    let csv = body.as_str().expect("CSV text");
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines[0], proeventa_core::api::reports::ORDERS_CSV_HEADER);
    assert_eq!(lines.len(), 3, "{csv}");
    for (line, (row, seat_number, tier)) in lines[1..].iter().zip([("A", 1, "standard"), ("B", 2, "vip")]) {
        assert!(line.starts_with(&format!("{},", booking.id)), "{line}");
        let expected = format!(",{row},{seat_number},{tier},{},0,EUR,\"Smith, \"\"Ann\"\"\",valid,", tier_price(tier));
        assert!(line.contains(&expected), "{line} does not hold {expected}");
    }
    assert!(!csv.contains("4242424242424242") && !csv.contains("4242 4242"), "no card number: {csv}");
    assert!(!lines[0].contains("card") && !lines[0].contains("password"), "{}", lines[0]);
}

#[tokio::test]
async fn the_sales_window_shows_the_days_sales_and_refunds_per_event_and_refuses_a_bad_window() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, buyer) = app.customer("buyer@example.com").await;
    let booking = app.paid_booking(&buyer, event.id, &[seat(&venue, "A1"), seat(&venue, "B1")]).await;
    let (status, _, body) =
        app.delete(&format!("/reservations/reservations/{}", booking.reservations[0].id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (standard, vip) = (tier_price("standard"), tier_price("vip"));

    // The default window: the last 30 days, up to now.
    let (status, _, report) = app.get("/admin/reports/sales", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((&report["sold"], &report["refunded"]), (&json!(2), &json!(1)), "{report}");
    assert_eq!(
        report["by_currency"],
        json!([{"currency": "EUR", "sold": 2, "revenue_cents": standard + vip, "refunded": 1, "refunded_cents": standard}])
    );
    assert_eq!(report["by_event"][0]["event_id"], json!(event.id));
    assert_eq!(report["by_event"][0]["sold"], json!(2));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(report["per_day"][0]["day"], json!(today), "{report}");

    // Dates: a day alone is its whole UTC day; yesterday saw nothing.
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let (status, _, report) =
        app.get(&format!("/admin/reports/sales?from={yesterday}&to={yesterday}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((&report["sold"], &report["by_event"]), (&json!(0), &json!([])), "{report}");

    let reversed = app.get(&format!("/admin/reports/sales?from={today}&to={yesterday}"), Some(&admin)).await;
    assert_error(&reversed, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let long = app.get("/admin/reports/sales?from=2020-01-01&to=2026-01-01", Some(&admin)).await;
    assert_error(&long, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_error(
        &app.get("/admin/reports/sales?from=soon", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    let (_, customer) = app.customer("other@example.com").await;
    assert_error(&app.get("/admin/reports/sales", Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn revenue_is_what_was_paid_after_a_code_and_the_csv_shows_each_seats_discount() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (_, buyer) = app.customer("buyer@example.com").await;
    let resp = app.post("/admin/codes", json!({"code": "TWENTY", "kind": "percent", "value": 20}), Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let resp = app.reserve_many(&buyer, event.id, &[seat(&venue, "A1"), seat(&venue, "A2")]).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let booking_id = resp.2["id"].clone();
    let resp =
        app.post("/payments/checkout", json!({"booking_id": booking_id, "promo_code": "twenty"}), Some(&buyer)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    // 20 % of 2 × 1500.
    assert_eq!((&resp.2["amount_cents"], &resp.2["discount_cents"]), (&json!(2400), &json!(600)));
    let year = chrono::Datelike::year(&chrono::Utc::now()) + 2;
    let card = json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": year, "cvc": "123"});
    let paid = app.post(&format!("/payments/{}/confirm", resp.2["id"].as_str().unwrap()), card, Some(&buyer)).await;
    assert_eq!(paid.0, StatusCode::OK, "{}", paid.2);

    let (_, _, report) = app.get(&report_path(event.id), Some(&admin)).await;
    assert_eq!((&report["revenue_cents"], &report["by_type"][0]["revenue_cents"]), (&json!(2400), &json!(2400)));
    let (_, _, sales) = app.get("/admin/reports/sales", Some(&admin)).await;
    assert_eq!(sales["by_currency"][0]["revenue_cents"], json!(2400), "{sales}");
    let (_, _, csv) = app.get(&format!("{}/orders.csv", report_path(event.id)), Some(&admin)).await;
    let lines: Vec<&str> = csv.as_str().expect("CSV text").split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 3);
    for line in &lines[1..] {
        assert!(line.contains(&format!(",standard,{},300,EUR,", tier_price("standard"))), "{line}");
    }
}
