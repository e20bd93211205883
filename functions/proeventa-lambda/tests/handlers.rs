//! Each function's real handler fed recorded API Gateway HTTP API (payload v2) events: the
//! answers are those of API.md, in the response shape API Gateway expects.

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{body_json, fixture, header, invoke, status, test_state};
use proeventa_core::domain::{Category, Event, NewEvent, NewVenue, Price, SeatRow, VenueKind, VenueWithSeats};
use proeventa_core::store::Store;
use proeventa_lambda::Group;

const SITE: &str = "http://127.0.0.1:8080";

#[tokio::test]
async fn signup_answers_201_with_the_user_and_the_lambda_request_id() {
    let t = test_state().await;
    let response = invoke(Group::Auth, &t.state, &fixture("signup.json", &[]), "lambda-req-signup").await;
    assert_eq!(status(&response), 201, "{response}");
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    // The id a client sees is the invocation's, the one every log line of it carries.
    assert_eq!(header(&response, "x-request-id"), Some("lambda-req-signup"));
    // API Gateway ignores backend CORS headers when it has its own configuration, but the
    // router still names the site (as under `cargo lambda watch`).
    assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE));
    let user = body_json(&response);
    assert_eq!(user["email"], "bob@example.com", "trimmed and lowercased");
    assert_eq!(user["name"], "Bob");
    assert_eq!(user["role"], "customer");
    assert_eq!(user["disabled"], false);
    assert!(user["id"].as_str().is_some_and(|id| id.len() == 36), "{user}");
    assert!(user.get("password_hash").is_none() && user.get("password").is_none(), "{user}");
}

#[tokio::test]
async fn login_answers_a_bearer_token_that_other_functions_accept() {
    let t = test_state().await;
    let signup = invoke(Group::Auth, &t.state, &fixture("signup.json", &[]), "req-1").await;
    assert_eq!(status(&signup), 201, "{signup}");
    let response = invoke(Group::Auth, &t.state, &fixture("login.json", &[]), "req-2").await;
    assert_eq!(status(&response), 200, "{response}");
    let login = body_json(&response);
    assert_eq!(login["token_type"], "bearer");
    assert_eq!(login["expires_in"], 3600);
    assert_eq!(login["user"]["email"], "bob@example.com");
    let token = login["access_token"].as_str().expect("access_token");
    assert_eq!(token.split('.').count(), 3, "a JWT");
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_the_contract_error() {
    let t = test_state().await;
    invoke(Group::Auth, &t.state, &fixture("signup.json", &[]), "req-1").await;
    let wrong = fixture("login.json", &[]).replace("bob-password-1", "not-bobs-password");
    let response = invoke(Group::Auth, &t.state, &wrong, "req-2").await;
    assert_eq!(status(&response), 401, "{response}");
    assert_eq!(body_json(&response)["error"], "invalid_credentials");
}

#[tokio::test]
async fn event_list_answers_the_concerts_soonest_first() {
    let t = test_state().await;
    let venue = venue(&t.state.store).await;
    let later = event(&t.state.store, &venue, "Late Show", Category::Concert, 9).await;
    let sooner = event(&t.state.store, &venue, "Early Show", Category::Concert, 3).await;
    event(&t.state.store, &venue, "A Play", Category::Theatre, 5).await;
    let response = invoke(Group::Catalog, &t.state, &fixture("event_list.json", &[]), "req-list").await;
    assert_eq!(status(&response), 200, "{response}");
    let events = body_json(&response);
    let ids: Vec<&str> = events.as_array().expect("an array").iter().map(|e| e["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, [sooner.id.to_string(), later.id.to_string()], "{events}");
    assert_eq!(events[0]["category"], "concert");
    assert_eq!(events[0]["venue"]["name"], "Lambda Hall");
    assert_eq!(events[0]["seats_available"], 6);
}

#[tokio::test]
async fn reserve_with_a_token_holds_the_seat() {
    let t = test_state().await;
    let venue = venue(&t.state.store).await;
    let show = event(&t.state.store, &venue, "Hold Night", Category::Concert, 4).await;
    let seat = venue.seats[0].id.to_string();
    invoke(Group::Auth, &t.state, &fixture("signup.json", &[]), "req-1").await;
    let login = body_json(&invoke(Group::Auth, &t.state, &fixture("login.json", &[]), "req-2").await);
    let token = login["access_token"].as_str().expect("token").to_owned();
    let event_id = show.id.to_string();
    let vars = [("TOKEN", token.as_str()), ("EVENT_ID", event_id.as_str()), ("SEAT_ID", seat.as_str())];

    let response = invoke(Group::Reservations, &t.state, &fixture("reserve.json", &vars), "req-3").await;
    assert_eq!(status(&response), 201, "{response}");
    let reservation = body_json(&response);
    assert_eq!(reservation["status"], "held");
    assert_eq!(reservation["event_id"], event_id.as_str());
    assert_eq!(reservation["seat_id"], seat.as_str());
    assert_eq!(reservation["user_id"], login["user"]["id"]);
    assert_eq!(reservation["price_cents"], 1500);

    // The same Idempotency-Key again replays the first answer and holds nothing more.
    let replay = invoke(Group::Reservations, &t.state, &fixture("reserve.json", &vars), "req-4").await;
    assert_eq!(status(&replay), 201, "{replay}");
    assert_eq!(body_json(&replay)["id"], reservation["id"]);

    // Another key for the same seat: taken.
    let again = fixture("reserve.json", &vars).replace("first-try", "second-try");
    let conflict = invoke(Group::Reservations, &t.state, &again, "req-5").await;
    assert_eq!(status(&conflict), 409, "{conflict}");
    assert_eq!(body_json(&conflict)["error"], "seat_unavailable");
}

#[tokio::test]
async fn reserve_without_the_token_is_401() {
    let t = test_state().await;
    let vars = [("TOKEN", "not-a-jwt"), ("EVENT_ID", "00000000-0000-4000-8000-000000000000"), ("SEAT_ID", "x")];
    let response = invoke(Group::Reservations, &t.state, &fixture("reserve.json", &vars), "req").await;
    assert_eq!(status(&response), 401, "{response}");
    assert_eq!(body_json(&response)["error"], "unauthorized");
}

#[tokio::test]
async fn a_cors_preflight_from_the_site_is_allowed() {
    let t = test_state().await;
    let response = invoke(Group::Catalog, &t.state, &fixture("preflight.json", &[]), "req-preflight").await;
    assert_eq!(status(&response), 200, "{response}");
    assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE));
    let methods = header(&response, "access-control-allow-methods").unwrap_or("");
    assert!(methods.contains("GET") && methods.contains("POST"), "{response}");
    let headers = header(&response, "access-control-allow-headers").unwrap_or("");
    assert!(headers.contains("authorization") && headers.contains("content-type"), "{response}");
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_allowance() {
    let t = test_state().await;
    let event = fixture("preflight.json", &[]).replace(SITE, "https://evil.example");
    let response = invoke(Group::Catalog, &t.state, &event, "req").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None, "{response}");
}

#[tokio::test]
async fn an_unknown_route_is_the_api_s_json_404_on_every_function() {
    let t = test_state().await;
    // Through the $default route, as API Gateway sends it to api-meta...
    let response = invoke(Group::Meta, &t.state, &fixture("unknown_route.json", &[]), "req-404").await;
    assert_eq!(status(&response), 404, "{response}");
    assert_eq!(body_json(&response)["error"], "not_found");
    assert_eq!(header(&response, "x-request-id"), Some("req-404"));
    // ...and any function asked for a path it does not serve answers the same way.
    for group in Group::ALL {
        let response = invoke(group, &t.state, &fixture("unknown_route.json", &[]), "req").await;
        assert_eq!(status(&response), 404, "{}: {response}", group.function_name());
        assert_eq!(body_json(&response)["error"], "not_found");
    }
}

#[tokio::test]
async fn a_known_path_with_a_method_it_lacks_is_405_through_the_default_route() {
    let t = test_state().await;
    let event = fixture("unknown_route.json", &[])
        .replace("/nothing/here", "/auth/me")
        .replace("\"method\": \"GET\"", "\"method\": \"DELETE\"");
    let response = invoke(Group::Meta, &t.state, &event, "req-405").await;
    assert_eq!(status(&response), 405, "{response}");
    assert_eq!(body_json(&response)["error"], "method_not_allowed");
}

#[tokio::test]
async fn a_base64_encoded_body_is_decoded_before_the_router_reads_it() {
    let t = test_state().await;
    let response = invoke(Group::Auth, &t.state, &fixture("signup_base64.json", &[]), "req-b64").await;
    assert_eq!(status(&response), 201, "{response}");
    let user = body_json(&response);
    assert_eq!(user["email"], "carla@example.com");
    assert_eq!(user["name"], "Carla Núñez");
}

#[tokio::test]
async fn a_client_request_id_is_kept() {
    let t = test_state().await;
    let event = fixture("event_list.json", &[])
        .replace("\"accept\":", "\"x-request-id\": \"client-chosen-id\",\n    \"accept\":");
    let response = invoke(Group::Catalog, &t.state, &event, "lambda-id").await;
    assert_eq!(status(&response), 200, "{response}");
    assert_eq!(header(&response, "x-request-id"), Some("client-chosen-id"));
}

#[tokio::test]
async fn the_gateway_function_answers_its_routes() {
    let t = test_state().await;
    let get = |path: &str| {
        fixture("unknown_route.json", &[])
            .replace("/nothing/here", path)
            .replace("\"routeKey\": \"$default\"", &format!("\"routeKey\": \"GET {path}\""))
    };
    let root = invoke(Group::Meta, &t.state, &get("/"), "r1").await;
    assert_eq!(status(&root), 200, "{root}");
    assert_eq!(body_json(&root)["service"], "proeventa");
    let health = invoke(Group::Meta, &t.state, &get("/health"), "r2").await;
    assert_eq!(status(&health), 200, "{health}");
    assert_eq!(body_json(&health), serde_json::json!({"status": "ok", "storage": "sqlite"}));
    let openapi = invoke(Group::Meta, &t.state, &get("/openapi.json"), "r3").await;
    assert_eq!(status(&openapi), 200);
    assert!(body_json(&openapi)["paths"]["/reservations/reservations/reserve"].is_object());
    let docs = invoke(Group::Meta, &t.state, &get("/docs/"), "r4").await;
    assert_eq!(status(&docs), 200, "{docs}");
    assert!(header(&docs, "content-type").is_some_and(|c| c.starts_with("text/html")), "{docs}");
}

#[tokio::test]
async fn the_job_expires_lapsed_holds() {
    use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
    let t = test_state().await;
    let scheduled: CloudWatchEvent = serde_json::from_str(&fixture("schedule.json", &[])).expect("a scheduled event");
    let event = lambda_runtime::LambdaEvent::new(scheduled, lambda_runtime::Context::default());
    let done = proeventa_lambda::expire_holds(t.state.store.as_ref(), event).await.expect("the job runs");
    assert_eq!(done, proeventa_lambda::Expired { expired: 0, admitted: 0 });
}

async fn venue(store: &Arc<dyn Store>) -> VenueWithSeats {
    let rows = vec![SeatRow { row: "A".into(), seats: 6, tier: "standard".into() }];
    let venue = NewVenue::parse("Lambda Hall", Some("Main Street 1"), VenueKind::Hall, rows).expect("a venue");
    store.create_venue(venue).await.expect("create the venue")
}

async fn event(store: &Arc<dyn Store>, venue: &VenueWithSeats, name: &str, category: Category, days: i64) -> Event {
    store
        .create_event(NewEvent {
            actor: None,
            venue_id: venue.venue.id,
            name: name.to_owned(),
            category,
            description: String::new(),
            image_url: None,
            start_time: Utc::now() + Duration::days(days),
            duration_minutes: Some(90),
            on_sale_at: None,
            queue: None,
            accessible_release_hours: None,
            currency: "EUR".to_owned(),
            prices: vec![Price { tier: "standard".into(), price_cents: 1500 }],
            ticket_types: Vec::new(),
        })
        .await
        .expect("create the event")
}

/// The gateway function is given no signing secret (the template passes it none) and starts
/// without one; every function that checks tokens refuses to start without it.
#[tokio::test]
async fn only_the_functions_that_check_tokens_need_the_signing_secret() {
    let db = proeventa_testkit::TempSqlite::new("proeventa_lambda_nosecret");
    let url = db.url();
    let config = || proeventa_lambda::lambda_config(|key| (key == "DATABASE_URL").then(|| url.clone())).unwrap();
    assert!(proeventa_lambda::state_for(Group::Meta, config()).await.is_ok(), "api-meta starts without JWT_SECRET");
    for group in Group::ALL.into_iter().filter(|group| group.checks_tokens()) {
        let refused = proeventa_lambda::state_for(group, config()).await.err().map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("JWT_SECRET is not set")), "{group:?} starts without JWT_SECRET");
    }
}

/// Every function that issues or checks ticket codes refuses to start without the shared
/// signing key; the others start without one.
#[tokio::test]
async fn only_the_functions_that_serve_tickets_need_the_ticket_signing_key() {
    let db = proeventa_testkit::TempSqlite::new("proeventa_lambda_noticketkey");
    let url = db.url();
    let env = |key: &str| match key {
        "DATABASE_URL" => Some(url.clone()),
        "JWT_SECRET" => Some(common::JWT_SECRET.to_owned()),
        _ => None,
    };
    for group in Group::ALL {
        let started = proeventa_lambda::state_for(group, proeventa_lambda::lambda_config(env).unwrap()).await;
        match started {
            Err(e) if group.serves_tickets() => assert!(e.to_string().contains("TICKET_SIGNING_KEY is not set"), "{e}"),
            Err(e) => panic!("{group:?} needs no ticket key: {e}"),
            Ok(_) => assert!(!group.serves_tickets(), "{group:?} started without TICKET_SIGNING_KEY"),
        }
    }
    assert!(Group::Tickets.serves_tickets(), "/reservations/tickets issues codes");
    assert!(!Group::Reservations.serves_tickets(), "holds issue no codes");
    assert!(Group::Checkin.serves_tickets(), "/checkin/scan checks codes");
}

/// `/redoc` on the hosted API: api-meta's package is its bootstrap alone (no `vendor/` beside it,
/// whatever `REDOC_JS` says), so it serves ReDoc's page and the bundle the page loads from itself.
#[tokio::test]
async fn the_gateway_function_serves_redoc_and_its_bundle_from_its_own_package() {
    let t = test_state().await;
    let mut config = (*t.state.config).clone();
    config.redoc_js = "/nowhere/redoc.standalone.js".into();
    let state = proeventa_core::api::AppState { config: Arc::new(config), ..t.state.clone() };

    let page = invoke(Group::Meta, &state, &fixture("gateway_get.json", &[("PATH", "/redoc")]), "req-redoc").await;
    assert_eq!(status(&page), 200, "{page}");
    assert!(header(&page, "content-type").is_some_and(|t| t.starts_with("text/html")), "{page}");
    let html = page["body"].as_str().expect("an HTML body");
    assert!(html.contains(r#"<script src="/redoc/redoc.standalone.js">"#), "{html}");

    let path = "/redoc/redoc.standalone.js";
    let bundle = invoke(Group::Meta, &state, &fixture("gateway_get.json", &[("PATH", path)]), "req-bundle").await;
    assert_eq!(status(&bundle), 200, "ReDoc's bundle: {}", bundle["body"].as_str().unwrap_or(""));
    assert_eq!(header(&bundle, "content-type"), Some("text/javascript; charset=utf-8"));
    let vendored = common::workspace().join("vendor/redoc/bundles/redoc.standalone.js");
    let expected = std::fs::read_to_string(&vendored)
        .unwrap_or_else(|e| panic!("{}: {e} (`make vendor` installs ReDoc's bundle)", vendored.display()));
    let served = bundle["body"].as_str().expect("JavaScript travels as text");
    assert!(served == expected, "the bundle served ({} bytes) is ReDoc's ({} bytes)", served.len(), expected.len());
}
