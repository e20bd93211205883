//! PostgreSQL backend: every store trait on one connection pool, with the seat promise kept by the
//! partial unique index `reservations_active_seat_uq` and a hold placed by one SQL statement.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::{PgConnection, PgExecutor, PgPool, PgPoolOptions};
use sqlx::{Connection, FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use super::hold_batch::{HoldBatches, HoldOutcome, HoldQueue, PendingHold};
use super::read_batch::{BatchedRead, ReadQueue, USER_READ_WORKERS};
use super::{
    Cancellation, CatalogStore, HoldStore, IDEMPOTENCY_TTL_HOURS, IdempotencyClaim, IdempotencyStore, PaymentStore,
    Store, StoreError, StoreResult, UserStore,
};
use crate::domain::{
    Booking, Category, Email, Event, EventChanges, EventFilter, EventStatus, HoldRequest, Invalid, NewEvent,
    NewPayment, NewUser, NewVenue, Page, Payment, PaymentStatus, Price, Refund, Reservation, ReservationFilter,
    ReservationStatus, Role, Seat, SeatLabel, SeatState, SeatStatus, User, UserChanges, Venue, VenueKind, VenueSummary,
    VenueWithSeats,
};

/// Pool size unless `DATABASE_MAX_CONNECTIONS` says otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 32;
/// A request waits this long for a pooled connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// A hold that lost a deadlock wrote nothing, so it is simply tried again, this many times in all.
const HOLD_ATTEMPTS: usize = 3;
/// A confirm or cancel that lost a deadlock was rolled back whole, so it is tried again, this many times in all.
const TX_ATTEMPTS: usize = 3;
/// PostgreSQL's SQLSTATE for a transaction chosen as a deadlock victim.
const DEADLOCK_DETECTED: &str = "40P01";
/// How long a pooled connection may sit idle before it is pinged on its way out of the pool.
const PING_IF_IDLE_FOR: StdDuration = StdDuration::from_millis(500);

pub struct PostgresStore {
    pool: PgPool,
    holds: HoldQueue,
    /// Account reads by id, answered together (see `PgUserReads`).
    users: ReadQueue<PgUserReads>,
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
            // sqlx pings every idle connection before handing it out: under load that is one more
            // round trip per statement. A connection used within `PING_IF_IDLE_FOR` is taken as
            // alive (HikariCP's bypass window is the same); a dead one fails its statement, which
            // answers 503, and is closed. One idle longer is pinged, and replaced if dead.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move { Ok(meta.idle_for < PING_IF_IDLE_FOR || conn.ping().await.is_ok()) })
            })
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
        let holds = HoldQueue::start(PgHoldBatches { pool: pool.clone() }, HOLD_WORKERS);
        let users = ReadQueue::start(PgUserReads { pool: pool.clone() }, USER_READ_WORKERS);
        Ok(Self { pool, holds, users })
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

/// Why one attempt at a transaction failed: it lost a deadlock (it was rolled back whole, so it
/// may simply run again), or it has an answer for the caller.
enum TxError {
    Deadlock,
    Store(StoreError),
}

impl From<sqlx::Error> for TxError {
    fn from(err: sqlx::Error) -> Self {
        if is_deadlock(&err) { TxError::Deadlock } else { TxError::Store(StoreError::from(err)) }
    }
}

impl From<StoreError> for TxError {
    fn from(err: StoreError) -> Self {
        TxError::Store(err)
    }
}

type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, TxError>> + Send + 'a>>;

/// Runs `attempt`, one whole transaction, again while it loses deadlocks, `TX_ATTEMPTS` times in
/// all; still `TxError::Deadlock` when every attempt lost.
async fn retry_deadlocks<'a, T>(mut attempt: impl FnMut() -> TxFuture<'a, T>) -> Result<T, TxError> {
    let mut outcome = attempt().await;
    for _ in 1..TX_ATTEMPTS {
        if !matches!(outcome, Err(TxError::Deadlock)) {
            break;
        }
        outcome = attempt().await;
    }
    outcome
}

/// A transaction that kept losing deadlocks changed nothing; the caller may try again shortly.
fn kept_deadlocking(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what} kept deadlocking with concurrent writes; try again"))
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

macro_rules! payment_columns {
    () => {
        "id, booking_id, user_id, amount_cents, currency, status, provider, card_last4, refunded_cents, created_at, \
         updated_at"
    };
}

#[derive(FromRow)]
struct PaymentRow {
    id: Uuid,
    booking_id: Uuid,
    user_id: Uuid,
    amount_cents: i64,
    currency: String,
    status: String,
    provider: String,
    card_last4: Option<String>,
    refunded_cents: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PaymentRow {
    fn into_payment(self) -> StoreResult<Payment> {
        Ok(Payment {
            id: self.id,
            booking_id: self.booking_id,
            user_id: self.user_id,
            amount_cents: self.amount_cents,
            currency: self.currency,
            status: parse_stored::<PaymentStatus>(&self.status)?,
            provider: self.provider,
            card_last4: self.card_last4,
            refunded_cents: self.refunded_cents,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(FromRow)]
struct BookingSeatRow {
    booking_created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    reservation: ReservationRow,
}

async fn fetch_reservation<'e>(
    executor: impl PgExecutor<'e>,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<Reservation>> {
    let row: Option<ReservationRow> = sqlx::query_as(concat!(
        "SELECT ",
        reservation_columns!(),
        " FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await?;
    row.map(|row| row.into_reservation(now)).transpose()
}

async fn fetch_booking<'e>(
    executor: impl PgExecutor<'e>,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<Booking>> {
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
    .fetch_all(executor)
    .await?;
    let Some(created_at) = rows.first().map(|row| row.booking_created_at) else {
        return Ok(None);
    };
    let reservations =
        rows.into_iter().map(|row| row.reservation.into_reservation(now)).collect::<StoreResult<Vec<_>>>()?;
    Ok(Booking::from_reservations(id, created_at, reservations))
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
//   after the main statement, too late for the unique index; reading its count in `inserted`'s
//   WHERE (an InitPlan) makes it run before any reservation is inserted. Its lookup is fenced
//   (`OFFSET 0`) so that it runs once per wanted seat and drives the update; the redundant
//   `status IN ('held', 'confirmed')` lets the probe use the partial unique index.
// - Rows are inserted in seat-id order so that two overlapping multi-seat holds wait on each other
//   in the same order instead of deadlocking.
// - Each wanted seat is one probe of the unique index on (event_id, seat_id), forced by a LATERAL
//   subquery per seat: written as `seat_id = ANY($2)` or a plain join, the planner may scan every
//   active reservation of the event instead (O(n) per hold) whenever its statistics underrate the
//   event, e.g. a new event in an on-sale spike or a fresh table. The status is repeated on `x` so a
//   row changed concurrently is re-checked before it is expired.
// - A booking row is written only for a hold that got at least one seat, after its reservations:
//   foreign keys are checked at the end of the statement, when both rows exist. So a single-seat
//   hold that lost writes nothing at all, and a batch of single-seat holds needs no transaction.
// - The unique index `reservations_active_seat_uq` is the only referee: nothing is checked first.
/// Places a batch of holds (see `hold_batch`): the per-seat arrays `$1` (which hold) and `$2`
/// (seat), and per hold `$3` index, `$4` booking, `$5` user, `$6` event, `$7` its `now`, `$8` its
/// expiry, `$9` how many seats it asks for. Each hold's event must be on sale and not started at
/// its own `now`, and every one of its seats in the venue and priced, or nothing is written for
/// it. Lapsed holds on the wanted seats are expired first; then the partial unique index decides
/// every seat (`ON CONFLICT … DO NOTHING`: a seat someone holds or bought is simply not inserted).
/// Returns the inserted reservations with their hold's index; a multi-seat hold that got fewer
/// rows than it asked for is undone by the caller, inside the same transaction.
const HOLD_BATCH_SQL: &str = r#"
WITH req AS (
    SELECT * FROM unnest($3::int4[], $4::uuid[], $5::uuid[], $6::uuid[], $7::timestamptz[], $8::timestamptz[], $9::int4[])
        AS r (idx, booking_id, user_id, event_id, held_at, expires_at, seat_count)
), open_event AS (
    SELECT e.id, e.venue_id, e.currency, e.start_time
    FROM events e
    WHERE e.id IN (SELECT event_id FROM req) AND e.status = 'on_sale'
    ORDER BY e.id
    FOR SHARE
), wanted AS (
    SELECT r.idx, r.booking_id, s.id AS seat_id, s.row_label, s.row_index, s.seat_number, s.tier, p.price_cents, oe.currency
    FROM unnest($1::int4[], $2::uuid[]) AS want (idx, seat_id)
    JOIN req r ON r.idx = want.idx
    JOIN open_event oe ON oe.id = r.event_id AND oe.start_time > r.held_at
    -- One primary-key probe per seat: a plain join let the generic plan hash the whole venue.
    CROSS JOIN LATERAL (SELECT * FROM seats x WHERE x.id = want.seat_id LIMIT 1) s
    JOIN event_prices p ON p.event_id = oe.id AND p.tier = s.tier
    WHERE s.venue_id = oe.venue_id
), valid AS (
    SELECT r.* FROM req r
    JOIN (SELECT idx, count(*) AS seats FROM wanted GROUP BY idx) found ON found.idx = r.idx
    WHERE found.seats = r.seat_count
), lapsed AS (
    UPDATE reservations x SET status = 'expired', updated_at = stale.held_at
    FROM (
        SELECT y.id, v.held_at
        FROM valid v
        JOIN wanted w ON w.idx = v.idx
        CROSS JOIN LATERAL (
            SELECT y.id FROM reservations y
            WHERE y.event_id = v.event_id AND y.seat_id = w.seat_id AND y.status IN ('held', 'confirmed')
              AND y.status = 'held' AND y.expires_at <= v.held_at
            LIMIT 1
        ) y
        OFFSET 0
    ) stale
    WHERE x.id = stale.id AND x.status = 'held' AND x.expires_at <= stale.held_at
    RETURNING x.id
), inserted AS (
    INSERT INTO reservations
        (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, expires_at, created_at, updated_at)
    SELECT gen_random_uuid(), v.booking_id, v.user_id, v.event_id, w.seat_id, w.price_cents, w.currency, 'held',
           v.expires_at, v.held_at, v.held_at
    FROM valid v JOIN wanted w ON w.idx = v.idx
    WHERE (SELECT count(*) FROM lapsed) >= 0
    ORDER BY v.event_id, w.seat_id
    ON CONFLICT (event_id, seat_id) WHERE status IN ('held', 'confirmed') DO NOTHING
    RETURNING *
), booking AS (
    INSERT INTO bookings (id, user_id, event_id, created_at)
    SELECT booking_id, user_id, event_id, created_at FROM inserted
    GROUP BY booking_id, user_id, event_id, created_at
)
SELECT w.idx, r.id, r.booking_id, r.user_id, r.event_id, r.seat_id, w.row_label, w.seat_number, w.tier,
       r.price_cents, r.currency, r.status, r.expires_at, r.created_at
FROM inserted r
JOIN wanted w ON w.booking_id = r.booking_id AND w.seat_id = r.seat_id
ORDER BY w.idx, w.row_index, w.seat_number
"#;

/// How many batch workers place holds; each uses one pooled connection while its batch runs.
const HOLD_WORKERS: usize = 4;
/// Reads accounts by id, many per query: every authenticated request reads its caller's.
struct PgUserReads {
    pool: PgPool,
}

#[async_trait]
impl BatchedRead for PgUserReads {
    type Key = Uuid;
    type Value = User;

    async fn read_batch(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, User>> {
        let rows: Vec<UserRow> = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|row| row.into_user().map(|user| (user.id, user))).collect()
    }
}

#[derive(FromRow)]
struct BatchRow {
    idx: i32,
    #[sqlx(flatten)]
    reservation: ReservationRow,
}

/// Places batches of holds on the pool (see `HOLD_BATCH_SQL`).
struct PgHoldBatches {
    pool: PgPool,
}

#[async_trait]
impl HoldBatches for PgHoldBatches {
    async fn hold_batch(&self, batch: &[PendingHold]) -> Vec<HoldOutcome> {
        for attempt in 1..=HOLD_ATTEMPTS {
            match self.try_hold_batch(batch).await {
                Ok(outcomes) => return outcomes,
                // The whole transaction was rolled back; nothing was written.
                Err(err) if is_deadlock(&err) && attempt < HOLD_ATTEMPTS => {}
                Err(err) if is_deadlock(&err) => return batch.iter().map(|_| HoldOutcome::Refused).collect(),
                Err(err) => {
                    let err = StoreError::from(err);
                    return batch.iter().map(|_| HoldOutcome::Failed(err.clone())).collect();
                }
            }
        }
        batch.iter().map(|_| HoldOutcome::Refused).collect()
    }
}

impl PgHoldBatches {
    async fn try_hold_batch(&self, batch: &[PendingHold]) -> Result<Vec<HoldOutcome>, sqlx::Error> {
        let (mut seat_holds, mut seat_ids) = (Vec::new(), Vec::new());
        let (mut idx, mut bookings, mut users, mut events, mut nows, mut expiries, mut counts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, hold) in batch.iter().enumerate() {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            let request = &hold.request;
            for seat in request.seats.ids() {
                seat_holds.push(i);
                seat_ids.push(*seat);
            }
            idx.push(i);
            bookings.push(request.booking_id);
            users.push(request.user_id);
            events.push(request.event_id);
            nows.push(hold.now);
            expiries.push(hold.now + request.ttl.duration());
            counts.push(i32::try_from(request.seats.ids().len()).unwrap_or(i32::MAX));
        }
        let query = sqlx::query_as(HOLD_BATCH_SQL)
            .bind(&seat_holds)
            .bind(&seat_ids)
            .bind(&idx)
            .bind(&bookings)
            .bind(&users)
            .bind(&events)
            .bind(&nows)
            .bind(&expiries)
            .bind(&counts);
        // A single-seat hold gets its seat or writes nothing, so a batch of them is one statement
        // in autocommit: no BEGIN and COMMIT round trips. Only a multi-seat hold can be partly
        // placed, and undoing that needs the batch's transaction.
        let held = if batch.iter().all(|hold| hold.request.seats.ids().len() == 1) {
            rows_by_hold(batch, query.fetch_all(&self.pool).await?)
        } else {
            let mut tx = self.pool.begin().await?;
            let held = rows_by_hold(batch, query.fetch_all(&mut *tx).await?);
            // The holds that got some of their seats but not all.
            let undone: Vec<Uuid> = batch
                .iter()
                .zip(&held)
                .filter(|(hold, rows)| !rows.is_empty() && rows.len() != hold.request.seats.ids().len())
                .map(|(hold, _)| hold.request.booking_id)
                .collect();
            if !undone.is_empty() {
                sqlx::query("DELETE FROM reservations WHERE booking_id = ANY($1)")
                    .bind(&undone)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM bookings WHERE id = ANY($1)").bind(&undone).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            held
        };
        Ok(batch
            .iter()
            .zip(held)
            .map(|(hold, rows)| {
                if rows.len() != hold.request.seats.ids().len() {
                    return HoldOutcome::Refused;
                }
                // The stored timestamp (microseconds) is the one every later read will show.
                let created_at = rows.first().map_or(hold.now, |row| row.created_at);
                let booked = rows
                    .into_iter()
                    .map(|row| row.into_reservation(hold.now))
                    .collect::<StoreResult<Vec<_>>>()
                    .and_then(|reservations| {
                        Booking::from_reservations(hold.request.booking_id, created_at, reservations)
                            .ok_or_else(|| StoreError::Internal("a hold returned no reservations".into()))
                    });
                match booked {
                    Ok(booking) => HoldOutcome::Held(booking),
                    Err(err) => HoldOutcome::Failed(err),
                }
            })
            .collect())
    }
}

/// A batch's returned rows, grouped by the hold they belong to (in the batch's order).
fn rows_by_hold(batch: &[PendingHold], rows: Vec<BatchRow>) -> Vec<Vec<ReservationRow>> {
    let mut held: Vec<Vec<ReservationRow>> = batch.iter().map(|_| Vec::new()).collect();
    for row in rows {
        if let Some(slot) = usize::try_from(row.idx).ok().and_then(|i| held.get_mut(i)) {
            slot.push(row.reservation);
        }
    }
    held
}

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
// Cancellations and their refunds, confirms and checkouts take their locks in one order, the order
// holds already take them in: the event row (holds and confirms share-lock it, a cancel of the
// event updates it), then a booking's reservations in id order, then its payment. Writers that
// meet then wait for each other instead of deadlocking; the rare deadlock left (a hold expiring
// lapsed rows in its own order) is retried, as the hold itself does.

/// The answer of a retried transaction, a deadlock on every attempt counting as unavailable.
fn settle<T>(outcome: Result<T, TxError>, what: &str) -> StoreResult<T> {
    match outcome {
        Ok(value) => Ok(value),
        Err(TxError::Store(err)) => Err(err),
        Err(TxError::Deadlock) => Err(kept_deadlocking(what)),
    }
}

/// Which reservations a cancellation takes.
#[derive(Clone, Copy)]
enum CancelScope {
    Reservation,
    Booking,
    Event,
}

/// Locks the active reservations whose `$column` is `$1` (in id order) and reads them as locked.
/// The status must come from the locked row, not from an earlier read: a confirm that committed
/// while this waited for the lock is then seen as `confirmed`, and its seat is refunded.
macro_rules! lock_active_sql {
    ($column:literal) => {
        concat!(
            "SELECT id, booking_id, price_cents, status FROM reservations
             WHERE ",
            $column,
            " = $1 AND (status = 'confirmed' OR (status = 'held' AND expires_at > $2))
             ORDER BY id
             FOR UPDATE"
        )
    };
}

impl CancelScope {
    fn lock_sql(self) -> &'static str {
        match self {
            CancelScope::Reservation => lock_active_sql!("id"),
            CancelScope::Booking => lock_active_sql!("booking_id"),
            CancelScope::Event => lock_active_sql!("event_id"),
        }
    }
}

/// Cancels the active reservations of `scope` inside the caller's transaction and records the
/// refund of every confirmed (paid) one on its booking's payment; how many were canceled and the
/// refunds to pay out. Errors stay `TxError` so that a lost deadlock can be retried.
async fn cancel_active(
    conn: &mut PgConnection,
    scope: CancelScope,
    key: Uuid,
    now: DateTime<Utc>,
) -> Result<(usize, Vec<Refund>), TxError> {
    let locked: Vec<(Uuid, Uuid, i64, String)> =
        sqlx::query_as(scope.lock_sql()).bind(key).bind(now).fetch_all(&mut *conn).await?;
    if locked.is_empty() {
        return Ok((0, Vec::new()));
    }
    // The rows are locked, so exactly these are canceled, with the statuses just read.
    let ids: Vec<Uuid> = locked.iter().map(|(id, ..)| *id).collect();
    sqlx::query("UPDATE reservations SET status = 'canceled', updated_at = $2 WHERE id = ANY($1)")
        .bind(&ids)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // Per booking, the price of its confirmed seats; held seats were never paid for.
    let mut paid: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (_, booking_id, price_cents, status) in &locked {
        if parse_stored::<ReservationStatus>(status)? == ReservationStatus::Confirmed {
            *paid.entry(*booking_id).or_default() += price_cents;
        }
    }
    let refunds = record_refunds(conn, &paid, now).await?;
    Ok((locked.len(), refunds))
}

/// Records each booking's amount as refunded on its paid payment, capped at what is left of it,
/// inside the caller's transaction; the refunds to pay out, in booking order.
async fn record_refunds(
    conn: &mut PgConnection,
    paid: &BTreeMap<Uuid, i64>,
    now: DateTime<Utc>,
) -> Result<Vec<Refund>, TxError> {
    if paid.is_empty() {
        return Ok(Vec::new());
    }
    let booking_ids: Vec<Uuid> = paid.keys().copied().collect();
    // Locked first so the amounts computed below are the ones written. One probe of the partial
    // unique index per booking (`<> 'failed'` is its condition). Confirmed seats without a paid
    // payment (none in normal operation) have nothing to give back.
    let payments: Vec<(Uuid, Uuid, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT p.id, p.booking_id, p.provider_ref, p.amount_cents, p.refunded_cents
         FROM unnest($1::uuid[]) AS paid (booking_id)
         CROSS JOIN LATERAL (
             SELECT x.* FROM payments x
             WHERE x.booking_id = paid.booking_id AND x.status <> 'failed'
               AND x.status IN ('succeeded', 'partially_refunded')
         ) p
         ORDER BY p.booking_id
         FOR UPDATE OF p",
    )
    .bind(&booking_ids)
    .fetch_all(&mut *conn)
    .await?;
    if payments.is_empty() {
        return Ok(Vec::new());
    }

    let mut payment_ids = Vec::with_capacity(payments.len());
    let mut amounts = Vec::with_capacity(payments.len());
    let mut refunds = Vec::new();
    for (payment_id, booking_id, provider_ref, amount_cents, refunded_cents) in payments {
        let price_cents = paid.get(&booking_id).copied().unwrap_or(0);
        // An earlier refund (a provider's webhook) may have given part of it back already.
        let refund_cents = price_cents.min(amount_cents - refunded_cents).max(0);
        payment_ids.push(payment_id);
        amounts.push(refund_cents);
        // Without a provider reference there is no charge to refund against; the books are still right.
        if let Some(provider_ref) = provider_ref.filter(|_| refund_cents > 0) {
            refunds.push(Refund { payment_id, provider_ref, amount_cents: refund_cents });
        }
    }
    sqlx::query(
        "UPDATE payments p
         SET refunded_cents = p.refunded_cents + u.refund_cents,
             status = CASE WHEN p.refunded_cents + u.refund_cents = p.amount_cents
                           THEN 'refunded' ELSE 'partially_refunded' END,
             updated_at = $3
         FROM unnest($1::uuid[], $2::int8[]) AS u (id, refund_cents)
         WHERE p.id = u.id",
    )
    .bind(&payment_ids)
    .bind(&amounts)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(refunds)
}

impl PostgresStore {
    async fn cancel_reservation_once(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Cancellation<Reservation>, TxError> {
        let mut tx = self.pool.begin().await?;
        let (canceled, refunds) = cancel_active(&mut tx, CancelScope::Reservation, id, now).await?;
        // Read inside the transaction: the answer matches what was written.
        let reservation = match fetch_reservation(&mut *tx, id, now).await? {
            None => return Err(StoreError::NotFound.into()),
            Some(reservation) if canceled > 0 => reservation,
            Some(current) => {
                return Err(StoreError::InvalidState(format!("this reservation is already {}", current.status)).into());
            }
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: reservation, refunds })
    }

    async fn cancel_booking_once(&self, id: Uuid, now: DateTime<Utc>) -> Result<Cancellation<Booking>, TxError> {
        let mut tx = self.pool.begin().await?;
        let (canceled, refunds) = cancel_active(&mut tx, CancelScope::Booking, id, now).await?;
        let booking = match fetch_booking(&mut *tx, id, now).await? {
            None => return Err(StoreError::NotFound.into()),
            Some(booking) if canceled > 0 => booking,
            Some(_) => return Err(StoreError::InvalidState("this booking has no active seats left".into()).into()),
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: booking, refunds })
    }

    async fn cancel_event_once(&self, id: Uuid, now: DateTime<Utc>) -> Result<Option<Cancellation<Event>>, TxError> {
        let mut tx = self.pool.begin().await?;
        // Updating the event row first waits for holds and confirms in flight (they share-lock
        // it), and makes later ones wait for this transaction and then see the event canceled.
        let found = sqlx::query("UPDATE events SET status = 'canceled' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if found == 0 {
            return Ok(None);
        }
        let (_, refunds) = cancel_active(&mut tx, CancelScope::Event, id, now).await?;
        let event = fetch_event(&mut *tx, id, now).await?;
        tx.commit().await?;
        Ok(event.map(|canceled| Cancellation { canceled, refunds }))
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
        self.users.read(id).await
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

    async fn cancel_event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Cancellation<Event>>> {
        let outcome = retry_deadlocks(|| Box::pin(self.cancel_event_once(id, now))).await;
        settle(outcome, "canceling the event")
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
        // Two single-table reads joined here rather than one join in SQL: each has one plan
        // (the venue's seats in index order; the event's range of the partial unique index),
        // whatever the statistics say. Joined in SQL, a freshly bulk-loaded venue whose
        // statistics still said "empty" was planned as a nested loop and read 200 times slower.
        let mut rows: Vec<SeatMapRow> = sqlx::query_as(
            "SELECT s.id AS seat_id, s.row_label, s.seat_number, s.tier,
                    COALESCE(p.price_cents, 0) AS price_cents,
                    NULL::text AS reservation_status, NULL::timestamptz AS expires_at
             FROM events e
             JOIN seats s ON s.venue_id = e.venue_id
             LEFT JOIN event_prices p ON p.event_id = e.id AND p.tier = s.tier
             WHERE e.id = $1
             ORDER BY s.row_index, s.seat_number",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?;
        // The unique index leaves at most one held or confirmed reservation per seat.
        let taken: HashMap<Uuid, (String, DateTime<Utc>)> = sqlx::query_as::<_, (Uuid, String, DateTime<Utc>)>(
            "SELECT seat_id, status, expires_at FROM reservations
             WHERE event_id = $1 AND status IN ('held', 'confirmed')",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|(seat_id, status, expires_at)| (seat_id, (status, expires_at)))
        .collect();
        for row in &mut rows {
            if let Some((status, expires_at)) = taken.get(&row.seat_id) {
                row.reservation_status = Some(status.clone());
                row.expires_at = Some(*expires_at);
            }
        }
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
        match self.holds.hold(request.clone(), now).await {
            HoldOutcome::Held(booking) => Ok(booking),
            HoldOutcome::Failed(err) => Err(err),
            HoldOutcome::Refused => match self.hold_refusal(request, now).await? {
                Some(refusal) => Err(refusal),
                None => Err(self.lost_seats(request, now).await?),
            },
        }
    }

    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>> {
        fetch_reservation(&self.pool, id, now).await
    }

    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
        fetch_booking(&self.pool, id, now).await
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

    async fn cancel_reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Cancellation<Reservation>> {
        let outcome = retry_deadlocks(|| Box::pin(self.cancel_reservation_once(id, now))).await;
        settle(outcome, "canceling the reservation")
    }

    async fn cancel_booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Cancellation<Booking>> {
        let outcome = retry_deadlocks(|| Box::pin(self.cancel_booking_once(id, now))).await;
        settle(outcome, "canceling the booking")
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

/// Checkout in one statement, so the hold's extension and the payment stand or fall together: when
/// the unique index `payments_booking_open_uq` refuses a second open payment, the extension is
/// undone with it. The held seats are locked in id order (as every writer takes a booking's seats)
/// and re-checked after the lock; the amount and currency are those the seats were held at, never
/// the caller's. No row comes back when nothing was held.
const CREATE_PAYMENT_SQL: &str = concat!(
    "WITH held AS (
         SELECT id FROM reservations
         WHERE booking_id = $1 AND status = 'held' AND expires_at > $6
         ORDER BY id
         FOR UPDATE
     ), extended AS (
         UPDATE reservations r SET expires_at = GREATEST(r.expires_at, $5), updated_at = $6
         FROM held h
         WHERE r.id = h.id
         RETURNING r.price_cents, r.currency
     ), total AS (
         SELECT count(*) AS seats, COALESCE(sum(price_cents), 0)::int8 AS amount_cents, min(currency) AS currency
         FROM extended
     )
     INSERT INTO payments
         (id, booking_id, user_id, amount_cents, currency, status, provider, refunded_cents, created_at, updated_at)
     SELECT $2, $1, $3, t.amount_cents, t.currency, 'pending', $4, 0, $6, $6
     FROM total t
     WHERE t.seats > 0
     RETURNING ",
    payment_columns!()
);

/// Someone else's lapsed hold on a seat of booking `$1` (event `$2`) is written down as expired,
/// one probe of the unique index per seat as in the hold, so that the index judges only holds that
/// still run. The booking's own lapsed holds are left for the confirm to take back.
const EXPIRE_OTHERS_LAPSED_SQL: &str = "
UPDATE reservations r SET status = 'expired', updated_at = $3
FROM reservations mine
CROSS JOIN LATERAL (
    SELECT x.id FROM reservations x
    WHERE x.event_id = $2 AND x.seat_id = mine.seat_id AND x.status = 'held' AND x.expires_at <= $3
      AND x.booking_id <> $1
    LIMIT 1
) stale
WHERE mine.booking_id = $1 AND r.id = stale.id AND r.status = 'held' AND r.expires_at <= $3";

impl PostgresStore {
    /// Why a conditional update of a payment matched nothing: no such payment, or its status.
    async fn payment_refusal<'e>(executor: impl PgExecutor<'e>, id: Uuid) -> StoreError {
        let status: Result<Option<String>, sqlx::Error> =
            sqlx::query_scalar("SELECT status FROM payments WHERE id = $1").bind(id).fetch_optional(executor).await;
        match status {
            Err(err) => err.into(),
            Ok(None) => StoreError::NotFound,
            Ok(Some(status)) => match parse_stored::<PaymentStatus>(&status) {
                Ok(status) => StoreError::InvalidState(format!("this payment is already {status}")),
                Err(err) => err,
            },
        }
    }

    /// Why a checkout found nothing to pay for, read after its statement wrote nothing.
    async fn checkout_refusal(&self, booking_id: Uuid, now: DateTime<Utc>) -> StoreResult<StoreError> {
        let (found, lapsed, confirmed): (bool, i64, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM bookings WHERE id = $1),
                    count(*) FILTER (WHERE status = 'expired' OR (status = 'held' AND expires_at <= $2)),
                    count(*) FILTER (WHERE status = 'confirmed')
             FROM reservations WHERE booking_id = $1",
        )
        .bind(booking_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(if !found {
            StoreError::NotFound
        } else if lapsed > 0 && confirmed == 0 {
            // The buyer may pick seats again; a paid or canceled booking is another matter.
            StoreError::HoldExpired
        } else {
            StoreError::InvalidState("this booking has no held seats to pay for".into())
        })
    }

    async fn confirm_payment_once(
        &self,
        id: Uuid,
        provider_ref: &str,
        card_last4: &str,
        now: DateTime<Utc>,
    ) -> Result<Payment, TxError> {
        let mut tx = self.pool.begin().await?;
        // A payment's booking and event never change, so they are read without a lock.
        let target: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT p.booking_id, b.event_id FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE p.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((booking_id, event_id)) = target else {
            return Err(StoreError::NotFound.into());
        };
        // Share-locked as a hold does: a cancel of the event either waits for this confirm (and
        // then refunds what it confirmed) or makes it wait and then refuse.
        let event_status: String = sqlx::query_scalar("SELECT status FROM events WHERE id = $1 FOR SHARE")
            .bind(event_id)
            .fetch_one(&mut *tx)
            .await?;
        // The booking's seats, locked before the payment (the common lock order): a cancel of
        // them either finishes first and is seen here, or waits and then sees them confirmed.
        let seats: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, price_cents FROM reservations WHERE booking_id = $1 ORDER BY id FOR UPDATE")
                .bind(booking_id)
                .fetch_all(&mut *tx)
                .await?;

        let row: Option<PaymentRow> = sqlx::query_as(concat!(
            "UPDATE payments SET status = 'succeeded', provider_ref = $2, card_last4 = $3, updated_at = $4
             WHERE id = $1 AND status = 'pending' RETURNING ",
            payment_columns!()
        ))
        .bind(id)
        .bind(provider_ref)
        .bind(card_last4)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(Self::payment_refusal(&mut *tx, id).await.into());
        };
        let payment = row.into_payment()?;

        // A seat canceled since checkout was priced in and would be paid for and never sold: the
        // seats still to confirm must add up to the amount (one canceled before checkout was not
        // priced in). Prices, not clocks, tell them apart. An event canceled while the hold had
        // lapsed left its lapsed seats as they were, and they must not be sold.
        let to_confirm_cents: i64 = seats
            .iter()
            .filter(|(status, _)| {
                status == ReservationStatus::Held.as_str() || status == ReservationStatus::Expired.as_str()
            })
            .map(|(_, price)| price)
            .sum();
        let canceled_since_checkout = to_confirm_cents != payment.amount_cents;
        let refusal = if canceled_since_checkout {
            Some("a seat of this booking was canceled")
        } else if parse_stored::<EventStatus>(&event_status)? == EventStatus::Canceled {
            Some("this event was canceled")
        } else {
            None
        };
        if let Some(refusal) = refusal {
            tx.rollback().await?;
            return Err(StoreError::InvalidState(refusal.into()).into());
        }

        sqlx::query(EXPIRE_OTHERS_LAPSED_SQL).bind(booking_id).bind(event_id).bind(now).execute(&mut *tx).await?;
        // Lapsed holds are confirmed too when their seat is still free. Nothing is checked first:
        // the partial unique index alone decides whether someone else now has a seat.
        let confirmed = sqlx::query(
            "UPDATE reservations SET status = 'confirmed', updated_at = $2
             WHERE booking_id = $1 AND status IN ('held', 'expired')",
        )
        .bind(booking_id)
        .bind(now)
        .execute(&mut *tx)
        .await;
        let refusal = match confirmed {
            Ok(done) if done.rows_affected() > 0 => None,
            Ok(_) => Some(StoreError::InvalidState("this booking has no held seats to pay for".into())),
            Err(err) if is_deadlock(&err) => return Err(TxError::Deadlock),
            Err(err) => Some(match StoreError::from(err) {
                StoreError::SeatsUnavailable(_) => StoreError::HoldExpired,
                other => other,
            }),
        };
        if let Some(refusal) = refusal {
            // Nothing stays: the payment remains pending and the other buyer's seat untouched.
            tx.rollback().await?;
            return Err(refusal.into());
        }
        tx.commit().await?;
        Ok(payment)
    }

    /// After every confirm attempt lost a deadlock: `HoldExpired` if someone else really holds or
    /// bought a seat of the booking now, else a failure worth retrying.
    async fn confirm_deadlock_refusal(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<StoreError> {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (
                 SELECT 1 FROM payments p
                 JOIN reservations mine ON mine.booking_id = p.booking_id
                 CROSS JOIN LATERAL (
                     SELECT x.status, x.expires_at FROM reservations x
                     WHERE x.event_id = mine.event_id AND x.seat_id = mine.seat_id
                       AND x.status IN ('held', 'confirmed') AND x.booking_id <> mine.booking_id
                     LIMIT 1
                 ) other
                 WHERE p.id = $1 AND (other.status = 'confirmed' OR other.expires_at > $2)
             )",
        )
        .bind(id)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(if taken { StoreError::HoldExpired } else { kept_deadlocking("confirming the payment") })
    }
}

#[async_trait]
impl PaymentStore for PostgresStore {
    async fn create_payment(&self, new: NewPayment, now: DateTime<Utc>) -> StoreResult<Payment> {
        let row: Option<PaymentRow> = sqlx::query_as(CREATE_PAYMENT_SQL)
            .bind(new.booking_id)
            .bind(new.id)
            .bind(new.user_id)
            .bind(&new.provider)
            .bind(new.hold_until)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => row.into_payment(),
            None => Err(self.checkout_refusal(new.booking_id, now).await?),
        }
    }

    async fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        let row: Option<PaymentRow> =
            sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(PaymentRow::into_payment).transpose()
    }

    async fn list_payments(&self, user_id: Option<Uuid>, page: Page) -> StoreResult<Vec<Payment>> {
        // Two statement shapes rather than `$1 IS NULL OR user_id = $1`, which a generic plan
        // could only answer by scanning every payment.
        let mut query = QueryBuilder::<Postgres>::new(concat!("SELECT ", payment_columns!(), " FROM payments"));
        if let Some(user_id) = user_id {
            query.push(" WHERE user_id = ").push_bind(user_id);
        }
        query.push(" ORDER BY created_at DESC, id LIMIT ").push_bind(page.limit);
        query.push(" OFFSET ").push_bind(page.offset);
        let rows = query.build_query_as::<PaymentRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(PaymentRow::into_payment).collect()
    }

    async fn confirm_payment(
        &self,
        id: Uuid,
        provider_ref: &str,
        card_last4: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        let outcome = retry_deadlocks(|| Box::pin(self.confirm_payment_once(id, provider_ref, card_last4, now))).await;
        match outcome {
            Ok(payment) => Ok(payment),
            Err(TxError::Store(err)) => Err(err),
            Err(TxError::Deadlock) => Err(self.confirm_deadlock_refusal(id, now).await?),
        }
    }

    async fn fail_payment(&self, id: Uuid, refunded_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        // Capped at the amount: more cannot have been given back than was taken.
        let row: Option<PaymentRow> = sqlx::query_as(concat!(
            "UPDATE payments SET status = 'failed', refunded_cents = LEAST(amount_cents, $2), updated_at = $3
             WHERE id = $1 AND status = 'pending' RETURNING ",
            payment_columns!()
        ))
        .bind(id)
        .bind(refunded_cents)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.into_payment(),
            None => Err(Self::payment_refusal(&self.pool, id).await),
        }
    }

    async fn record_refund(&self, id: Uuid, amount_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        // One conditional write; both SET expressions read the row as it was before it.
        let row: Option<PaymentRow> = sqlx::query_as(concat!(
            "UPDATE payments SET
                 refunded_cents = LEAST(amount_cents, refunded_cents + $2),
                 status = CASE WHEN LEAST(amount_cents, refunded_cents + $2) = amount_cents
                               THEN 'refunded' ELSE 'partially_refunded' END,
                 updated_at = $3
             WHERE id = $1 AND status IN ('succeeded', 'partially_refunded') RETURNING ",
            payment_columns!()
        ))
        .bind(id)
        .bind(amount_cents)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.into_payment(),
            None => Err(Self::payment_refusal(&self.pool, id).await),
        }
    }

    async fn record_webhook_event(&self, event_id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        // The primary key decides which of two deliveries is the first.
        let inserted =
            sqlx::query("INSERT INTO webhook_events (id, received_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                .bind(event_id)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(inserted == 1)
    }

    async fn forget_webhook_event(&self, event_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_events WHERE id = $1").bind(event_id).execute(&self.pool).await?;
        Ok(())
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
    use std::sync::Arc;

    use chrono::SubsecRound;

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

    async fn new_user(store: &PostgresStore, name: &str) -> Uuid {
        let user = store
            .create_user(NewUser {
                email: Email::parse(&format!("{}@example.com", Uuid::new_v4().simple())).unwrap(),
                name: name.into(),
                password_hash: "hash".into(),
                role: Role::Customer,
            })
            .await
            .unwrap();
        user.id
    }

    async fn fixture(store: &PostgresStore) -> Fixture {
        let user_id = new_user(store, "Ann").await;
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
        Fixture { user_id, event_id: event.id, seats: venue.seats }
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
            assert_eq!(canceled.canceled.status, ReservationStatus::Canceled);
            // A held seat was never paid for.
            assert!(canceled.refunds.is_empty());
            match store.cancel_reservation(first, now).await {
                Err(StoreError::InvalidState(message)) => {
                    assert_eq!(message, "this reservation is already canceled")
                }
                other => panic!("expected InvalidState, got {other:?}"),
            }
            assert!(matches!(store.cancel_reservation(Uuid::new_v4(), now).await, Err(StoreError::NotFound)));

            let whole = store.cancel_booking(booking.id, now).await.unwrap();
            assert_eq!((whole.canceled.status, whole.canceled.total_cents), (ReservationStatus::Canceled, 0));
            assert!(whole.refunds.is_empty());
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

    // --- Payments --------------------------------------------------------------------------------

    /// The clock as PostgreSQL stores it (microseconds), so written instants compare equal on reading.
    fn clock() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    fn minutes(n: i64) -> Duration {
        Duration::minutes(n)
    }

    fn checkout(booking: &Booking, hold_until: DateTime<Utc>) -> NewPayment {
        NewPayment {
            id: Uuid::new_v4(),
            booking_id: booking.id,
            user_id: booking.user_id,
            provider: "simulated".into(),
            hold_until,
        }
    }

    /// A booking of `labels` held at `now` for ten minutes, checked out and paid with `provider_ref`.
    async fn paid_booking(
        store: &PostgresStore,
        f: &Fixture,
        labels: &[&str],
        provider_ref: &str,
        now: DateTime<Utc>,
    ) -> (Booking, Payment) {
        let booking = store.hold(&f.hold(labels, ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
        let paid = store.confirm_payment(payment.id, provider_ref, "4242", now).await.unwrap();
        (booking, paid)
    }

    fn seat_statuses(map: &[SeatState]) -> Vec<(String, SeatStatus)> {
        map.iter().map(|s| (format!("{}{}", s.row, s.seat_number), s.status)).collect()
    }

    async fn stored_status(store: &PostgresStore, reservation_id: Uuid) -> String {
        sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1")
            .bind(reservation_id)
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn checkout_extends_the_hold_and_charges_the_held_seats_once() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();

            let payment = store.create_payment(checkout(&booking, now + minutes(15)), now).await.unwrap();
            assert_eq!((payment.amount_cents, payment.currency.as_str()), (4200, "EUR"));
            assert_eq!((payment.status, payment.refunded_cents), (PaymentStatus::Pending, 0));
            assert_eq!((payment.booking_id, payment.user_id), (booking.id, f.user_id));
            assert_eq!((payment.provider.as_str(), payment.card_last4.as_deref()), ("simulated", None));
            assert_eq!(store.payment(payment.id).await.unwrap(), Some(payment.clone()));
            let extended = store.booking(booking.id, now).await.unwrap().unwrap();
            assert!(extended.reservations.iter().all(|r| r.expires_at == now + minutes(15)));

            // The index refuses a second open payment, and the second extension goes with it.
            match store.create_payment(checkout(&booking, now + minutes(30)), now).await {
                Err(StoreError::InvalidState(message)) => assert_eq!(message, "this booking already has a payment"),
                other => panic!("expected InvalidState, got {other:?}"),
            }
            let kept = store.booking(booking.id, now).await.unwrap().unwrap();
            assert!(kept.reservations.iter().all(|r| r.expires_at == now + minutes(15)));

            // A hold that already runs longer than the payment window is not shortened.
            let long = store.hold(&f.hold(&["A2"], ten_minutes()), now).await.unwrap();
            let second = store.create_payment(checkout(&long, now + minutes(1)), now + minutes(1)).await.unwrap();
            let long = store.booking(long.id, now).await.unwrap().unwrap();
            assert_eq!(long.expires_at, now + minutes(10));

            assert_eq!(store.list_payments(Some(f.user_id), Page::default()).await.unwrap(), [second.clone(), payment]);
            assert_eq!(store.list_payments(None, Page { limit: 1, offset: 0 }).await.unwrap(), [second]);
            assert!(store.list_payments(Some(Uuid::new_v4()), Page::default()).await.unwrap().is_empty());
        })
        .await;
    }

    #[tokio::test]
    async fn checkout_of_a_lapsed_canceled_or_unknown_booking_is_refused() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let lapsed = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
            let later = now + minutes(11);
            assert!(matches!(
                store.create_payment(checkout(&lapsed, later + minutes(5)), later).await,
                Err(StoreError::HoldExpired)
            ));
            // Written down as expired by the sweeper, it is still a lapsed hold.
            store.expire_lapsed_holds(later).await.unwrap();
            assert!(matches!(
                store.create_payment(checkout(&lapsed, later + minutes(5)), later).await,
                Err(StoreError::HoldExpired)
            ));

            let canceled = store.hold(&f.hold(&["A2"], ten_minutes()), now).await.unwrap();
            store.cancel_booking(canceled.id, now).await.unwrap();
            match store.create_payment(checkout(&canceled, now + minutes(5)), now).await {
                Err(StoreError::InvalidState(message)) => {
                    assert_eq!(message, "this booking has no held seats to pay for")
                }
                other => panic!("expected InvalidState, got {other:?}"),
            }

            let mut unknown = checkout(&canceled, now + minutes(5));
            unknown.booking_id = Uuid::new_v4();
            assert!(matches!(store.create_payment(unknown, now).await, Err(StoreError::NotFound)));
            assert!(store.list_payments(None, Page::default()).await.unwrap().is_empty());

            // A paid booking has nothing held any more.
            let (paid, _) = paid_booking(&store, &f, &["B1"], "ch_1", now).await;
            assert!(matches!(
                store.create_payment(checkout(&paid, now + minutes(5)), now).await,
                Err(StoreError::InvalidState(_))
            ));
        })
        .await;
    }

    #[tokio::test]
    async fn confirm_sells_the_seats_and_keeps_only_the_last_four_digits() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
            let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();

            let paid = store.confirm_payment(payment.id, "ch_1", "4242", now + minutes(1)).await.unwrap();
            assert_eq!((paid.status, paid.card_last4.as_deref()), (PaymentStatus::Succeeded, Some("4242")));
            assert_eq!(paid.updated_at, now + minutes(1));
            assert_eq!(store.payment(payment.id).await.unwrap(), Some(paid.clone()));
            let provider_ref: Option<String> = sqlx::query_scalar("SELECT provider_ref FROM payments WHERE id = $1")
                .bind(payment.id)
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert_eq!(provider_ref.as_deref(), Some("ch_1"));

            let confirmed = store.booking(booking.id, now + minutes(20)).await.unwrap().unwrap();
            assert_eq!(confirmed.status, ReservationStatus::Confirmed);
            let map = store.seat_map(f.event_id, now + minutes(20)).await.unwrap().unwrap();
            let sold: Vec<_> =
                seat_statuses(&map).into_iter().filter(|(_, status)| *status == SeatStatus::Sold).collect();
            assert_eq!(sold, [("A1".to_owned(), SeatStatus::Sold), ("B1".to_owned(), SeatStatus::Sold)]);

            match store.confirm_payment(payment.id, "ch_2", "1111", now).await {
                Err(StoreError::InvalidState(message)) => assert_eq!(message, "this payment is already succeeded"),
                other => panic!("expected InvalidState, got {other:?}"),
            }
            assert!(matches!(
                store.confirm_payment(Uuid::new_v4(), "ch", "4242", now).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(store.fail_payment(payment.id, 0, now).await, Err(StoreError::InvalidState(_))));
        })
        .await;
    }

    #[tokio::test]
    async fn confirm_after_a_lapse_loses_to_a_new_hold_and_changes_nothing() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let anns = store.hold(&f.hold(&["A1", "A2"], ten_minutes()), now).await.unwrap();
            let payment = store.create_payment(checkout(&anns, now + minutes(5)), now).await.unwrap();

            let later = now + minutes(11);
            let mut bobs_request = f.hold(&["A2"], ten_minutes());
            bobs_request.user_id = new_user(&store, "Bob").await;
            let bobs = store.hold(&bobs_request, later).await.unwrap();

            assert!(matches!(
                store.confirm_payment(payment.id, "ch_1", "4242", later).await,
                Err(StoreError::HoldExpired)
            ));
            let still = store.payment(payment.id).await.unwrap().unwrap();
            assert_eq!((still.status, still.card_last4), (PaymentStatus::Pending, None));
            assert_eq!(store.booking(bobs.id, later).await.unwrap(), Some(bobs.clone()));
            // Ann's seat that nobody took was not confirmed either.
            assert_eq!(stored_status(&store, anns.reservations[0].id).await, "held");
            let map = store.seat_map(f.event_id, later).await.unwrap().unwrap();
            assert_eq!(
                seat_statuses(&map)[..2],
                [("A1".into(), SeatStatus::Available), ("A2".into(), SeatStatus::Held)]
            );
        })
        .await;
    }

    #[tokio::test]
    async fn confirm_after_a_lapse_takes_back_seats_nobody_holds() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let later = now + minutes(11);

            // Lapsed, still written `held`: nobody touched it.
            let untouched = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
            let first = store.create_payment(checkout(&untouched, now + minutes(5)), now).await.unwrap();
            let paid = store.confirm_payment(first.id, "ch_1", "4242", later).await.unwrap();
            assert_eq!(paid.status, PaymentStatus::Succeeded);

            // Lapsed and swept, then held by someone else whose hold lapsed too: that one yields.
            let swept = store.hold(&f.hold(&["A2", "A3"], ten_minutes()), now).await.unwrap();
            let second = store.create_payment(checkout(&swept, now + minutes(5)), now).await.unwrap();
            store.expire_lapsed_holds(later).await.unwrap();
            let mut bobs_request = f.hold(&["A3"], HoldTtl::from_seconds(60).unwrap());
            bobs_request.user_id = new_user(&store, "Bob").await;
            let bobs = store.hold(&bobs_request, later).await.unwrap();
            let latest = later + minutes(2);
            let paid = store.confirm_payment(second.id, "ch_2", "4242", latest).await.unwrap();
            assert_eq!(paid.status, PaymentStatus::Succeeded);
            assert_eq!(stored_status(&store, bobs.reservations[0].id).await, "expired");

            let map = store.seat_map(f.event_id, latest).await.unwrap().unwrap();
            assert!(seat_statuses(&map)[..3].iter().all(|(_, status)| *status == SeatStatus::Sold));
        })
        .await;
    }

    #[tokio::test]
    async fn canceling_paid_seats_records_and_returns_their_refunds() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let (booking, payment) = paid_booking(&store, &f, &["A1", "B1"], "ch_1", now).await;
            let a1 = booking.reservations[0].id;
            let b1 = booking.reservations[1].id;

            let first = store.cancel_reservation(a1, now + minutes(1)).await.unwrap();
            assert_eq!(first.canceled.status, ReservationStatus::Canceled);
            assert_eq!(
                first.refunds,
                [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 1200 }]
            );
            let partly = store.payment(payment.id).await.unwrap().unwrap();
            assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 1200));
            assert_eq!(partly.updated_at, now + minutes(1));

            let last = store.cancel_reservation(b1, now + minutes(2)).await.unwrap();
            assert_eq!(
                last.refunds,
                [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 3000 }]
            );
            let refunded = store.payment(payment.id).await.unwrap().unwrap();
            assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::Refunded, 4200));
            assert!(matches!(store.cancel_booking(booking.id, now).await, Err(StoreError::InvalidState(_))));
            assert!(matches!(store.record_refund(payment.id, 1, now).await, Err(StoreError::InvalidState(_))));
        })
        .await;
    }

    #[tokio::test]
    async fn cancels_cap_refunds_at_what_is_left_and_cancel_event_refunds_every_paid_booking() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            // The provider already gave back 4000 of 4200: canceling the booking owes only 200.
            let (booking, payment) = paid_booking(&store, &f, &["A1", "B1"], "ch_1", now).await;
            let partly = store.record_refund(payment.id, 4000, now).await.unwrap();
            assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 4000));
            let whole = store.cancel_booking(booking.id, now).await.unwrap();
            assert_eq!(whole.canceled.status, ReservationStatus::Canceled);
            assert_eq!(
                whole.refunds,
                [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 200 }]
            );
            let done = store.payment(payment.id).await.unwrap().unwrap();
            assert_eq!((done.status, done.refunded_cents), (PaymentStatus::Refunded, 4200));

            let (_, first) = paid_booking(&store, &f, &["A2"], "ch_2", now).await;
            let (_, second) = paid_booking(&store, &f, &["B2"], "ch_3", now).await;
            let held = store.hold(&f.hold(&["A3"], ten_minutes()), now).await.unwrap();
            let pending = store.create_payment(checkout(&held, now + minutes(5)), now).await.unwrap();

            let cancellation = store.cancel_event(f.event_id, now).await.unwrap().unwrap();
            assert_eq!(cancellation.canceled.status, EventStatus::Canceled);
            let mut refunds = cancellation.refunds.clone();
            refunds.sort_by_key(|r| r.amount_cents);
            assert_eq!(
                refunds,
                [
                    Refund { payment_id: first.id, provider_ref: "ch_2".into(), amount_cents: 1200 },
                    Refund { payment_id: second.id, provider_ref: "ch_3".into(), amount_cents: 3000 },
                ]
            );
            assert_eq!(store.payment(first.id).await.unwrap().unwrap().status, PaymentStatus::Refunded);
            assert_eq!(store.payment(pending.id).await.unwrap().unwrap().status, PaymentStatus::Pending);
            assert_eq!(store.booking(held.id, now).await.unwrap().unwrap().status, ReservationStatus::Canceled);
            assert!(store.cancel_event(Uuid::new_v4(), now).await.unwrap().is_none());
            // The held booking's payment can never be confirmed now.
            assert!(matches!(
                store.confirm_payment(pending.id, "ch_4", "4242", now).await,
                Err(StoreError::InvalidState(_))
            ));
        })
        .await;
    }

    #[tokio::test]
    async fn an_event_canceled_while_a_hold_had_lapsed_sells_nothing() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let booking = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
            let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
            let later = now + minutes(11);
            store.cancel_event(f.event_id, later).await.unwrap().unwrap();
            match store.confirm_payment(payment.id, "ch_1", "4242", later).await {
                Err(StoreError::InvalidState(message)) => assert_eq!(message, "this event was canceled"),
                other => panic!("expected InvalidState, got {other:?}"),
            }
            assert_eq!(store.payment(payment.id).await.unwrap().unwrap().status, PaymentStatus::Pending);
        })
        .await;
    }

    #[tokio::test]
    async fn failed_payments_refunds_and_webhook_events_are_recorded_once() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let booking = store.hold(&f.hold(&["A1", "A2"], ten_minutes()), now).await.unwrap();
            let first = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
            assert!(matches!(store.record_refund(first.id, 100, now).await, Err(StoreError::InvalidState(_))));
            let failed = store.fail_payment(first.id, 99_999, now).await.unwrap();
            assert_eq!((failed.status, failed.refunded_cents), (PaymentStatus::Failed, 2400));
            match store.fail_payment(first.id, 0, now).await {
                Err(StoreError::InvalidState(message)) => assert_eq!(message, "this payment is already failed"),
                other => panic!("expected InvalidState, got {other:?}"),
            }
            assert!(matches!(store.fail_payment(Uuid::new_v4(), 0, now).await, Err(StoreError::NotFound)));
            assert!(matches!(store.record_refund(Uuid::new_v4(), 1, now).await, Err(StoreError::NotFound)));

            // A failed payment does not block the next one.
            let second = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
            store.confirm_payment(second.id, "ch_1", "4242", now).await.unwrap();
            let partly = store.record_refund(second.id, 400, now).await.unwrap();
            assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 400));
            let capped = store.record_refund(second.id, 10_000, now).await.unwrap();
            assert_eq!((capped.status, capped.refunded_cents), (PaymentStatus::Refunded, 2400));

            assert!(store.record_webhook_event("evt_1", now).await.unwrap());
            assert!(!store.record_webhook_event("evt_1", now).await.unwrap());
            assert!(store.record_webhook_event("evt_2", now).await.unwrap());
        })
        .await;
    }

    /// Waits until some session of this store's database waits for a row lock.
    async fn until_someone_waits_for_a_lock(store: &PostgresStore) {
        for _ in 0..500 {
            let waiting: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                                WHERE datname = current_database() AND wait_event_type = 'Lock')",
            )
            .fetch_one(&store.pool)
            .await
            .unwrap();
            if waiting {
                return;
            }
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        panic!("nobody ever waited for the lock");
    }

    #[tokio::test]
    async fn a_cancel_that_waited_for_a_confirm_refunds_the_seat_it_confirmed() {
        with_store(|store| async move {
            let f = fixture(&store).await;
            let now = clock();
            let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
            let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();

            // A confirm caught between its writes and its commit, as `confirm_payment` writes them.
            let mut confirm = store.pool.begin().await.unwrap();
            sqlx::query("SELECT id FROM reservations WHERE booking_id = $1 ORDER BY id FOR UPDATE")
                .bind(booking.id)
                .execute(&mut *confirm)
                .await
                .unwrap();
            sqlx::query("UPDATE payments SET status = 'succeeded', provider_ref = 'ch_1' WHERE id = $1")
                .bind(payment.id)
                .execute(&mut *confirm)
                .await
                .unwrap();
            sqlx::query("UPDATE reservations SET status = 'confirmed' WHERE booking_id = $1")
                .bind(booking.id)
                .execute(&mut *confirm)
                .await
                .unwrap();

            // The cancel reads the seat as held, then waits for the confirm's lock.
            let canceling = {
                let store = Arc::clone(&store);
                let a1 = booking.reservations[0].id;
                tokio::spawn(async move { store.cancel_reservation(a1, now).await })
            };
            until_someone_waits_for_a_lock(&store).await;
            confirm.commit().await.unwrap();

            let cancellation = canceling.await.unwrap().unwrap();
            assert_eq!(
                cancellation.refunds,
                [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 1200 }]
            );
            let refunded = store.payment(payment.id).await.unwrap().unwrap();
            assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::PartiallyRefunded, 1200));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_confirm_racing_a_cancel_never_keeps_money_for_a_canceled_seat() {
        with_store(|store| async move {
            let f = Arc::new(fixture(&store).await);
            for round in 0..24 {
                let now = clock();
                let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
                let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();

                let confirming = {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move { store.confirm_payment(payment.id, "ch_race", "4242", now).await })
                };
                let canceling = {
                    let store = Arc::clone(&store);
                    let (booking_id, a1) = (booking.id, booking.reservations[0].id);
                    // Started a little later round by round, so that the cancel lands before, inside
                    // and after the confirm's transaction in turn (a spin: the timer counts whole ms).
                    let delay = StdDuration::from_micros(80 * round);
                    tokio::spawn(async move {
                        let start = std::time::Instant::now();
                        while start.elapsed() < delay {
                            std::hint::spin_loop();
                        }
                        if round % 2 == 0 {
                            store.cancel_booking(booking_id, now).await.map(|c| c.refunds)
                        } else {
                            store.cancel_reservation(a1, now).await.map(|c| c.refunds)
                        }
                    })
                };
                let confirmed = confirming.await.unwrap();
                let refunds = canceling.await.unwrap().unwrap();

                let after = store.booking(booking.id, now).await.unwrap().unwrap();
                let canceled_cents: i64 = after
                    .reservations
                    .iter()
                    .filter(|r| r.status == ReservationStatus::Canceled)
                    .map(|r| r.price_cents)
                    .sum();
                let stored = store.payment(payment.id).await.unwrap().unwrap();
                let refunded_cents: i64 = refunds.iter().map(|r| r.amount_cents).sum();
                match confirmed {
                    Ok(_) => {
                        // Paid: every canceled seat was confirmed first, and is refunded.
                        assert_eq!(stored.refunded_cents, canceled_cents, "round {round}");
                        assert_eq!(refunded_cents, canceled_cents, "round {round}");
                        let expected = if canceled_cents == stored.amount_cents {
                            PaymentStatus::Refunded
                        } else {
                            PaymentStatus::PartiallyRefunded
                        };
                        assert_eq!(stored.status, expected, "round {round}");
                    }
                    Err(StoreError::InvalidState(message)) => {
                        // The cancel came first: nothing was charged or confirmed.
                        assert_eq!(message, "a seat of this booking was canceled", "round {round}");
                        assert_eq!((stored.status, stored.refunded_cents), (PaymentStatus::Pending, 0));
                        assert!(refunds.is_empty(), "round {round}");
                        assert!(after.reservations.iter().all(|r| r.status != ReservationStatus::Confirmed));
                    }
                    Err(other) => panic!("round {round}: the confirm got {other:?}"),
                }
                // Free the seats for the next round.
                let _ = store.cancel_booking(booking.id, now).await;
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_lapsed_confirm_racing_new_holds_leaves_the_seats_to_exactly_one_of_them() {
        with_store(|store| async move {
            let f = Arc::new(fixture(&store).await);
            let bob = new_user(&store, "Bob").await;
            for round in 0..12u32 {
                let now = clock();
                let anns = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
                let payment = store.create_payment(checkout(&anns, now + minutes(5)), now).await.unwrap();
                let later = now + minutes(11);

                let confirming = {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move { store.confirm_payment(payment.id, "ch_race", "4242", later).await })
                };
                // Every hold wants A1, so at most one of them can win, in either seat order.
                let holds: Vec<_> = (0..6)
                    .map(|i| {
                        let (store, f) = (Arc::clone(&store), Arc::clone(&f));
                        let labels: &[&str] = if i % 2 == 0 { &["A1"] } else { &["B1", "A1"] };
                        // Later round by round, so that the confirm sometimes commits before any hold
                        // arrives and sometimes meets them mid-transaction.
                        let delay = StdDuration::from_micros(u64::from(300 * round + 50 * i));
                        tokio::spawn(async move {
                            let start = std::time::Instant::now();
                            while start.elapsed() < delay {
                                std::hint::spin_loop();
                            }
                            let mut request = f.hold(labels, ten_minutes());
                            request.user_id = bob;
                            store.hold(&request, later).await
                        })
                    })
                    .collect();

                let mut winners = Vec::new();
                for hold in holds {
                    match hold.await.unwrap() {
                        Ok(booking) => winners.push(booking.id),
                        Err(StoreError::SeatsUnavailable(_)) => {}
                        Err(other) => panic!("round {round}: a hold got {other:?}"),
                    }
                }
                match confirming.await.unwrap() {
                    Ok(_) => assert!(winners.is_empty(), "round {round}: sold and held at once"),
                    Err(StoreError::HoldExpired) => {
                        assert_eq!(winners.len(), 1, "round {round}");
                        let still = store.payment(payment.id).await.unwrap().unwrap();
                        assert_eq!(still.status, PaymentStatus::Pending, "round {round}");
                    }
                    Err(other) => panic!("round {round}: the confirm got {other:?}"),
                }
                // Free the seats for the next round, whose clock is earlier than `later`: Ann's seats
                // that are still written `held` run at that clock, so they are canceled at `now`.
                let _ = store.cancel_booking(anns.id, now).await;
                for winner in winners {
                    store.cancel_booking(winner, later).await.unwrap();
                }
            }
        })
        .await;
    }
}
