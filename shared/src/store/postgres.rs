//! PostgreSQL backend: every store trait on one connection pool, with the seat promise kept by the
//! partial unique index `reservations_active_seat_uq` and a hold placed by one SQL statement.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::{PgExecutor, PgPool, PgPoolOptions};
use sqlx::{FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{
    CatalogStore, HoldStore, IDEMPOTENCY_TTL_HOURS, IdempotencyClaim, IdempotencyStore, Store, StoreError, StoreResult,
    UserStore,
};
use crate::domain::{
    Booking, Category, Email, Event, EventChanges, EventFilter, EventStatus, HoldRequest, Invalid, NewEvent, NewUser,
    NewVenue, Page, Price, Reservation, ReservationFilter, ReservationStatus, Role, Seat, SeatLabel, SeatState,
    SeatStatus, User, UserChanges, Venue, VenueKind, VenueSummary, VenueWithSeats,
};

/// Pool size unless `DATABASE_MAX_CONNECTIONS` says otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 32;
/// A request waits this long for a pooled connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// A hold that lost a deadlock wrote nothing, so it is simply tried again, this many times in all.
const HOLD_ATTEMPTS: usize = 3;
/// PostgreSQL's SQLSTATE for a transaction chosen as a deadlock victim.
const DEADLOCK_DETECTED: &str = "40P01";

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let max_connections = std::env::var("DATABASE_MAX_CONNECTIONS")
            .ok()
            .and_then(|raw| raw.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Every statement here is shaped to plan well without its parameters' values. Left to
            // choose, PostgreSQL re-plans the hold on every call (its custom plan knows how many
            // seats were asked for and so looks cheaper), which costs more than running it and
            // halved hold throughput when measured.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("SET plan_cache_mode = force_generic_plan").execute(conn).await?;
                    Ok(())
                })
            })
            .connect(database_url)
            .await
            .map_err(|err| match err {
                // A malformed URL is a configuration bug, not an outage.
                sqlx::Error::Configuration(_) => StoreError::from(err),
                // Refused, unknown database, bad credentials: the store cannot be reached as configured.
                other => StoreError::Unavailable(other.to_string()),
            })?;
        Ok(Self { pool })
    }
}

// ---------------------------------------------------------------------------------------------
// Rows and their mapping to domain types. Wire enums are stored as their wire text; text that
// no longer parses means the database holds something this code never wrote: an internal error.

fn parse_stored<T: FromStr<Err = Invalid>>(raw: &str) -> StoreResult<T> {
    raw.parse().map_err(|err: Invalid| StoreError::Internal(format!("unexpected stored value: {err}")))
}

/// `%text%` for `ILIKE … ESCAPE '\'`, with the caller's own wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(DEADLOCK_DETECTED))
}

macro_rules! user_columns {
    () => {
        "id, email, name, role, disabled, created_at"
    };
}

#[derive(FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    disabled: bool,
    created_at: DateTime<Utc>,
}

impl UserRow {
    fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: self.id,
            email: self.email,
            name: self.name,
            role: parse_stored::<Role>(&self.role)?,
            disabled: self.disabled,
            created_at: self.created_at,
        })
    }
}

#[derive(FromRow)]
struct UserWithHashRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

macro_rules! venue_columns {
    () => {
        "v.id, v.name, v.location, v.kind, (SELECT count(*) FROM seats s WHERE s.venue_id = v.id) AS seat_count"
    };
}

#[derive(FromRow)]
struct VenueRow {
    id: Uuid,
    name: String,
    location: String,
    kind: String,
    seat_count: i64,
}

impl VenueRow {
    fn into_venue(self) -> StoreResult<Venue> {
        Ok(Venue {
            id: self.id,
            name: self.name,
            location: self.location,
            kind: parse_stored::<VenueKind>(&self.kind)?,
            seat_count: self.seat_count,
        })
    }
}

#[derive(FromRow)]
struct SeatRow {
    id: Uuid,
    row_label: String,
    seat_number: i32,
    tier: String,
}

impl SeatRow {
    fn into_seat(self) -> Seat {
        Seat { id: self.id, row: self.row_label, seat_number: self.seat_number, tier: self.tier }
    }
}

/// An event with its venue, its prices (two parallel arrays, by tier) and its seat counts. `now`
/// is bound between the two halves, so every event read counts active holds at the caller's clock.
/// Tiers sort bytewise (`COLLATE "C"`) so the order does not depend on the server's locale.
const EVENT_SELECT_UNTIL_NOW: &str = r#"
SELECT e.id, e.venue_id, v.name AS venue_name, v.location AS venue_location, v.kind AS venue_kind,
       e.name, e.category, e.description, e.image_url, e.start_time, e.duration_minutes, e.status, e.currency,
       ARRAY(SELECT p.tier FROM event_prices p WHERE p.event_id = e.id ORDER BY p.tier COLLATE "C") AS price_tiers,
       ARRAY(SELECT p.price_cents FROM event_prices p WHERE p.event_id = e.id ORDER BY p.tier COLLATE "C")
           AS price_amounts,
       (SELECT count(*) FROM seats s WHERE s.venue_id = e.venue_id) AS seats_total,
       (SELECT count(*) FROM reservations r
         WHERE r.event_id = e.id AND (r.status = 'confirmed' OR (r.status = 'held' AND r.expires_at > "#;
const EVENT_SELECT_AFTER_NOW: &str = ")))
           AS seats_taken
FROM events e JOIN venues v ON v.id = e.venue_id";

fn event_query<'a>(now: DateTime<Utc>) -> QueryBuilder<'a, Postgres> {
    let mut query = QueryBuilder::new(EVENT_SELECT_UNTIL_NOW);
    query.push_bind(now).push(EVENT_SELECT_AFTER_NOW);
    query
}

#[derive(FromRow)]
struct EventRow {
    id: Uuid,
    venue_id: Uuid,
    venue_name: String,
    venue_location: String,
    venue_kind: String,
    name: String,
    category: String,
    description: String,
    image_url: Option<String>,
    start_time: DateTime<Utc>,
    duration_minutes: Option<i32>,
    status: String,
    currency: String,
    price_tiers: Vec<String>,
    price_amounts: Vec<i64>,
    seats_total: i64,
    seats_taken: i64,
}

impl EventRow {
    fn into_event(self) -> StoreResult<Event> {
        let prices = self
            .price_tiers
            .into_iter()
            .zip(self.price_amounts)
            .map(|(tier, price_cents)| Price { tier, price_cents })
            .collect();
        Ok(Event {
            id: self.id,
            venue_id: self.venue_id,
            venue: VenueSummary {
                id: self.venue_id,
                name: self.venue_name,
                location: self.venue_location,
                kind: parse_stored::<VenueKind>(&self.venue_kind)?,
            },
            name: self.name,
            category: parse_stored::<Category>(&self.category)?,
            description: self.description,
            image_url: self.image_url,
            start_time: self.start_time,
            duration_minutes: self.duration_minutes,
            status: parse_stored::<EventStatus>(&self.status)?,
            currency: self.currency,
            prices,
            seats_total: self.seats_total,
            seats_available: (self.seats_total - self.seats_taken).max(0),
        })
    }
}

async fn fetch_event<'e>(executor: impl PgExecutor<'e>, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
    let mut query = event_query(now);
    query.push(" WHERE e.id = ").push_bind(id);
    let row = query.build_query_as::<EventRow>().fetch_optional(executor).await?;
    row.map(EventRow::into_event).transpose()
}

/// The columns of `ReservationRow`, from `reservations r` joined to `seats s`.
macro_rules! reservation_columns {
    () => {
        "r.id, r.booking_id, r.user_id, r.event_id, r.seat_id, s.row_label, s.seat_number, s.tier, \
         r.price_cents, r.currency, r.status, r.expires_at, r.created_at"
    };
}

#[derive(FromRow)]
struct ReservationRow {
    id: Uuid,
    booking_id: Uuid,
    user_id: Uuid,
    event_id: Uuid,
    seat_id: Uuid,
    row_label: String,
    seat_number: i32,
    tier: String,
    price_cents: i64,
    currency: String,
    status: String,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl ReservationRow {
    /// The reservation as a reader sees it at `now`: a lapsed hold is `expired`.
    fn into_reservation(self, now: DateTime<Utc>) -> StoreResult<Reservation> {
        let status = parse_stored::<ReservationStatus>(&self.status)?.effective(self.expires_at, now);
        Ok(Reservation {
            id: self.id,
            booking_id: self.booking_id,
            user_id: self.user_id,
            event_id: self.event_id,
            seat_id: self.seat_id,
            seat: SeatLabel { row: self.row_label, seat_number: self.seat_number, tier: self.tier },
            price_cents: self.price_cents,
            currency: self.currency,
            status,
            expires_at: self.expires_at,
            created_at: self.created_at,
        })
    }
}

#[derive(FromRow)]
struct BookingSeatRow {
    booking_created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    reservation: ReservationRow,
}

fn labels(rows: Vec<(String, i32, String)>) -> Vec<SeatLabel> {
    rows.into_iter().map(|(row, seat_number, tier)| SeatLabel { row, seat_number, tier }).collect()
}

#[derive(FromRow)]
struct SeatMapRow {
    seat_id: Uuid,
    row_label: String,
    seat_number: i32,
    tier: String,
    price_cents: i64,
    reservation_status: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

impl SeatMapRow {
    fn into_seat_state(self, now: DateTime<Utc>) -> StoreResult<SeatState> {
        let reservation = match (self.reservation_status, self.expires_at) {
            (Some(status), Some(expires_at)) => {
                Some(parse_stored::<ReservationStatus>(&status)?.effective(expires_at, now))
            }
            _ => None,
        };
        let status = match reservation {
            Some(ReservationStatus::Confirmed) => SeatStatus::Sold,
            Some(ReservationStatus::Held) => SeatStatus::Held,
            _ => SeatStatus::Available,
        };
        Ok(SeatState {
            seat_id: self.seat_id,
            row: self.row_label,
            seat_number: self.seat_number,
            tier: self.tier,
            price_cents: self.price_cents,
            status,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The hold: one statement, atomic by itself in autocommit, so a multi-seat hold is all or nothing.
//
// - `open_event` takes a share lock on the event row: a concurrent cancel (or edit) of the event
//   waits for holds in flight, and a hold that waited re-checks `on_sale`/`start_time` on the
//   committed row, so no hold can slip in beside a cancellation.
// - `lapsed` expires lapsed holds on the wanted seats. An unreferenced data-modifying CTE would run
//   after the main statement, too late for the unique index; reading its count in `booking`'s WHERE
//   (an InitPlan) makes it run before any reservation is inserted.
// - Rows are inserted in seat-id order so that two overlapping multi-seat holds wait on each other
//   in the same order instead of deadlocking.
// - Each wanted seat is one probe of the unique index on (event_id, seat_id), forced by a LATERAL
//   subquery per seat: written as `seat_id = ANY($2)` or a plain join, the planner may scan every
//   active reservation of the event instead (O(n) per hold) whenever its statistics underrate the
//   event, e.g. a new event in an on-sale spike or a fresh table. The status is repeated on `r` so a
//   row changed concurrently is re-checked before it is expired.
// - The unique index `reservations_active_seat_uq` is the only referee: nothing is checked first.
const HOLD_SQL: &str = r#"
WITH open_event AS (
    SELECT e.id, e.venue_id, e.currency
    FROM events e
    WHERE e.id = $1 AND e.status = 'on_sale' AND e.start_time > $6
    FOR SHARE
), wanted AS (
    SELECT s.id AS seat_id, s.row_label, s.row_index, s.seat_number, s.tier, p.price_cents, oe.currency
    FROM open_event oe
    CROSS JOIN unnest($2::uuid[]) AS want (seat_id)
    -- One primary-key probe per seat: a plain join let the generic plan hash the whole venue.
    CROSS JOIN LATERAL (SELECT * FROM seats x WHERE x.id = want.seat_id LIMIT 1) s
    JOIN event_prices p ON p.event_id = oe.id AND p.tier = s.tier
    WHERE s.venue_id = oe.venue_id
), valid AS (
    SELECT count(*) = cardinality($2) AS ok FROM wanted
), lapsed AS (
    UPDATE reservations r SET status = 'expired', updated_at = $6
    FROM unnest($2::uuid[]) AS want (seat_id)
    CROSS JOIN LATERAL (
        SELECT x.id FROM reservations x
        WHERE x.event_id = $1 AND x.seat_id = want.seat_id AND x.status = 'held' AND x.expires_at <= $6
        LIMIT 1
    ) stale
    WHERE r.id = stale.id AND r.status = 'held' AND r.expires_at <= $6 AND (SELECT ok FROM valid)
    RETURNING r.id
), booking AS (
    INSERT INTO bookings (id, user_id, event_id, created_at)
    SELECT $3, $4, $1, $6 FROM valid
    WHERE valid.ok AND (SELECT count(*) FROM lapsed) >= 0
    RETURNING id
), inserted AS (
    INSERT INTO reservations
        (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, expires_at, created_at, updated_at)
    SELECT gen_random_uuid(), b.id, $4, $1, w.seat_id, w.price_cents, w.currency, 'held', $5, $6, $6
    FROM booking b CROSS JOIN wanted w
    ORDER BY w.seat_id
    RETURNING *
)
SELECT r.id, r.booking_id, r.user_id, r.event_id, r.seat_id, w.row_label, w.seat_number, w.tier,
       r.price_cents, r.currency, r.status, r.expires_at, r.created_at
FROM inserted r JOIN wanted w ON w.seat_id = r.seat_id
ORDER BY w.row_index, w.seat_number
"#;

impl PostgresStore {
    /// Why a hold statement wrote nothing, read after the fact. `None` when nothing is wrong any
    /// more (the event changed in between), so the hold may be tried again.
    async fn hold_refusal(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Option<StoreError>> {
        let event: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT status, start_time FROM events WHERE id = $1")
                .bind(request.event_id)
                .fetch_optional(&self.pool)
                .await?;
        let Some((status, start_time)) = event else {
            return Ok(Some(StoreError::NotFound));
        };
        if parse_stored::<EventStatus>(&status)? == EventStatus::Canceled {
            return Ok(Some(StoreError::Rejected(Invalid::new("event_id", "this event was canceled"))));
        }
        if start_time <= now {
            return Ok(Some(StoreError::Rejected(Invalid::new("event_id", "this event has already started"))));
        }
        let sellable: HashSet<Uuid> = sqlx::query_scalar(
            "SELECT s.id FROM unnest($2::uuid[]) AS want (seat_id)
             JOIN seats s ON s.id = want.seat_id
             JOIN events e ON e.venue_id = s.venue_id AND e.id = $1
             JOIN event_prices p ON p.event_id = e.id AND p.tier = s.tier",
        )
        .bind(request.event_id)
        .bind(request.seats.ids())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        Ok(request.seats.ids().iter().find(|id| !sellable.contains(id)).map(|id| {
            StoreError::Rejected(Invalid::new("seat_ids", format!("seat {id} is not in this event's venue")))
        }))
    }

    /// The requested seats that someone else holds or bought at `now`, after the index refused a
    /// hold (one index probe per seat, as in the hold). If they were freed meanwhile, every
    /// requested seat is named: the hold still lost.
    async fn lost_seats(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<StoreError> {
        let taken: Vec<(String, i32, String)> = sqlx::query_as(
            "SELECT s.row_label, s.seat_number, s.tier
             FROM unnest($2::uuid[]) AS want (seat_id)
             CROSS JOIN LATERAL (
                 SELECT x.status, x.expires_at FROM reservations x
                 WHERE x.event_id = $1 AND x.seat_id = want.seat_id AND x.status IN ('held', 'confirmed')
                 LIMIT 1
             ) r
             JOIN seats s ON s.id = want.seat_id
             WHERE r.status = 'confirmed' OR r.expires_at > $3
             ORDER BY s.row_index, s.seat_number",
        )
        .bind(request.event_id)
        .bind(request.seats.ids())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        if !taken.is_empty() {
            return Ok(StoreError::SeatsUnavailable(labels(taken)));
        }
        let requested: Vec<(String, i32, String)> = sqlx::query_as(
            "SELECT row_label, seat_number, tier FROM seats WHERE id = ANY($1) ORDER BY row_index, seat_number",
        )
        .bind(request.seats.ids())
        .fetch_all(&self.pool)
        .await?;
        Ok(StoreError::SeatsUnavailable(labels(requested)))
    }
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, false, $6) RETURNING ",
            user_columns!()
        ))
        .bind(Uuid::new_v4())
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await?;
        row.into_user()
    }

    async fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(UserRow::into_user).transpose()
    }

    async fn user_with_password_hash(&self, email: &Email) -> StoreResult<Option<(User, String)>> {
        let row: Option<UserWithHashRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), ", password_hash FROM users WHERE email = $1"))
                .bind(email.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| Ok((row.user.into_user()?, row.password_hash))).transpose()
    }

    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn update_user(&self, id: Uuid, changes: UserChanges) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE users SET name = COALESCE($2, name), password_hash = COALESCE($3, password_hash),
                              role = COALESCE($4, role), disabled = COALESCE($5, disabled)
             WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id)
        .bind(changes.name)
        .bind(changes.password_hash)
        .bind(changes.role.map(Role::as_str))
        .bind(changes.disabled)
        .fetch_optional(&self.pool)
        .await?;
        row.map(UserRow::into_user).transpose()
    }

    async fn list_users(&self, query: Option<&str>, page: Page) -> StoreResult<Vec<User>> {
        let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", user_columns!(), " FROM users"));
        if let Some(text) = query {
            let pattern = contains_pattern(text);
            sql.push(" WHERE email ILIKE ").push_bind(pattern.clone()).push(r" ESCAPE '\'");
            sql.push(" OR name ILIKE ").push_bind(pattern).push(r" ESCAPE '\'");
        }
        sql.push(" ORDER BY created_at, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows = sql.build_query_as::<UserRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(UserRow::into_user).collect()
    }
}

#[async_trait]
impl CatalogStore for PostgresStore {
    async fn create_venue(&self, venue: NewVenue) -> StoreResult<VenueWithSeats> {
        let id = Uuid::new_v4();
        let seats: Vec<(i32, Seat)> = venue
            .rows
            .iter()
            .zip(0..)
            .flat_map(|(row, row_index)| {
                (1..=row.seats).map(move |seat_number| {
                    let seat = Seat { id: Uuid::new_v4(), row: row.row.clone(), seat_number, tier: row.tier.clone() };
                    (row_index, seat)
                })
            })
            .collect();

        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO venues (id, name, location, kind, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(&venue.name)
            .bind(&venue.location)
            .bind(venue.kind.as_str())
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        // One insert for the whole venue, column by column, however many seats it has.
        sqlx::query(
            "INSERT INTO seats (id, venue_id, row_label, row_index, seat_number, tier)
             SELECT t.id, $1, t.row_label, t.row_index, t.seat_number, t.tier
             FROM UNNEST($2::uuid[], $3::text[], $4::int4[], $5::int4[], $6::text[])
                  AS t (id, row_label, row_index, seat_number, tier)",
        )
        .bind(id)
        .bind(seats.iter().map(|(_, s)| s.id).collect::<Vec<_>>())
        .bind(seats.iter().map(|(_, s)| s.row.clone()).collect::<Vec<_>>())
        .bind(seats.iter().map(|(row_index, _)| *row_index).collect::<Vec<_>>())
        .bind(seats.iter().map(|(_, s)| s.seat_number).collect::<Vec<_>>())
        .bind(seats.iter().map(|(_, s)| s.tier.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        let seats: Vec<Seat> = seats.into_iter().map(|(_, seat)| seat).collect();
        let seat_count = i64::try_from(seats.len()).map_err(|err| StoreError::Internal(err.to_string()))?;
        Ok(VenueWithSeats {
            venue: Venue { id, name: venue.name, location: venue.location, kind: venue.kind, seat_count },
            seats,
        })
    }

    async fn list_venues(&self) -> StoreResult<Vec<Venue>> {
        let rows: Vec<VenueRow> =
            sqlx::query_as(concat!("SELECT ", venue_columns!(), r#" FROM venues v ORDER BY v.name COLLATE "C", v.id"#))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(VenueRow::into_venue).collect()
    }

    async fn venue(&self, id: Uuid) -> StoreResult<Option<VenueWithSeats>> {
        let row: Option<VenueRow> =
            sqlx::query_as(concat!("SELECT ", venue_columns!(), " FROM venues v WHERE v.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let seats: Vec<SeatRow> = sqlx::query_as(
            "SELECT id, row_label, seat_number, tier FROM seats WHERE venue_id = $1 ORDER BY row_index, seat_number",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(VenueWithSeats {
            venue: row.into_venue()?,
            seats: seats.into_iter().map(SeatRow::into_seat).collect(),
        }))
    }

    async fn venue_tiers(&self, id: Uuid) -> StoreResult<Option<BTreeSet<String>>> {
        let tiers: Option<Vec<String>> = sqlx::query_scalar(
            "SELECT ARRAY(SELECT DISTINCT s.tier FROM seats s WHERE s.venue_id = v.id) FROM venues v WHERE v.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(tiers.map(|tiers| tiers.into_iter().collect()))
    }

    async fn create_event(&self, event: NewEvent) -> StoreResult<Event> {
        let id = Uuid::new_v4();
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        // Inserting from `venues` turns an unknown venue into zero rows instead of a foreign-key error.
        let inserted = sqlx::query(
            "INSERT INTO events (id, venue_id, name, category, description, image_url, start_time,
                                 duration_minutes, status, currency, created_at)
             SELECT $1, v.id, $3, $4, $5, $6, $7, $8, 'on_sale', $9, $10 FROM venues v WHERE v.id = $2",
        )
        .bind(id)
        .bind(event.venue_id)
        .bind(&event.name)
        .bind(event.category.as_str())
        .bind(&event.description)
        .bind(&event.image_url)
        .bind(event.start_time)
        .bind(event.duration_minutes)
        .bind(&event.currency)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Rejected(Invalid::new("venue_id", "there is no venue with this id")));
        }
        insert_prices(&mut tx, id, &event.prices).await?;
        let created = fetch_event(&mut *tx, id, now).await?;
        tx.commit().await?;
        created.ok_or_else(|| StoreError::Internal("a created event could not be read back".into()))
    }

    async fn update_event(&self, id: Uuid, changes: EventChanges) -> StoreResult<Option<Event>> {
        let mut tx = self.pool.begin().await?;
        // The doubly optional fields need a flag: `Some(None)` clears the column, `None` keeps it.
        let updated = sqlx::query(
            "UPDATE events SET
                 name = COALESCE($2, name),
                 category = COALESCE($3, category),
                 description = COALESCE($4, description),
                 image_url = CASE WHEN $5 THEN $6 ELSE image_url END,
                 start_time = COALESCE($7, start_time),
                 duration_minutes = CASE WHEN $8 THEN $9 ELSE duration_minutes END,
                 currency = COALESCE($10, currency)
             WHERE id = $1",
        )
        .bind(id)
        .bind(changes.name)
        .bind(changes.category.map(Category::as_str))
        .bind(changes.description)
        .bind(changes.image_url.is_some())
        .bind(changes.image_url.flatten())
        .bind(changes.start_time)
        .bind(changes.duration_minutes.is_some())
        .bind(changes.duration_minutes.flatten())
        .bind(changes.currency)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        if let Some(prices) = &changes.prices {
            sqlx::query("DELETE FROM event_prices WHERE event_id = $1").bind(id).execute(&mut *tx).await?;
            insert_prices(&mut tx, id, prices).await?;
        }
        // The trait gives no clock here; availability is counted at the wall clock.
        let event = fetch_event(&mut *tx, id, Utc::now()).await?;
        tx.commit().await?;
        Ok(event)
    }

    async fn cancel_event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
        let mut tx = self.pool.begin().await?;
        // Updating the event row first waits for holds in flight (they share-lock it), and makes
        // later holds wait for this transaction and then see the event canceled.
        let found = sqlx::query("UPDATE events SET status = 'canceled' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if found == 0 {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE reservations SET status = 'canceled', updated_at = $2
             WHERE event_id = $1 AND (status = 'confirmed' OR (status = 'held' AND expires_at > $2))",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let event = fetch_event(&mut *tx, id, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
        fetch_event(&self.pool, id, now).await
    }

    async fn list_events(&self, filter: &EventFilter, now: DateTime<Utc>) -> StoreResult<Vec<Event>> {
        let mut query = event_query(now);
        query.push(" WHERE true");
        if !filter.include_past {
            query.push(" AND e.status = 'on_sale' AND e.start_time > ").push_bind(now);
        }
        if let Some(category) = filter.category {
            query.push(" AND e.category = ").push_bind(category.as_str());
        }
        if let Some(venue_id) = filter.venue_id {
            query.push(" AND e.venue_id = ").push_bind(venue_id);
        }
        if let Some(from) = filter.from {
            query.push(" AND e.start_time >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            query.push(" AND e.start_time <= ").push_bind(to);
        }
        if let Some(text) = &filter.text {
            let pattern = contains_pattern(text);
            query.push(" AND (e.name ILIKE ").push_bind(pattern.clone()).push(r" ESCAPE '\'");
            query.push(" OR e.description ILIKE ").push_bind(pattern).push(r" ESCAPE '\')");
        }
        query.push(" ORDER BY e.start_time, e.id LIMIT ").push_bind(filter.page.limit);
        query.push(" OFFSET ").push_bind(filter.page.offset);
        let rows = query.build_query_as::<EventRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    async fn seat_map(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Vec<SeatState>>> {
        // The unique index leaves at most one held or confirmed reservation per seat to join.
        let rows: Vec<SeatMapRow> = sqlx::query_as(
            "SELECT s.id AS seat_id, s.row_label, s.seat_number, s.tier,
                    COALESCE(p.price_cents, 0) AS price_cents,
                    r.status AS reservation_status, r.expires_at
             FROM events e
             JOIN seats s ON s.venue_id = e.venue_id
             LEFT JOIN event_prices p ON p.event_id = e.id AND p.tier = s.tier
             LEFT JOIN reservations r ON r.event_id = e.id AND r.seat_id = s.id AND r.status IN ('held', 'confirmed')
             WHERE e.id = $1
             ORDER BY s.row_index, s.seat_number",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            // Every venue has seats, so no rows means no event; confirm rather than assume.
            let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM events WHERE id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?;
            return Ok(exists.map(|_| Vec::new()));
        }
        rows.into_iter().map(|row| row.into_seat_state(now)).collect::<StoreResult<_>>().map(Some)
    }
}

/// Writes an event's prices in one insert.
async fn insert_prices(tx: &mut sqlx::Transaction<'_, Postgres>, event_id: Uuid, prices: &[Price]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO event_prices (event_id, tier, price_cents)
         SELECT $1, t.tier, t.price_cents FROM UNNEST($2::text[], $3::int8[]) AS t (tier, price_cents)",
    )
    .bind(event_id)
    .bind(prices.iter().map(|p| p.tier.clone()).collect::<Vec<_>>())
    .bind(prices.iter().map(|p| p.price_cents).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl HoldStore for PostgresStore {
    async fn hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Booking> {
        let expires_at = now + request.ttl.duration();
        for attempt in 1..=HOLD_ATTEMPTS {
            let outcome = sqlx::query_as::<_, ReservationRow>(HOLD_SQL)
                .bind(request.event_id)
                .bind(request.seats.ids())
                .bind(request.booking_id)
                .bind(request.user_id)
                .bind(expires_at)
                .bind(now)
                .fetch_all(&self.pool)
                .await;
            match outcome {
                Ok(rows) if !rows.is_empty() => {
                    // The stored timestamp (microseconds) is the one every later read will show.
                    let created_at = rows[0].created_at;
                    let reservations =
                        rows.into_iter().map(|row| row.into_reservation(now)).collect::<StoreResult<Vec<_>>>()?;
                    return Booking::from_reservations(request.booking_id, created_at, reservations)
                        .ok_or_else(|| StoreError::Internal("a hold returned no reservations".into()));
                }
                Ok(_) => {
                    if let Some(refusal) = self.hold_refusal(request, now).await? {
                        return Err(refusal);
                    }
                }
                // Nothing was written; the other transaction holds some of these seats, or is about to.
                Err(err) if is_deadlock(&err) && attempt < HOLD_ATTEMPTS => {}
                Err(err) if is_deadlock(&err) => return Err(self.lost_seats(request, now).await?),
                Err(err) => {
                    return Err(match StoreError::from(err) {
                        StoreError::SeatsUnavailable(_) => self.lost_seats(request, now).await?,
                        other => other,
                    });
                }
            }
        }
        Err(StoreError::Internal("the hold kept changing under concurrent edits of its event; try again".into()))
    }

    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>> {
        let row: Option<ReservationRow> = sqlx::query_as(concat!(
            "SELECT ",
            reservation_columns!(),
            " FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| row.into_reservation(now)).transpose()
    }

    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
        let rows: Vec<BookingSeatRow> = sqlx::query_as(concat!(
            "SELECT b.created_at AS booking_created_at, ",
            reservation_columns!(),
            " FROM bookings b
              JOIN reservations r ON r.booking_id = b.id
              JOIN seats s ON s.id = r.seat_id
              WHERE b.id = $1
              ORDER BY s.row_index, s.seat_number"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let Some(created_at) = rows.first().map(|row| row.booking_created_at) else {
            return Ok(None);
        };
        let reservations =
            rows.into_iter().map(|row| row.reservation.into_reservation(now)).collect::<StoreResult<Vec<_>>>()?;
        Ok(Booking::from_reservations(id, created_at, reservations))
    }

    async fn list_reservations(&self, filter: &ReservationFilter, now: DateTime<Utc>) -> StoreResult<Vec<Reservation>> {
        let mut query = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            reservation_columns!(),
            " FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE true"
        ));
        if let Some(user_id) = filter.user_id {
            query.push(" AND r.user_id = ").push_bind(user_id);
        }
        if let Some(event_id) = filter.event_id {
            query.push(" AND r.event_id = ").push_bind(event_id);
        }
        // The filter is on the status a reader sees, so a lapsed hold is `expired`, not `held`.
        match filter.status {
            None => {}
            Some(ReservationStatus::Held) => {
                query.push(" AND r.status = 'held' AND r.expires_at > ").push_bind(now);
            }
            Some(ReservationStatus::Expired) => {
                query.push(" AND (r.status = 'expired' OR (r.status = 'held' AND r.expires_at <= ").push_bind(now);
                query.push("))");
            }
            Some(status) => {
                query.push(" AND r.status = ").push_bind(status.as_str());
            }
        }
        query.push(" ORDER BY r.created_at DESC, r.booking_id, s.row_index, s.seat_number LIMIT ");
        query.push_bind(filter.page.limit).push(" OFFSET ").push_bind(filter.page.offset);
        let rows = query.build_query_as::<ReservationRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(|row| row.into_reservation(now)).collect()
    }

    async fn cancel_reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Reservation> {
        let canceled: Option<ReservationRow> = sqlx::query_as(concat!(
            "WITH r AS (
                 UPDATE reservations SET status = 'canceled', updated_at = $2
                 WHERE id = $1 AND (status = 'confirmed' OR (status = 'held' AND expires_at > $2))
                 RETURNING *
             )
             SELECT ",
            reservation_columns!(),
            " FROM r JOIN seats s ON s.id = r.seat_id"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = canceled {
            return row.into_reservation(now);
        }
        match self.reservation(id, now).await? {
            None => Err(StoreError::NotFound),
            Some(current) => Err(StoreError::InvalidState(format!("this reservation is already {}", current.status))),
        }
    }

    async fn cancel_booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Booking> {
        let canceled = sqlx::query(
            "UPDATE reservations SET status = 'canceled', updated_at = $2
             WHERE booking_id = $1 AND (status = 'confirmed' OR (status = 'held' AND expires_at > $2))",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        match self.booking(id, now).await? {
            None => Err(StoreError::NotFound),
            Some(_) if canceled == 0 => Err(StoreError::InvalidState("this booking has no active seats left".into())),
            Some(booking) => Ok(booking),
        }
    }

    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let expired = sqlx::query(
            "UPDATE reservations SET status = 'expired', updated_at = $1 WHERE status = 'held' AND expires_at <= $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(expired.rows_affected())
    }
}

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn claim_idempotency_key(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim> {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < $3")
            .bind(user_id)
            .bind(key)
            .bind(now - Duration::hours(IDEMPOTENCY_TTL_HOURS))
            .execute(&self.pool)
            .await?;
        // Whoever inserts the record owns the key; everyone else reads what the owner left.
        let claimed: Option<i32> = sqlx::query_scalar(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING RETURNING 1",
        )
        .bind(user_id)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if claimed.is_some() {
            return Ok(IdempotencyClaim::Claimed);
        }
        let record: Option<(String, Option<i32>, Option<String>)> = sqlx::query_as(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match record {
            // Released by its owner between our insert and this read: still someone else's turn.
            None => IdempotencyClaim::InFlight,
            Some((stored_hash, _, _)) if stored_hash != request_hash => IdempotencyClaim::Mismatch,
            Some((_, None, _)) => IdempotencyClaim::InFlight,
            Some((_, Some(status), body)) => IdempotencyClaim::Replay {
                status: u16::try_from(status).map_err(|_| StoreError::Internal(format!("stored status {status}")))?,
                body: body.unwrap_or_default(),
            },
        })
    }

    async fn complete_idempotency_key(&self, user_id: Uuid, key: &str, status: u16, body: &str) -> StoreResult<()> {
        sqlx::query("UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE user_id = $1 AND key = $2")
            .bind(user_id)
            .bind(key)
            .bind(i32::from(status))
            .bind(body)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release_idempotency_key(&self, user_id: Uuid, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations/postgres").run(&self.pool).await.map_err(|err| match err {
            sqlx::migrate::MigrateError::Execute(err) | sqlx::migrate::MigrateError::ExecuteMigration(err, _) => {
                StoreError::from(err)
            }
            other => StoreError::Internal(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;

    use super::*;
    use crate::domain::{HoldTtl, SeatRow as NewSeatRow, SeatSelection};

    const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// `url` with its database name replaced, query string kept.
    fn with_database(url: &str, database: &str) -> String {
        let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
        let server = match base.rsplit_once('/') {
            Some((server, _)) if server.contains("://") && !server.ends_with('/') => server,
            _ => base,
        };
        match query {
            Some(query) => format!("{server}/{database}?{query}"),
            None => format!("{server}/{database}"),
        }
    }

    /// Runs `body` against a migrated store on a fresh database, dropped afterwards even if the body panics.
    async fn with_store<F, Fut>(body: F)
    where
        F: FnOnce(Arc<PostgresStore>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
        let name = format!("proeventa_unit_{}", Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .unwrap_or_else(|err| panic!("PostgreSQL at {admin_url} is unreachable: {err}"));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
        let store = Arc::new(PostgresStore::connect(&with_database(&admin_url, &name)).await.unwrap());
        store.migrate().await.unwrap();

        let outcome = tokio::spawn(body(Arc::clone(&store))).await;
        store.pool.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await.unwrap();
        if let Err(err) = outcome {
            std::panic::resume_unwind(err.into_panic());
        }
    }

    struct Fixture {
        user_id: Uuid,
        event_id: Uuid,
        /// Row A: three `standard` seats at 1200; row B: two `vip` seats at 3000.
        seats: Vec<Seat>,
    }

    impl Fixture {
        fn seat(&self, label: &str) -> Uuid {
            self.seats.iter().find(|s| format!("{}{}", s.row, s.seat_number) == label).unwrap().id
        }

        fn hold(&self, labels: &[&str], ttl: HoldTtl) -> HoldRequest {
            HoldRequest {
                booking_id: Uuid::new_v4(),
                user_id: self.user_id,
                event_id: self.event_id,
                seats: SeatSelection::parse(labels.iter().map(|l| self.seat(l)).collect()).unwrap(),
                ttl,
            }
        }
    }

    fn ten_minutes() -> HoldTtl {
        HoldTtl::from_seconds(600).unwrap()
    }

    fn label(row: &str, seat_number: i32, tier: &str) -> SeatLabel {
        SeatLabel { row: row.into(), seat_number, tier: tier.into() }
    }

    async fn fixture(store: &PostgresStore) -> Fixture {
        let user = store
            .create_user(NewUser {
                email: Email::parse(&format!("{}@example.com", Uuid::new_v4().simple())).unwrap(),
                name: "Ann".into(),
                password_hash: "hash".into(),
                role: Role::Customer,
            })
            .await
            .unwrap();
        let rows = vec![
            NewSeatRow { row: "A".into(), seats: 3, tier: "standard".into() },
            NewSeatRow { row: "B".into(), seats: 2, tier: "vip".into() },
        ];
        let venue =
            store.create_venue(NewVenue::parse("Hall", Some("Town"), VenueKind::Hall, rows).unwrap()).await.unwrap();
        let event = store
            .create_event(NewEvent {
                venue_id: venue.venue.id,
                name: "Concert".into(),
                category: Category::Concert,
                description: String::new(),
                image_url: None,
                start_time: Utc::now() + Duration::days(7),
                duration_minutes: Some(90),
                currency: "EUR".into(),
                prices: vec![
                    Price { tier: "vip".into(), price_cents: 3000 },
                    Price { tier: "standard".into(), price_cents: 1200 },
                ],
            })
            .await
            .unwrap();
        Fixture { user_id: user.id, event_id: event.id, seats: venue.seats }
    }

    async fn count_reservations(store: &PostgresStore) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM reservations").fetch_one(&store.pool).await.unwrap()
    }

    #[tokio::test]
    async fn a_two_seat_hold_is_one_booking_read_back_alike() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = Utc::now();
            let booking = store.hold(&f.hold(&["B2", "A1"], ten_minutes()), now).await.unwrap();

            assert_eq!(booking.status, ReservationStatus::Held);
            assert_eq!(booking.total_cents, 4200);
            let seats: Vec<SeatLabel> = booking.reservations.iter().map(|r| r.seat.clone()).collect();
            assert_eq!(seats, vec![label("A", 1, "standard"), label("B", 2, "vip")]);
            assert_eq!(store.booking(booking.id, now).await.unwrap(), Some(booking.clone()));

            let event = store.event(f.event_id, now).await.unwrap().unwrap();
            assert_eq!((event.seats_total, event.seats_available), (5, 3));
            assert_eq!(event.prices.iter().map(|p| p.tier.as_str()).collect::<Vec<_>>(), ["standard", "vip"]);
            let map = store.seat_map(f.event_id, now).await.unwrap().unwrap();
            let held: Vec<String> = map
                .iter()
                .filter(|s| s.status == SeatStatus::Held)
                .map(|s| format!("{}{}", s.row, s.seat_number))
                .collect();
            assert_eq!(held, ["A1", "B2"]);
        })
        .await;
    }

    #[tokio::test]
    async fn a_conflicting_hold_names_the_taken_seat_and_writes_nothing() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = Utc::now();
            store.hold(&f.hold(&["A2"], ten_minutes()), now).await.unwrap();

            let losing = f.hold(&["A1", "A2"], ten_minutes());
            match store.hold(&losing, now).await {
                Err(StoreError::SeatsUnavailable(lost)) => {
                    assert_eq!(lost, vec![label("A", 2, "standard")])
                }
                other => panic!("expected SeatsUnavailable, got {other:?}"),
            }
            assert_eq!(store.booking(losing.booking_id, now).await.unwrap(), None);
            assert_eq!(count_reservations(&store).await, 1);
            let a1 = store.seat_map(f.event_id, now).await.unwrap().unwrap().remove(0);
            assert_eq!(a1.status, SeatStatus::Available);
        })
        .await;
    }

    #[tokio::test]
    async fn a_lapsed_hold_reads_expired_and_is_re_held_by_one_call() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let first = store.hold(&f.hold(&["A1"], HoldTtl::from_millis(30).unwrap()), Utc::now()).await.unwrap();
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            let now = Utc::now();

            let lapsed = store.reservation(first.reservations[0].id, now).await.unwrap().unwrap();
            assert_eq!(lapsed.status, ReservationStatus::Expired);
            let again = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
            assert_eq!(again.status, ReservationStatus::Held);

            // The hold itself wrote the lapse down; no sweeper ran.
            let stored: String = sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1")
                .bind(first.reservations[0].id)
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert_eq!(stored, "expired");
            assert_eq!(store.expire_lapsed_holds(now).await.unwrap(), 0);
        })
        .await;
    }

    #[tokio::test]
    async fn canceling_twice_is_an_invalid_state() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = Utc::now();
            let booking = store.hold(&f.hold(&["A1", "A2"], ten_minutes()), now).await.unwrap();
            let first = booking.reservations[0].id;

            let canceled = store.cancel_reservation(first, now).await.unwrap();
            assert_eq!(canceled.status, ReservationStatus::Canceled);
            match store.cancel_reservation(first, now).await {
                Err(StoreError::InvalidState(message)) => {
                    assert_eq!(message, "this reservation is already canceled")
                }
                other => panic!("expected InvalidState, got {other:?}"),
            }
            assert!(matches!(store.cancel_reservation(Uuid::new_v4(), now).await, Err(StoreError::NotFound)));

            let whole = store.cancel_booking(booking.id, now).await.unwrap();
            assert_eq!((whole.status, whole.total_cents), (ReservationStatus::Canceled, 0));
            assert!(matches!(store.cancel_booking(booking.id, now).await, Err(StoreError::InvalidState(_))));
            assert!(matches!(store.cancel_booking(Uuid::new_v4(), now).await, Err(StoreError::NotFound)));
        })
        .await;
    }

    #[tokio::test]
    async fn a_refused_hold_says_why() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = Utc::now();
            let mut unknown_event = f.hold(&["A1"], ten_minutes());
            unknown_event.event_id = Uuid::new_v4();
            assert!(matches!(store.hold(&unknown_event, now).await, Err(StoreError::NotFound)));

            let stranger = Uuid::new_v4();
            let mut foreign_seat = f.hold(&["A1"], ten_minutes());
            foreign_seat.seats = SeatSelection::parse(vec![f.seat("A1"), stranger]).unwrap();
            match store.hold(&foreign_seat, now).await {
                Err(StoreError::Rejected(invalid)) => {
                    assert_eq!(invalid.field, "seat_ids");
                    assert!(invalid.message.contains(&stranger.to_string()));
                }
                other => panic!("expected Rejected, got {other:?}"),
            }

            store.cancel_event(f.event_id, now).await.unwrap().unwrap();
            match store.hold(&f.hold(&["A1"], ten_minutes()), now).await {
                Err(StoreError::Rejected(invalid)) => {
                    assert_eq!(invalid.message, "this event was canceled")
                }
                other => panic!("expected Rejected, got {other:?}"),
            }
            assert_eq!(count_reservations(&store).await, 0);
        })
        .await;
    }

    #[tokio::test]
    async fn racing_overlapping_holds_have_one_winner_and_only_seat_conflicts() {
        with_store(|store| async move {
            let f = Arc::new(fixture(&store).await);
            let now = Utc::now();
            let racers: Vec<_> = (0..24)
                .map(|i| {
                    let (store, f) = (Arc::clone(&store), Arc::clone(&f));
                    // Half ask in one order, half in the other: the statement must not deadlock them out.
                    let labels: &[&str] = if i % 2 == 0 { &["A1", "B1", "B2"] } else { &["B2", "B1", "A1"] };
                    tokio::spawn(async move { store.hold(&f.hold(labels, ten_minutes()), now).await })
                })
                .collect();
            let mut winners = 0;
            for racer in racers {
                match racer.await.unwrap() {
                    Ok(_) => winners += 1,
                    Err(StoreError::SeatsUnavailable(lost)) => assert!(!lost.is_empty()),
                    Err(other) => panic!("a loser got {other:?}"),
                }
            }
            assert_eq!(winners, 1);
            assert_eq!(count_reservations(&store).await, 3);
        })
        .await;
    }
}
