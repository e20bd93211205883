//! Proves the `/events/*` routes of API.md: venues and their seats and time zones, events
//! (creation rules, listing order, filters, hiding past and canceled ones), the live seat map,
//! changes and cancellation by admins.

use std::collections::BTreeMap;

use crate::http::{TestApp, assert_error, detail, event_body, parse, rfc3339, seat, tier_price};
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use proeventa_core::domain::{
    Category, Event, EventChanges, EventStatus, Reservation, ReservationStatus, SeatStatus, TimeZone, Venue, VenueKind,
    VenueWithSeats,
};
use serde_json::json;
use uuid::Uuid;

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

async fn list(app: &TestApp, query: &str) -> Vec<Event> {
    let (status, _, body) = app.get(&format!("/events/events{query}"), None).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    parse(&body)
}

// ---------------------------------------------------------------------------------------------
// Venues

#[tokio::test]
async fn venues_and_events_are_readable_anonymously() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;

    let (status, _, body) = app.get("/events/venues", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Vec<Venue>>(&body), vec![venue.venue.clone()]);

    let (status, _, body) = app.get(&format!("/events/venues/{}", venue.venue.id), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<VenueWithSeats>(&body), venue);

    let (status, _, body) = app.get("/events/events", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Vec<Event>>(&body), vec![event.clone()]);

    let (status, _, body) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse::<Event>(&body), event);

    let (status, _, _) = app.get(&format!("/events/events/{}/seats", event.id), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn admin_creates_a_venue_with_seats_numbered_1_to_n_per_row() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (status, _, body) = app
        .post(
            "/events/venues",
            json!({
                "name": "Odeon 1",
                "location": "Harbour Road",
                "kind": "cinema",
                "rows": [
                    {"row": "A", "seats": 3, "tier": "standard"},
                    {"row": "b", "seats": 2, "tier": "VIP"},
                    {"row": "C", "seats": 1},
                ],
            }),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let venue: VenueWithSeats = parse(&body);
    assert_eq!(
        (venue.venue.name.as_str(), venue.venue.location.as_str(), venue.venue.kind, venue.venue.seat_count),
        ("Odeon 1", "Harbour Road", VenueKind::Cinema, 6)
    );
    let mut rows: BTreeMap<&str, Vec<(i32, &str)>> = BTreeMap::new();
    for s in &venue.seats {
        rows.entry(s.row.as_str()).or_default().push((s.seat_number, s.tier.as_str()));
    }
    for seats in rows.values_mut() {
        seats.sort();
    }
    assert_eq!(
        rows,
        BTreeMap::from([
            ("A", vec![(1, "standard"), (2, "standard"), (3, "standard")]),
            ("B", vec![(1, "vip"), (2, "vip")]),
            ("C", vec![(1, "standard")]),
        ])
    );
    let (_, _, stored) = app.get(&format!("/events/venues/{}", venue.venue.id), None).await;
    assert_eq!(parse::<VenueWithSeats>(&stored), venue);
}

#[tokio::test]
async fn creating_a_venue_is_admin_only() {
    let app = TestApp::new().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let body = json!({"name": "Hall", "kind": "hall", "rows": [{"row": "A", "seats": 2}]});
    let resp = app.post("/events/venues", body.clone(), Some(&customer)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.post("/events/venues", body, None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, _, venues) = app.get("/events/venues", None).await;
    assert_eq!(venues, json!([]));
}

#[tokio::test]
async fn venue_with_bad_rows_is_422() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let bad_rows = [
        json!([]),
        json!([{"row": "A", "seats": 0}]),
        json!([{"row": "A", "seats": -3}]),
        json!([{"row": "A", "seats": 501}]),
        json!([{"row": "A", "seats": 2}, {"row": "a", "seats": 2}]),
        json!([{"row": "", "seats": 2}]),
        json!([{"row": "A-1", "seats": 2}]),
    ];
    for rows in bad_rows {
        let resp =
            app.post("/events/venues", json!({"name": "Hall", "kind": "hall", "rows": rows}), Some(&admin)).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).contains("rows"), "{rows}: {}", detail(&resp));
    }
    let (_, _, venues) = app.get("/events/venues", None).await;
    assert_eq!(venues, json!([]));
}

// ---------------------------------------------------------------------------------------------
// Venue time zones

fn zone(name: &str) -> TimeZone {
    TimeZone::parse(name).expect("a time zone")
}

async fn create_venue(app: &TestApp, admin: &str, extra: serde_json::Value) -> crate::http::Resp {
    let mut body = json!({"name": "Teatro", "kind": "theatre", "rows": [{"row": "A", "seats": 2}]});
    body.as_object_mut().expect("an object").extend(extra.as_object().expect("an object").clone());
    app.post("/events/venues", body, Some(admin)).await
}

#[tokio::test]
async fn a_venue_keeps_its_time_zone_and_its_events_carry_it() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (status, _, body) = create_venue(&app, &admin, json!({"time_zone": "Europe/Madrid"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["time_zone"], "Europe/Madrid");
    let venue: VenueWithSeats = parse(&body);
    let (_, _, listed) = app.get("/events/venues", None).await;
    assert_eq!(listed[0]["time_zone"], "Europe/Madrid");
    let event = app.event(&admin, &venue).await;
    assert_eq!(event.venue.time_zone, zone("Europe/Madrid"));
    let (_, _, read) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(read["venue"]["time_zone"], "Europe/Madrid");
    let (_, _, listed) = app.get("/events/events", None).await;
    assert_eq!(listed[0]["venue"]["time_zone"], "Europe/Madrid");
}

#[tokio::test]
async fn a_venue_created_without_a_time_zone_is_in_utc() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    assert_eq!(venue.venue.time_zone, TimeZone::UTC);
    let (_, _, read) = app.get(&format!("/events/venues/{}", venue.venue.id), None).await;
    assert_eq!(read["time_zone"], "UTC");
}

#[tokio::test]
async fn an_unknown_time_zone_is_422_with_a_sentence_and_nothing_is_created() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for name in ["Mars/Olympus_Mons", "Europe/Hamburg", "US/Eastern", "EST", "Etc/GMT+5", ""] {
        let resp = create_venue(&app, &admin, json!({"time_zone": name})).await;
        assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(detail(&resp).starts_with("time_zone must be an IANA time zone"), "{name}: {}", detail(&resp));
        assert!(detail(&resp).contains("Europe/Madrid"), "the sentence gives an example: {}", detail(&resp));
    }
    let resp = create_venue(&app, &admin, json!({"time_zone": 7})).await;
    assert_eq!(resp.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", resp.2);
    let (_, _, venues) = app.get("/events/venues", None).await;
    assert_eq!(venues, json!([]));
}

#[tokio::test]
async fn an_admin_changes_a_venue_s_time_zone_and_its_events_show_the_new_one() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let path = format!("/events/venues/{}", venue.venue.id);

    let (status, _, body) = app.patch(&path, json!({"time_zone": "America/New_York"}), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed: VenueWithSeats = parse(&body);
    assert_eq!(changed.venue.time_zone, zone("America/New_York"));
    assert_eq!(changed.seats, venue.seats, "the seats are untouched");
    let (_, _, read) = app.get(&path, None).await;
    assert_eq!(parse::<VenueWithSeats>(&read), changed);
    let (_, _, read) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(read["venue"]["time_zone"], "America/New_York");

    // An empty change changes nothing; a bad zone is refused and changes nothing either.
    let (status, _, body) = app.patch(&path, json!({}), Some(&admin)).await;
    assert_eq!((status, parse::<VenueWithSeats>(&body)), (StatusCode::OK, changed.clone()));
    let resp = app.patch(&path, json!({"time_zone": "America/Springfield"}), Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (_, _, read) = app.get(&path, None).await;
    assert_eq!(read["time_zone"], "America/New_York");
}

#[tokio::test]
async fn changing_a_venue_s_time_zone_is_admin_only_and_needs_a_known_venue() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let path = format!("/events/venues/{}", venue.venue.id);
    let change = json!({"time_zone": "Asia/Tokyo"});
    assert_error(&app.patch(&path, change.clone(), Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.patch(&path, change.clone(), None).await, StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown = format!("/events/venues/{}", Uuid::new_v4());
    assert_error(&app.patch(&unknown, change.clone(), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found");
    let resp = app.patch("/events/venues/not-a-uuid", change, Some(&admin)).await;
    assert_error(&resp, StatusCode::BAD_REQUEST, "invalid_request");
    let (_, _, read) = app.get(&path, None).await;
    assert_eq!(read["time_zone"], "UTC");
}

// ---------------------------------------------------------------------------------------------
// Creating events

#[tokio::test]
async fn admin_creates_an_event() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let start = Utc::now() + Duration::days(10);
    let (status, _, body) = app
        .post(
            "/events/events",
            event_body(&venue, json!({"name": "Hamlet", "category": "theatre", "start_time": rfc3339(start)})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let event: Event = parse(&body);
    assert_eq!(event.name, "Hamlet");
    assert_eq!(event.category, Category::Theatre);
    assert_eq!(event.status, EventStatus::OnSale);
    assert_eq!(event.currency, "EUR");
    assert_eq!(rfc3339(event.start_time), rfc3339(start));
    assert_eq!(
        (event.venue_id, event.venue.id, event.venue.name.as_str()),
        (venue.venue.id, venue.venue.id, "Test Hall")
    );
    let prices: BTreeMap<&str, i64> = event.prices.iter().map(|p| (p.tier.as_str(), p.price_cents)).collect();
    assert_eq!(prices, BTreeMap::from([("standard", 1500), ("vip", 4500)]));
    assert_eq!((event.seats_total, event.seats_available), (6, 6));
    let (_, _, stored) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&stored), event);
}

#[tokio::test]
async fn creating_an_event_is_admin_only() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let resp = app.post("/events/events", event_body(&venue, json!({})), Some(&customer)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.post("/events/events", event_body(&venue, json!({})), None).await;
    assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn event_without_a_price_for_a_venue_tier_is_422() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let body = event_body(&venue, json!({"prices": [{"tier": "standard", "price_cents": 1500}]}));
    let resp = app.post("/events/events", body, Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("prices") && detail(&resp).contains("vip"), "{}", detail(&resp));
    assert_eq!(list(&app, "?include_past=true").await, vec![]);
}

#[tokio::test]
async fn event_starting_in_the_past_is_422() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let body = event_body(&venue, json!({"start_time": rfc3339(Utc::now() - Duration::hours(1))}));
    let resp = app.post("/events/events", body, Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("start_time"), "{}", detail(&resp));
}

#[tokio::test]
async fn event_at_an_unknown_venue_is_422() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let body = event_body(&venue, json!({"venue_id": Uuid::new_v4()}));
    let resp = app.post("/events/events", body, Some(&admin)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("venue_id"), "{}", detail(&resp));
}

// ---------------------------------------------------------------------------------------------
// Listing events

#[tokio::test]
async fn events_are_listed_soonest_first() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    for (name, days) in [("in 20 days", 20), ("in 2 days", 2), ("in 9 days", 9)] {
        let start = rfc3339(Utc::now() + Duration::days(days));
        app.event_with(&admin, &venue, json!({"name": name, "start_time": start})).await;
    }
    assert_eq!(names(&list(&app, "").await), vec!["in 2 days", "in 9 days", "in 20 days"]);
    assert_eq!(names(&list(&app, "?limit=2&offset=1").await), vec!["in 9 days", "in 20 days"]);
}

#[tokio::test]
async fn past_and_canceled_events_are_hidden_unless_include_past() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let upcoming = app.event_with(&admin, &venue, json!({"name": "upcoming"})).await;
    let past = app.event_with(&admin, &venue, json!({"name": "past"})).await;
    let canceled = app.event_with(&admin, &venue, json!({"name": "canceled"})).await;
    // The API refuses a past start time, so the store moves this one into the past.
    let moved = app
        .state
        .store
        .update_event(past.id, EventChanges { start_time: Some(Utc::now() - Duration::days(1)), ..Default::default() })
        .await
        .unwrap();
    assert!(moved.is_some());
    let (status, _, _) = app.delete(&format!("/events/events/{}", canceled.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(names(&list(&app, "").await), vec![upcoming.name.as_str()]);
    assert_eq!(names(&list(&app, "?include_past=false").await), vec!["upcoming"]);
    let everything = list(&app, "?include_past=true").await;
    let mut all = names(&everything);
    all.sort();
    assert_eq!(all, vec!["canceled", "past", "upcoming"]);
}

#[tokio::test]
async fn patching_an_event_to_a_past_start_time_is_422() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let resp = app
        .patch(
            &format!("/events/events/{}", event.id),
            json!({"start_time": rfc3339(Utc::now() - Duration::hours(2))}),
            Some(&admin),
        )
        .await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("start_time"), "{}", detail(&resp));
    let (_, _, stored) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&stored).start_time, event.start_time);
}

#[tokio::test]
async fn events_filter_by_category() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    app.event_with(&admin, &venue, json!({"name": "Film", "category": "movie"})).await;
    app.event_with(&admin, &venue, json!({"name": "Gig", "category": "concert"})).await;
    assert_eq!(names(&list(&app, "?category=movie").await), vec!["Film"]);
    assert_eq!(names(&list(&app, "?category=concert").await), vec!["Gig"]);
    assert_eq!(names(&list(&app, "?category=sport").await), Vec::<&str>::new());
}

#[tokio::test]
async fn events_filter_by_venue_id() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let here = app.small_venue(&admin).await;
    let there = app.venue_with_rows(&admin, &[("A", 2, "standard")]).await;
    app.event_with(&admin, &here, json!({"name": "Here"})).await;
    app.event_with(&admin, &there, json!({"name": "There"})).await;
    assert_eq!(names(&list(&app, &format!("?venue_id={}", here.venue.id)).await), vec!["Here"]);
    assert_eq!(names(&list(&app, &format!("?venue_id={}", there.venue.id)).await), vec!["There"]);
    assert_eq!(names(&list(&app, &format!("?venue_id={}", Uuid::new_v4())).await), Vec::<&str>::new());
}

#[tokio::test]
async fn events_filter_by_q_in_name_or_description_any_case() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    app.event_with(&admin, &venue, json!({"name": "Swan Lake", "description": "A ballet."})).await;
    app.event_with(&admin, &venue, json!({"name": "Rock Night", "description": "Loud guitars."})).await;
    assert_eq!(names(&list(&app, "?q=swan").await), vec!["Swan Lake"]);
    assert_eq!(names(&list(&app, "?q=GUITAR").await), vec!["Rock Night"]);
    assert_eq!(names(&list(&app, "?q=opera").await), Vec::<&str>::new());
    // Wildcards are taken literally.
    assert_eq!(names(&list(&app, "?q=%25").await), Vec::<&str>::new());
}

#[tokio::test]
async fn events_filter_by_from_and_to() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let now = Utc::now();
    for (name, days) in [("day 2", 2), ("day 5", 5), ("day 8", 8)] {
        app.event_with(&admin, &venue, json!({"name": name, "start_time": rfc3339(now + Duration::days(days))})).await;
    }
    let at = |days: i64| rfc3339(now + Duration::days(days) - Duration::hours(1));
    assert_eq!(names(&list(&app, &format!("?from={}", at(5))).await), vec!["day 5", "day 8"]);
    assert_eq!(names(&list(&app, &format!("?to={}", at(5))).await), vec!["day 2"]);
    assert_eq!(names(&list(&app, &format!("?from={}&to={}", at(3), at(8))).await), vec!["day 5"]);
}

// ---------------------------------------------------------------------------------------------
// One event and its seat map

#[tokio::test]
async fn unknown_event_is_404() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let id = Uuid::new_v4();
    let resp = app.get(&format!("/events/events/{id}"), None).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.get(&format!("/events/events/{id}/seats"), None).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.patch(&format!("/events/events/{id}"), json!({"name": "x"}), Some(&admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.delete(&format!("/events/events/{id}"), Some(&admin)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
    let resp = app.get(&format!("/events/venues/{id}"), None).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn seat_map_shows_available_and_held_seats_priced_by_tier() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let held = seat(&venue, "B1");
    let (status, _, body) = app.reserve(&customer, event.id, held).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let map = app.seat_map(event.id).await;
    assert_eq!(map.len(), venue.seats.len());
    for s in &map {
        let expected = if s.seat_id == held { SeatStatus::Held } else { SeatStatus::Available };
        assert_eq!(s.status, expected, "{}{}", s.row, s.seat_number);
        assert_eq!(s.price_cents, tier_price(&s.tier), "{}{}", s.row, s.seat_number);
        let physical = venue.seats.iter().find(|p| p.id == s.seat_id).expect("a seat of the venue");
        assert_eq!((&physical.row, physical.seat_number, &physical.tier), (&s.row, s.seat_number, &s.tier));
    }
}

/// A GET of `path` with these headers, answered raw.
async fn get_with(
    app: &TestApp,
    path: &str,
    headers: &[(&'static str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = crate::http::json_request(axum::http::Method::GET, path, None, None);
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().expect("a header value"));
    }
    let (status, headers, body) = app.send_raw(request).await;
    (status, headers, body.to_vec())
}

fn header_of<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn seat_states_are_the_maps_statuses_in_a_few_bytes_revalidated_and_gzipped() {
    use proeventa_core::domain::decode_seat_states;
    use std::io::Read;

    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let path = format!("/events/events/{}/seat-states", event.id);

    let fresh = app.get(&path, None).await;
    assert_eq!(fresh.0, StatusCode::OK, "{}", fresh.2);
    let all = venue.seats.len();
    assert_eq!(fresh.2, json!({"seats": all, "available": all, "held": 0, "sold": 0, "states": format!("{all}a")}));
    assert_eq!(header_of(&fresh.1, "cache-control"), "no-cache");
    let etag = header_of(&fresh.1, "etag").to_owned();
    let (status, _, body) = get_with(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0), "nothing moved: 304");

    // A hold changes the states, in the order of the seat map.
    let (status, _, body) = app.reserve(&customer, event.id, seat(&venue, "B1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let after = app.get(&path, None).await;
    let map = app.seat_map(event.id).await;
    let decoded = decode_seat_states(after.2["states"].as_str().expect("states")).expect("an encoding");
    assert_eq!(decoded, map.iter().map(|s| s.status).collect::<Vec<_>>(), "{}", after.2);
    assert_eq!((after.2["available"].as_u64(), after.2["held"].as_u64()), (Some(all as u64 - 1), Some(1)));
    assert_ne!(header_of(&after.1, "etag"), etag);
    let (status, _, _) = get_with(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::OK, "the old ETag no longer matches");

    // Gzipped for a client that accepts it, with a validator of its own.
    let (status, headers, gzipped) = get_with(&app, &path, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!((status, header_of(&headers, "content-encoding")), (StatusCode::OK, "gzip"));
    assert_eq!(header_of(&headers, "vary"), "accept-encoding");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(gzipped.as_slice()).read_to_string(&mut plain).expect("gzip");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&plain).expect("JSON"), after.2);
    let gzip_etag = header_of(&headers, "etag").to_owned();
    assert_ne!(gzip_etag, header_of(&after.1, "etag"));
    let (status, _, _) = get_with(&app, &path, &[("accept-encoding", "gzip"), ("if-none-match", &gzip_etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    assert_error(
        &app.get("/events/events/not-a-uuid/seat-states", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    let unknown = app.get(&format!("/events/events/{}/seat-states", Uuid::new_v4()), None).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn event_counts_its_available_seats() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (status, _, _) = app.reserve_many(&customer, event.id, &[seat(&venue, "A1"), seat(&venue, "A2")]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, body) = app.get(&format!("/events/events/{}", event.id), None).await;
    let event: Event = parse(&body);
    assert_eq!((event.seats_total, event.seats_available), (6, 4));
}

// ---------------------------------------------------------------------------------------------
// Changing and canceling events

#[tokio::test]
async fn patch_event_changes_name_and_prices() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let prices = json!([{"tier": "standard", "price_cents": 1700}, {"tier": "vip", "price_cents": 5200}]);
    let (status, _, body) = app
        .patch(&format!("/events/events/{}", event.id), json!({"name": "Renamed", "prices": prices}), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated: Event = parse(&body);
    assert_eq!(updated.name, "Renamed");
    let got: BTreeMap<&str, i64> = updated.prices.iter().map(|p| (p.tier.as_str(), p.price_cents)).collect();
    assert_eq!(got, BTreeMap::from([("standard", 1700), ("vip", 5200)]));
    assert_eq!((updated.start_time, updated.category), (event.start_time, event.category));
    let (_, _, stored) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&stored), updated);
    let map = app.seat_map(event.id).await;
    let b1 = map.iter().find(|s| s.seat_id == seat(&venue, "B1")).unwrap();
    assert_eq!(b1.price_cents, 5200);
}

#[tokio::test]
async fn patch_event_prices_missing_a_tier_is_422() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let resp = app
        .patch(
            &format!("/events/events/{}", event.id),
            json!({"prices": [{"tier": "standard", "price_cents": 1}]}),
            Some(&admin),
        )
        .await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("prices"), "{}", detail(&resp));
    let (_, _, stored) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&stored).prices, event.prices);
}

#[tokio::test]
async fn patch_event_by_a_customer_is_403() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let resp = app.patch(&format!("/events/events/{}", event.id), json!({"name": "Mine"}), Some(&customer)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app.delete(&format!("/events/events/{}", event.id), Some(&customer)).await;
    assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (_, _, stored) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&stored), event);
}

#[tokio::test]
async fn patch_canceled_event_is_409_invalid_state() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (status, _, _) = app.delete(&format!("/events/events/{}", event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let resp = app.patch(&format!("/events/events/{}", event.id), json!({"name": "Back on"}), Some(&admin)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
}

#[tokio::test]
async fn delete_event_cancels_it_and_its_reservations() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;
    let (status, _, body) = app.reserve(&customer, event.id, seat(&venue, "A1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let reservation: Reservation = parse(&body);

    let (status, _, body) = app.delete(&format!("/events/events/{}", event.id), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let canceled: Event = parse(&body);
    assert_eq!((canceled.id, canceled.status), (event.id, EventStatus::Canceled));

    let (_, _, body) = app.get(&format!("/reservations/reservations/{}", reservation.id), Some(&customer)).await;
    assert_eq!(parse::<Reservation>(&body).status, ReservationStatus::Canceled);
    let (_, _, body) = app.get(&format!("/events/events/{}", event.id), None).await;
    assert_eq!(parse::<Event>(&body).status, EventStatus::Canceled);
}

// ---------------------------------------------------------------------------------------------
// Seat map revalidation

async fn seat_map_with(app: &TestApp, event_id: Uuid, if_none_match: Option<&str>) -> (StatusCode, String, usize) {
    let mut request = axum::http::Request::get(format!("/events/events/{event_id}/seats"));
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let (status, headers, body) = app.send_raw(request.body(axum::body::Body::empty()).unwrap()).await;
    let etag = headers.get("etag").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, etag, body.len())
}

#[tokio::test]
async fn seat_map_revalidates_with_etag_and_304_until_a_seat_changes() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let (_, customer) = app.customer("ann@example.com").await;
    let venue = app.small_venue(&admin).await;
    let event = app.event(&admin, &venue).await;

    let (status, etag, len) = seat_map_with(&app, event.id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2, "etag {etag:?}");
    assert!(len > 0);

    let (status, same, len) = seat_map_with(&app, event.id, Some(&etag)).await;
    assert_eq!((status, same.as_str(), len), (StatusCode::NOT_MODIFIED, etag.as_str(), 0));
    let weak_list = format!("\"other\", W/{etag}");
    assert_eq!(seat_map_with(&app, event.id, Some(&weak_list)).await.0, StatusCode::NOT_MODIFIED);

    let (status, _, body) = app.reserve(&customer, event.id, seat(&venue, "A1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, changed, _) = seat_map_with(&app, event.id, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK, "a held seat must change the seat map's ETag");
    assert_ne!(changed, etag);
}

#[tokio::test]
async fn seat_map_of_an_unknown_event_is_404_even_with_if_none_match() {
    let app = TestApp::new().await;
    let (status, _, _) = seat_map_with(&app, Uuid::new_v4(), Some("*")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Finding events: search, sort, city and dates as query parameters

#[tokio::test]
async fn events_are_searched_sorted_and_filtered_by_city_and_day() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let hamburg: VenueWithSeats =
        parse(&create_venue(&app, &admin, json!({"name": "Arena Nord", "location": "Hafenstraße 1, Hamburg"})).await.2);
    let madrid: VenueWithSeats = parse(
        &create_venue(&app, &admin, json!({"name": "Teatro Aurora", "location": "Calle Mayor 5, Madrid"})).await.2,
    );
    let day = |days: i64| Utc::now() + Duration::days(days);
    let price = |cents: i64| json!([{"tier": "standard", "price_cents": cents}]);
    let rock = json!({"name": "Rock Night", "start_time": rfc3339(day(3)), "prices": price(4000)});
    let rock = app.event_with(&admin, &hamburg, rock).await;
    let hamlet = json!({"name": "Hamlet", "start_time": rfc3339(day(2)), "prices": price(2500)});
    let hamlet = app.event_with(&admin, &madrid, hamlet).await;
    let macbeth = json!({"name": "Macbeth", "description": "Hamlet's darker cousin", "start_time": rfc3339(day(1)), "prices": price(3000)});
    let macbeth = app.event_with(&admin, &madrid, macbeth).await;

    assert_eq!(names(&list(&app, "?q=Hamburg").await), ["Rock Night"], "the city is searched");
    assert_eq!(names(&list(&app, "?q=hamlte+tickets").await), ["Hamlet", "Macbeth"], "a typo, title first");
    assert_eq!(names(&list(&app, "?q=hamlet&sort=date").await), ["Macbeth", "Hamlet"], "a search sorted by date");
    assert_eq!(names(&list(&app, "?sort=price").await), ["Hamlet", "Macbeth", "Rock Night"]);
    assert_eq!(names(&list(&app, "?sort=name").await), ["Hamlet", "Macbeth", "Rock Night"]);
    assert_eq!(names(&list(&app, "?city=MADRID").await), ["Macbeth", "Hamlet"], "the city in any case");
    assert_eq!(names(&list(&app, "?city=Hamburg&sort=price").await), ["Rock Night"]);
    assert!(list(&app, "?city=Lyon").await.is_empty(), "a city with no venue");
    let on = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%d").to_string();
    let one_day = list(&app, &format!("?from={}&to={}", on(day(2)), on(day(2)))).await;
    assert_eq!(one_day.iter().map(|e| e.id).collect::<Vec<_>>(), [hamlet.id], "a date is that whole UTC day");
    let from = list(&app, &format!("?from={}", on(day(3)))).await;
    assert_eq!(from.iter().map(|e| e.id).collect::<Vec<_>>(), [rock.id]);
    assert!(list(&app, "?q=hamlet").await.iter().any(|e| e.id == macbeth.id));

    for (path, status, code) in [
        ("/events/events?sort=cheapest", StatusCode::BAD_REQUEST, "invalid_request"),
        ("/events/events?from=2026-13-01", StatusCode::BAD_REQUEST, "invalid_request"),
        ("/events/events?to=tomorrow", StatusCode::BAD_REQUEST, "invalid_request"),
        ("/events/events?city=--", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ] {
        let resp = app.get(path, None).await;
        assert_error(&resp, status, code);
    }
    let resp = app.get("/events/events?from=2026-13-01", None).await;
    assert_eq!(detail(&resp), "The `from` date must look like 2026-12-24 (or a full RFC 3339 time).");
}
