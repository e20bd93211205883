//! Rows and their mapping to domain types. Wire enums are stored as their wire text; text that
//! no longer parses means the database holds something this code never wrote: an internal error.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::{
    Category, Event, EventStatus, Invalid, Payment, PaymentStatus, Poster, Price, Reservation, ReservationStatus, Role,
    Seat, SeatAttribute, SeatLabel, SeatState, SeatStatus, Ticket, TicketStatus, TimeZone, User, Venue, VenueKind,
    VenueSummary, decode_ticket_types, section_from_stored,
};
use crate::store::{StoreError, StoreResult, stored_admission, stored_queue};

pub(super) fn parse_stored<T: FromStr<Err = Invalid>>(raw: &str) -> StoreResult<T> {
    raw.parse().map_err(|err: Invalid| StoreError::Internal(format!("unexpected stored value: {err}")))
}

/// `%text%` for `ILIKE … ESCAPE '\'`, with the caller's own wildcards taken literally.
pub(super) fn contains_pattern(text: &str) -> String {
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

macro_rules! user_columns {
    () => {
        "id, email, name, role, disabled, created_at, token_version"
    };
}
pub(super) use user_columns;

#[derive(FromRow)]
pub(super) struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    disabled: bool,
    created_at: DateTime<Utc>,
    token_version: i64,
}

impl UserRow {
    pub(super) fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: self.id,
            email: self.email,
            name: self.name,
            role: parse_stored::<Role>(&self.role)?,
            disabled: self.disabled,
            created_at: self.created_at,
            token_version: self.token_version,
        })
    }
}

#[derive(FromRow)]
pub(super) struct UserWithHashRow {
    #[sqlx(flatten)]
    pub(super) user: UserRow,
    pub(super) password_hash: String,
}

macro_rules! venue_columns {
    () => {
        "v.id, v.name, v.location, v.kind, v.time_zone, \
         (SELECT count(*) FROM seats s WHERE s.venue_id = v.id) AS seat_count"
    };
}
pub(super) use venue_columns;

#[derive(FromRow)]
pub(super) struct VenueRow {
    id: Uuid,
    name: String,
    location: String,
    kind: String,
    time_zone: String,
    seat_count: i64,
}

impl VenueRow {
    pub(super) fn into_venue(self) -> StoreResult<Venue> {
        Ok(Venue {
            id: self.id,
            name: self.name,
            location: self.location,
            kind: parse_stored::<VenueKind>(&self.kind)?,
            seat_count: self.seat_count,
            time_zone: parse_stored::<TimeZone>(&self.time_zone)?,
        })
    }
}

#[derive(FromRow)]
pub(super) struct SeatRow {
    id: Uuid,
    section: String,
    row_label: String,
    seat_number: i32,
    tier: String,
    x: Option<f64>,
    y: Option<f64>,
    attributes: String,
}

impl SeatRow {
    pub(super) fn into_seat(self) -> Seat {
        Seat {
            id: self.id,
            section: section_from_stored(self.section),
            row: self.row_label,
            seat_number: self.seat_number,
            tier: self.tier,
            x: self.x,
            y: self.y,
            attributes: SeatAttribute::split(&self.attributes),
        }
    }
}

#[derive(FromRow)]
pub(super) struct EventRow {
    id: Uuid,
    venue_id: Uuid,
    venue_name: String,
    venue_location: String,
    venue_kind: String,
    venue_time_zone: String,
    name: String,
    category: String,
    description: String,
    image_url: Option<String>,
    poster_small: Option<String>,
    poster_large: Option<String>,
    start_time: DateTime<Utc>,
    duration_minutes: Option<i32>,
    status: String,
    on_sale_at: Option<DateTime<Utc>>,
    queue_enabled: Option<bool>,
    queue_admit_per_minute: Option<i32>,
    queue_max_active_buyers: Option<i32>,
    queue_session_minutes: Option<i32>,
    accessible_release_hours: Option<i32>,
    currency: String,
    price_tiers: Vec<String>,
    price_amounts: Vec<i64>,
    ticket_types: Option<String>,
    seats_total: i64,
    seats_taken: i64,
}

impl EventRow {
    pub(super) fn into_event(self) -> StoreResult<Event> {
        let prices = self
            .price_tiers
            .into_iter()
            .zip(self.price_amounts)
            .map(|(tier, price_cents)| Price { tier, price_cents })
            .collect::<Vec<_>>();
        let ticket_types = decode_ticket_types(self.ticket_types.as_deref(), &prices).map_err(StoreError::Internal)?;
        Ok(Event {
            id: self.id,
            venue_id: self.venue_id,
            venue: VenueSummary {
                id: self.venue_id,
                name: self.venue_name,
                location: self.venue_location,
                kind: parse_stored::<VenueKind>(&self.venue_kind)?,
                time_zone: parse_stored::<TimeZone>(&self.venue_time_zone)?,
            },
            name: self.name,
            category: parse_stored::<Category>(&self.category)?,
            description: self.description,
            image_url: self.image_url,
            poster: self.poster_small.zip(self.poster_large).map(|(small, large)| Poster { small, large }),
            start_time: self.start_time,
            duration_minutes: self.duration_minutes,
            status: parse_stored::<EventStatus>(&self.status)?,
            on_sale_at: self.on_sale_at,
            queue: stored_queue(
                self.queue_enabled,
                self.queue_admit_per_minute.map(i64::from),
                self.queue_max_active_buyers.map(i64::from),
                self.queue_session_minutes.map(i64::from),
            )?,
            accessible_release_hours: self
                .accessible_release_hours
                .map(|hours| {
                    u32::try_from(hours).map_err(|_| StoreError::Internal(format!("stored release hours {hours}")))
                })
                .transpose()?,
            currency: self.currency,
            prices,
            ticket_types,
            seats_total: self.seats_total,
            seats_available: (self.seats_total - self.seats_taken).max(0),
        })
    }
}

/// The columns of `ReservationRow`, from `reservations r` joined to `seats s`.
macro_rules! reservation_columns {
    () => {
        "r.id, r.booking_id, r.user_id, r.event_id, r.seat_id, s.section, s.row_label, s.seat_number, s.tier, \
         r.ticket_type, r.price_cents, r.currency, r.status, r.expires_at, r.created_at"
    };
}
pub(super) use reservation_columns;

#[derive(FromRow)]
pub(super) struct ReservationRow {
    id: Uuid,
    booking_id: Uuid,
    user_id: Uuid,
    event_id: Uuid,
    seat_id: Uuid,
    section: String,
    row_label: String,
    seat_number: i32,
    tier: String,
    ticket_type: String,
    price_cents: i64,
    currency: String,
    status: String,
    expires_at: DateTime<Utc>,
    pub(super) created_at: DateTime<Utc>,
}

impl ReservationRow {
    /// The reservation as a reader sees it at `now`: a lapsed hold is `expired`.
    pub(super) fn into_reservation(self, now: DateTime<Utc>) -> StoreResult<Reservation> {
        let status = parse_stored::<ReservationStatus>(&self.status)?.effective(self.expires_at, now);
        Ok(Reservation {
            id: self.id,
            booking_id: self.booking_id,
            user_id: self.user_id,
            event_id: self.event_id,
            seat_id: self.seat_id,
            seat: SeatLabel {
                section: section_from_stored(self.section),
                row: self.row_label,
                seat_number: self.seat_number,
                tier: self.tier,
            },
            ticket_type: self.ticket_type,
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
        "id, booking_id, user_id, amount_cents, currency, status, provider, card_last4, refunded_cents, code_id, code, \
         discount_cents, created_at, updated_at"
    };
}
pub(super) use payment_columns;

#[derive(FromRow)]
pub(super) struct PaymentRow {
    id: Uuid,
    booking_id: Uuid,
    user_id: Uuid,
    amount_cents: i64,
    currency: String,
    status: String,
    provider: String,
    card_last4: Option<String>,
    refunded_cents: i64,
    code_id: Option<Uuid>,
    code: Option<String>,
    discount_cents: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PaymentRow {
    pub(super) fn into_payment(self) -> StoreResult<Payment> {
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
            promo_code: self.code,
            discount_cents: self.discount_cents,
            code_id: self.code_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct BookingSeatRow {
    pub(super) booking_created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub(super) reservation: ReservationRow,
}

/// Seat labels from `(section, row_label, seat_number, tier)` rows.
pub(super) fn labels(rows: Vec<(String, String, i32, String)>) -> Vec<SeatLabel> {
    rows.into_iter()
        .map(|(section, row, seat_number, tier)| SeatLabel {
            section: section_from_stored(section),
            row,
            seat_number,
            tier,
        })
        .collect()
}

#[derive(FromRow)]
pub(super) struct SeatMapRow {
    pub(super) seat_id: Uuid,
    section: String,
    row_label: String,
    seat_number: i32,
    tier: String,
    x: Option<f64>,
    y: Option<f64>,
    attributes: String,
    price_cents: i64,
    pub(super) reservation_status: Option<String>,
    pub(super) expires_at: Option<DateTime<Utc>>,
}

impl SeatMapRow {
    pub(super) fn into_seat_state(self, now: DateTime<Utc>) -> StoreResult<SeatState> {
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
            section: section_from_stored(self.section),
            row: self.row_label,
            seat_number: self.seat_number,
            tier: self.tier,
            price_cents: self.price_cents,
            status,
            x: self.x,
            y: self.y,
            attributes: SeatAttribute::split(&self.attributes),
        })
    }
}

/// The columns of `TicketRow`: a ticket as stored, its seat's label, price and currency copied
/// into it when it was issued.
macro_rules! ticket_columns {
    () => {
        "id, reservation_id, booking_id, event_id, user_id, seat_id, section, row_label, seat_number, tier, \
         price_cents, discount_cents, currency, holder_name, status, issued_at, admitted_scan_id, admitted_gate, \
         admitted_at, revoked_at"
    };
}
pub(super) use ticket_columns;

#[derive(FromRow)]
pub(super) struct TicketRow {
    id: Uuid,
    reservation_id: Uuid,
    booking_id: Uuid,
    event_id: Uuid,
    user_id: Uuid,
    seat_id: Uuid,
    section: String,
    row_label: String,
    seat_number: i32,
    tier: String,
    price_cents: i64,
    discount_cents: i64,
    currency: String,
    holder_name: String,
    status: String,
    issued_at: DateTime<Utc>,
    admitted_scan_id: Option<Uuid>,
    admitted_gate: Option<String>,
    admitted_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TicketRow {
    pub(super) fn into_ticket(self) -> StoreResult<Ticket> {
        Ok(Ticket {
            id: self.id,
            booking_id: self.booking_id,
            reservation_id: self.reservation_id,
            event_id: self.event_id,
            user_id: self.user_id,
            seat_id: self.seat_id,
            seat: SeatLabel {
                section: section_from_stored(self.section),
                row: self.row_label,
                seat_number: self.seat_number,
                tier: self.tier,
            },
            price_cents: self.price_cents,
            discount_cents: self.discount_cents,
            currency: self.currency,
            holder_name: self.holder_name,
            status: parse_stored::<TicketStatus>(&self.status)?,
            issued_at: self.issued_at,
            admission: stored_admission(self.admitted_scan_id, self.admitted_gate.as_deref(), self.admitted_at)?,
            revoked_at: self.revoked_at,
        })
    }
}
