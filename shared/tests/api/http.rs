//! Harness for the in-process router tests: one `TestApp` per test (the whole `api::app` router
//! over a fresh, migrated SQLite file that is removed when the test ends), request helpers that
//! go through `tower::ServiceExt::oneshot` without sockets, and the fixtures the tests share.
//!
//! Every response that passes through `TestApp::send` is checked for leaked internals
//! (driver names, panic messages, SQL errors), so each test also guards that promise.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, Datelike, Duration, Utc};
use proeventa_core::api::AppState;
use proeventa_core::api::app;
use proeventa_core::auth::hash_password;
use proeventa_core::config::Config;
use proeventa_core::domain::{
    Booking, Email, Event, NewUser, Password, Role, SeatState, SeatStatus, User, VenueWithSeats,
};
use proeventa_core::payments::SimulatedProvider;
use proeventa_core::store::connect;
use proeventa_testkit::TempSqlite;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

/// The HS256 secret every test app signs its tokens with.
pub const JWT_SECRET: &str = "router-tests-secret-0123456789abcdef0123456789";
/// The password of every account the fixtures create.
pub const PASSWORD: &str = "correct horse battery";

/// Status, headers and body (JSON; `Null` when empty; a `String` when not JSON).
pub type Resp = (StatusCode, HeaderMap, Value);

/// Text that must never reach a client (case-sensitive, as written).
const LEAKS: &[&str] = &["sqlx", "SQLITE", "SQLite", "panicked", "syntax error", "stack backtrace"];

/// The whole API for one test, with its state so tests can reach the store.
pub struct TestApp {
    // Fields drop in order: the router and state (and the pools) before the files.
    router: Router,
    pub state: AppState,
    database: TempSqlite,
}

impl TestApp {
    /// The app with the default configuration (as `make run` has it locally).
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// The app with some configuration keys set (e.g. `HOLD_TTL_SECONDS`).
    pub async fn with_env(pairs: &[(&str, &str)]) -> Self {
        let database = TempSqlite::new("proeventa_api_test");
        let url = database.url();
        let mut env: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        env.insert("DATABASE_URL".into(), url.clone());
        env.insert("JWT_SECRET".into(), JWT_SECRET.into());
        let config = Config::from_lookup(|k| env.get(k).cloned()).expect("test configuration");
        let store = connect(&url).await.unwrap_or_else(|e| panic!("could not open the SQLite store at {url}: {e}"));
        store.migrate().await.unwrap_or_else(|e| panic!("could not migrate the SQLite store at {url}: {e}"));
        let state = AppState::new(config, store, JWT_SECRET);
        let router = app(state.clone());
        Self { router, state, database }
    }

    /// The app with some configuration keys set, paying through a simulated provider the test
    /// keeps a handle on (to look at its charges). The provider checks webhooks against the
    /// configured `WEBHOOK_SECRET`.
    pub async fn with_provider(pairs: &[(&str, &str)]) -> (Self, Arc<SimulatedProvider>) {
        let Self { router: _, state, database } = Self::with_env(pairs).await;
        let provider = Arc::new(SimulatedProvider::new(state.config.webhook_secret.as_deref()));
        let state = state.with_payment_provider(provider.clone());
        (Self { router: app(state.clone()), state, database }, provider)
    }

    /// The app with its uploaded posters stored in `dir` (as `proeventa serve` has them).
    pub async fn with_poster_folder(dir: &std::path::Path) -> Self {
        Self::new().await.keeping_posters_in(dir)
    }

    /// This app, with uploaded posters kept in `dir`.
    pub fn keeping_posters_in(self, dir: &std::path::Path) -> Self {
        let Self { router: _, state, database } = self;
        let folder = proeventa_core::posters::PosterFolder::new(dir, "/posters");
        let state = state.with_posters(Arc::new(folder));
        Self { router: app(state.clone()), state, database }
    }

    /// The SQLite file behind this app (its `-wal` companion holds recent writes).
    pub fn database_path(&self) -> PathBuf {
        self.database.path().to_owned()
    }

    // -----------------------------------------------------------------------------------------
    // Requests

    /// Sends many requests at once, each on its own task, and returns their answers in order.
    pub async fn send_concurrently(&self, requests: Vec<Request<Body>>) -> Vec<(StatusCode, HeaderMap)> {
        let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let (router, barrier) = (self.router.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let response = router.oneshot(request).await.expect("the router is infallible");
                    (response.status(), response.headers().clone())
                })
            })
            .collect();
        let mut answers = Vec::with_capacity(tasks.len());
        for task in tasks {
            answers.push(task.await.expect("request task"));
        }
        answers
    }

    /// Sends a request as built, and returns the raw body (no leak check: for static assets).
    pub async fn send_raw(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let response = self.router.clone().oneshot(request).await.expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("response body");
        (parts.status, parts.headers, bytes)
    }

    /// Sends a request as built; the body is parsed as JSON when it is JSON.
    pub async fn send(&self, request: Request<Body>) -> Resp {
        let what = format!("{} {}", request.method(), request.uri());
        let (status, headers, bytes) = self.send_raw(request).await;
        let text = String::from_utf8_lossy(&bytes);
        for leak in LEAKS {
            assert!(!text.contains(leak), "{what} answered {status} with a body leaking `{leak}`: {text}");
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(text.into_owned()))
        };
        (status, headers, body)
    }

    /// A JSON request: `content-type: application/json` when a body is given, a bearer token when given.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>, token: Option<&str>) -> Resp {
        self.send(json_request(method, path, body, token)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Resp {
        self.request(Method::POST, path, Some(body), token).await
    }

    pub async fn patch(&self, path: &str, body: Value, token: Option<&str>) -> Resp {
        self.request(Method::PATCH, path, Some(body), token).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, None, token).await
    }

    // -----------------------------------------------------------------------------------------
    // Accounts

    /// Signs up through the API; panics unless it answers 201.
    pub async fn signup(&self, email: &str, password: &str) -> User {
        let resp = self.post("/auth/signup", json!({"email": email, "password": password}), None).await;
        assert_eq!(resp.0, StatusCode::CREATED, "signup {email}: {:?}", resp.2);
        parse(&resp.2)
    }

    /// Logs in through the API; panics unless it answers 200. Returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let resp = self.post("/auth/login", json!({"email": email, "password": password}), None).await;
        assert_eq!(resp.0, StatusCode::OK, "login {email}: {:?}", resp.2);
        resp.2["access_token"].as_str().expect("access_token").to_owned()
    }

    /// A customer made through `/auth/signup` and `/auth/login` (password `PASSWORD`).
    pub async fn signup_and_login(&self, email: &str) -> (User, String) {
        let user = self.signup(email, PASSWORD).await;
        let token = self.login(email, PASSWORD).await;
        (user, token)
    }

    /// An account written straight into the store (password `PASSWORD`), with a token issued for it.
    pub async fn user_with_role(&self, email: &str, role: Role) -> (User, String) {
        let password = Password::parse(PASSWORD.into()).expect("password");
        let user = self
            .state
            .store
            .create_user(NewUser {
                email: Email::parse(email).expect("email"),
                name: String::new(),
                password_hash: hash_password(&password).await.expect("hash"),
                role,
            })
            .await
            .expect("create user");
        let token = self.state.tokens.issue(&user).expect("token");
        (user, token)
    }

    /// A customer (straight into the store, for tests that are not about signing up).
    pub async fn customer(&self, email: &str) -> (User, String) {
        self.user_with_role(email, Role::Customer).await
    }

    /// An admin account and its token.
    pub async fn admin_user(&self) -> (User, String) {
        self.user_with_role("admin@example.com", Role::Admin).await
    }

    /// An admin's token.
    pub async fn admin(&self) -> String {
        self.admin_user().await.1
    }

    // -----------------------------------------------------------------------------------------
    // Catalog

    /// A venue made through the API: rows of `(label, seats, tier)`.
    pub async fn venue_with_rows(&self, admin_token: &str, rows: &[(&str, i32, &str)]) -> VenueWithSeats {
        let rows: Vec<Value> =
            rows.iter().map(|(row, seats, tier)| json!({"row": row, "seats": seats, "tier": tier})).collect();
        let resp = self
            .post(
                "/events/venues",
                json!({"name": "Test Hall", "location": "Main street 1", "kind": "hall", "rows": rows}),
                Some(admin_token),
            )
            .await;
        assert_eq!(resp.0, StatusCode::CREATED, "create venue: {:?}", resp.2);
        parse(&resp.2)
    }

    /// A small venue: row A with 4 `standard` seats, row B with 2 `vip` seats.
    pub async fn small_venue(&self, admin_token: &str) -> VenueWithSeats {
        self.venue_with_rows(admin_token, &[("A", 4, "standard"), ("B", 2, "vip")]).await
    }

    /// An event at `venue` thirty days from now, priced for every tier (see `tier_price`).
    pub async fn event(&self, admin_token: &str, venue: &VenueWithSeats) -> Event {
        self.event_with(admin_token, venue, json!({})).await
    }

    /// An event at `venue` with some fields of the default body replaced by `overrides`.
    pub async fn event_with(&self, admin_token: &str, venue: &VenueWithSeats, overrides: Value) -> Event {
        let resp = self.post("/events/events", event_body(venue, overrides), Some(admin_token)).await;
        assert_eq!(resp.0, StatusCode::CREATED, "create event: {:?}", resp.2);
        parse(&resp.2)
    }

    /// The live seat map of an event.
    pub async fn seat_map(&self, event_id: Uuid) -> Vec<SeatState> {
        let resp = self.get(&format!("/events/events/{event_id}/seats"), None).await;
        assert_eq!(resp.0, StatusCode::OK, "seat map: {:?}", resp.2);
        parse(&resp.2)
    }

    /// One seat's status on the live seat map.
    pub async fn seat_status(&self, event_id: Uuid, seat_id: Uuid) -> SeatStatus {
        self.seat_map(event_id)
            .await
            .into_iter()
            .find(|s| s.seat_id == seat_id)
            .unwrap_or_else(|| panic!("seat {seat_id} is not on the seat map"))
            .status
    }

    // -----------------------------------------------------------------------------------------
    // Reservations

    /// `POST /reservations/reservations/reserve` for one seat.
    pub async fn reserve(&self, token: &str, event_id: Uuid, seat_id: Uuid) -> Resp {
        self.post("/reservations/reservations/reserve", json!({"event_id": event_id, "seat_id": seat_id}), Some(token))
            .await
    }

    /// Holds `seat_ids` for `token`'s holder, checks out and pays with a good card: the booking's
    /// seats are confirmed and each has its ticket. Panics unless every step succeeds.
    pub async fn paid_booking(&self, token: &str, event_id: Uuid, seat_ids: &[Uuid]) -> Booking {
        let resp = self.reserve_many(token, event_id, seat_ids).await;
        assert_eq!(resp.0, StatusCode::CREATED, "hold: {}", resp.2);
        let booking: Booking = parse(&resp.2);
        let resp = self.post("/payments/checkout", json!({"booking_id": booking.id}), Some(token)).await;
        assert_eq!(resp.0, StatusCode::CREATED, "checkout: {}", resp.2);
        let payment_id: Uuid = parse(&resp.2["id"]);
        let card = json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": Utc::now().year() + 2, "cvc": "123"});
        let resp = self.post(&format!("/payments/{payment_id}/confirm"), card, Some(token)).await;
        assert_eq!(resp.0, StatusCode::OK, "confirm: {}", resp.2);
        booking
    }

    /// A staff account (door staff) and its token.
    pub async fn staff(&self, email: &str) -> (User, String) {
        self.user_with_role(email, Role::Staff).await
    }

    /// `POST /reservations/reservations/reserve` for several seats.
    pub async fn reserve_many(&self, token: &str, event_id: Uuid, seat_ids: &[Uuid]) -> Resp {
        self.post(
            "/reservations/reservations/reserve",
            json!({"event_id": event_id, "seat_ids": seat_ids}),
            Some(token),
        )
        .await
    }
}

/// Builds a JSON request: `content-type: application/json` when a body is given.
pub fn json_request(method: Method, path: &str, body: Option<Value>, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

/// The price the fixtures give a tier.
pub fn tier_price(tier: &str) -> i64 {
    match tier {
        "standard" => 1500,
        "vip" => 4500,
        _ => 2000,
    }
}

/// A valid `POST /events/events` body for `venue` (a concert thirty days ahead, every tier
/// priced), with any of its fields replaced by `overrides`.
pub fn event_body(venue: &VenueWithSeats, overrides: Value) -> Value {
    let tiers: BTreeSet<&str> = venue.seats.iter().map(|s| s.tier.as_str()).collect();
    let prices: Vec<Value> = tiers.iter().map(|t| json!({"tier": t, "price_cents": tier_price(t)})).collect();
    let mut body = json!({
        "venue_id": venue.venue.id,
        "name": "Test concert",
        "category": "concert",
        "description": "An evening of tests.",
        "start_time": rfc3339(Utc::now() + Duration::days(30)),
        "duration_minutes": 120,
        "prices": prices,
    });
    if let (Some(body), Some(overrides)) = (body.as_object_mut(), overrides.as_object()) {
        for (k, v) in overrides {
            body.insert(k.clone(), v.clone());
        }
    }
    body
}

/// A time as the API writes it, to the second, in UTC.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The id of the seat labelled like `A1` in a venue.
pub fn seat(venue: &VenueWithSeats, label: &str) -> Uuid {
    venue
        .seats
        .iter()
        .find(|s| format!("{}{}", s.row, s.seat_number) == label)
        .unwrap_or_else(|| panic!("no seat {label} in the venue"))
        .id
}

/// Parses a JSON body into a domain type, with the body in the message when it does not fit.
pub fn parse<T: serde::de::DeserializeOwned>(body: &Value) -> T {
    serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("body is not a {}: {e}: {body}", std::any::type_name::<T>()))
}

/// Asserts an error answer: the status, the code, and a body of exactly the string fields
/// `error` and `detail`, with a non-empty detail.
pub fn assert_error(resp: &Resp, status: StatusCode, code: &str) {
    let (got, _, body) = resp;
    assert_eq!((*got, body["error"].as_str()), (status, Some(code)), "expected {status} `{code}`, got {got}: {body}");
    let object = body.as_object().unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["detail", "error"]), "error body has other fields: {body}");
    let detail = body["detail"].as_str().unwrap_or_else(|| panic!("detail is not a string: {body}"));
    assert!(!detail.trim().is_empty(), "empty detail: {body}");
}

/// The `detail` of an error body.
pub fn detail(resp: &Resp) -> &str {
    resp.2["detail"].as_str().unwrap_or("")
}

/// base64url without padding, as JWTs use it.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}
