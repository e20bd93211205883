//! Test support for the storage conformance suite: one fresh, migrated store per test on each
//! backend (a temp SQLite file, a throw-away PostgreSQL database, a table on DynamoDB Local, all
//! from `proeventa-testkit`), removed again when the test ends, and the small fixtures the test
//! bodies share (users, venues, events, holds).
//!
//! A backend that cannot be reached fails the test with a message saying how to start it;
//! nothing is skipped.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use proeventa_core::domain::{
    Booking, Category, Email, Event, HoldLimit, HoldRequest, HoldTtl, NewEvent, NewPayment, NewUser, NewVenue, Page,
    Payment, Price, Reservation, ReservationFilter, Role, SeatRow, SeatSelection, User, VenueKind, VenueWithSeats,
};
use proeventa_core::store::dynamodb::DynamoStore;
use proeventa_core::store::{Store, StoreError, StoreResult, connect};
use proeventa_testkit::{TempDynamoTable, TempPostgres, TempSqlite};
use uuid::Uuid;

/// A store for one test, plus whatever must be removed once the test is over.
pub struct TestStore {
    // Fields drop in order: the store (and its pool) goes before the files, database or table it used.
    store: Arc<dyn Store>,
    _cleanup: Box<dyn Send>,
}

impl TestStore {
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}

async fn open_and_migrate(url: &str, shown_url: &str) -> Arc<dyn Store> {
    let store = connect(url).await.unwrap_or_else(|e| panic!("could not open the store at {shown_url}: {e}"));
    store.migrate().await.unwrap_or_else(|e| panic!("could not migrate the store at {shown_url}: {e}"));
    store
}

/// A fresh SQLite store in a uniquely named file under the system temp dir.
pub async fn sqlite_store() -> TestStore {
    let file = TempSqlite::new("proeventa_test");
    let store = open_and_migrate(&file.url(), &file.url()).await;
    TestStore { store, _cleanup: Box::new(file) }
}

/// A fresh PostgreSQL store in a new database on the server at `TEST_DATABASE_URL`.
pub async fn postgres_store() -> TestStore {
    let database = TempPostgres::create("proeventa_test").await;
    let store = open_and_migrate(database.url(), &database.redacted_url()).await;
    TestStore { store, _cleanup: Box::new(database) }
}

/// A fresh DynamoDB store: its own table on this test binary's DynamoDB Local.
pub async fn dynamodb_store() -> TestStore {
    let table = TempDynamoTable::new("proeventa_test");
    let store = Arc::new(DynamoStore::connect_with(table.endpoint(), table.name()));
    store.migrate().await.unwrap_or_else(|e| {
        panic!("could not create table {} on DynamoDB Local at {}: {e}", table.name(), table.endpoint())
    });
    TestStore { store, _cleanup: Box::new(table) }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A hold that outlives any test.
pub fn long_ttl() -> HoldTtl {
    HoldTtl::from_seconds(600).expect("positive ttl")
}

/// A hold that lapses within a test.
pub fn short_ttl() -> HoldTtl {
    HoldTtl::from_millis(50).expect("positive ttl")
}

/// `now` plus whole days, on a whole second (every backend stores that exactly).
pub fn in_days(days: f64) -> DateTime<Utc> {
    let t = Utc::now() + Duration::milliseconds((days * 86_400_000.0) as i64);
    DateTime::from_timestamp(t.timestamp(), 0).expect("valid time")
}

/// Sleeps until `instant` has passed (by a few milliseconds), so a hold ending then has lapsed.
pub async fn sleep_past(instant: DateTime<Utc>) {
    let left = (instant - Utc::now()).num_milliseconds().max(0) as u64;
    tokio::time::sleep(StdDuration::from_millis(left + 15)).await;
}

/// Sleeps until `instant` (at once when it has passed), so racers can start around a lapse.
pub async fn sleep_until(instant: DateTime<Utc>) {
    let left = (instant - Utc::now()).num_milliseconds().max(0) as u64;
    tokio::time::sleep(StdDuration::from_millis(left)).await;
}

/// The instant cut to whole milliseconds (every backend stores that exactly).
pub fn whole_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("valid time")
}

/// Sleeps long enough that two rows written around it get distinct timestamps on every backend.
pub async fn tick() {
    tokio::time::sleep(StdDuration::from_millis(5)).await;
}

/// A customer whose e-mail is `<handle>@example.com`.
pub async fn fixture_user(store: &Arc<dyn Store>, handle: &str) -> User {
    store
        .create_user(new_user(handle, &format!("User {handle}")))
        .await
        .unwrap_or_else(|e| panic!("create user {handle}: {e}"))
}

pub fn new_user(handle: &str, name: &str) -> NewUser {
    NewUser {
        email: Email::parse(&format!("{handle}@example.com")).expect("valid e-mail"),
        name: name.to_owned(),
        password_hash: format!("$argon2id$fake${handle}"),
        role: Role::Customer,
    }
}

/// `count` customers `<prefix>0@example.com`...
pub async fn fixture_users(store: &Arc<dyn Store>, prefix: &str, count: usize) -> Vec<User> {
    let mut users = Vec::with_capacity(count);
    for i in 0..count {
        users.push(fixture_user(store, &format!("{prefix}{i}")).await);
    }
    users
}

/// The price every fixture event charges for a tier.
pub fn tier_price(tier: &str) -> i64 {
    match tier {
        "standard" => 1500,
        "vip" => 4000,
        "balcony" => 2200,
        _ => 1000,
    }
}

/// A venue with the given `(row, seats, tier)` rows, in that order.
pub async fn fixture_venue(store: &Arc<dyn Store>, rows: &[(&str, i32, &str)]) -> VenueWithSeats {
    let rows = rows
        .iter()
        .map(|(row, seats, tier)| SeatRow { row: (*row).to_owned(), seats: *seats, tier: (*tier).to_owned() })
        .collect();
    let venue = NewVenue::parse("Test Hall", Some("Main Street 1"), VenueKind::Hall, rows).expect("valid venue");
    store.create_venue(venue).await.unwrap_or_else(|e| panic!("create venue: {e}"))
}

/// A venue with `rows` rows of `seats` standard seats, labelled A, B, C...
pub async fn fixture_grid_venue(store: &Arc<dyn Store>, rows: usize, seats: i32) -> VenueWithSeats {
    let labels: Vec<String> = (0..rows).map(|i| char::from(b'A' + i as u8).to_string()).collect();
    let spec: Vec<(&str, i32, &str)> = labels.iter().map(|l| (l.as_str(), seats, "standard")).collect();
    fixture_venue(store, &spec).await
}

/// The fixture event of a venue: a concert a week ahead, every tier priced by `tier_price`.
pub fn new_event(venue: &VenueWithSeats) -> NewEvent {
    let mut tiers: Vec<&str> = venue.seats.iter().map(|s| s.tier.as_str()).collect();
    tiers.sort_unstable();
    tiers.dedup();
    NewEvent {
        actor: None,
        venue_id: venue.venue.id,
        name: "Test Concert".to_owned(),
        category: Category::Concert,
        description: "An evening of music".to_owned(),
        image_url: None,
        start_time: in_days(7.0),
        duration_minutes: Some(120),
        on_sale_at: None,
        queue: None,
        accessible_release_hours: None,
        currency: "EUR".to_owned(),
        prices: tiers.into_iter().map(|t| Price { tier: t.to_owned(), price_cents: tier_price(t) }).collect(),
        ticket_types: Vec::new(),
    }
}

pub async fn fixture_event(store: &Arc<dyn Store>, venue: &VenueWithSeats) -> Event {
    fixture_event_with(store, venue, |_| {}).await
}

/// The fixture event with some fields changed by `adjust`.
pub async fn fixture_event_with(
    store: &Arc<dyn Store>,
    venue: &VenueWithSeats,
    adjust: impl FnOnce(&mut NewEvent),
) -> Event {
    let mut event = new_event(venue);
    adjust(&mut event);
    store.create_event(event).await.unwrap_or_else(|e| panic!("create event: {e}"))
}

/// A hold of `seats` for `user`, limited only by the largest `HoldLimit`: the cases about seats
/// hold many seats per user and are not about the limit (those use `limited_hold`).
pub fn hold_request(user: &User, event: &Event, seats: &[Uuid], ttl: HoldTtl) -> HoldRequest {
    HoldRequest {
        booking_id: Uuid::new_v4(),
        user_id: user.id,
        event_id: event.id,
        seats: SeatSelection::parse(seats.to_vec()).expect("valid seat selection"),
        ttl,
        limit: HoldLimit::max(),
        admitted: false,
        presale: false,
        unlocked_types: Vec::new(),
        accessible: false,
    }
}

/// A hold of `seats` for `user` that may take the user's held seats of the event up to `limit`.
pub fn limited_hold(user: &User, event: &Event, seats: &[Uuid], ttl: HoldTtl, limit: u32) -> HoldRequest {
    HoldRequest { limit: HoldLimit::new(limit).expect("a valid hold limit"), ..hold_request(user, event, seats, ttl) }
}

/// Holds `seats` for `user` now, with a hold that outlives the test.
pub async fn hold_seats(store: &Arc<dyn Store>, user: &User, event: &Event, seats: &[Uuid]) -> StoreResult<Booking> {
    store.hold(&hold_request(user, event, seats, long_ttl()), Utc::now()).await
}

/// Like `hold_seats`, but the hold lapses within the test.
pub async fn hold_briefly(store: &Arc<dyn Store>, user: &User, event: &Event, seats: &[Uuid]) -> Booking {
    store
        .hold(&hold_request(user, event, seats, short_ttl()), Utc::now())
        .await
        .unwrap_or_else(|e| panic!("short hold of {} seat(s): {e}", seats.len()))
}

/// The ids of the venue's seats at these positions (row by row, as the venue lists them).
pub fn seat_ids(venue: &VenueWithSeats, positions: &[usize]) -> Vec<Uuid> {
    positions.iter().map(|&i| venue.seats[i].id).collect()
}

/// The error of a result that must have failed.
pub fn expect_err<T: Debug>(result: StoreResult<T>, what: &str) -> StoreError {
    match result {
        Ok(value) => panic!("{what}: expected an error, got Ok({value:?})"),
        Err(e) => e,
    }
}

/// Every reservation matching `filter`, page by page.
pub async fn all_reservations(
    store: &Arc<dyn Store>,
    filter: ReservationFilter,
    now: DateTime<Utc>,
) -> Vec<Reservation> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let page = Page { limit: Page::MAX_LIMIT, offset };
        let batch = store
            .list_reservations(&ReservationFilter { page, ..filter.clone() }, now)
            .await
            .unwrap_or_else(|e| panic!("list reservations: {e}"));
        let full = batch.len() as i64 == Page::MAX_LIMIT;
        all.extend(batch);
        if !full {
            return all;
        }
        offset += Page::MAX_LIMIT;
    }
}

/// The event's seat map at `now` as seat id → status.
pub async fn seat_statuses(
    store: &Arc<dyn Store>,
    event: &Event,
    now: DateTime<Utc>,
) -> BTreeMap<Uuid, proeventa_core::domain::SeatStatus> {
    store
        .seat_map(event.id, now)
        .await
        .unwrap_or_else(|e| panic!("seat map: {e}"))
        .expect("seat map of a known event")
        .into_iter()
        .map(|s| (s.seat_id, s.status))
        .collect()
}

/// A tiny deterministic generator (xorshift64), so a race is random-looking but repeatable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------------------------

/// The provider every fixture payment names.
pub const PROVIDER: &str = "simulated";

/// The last four digits of the card every fixture payment is confirmed with.
pub const CARD_LAST4: &str = "4242";

/// A checkout of `booking` by its buyer that keeps the seats until at least `hold_until`.
pub fn new_payment(booking: &Booking, hold_until: DateTime<Utc>) -> NewPayment {
    NewPayment {
        id: Uuid::new_v4(),
        booking_id: booking.id,
        user_id: booking.user_id,
        provider: PROVIDER.to_owned(),
        hold_until: whole_millis(hold_until),
        code: None,
    }
}

/// Checks `booking` out now, with a five-minute payment window.
pub async fn checkout(store: &Arc<dyn Store>, booking: &Booking) -> StoreResult<Payment> {
    let now = Utc::now();
    store.create_payment(new_payment(booking, now + Duration::seconds(300)), now).await
}

/// Holds `seats` for `user`, checks out and pays with `provider_ref`: the booking as it was
/// held and the succeeded payment.
pub async fn paid_booking(
    store: &Arc<dyn Store>,
    user: &User,
    event: &Event,
    seats: &[Uuid],
    provider_ref: &str,
) -> (Booking, Payment) {
    let booking = hold_seats(store, user, event, seats).await.unwrap_or_else(|e| panic!("hold to pay: {e}"));
    let payment = checkout(store, &booking).await.unwrap_or_else(|e| panic!("checkout: {e}"));
    let paid = store
        .confirm_payment(payment.id, provider_ref, CARD_LAST4, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("confirm payment: {e}"));
    (booking, paid)
}

/// The stored payment, which must exist.
pub async fn read_payment(store: &Arc<dyn Store>, id: Uuid) -> Payment {
    store.payment(id).await.unwrap_or_else(|e| panic!("read payment: {e}")).expect("payment exists")
}
