//! A buyer's tickets under `/reservations/tickets`: one per paid seat, listed newest first (by
//! booking, by user for admins, paged), read with the exact code the QR carries, shown as QR SVG,
//! PDF and calendar files; hidden (404) from other customers; still readable but no longer printed
//! (410 `ticket_revoked`) once their seat is canceled.

use axum::http::{Method, StatusCode, header};
use proeventa_core::domain::VenueWithSeats;
use serde_json::Value;
use uuid::Uuid;

use crate::http::{TestApp, assert_error, json_request, seat};

/// An admin, a venue (A1-A4 standard, B1-B2 vip), an event, and Ann with a paid booking of A1, B1.
struct World {
    app: TestApp,
    admin: String,
    venue: VenueWithSeats,
    event_id: Uuid,
    ann: Uuid,
    ann_token: String,
    bob_token: String,
    booking_id: Uuid,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (ann, ann_token) = app.customer("ann@example.com").await;
    let (_, bob_token) = app.customer("bob@example.com").await;
    let booking = app.paid_booking(&ann_token, event.id, &[seat(&venue, "A1"), seat(&venue, "B1")]).await;
    World { app, admin, venue, event_id: event.id, ann: ann.id, ann_token, bob_token, booking_id: booking.id }
}

impl World {
    async fn tickets(&self, query: &str, token: &str) -> Vec<Value> {
        let (status, _, body) = self.app.get(&format!("/reservations/tickets{query}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "tickets{query}: {body}");
        body.as_array().unwrap_or_else(|| panic!("a list: {body}")).clone()
    }

    async fn first_ticket(&self) -> Value {
        self.tickets("", &self.ann_token).await.into_iter().next().expect("Ann has a ticket")
    }

    /// A file route's status, headers and raw bytes.
    async fn file(&self, path: &str, token: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let (status, headers, bytes) = self.app.send_raw(json_request(Method::GET, path, None, Some(token))).await;
        (status, headers, bytes.to_vec())
    }
}

fn id(value: &Value) -> Uuid {
    value["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("an id in {value}"))
}

fn content_type(headers: &axum::http::HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn a_paid_booking_has_one_signed_ticket_per_seat() {
    let w = world().await;
    let tickets = w.tickets("", &w.ann_token).await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let mut labels: Vec<&str> = tickets.iter().map(|t| t["seat_label"].as_str().unwrap_or("")).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["Row A · Seat 1", "Row B · Seat 1"]);
    for ticket in &tickets {
        assert_eq!(ticket["status"], "valid", "{ticket}");
        assert_eq!(ticket["booking_id"], w.booking_id.to_string());
        assert_eq!(ticket["event_id"], w.event_id.to_string());
        for field in ["reservation_id", "seat_id", "holder_name", "tier", "price_cents", "currency", "issued_at"] {
            assert!(!ticket[field].is_null(), "{field} missing: {ticket}");
        }
        assert!(ticket["admission"].is_null(), "not admitted yet: {ticket}");
        let claims = w.app.state.tickets.verify(ticket["code"].as_str().expect("a code")).expect("the code verifies");
        assert_eq!((claims.ticket_id, claims.event_id), (id(ticket), w.event_id));
    }
    let vip = tickets.iter().find(|t| t["tier"] == "vip").expect("the vip seat's ticket");
    assert_eq!(vip["price_cents"], 4500);
}

#[tokio::test]
async fn a_seat_only_held_has_no_ticket() {
    let w = world().await;
    let resp = w.app.reserve(&w.ann_token, w.event_id, seat(&w.venue, "A2")).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    assert_eq!(w.tickets("", &w.ann_token).await.len(), 2);
    assert!(w.tickets("", &w.bob_token).await.is_empty(), "Bob bought nothing");
}

#[tokio::test]
async fn tickets_are_listed_newest_first_by_booking_and_paged() {
    let w = world().await;
    let second = w.app.paid_booking(&w.ann_token, w.event_id, &[seat(&w.venue, "A3")]).await;
    let all = w.tickets("", &w.ann_token).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["booking_id"], second.id.to_string(), "the newest booking's ticket first: {all:?}");
    let of_first = w.tickets(&format!("?booking_id={}", w.booking_id), &w.ann_token).await;
    assert_eq!(of_first.len(), 2);
    assert!(of_first.iter().all(|t| t["booking_id"] == w.booking_id.to_string()));
    let page = w.tickets("?limit=1&offset=1", &w.ann_token).await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["id"], all[1]["id"]);
    let resp = w.app.get("/reservations/tickets?limit=0", Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let resp = w.app.get("/reservations/tickets?booking_id=nope", Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn admins_list_any_users_tickets_customers_only_their_own() {
    let w = world().await;
    let by_admin = w.tickets(&format!("?user_id={}", w.ann), &w.admin).await;
    assert_eq!(by_admin.len(), 2);
    let by_booking = w.tickets(&format!("?booking_id={}", w.booking_id), &w.admin).await;
    assert_eq!(by_booking.len(), 2, "an admin lists a booking's tickets whoever bought them");
    assert_eq!(w.tickets(&format!("?user_id={}", w.ann), &w.ann_token).await.len(), 2);
    let resp = w.app.get(&format!("/reservations/tickets?user_id={}", w.ann), Some(&w.bob_token)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert!(w.tickets(&format!("?booking_id={}", w.booking_id), &w.bob_token).await.is_empty());
    let resp = w.app.get("/reservations/tickets", None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_ticket_reads_for_its_buyer_and_admins_and_is_no_one_elses() {
    let w = world().await;
    let ticket = w.first_ticket().await;
    let path = format!("/reservations/tickets/{}", id(&ticket));
    for token in [&w.ann_token, &w.admin] {
        let (status, _, body) = w.app.get(&path, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, ticket);
    }
    assert_error(&w.app.get(&path, Some(&w.bob_token)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&w.app.get(&path, None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown = format!("/reservations/tickets/{}", Uuid::new_v4());
    assert_error(&w.app.get(&unknown, Some(&w.admin)).await, StatusCode::NOT_FOUND, "not_found");
    let resp = w.app.get("/reservations/tickets/not-a-uuid", Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn the_qr_pdf_and_calendar_files_have_their_content_types() {
    let w = world().await;
    let ticket = w.first_ticket().await;
    let base = format!("/reservations/tickets/{}", id(&ticket));

    let (status, headers, svg) = w.file(&format!("{base}/qr.svg"), &w.ann_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), "image/svg+xml");
    assert!(String::from_utf8_lossy(&svg).contains("<svg"), "an SVG document");

    let (status, headers, pdf) = w.file(&format!("{base}/ticket.pdf"), &w.ann_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF document");
    let disposition = headers.get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(
        disposition.starts_with("attachment; filename=\"ticket-") && disposition.ends_with(".pdf\""),
        "{disposition}"
    );

    let (status, headers, ics) = w.file(&format!("{base}/calendar.ics"), &w.ann_token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type(&headers).starts_with("text/calendar"), "{headers:?}");
    let ics = String::from_utf8_lossy(&ics);
    assert!(ics.contains("BEGIN:VCALENDAR") && ics.contains("BEGIN:VEVENT"), "{ics}");

    let (status, headers, pdf) =
        w.file(&format!("/reservations/bookings/{}/tickets.pdf", w.booking_id), &w.ann_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let pages = String::from_utf8_lossy(&pdf).matches("/Type /Page").count()
        + String::from_utf8_lossy(&pdf).matches("/Type/Page").count();
    assert!(pages >= 2, "one page per ticket of the booking ({pages} page markers)");

    // Admins get the files too; another customer is told there is no such ticket.
    assert_eq!(w.file(&format!("{base}/ticket.pdf"), &w.admin).await.0, StatusCode::OK);
    for path in [format!("{base}/qr.svg"), format!("{base}/ticket.pdf"), format!("{base}/calendar.ics")] {
        assert_error(&w.app.get(&path, Some(&w.bob_token)).await, StatusCode::NOT_FOUND, "not_found");
    }
    let path = format!("/reservations/bookings/{}/tickets.pdf", w.booking_id);
    assert_error(&w.app.get(&path, Some(&w.bob_token)).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_unpaid_booking_has_no_tickets_pdf() {
    let w = world().await;
    let resp = w.app.reserve_many(&w.ann_token, w.event_id, &[seat(&w.venue, "A4")]).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.2);
    let booking = resp.2["id"].as_str().expect("a booking id").to_owned();
    let resp = w.app.get(&format!("/reservations/bookings/{booking}/tickets.pdf"), Some(&w.ann_token)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_canceled_seats_ticket_still_reads_revoked_but_is_no_longer_printed() {
    let w = world().await;
    let ticket = w.first_ticket().await;
    let reservation = ticket["reservation_id"].as_str().expect("a reservation id");
    let resp = w.app.delete(&format!("/reservations/reservations/{reservation}"), Some(&w.ann_token)).await;
    assert_eq!(resp.0, StatusCode::OK, "cancel the seat: {}", resp.2);

    let base = format!("/reservations/tickets/{}", id(&ticket));
    let (status, _, body) = w.app.get(&base, Some(&w.ann_token)).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("revoked")), "{body}");
    for file in ["qr.svg", "ticket.pdf"] {
        let resp = w.app.get(&format!("{base}/{file}"), Some(&w.ann_token)).await;
        assert_error(&resp, StatusCode::GONE, "ticket_revoked");
    }
    // The booking's PDF keeps the other seat's page.
    let path = format!("/reservations/bookings/{}/tickets.pdf", w.booking_id);
    assert_eq!(w.file(&path, &w.ann_token).await.0, StatusCode::OK);
    // Once every seat is canceled, there is nothing left to print.
    let resp = w.app.delete(&format!("/reservations/bookings/{}", w.booking_id), Some(&w.ann_token)).await;
    assert_eq!(resp.0, StatusCode::OK, "cancel the booking: {}", resp.2);
    assert_error(&w.app.get(&path, Some(&w.ann_token)).await, StatusCode::GONE, "ticket_revoked");
}
