//! Values and rows: ids are hyphenated UUID text, times are milliseconds since the epoch. The
//! column lists the queries select, the condition for a reservation that takes its seat, and how
//! each row becomes a domain value.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::domain::{
    Event, Invalid, Payment, Poster, Price, Reservation, ReservationStatus, Seat, SeatAttribute, SeatLabel, Ticket,
    User, Venue, VenueSummary, decode_ticket_types, section_from_stored,
};
use crate::store::{StoreError, StoreResult, stored_admission, stored_queue};

/// A reservation that takes its seat, for a table aliased `r` (one `?`: now in milliseconds).
/// The `status IN (...)` term repeats the partial index's condition so the planner may use it.
pub(super) const ACTIVE_R: &str = "r.status IN ('held', 'confirmed') AND (r.status = 'confirmed' OR r.expires_at > ?)";
/// The same condition inside an `UPDATE reservations` (one `?`: now in milliseconds).
pub(super) const ACTIVE: &str = "(status = 'confirmed' OR (status = 'held' AND expires_at > ?))";

pub(super) const USER_COLUMNS: &str = "id, email, name, role, disabled, created_at, token_version";

/// A reservation with its seat label; the FROM clause aliases them `r` and `s`.
pub(super) const RESERVATION_COLUMNS: &str = "r.id, r.booking_id, r.user_id, r.event_id, r.seat_id, s.section, s.row_label, \
     s.seat_number, s.tier, r.ticket_type, r.price_cents, r.currency, r.status, r.expires_at, r.created_at";

pub(super) const PAYMENT_COLUMNS: &str = "id, booking_id, user_id, amount_cents, currency, status, provider, \
     card_last4, refunded_cents, code_id, code, discount_cents, created_at, updated_at";

/// A ticket as stored: its seat's label, price and currency were copied into it when issued.
pub(super) const TICKET_COLUMNS: &str = "id, reservation_id, booking_id, event_id, user_id, seat_id, section, row_label, \
     seat_number, tier, price_cents, discount_cents, currency, holder_name, status, issued_at, admitted_scan_id, \
     admitted_gate, admitted_at, revoked_at";

pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_millis(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Internal(format!("stored time {ms} is out of range")))
}

pub(super) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Ids as one JSON array of their text, for `IN (SELECT value FROM json_each(?))`: one statement
/// text whatever the count, so it is prepared once.
pub(super) fn ids_json<'a>(ids: impl IntoIterator<Item = &'a Uuid>) -> String {
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

pub(super) fn uuid_col(row: &SqliteRow, col: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(col)?;
    Uuid::parse_str(&text).map_err(|e| StoreError::Internal(format!("column {col}: bad uuid `{text}`: {e}")))
}

pub(super) fn time_col(row: &SqliteRow, col: &str) -> StoreResult<DateTime<Utc>> {
    from_millis(row.try_get(col)?)
}

/// A wire enum stored as its text.
pub(super) fn enum_col<T: FromStr<Err = Invalid>>(row: &SqliteRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e: Invalid| StoreError::Internal(format!("column {col}: {}", e.message)))
}

/// `?, ?, ?` for an `IN (...)` list of `n` values.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A `LIKE` pattern matching `text` anywhere, with its own wildcards taken literally (`ESCAPE '\'`).
/// SQLite's LIKE folds ASCII case only.
pub(super) fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

pub(super) fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: uuid_col(row, "id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: enum_col(row, "role")?,
        disabled: row.try_get("disabled")?,
        created_at: time_col(row, "created_at")?,
        token_version: row.try_get("token_version")?,
    })
}

/// The columns `seat_from_row` reads, of `seats`.
pub(super) const SEAT_COLUMNS: &str = "id, section, row_label, seat_number, tier, x, y, attributes";

pub(super) fn seat_from_row(row: &SqliteRow) -> StoreResult<Seat> {
    Ok(Seat {
        id: uuid_col(row, "id")?,
        section: section_from_stored(row.try_get("section")?),
        row: row.try_get("row_label")?,
        seat_number: row.try_get("seat_number")?,
        tier: row.try_get("tier")?,
        x: row.try_get("x")?,
        y: row.try_get("y")?,
        attributes: SeatAttribute::split(row.try_get("attributes")?),
    })
}

pub(super) fn venue_from_row(row: &SqliteRow) -> StoreResult<Venue> {
    Ok(Venue {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        location: row.try_get("location")?,
        kind: enum_col(row, "kind")?,
        seat_count: row.try_get("seat_count")?,
        time_zone: enum_col(row, "time_zone")?,
    })
}

pub(super) fn label_from_row(row: &SqliteRow) -> StoreResult<SeatLabel> {
    Ok(SeatLabel {
        section: section_from_stored(row.try_get("section")?),
        row: row.try_get("row_label")?,
        seat_number: row.try_get("seat_number")?,
        tier: row.try_get("tier")?,
    })
}

/// A row of `RESERVATION_COLUMNS`, with the status a reader sees at `now`.
pub(super) fn reservation_from_row(row: &SqliteRow, now: DateTime<Utc>) -> StoreResult<Reservation> {
    let expires_at = time_col(row, "expires_at")?;
    let status: ReservationStatus = enum_col(row, "status")?;
    Ok(Reservation {
        id: uuid_col(row, "id")?,
        booking_id: uuid_col(row, "booking_id")?,
        user_id: uuid_col(row, "user_id")?,
        event_id: uuid_col(row, "event_id")?,
        seat_id: uuid_col(row, "seat_id")?,
        seat: label_from_row(row)?,
        ticket_type: row.try_get("ticket_type")?,
        price_cents: row.try_get("price_cents")?,
        currency: row.try_get("currency")?,
        status: status.effective(expires_at, now),
        expires_at,
        created_at: time_col(row, "created_at")?,
    })
}

/// A row of `PAYMENT_COLUMNS`.
pub(super) fn payment_from_row(row: &SqliteRow) -> StoreResult<Payment> {
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
        promo_code: row.try_get("code")?,
        discount_cents: row.try_get("discount_cents")?,
        code_id: row
            .try_get::<Option<String>, _>("code_id")?
            .map(|id| Uuid::parse_str(&id).map_err(|e| StoreError::Internal(format!("payments.code_id: {e}"))))
            .transpose()?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
}

/// A poster from its two stored addresses: both or none.
fn poster_of(small: Option<String>, large: Option<String>) -> Option<Poster> {
    Some(Poster { small: small?, large: large? })
}

/// A row of `push_event_select`, with its prices.
pub(super) fn event_from_row(row: &SqliteRow, prices: Vec<Price>) -> StoreResult<Event> {
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
            time_zone: enum_col(row, "venue_time_zone")?,
        },
        name: row.try_get("name")?,
        category: enum_col(row, "category")?,
        description: row.try_get("description")?,
        image_url: row.try_get("image_url")?,
        poster: poster_of(row.try_get("poster_small")?, row.try_get("poster_large")?),
        start_time: time_col(row, "start_time")?,
        duration_minutes: row.try_get("duration_minutes")?,
        status: enum_col(row, "status")?,
        on_sale_at: optional_time_col(row, "on_sale_at")?,
        queue: stored_queue(
            row.try_get("queue_enabled")?,
            row.try_get("queue_admit_per_minute")?,
            row.try_get("queue_max_active_buyers")?,
            row.try_get("queue_session_minutes")?,
        )?,
        accessible_release_hours: row
            .try_get::<Option<i64>, _>("accessible_release_hours")?
            .map(|hours| {
                u32::try_from(hours).map_err(|_| StoreError::Internal(format!("stored release hours {hours}")))
            })
            .transpose()?,
        currency: row.try_get("currency")?,
        ticket_types: decode_ticket_types(row.try_get::<Option<String>, _>("ticket_types")?.as_deref(), &prices)
            .map_err(StoreError::Internal)?,
        prices,
        seats_total,
        seats_available: (seats_total - seats_taken).max(0),
    })
}

fn optional_uuid_col(row: &SqliteRow, col: &str) -> StoreResult<Option<Uuid>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|text| {
        Uuid::parse_str(&text).map_err(|e| StoreError::Internal(format!("column {col}: bad uuid `{text}`: {e}")))
    })
    .transpose()
}

pub(super) fn optional_time_col(row: &SqliteRow, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
    row.try_get::<Option<i64>, _>(col)?.map(from_millis).transpose()
}

/// A row of `TICKET_COLUMNS`.
pub(super) fn ticket_from_row(row: &SqliteRow) -> StoreResult<Ticket> {
    let gate: Option<String> = row.try_get("admitted_gate")?;
    Ok(Ticket {
        id: uuid_col(row, "id")?,
        booking_id: uuid_col(row, "booking_id")?,
        reservation_id: uuid_col(row, "reservation_id")?,
        event_id: uuid_col(row, "event_id")?,
        user_id: uuid_col(row, "user_id")?,
        seat_id: uuid_col(row, "seat_id")?,
        seat: label_from_row(row)?,
        price_cents: row.try_get("price_cents")?,
        discount_cents: row.try_get("discount_cents")?,
        currency: row.try_get("currency")?,
        holder_name: row.try_get("holder_name")?,
        status: enum_col(row, "status")?,
        issued_at: time_col(row, "issued_at")?,
        admission: stored_admission(
            optional_uuid_col(row, "admitted_scan_id")?,
            gate.as_deref(),
            optional_time_col(row, "admitted_at")?,
        )?,
        revoked_at: optional_time_col(row, "revoked_at")?,
    })
}
