//! The table's items: their keys, how attribute values are read and written, and how each kind of
//! item becomes a domain value. Timestamps are epoch milliseconds (numbers), so conditions compare
//! them; index sort keys carry them zero-padded, so strings sort in time order.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    Booking, Invalid, Payment, PaymentStatus, Reservation, ReservationStatus, Role, Seat, SeatLabel, User, Venue,
    VenueKind,
};
use crate::store::{StoreError, StoreResult};

pub type Item = HashMap<String, AttributeValue>;

/// Seat-state items of one event are spread over this many partitions (by seat id), so an on-sale
/// spike writes to several partitions at once (see `docs/dynamodb.md`). Each event records the
/// count it was created with, so changing this leaves existing events readable.
pub const SEAT_SHARDS: u32 = 4;
/// Held seats are listed for the sweeper under this many index partitions (by reservation id).
pub const HELD_SHARDS: u32 = 16;

// ---------------------------------------------------------------------------------------------
// Keys

pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub fn user_key(id: Uuid) -> Item {
    key(format!("USER#{id}"), "USER")
}

pub fn email_key(email: &str) -> Item {
    key(format!("EMAIL#{email}"), "EMAIL")
}

pub fn venue_key(id: Uuid) -> Item {
    key(format!("VENUE#{id}"), "VENUE")
}

pub fn venue_pk(id: Uuid) -> String {
    format!("VENUE#{id}")
}

/// A venue's seats sort row by row, then by number, under its partition.
pub fn venue_seat_sk(row_index: i64, seat_number: i64) -> String {
    format!("SEAT#{row_index:05}#{seat_number:05}")
}

/// A seat found by its id alone (holds name seats by id).
pub fn seat_key(id: Uuid) -> Item {
    key(format!("SEAT#{id}"), "SEAT")
}

pub fn event_key(id: Uuid) -> Item {
    key(format!("EVENT#{id}"), "EVENT")
}

/// Which seat-state partition of its event a seat lives in.
pub fn seat_shard(seat_id: Uuid, shards: u32) -> u32 {
    (seat_id.as_u128() % u128::from(shards.max(1))) as u32
}

pub fn seat_state_pk(event_id: Uuid, shard: u32) -> String {
    format!("EVENT#{event_id}#SEATS#{shard}")
}

pub fn seat_state_key(event_id: Uuid, seat_id: Uuid, shards: u32) -> Item {
    key(seat_state_pk(event_id, seat_shard(seat_id, shards)), &format!("SEAT#{seat_id}"))
}

/// The gate of a seat-state partition: holds and confirms check it; cancel and reschedule flip it.
pub fn gate_key(event_id: Uuid, shard: u32) -> Item {
    key(seat_state_pk(event_id, shard), "GATE")
}

pub fn held_index_pk(reservation_id: Uuid) -> String {
    format!("HELD#{}", reservation_id.as_u128() % u128::from(HELD_SHARDS))
}

/// A user's hold slots for one event (see `holds::HoldSlots`): the per-user limit of held seats.
pub fn hold_slots_key(event_id: Uuid, user_id: Uuid) -> Item {
    key(format!("EVENT#{event_id}#HOLDER#{user_id}"), "SLOTS")
}

pub fn reservation_key(id: Uuid) -> Item {
    key(format!("RES#{id}"), "RES")
}

pub fn booking_key(id: Uuid) -> Item {
    key(format!("BOOKING#{id}"), "BOOKING")
}

pub fn payment_key(id: Uuid) -> Item {
    key(format!("PAY#{id}"), "PAY")
}

pub fn webhook_key(event_id: &str) -> Item {
    key(format!("WEBHOOK#{event_id}"), "WEBHOOK")
}

pub fn idempotency_key(user_id: Uuid, key_text: &str) -> Item {
    key(format!("IDEM#{user_id}#{key_text}"), "IDEM")
}

/// An index sort key that orders by time (milliseconds, zero-padded), then by `tail`.
pub fn time_key(ms: i64, tail: &str) -> String {
    format!("{:015}#{tail}", ms.max(0))
}

// ---------------------------------------------------------------------------------------------
// Values

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(value: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(value).ok_or_else(|| corrupt("timestamp", &value.to_string()))
}

pub fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("unexpected stored {what}: {value}"))
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(corrupt("item", &format!("no text attribute `{name}`"))),
    }
}

/// Optional text: an absent attribute is the empty string (empty strings are never written).
pub fn text(item: &Item, name: &str) -> String {
    opt_s(item, name).unwrap_or_default()
}

/// The item without its empty text attributes. DynamoDB Local (2020) refuses an empty string in
/// any attribute, and DynamoDB in key attributes; optional text is left out instead and `text`
/// reads it back as empty, as the SQL backends return it.
pub fn without_empty_text(mut item: Item) -> Item {
    item.retain(|_, value| !matches!(value, AttributeValue::S(text) if text.is_empty()));
    item
}

pub fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

pub fn get_n(item: &Item, name: &str) -> StoreResult<i64> {
    opt_n(item, name)?.ok_or_else(|| corrupt("item", &format!("no number attribute `{name}`")))
}

pub fn opt_n(item: &Item, name: &str) -> StoreResult<Option<i64>> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| corrupt(name, value)),
        _ => Ok(None),
    }
}

pub fn get_bool(item: &Item, name: &str) -> StoreResult<bool> {
    match item.get(name) {
        Some(AttributeValue::Bool(value)) => Ok(*value),
        _ => Err(corrupt("item", &format!("no boolean attribute `{name}`"))),
    }
}

pub fn get_uuid(item: &Item, name: &str) -> StoreResult<Uuid> {
    let raw = get_s(item, name)?;
    Uuid::parse_str(raw).map_err(|_| corrupt(name, raw))
}

pub fn get_time(item: &Item, name: &str) -> StoreResult<DateTime<Utc>> {
    from_ms(get_n(item, name)?)
}

pub fn get_i32(item: &Item, name: &str) -> StoreResult<i32> {
    let value = get_n(item, name)?;
    i32::try_from(value).map_err(|_| corrupt(name, &value.to_string()))
}

pub fn get_enum<T: FromStr<Err = Invalid>>(item: &Item, name: &str) -> StoreResult<T> {
    let raw = get_s(item, name)?;
    raw.parse().map_err(|err: Invalid| corrupt(name, &err.to_string()))
}

pub fn is_sk(item: &Item, sk: &str) -> bool {
    matches!(item.get("sk"), Some(AttributeValue::S(value)) if value == sk)
}

pub fn pk_of(item: &Item) -> Option<&str> {
    match item.get("pk") {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Domain values

pub fn user_from(item: &Item) -> StoreResult<User> {
    Ok(User {
        id: get_uuid(item, "id")?,
        email: get_s(item, "email")?.to_owned(),
        name: text(item, "name"),
        role: get_enum::<Role>(item, "role")?,
        disabled: get_bool(item, "disabled")?,
        created_at: get_time(item, "created")?,
        token_version: opt_n(item, "tv")?.unwrap_or(0),
    })
}

pub fn venue_from(item: &Item) -> StoreResult<Venue> {
    Ok(Venue {
        id: get_uuid(item, "id")?,
        name: text(item, "name"),
        location: text(item, "location"),
        kind: get_enum::<VenueKind>(item, "vkind")?,
        seat_count: get_n(item, "seat_count")?,
    })
}

/// A seat as its venue lists it, with its row's position.
pub struct VenueSeat {
    pub seat: Seat,
    pub venue_id: Uuid,
    pub row_index: i64,
}

pub fn venue_seat_from(item: &Item) -> StoreResult<VenueSeat> {
    Ok(VenueSeat {
        seat: Seat {
            id: get_uuid(item, "seat_id")?,
            row: text(item, "row"),
            seat_number: get_i32(item, "num")?,
            tier: text(item, "tier"),
        },
        venue_id: get_uuid(item, "venue_id")?,
        row_index: get_n(item, "ridx")?,
    })
}

/// A reservation item with what sorts it (its seat's row position).
pub struct StoredReservation {
    pub reservation: Reservation,
    pub row_index: i64,
    /// The status as written, before read-time expiry.
    pub stored_status: ReservationStatus,
    pub expires_ms: i64,
    /// The partition of the seat's state item for this event.
    pub spk: Option<String>,
    /// The hold slot of its user it took (none on holds placed before slots existed).
    pub slot: Option<u32>,
}

pub fn reservation_from(item: &Item, now: DateTime<Utc>) -> StoreResult<StoredReservation> {
    let stored_status = get_enum::<ReservationStatus>(item, "st")?;
    let expires_ms = get_n(item, "exp")?;
    let expires_at = from_ms(expires_ms)?;
    Ok(StoredReservation {
        reservation: Reservation {
            id: get_uuid(item, "id")?,
            booking_id: get_uuid(item, "bid")?,
            user_id: get_uuid(item, "uid")?,
            event_id: get_uuid(item, "eid")?,
            seat_id: get_uuid(item, "seat_id")?,
            seat: SeatLabel { row: text(item, "row"), seat_number: get_i32(item, "num")?, tier: text(item, "tier") },
            price_cents: get_n(item, "price")?,
            currency: text(item, "currency"),
            status: stored_status.effective(expires_at, now),
            expires_at,
            created_at: get_time(item, "created")?,
        },
        row_index: get_n(item, "ridx")?,
        stored_status,
        expires_ms,
        spk: opt_s(item, "spk"),
        slot: opt_n(item, "slot")?
            .map(|slot| u32::try_from(slot).map_err(|_| corrupt("slot", &slot.to_string())))
            .transpose()?,
    })
}

/// Reservations newest first, then by booking, then row by row (the order every backend lists in).
pub fn sort_reservations(rows: &mut [StoredReservation]) {
    rows.sort_by(|a, b| {
        let (x, y) = (&a.reservation, &b.reservation);
        y.created_at
            .cmp(&x.created_at)
            .then(x.booking_id.cmp(&y.booking_id))
            .then(a.row_index.cmp(&b.row_index))
            .then(x.seat.seat_number.cmp(&y.seat.seat_number))
    });
}

pub fn booking_from(item: &Item, mut seats: Vec<StoredReservation>) -> StoreResult<Option<Booking>> {
    seats.sort_by(|a, b| {
        a.row_index.cmp(&b.row_index).then(a.reservation.seat.seat_number.cmp(&b.reservation.seat.seat_number))
    });
    let id = get_uuid(item, "id")?;
    let created_at = get_time(item, "created")?;
    Ok(Booking::from_reservations(id, created_at, seats.into_iter().map(|r| r.reservation).collect()))
}

pub fn reservation_ids(item: &Item) -> StoreResult<Vec<Uuid>> {
    match item.get("rids") {
        Some(AttributeValue::L(ids)) => ids
            .iter()
            .map(|id| match id {
                AttributeValue::S(raw) => Uuid::parse_str(raw).map_err(|_| corrupt("reservation id", raw)),
                other => Err(corrupt("reservation id", &format!("{other:?}"))),
            })
            .collect(),
        _ => Err(corrupt("booking", "no reservation ids")),
    }
}

pub fn payment_from(item: &Item) -> StoreResult<Payment> {
    Ok(Payment {
        id: get_uuid(item, "id")?,
        booking_id: get_uuid(item, "bid")?,
        user_id: get_uuid(item, "uid")?,
        amount_cents: get_n(item, "amount")?,
        currency: text(item, "currency"),
        status: get_enum::<PaymentStatus>(item, "st")?,
        provider: text(item, "provider"),
        card_last4: opt_s(item, "last4"),
        refunded_cents: get_n(item, "refunded")?,
        created_at: get_time(item, "created")?,
        updated_at: get_time(item, "updated")?,
    })
}
