//! STUB: replaced by the real backend.
#![allow(unused_variables)]
use super::*;

pub struct SqliteStore;

impl SqliteStore {
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        unimplemented!()
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> { unimplemented!() }
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>> { unimplemented!() }
    async fn user_with_password_hash(&self, email: &Email) -> StoreResult<Option<(User, String)>> { unimplemented!() }
    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> { unimplemented!() }
    async fn update_user(&self, id: Uuid, changes: UserChanges) -> StoreResult<Option<User>> { unimplemented!() }
    async fn list_users(&self, query: Option<&str>, page: Page) -> StoreResult<Vec<User>> { unimplemented!() }
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn create_venue(&self, venue: NewVenue) -> StoreResult<VenueWithSeats> { unimplemented!() }
    async fn list_venues(&self) -> StoreResult<Vec<Venue>> { unimplemented!() }
    async fn venue(&self, id: Uuid) -> StoreResult<Option<VenueWithSeats>> { unimplemented!() }
    async fn venue_tiers(&self, id: Uuid) -> StoreResult<Option<BTreeSet<String>>> { unimplemented!() }
    async fn create_event(&self, event: NewEvent) -> StoreResult<Event> { unimplemented!() }
    async fn update_event(&self, id: Uuid, changes: EventChanges) -> StoreResult<Option<Event>> { unimplemented!() }
    async fn cancel_event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> { unimplemented!() }
    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> { unimplemented!() }
    async fn list_events(&self, filter: &EventFilter, now: DateTime<Utc>) -> StoreResult<Vec<Event>> { unimplemented!() }
    async fn seat_map(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Vec<SeatState>>> { unimplemented!() }
}

#[async_trait]
impl HoldStore for SqliteStore {
    async fn hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Booking> { unimplemented!() }
    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>> { unimplemented!() }
    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> { unimplemented!() }
    async fn list_reservations(&self, filter: &ReservationFilter, now: DateTime<Utc>) -> StoreResult<Vec<Reservation>> { unimplemented!() }
    async fn cancel_reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Reservation> { unimplemented!() }
    async fn cancel_booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Booking> { unimplemented!() }
    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> { unimplemented!() }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_idempotency_key( &self, user_id: Uuid, key: &str, request_hash: &str, now: DateTime<Utc>, ) -> StoreResult<IdempotencyClaim> { unimplemented!() }
    async fn complete_idempotency_key(&self, user_id: Uuid, key: &str, status: u16, body: &str) -> StoreResult<()> { unimplemented!() }
    async fn release_idempotency_key(&self, user_id: Uuid, key: &str) -> StoreResult<()> { unimplemented!() }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str { unimplemented!() }
    async fn ping(&self) -> StoreResult<()> { unimplemented!() }
    async fn migrate(&self) -> StoreResult<()> { unimplemented!() }
}
