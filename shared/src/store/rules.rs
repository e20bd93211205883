//! Decisions that do not depend on the backend, written once for all of them: the refusals a
//! store gives (their wording lives here and nowhere else), what a `NotFound` was looking for,
//! when an idempotency record expires and how a claim is read back, how much a cancel refunds,
//! how many declined cards a payment takes, and how a ticket's stored admission reads back.
//! Each backend decides *whether* a rule applies (by a unique index, a conditional write, a
//! locked read); these functions only say what the answer is.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{IDEMPOTENCY_TTL_HOURS, IdempotencyClaim, StoreError, StoreResult};
use crate::domain::{
    Admission, Booking, Gate, Invalid, MessageStatus, PaymentStatus, QueueSettings, ReservationStatus,
};

/// Declined cards one payment takes: the last of them fails the payment and frees its seats, so
/// a payment cannot be used to try card after card (card testing).
pub const MAX_DECLINES_PER_PAYMENT: u32 = 5;

/// What a store looked for and did not find; the API names it in its 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Venue,
    Event,
    Reservation,
    Booking,
    Payment,
    Ticket,
    Message,
    Webhook,
    Delivery,
    Code,
}

impl Entity {
    pub fn name(self) -> &'static str {
        match self {
            Entity::Venue => "venue",
            Entity::Event => "event",
            Entity::Reservation => "reservation",
            Entity::Booking => "booking",
            Entity::Payment => "payment",
            Entity::Ticket => "ticket",
            Entity::Message => "message",
            Entity::Webhook => "webhook",
            Entity::Delivery => "delivery",
            Entity::Code => "code",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The refusals every backend gives, by name. A conformance case checks that each backend
/// answers the same cause with the same words.
impl StoreError {
    /// A hold on a canceled event.
    pub fn event_canceled() -> Self {
        Self::Rejected(Invalid::new("event_id", "this event was canceled"))
    }

    /// A hold on an event that has begun.
    pub fn event_started() -> Self {
        Self::Rejected(Invalid::new("event_id", "this event has already started"))
    }

    /// A hold naming a seat of another venue (or no seat at all).
    pub fn seat_not_in_venue(seat_id: Uuid) -> Self {
        Self::Rejected(Invalid::new("seat_ids", format!("seat {seat_id} is not in this event's venue")))
    }

    /// A hold naming a ticket type the event does not sell.
    pub fn unknown_ticket_type(invalid: Invalid) -> Self {
        Self::Rejected(invalid)
    }

    /// A hold naming a seat whose tier the event has no price for.
    pub fn seat_without_price(seat_id: Uuid) -> Self {
        Self::Rejected(Invalid::new("seat_ids", format!("seat {seat_id} has no price for this event")))
    }

    /// An event created for a venue that does not exist.
    pub fn no_such_venue() -> Self {
        Self::Rejected(Invalid::new("venue_id", "there is no venue with this id"))
    }

    /// A cancel of a reservation that is no longer active.
    pub fn reservation_not_active(status: ReservationStatus) -> Self {
        Self::InvalidState(format!("this reservation is already {status}"))
    }

    /// A cancel of a booking none of whose seats is active.
    pub fn no_active_seats_left() -> Self {
        Self::InvalidState("this booking has no active seats left".into())
    }

    /// A checkout (or confirm) of a booking with nothing held to pay for.
    pub fn no_held_seats_to_pay_for() -> Self {
        Self::InvalidState("this booking has no held seats to pay for".into())
    }

    /// A second open payment for one booking (the unique index `payments_booking_open_uq`).
    pub fn payment_already_open() -> Self {
        Self::InvalidState("this booking already has a payment".into())
    }

    /// A payment change that needs another status than the payment has.
    pub fn payment_already(status: PaymentStatus) -> Self {
        Self::InvalidState(format!("this payment is already {status}"))
    }

    /// A confirm of a booking one of whose seats was canceled since checkout.
    pub fn seat_canceled_since_checkout() -> Self {
        Self::InvalidState("a seat of this booking was canceled".into())
    }

    /// A confirm of a booking whose event was canceled since checkout.
    pub fn paid_event_canceled() -> Self {
        Self::InvalidState("this event was canceled".into())
    }

    /// A checkout once the event has begun (a hold placed just before the start still runs).
    pub fn checkout_after_start() -> Self {
        Self::InvalidState("this event has already started, so it can no longer be paid for".into())
    }

    /// An extension of a booking that is paid for or canceled: nothing is held to extend.
    pub fn nothing_held_to_extend(status: ReservationStatus) -> Self {
        Self::InvalidState(format!("this booking is {status}; only a running hold can be extended"))
    }

    /// An admin's resend of a message that has not failed (pending or sent).
    pub fn message_not_failed(status: MessageStatus) -> Self {
        Self::InvalidState(format!("this message is {status}; only a failed message can be resent"))
    }

    /// A replay of a delivery that is still pending (it will be tried anyway).
    pub fn delivery_pending() -> Self {
        Self::InvalidState("this delivery is still pending; only a delivered or failed one can be replayed".into())
    }

    /// A confirm once the event has begun: nobody is charged for a show that began. The store
    /// changes nothing; the caller voids the authorization and fails the payment.
    pub fn confirm_after_start() -> Self {
        Self::InvalidState("the event has already started, so this payment was not taken".into())
    }
}

/// The oldest creation time an idempotency record may have and still be honoured: one created
/// before it has expired and counts as absent; one created at exactly this instant still holds.
pub fn idempotency_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::hours(IDEMPOTENCY_TTL_HOURS)
}

/// An idempotency record as stored: the fingerprint of the request that claimed the key and,
/// once it was answered, the answer.
pub struct StoredIdempotency {
    pub request_hash: String,
    pub status: Option<i64>,
    pub body: Option<String>,
}

/// What a request whose claim lost to an existing record gets, from that record (`None`: it was
/// released between the claim and the read, so it is still someone else's turn).
pub fn claim_answer(record: Option<StoredIdempotency>, request_hash: &str) -> StoreResult<IdempotencyClaim> {
    let Some(record) = record else {
        return Ok(IdempotencyClaim::InFlight);
    };
    if record.request_hash != request_hash {
        return Ok(IdempotencyClaim::Mismatch);
    }
    match record.status {
        None => Ok(IdempotencyClaim::InFlight),
        Some(status) => Ok(IdempotencyClaim::Replay {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Internal(format!("stored idempotent status {status} is invalid")))?,
            body: record.body.unwrap_or_default(),
        }),
    }
}

/// The refusal of a checkout whose code applies to none of the booking's held seats.
pub(crate) fn code_applies_to_no_seat() -> StoreError {
    StoreError::InvalidCode("This code does not apply to any seat of this booking.".into())
}

/// What canceling seats worth `price_cents` gives back on a payment of `amount_cents` of which
/// `refunded_cents` went back already: their price, never more than is left, never negative.
pub fn cancel_refund(price_cents: i64, amount_cents: i64, refunded_cents: i64) -> i64 {
    price_cents.min(amount_cents - refunded_cents).max(0)
}

/// A gate name as stored (written from a parsed `Gate`, so it parses again).
pub fn stored_gate(name: &str) -> StoreResult<Gate> {
    Gate::parse(Some(name)).map_err(|err| StoreError::Internal(format!("stored gate `{name}`: {}", err.message)))
}

/// A ticket's admission from its three stored parts: all three or none (a used ticket, or a
/// revoked one that was used, has them all).
pub fn stored_admission(
    scan_id: Option<Uuid>,
    gate: Option<&str>,
    at: Option<DateTime<Utc>>,
) -> StoreResult<Option<Admission>> {
    match (scan_id, gate, at) {
        (Some(scan_id), Some(gate), Some(at)) => Ok(Some(Admission { scan_id, gate: stored_gate(gate)?, at })),
        (None, None, None) => Ok(None),
        _ => Err(StoreError::Internal("a ticket's admission is stored in part".into())),
    }
}

/// An event's waiting room from its stored settings: all four or none (no waiting room).
pub fn stored_queue(
    enabled: Option<bool>,
    admit_per_minute: Option<i64>,
    max_active_buyers: Option<i64>,
    session_minutes: Option<i64>,
) -> StoreResult<Option<QueueSettings>> {
    let setting = |value: i64| {
        u32::try_from(value)
            .map_err(|_| StoreError::Internal(format!("a stored queue setting {value} is out of range")))
    };
    match (enabled, admit_per_minute, max_active_buyers, session_minutes) {
        (Some(enabled), Some(admit), Some(active), Some(session)) => Ok(Some(QueueSettings {
            enabled,
            admit_per_minute: setting(admit)?,
            max_active_buyers: setting(active)?,
            session_minutes: setting(session)?,
        })),
        (None, None, None, None) => Ok(None),
        _ => Err(StoreError::Internal("an event's queue settings are stored in part".into())),
    }
}

/// Why an extension's conditional write changed nothing, from the booking as read after it (the
/// write decided; this only names the cause): no booking, a hold that lapsed, a booking paid for
/// or canceled, or (the hold still running) an extension already used.
pub(crate) fn extension_refusal(booking: Option<&Booking>, extended: bool) -> StoreError {
    match booking.map(|b| b.status) {
        None => StoreError::NotFound(Entity::Booking),
        Some(ReservationStatus::Expired) => StoreError::HoldExpired,
        Some(ReservationStatus::Held) if extended => StoreError::ExtensionUsed,
        // Held and not extended: the hold changed between the write and this read (a seat
        // canceled, a lapse at the same instant); the caller may simply ask again.
        Some(ReservationStatus::Held) => StoreError::InvalidState("this booking's hold just changed; try again".into()),
        Some(status) => StoreError::nothing_held_to_extend(status),
    }
}

/// A hold's seat as a ticket type prices it: the type (named by the seat, else the event's first),
/// its price for the seat's tier and its quota. The same rule on every backend that reads the
/// event's types before writing (SQLite, DynamoDB; PostgreSQL resolves it in its statement).
///
/// A hidden type is sold only when the hold's access code unlocked it (`unlocked`, checked by the
/// API); otherwise it is refused as a type the event does not sell, inside the hold's own
/// transaction (SQLite's `BEGIN IMMEDIATE`; DynamoDB's hold, which also conditions on the event).
pub fn typed_price(
    types: &[crate::domain::TicketType],
    named: Option<&str>,
    unlocked: &[String],
    seat_id: Uuid,
    tier: &str,
) -> StoreResult<(String, i64, Option<u32>)> {
    let ticket_type =
        crate::domain::resolve_seat_type(types, named, unlocked).map_err(StoreError::unknown_ticket_type)?;
    let price_cents = ticket_type.price_of(tier).ok_or_else(|| StoreError::seat_without_price(seat_id))?;
    Ok((ticket_type.name.clone(), price_cents, ticket_type.quota))
}

/// The lowest `count` slots of `1..=quota` that are not in `taken`: the type slots a hold takes
/// (see migration 0024); `None` when fewer are left.
pub fn free_type_slots(quota: u32, taken: &std::collections::HashSet<i64>, count: usize) -> Option<Vec<i64>> {
    let free = open_type_slots(quota, taken, count);
    (free.len() == count).then_some(free)
}

/// The lowest slots of `1..=quota` that are not in `taken`, at most `most` of them: the type slots
/// left for a waiting list's offers, which take as many as there are (`domain::plan_offers`).
pub fn open_type_slots(quota: u32, taken: &std::collections::HashSet<i64>, most: usize) -> Vec<i64> {
    (1..=i64::from(quota)).filter(|slot| !taken.contains(slot)).take(most).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_expires_strictly_after_a_day() {
        let now = Utc::now();
        assert_eq!(now - idempotency_cutoff(now), Duration::hours(24));
    }

    #[test]
    fn claims_read_back_alike() {
        let record = |hash: &str, status| StoredIdempotency { request_hash: hash.into(), status, body: None };
        assert_eq!(claim_answer(None, "h").unwrap(), IdempotencyClaim::InFlight);
        assert_eq!(claim_answer(Some(record("other", Some(201))), "h").unwrap(), IdempotencyClaim::Mismatch);
        assert_eq!(claim_answer(Some(record("h", None)), "h").unwrap(), IdempotencyClaim::InFlight);
        assert_eq!(
            claim_answer(Some(record("h", Some(201))), "h").unwrap(),
            IdempotencyClaim::Replay { status: 201, body: String::new() }
        );
        assert!(claim_answer(Some(record("h", Some(70_000))), "h").is_err());
    }

    #[test]
    fn refunds_never_exceed_what_is_left() {
        assert_eq!(cancel_refund(1200, 3000, 0), 1200);
        assert_eq!(cancel_refund(1200, 3000, 2500), 500);
        assert_eq!(cancel_refund(1200, 3000, 3000), 0);
    }
}
