//! The SQLite backend: one file in WAL mode, one writer connection taking the write lock up front
//! (`BEGIN IMMEDIATE`) and a few reader connections; the partial unique index
//! `reservations_active_seat_uq` is the only referee of who holds a seat.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::hold_batch::{HoldBatches, HoldOutcome, HoldQueue, PendingHold};
use super::read_batch::{BatchedRead, ReadQueue, USER_READ_WORKERS};
use super::{
    Cancellation, CatalogStore, HoldStore, IDEMPOTENCY_TTL_HOURS, IdempotencyClaim, IdempotencyStore, PaymentStore,
    Store, StoreError, StoreResult, UserStore,
};
use crate::domain::{
    Booking, Email, Event, EventChanges, EventFilter, EventStatus, HoldRequest, Invalid, NewEvent, NewPayment, NewUser,
    NewVenue, Page, Payment, PaymentStatus, Price, Refund, Reservation, ReservationFilter, ReservationStatus, Seat,
    SeatLabel, SeatState, SeatStatus, User, UserChanges, Venue, VenueSummary, VenueWithSeats,
};

/// How long a statement waits for another connection (or process) to release the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reader connections; WAL lets them read while the writer writes.
const READ_CONNECTIONS: u32 = 4;
/// How often the checkpointer copies committed pages from the WAL into the database file. Often,
/// so each copy (and its fsync) is small. Measured at 64 clients (~10,500 holds/s): hold p99
/// 13.6 ms every 5 ms, 16.5-19.7 ms every 10 ms, 26.6-28.1 ms every 20 ms, 31-34 ms every 40 ms
/// (which also cost 7-20 % of the rate); every 200 ms let it reach 54 ms in an earlier version.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(10);
/// How often a checkpoint failure that lasts is logged again.
const CHECKPOINT_WARN_EVERY: Duration = Duration::from_secs(60);
/// The writer checkpoints by itself only past this many WAL pages (4 KiB each): a backstop for
/// when the checkpointer falls behind (SQLite's default is 1,000).
const WRITER_AUTOCHECKPOINT_PAGES: &str = "10000";
/// Seats per INSERT when creating a venue: 6 parameters each stays far below SQLite's variable limit.
const SEAT_INSERT_CHUNK: usize = 500;

/// A reservation that takes its seat, for a table aliased `r` (one `?`: now in milliseconds).
/// The `status IN (...)` term repeats the partial index's condition so the planner may use it.
const ACTIVE_R: &str = "r.status IN ('held', 'confirmed') AND (r.status = 'confirmed' OR r.expires_at > ?)";
/// The same condition inside an `UPDATE reservations` (one `?`: now in milliseconds).
const ACTIVE: &str = "(status = 'confirmed' OR (status = 'held' AND expires_at > ?))";

const USER_COLUMNS: &str = "id, email, name, role, disabled, created_at";

/// A reservation with its seat label; the FROM clause aliases them `r` and `s`.
const RESERVATION_COLUMNS: &str = "r.id, r.booking_id, r.user_id, r.event_id, r.seat_id, s.row_label, \
     s.seat_number, s.tier, r.price_cents, r.currency, r.status, r.expires_at, r.created_at";

const PAYMENT_COLUMNS: &str = "id, booking_id, user_id, amount_cents, currency, status, provider, card_last4, \
     refunded_cents, created_at, updated_at";

/// Storage in one SQLite file.
pub struct SqliteStore {
    /// The only connection that writes, so writers queue here instead of failing on a busy lock.
    writer: SqlitePool,
    /// Holds go through batches on the writer (see `SqliteHoldBatches`).
    holds: HoldQueue,
    /// Readers; the same pool as `writer` for an in-memory database, which exists per connection set.
    reader: SqlitePool,
    /// Account reads by id, answered together on the readers (see `SqliteUserReads`).
    users: ReadQueue<SqliteUserReads>,
    /// The WAL checkpointer of a database file (none in memory).
    _checkpoints: Option<Checkpoints>,
}

impl SqliteStore {
    /// Opens (and creates, if missing) the database file named by a `sqlite://FILE` URL.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // A multi-row statement inside a transaction keeps its undo pages (the statement
            // journal) in memory instead of a temp file.
            .pragma("temp_store", "memory");
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
        // The writer opens first: it creates the file and switches it to WAL before anyone reads.
        // Every write waits for this one connection, so copying the WAL into the database file
        // is left to the checkpointer, off the writer's path, on the other core.
        let writer_options = if in_memory {
            options.clone()
        } else {
            options.clone().pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
        };
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(writer_options).await?;
        let (reader, checkpoints) = if in_memory {
            (writer.clone(), None)
        } else {
            let reader = SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options.clone().pragma("query_only", "ON"))
                .await?;
            let checkpointer = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
            (reader, Some(Checkpoints::start(checkpointer)))
        };
        // One worker: the writer is one connection, so a second batch could only wait for it.
        let holds = HoldQueue::start(SqliteHoldBatches { writer: writer.clone() }, 1);
        let users = ReadQueue::start(SqliteUserReads { reader: reader.clone() }, USER_READ_WORKERS);
        Ok(Self { writer, reader, holds, users, _checkpoints: checkpoints })
    }
}

/// The task that checkpoints the WAL every `CHECKPOINT_EVERY`; stopped with the store.
struct Checkpoints(tokio::task::JoinHandle<()>);

impl Checkpoints {
    fn start(checkpointer: SqlitePool) -> Self {
        Self(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // A failure that lasts is logged once a minute, not a hundred times a second.
            // `Some` while checkpoints fail: when the last warning was logged.
            let mut warned_at: Option<tokio::time::Instant> = None;
            loop {
                ticks.tick().await;
                // PASSIVE never blocks the writer or a reader: it copies what it can now.
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&checkpointer).await {
                    Ok(_) => {
                        if warned_at.take().is_some() {
                            tracing::info!("SQLite checkpoints work again");
                        }
                    }
                    Err(err) => {
                        let now = tokio::time::Instant::now();
                        if warned_at.is_none_or(|at| now.duration_since(at) >= CHECKPOINT_WARN_EVERY) {
                            warned_at = Some(now);
                            tracing::warn!(error = %err, "SQLite checkpoint failed (the writer's backstop applies)");
                        }
                    }
                }
            }
        }))
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads accounts by id, many per query: every authenticated request reads its caller's.
struct SqliteUserReads {
    reader: SqlitePool,
}

#[async_trait]
impl BatchedRead for SqliteUserReads {
    type Key = Uuid;
    type Value = User;

    async fn read_batch(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?))");
        let rows = sqlx::query(&sql).bind(ids_json(ids)).fetch_all(&self.reader).await?;
        rows.iter().map(|row| user_from_row(row).map(|user| (user.id, user))).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Values: ids are hyphenated UUID text, times are milliseconds since the epoch.

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Internal(format!("stored time {ms} is out of range")))
}

fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Ids as one JSON array of their text, for `IN (SELECT value FROM json_each(?))`: one statement
/// text whatever the count, so it is prepared once.
fn ids_json<'a>(ids: impl IntoIterator<Item = &'a Uuid>) -> String {
    let mut json = String::from("[");
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push('"');
        json.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        json.push('"');
    }
    json.push(']');
    json
}

fn uuid_col(row: &SqliteRow, col: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(col)?;
    Uuid::parse_str(&text).map_err(|e| StoreError::Internal(format!("column {col}: bad uuid `{text}`: {e}")))
}

fn time_col(row: &SqliteRow, col: &str) -> StoreResult<DateTime<Utc>> {
    from_millis(row.try_get(col)?)
}

/// A wire enum stored as its text.
fn enum_col<T: FromStr<Err = Invalid>>(row: &SqliteRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e: Invalid| StoreError::Internal(format!("column {col}: {}", e.message)))
}

/// `?, ?, ?` for an `IN (...)` list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A `LIKE` pattern matching `text` anywhere, with its own wildcards taken literally (`ESCAPE '\'`).
/// SQLite's LIKE folds ASCII case only.
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

fn migrate_error(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
        other => StoreError::Internal(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Row mapping.

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: uuid_col(row, "id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: enum_col(row, "role")?,
        disabled: row.try_get("disabled")?,
        created_at: time_col(row, "created_at")?,
    })
}

fn seat_from_row(row: &SqliteRow) -> StoreResult<Seat> {
    Ok(Seat {
        id: uuid_col(row, "id")?,
        row: row.try_get("row_label")?,
        seat_number: row.try_get("seat_number")?,
        tier: row.try_get("tier")?,
    })
}

fn venue_from_row(row: &SqliteRow) -> StoreResult<Venue> {
    Ok(Venue {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        location: row.try_get("location")?,
        kind: enum_col(row, "kind")?,
        seat_count: row.try_get("seat_count")?,
    })
}

fn label_from_row(row: &SqliteRow) -> StoreResult<SeatLabel> {
    Ok(SeatLabel {
        row: row.try_get("row_label")?,
        seat_number: row.try_get("seat_number")?,
        tier: row.try_get("tier")?,
    })
}

/// A row of `RESERVATION_COLUMNS`, with the status a reader sees at `now`.
fn reservation_from_row(row: &SqliteRow, now: DateTime<Utc>) -> StoreResult<Reservation> {
    let expires_at = time_col(row, "expires_at")?;
    let status: ReservationStatus = enum_col(row, "status")?;
    Ok(Reservation {
        id: uuid_col(row, "id")?,
        booking_id: uuid_col(row, "booking_id")?,
        user_id: uuid_col(row, "user_id")?,
        event_id: uuid_col(row, "event_id")?,
        seat_id: uuid_col(row, "seat_id")?,
        seat: label_from_row(row)?,
        price_cents: row.try_get("price_cents")?,
        currency: row.try_get("currency")?,
        status: status.effective(expires_at, now),
        expires_at,
        created_at: time_col(row, "created_at")?,
    })
}

/// A row of `PAYMENT_COLUMNS`.
fn payment_from_row(row: &SqliteRow) -> StoreResult<Payment> {
    Ok(Payment {
        id: uuid_col(row, "id")?,
        booking_id: uuid_col(row, "booking_id")?,
        user_id: uuid_col(row, "user_id")?,
        amount_cents: row.try_get("amount_cents")?,
        currency: row.try_get("currency")?,
        status: enum_col(row, "status")?,
        provider: row.try_get("provider")?,
        card_last4: row.try_get("card_last4")?,
        refunded_cents: row.try_get("refunded_cents")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
}

/// A row of `push_event_select`, with its prices.
fn event_from_row(row: &SqliteRow, prices: Vec<Price>) -> StoreResult<Event> {
    let venue_id = uuid_col(row, "venue_id")?;
    let seats_total: i64 = row.try_get("seats_total")?;
    let seats_taken: i64 = row.try_get("seats_taken")?;
    Ok(Event {
        id: uuid_col(row, "id")?,
        venue_id,
        venue: VenueSummary {
            id: venue_id,
            name: row.try_get("venue_name")?,
            location: row.try_get("venue_location")?,
            kind: enum_col(row, "venue_kind")?,
        },
        name: row.try_get("name")?,
        category: enum_col(row, "category")?,
        description: row.try_get("description")?,
        image_url: row.try_get("image_url")?,
        start_time: time_col(row, "start_time")?,
        duration_minutes: row.try_get("duration_minutes")?,
        status: enum_col(row, "status")?,
        currency: row.try_get("currency")?,
        prices,
        seats_total,
        seats_available: (seats_total - seats_taken).max(0),
    })
}

// ---------------------------------------------------------------------------------------------
// Reads shared by several operations; they take a connection so they can run inside a transaction.

/// Starts `SELECT <event columns> FROM events e JOIN venues v`, counting seats taken at `now`.
fn push_event_select(qb: &mut QueryBuilder<'_, Sqlite>, now: DateTime<Utc>) {
    qb.push(
        "SELECT e.id, e.venue_id, e.name, e.category, e.description, e.image_url, e.start_time, \
         e.duration_minutes, e.status, e.currency, \
         v.name AS venue_name, v.location AS venue_location, v.kind AS venue_kind, \
         (SELECT COUNT(*) FROM seats s WHERE s.venue_id = e.venue_id) AS seats_total, \
         (SELECT COUNT(*) FROM reservations r WHERE r.event_id = e.id \
            AND r.status IN ('held', 'confirmed') AND (r.status = 'confirmed' OR r.expires_at > ",
    );
    qb.push_bind(millis(now));
    qb.push(")) AS seats_taken FROM events e JOIN venues v ON v.id = e.venue_id");
}

/// The prices of each event, sorted by tier, in one query.
async fn load_prices(conn: &mut SqliteConnection, event_ids: &[String]) -> StoreResult<HashMap<String, Vec<Price>>> {
    let mut prices: HashMap<String, Vec<Price>> = HashMap::new();
    if event_ids.is_empty() {
        return Ok(prices);
    }
    let sql = format!(
        "SELECT event_id, tier, price_cents FROM event_prices WHERE event_id IN ({}) ORDER BY event_id, tier",
        placeholders(event_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in event_ids {
        query = query.bind(id);
    }
    for row in query.fetch_all(&mut *conn).await? {
        let event_id: String = row.try_get("event_id")?;
        prices
            .entry(event_id)
            .or_default()
            .push(Price { tier: row.try_get("tier")?, price_cents: row.try_get("price_cents")? });
    }
    Ok(prices)
}

/// Turns event rows into events, loading every listed event's prices at once.
async fn events_from_rows(conn: &mut SqliteConnection, rows: Vec<SqliteRow>) -> StoreResult<Vec<Event>> {
    let ids = rows.iter().map(|row| row.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>()?;
    let mut prices = load_prices(conn, &ids).await?;
    rows.iter().zip(&ids).map(|(row, id)| event_from_row(row, prices.remove(id).unwrap_or_default())).collect()
}

async fn load_event(conn: &mut SqliteConnection, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
    let mut qb = QueryBuilder::new("");
    push_event_select(&mut qb, now);
    qb.push(" WHERE e.id = ").push_bind(id_text(id));
    let row = qb.build().fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(events_from_rows(conn, vec![row]).await?.pop())
}

async fn load_reservation(
    conn: &mut SqliteConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<Reservation>> {
    let sql =
        format!("SELECT {RESERVATION_COLUMNS} FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.id = ?");
    let row = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&mut *conn).await?;
    row.map(|row| reservation_from_row(&row, now)).transpose()
}

async fn load_booking(conn: &mut SqliteConnection, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
    let sql = format!(
        "SELECT b.created_at AS booking_created_at, {RESERVATION_COLUMNS} \
         FROM bookings b JOIN reservations r ON r.booking_id = b.id JOIN seats s ON s.id = r.seat_id \
         WHERE b.id = ? ORDER BY s.row_index, s.seat_number"
    );
    let rows = sqlx::query(&sql).bind(id_text(id)).fetch_all(&mut *conn).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let created_at = time_col(first, "booking_created_at")?;
    let reservations = rows.iter().map(|row| reservation_from_row(row, now)).collect::<StoreResult<Vec<_>>>()?;
    Ok(Booking::from_reservations(id, created_at, reservations))
}

/// A payment's status, to explain why a conditional update of it changed nothing.
async fn payment_status(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<PaymentStatus>> {
    let row = sqlx::query("SELECT status FROM payments WHERE id = ?").bind(id).fetch_optional(&mut *conn).await?;
    row.map(|row| enum_col(&row, "status")).transpose()
}

/// The error for a payment update that matched no row: no such payment, or the wrong status.
async fn payment_not_updated(conn: &mut SqliteConnection, id: &str) -> StoreError {
    match payment_status(conn, id).await {
        Ok(None) => StoreError::NotFound,
        Ok(Some(status)) => StoreError::InvalidState(format!("this payment is already {status}")),
        Err(err) => err,
    }
}

/// Which reservations a cancellation takes: those whose `column` equals the key.
#[derive(Clone, Copy)]
enum CancelScope {
    Reservation,
    Booking,
    Event,
}

impl CancelScope {
    fn column(self) -> &'static str {
        match self {
            Self::Reservation => "id",
            Self::Booking => "booking_id",
            Self::Event => "event_id",
        }
    }
}

/// Cancels the active reservations in `scope` and records the refund of every confirmed (paid)
/// one on its booking's payment; returns how many were canceled and the refunds owed. Runs
/// inside the caller's `BEGIN IMMEDIATE` transaction: the writer lock is held, so the rows read
/// first are exactly the rows the update then cancels.
async fn cancel_active(
    conn: &mut SqliteConnection,
    scope: CancelScope,
    key: &str,
    now: DateTime<Utc>,
) -> StoreResult<(u64, Vec<Refund>)> {
    let column = scope.column();
    let sql = format!("SELECT booking_id, status, price_cents FROM reservations WHERE {column} = ? AND {ACTIVE}");
    let rows = sqlx::query(&sql).bind(key).bind(millis(now)).fetch_all(&mut *conn).await?;
    // Per booking, the price of its confirmed seats; held seats were never paid for.
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        if enum_col::<ReservationStatus>(row, "status")? == ReservationStatus::Confirmed {
            *paid.entry(row.try_get("booking_id")?).or_default() += row.try_get::<i64, _>("price_cents")?;
        }
    }

    // The same condition as the SELECT above, so the same rows.
    let sql = format!("UPDATE reservations SET status = 'canceled', updated_at = ? WHERE {column} = ? AND {ACTIVE}");
    let canceled =
        sqlx::query(&sql).bind(millis(now)).bind(key).bind(millis(now)).execute(&mut *conn).await?.rows_affected();

    let mut refunds = Vec::new();
    for (booking_id, price_cents) in paid {
        if let Some(refund) = refund_on_payment(conn, &booking_id, price_cents, now).await? {
            refunds.push(refund);
        }
    }
    Ok((canceled, refunds))
}

/// Records `price_cents` as refunded on the booking's paid payment, capped at what is left of
/// it; the refund to pay out, if there is money to send back through the provider.
async fn refund_on_payment(
    conn: &mut SqliteConnection,
    booking_id: &str,
    price_cents: i64,
    now: DateTime<Utc>,
) -> StoreResult<Option<Refund>> {
    let row = sqlx::query(
        "SELECT id, provider_ref, amount_cents, refunded_cents FROM payments \
         WHERE booking_id = ? AND status IN ('succeeded', 'partially_refunded')",
    )
    .bind(booking_id)
    .fetch_optional(&mut *conn)
    .await?;
    // Confirmed seats without a paid payment (none in normal operation): nothing to give back.
    let Some(row) = row else { return Ok(None) };
    let payment_id = uuid_col(&row, "id")?;
    let provider_ref: Option<String> = row.try_get("provider_ref")?;
    let amount: i64 = row.try_get("amount_cents")?;
    let refunded: i64 = row.try_get("refunded_cents")?;
    // Earlier refunds (a provider's webhook) may have given part of it back already.
    let refund = price_cents.min(amount - refunded).max(0);
    let total = refunded + refund;
    let status = if total == amount { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
    sqlx::query("UPDATE payments SET refunded_cents = ?, status = ?, updated_at = ? WHERE id = ?")
        .bind(total)
        .bind(status.as_str())
        .bind(millis(now))
        .bind(id_text(payment_id))
        .execute(&mut *conn)
        .await?;
    // Without a provider reference there is no charge to refund against; the books are still right.
    Ok(provider_ref.filter(|_| refund > 0).map(|provider_ref| Refund {
        payment_id,
        provider_ref,
        amount_cents: refund,
    }))
}

/// Inserts an event's prices in one statement.
async fn insert_prices(conn: &mut SqliteConnection, event_id: &str, prices: &[Price]) -> StoreResult<()> {
    if prices.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO event_prices (event_id, tier, price_cents) ");
    qb.push_values(prices, |mut b, price| {
        b.push_bind(event_id.to_owned()).push_bind(price.tier.clone()).push_bind(price.price_cents);
    });
    qb.build().execute(&mut *conn).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Users.

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let sql = format!(
            "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at) \
             VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(id_text(Uuid::new_v4()))
            .bind(user.email.as_str())
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(millis(Utc::now()))
            .fetch_one(&self.writer)
            .await?;
        user_from_row(&row)
    }

    async fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.users.read(id).await
    }

    async fn user_with_password_hash(&self, email: &Email) -> StoreResult<Option<(User, String)>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?");
        let row = sqlx::query(&sql).bind(email.as_str()).fetch_optional(&self.reader).await?;
        row.map(|row| Ok((user_from_row(&row)?, row.try_get("password_hash")?))).transpose()
    }

    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        let hash = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
            .bind(id_text(id))
            .fetch_optional(&self.reader)
            .await?;
        Ok(hash)
    }

    async fn update_user(&self, id: Uuid, changes: UserChanges) -> StoreResult<Option<User>> {
        // One statement: a NULL parameter keeps the column as it is.
        let sql = format!(
            "UPDATE users SET name = COALESCE(?, name), password_hash = COALESCE(?, password_hash), \
             role = COALESCE(?, role), disabled = COALESCE(?, disabled) WHERE id = ? RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(changes.name)
            .bind(changes.password_hash)
            .bind(changes.role.map(|r| r.as_str()))
            .bind(changes.disabled)
            .bind(id_text(id))
            .fetch_optional(&self.writer)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, query: Option<&str>, page: Page) -> StoreResult<Vec<User>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {USER_COLUMNS} FROM users"));
        if let Some(text) = query {
            let pattern = contains_pattern(text);
            qb.push(" WHERE email LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR name LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
        qb.push(" ORDER BY created_at, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(user_from_row).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog.

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn create_venue(&self, venue: NewVenue) -> StoreResult<VenueWithSeats> {
        let id = Uuid::new_v4();
        let venue_id = id_text(id);
        // Seats in the order they are listed: rows as requested, numbers 1..n.
        let seats: Vec<(i64, Seat)> = venue
            .rows
            .iter()
            .enumerate()
            .flat_map(|(row_index, row)| {
                (1..=row.seats).map(move |seat_number| {
                    let seat = Seat { id: Uuid::new_v4(), row: row.row.clone(), seat_number, tier: row.tier.clone() };
                    (row_index as i64, seat)
                })
            })
            .collect();

        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT INTO venues (id, name, location, kind, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&venue_id)
            .bind(&venue.name)
            .bind(&venue.location)
            .bind(venue.kind.as_str())
            .bind(millis(Utc::now()))
            .execute(&mut *tx)
            .await?;
        for chunk in seats.chunks(SEAT_INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO seats (id, venue_id, row_label, row_index, seat_number, tier) ",
            );
            qb.push_values(chunk, |mut b, (row_index, seat)| {
                b.push_bind(id_text(seat.id))
                    .push_bind(venue_id.clone())
                    .push_bind(seat.row.clone())
                    .push_bind(*row_index)
                    .push_bind(seat.seat_number)
                    .push_bind(seat.tier.clone());
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;

        let seats: Vec<Seat> = seats.into_iter().map(|(_, seat)| seat).collect();
        Ok(VenueWithSeats {
            venue: Venue {
                id,
                name: venue.name,
                location: venue.location,
                kind: venue.kind,
                seat_count: seats.len() as i64,
            },
            seats,
        })
    }

    async fn list_venues(&self) -> StoreResult<Vec<Venue>> {
        let rows = sqlx::query(
            "SELECT v.id, v.name, v.location, v.kind, \
             (SELECT COUNT(*) FROM seats s WHERE s.venue_id = v.id) AS seat_count \
             FROM venues v ORDER BY v.name, v.id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(venue_from_row).collect()
    }

    async fn venue(&self, id: Uuid) -> StoreResult<Option<VenueWithSeats>> {
        let mut conn = self.reader.acquire().await?;
        let row = sqlx::query(
            "SELECT v.id, v.name, v.location, v.kind, \
             (SELECT COUNT(*) FROM seats s WHERE s.venue_id = v.id) AS seat_count \
             FROM venues v WHERE v.id = ?",
        )
        .bind(id_text(id))
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let venue = venue_from_row(&row)?;
        // A venue's seats never change after it is created, so a second read needs no snapshot.
        let seats = sqlx::query(
            "SELECT id, row_label, seat_number, tier FROM seats WHERE venue_id = ? ORDER BY row_index, seat_number",
        )
        .bind(id_text(id))
        .fetch_all(&mut *conn)
        .await?;
        let seats = seats.iter().map(seat_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(VenueWithSeats { venue, seats }))
    }

    async fn venue_tiers(&self, id: Uuid) -> StoreResult<Option<BTreeSet<String>>> {
        // No row: no venue. A NULL tier: a venue without seats.
        let tiers: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT DISTINCT s.tier FROM venues v LEFT JOIN seats s ON s.venue_id = v.id WHERE v.id = ?",
        )
        .bind(id_text(id))
        .fetch_all(&self.reader)
        .await?;
        if tiers.is_empty() {
            return Ok(None);
        }
        Ok(Some(tiers.into_iter().flatten().collect()))
    }

    async fn create_event(&self, event: NewEvent) -> StoreResult<Event> {
        let id = Uuid::new_v4();
        let event_id = id_text(id);
        let now = Utc::now();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO events (id, venue_id, name, category, description, image_url, start_time, \
             duration_minutes, status, currency, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'on_sale', ?, ?)",
        )
        .bind(&event_id)
        .bind(id_text(event.venue_id))
        .bind(&event.name)
        .bind(event.category.as_str())
        .bind(&event.description)
        .bind(&event.image_url)
        .bind(millis(event.start_time))
        .bind(event.duration_minutes)
        .bind(&event.currency)
        .bind(millis(now))
        .execute(&mut *tx)
        .await;
        match inserted {
            // The venue's foreign key is the check that it exists.
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => return Err(StoreError::NotFound),
            other => other?,
        };
        insert_prices(&mut tx, &event_id, &event.prices).await?;
        let created = load_event(&mut tx, id, now).await?;
        tx.commit().await?;
        created.ok_or_else(|| StoreError::Internal("the event just created is missing".into()))
    }

    async fn update_event(&self, id: Uuid, changes: EventChanges) -> StoreResult<Option<Event>> {
        let event_id = id_text(id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // A NULL keeps a column; the nullable columns take a "set it" flag beside the value.
        let updated = sqlx::query(
            "UPDATE events SET name = COALESCE(?, name), category = COALESCE(?, category), \
             description = COALESCE(?, description), \
             image_url = CASE WHEN ? THEN ? ELSE image_url END, \
             start_time = COALESCE(?, start_time), \
             duration_minutes = CASE WHEN ? THEN ? ELSE duration_minutes END, \
             currency = COALESCE(?, currency) WHERE id = ?",
        )
        .bind(changes.name)
        .bind(changes.category.map(|c| c.as_str()))
        .bind(changes.description)
        .bind(changes.image_url.is_some())
        .bind(changes.image_url.flatten())
        .bind(changes.start_time.map(millis))
        .bind(changes.duration_minutes.is_some())
        .bind(changes.duration_minutes.flatten())
        .bind(changes.currency)
        .bind(&event_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(prices) = changes.prices {
            sqlx::query("DELETE FROM event_prices WHERE event_id = ?").bind(&event_id).execute(&mut *tx).await?;
            insert_prices(&mut tx, &event_id, &prices).await?;
        }
        let event = load_event(&mut tx, id, Utc::now()).await?;
        tx.commit().await?;
        Ok(event)
    }

    async fn cancel_event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Cancellation<Event>>> {
        let event_id = id_text(id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated =
            sqlx::query("UPDATE events SET status = 'canceled' WHERE id = ?").bind(&event_id).execute(&mut *tx).await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        let (_, refunds) = cancel_active(&mut tx, CancelScope::Event, &event_id, now).await?;
        let event = load_event(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(event.map(|canceled| Cancellation { canceled, refunds }))
    }

    async fn event(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Event>> {
        // One snapshot for the event and its prices.
        let mut tx = self.reader.begin().await?;
        let event = load_event(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    async fn list_events(&self, filter: &EventFilter, now: DateTime<Utc>) -> StoreResult<Vec<Event>> {
        let mut qb = QueryBuilder::new("");
        push_event_select(&mut qb, now);
        qb.push(" WHERE 1 = 1");
        if !filter.include_past {
            qb.push(" AND e.status = 'on_sale' AND e.start_time > ").push_bind(millis(now));
        }
        if let Some(category) = filter.category {
            qb.push(" AND e.category = ").push_bind(category.as_str());
        }
        if let Some(venue_id) = filter.venue_id {
            qb.push(" AND e.venue_id = ").push_bind(id_text(venue_id));
        }
        if let Some(from) = filter.from {
            qb.push(" AND e.start_time >= ").push_bind(millis(from));
        }
        if let Some(to) = filter.to {
            qb.push(" AND e.start_time <= ").push_bind(millis(to));
        }
        if let Some(text) = &filter.text {
            let pattern = contains_pattern(text);
            qb.push(" AND (e.name LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR e.description LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\')");
        }
        qb.push(" ORDER BY e.start_time, e.id LIMIT ")
            .push_bind(filter.page.limit)
            .push(" OFFSET ")
            .push_bind(filter.page.offset);

        let mut tx = self.reader.begin().await?;
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let events = events_from_rows(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(events)
    }

    async fn seat_map(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Vec<SeatState>>> {
        // Starting from the event tells "no such event" (no row) from a venue without seats (NULL seat).
        let sql = format!(
            "SELECT s.id, s.row_label, s.seat_number, s.tier, COALESCE(p.price_cents, 0) AS price_cents, \
             r.status AS taken \
             FROM events e \
             LEFT JOIN seats s ON s.venue_id = e.venue_id \
             LEFT JOIN event_prices p ON p.event_id = e.id AND p.tier = s.tier \
             LEFT JOIN reservations r ON r.event_id = e.id AND r.seat_id = s.id AND {ACTIVE_R} \
             WHERE e.id = ? ORDER BY s.row_index, s.seat_number"
        );
        let rows = sqlx::query(&sql).bind(millis(now)).bind(id_text(event_id)).fetch_all(&self.reader).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut seats = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<String>, _>("id")?.is_none() {
                continue;
            }
            let taken: Option<String> = row.try_get("taken")?;
            let status = match taken.as_deref() {
                None => SeatStatus::Available,
                Some("confirmed") => SeatStatus::Sold,
                Some("held") => SeatStatus::Held,
                Some(other) => return Err(StoreError::Internal(format!("unexpected active status `{other}`"))),
            };
            seats.push(SeatState {
                seat_id: uuid_col(row, "id")?,
                row: row.try_get("row_label")?,
                seat_number: row.try_get("seat_number")?,
                tier: row.try_get("tier")?,
                price_cents: row.try_get("price_cents")?,
                status,
            });
        }
        Ok(Some(seats))
    }
}

// ---------------------------------------------------------------------------------------------
// Holds.

/// Places batches of holds on the writer connection, in one `BEGIN IMMEDIATE` transaction and
/// four round trips to its thread whatever the batch size (begin, read, write, commit): read the
/// events, seats and prices the batch names, check each hold against them, expire lapsed holds
/// on the wanted seats, insert the bookings, then insert every reservation with
/// `ON CONFLICT … DO NOTHING` on the partial unique index, which alone decides who gets a seat.
/// A hold that did not get all its seats is deleted again before the commit, and its caller
/// learns which seats were taken.
struct SqliteHoldBatches {
    writer: SqlitePool,
}

/// One wanted seat as the batch read it.
struct BatchSeat {
    venue_id: String,
    label: SeatLabel,
    row_index: i64,
}

/// The event of a hold as the batch read it.
struct BatchEvent {
    venue_id: String,
    status: EventStatus,
    start_time: DateTime<Utc>,
    currency: String,
}

#[async_trait]
impl HoldBatches for SqliteHoldBatches {
    async fn hold_batch(&self, batch: &[PendingHold]) -> Vec<HoldOutcome> {
        match self.try_hold_batch(batch).await {
            Ok(outcomes) => outcomes,
            Err(err) => batch.iter().map(|_| HoldOutcome::Failed(err.clone())).collect(),
        }
    }
}

impl SqliteHoldBatches {
    async fn try_hold_batch(&self, batch: &[PendingHold]) -> StoreResult<Vec<HoldOutcome>> {
        // The write lock is taken up front, so nothing can change what this transaction reads.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;

        // The batch's events with their prices, and its seats: one round trip to the writer's
        // thread (two statements, each prepared once) whatever the batch size, the ids as JSON
        // arrays. Every round trip of a batch is time every other write waits for.
        let event_ids: BTreeSet<Uuid> = batch.iter().map(|hold| hold.request.event_id).collect();
        let seat_ids: BTreeSet<Uuid> = batch.iter().flat_map(|hold| hold.request.seats.ids().iter().copied()).collect();
        let rows = sqlx::query(
            "SELECT 'event' AS kind, e.id, e.venue_id, e.status, e.start_time, e.currency, p.tier, p.price_cents \
             FROM events e LEFT JOIN event_prices p ON p.event_id = e.id \
             WHERE e.id IN (SELECT value FROM json_each(?)); \
             SELECT 'seat' AS kind, id, venue_id, row_label, row_index, seat_number, tier FROM seats \
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(ids_json(&event_ids))
        .bind(ids_json(&seat_ids))
        .fetch_all(&mut *tx)
        .await?;
        let mut events: HashMap<Uuid, BatchEvent> = HashMap::new();
        let mut prices: HashMap<(Uuid, String), i64> = HashMap::new();
        let mut seats: HashMap<Uuid, BatchSeat> = HashMap::new();
        for row in rows {
            let id = uuid_col(&row, "id")?;
            if row.try_get::<&str, _>("kind")? == "seat" {
                let seat = BatchSeat {
                    venue_id: row.try_get("venue_id")?,
                    label: label_from_row(&row)?,
                    row_index: row.try_get("row_index")?,
                };
                seats.insert(id, seat);
                continue;
            }
            if let Some(tier) = row.try_get::<Option<String>, _>("tier")? {
                prices.insert((id, tier), row.try_get("price_cents")?);
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = events.entry(id) {
                slot.insert(BatchEvent {
                    venue_id: row.try_get("venue_id")?,
                    status: enum_col(&row, "status")?,
                    start_time: time_col(&row, "start_time")?,
                    currency: row.try_get("currency")?,
                });
            }
        }

        // Each hold checked against what was read: its reservations to insert, or why not.
        let checked: Vec<StoreResult<Vec<Reservation>>> =
            batch.iter().map(|hold| reservations_for(hold, &events, &seats, &prices)).collect();
        let placed: Vec<&Reservation> = checked.iter().filter_map(|c| c.as_ref().ok()).flatten().collect();

        // The writes, as three statements in one round trip. No availability check before them:
        // the partial unique index alone decides.
        let mut inserted: HashSet<String> = HashSet::new();
        if !placed.is_empty() {
            // A lapsed hold must never block: write it down as expired before the index judges.
            // The `status IN (...)` term lets SQLite use the partial unique index (one probe per seat).
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE reservations SET status = 'expired', updated_at = w.column3 FROM (",
            );
            qb.push_values(&placed, |mut b, r| {
                b.push_bind(id_text(r.event_id)).push_bind(id_text(r.seat_id)).push_bind(millis(r.created_at));
            });
            qb.push(
                ") AS w WHERE reservations.event_id = w.column1 AND reservations.seat_id = w.column2 \
                 AND reservations.status IN ('held', 'confirmed') AND reservations.status = 'held' \
                 AND reservations.expires_at <= w.column3; ",
            );

            let bookings: Vec<&Reservation> = checked.iter().filter_map(|c| c.as_ref().ok()?.first()).collect();
            qb.push("INSERT INTO bookings (id, user_id, event_id, created_at) ");
            qb.push_values(&bookings, |mut b, r| {
                b.push_bind(id_text(r.booking_id))
                    .push_bind(id_text(r.user_id))
                    .push_bind(id_text(r.event_id))
                    .push_bind(millis(r.created_at));
            });
            qb.push("; ");

            qb.push(
                "INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency, \
                 status, expires_at, created_at, updated_at) ",
            );
            qb.push_values(&placed, |mut b, r| {
                b.push_bind(id_text(r.id))
                    .push_bind(id_text(r.booking_id))
                    .push_bind(id_text(r.user_id))
                    .push_bind(id_text(r.event_id))
                    .push_bind(id_text(r.seat_id))
                    .push_bind(r.price_cents)
                    .push_bind(r.currency.clone())
                    .push_bind(ReservationStatus::Held.as_str())
                    .push_bind(millis(r.expires_at))
                    .push_bind(millis(r.created_at))
                    .push_bind(millis(r.created_at));
            });
            qb.push(" ON CONFLICT (event_id, seat_id) WHERE status IN ('held', 'confirmed') DO NOTHING RETURNING id");
            for row in qb.build().fetch_all(&mut *tx).await? {
                inserted.insert(row.try_get("id")?);
            }
        }

        // A hold that lost any seat keeps nothing: not its other seats, not its booking.
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut undone: Vec<Uuid> = Vec::new();
        for (hold, checked) in batch.iter().zip(checked) {
            let reservations = match checked {
                Ok(reservations) => reservations,
                Err(refusal) => {
                    outcomes.push(HoldOutcome::Failed(refusal));
                    continue;
                }
            };
            let lost: Vec<SeatLabel> =
                reservations.iter().filter(|r| !inserted.contains(&id_text(r.id))).map(|r| r.seat.clone()).collect();
            if lost.is_empty() {
                let created_at = reservations.first().map_or(hold.now, |r| r.created_at);
                outcomes.push(match Booking::from_reservations(hold.request.booking_id, created_at, reservations) {
                    Some(booking) => HoldOutcome::Held(booking),
                    None => HoldOutcome::Failed(StoreError::Internal("a hold without seats".into())),
                });
            } else {
                undone.push(hold.request.booking_id);
                outcomes.push(HoldOutcome::Failed(StoreError::SeatsUnavailable(lost)));
            }
        }
        if !undone.is_empty() {
            sqlx::query(
                "DELETE FROM reservations WHERE booking_id IN (SELECT value FROM json_each(?1)); \
                 DELETE FROM bookings WHERE id IN (SELECT value FROM json_each(?1))",
            )
            .bind(ids_json(&undone))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// The reservations one hold would make, in seat order, or why it cannot be placed at all.
fn reservations_for(
    hold: &PendingHold,
    events: &HashMap<Uuid, BatchEvent>,
    seats: &HashMap<Uuid, BatchSeat>,
    prices: &HashMap<(Uuid, String), i64>,
) -> StoreResult<Vec<Reservation>> {
    let request = &hold.request;
    // Times go back to the caller exactly as they will read later: whole milliseconds.
    let created_at = from_millis(millis(hold.now))?;
    let expires_at = from_millis(millis(hold.now + request.ttl.duration()))?;
    let event = events.get(&request.event_id).ok_or(StoreError::NotFound)?;
    if event.status == EventStatus::Canceled {
        return Err(StoreError::Rejected(Invalid::new("event_id", "this event was canceled")));
    }
    if event.start_time <= hold.now {
        return Err(StoreError::Rejected(Invalid::new("event_id", "this event has already started")));
    }
    let mut wanted = Vec::with_capacity(request.seats.ids().len());
    for id in request.seats.ids() {
        match seats.get(id) {
            Some(seat) if seat.venue_id == event.venue_id => wanted.push((*id, seat)),
            _ => {
                return Err(StoreError::Rejected(Invalid::new(
                    "seat_ids",
                    format!("seat {id} is not in this event's venue"),
                )));
            }
        }
    }
    wanted.sort_by_key(|(_, seat)| (seat.row_index, seat.label.seat_number));
    wanted
        .into_iter()
        .map(|(seat_id, seat)| {
            // Selling an unpriced seat for nothing would be worse than refusing it.
            let price_cents = *prices.get(&(request.event_id, seat.label.tier.clone())).ok_or_else(|| {
                StoreError::Rejected(Invalid::new("seat_ids", format!("seat {seat_id} has no price for this event")))
            })?;
            Ok(Reservation {
                id: Uuid::new_v4(),
                booking_id: request.booking_id,
                user_id: request.user_id,
                event_id: request.event_id,
                seat_id,
                seat: seat.label.clone(),
                price_cents,
                currency: event.currency.clone(),
                status: ReservationStatus::Held.effective(expires_at, created_at),
                expires_at,
                created_at,
            })
        })
        .collect()
}

#[async_trait]
impl HoldStore for SqliteStore {
    async fn hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Booking> {
        match self.holds.hold(request.clone(), now).await {
            HoldOutcome::Held(booking) => Ok(booking),
            HoldOutcome::Failed(err) => Err(err),
            // The batch names the lost seats itself; this is only its fallback.
            HoldOutcome::Refused => Err(StoreError::SeatsUnavailable(Vec::new())),
        }
    }

    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>> {
        let mut conn = self.reader.acquire().await?;
        load_reservation(&mut conn, id, now).await
    }

    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
        let mut conn = self.reader.acquire().await?;
        load_booking(&mut conn, id, now).await
    }

    async fn list_reservations(&self, filter: &ReservationFilter, now: DateTime<Utc>) -> StoreResult<Vec<Reservation>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {RESERVATION_COLUMNS} FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE 1 = 1"
        ));
        if let Some(user_id) = filter.user_id {
            qb.push(" AND r.user_id = ").push_bind(id_text(user_id));
        }
        if let Some(event_id) = filter.event_id {
            qb.push(" AND r.event_id = ").push_bind(id_text(event_id));
        }
        // The filter is on the status a reader sees, so a lapsed hold is `expired`, not `held`.
        match filter.status {
            None => {}
            Some(ReservationStatus::Held) => {
                qb.push(" AND r.status = 'held' AND r.expires_at > ").push_bind(millis(now));
            }
            Some(ReservationStatus::Expired) => {
                qb.push(" AND (r.status = 'expired' OR (r.status = 'held' AND r.expires_at <= ")
                    .push_bind(millis(now))
                    .push("))");
            }
            Some(other) => {
                qb.push(" AND r.status = ").push_bind(other.as_str());
            }
        }
        qb.push(" ORDER BY r.created_at DESC, r.id LIMIT ")
            .push_bind(filter.page.limit)
            .push(" OFFSET ")
            .push_bind(filter.page.offset);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(|row| reservation_from_row(row, now)).collect()
    }

    async fn cancel_reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Cancellation<Reservation>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let (canceled, refunds) = cancel_active(&mut tx, CancelScope::Reservation, &id_text(id), now).await?;
        // Read inside the transaction: the answer matches what was written.
        let reservation = match load_reservation(&mut tx, id, now).await? {
            None => return Err(StoreError::NotFound),
            Some(reservation) if canceled > 0 => reservation,
            Some(reservation) => {
                return Err(StoreError::InvalidState(format!("this reservation is already {}", reservation.status)));
            }
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: reservation, refunds })
    }

    async fn cancel_booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Cancellation<Booking>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let (canceled, refunds) = cancel_active(&mut tx, CancelScope::Booking, &id_text(id), now).await?;
        let booking = match load_booking(&mut tx, id, now).await? {
            None => return Err(StoreError::NotFound),
            Some(booking) if canceled > 0 => booking,
            Some(_) => return Err(StoreError::InvalidState("this booking has no active seats left".into())),
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: booking, refunds })
    }

    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let expired = sqlx::query(
            "UPDATE reservations SET status = 'expired', updated_at = ? WHERE status = 'held' AND expires_at <= ?",
        )
        .bind(millis(now))
        .bind(millis(now))
        .execute(&self.writer)
        .await?;
        Ok(expired.rows_affected())
    }
}

// ---------------------------------------------------------------------------------------------
// Payments.

#[async_trait]
impl PaymentStore for SqliteStore {
    async fn create_payment(&self, new: NewPayment, now: DateTime<Utc>) -> StoreResult<Payment> {
        let now_ms = millis(now);
        let booking_id = id_text(new.booking_id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;

        let booking =
            sqlx::query("SELECT 1 FROM bookings WHERE id = ?").bind(&booking_id).fetch_optional(&mut *tx).await?;
        if booking.is_none() {
            return Err(StoreError::NotFound);
        }

        // Extend the hold first: only a hold still running may be extended, so a lapsed one is
        // not revived here. The `status IN (...)` term repeats the partial index's condition.
        let extended = sqlx::query(
            "UPDATE reservations SET expires_at = MAX(expires_at, ?), updated_at = ? \
             WHERE booking_id = ? AND status IN ('held', 'confirmed') AND status = 'held' AND expires_at > ?",
        )
        .bind(millis(new.hold_until))
        .bind(now_ms)
        .bind(&booking_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if extended == 0 {
            // Nothing held: tell a lapsed hold (the buyer may pick seats again) from a booking
            // that is paid for or canceled.
            let row = sqlx::query(
                "SELECT COALESCE(SUM(status = 'expired' OR (status = 'held' AND expires_at <= ?)), 0) AS lapsed, \
                 COALESCE(SUM(status = 'confirmed'), 0) AS confirmed FROM reservations WHERE booking_id = ?",
            )
            .bind(now_ms)
            .bind(&booking_id)
            .fetch_one(&mut *tx)
            .await?;
            let (lapsed, confirmed): (i64, i64) = (row.try_get("lapsed")?, row.try_get("confirmed")?);
            return Err(if lapsed > 0 && confirmed == 0 {
                StoreError::HoldExpired
            } else {
                StoreError::InvalidState("this booking has no held seats to pay for".into())
            });
        }

        // The amount comes from the prices the seats were held at, never from the caller.
        let row = sqlx::query(
            "SELECT COALESCE(SUM(price_cents), 0) AS amount_cents, MIN(currency) AS currency \
             FROM reservations WHERE booking_id = ? AND status = 'held' AND expires_at > ?",
        )
        .bind(&booking_id)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let amount_cents: i64 = row.try_get("amount_cents")?;
        let currency: Option<String> = row.try_get("currency")?;
        let currency = currency.ok_or_else(|| StoreError::Internal("an extended hold without seats".into()))?;

        // No check for an open payment before this: the unique index alone decides, and its
        // refusal rolls the extension back with the transaction.
        let sql = format!(
            "INSERT INTO payments (id, booking_id, user_id, amount_cents, currency, status, provider, \
             refunded_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?) \
             RETURNING {PAYMENT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(id_text(new.id))
            .bind(&booking_id)
            .bind(id_text(new.user_id))
            .bind(amount_cents)
            .bind(&currency)
            .bind(&new.provider)
            .bind(now_ms)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
        let payment = payment_from_row(&row)?;
        tx.commit().await?;
        Ok(payment)
    }

    async fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = ?");
        let row = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&self.reader).await?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn list_payments(&self, user_id: Option<Uuid>, page: Page) -> StoreResult<Vec<Payment>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {PAYMENT_COLUMNS} FROM payments"));
        if let Some(user_id) = user_id {
            qb.push(" WHERE user_id = ").push_bind(id_text(user_id));
        }
        qb.push(" ORDER BY created_at DESC, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn confirm_payment(
        &self,
        id: Uuid,
        provider_ref: &str,
        card_last4: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        let now_ms = millis(now);
        let payment_id = id_text(id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;

        let sql = format!(
            "UPDATE payments SET status = 'succeeded', provider_ref = ?, card_last4 = ?, updated_at = ? \
             WHERE id = ? AND status = 'pending' RETURNING {PAYMENT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(provider_ref)
            .bind(card_last4)
            .bind(now_ms)
            .bind(&payment_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            let refusal = payment_not_updated(&mut tx, &payment_id).await;
            return Err(refusal);
        };
        let payment = payment_from_row(&row)?;
        let booking_id = id_text(payment.booking_id);

        // A seat canceled since checkout was priced in and would be paid for and never sold: the
        // seats still to confirm must add up to the amount (one canceled before checkout was not
        // priced in). Prices, not clocks, tell them apart. An event canceled while the hold had
        // lapsed left its expired seats as they were, and they must not be sold.
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(SUM(price_cents), 0) FROM reservations \
                     WHERE booking_id = ? AND status IN ('held', 'expired')) AS to_confirm_cents, \
             EXISTS (SELECT 1 FROM bookings b JOIN events e ON e.id = b.event_id \
                     WHERE b.id = ? AND e.status = 'canceled') AS event_canceled",
        )
        .bind(&booking_id)
        .bind(&booking_id)
        .fetch_one(&mut *tx)
        .await?;
        let to_confirm_cents: i64 = row.try_get("to_confirm_cents")?;
        let event_canceled: bool = row.try_get("event_canceled")?;
        let seat_canceled = to_confirm_cents != payment.amount_cents;
        if seat_canceled || event_canceled {
            tx.rollback().await?;
            let what = if seat_canceled { "a seat of this booking" } else { "this event" };
            return Err(StoreError::InvalidState(format!("{what} was canceled")));
        }

        // Someone else's lapsed hold on one of these seats must not block, as in `hold`: write
        // it down as expired so the index judges only holds that still run.
        sqlx::query(
            "UPDATE reservations SET status = 'expired', updated_at = ? \
             WHERE event_id = (SELECT event_id FROM bookings WHERE id = ?) \
               AND seat_id IN (SELECT seat_id FROM reservations WHERE booking_id = ?) AND booking_id <> ? \
               AND status IN ('held', 'confirmed') AND status = 'held' AND expires_at <= ?",
        )
        .bind(now_ms)
        .bind(&booking_id)
        .bind(&booking_id)
        .bind(&booking_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;

        // Lapsed holds are confirmed too when their seat is still free. No availability check
        // before this: the partial unique index alone decides whether someone else has a seat.
        let confirmed = sqlx::query(
            "UPDATE reservations SET status = 'confirmed', updated_at = ? \
             WHERE booking_id = ? AND status IN ('held', 'expired')",
        )
        .bind(now_ms)
        .bind(&booking_id)
        .execute(&mut *tx)
        .await;
        let refusal = match confirmed {
            Ok(done) if done.rows_affected() > 0 => None,
            Ok(_) => Some(StoreError::InvalidState("this booking has no held seats to pay for".into())),
            Err(err) => Some(match StoreError::from(err) {
                StoreError::SeatsUnavailable(_) => StoreError::HoldExpired,
                other => other,
            }),
        };
        if let Some(refusal) = refusal {
            // Nothing stays: the payment remains pending and the other buyer's seat untouched.
            tx.rollback().await?;
            return Err(refusal);
        }
        tx.commit().await?;
        Ok(payment)
    }

    async fn fail_payment(&self, id: Uuid, refunded_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        let payment_id = id_text(id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!(
            "UPDATE payments SET status = 'failed', refunded_cents = ?, updated_at = ? \
             WHERE id = ? AND status = 'pending' RETURNING {PAYMENT_COLUMNS}"
        );
        let row =
            sqlx::query(&sql).bind(refunded_cents).bind(millis(now)).bind(&payment_id).fetch_optional(&mut *tx).await?;
        let Some(row) = row else {
            let refusal = payment_not_updated(&mut tx, &payment_id).await;
            return Err(refusal);
        };
        let payment = payment_from_row(&row)?;
        tx.commit().await?;
        Ok(payment)
    }

    async fn record_refund(&self, id: Uuid, amount_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        let payment_id = id_text(id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // Every expression of SET reads the row as it was, so both see the old refunded_cents.
        let sql = format!(
            "UPDATE payments SET refunded_cents = MIN(amount_cents, refunded_cents + ?), \
             status = CASE WHEN MIN(amount_cents, refunded_cents + ?) = amount_cents \
                      THEN 'refunded' ELSE 'partially_refunded' END, updated_at = ? \
             WHERE id = ? AND status IN ('succeeded', 'partially_refunded') RETURNING {PAYMENT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(amount_cents)
            .bind(amount_cents)
            .bind(millis(now))
            .bind(&payment_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            let refusal = payment_not_updated(&mut tx, &payment_id).await;
            return Err(refusal);
        };
        let payment = payment_from_row(&row)?;
        tx.commit().await?;
        Ok(payment)
    }

    async fn record_webhook_event(&self, event_id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        // One statement: the primary key decides which of two deliveries is the first.
        let inserted =
            sqlx::query("INSERT INTO webhook_events (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING")
                .bind(event_id)
                .bind(millis(now))
                .execute(&self.writer)
                .await?
                .rows_affected();
        Ok(inserted == 1)
    }

    async fn forget_webhook_event(&self, event_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_events WHERE id = ?").bind(event_id).execute(&self.writer).await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency records.

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_idempotency_key(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim> {
        let user_id = id_text(user_id);
        let stale_before = millis(now - chrono::Duration::hours(IDEMPOTENCY_TTL_HOURS));
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND created_at <= ?")
            .bind(&user_id)
            .bind(key)
            .bind(stale_before)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_id, key) DO NOTHING",
        )
        .bind(&user_id)
        .bind(key)
        .bind(request_hash)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok(IdempotencyClaim::Claimed);
        }
        let row = sqlx::query(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE user_id = ? AND key = ?",
        )
        .bind(&user_id)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;

        let stored_hash: String = row.try_get("request_hash")?;
        if stored_hash != request_hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        let Some(status) = row.try_get::<Option<i64>, _>("status_code")? else {
            return Ok(IdempotencyClaim::InFlight);
        };
        let status = u16::try_from(status)
            .map_err(|_| StoreError::Internal(format!("stored status code {status} is invalid")))?;
        let body: Option<String> = row.try_get("response_body")?;
        Ok(IdempotencyClaim::Replay { status, body: body.unwrap_or_default() })
    }

    async fn complete_idempotency_key(&self, user_id: Uuid, key: &str, status: u16, body: &str) -> StoreResult<()> {
        sqlx::query("UPDATE idempotency_keys SET status_code = ?, response_body = ? WHERE user_id = ? AND key = ?")
            .bind(i64::from(status))
            .bind(body)
            .bind(id_text(user_id))
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn release_idempotency_key(&self, user_id: Uuid, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ?")
            .bind(id_text(user_id))
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations/sqlite").run(&self.writer).await.map_err(migrate_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Category, HoldTtl, Role, SeatRow, SeatSelection, VenueKind};

    /// A fresh database file, removed with its WAL files when the test ends.
    struct TestDb {
        store: SqliteStore,
        path: std::path::PathBuf,
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
            }
        }
    }

    async fn test_db() -> TestDb {
        let path = std::env::temp_dir().join(format!("proeventa-sqlite-unit-{}.db", Uuid::new_v4()));
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        store.migrate().await.unwrap();
        TestDb { store, path }
    }

    async fn customer(store: &SqliteStore, email: &str) -> Uuid {
        let user = NewUser {
            email: Email::parse(email).unwrap(),
            name: "Test".into(),
            password_hash: "hash".into(),
            role: Role::Customer,
        };
        store.create_user(user).await.unwrap().id
    }

    /// A one-row venue (A1..A3, tier `standard`) and an event there tomorrow at 1500 cents a seat.
    async fn event_with_seats(store: &SqliteStore) -> (Uuid, Vec<Seat>) {
        let rows = vec![SeatRow { row: "A".into(), seats: 3, tier: "standard".into() }];
        let venue = store.create_venue(NewVenue::parse("Hall", None, VenueKind::Hall, rows).unwrap()).await.unwrap();
        let event = NewEvent {
            venue_id: venue.venue.id,
            name: "Concert".into(),
            category: Category::Concert,
            description: String::new(),
            image_url: None,
            start_time: Utc::now() + chrono::Duration::days(1),
            duration_minutes: Some(90),
            currency: "EUR".into(),
            prices: vec![Price { tier: "standard".into(), price_cents: 1500 }],
        };
        let event = store.create_event(event).await.unwrap();
        (event.id, venue.seats)
    }

    fn request(user_id: Uuid, event_id: Uuid, seats: &[&Seat], ttl: HoldTtl) -> HoldRequest {
        HoldRequest {
            booking_id: Uuid::new_v4(),
            user_id,
            event_id,
            seats: SeatSelection::parse(seats.iter().map(|s| s.id).collect()).unwrap(),
            ttl,
        }
    }

    fn ten_minutes() -> HoldTtl {
        HoldTtl::from_seconds(600).unwrap()
    }

    #[tokio::test]
    async fn a_two_seat_hold_holds_both_seats() {
        let db = test_db().await;
        let store = &db.store;
        let user = customer(store, "ann@example.com").await;
        let (event_id, seats) = event_with_seats(store).await;
        let now = Utc::now();

        let booking = store.hold(&request(user, event_id, &[&seats[1], &seats[0]], ten_minutes()), now).await.unwrap();
        assert_eq!(booking.status, ReservationStatus::Held);
        assert_eq!(booking.total_cents, 3000);
        let numbers: Vec<i32> = booking.reservations.iter().map(|r| r.seat.seat_number).collect();
        assert_eq!(numbers, vec![1, 2]);
        assert_eq!(store.booking(booking.id, now).await.unwrap(), Some(booking));

        let map = store.seat_map(event_id, now).await.unwrap().unwrap();
        let states: Vec<SeatStatus> = map.iter().map(|s| s.status).collect();
        assert_eq!(states, vec![SeatStatus::Held, SeatStatus::Held, SeatStatus::Available]);
        assert_eq!(store.event(event_id, now).await.unwrap().unwrap().seats_available, 1);
    }

    #[tokio::test]
    async fn a_conflicting_hold_names_the_lost_seat_and_leaves_nothing() {
        let db = test_db().await;
        let store = &db.store;
        let (ann, bob) = (customer(store, "ann@example.com").await, customer(store, "bob@example.com").await);
        let (event_id, seats) = event_with_seats(store).await;
        let now = Utc::now();
        store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();

        let losing = request(bob, event_id, &[&seats[1], &seats[2]], ten_minutes());
        match store.hold(&losing, now).await {
            Err(StoreError::SeatsUnavailable(labels)) => {
                assert_eq!(labels.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["A2"]);
            }
            other => panic!("expected SeatsUnavailable, got {other:?}"),
        }
        assert_eq!(store.booking(losing.booking_id, now).await.unwrap(), None);
        let bobs = ReservationFilter { user_id: Some(bob), ..Default::default() };
        assert!(store.list_reservations(&bobs, now).await.unwrap().is_empty());
        let map = store.seat_map(event_id, now).await.unwrap().unwrap();
        assert_eq!(map[2].status, SeatStatus::Available);
    }

    #[tokio::test]
    async fn a_lapsed_hold_reads_expired_and_frees_the_seat() {
        let db = test_db().await;
        let store = &db.store;
        let (ann, bob) = (customer(store, "ann@example.com").await, customer(store, "bob@example.com").await);
        let (event_id, seats) = event_with_seats(store).await;
        let first = store
            .hold(&request(ann, event_id, &[&seats[0]], HoldTtl::from_millis(30).unwrap()), Utc::now())
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;

        let now = Utc::now();
        let lapsed = store.reservation(first.reservations[0].id, now).await.unwrap().unwrap();
        assert_eq!(lapsed.status, ReservationStatus::Expired);
        let expired = ReservationFilter { status: Some(ReservationStatus::Expired), ..Default::default() };
        assert_eq!(store.list_reservations(&expired, now).await.unwrap().len(), 1);
        assert_eq!(store.seat_map(event_id, now).await.unwrap().unwrap()[0].status, SeatStatus::Available);

        let second = store.hold(&request(bob, event_id, &[&seats[0]], ten_minutes()), now).await.unwrap();
        assert_eq!(second.status, ReservationStatus::Held);
        assert_eq!(store.expire_lapsed_holds(now).await.unwrap(), 0, "the hold wrote the lapsed one down");
    }

    #[tokio::test]
    async fn canceling_twice_is_an_invalid_state() {
        let db = test_db().await;
        let store = &db.store;
        let user = customer(store, "ann@example.com").await;
        let (event_id, seats) = event_with_seats(store).await;
        let now = Utc::now();
        let booking = store.hold(&request(user, event_id, &[&seats[0]], ten_minutes()), now).await.unwrap();
        let id = booking.reservations[0].id;

        let canceled = store.cancel_reservation(id, now).await.unwrap();
        assert_eq!(canceled.canceled.status, ReservationStatus::Canceled);
        assert!(canceled.refunds.is_empty(), "a held seat was never paid for");
        match store.cancel_reservation(id, now).await {
            Err(StoreError::InvalidState(detail)) => assert_eq!(detail, "this reservation is already canceled"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        assert!(matches!(store.cancel_booking(booking.id, now).await, Err(StoreError::InvalidState(_))));
        assert!(matches!(store.cancel_reservation(Uuid::new_v4(), now).await, Err(StoreError::NotFound)));
    }

    // -----------------------------------------------------------------------------------------
    // Payments. Times are chosen, not waited for: `now` is a parameter of every store call.

    fn minutes(n: i64) -> chrono::Duration {
        chrono::Duration::minutes(n)
    }

    /// `now` as the store keeps it: whole milliseconds.
    fn ms(at: DateTime<Utc>) -> DateTime<Utc> {
        from_millis(millis(at)).unwrap()
    }

    fn new_payment(booking: &Booking, hold_until: DateTime<Utc>) -> NewPayment {
        NewPayment {
            id: Uuid::new_v4(),
            booking_id: booking.id,
            user_id: booking.user_id,
            provider: "simulated".into(),
            hold_until,
        }
    }

    /// Ann's two-seat booking (A1, A2) held for ten minutes at `now`, checked out with a hold
    /// extended to now + 15 minutes, and paid.
    async fn paid_booking(store: &SqliteStore, now: DateTime<Utc>) -> (Uuid, Vec<Seat>, Booking, Payment) {
        let ann = customer(store, "ann@example.com").await;
        let (event_id, seats) = event_with_seats(store).await;
        let booking = store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(new_payment(&booking, now + minutes(15)), now).await.unwrap();
        let payment = store.confirm_payment(payment.id, "ch_1", "4242", now + minutes(1)).await.unwrap();
        (event_id, seats, booking, payment)
    }

    #[tokio::test]
    async fn checkout_extends_the_hold_and_prices_the_held_seats() {
        let db = test_db().await;
        let store = &db.store;
        let ann = customer(store, "ann@example.com").await;
        let (event_id, seats) = event_with_seats(store).await;
        let now = ms(Utc::now());
        let booking = store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();

        let payment = store.create_payment(new_payment(&booking, now + minutes(15)), now).await.unwrap();
        assert_eq!(payment.status, PaymentStatus::Pending);
        assert_eq!((payment.amount_cents, payment.currency.as_str()), (3000, "EUR"));
        assert_eq!((payment.provider.as_str(), payment.card_last4.as_deref()), ("simulated", None));
        assert_eq!((payment.refunded_cents, payment.booking_id, payment.user_id), (0, booking.id, ann));
        assert_eq!(payment.created_at, now);
        let extended = store.booking(booking.id, now).await.unwrap().unwrap();
        assert_eq!(extended.expires_at, now + minutes(15));
        assert!(extended.reservations.iter().all(|r| r.expires_at == now + minutes(15)));
        // Still held after the original ten minutes.
        assert_eq!(
            store.booking(booking.id, now + minutes(12)).await.unwrap().unwrap().status,
            ReservationStatus::Held
        );

        assert_eq!(store.payment(payment.id).await.unwrap(), Some(payment.clone()));
        assert_eq!(store.list_payments(Some(ann), Page::default()).await.unwrap(), vec![payment.clone()]);
        assert_eq!(store.list_payments(None, Page::default()).await.unwrap(), vec![payment]);
        assert!(store.list_payments(Some(Uuid::new_v4()), Page::default()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_second_checkout_is_refused_and_extends_nothing() {
        let db = test_db().await;
        let store = &db.store;
        let ann = customer(store, "ann@example.com").await;
        let (event_id, seats) = event_with_seats(store).await;
        let now = ms(Utc::now());
        let booking = store.hold(&request(ann, event_id, &[&seats[0]], ten_minutes()), now).await.unwrap();
        let first = store.create_payment(new_payment(&booking, now + minutes(15)), now).await.unwrap();

        match store.create_payment(new_payment(&booking, now + minutes(30)), now + minutes(1)).await {
            Err(StoreError::InvalidState(detail)) => assert_eq!(detail, "this booking already has a payment"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        let booking_now = store.booking(booking.id, now).await.unwrap().unwrap();
        assert_eq!(booking_now.expires_at, now + minutes(15), "the refused checkout's extension was rolled back");

        // A failed payment is closed: the buyer may check out again.
        let failed = store.fail_payment(first.id, 0, now + minutes(2)).await.unwrap();
        assert_eq!(failed.status, PaymentStatus::Failed);
        assert!(matches!(store.fail_payment(first.id, 0, now).await, Err(StoreError::InvalidState(_))));
        let again = store.create_payment(new_payment(&booking, now + minutes(20)), now + minutes(3)).await.unwrap();
        assert_eq!((again.status, again.amount_cents), (PaymentStatus::Pending, 1500));
    }

    #[tokio::test]
    async fn checkout_tells_a_lapsed_hold_from_nothing_held() {
        let db = test_db().await;
        let store = &db.store;
        let ann = customer(store, "ann@example.com").await;
        let (event_id, seats) = event_with_seats(store).await;
        let now = ms(Utc::now());
        let lapsing = store.hold(&request(ann, event_id, &[&seats[0]], ten_minutes()), now).await.unwrap();
        let canceled = store.hold(&request(ann, event_id, &[&seats[1]], ten_minutes()), now).await.unwrap();
        store.cancel_booking(canceled.id, now).await.unwrap();

        let later = now + minutes(11);
        assert!(matches!(
            store.create_payment(new_payment(&lapsing, later + minutes(5)), later).await,
            Err(StoreError::HoldExpired)
        ));
        store.expire_lapsed_holds(later).await.unwrap();
        assert!(matches!(
            store.create_payment(new_payment(&lapsing, later + minutes(5)), later).await,
            Err(StoreError::HoldExpired)
        ));
        assert!(matches!(
            store.create_payment(new_payment(&canceled, now + minutes(5)), now).await,
            Err(StoreError::InvalidState(_))
        ));
        let mut unknown = new_payment(&lapsing, now);
        unknown.booking_id = Uuid::new_v4();
        assert!(matches!(store.create_payment(unknown, now).await, Err(StoreError::NotFound)));
        assert!(store.list_payments(None, Page::default()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn confirm_succeeds_the_payment_and_sells_the_seats() {
        let db = test_db().await;
        let store = &db.store;
        let now = ms(Utc::now());
        let (event_id, _, booking, payment) = paid_booking(store, now).await;
        assert_eq!(payment.status, PaymentStatus::Succeeded);
        assert_eq!(payment.card_last4.as_deref(), Some("4242"));
        assert_eq!(payment.updated_at, now + minutes(1));
        assert_eq!(store.payment(payment.id).await.unwrap(), Some(payment.clone()));

        // Long after the hold would have lapsed, the seats stay sold.
        let later = now + minutes(60);
        for r in &booking.reservations {
            assert_eq!(store.reservation(r.id, later).await.unwrap().unwrap().status, ReservationStatus::Confirmed);
        }
        let map = store.seat_map(event_id, later).await.unwrap().unwrap();
        let states: Vec<SeatStatus> = map.iter().map(|s| s.status).collect();
        assert_eq!(states, vec![SeatStatus::Sold, SeatStatus::Sold, SeatStatus::Available]);

        match store.confirm_payment(payment.id, "ch_2", "0000", later).await {
            Err(StoreError::InvalidState(detail)) => assert_eq!(detail, "this payment is already succeeded"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        assert!(matches!(store.confirm_payment(Uuid::new_v4(), "ch", "4242", later).await, Err(StoreError::NotFound)));
        assert!(matches!(
            store.create_payment(new_payment(&booking, later), later).await,
            Err(StoreError::InvalidState(_))
        ));
    }

    #[tokio::test]
    async fn confirm_after_the_seat_was_taken_changes_nothing() {
        let db = test_db().await;
        let store = &db.store;
        let (ann, bob) = (customer(store, "ann@example.com").await, customer(store, "bob@example.com").await);
        let (event_id, seats) = event_with_seats(store).await;
        let now = ms(Utc::now());
        let anns = store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(new_payment(&anns, now + minutes(15)), now).await.unwrap();

        // Ann's hold lapses; Bob takes one of her seats.
        let later = now + minutes(20);
        let bobs = store.hold(&request(bob, event_id, &[&seats[1]], ten_minutes()), later).await.unwrap();

        assert!(matches!(store.confirm_payment(payment.id, "ch_1", "4242", later).await, Err(StoreError::HoldExpired)));
        assert_eq!(store.payment(payment.id).await.unwrap(), Some(payment), "still pending, untouched");
        assert_eq!(store.booking(bobs.id, later).await.unwrap(), Some(bobs));
        let anns_now = store.booking(anns.id, later).await.unwrap().unwrap();
        assert!(anns_now.reservations.iter().all(|r| r.status == ReservationStatus::Expired));
        let map = store.seat_map(event_id, later).await.unwrap().unwrap();
        let states: Vec<SeatStatus> = map.iter().map(|s| s.status).collect();
        assert_eq!(states, vec![SeatStatus::Available, SeatStatus::Held, SeatStatus::Available]);
    }

    #[tokio::test]
    async fn confirm_after_a_lapse_sells_seats_nobody_took() {
        let db = test_db().await;
        let store = &db.store;
        let (ann, bob) = (customer(store, "ann@example.com").await, customer(store, "bob@example.com").await);
        let (event_id, seats) = event_with_seats(store).await;
        let now = ms(Utc::now());
        let anns = store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(new_payment(&anns, now + minutes(15)), now).await.unwrap();
        // Ann's hold lapses; Bob holds A2 for a minute (writing Ann's A2 down as expired, her A1
        // stays `held` in the table) and lets it lapse too: nobody has the seats any more.
        let one_minute = HoldTtl::from_seconds(60).unwrap();
        let bobs = store.hold(&request(bob, event_id, &[&seats[1]], one_minute), now + minutes(17)).await.unwrap();

        let later = now + minutes(20);
        let confirmed = store.confirm_payment(payment.id, "ch_1", "4242", later).await.unwrap();
        assert_eq!(confirmed.status, PaymentStatus::Succeeded);
        let anns_now = store.booking(anns.id, later).await.unwrap().unwrap();
        assert!(anns_now.reservations.iter().all(|r| r.status == ReservationStatus::Confirmed));
        assert_eq!(anns_now.status, ReservationStatus::Confirmed);
        assert_eq!(store.booking(bobs.id, later).await.unwrap().unwrap().status, ReservationStatus::Expired);
        let map = store.seat_map(event_id, later).await.unwrap().unwrap();
        let states: Vec<SeatStatus> = map.iter().map(|s| s.status).collect();
        assert_eq!(states, vec![SeatStatus::Sold, SeatStatus::Sold, SeatStatus::Available]);
    }

    #[tokio::test]
    async fn confirm_refuses_a_booking_with_a_canceled_seat() {
        let db = test_db().await;
        let store = &db.store;
        let ann = customer(store, "ann@example.com").await;
        let (event_id, seats) = event_with_seats(store).await;
        let now = ms(Utc::now());
        let booking = store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(new_payment(&booking, now + minutes(15)), now).await.unwrap();
        store.cancel_reservation(booking.reservations[0].id, now).await.unwrap();

        match store.confirm_payment(payment.id, "ch_1", "4242", now).await {
            Err(StoreError::InvalidState(detail)) => assert_eq!(detail, "a seat of this booking was canceled"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        assert_eq!(store.payment(payment.id).await.unwrap().unwrap().status, PaymentStatus::Pending);
        let held = store.reservation(booking.reservations[1].id, now).await.unwrap().unwrap();
        assert_eq!(held.status, ReservationStatus::Held);
    }

    #[tokio::test]
    async fn canceling_paid_seats_records_their_refunds() {
        let db = test_db().await;
        let store = &db.store;
        let now = ms(Utc::now());
        let (event_id, _, booking, payment) = paid_booking(store, now).await;
        let later = now + minutes(30);

        let first = store.cancel_reservation(booking.reservations[0].id, later).await.unwrap();
        assert_eq!(first.canceled.status, ReservationStatus::Canceled);
        let refund = Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 1500 };
        assert_eq!(first.refunds, vec![refund.clone()]);
        let partly = store.payment(payment.id).await.unwrap().unwrap();
        assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 1500));
        assert_eq!(partly.updated_at, later);

        // The booking's last paid seat: the whole amount is back.
        let rest = store.cancel_booking(booking.id, later).await.unwrap();
        assert_eq!(rest.canceled.status, ReservationStatus::Canceled);
        assert_eq!(rest.refunds, vec![refund]);
        let refunded = store.payment(payment.id).await.unwrap().unwrap();
        assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::Refunded, 3000));
        let map = store.seat_map(event_id, later).await.unwrap().unwrap();
        assert!(map.iter().all(|s| s.status == SeatStatus::Available));
        assert!(matches!(store.cancel_booking(booking.id, later).await, Err(StoreError::InvalidState(_))));
        assert!(matches!(store.record_refund(payment.id, 1, later).await, Err(StoreError::InvalidState(_))));
    }

    #[tokio::test]
    async fn canceling_an_event_refunds_paid_bookings_only() {
        let db = test_db().await;
        let store = &db.store;
        let now = ms(Utc::now());
        let (event_id, seats, _, payment) = paid_booking(store, now).await;
        let bob = customer(store, "bob@example.com").await;
        let held = store.hold(&request(bob, event_id, &[&seats[2]], ten_minutes()), now).await.unwrap();

        let cancellation = store.cancel_event(event_id, now + minutes(2)).await.unwrap().unwrap();
        assert_eq!(cancellation.canceled.status, EventStatus::Canceled);
        assert_eq!(
            cancellation.refunds,
            vec![Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 3000 }]
        );
        assert_eq!(store.payment(payment.id).await.unwrap().unwrap().status, PaymentStatus::Refunded);
        let bobs = store.booking(held.id, now).await.unwrap().unwrap();
        assert_eq!(bobs.status, ReservationStatus::Canceled);
        assert!(store.cancel_event(Uuid::new_v4(), now).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn refunds_from_the_provider_are_capped_and_webhooks_counted_once() {
        let db = test_db().await;
        let store = &db.store;
        let now = ms(Utc::now());
        let (_, _, booking, payment) = paid_booking(store, now).await;

        let partly = store.record_refund(payment.id, 1000, now).await.unwrap();
        assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 1000));
        // A cancellation after a partial refund pays back only what is left.
        let canceled = store.cancel_booking(booking.id, now).await.unwrap();
        assert_eq!(canceled.refunds.iter().map(|r| r.amount_cents).collect::<Vec<_>>(), vec![2000]);
        let full = store.payment(payment.id).await.unwrap().unwrap();
        assert_eq!((full.status, full.refunded_cents), (PaymentStatus::Refunded, 3000));
        assert!(matches!(store.record_refund(Uuid::new_v4(), 1, now).await, Err(StoreError::NotFound)));
        assert!(matches!(store.fail_payment(payment.id, 0, now).await, Err(StoreError::InvalidState(_))));

        assert!(store.record_webhook_event("evt_1", now).await.unwrap());
        assert!(!store.record_webhook_event("evt_1", now).await.unwrap());
        assert!(store.record_webhook_event("evt_2", now).await.unwrap());
    }

    #[tokio::test]
    async fn a_provider_refund_caps_at_the_amount() {
        let db = test_db().await;
        let store = &db.store;
        let now = ms(Utc::now());
        let (_, _, _, payment) = paid_booking(store, now).await;
        let refunded = store.record_refund(payment.id, 5000, now).await.unwrap();
        assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::Refunded, 3000));
    }
}
