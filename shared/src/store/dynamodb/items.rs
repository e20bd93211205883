//! The table's items: their kinds (the shape of each kind's partition key and which of the store's
//! writes touch it, from which the Lambda functions' IAM policies are checked), their keys, how
//! attribute values are read and written, and how each kind of item becomes a domain value.
//! Timestamps are epoch milliseconds (numbers), so conditions compare them; index sort keys carry
//! them zero-padded, so strings sort in time order.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    Booking, Gate, Invalid, Payment, PaymentStatus, Reservation, ReservationStatus, Role, STANDARD_TICKET_TYPE, Seat,
    SeatAttribute, SeatLabel, Ticket, TicketStatus, TimeZone, User, Venue, VenueKind,
};
use crate::store::{StoreError, StoreResult, Writes, stored_admission, stored_gate};

pub type Item = HashMap<String, AttributeValue>;

/// Seat-state items of one event are spread over this many partitions (by seat id), so an on-sale
/// spike writes to several partitions at once (see `docs/dynamodb.md`). Each event records the
/// count it was created with, so changing this leaves existing events readable.
pub const SEAT_SHARDS: u32 = 4;
/// Held seats are listed for the sweeper under this many index partitions (by reservation id).
pub const HELD_SHARDS: u32 = 16;

// ---------------------------------------------------------------------------------------------
// Kinds of items

/// A kind of item, named by the shape of its partition key, and the store writes that put,
/// update or delete items of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemKind {
    pub name: &'static str,
    /// The partition key with a `*` for each part its key builder fills in (an id, a shard): the
    /// very pattern IAM's `dynamodb:LeadingKeys` condition matches with `StringLike`.
    pub pattern: &'static str,
    pub written_by: &'static [Writes],
}

impl ItemKind {
    /// The partition key of one item: the pattern with each `*` replaced by the next part.
    pub fn pk(&self, parts: &[&dyn fmt::Display]) -> String {
        debug_assert_eq!(parts.len(), self.pattern.matches('*').count(), "{}: one part per `*`", self.name);
        let mut pk = String::with_capacity(self.pattern.len() + 40 * parts.len());
        for (i, literal) in self.pattern.split('*').enumerate() {
            if let Some(part) = i.checked_sub(1).and_then(|i| parts.get(i)) {
                let _ = write!(pk, "{part}");
            }
            pk.push_str(literal);
        }
        pk
    }

    /// Whether `pk` has this kind's shape, as IAM's `StringLike` decides it: `*` matches any run
    /// of characters, `#` included.
    pub fn matches(&self, pk: &str) -> bool {
        string_like(self.pattern, pk)
    }

    /// Whether any of `writes` writes items of this kind.
    pub fn is_written_by(&self, writes: &[Writes]) -> bool {
        self.written_by.iter().any(|w| writes.contains(w))
    }
}

/// One line per kind of item: its name, the shape of its partition key, and which of the store's
/// writes (`Writes`) touch it; the key builders below fill these shapes in. A new kind is one more
/// line here (the Lambda policy test then names every function whose policy must let it write it).
macro_rules! item_kinds {
    ($($(#[$doc:meta])* $name:ident = $pattern:literal by [$($writes:ident),*];)*) => {
        $($(#[$doc])* pub const $name: ItemKind =
            ItemKind { name: stringify!($name), pattern: $pattern, written_by: &[$(Writes::$writes),*] };)*
        /// Every kind of item the table holds.
        pub const ITEM_KINDS: &[ItemKind] = &[$($name),*];
    };
}

item_kinds! {
    /// An account.
    USER = "USER#*" by [Accounts];
    /// An e-mail address taken by an account (the unique index of e-mails).
    EMAIL = "EMAIL#*" by [Accounts];
    /// A venue, with its seats listed row by row under the same partition.
    VENUE = "VENUE#*" by [Catalog];
    /// A seat found by its id alone.
    SEAT = "SEAT#*" by [Catalog];
    /// An event.
    EVENT = "EVENT#*" by [Catalog];
    /// One partition of an event's seat states with its gate (event id, shard): holds, confirms,
    /// cancels and the sweeper write seat states; creating, rescheduling and canceling the event
    /// write the gates (and a canceled event's seat states).
    SEAT_STATE = "EVENT#*#SEATS#*" by [Catalog, Holds, HoldSweeper, Payments];
    /// A reservation (one seat of a booking).
    RESERVATION = "RES#*" by [Catalog, Holds, HoldSweeper, Payments];
    /// A booking; checkout and a failed payment set and clear its open payment. The sweep writes
    /// the bookings of the waiting-list offers it makes.
    BOOKING = "BOOKING#*" by [Holds, HoldSweeper, Payments];
    /// A payment; cancels (of seats, of an event) record their refunds on it.
    PAYMENT = "PAY#*" by [Catalog, Holds, Payments];
    /// A provider's webhook event, seen once.
    WEBHOOK = "WEBHOOK#*" by [Payments];
    /// An answer kept for an `Idempotency-Key` (user id, key).
    IDEMPOTENCY = "IDEM#*#*" by [Idempotency];
    /// A user's hold slots for one event (event id, user id): holds take them, checkout moves them
    /// along with the hold it extends.
    HOLD_SLOTS = "EVENT#*#HOLDER#*" by [Holds, Payments];
    /// A rate limit's attempt counter (limit and subject).
    LIMIT = "LIMIT#*" by [Limits];
    /// A password reset, by the SHA-256 digest of its token (never the token): issued and
    /// consumed by the account's own function.
    PASSWORD_RESET = "RESET#*" by [Accounts];
    /// A paid seat's ticket: issued by the payment's confirm, revoked by the cancel of its seat,
    /// booking (`Holds`) or event (`Catalog`), admitted at the door (`CheckIn`).
    TICKET = "TICKET#*" by [Payments, Holds, Catalog, CheckIn];
    /// A message in the outbox: written by the change it reports (signup, a password reset, confirm, a failed
    /// payment's refund, cancels, an event moved, a waiting list's offer, which the sweep writes
    /// too), claimed and settled by the sender, resent by
    /// admins (`Messages`). The mail job's stream filter matches this prefix.
    MESSAGE = "MSG#*" by [Accounts, Payments, Holds, HoldSweeper, Catalog, Messages];
    /// An event's waiting room (event id): its state (`STATE`: drawn, the position counter, the
    /// admission frontier, the active buyers' counter, the pace's clock), one place per account
    /// (`USER#`), one item per position given out (`POS#`, the referee of positions) and one
    /// per active buyer (`ACTIVE#`, for the session ends).
    QUEUE = "QUEUE#*" by [Queue, QueueFinish];
    /// The events that have a waiting room, for the pace task (one item per event).
    QUEUES = "QUEUES" by [Queue];
    /// An event's waiting list (event id): one entry per account (`USER#`) and the counter that
    /// orders them (`SEQ`). Joined and left by the account (`Waitlist`); offers are written by the
    /// cancels and the sweep that free the seats (`Holds`, `HoldSweeper`).
    WAITLIST = "WAITLIST#*" by [Waitlist, Holds, HoldSweeper];
    /// An audit log entry (issue 21), one partition per entity kind: written by the admin change it
    /// records, in that change's transaction (`audit.rs`); an admin's cancel (`Holds`, `Catalog`)
    /// writes its refunds' entries as `Audit`.
    AUDIT = "AUDIT#*" by [Audit];
    /// An outgoing webhook's endpoint: registered and deleted by admins.
    HOOK = "HOOK#*" by [Webhooks];
    /// A promo or access code (`CODE`) and, under the same partition, each account's count of its
    /// uses (`USER#<id>`): written by admins (`Codes`), counted by confirms (`Payments`).
    CODE = "CODE#*" by [Codes, Payments];
    /// A live code's name (upper-cased), naming its code: the unique index of names.
    CODE_NAME = "CODENAME#*" by [Codes];
    /// An outgoing webhook event: written by the change it reports (confirm, a failed payment's
    /// refund, cancels, an event canceled, a ticket admitted), taken out of the fan-out's index
    /// by the delivery job once fanned out.
    HOOK_EVENT = "HOOKEVENT#*" by [Payments, Holds, Catalog, CheckIn, WebhookDeliveries];
    /// One delivery of an event to an endpoint: fanned out, claimed and settled by the delivery
    /// job, replayed by admins.
    HOOK_DELIVERY = "HOOKDLV#*" by [Webhooks, WebhookDeliveries];
}

/// The kind of item a partition key belongs to: the most specific kind whose shape it has (an
/// event's seat-state partition has an event's shape too).
pub fn kind_of(pk: &str) -> Option<&'static ItemKind> {
    ITEM_KINDS.iter().filter(|kind| kind.matches(pk)).max_by_key(|kind| kind.pattern.replace('*', "").len())
}

/// IAM's `StringLike`, for the `*` wildcard: whether `text` matches `pattern`.
pub fn string_like(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

// ---------------------------------------------------------------------------------------------
// Keys

pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub fn user_key(id: Uuid) -> Item {
    key(USER.pk(&[&id]), "USER")
}

pub fn email_key(email: &str) -> Item {
    key(EMAIL.pk(&[&email]), "EMAIL")
}

pub fn venue_key(id: Uuid) -> Item {
    key(venue_pk(id), "VENUE")
}

pub fn venue_pk(id: Uuid) -> String {
    VENUE.pk(&[&id])
}

/// A venue's seats sort row by row, then by number, under its partition.
pub fn venue_seat_sk(row_index: i64, seat_number: i64) -> String {
    format!("SEAT#{row_index:05}#{seat_number:05}")
}

/// A seat found by its id alone (holds name seats by id).
pub fn seat_key(id: Uuid) -> Item {
    key(SEAT.pk(&[&id]), "SEAT")
}

pub fn event_key(id: Uuid) -> Item {
    key(EVENT.pk(&[&id]), "EVENT")
}

/// Which seat-state partition of its event a seat lives in.
pub fn seat_shard(seat_id: Uuid, shards: u32) -> u32 {
    (seat_id.as_u128() % u128::from(shards.max(1))) as u32
}

pub fn seat_state_pk(event_id: Uuid, shard: u32) -> String {
    SEAT_STATE.pk(&[&event_id, &shard])
}

pub fn seat_state_key(event_id: Uuid, seat_id: Uuid, shards: u32) -> Item {
    key(seat_state_pk(event_id, seat_shard(seat_id, shards)), &format!("SEAT#{seat_id}"))
}

pub fn queue_pk(event_id: Uuid) -> String {
    QUEUE.pk(&[&event_id])
}

pub fn queue_state_key(event_id: Uuid) -> Item {
    key(queue_pk(event_id), "STATE")
}

pub fn queue_place_key(event_id: Uuid, user_id: Uuid) -> Item {
    key(queue_pk(event_id), &format!("USER#{user_id}"))
}

/// Positions sort in order under the queue's partition.
pub fn queue_position_key(event_id: Uuid, position: i64) -> Item {
    key(queue_pk(event_id), &format!("POS#{position:012}"))
}

pub fn queue_active_key(event_id: Uuid, user_id: Uuid) -> Item {
    key(queue_pk(event_id), &format!("ACTIVE#{user_id}"))
}

pub fn waitlist_pk(event_id: Uuid) -> String {
    WAITLIST.pk(&[&event_id])
}

/// An account's entry on an event's waiting list.
pub fn waitlist_entry_key(event_id: Uuid, user_id: Uuid) -> Item {
    key(waitlist_pk(event_id), &format!("USER#{user_id}"))
}

/// The counter that gives an event's waiting-list entries their order.
pub fn waitlist_seq_key(event_id: Uuid) -> Item {
    key(waitlist_pk(event_id), "SEQ")
}

pub fn queues_key(event_id: Uuid) -> Item {
    key(QUEUES.pk(&[]), &event_id.to_string())
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
    key(RESERVATION.pk(&[&id]), "RES")
}

pub fn booking_key(id: Uuid) -> Item {
    key(BOOKING.pk(&[&id]), "BOOKING")
}

pub fn payment_key(id: Uuid) -> Item {
    key(PAYMENT.pk(&[&id]), "PAY")
}

pub fn webhook_key(event_id: &str) -> Item {
    key(WEBHOOK.pk(&[&event_id]), "WEBHOOK")
}

pub fn idempotency_key(user_id: Uuid, key_text: &str) -> Item {
    key(IDEMPOTENCY.pk(&[&user_id, &key_text]), "IDEM")
}

/// A rate limit's attempt counter (see `LimitStore`), one item per key.
pub fn limit_key(key_text: &str) -> Item {
    key(format!("LIMIT#{key_text}"), "LIMIT")
}

/// A password reset by its token's digest.
pub fn password_reset_key(digest: &str) -> Item {
    key(PASSWORD_RESET.pk(&[&digest]), "RESET")
}

pub fn ticket_key(id: Uuid) -> Item {
    key(TICKET.pk(&[&id]), "TICKET")
}

pub fn message_key(id: Uuid) -> Item {
    key(MESSAGE.pk(&[&id]), "MSG")
}

/// The index partition (`gsi1`) of a user's tickets, sorted by issue time.
pub fn user_tickets_pk(user_id: Uuid) -> String {
    format!("USER#{user_id}#TICKET")
}

/// The index partition (`gsi2`) of an event's tickets, sorted by booking, then seat.
pub fn event_tickets_pk(event_id: Uuid) -> String {
    format!("EVENT#{event_id}#TICKET")
}

/// Where a ticket sorts among its event's (`gsi2sk`): its booking's tickets are one key prefix
/// (`<booking>#`), in seat order.
pub fn ticket_seat_order(booking_id: Uuid, row_index: i64, seat_number: i32) -> String {
    format!("{booking_id}#{row_index:05}#{seat_number:05}")
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
        time_zone: venue_time_zone(item)?,
    })
}

/// A venue item's time zone (`tz`); one written before venues had a zone has none and is UTC,
/// as the SQL backends' migration makes their older venues.
pub fn venue_time_zone(item: &Item) -> StoreResult<TimeZone> {
    match item.get("tz") {
        None => Ok(TimeZone::default()),
        Some(_) => get_enum::<TimeZone>(item, "tz"),
    }
}

/// A seat as its venue lists it, with its row's position.
pub struct VenueSeat {
    pub seat: Seat,
    pub venue_id: Uuid,
    pub row_index: i64,
}

/// A seat's label as a seat, reservation or ticket item keeps it (`sect` only in a venue of sections).
fn label_from(item: &Item) -> StoreResult<SeatLabel> {
    Ok(SeatLabel {
        section: opt_s(item, "sect"),
        row: text(item, "row"),
        seat_number: get_i32(item, "num")?,
        tier: text(item, "tier"),
    })
}

/// A seat's position (`x`, `y`) and attributes (`attrs`, a string list) as its items keep them
/// (absent in a venue of plain rows), beside `sect` and the label.
pub fn seat_layout_attributes(seat: &Seat) -> Vec<(String, AttributeValue)> {
    let mut attributes = Vec::new();
    if let Some(section) = &seat.section {
        attributes.push(("sect".to_owned(), s(section)));
    }
    if let (Some(x), Some(y)) = (seat.x, seat.y) {
        attributes.push(("x".to_owned(), AttributeValue::N(x.to_string())));
        attributes.push(("y".to_owned(), AttributeValue::N(y.to_string())));
    }
    if !seat.attributes.is_empty() {
        attributes.push(("attrs".to_owned(), s(SeatAttribute::join(&seat.attributes))));
    }
    attributes
}

/// A number attribute read as a float, when present.
fn opt_f64(item: &Item, name: &str) -> StoreResult<Option<f64>> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(raw)) => raw.parse().map(Some).map_err(|_| corrupt(name, raw)),
        Some(_) => Err(corrupt(name, "not a number")),
    }
}

pub fn venue_seat_from(item: &Item) -> StoreResult<VenueSeat> {
    Ok(VenueSeat {
        seat: Seat {
            id: get_uuid(item, "seat_id")?,
            section: opt_s(item, "sect"),
            row: text(item, "row"),
            seat_number: get_i32(item, "num")?,
            tier: text(item, "tier"),
            x: opt_f64(item, "x")?,
            y: opt_f64(item, "y")?,
            attributes: opt_s(item, "attrs").map(|a| SeatAttribute::split(&a)).unwrap_or_default(),
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
    /// The ticket its confirm issued (none until it is confirmed).
    pub ticket_id: Option<Uuid>,
    /// Its share of its checkout's code discount (`disc`; 0 without a code): what was paid for it
    /// is its price less this.
    pub discount_cents: i64,
}

impl StoredReservation {
    /// What was (or is to be) paid for the seat: its price less its share of a code's discount.
    pub fn paid_cents(&self) -> i64 {
        self.reservation.price_cents - self.discount_cents
    }
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
            seat: label_from(item)?,
            // Reservations made before ticket types existed are `standard`.
            ticket_type: opt_s(item, "ttype").unwrap_or_else(|| STANDARD_TICKET_TYPE.to_owned()),
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
        ticket_id: opt_s(item, "tid")
            .map(|raw| Uuid::parse_str(&raw).map_err(|_| corrupt("ticket id", &raw)))
            .transpose()?,
        discount_cents: opt_n(item, "disc")?.unwrap_or(0),
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
        promo_code: opt_s(item, "code"),
        discount_cents: opt_n(item, "discount")?.unwrap_or(0),
        code_id: opt_s(item, "code_id")
            .map(|raw| Uuid::parse_str(&raw).map_err(|_| corrupt("code id", &raw)))
            .transpose()?,
        created_at: get_time(item, "created")?,
        updated_at: get_time(item, "updated")?,
    })
}

/// A ticket item with what sorts it (its seat's row position).
pub struct StoredTicket {
    pub ticket: Ticket,
    pub row_index: i64,
}

pub fn ticket_from(item: &Item) -> StoreResult<StoredTicket> {
    let scan_id = opt_s(item, "scan").map(|raw| Uuid::parse_str(&raw).map_err(|_| corrupt("scan id", &raw)));
    let admission = stored_admission(
        scan_id.transpose()?,
        opt_s(item, "gate").as_deref(),
        opt_n(item, "admitted")?.map(from_ms).transpose()?,
    )?;
    Ok(StoredTicket {
        ticket: Ticket {
            id: get_uuid(item, "id")?,
            booking_id: get_uuid(item, "bid")?,
            reservation_id: get_uuid(item, "rid")?,
            event_id: get_uuid(item, "eid")?,
            user_id: get_uuid(item, "uid")?,
            seat_id: get_uuid(item, "seat_id")?,
            seat: label_from(item)?,
            price_cents: get_n(item, "price")?,
            // Tickets issued without a code's discount (or before discounts) have none.
            discount_cents: opt_n(item, "disc")?.unwrap_or(0),
            currency: text(item, "currency"),
            holder_name: text(item, "holder"),
            status: get_enum::<TicketStatus>(item, "st")?,
            issued_at: get_time(item, "issued")?,
            admission,
            revoked_at: opt_n(item, "revoked")?.map(from_ms).transpose()?,
        },
        row_index: get_n(item, "ridx")?,
    })
}

/// The gate that admitted a ticket, when one did.
pub fn admitting_gate(item: &Item) -> StoreResult<Option<Gate>> {
    opt_s(item, "gate").as_deref().map(stored_gate).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(item: &Item) -> &str {
        pk_of(item).expect("a pk")
    }

    #[test]
    fn every_key_builder_makes_a_partition_key_of_its_own_kind() {
        let id = Uuid::new_v4();
        let cases: [(String, &ItemKind); 19] = [
            (pk(&user_key(id)).to_owned(), &USER),
            (pk(&email_key("ana@example.com")).to_owned(), &EMAIL),
            (venue_pk(id), &VENUE),
            (pk(&seat_key(id)).to_owned(), &SEAT),
            (pk(&event_key(id)).to_owned(), &EVENT),
            (seat_state_pk(id, 3), &SEAT_STATE),
            (pk(&gate_key(id, 0)).to_owned(), &SEAT_STATE),
            (pk(&reservation_key(id)).to_owned(), &RESERVATION),
            (pk(&booking_key(id)).to_owned(), &BOOKING),
            (pk(&payment_key(id)).to_owned(), &PAYMENT),
            (pk(&webhook_key("evt_1")).to_owned(), &WEBHOOK),
            (pk(&idempotency_key(id, "k#1")).to_owned(), &IDEMPOTENCY),
            (pk(&hold_slots_key(id, id)).to_owned(), &HOLD_SLOTS),
            (pk(&ticket_key(id)).to_owned(), &TICKET),
            (pk(&message_key(id)).to_owned(), &MESSAGE),
            (pk(&queue_state_key(id)).to_owned(), &QUEUE),
            (pk(&queue_position_key(id, 7)).to_owned(), &QUEUE),
            (pk(&queue_active_key(id, id)).to_owned(), &QUEUE),
            (pk(&queues_key(id)).to_owned(), &QUEUES),
        ];
        for (pk, kind) in cases {
            assert_eq!(kind_of(&pk).map(|k| k.name), Some(kind.name), "{pk}");
        }
        // The shapes are the ones the stored data has always had.
        assert_eq!(seat_state_pk(id, 3), format!("EVENT#{id}#SEATS#3"));
        assert_eq!(pk(&idempotency_key(id, "k#1")), format!("IDEM#{id}#k#1"));
        assert_eq!(pk(&email_key("ana@example.com")), "EMAIL#ana@example.com");
        assert_eq!(pk(&message_key(id)), format!("MSG#{id}"), "the mail job's stream filter matches `MSG#`");
    }

    #[test]
    fn string_like_matches_as_iam_does() {
        assert!(string_like("USER#*", "USER#1"));
        assert!(string_like("USER#*", "USER#"));
        assert!(!string_like("USER#*", "USERS#1"));
        assert!(string_like("EVENT#*#SEATS#*", "EVENT#e#SEATS#0"));
        assert!(!string_like("EVENT#*#SEATS#*", "EVENT#e"));
        assert!(string_like("EVENT#*", "EVENT#e#SEATS#0"), "`*` takes `#` too, as in IAM");
        assert!(string_like("A*B*B", "AxBxBxB"));
        assert!(!string_like("A*BB", "AB"));
        assert!(string_like("exact", "exact") && !string_like("exact", "exactly"));
        assert_eq!(kind_of("HELD#3"), None, "an index partition, no item's");
    }
}
