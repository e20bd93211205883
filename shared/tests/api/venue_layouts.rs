//! Proves venue layouts (issue 19): `POST /events/venues` with a `layout` (sections, curved rows,
//! attributes), its validation (422 naming the problem, nothing written), the seats' new fields,
//! labels with their section, and `GET /events/venues/{venue_id}/layout` (versions, ETag, 304,
//! caching, gzip; a generated layout for plain rows), and `PATCH /events/venues/{venue_id}` with a
//! new layout (served at once, seats kept by label, 409 `venue_in_use` while an event is on sale
//! or for a booked seat left out, 422 with nothing written).

use std::io::Read;

use crate::http::{TestApp, assert_error, detail, event_body, parse};
use axum::http::{HeaderMap, Method, StatusCode};
use proeventa_core::domain::{Reservation, SeatAttribute, Venue, VenueLayoutDocument, VenueWithSeats};
use serde_json::{Value, json};
use uuid::Uuid;

/// A section of `rows` rows of `seats` seats on arcs around a stage at (50, 0), each arc 1.5
/// units further out, seats 2 units apart; seat 1 of each row is on the aisle.
fn section(name: &str, centre_x: f64, rows: usize, seats: usize) -> Value {
    let rows: Vec<Value> = (0..rows)
        .map(|r| {
            let radius = 20.0 + 1.5 * r as f64;
            let seats: Vec<Value> = (0..seats)
                .map(|i| {
                    let offset = (i as f64 - (seats as f64 - 1.0) / 2.0) * 2.0;
                    let x = centre_x + offset;
                    let y = (radius * radius - (x - 50.0) * (x - 50.0)).sqrt();
                    let mut seat = json!({"number": i + 1, "x": x, "y": y});
                    if i == 0 {
                        seat["attributes"] = json!(["aisle"]);
                    }
                    seat
                })
                .collect();
            json!({"row": (r + 1).to_string(), "tier": if r == 0 { "vip" } else { "standard" }, "seats": seats})
        })
        .collect();
    let (left, right) = (centre_x - 12.0, centre_x + 12.0);
    json!({"name": name, "shape": [[left, 10.0], [right, 10.0], [right, 40.0], [left, 40.0]], "rows": rows})
}

fn arena_layout() -> Value {
    json!({
        "width": 100,
        "height": 50,
        "stage": {"label": "Stage", "shape": [[35, 0], [65, 0], [65, 6], [35, 6]]},
        "sections": [section("Block A", 40.0, 2, 4), section("Block B", 60.0, 2, 4)],
    })
}

async fn create(app: &TestApp, admin: &str, layout: Value) -> (StatusCode, Value) {
    let body = json!({"name": "Arena", "location": "Hamburg", "kind": "arena", "layout": layout});
    let (status, _, body) = app.post("/events/venues", body, Some(admin)).await;
    (status, body)
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&'static str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = crate::http::json_request(Method::GET, path, None, None);
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().expect("a header value"));
    }
    let (status, headers, body) = app.send_raw(request).await;
    (status, headers, body.to_vec())
}

fn header_of<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn a_layout_venue_keeps_its_sections_positions_and_attributes() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (status, body) = create(&app, &admin, arena_layout()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let venue: VenueWithSeats = parse(&body);
    assert_eq!(venue.venue.seat_count, 16);
    let first = &venue.seats[0];
    assert_eq!((first.section.as_deref(), first.row.as_str(), first.seat_number), (Some("Block A"), "1", 1));
    assert_eq!(first.attributes, vec![SeatAttribute::Aisle]);
    assert!(first.x.is_some() && first.y.is_some());
    assert_eq!(first.tier, "vip");

    // The venue read answers the same seats; the seat map of an event carries the new fields.
    let (_, _, read) = app.get(&format!("/events/venues/{}", venue.venue.id), None).await;
    assert_eq!(parse::<VenueWithSeats>(&read), venue);
    let event = app.post("/events/events", event_body(&venue, json!({})), Some(&admin)).await;
    assert_eq!(event.0, StatusCode::CREATED, "{}", event.2);
    let event_id: Uuid = parse(&event.2["id"]);
    let map = app.seat_map(event_id).await;
    assert_eq!(map.len(), 16);
    let mapped = map.iter().find(|s| s.seat_id == first.id).expect("the seat is on the map");
    assert_eq!((mapped.section.as_deref(), mapped.x, mapped.y), (Some("Block A"), first.x, first.y));
    assert_eq!(mapped.attributes, vec![SeatAttribute::Aisle]);

    // Two sections both have a row 1 seat 1: each label names its section.
    let (_, customer) = app.customer("ann@example.com").await;
    let (status, _, held) = app.reserve(&customer, event_id, first.id).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let reservation: Reservation = parse(&held);
    assert_eq!(reservation.seat.section.as_deref(), Some("Block A"));
    assert_eq!(reservation.seat.on_ticket(), "Block A · Row 1 · Seat 1");
    let (_, other) = app.customer("bob@example.com").await;
    let lost = app.reserve(&other, event_id, first.id).await;
    assert_error(&lost, StatusCode::CONFLICT, "seat_unavailable");
    assert_eq!(detail(&lost), "Block A · Row 1 · Seat 1 is no longer available.");
}

#[tokio::test]
async fn a_bad_layout_is_422_naming_the_problem_and_writes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let mut cases: Vec<(Value, &str)> = Vec::new();

    let mut overlapping = arena_layout();
    overlapping["sections"][0]["rows"][0]["seats"][1]["x"] =
        overlapping["sections"][0]["rows"][0]["seats"][0]["x"].clone();
    overlapping["sections"][0]["rows"][0]["seats"][1]["y"] =
        overlapping["sections"][0]["rows"][0]["seats"][0]["y"].clone();
    cases.push((overlapping, "Block A · Row 1 · Seat 1 and Block A · Row 1 · Seat 2 are 0.00 units apart"));

    let mut duplicate = arena_layout();
    duplicate["sections"][0]["rows"][0]["seats"][1]["number"] = json!(1);
    cases.push((duplicate, "Block A · Row 1 · Seat 1 appears twice"));

    let mut outside = arena_layout();
    outside["sections"][1]["rows"][1]["seats"][3]["x"] = json!(95.0);
    cases.push((outside, "Block B · Row 2 · Seat 4 at (95, "));

    let mut unknown = arena_layout();
    unknown["sections"][0]["rows"][0]["seats"][2]["attributes"] = json!(["wheelchair", "hot_tub"]);
    cases.push((unknown, "Block A · Row 1 · Seat 3 has an unknown attribute `hot_tub`"));

    let mut empty_row = arena_layout();
    empty_row["sections"][1]["rows"][0]["seats"] = json!([]);
    cases.push((empty_row, "Block B · Row 1 must have 1 to 500 seats"));

    let mut empty_section = arena_layout();
    empty_section["sections"][1]["rows"] = json!([]);
    cases.push((empty_section, "section Block B must have 1 to 200 rows"));

    for (layout, expected) in cases {
        let body = json!({"name": "Arena", "kind": "arena", "layout": layout});
        let resp = app.post("/events/venues", body, Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains(expected), "{expected:?} not in {:?}", detail(&resp));
    }

    // Both forms, or neither.
    let both = json!({"name": "Arena", "kind": "arena", "layout": arena_layout(), "rows": [{"row": "A", "seats": 2}]});
    assert_error(
        &app.post("/events/venues", both, Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let neither = json!({"name": "Arena", "kind": "arena"});
    assert_error(
        &app.post("/events/venues", neither, Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let (_, _, venues) = app.get("/events/venues", None).await;
    assert_eq!(parse::<Vec<Venue>>(&venues), vec![], "a refused layout wrote nothing");
}

#[tokio::test]
async fn more_than_100000_seats_are_refused() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    // 201 rows of 500 seats: the count is refused before any seat is looked at.
    let seats: Vec<Value> = (1..=500).map(|n| json!({"number": n, "x": 1, "y": 1})).collect();
    let rows: Vec<Value> = (1..=201).map(|r| json!({"row": r.to_string(), "seats": seats})).collect();
    let layout = json!({"width": 10, "height": 10, "sections": [{"name": "All", "shape": [[0, 0], [10, 0], [10, 10]], "rows": rows}]});
    let (status, body) = create(&app, &admin, layout).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap_or("").contains("has 100500 seats; a venue has at most 100000"), "{body}");
}

#[tokio::test]
async fn the_layout_is_versioned_revalidated_cached_and_gzipped() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (status, body) = create(&app, &admin, arena_layout()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let venue: VenueWithSeats = parse(&body);
    let path = format!("/events/venues/{}/layout", venue.venue.id);

    let (status, headers, body) = app.get(&path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let layout: VenueLayoutDocument = parse(&body);
    assert_eq!((layout.venue_id, layout.width, layout.height), (venue.venue.id, 100.0, 50.0));
    assert_eq!(layout.stage.as_ref().map(|s| s.label.as_str()), Some("Stage"));
    let names: Vec<Option<&str>> = layout.sections.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(names, [Some("Block A"), Some("Block B")]);
    assert_eq!(layout.sections[1].shape.len(), 4);
    assert_eq!(layout.seat_count(), 16);
    let seat = &layout.sections[1].rows[1].seats[0];
    let stored = venue.seats.iter().find(|s| s.id == seat.id).expect("a seat of the venue");
    assert_eq!((seat.label.as_str(), Some(seat.x), Some(seat.y)), ("Block B · Row 2 · Seat 1", stored.x, stored.y));
    assert_eq!((seat.tier.as_str(), seat.attributes.as_slice()), ("standard", [SeatAttribute::Aisle].as_slice()));

    // Revalidation: the ETag is the version's; a short max-age without the version, a year with it.
    let etag = header_of(&headers, "etag").to_owned();
    assert_eq!(etag, format!("\"{}\"", layout.version));
    assert_eq!(header_of(&headers, "cache-control"), "public, max-age=60, must-revalidate");
    let (status, _, body) = get_with(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    let versioned = format!("{path}?version={}", layout.version);
    let (status, headers, _) = get_with(&app, &versioned, &[]).await;
    assert_eq!((status, header_of(&headers, "cache-control")), (StatusCode::OK, "public, max-age=31536000, immutable"));
    let (_, headers, _) = get_with(&app, &format!("{path}?version=stale"), &[]).await;
    assert_eq!(header_of(&headers, "cache-control"), "public, max-age=60, must-revalidate");

    // Gzip with a validator of its own.
    let (status, headers, gzipped) = get_with(&app, &path, &[("accept-encoding", "gzip")]).await;
    assert_eq!((status, header_of(&headers, "content-encoding")), (StatusCode::OK, "gzip"));
    assert_eq!(header_of(&headers, "vary"), "accept-encoding");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(gzipped.as_slice()).read_to_string(&mut plain).expect("gzip");
    assert_eq!(serde_json::from_str::<VenueLayoutDocument>(&plain).expect("a layout"), layout);
    let gzip_etag = header_of(&headers, "etag").to_owned();
    assert_ne!(gzip_etag, etag);
    let (status, _, _) = get_with(&app, &path, &[("accept-encoding", "gzip"), ("if-none-match", &gzip_etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // Another layout is another version.
    let mut moved = arena_layout();
    moved["sections"][0]["rows"][0]["seats"][0]["x"] = json!(36.5);
    let (_, other) = create(&app, &admin, moved).await;
    let other: VenueWithSeats = parse(&other);
    let (_, _, other) = app.get(&format!("/events/venues/{}/layout", other.venue.id), None).await;
    assert_ne!(parse::<VenueLayoutDocument>(&other).version, layout.version);
}

#[tokio::test]
async fn a_venue_of_plain_rows_has_a_generated_layout() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    assert!(venue.seats.iter().all(|s| s.section.is_none() && s.x.is_none() && s.attributes.is_empty()));
    let (status, _, body) = app.get(&format!("/events/venues/{}/layout", venue.venue.id), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let layout: VenueLayoutDocument = parse(&body);
    assert_eq!(layout.sections.len(), 1);
    assert_eq!(layout.sections[0].name, None);
    let rows: Vec<(&str, usize)> = layout.sections[0].rows.iter().map(|r| (r.row.as_str(), r.seats.len())).collect();
    assert_eq!(rows, [("A", 4), ("B", 2)]);
    assert_eq!(layout.sections[0].rows[1].seats[1].label, "Row B · Seat 2");
    let ids: Vec<Uuid> = layout.sections[0].rows.iter().flat_map(|r| &r.seats).map(|s| s.id).collect();
    assert_eq!(ids, venue.seats.iter().map(|s| s.id).collect::<Vec<_>>(), "every seat, in the venue's order");

    assert_error(&app.get("/events/venues/not-a-uuid/layout", None).await, StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = app.get(&format!("/events/venues/{}/layout", Uuid::new_v4()), None).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn best_available_keeps_to_the_section_asked_for() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (status, venue) = create(&app, &admin, arena_layout()).await;
    assert_eq!(status, StatusCode::CREATED, "{venue}");
    let venue: VenueWithSeats = parse(&venue);
    let (status, _, event) = app.post("/events/events", event_body(&venue, json!({})), Some(&admin)).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let (_, buyer) = app.customer("ann@example.com").await;
    let ask = |section: &str| json!({"event_id": event["id"], "best_available": {"count": 2, "tier": "standard", "section": section}});

    let (status, _, booking) = app.post("/reservations/reservations/reserve", ask("Block B"), Some(&buyer)).await;
    assert_eq!(status, StatusCode::CREATED, "{booking}");
    let sections: Vec<&str> = booking["reservations"]
        .as_array()
        .expect("reservations")
        .iter()
        .map(|r| r["seat"]["section"].as_str().expect("a section"))
        .collect();
    assert_eq!(sections, ["Block B", "Block B"], "{booking}");
    // Block B's standard row has 4 seats: the pair beside the first, then none.
    let (status, _, _) = app.post("/reservations/reservations/reserve", ask("Block B"), Some(&buyer)).await;
    assert_eq!(status, StatusCode::CREATED);
    let full = app.post("/reservations/reservations/reserve", ask("Block B"), Some(&buyer)).await;
    assert_error(&full, StatusCode::CONFLICT, "seat_unavailable");
    assert!(detail(&full).contains("in Block B"), "{}", detail(&full));
    let unknown = app.post("/reservations/reservations/reserve", ask("Block Z"), Some(&buyer)).await;
    assert_error(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&unknown).contains("best_available.section"), "{}", detail(&unknown));
}

/// The arena with a third row in Block A.
fn arena_with_a_new_row() -> Value {
    let mut layout = arena_layout();
    layout["sections"][0] = section("Block A", 40.0, 3, 4);
    layout
}

#[tokio::test]
async fn a_saved_venues_layout_is_replaced_and_the_new_one_served() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, body) = create(&app, &admin, arena_layout()).await;
    let venue: VenueWithSeats = parse(&body);
    let path = format!("/events/venues/{}/layout", venue.venue.id);
    let (_, headers, body) = app.get(&path, None).await;
    let (old, old_etag) = (parse::<VenueLayoutDocument>(&body), header_of(&headers, "etag").to_owned());

    let (status, _, body) = app
        .patch(&format!("/events/venues/{}", venue.venue.id), json!({"layout": arena_with_a_new_row()}), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let replaced: VenueWithSeats = parse(&body);
    assert_eq!(replaced.venue.seat_count, 20);
    let kept: Vec<Uuid> = venue.seats.iter().map(|s| s.id).collect();
    assert!(
        kept.iter().all(|id| replaced.seats.iter().any(|s| s.id == *id)),
        "every seat of both layouts keeps its id"
    );

    // The old validator no longer matches: the new layout, with a new version, is served.
    let (status, headers, body) = get_with(&app, &path, &[("if-none-match", &old_etag)]).await;
    assert_eq!(status, StatusCode::OK);
    let new: VenueLayoutDocument = serde_json::from_slice(&body).expect("a layout");
    assert_ne!(new.version, old.version);
    assert_eq!(header_of(&headers, "etag"), format!("\"{}\"", new.version));
    let rows: Vec<&str> = new.sections[0].rows.iter().map(|r| r.row.as_str()).collect();
    assert_eq!(rows, ["1", "2", "3"]);
    assert_eq!(new.sections[0].rows[2].seats[3].label, "Block A · Row 3 · Seat 4");
    assert_eq!(new.seat_count(), 20);

    // Audited with a summary: seat counts and versions, never the layout.
    let (_, _, audit) = app.get(&format!("/admin/audit?entity=venue:{}", venue.venue.id), Some(&admin)).await;
    let entry = &audit[0];
    assert_eq!(entry["action"], "venue.updated", "{audit}");
    assert_eq!(
        (entry["before"]["layout_seats"].as_i64(), entry["after"]["layout_seats"].as_i64()),
        (Some(16), Some(20))
    );
    assert_eq!(entry["after"]["layout_version"], new.version.as_str());
    assert!(entry["after"].get("layout").is_none(), "{entry}");

    // The old body (plain rows) replaces a layout too; the time zone may change with it.
    let rows = json!({"rows": [{"row": "A", "seats": 3}], "time_zone": "Europe/Berlin"});
    let (status, _, body) = app.patch(&format!("/events/venues/{}", venue.venue.id), rows, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plain: VenueWithSeats = parse(&body);
    assert_eq!((plain.venue.seat_count, plain.venue.time_zone.name()), (3, "Europe/Berlin"));
    let (_, _, body) = app.get(&path, None).await;
    assert_eq!(parse::<VenueLayoutDocument>(&body).sections[0].name, None);
}

#[tokio::test]
async fn a_new_layout_is_refused_while_an_event_of_the_venue_is_on_sale() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, body) = create(&app, &admin, arena_layout()).await;
    let venue: VenueWithSeats = parse(&body);
    let event = app.event_with(&admin, &venue, json!({"name": "Cup final"})).await;
    let venue_path = format!("/events/venues/{}", venue.venue.id);
    let (_, _, before) = app.get(&format!("{venue_path}/layout"), None).await;

    let resp = app.patch(&venue_path, json!({"layout": arena_with_a_new_row()}), Some(&admin)).await;
    assert_error(&resp, StatusCode::CONFLICT, "venue_in_use");
    assert!(detail(&resp).starts_with("\"Cup final\" ("), "{}", detail(&resp));
    assert!(detail(&resp).contains("is on sale at this venue; "), "{}", detail(&resp));
    let (_, _, after) = app.get(&format!("{venue_path}/layout"), None).await;
    assert_eq!(after, before, "nothing changed");

    // A seat booked for the event, which is then canceled: the layout may change, but not drop it.
    let (_, buyer) = app.customer("ann@example.com").await;
    let booked = venue.seats[0].id;
    let (status, _, booking) = app.reserve(&buyer, event.id, booked).await;
    assert_eq!(status, StatusCode::CREATED, "{booking}");
    let (status, _, _) = app.delete(&format!("/events/events/{}", event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let mut without = arena_layout();
    without["sections"][0]["rows"][0]["seats"].as_array_mut().expect("seats").remove(0);
    let resp = app.patch(&venue_path, json!({"layout": without}), Some(&admin)).await;
    assert_error(&resp, StatusCode::CONFLICT, "venue_in_use");
    assert!(detail(&resp).starts_with("Block A · Row 1 · Seat 1 was booked for an earlier event"), "{}", detail(&resp));
    let resp = app.patch(&venue_path, json!({"layout": arena_with_a_new_row()}), Some(&admin)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let (status, _, read) = app
        .get(&format!("/reservations/bookings/{}", booking["booking_id"].as_str().unwrap_or("")), Some(&buyer))
        .await;
    assert_eq!(status, StatusCode::OK, "the canceled booking still reads: {read}");
    assert_eq!(read["reservations"][0]["seat_id"], booked.to_string());
    assert_eq!(read["reservations"][0]["status"], "canceled");
}

#[tokio::test]
async fn a_bad_new_layout_is_422_and_changes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, body) = create(&app, &admin, arena_layout()).await;
    let venue: VenueWithSeats = parse(&body);
    let venue_path = format!("/events/venues/{}", venue.venue.id);
    let (_, _, before) = app.get(&format!("{venue_path}/layout"), None).await;

    let mut overlapping = arena_with_a_new_row();
    overlapping["sections"][0]["rows"][2]["seats"][1]["x"] =
        overlapping["sections"][0]["rows"][2]["seats"][0]["x"].clone();
    overlapping["sections"][0]["rows"][2]["seats"][1]["y"] =
        overlapping["sections"][0]["rows"][2]["seats"][0]["y"].clone();
    let resp = app.patch(&venue_path, json!({"layout": overlapping}), Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("Block A · Row 3 · Seat 1 and Block A · Row 3 · Seat 2"), "{}", detail(&resp));
    let both = json!({"layout": arena_layout(), "rows": [{"row": "A", "seats": 2}]});
    assert_error(
        &app.patch(&venue_path, both, Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let bad_rows = json!({"rows": [{"row": "A", "seats": 0}]});
    assert_error(
        &app.patch(&venue_path, bad_rows, Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (_, _, after) = app.get(&format!("{venue_path}/layout"), None).await;
    assert_eq!(after, before, "nothing changed");
    let (_, _, read) = app.get(&venue_path, None).await;
    assert_eq!(parse::<VenueWithSeats>(&read), venue);

    let unknown = format!("/events/venues/{}", Uuid::new_v4());
    assert_error(
        &app.patch(&unknown, json!({"layout": arena_layout()}), Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (_, customer) = app.customer("ann@example.com").await;
    let resp = app.patch(&venue_path, json!({"layout": arena_with_a_new_row()}), Some(&customer)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
}
