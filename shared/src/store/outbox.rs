//! The outbox's rules that do not depend on the backend, written once: a new message (due at
//! once), what a cancel that gave money back tells its buyer, and what a sender's settlement
//! writes on the message it claimed. Each backend decides *whether* a write happens (in the
//! change's own transaction, by a conditional write); these only say what is written.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{MessageFacts, MessageStatus, OutboxMessage, Refund, RefundFacts, Settlement};

/// A message about to be written with the change it reports: pending, due at `now`.
pub(crate) fn new_message(user_id: Option<Uuid>, facts: MessageFacts, now: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        id: Uuid::new_v4(),
        user_id,
        facts,
        status: MessageStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        sent_at: None,
    }
}

/// Which cancel gave money back, so its notice says what was canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CanceledSeats {
    /// One seat (`cancel_reservation`): the reservation's id.
    Seat(Uuid),
    /// Every active seat of a booking (`cancel_booking`).
    Booking,
    /// Every seat of an event (`cancel_event`): the event's id.
    Event(Uuid),
}

impl CanceledSeats {
    /// The notice of `refund`, recorded on the payment of booking `booking_id`.
    pub(crate) fn notice(self, booking_id: Uuid, refund: &Refund) -> MessageFacts {
        let refund = RefundFacts { payment_id: refund.payment_id, amount_cents: refund.amount_cents };
        match self {
            CanceledSeats::Seat(reservation_id) => {
                MessageFacts::SeatCanceled { booking_id, reservation_ids: vec![reservation_id], refund }
            }
            CanceledSeats::Booking => MessageFacts::BookingCanceled { booking_id, refund },
            CanceledSeats::Event(event_id) => MessageFacts::EventCanceled { event_id, booking_id, refund },
        }
    }
}

/// The notice of a failed payment that recorded money given back (`fail_payment`); none when
/// the charge was voided (nothing given back, so nothing to tell).
pub(crate) fn refunded_notice(booking_id: Uuid, payment_id: Uuid, refunded_cents: i64) -> Option<MessageFacts> {
    (refunded_cents > 0).then_some(MessageFacts::PaymentRefunded {
        booking_id,
        refund: RefundFacts { payment_id, amount_cents: refunded_cents },
    })
}

/// The notice of an event moved from `previous` to `start`; none when it stays at the same
/// instant (a PATCH that repeats the start moves nobody).
pub(crate) fn rescheduled_notice(
    event_id: Uuid,
    previous: DateTime<Utc>,
    start: Option<DateTime<Utc>>,
) -> Option<MessageFacts> {
    start.filter(|start| *start != previous).map(|start| MessageFacts::EventRescheduled {
        event_id,
        previous_start: previous,
        start,
    })
}

/// What a settlement writes on the message it settles (always conditioned on the claim being
/// its latest: status `pending` and the claim's attempt count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled<'a> {
    pub status: MessageStatus,
    /// A retry's new due time; `None` keeps the one the claim set.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// A failure's reason; `None` keeps the last one (a message sent after failed attempts keeps
    /// why they failed).
    pub last_error: Option<&'a str>,
    pub sent_at: Option<DateTime<Utc>>,
}

pub(crate) fn settled(settlement: &Settlement, now: DateTime<Utc>) -> Settled<'_> {
    match settlement {
        Settlement::Sent => {
            Settled { status: MessageStatus::Sent, next_attempt_at: None, last_error: None, sent_at: Some(now) }
        }
        Settlement::RetryAt { at, reason } => Settled {
            status: MessageStatus::Pending,
            next_attempt_at: Some(*at),
            last_error: Some(reason),
            sent_at: None,
        },
        Settlement::Failed { reason } => {
            Settled { status: MessageStatus::Failed, next_attempt_at: None, last_error: Some(reason), sent_at: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_start_patched_to_the_same_instant_moves_nobody() {
        let (event, start) = (Uuid::new_v4(), Utc::now());
        assert_eq!(rescheduled_notice(event, start, Some(start)), None);
        assert_eq!(rescheduled_notice(event, start, None), None);
        let later = start + Duration::hours(2);
        assert_eq!(
            rescheduled_notice(event, start, Some(later)),
            Some(MessageFacts::EventRescheduled { event_id: event, previous_start: start, start: later })
        );
    }

    #[test]
    fn a_voided_charge_writes_no_refund_notice() {
        let (booking, payment) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(refunded_notice(booking, payment, 0), None);
        assert!(matches!(
            refunded_notice(booking, payment, 1800),
            Some(MessageFacts::PaymentRefunded { refund: RefundFacts { amount_cents: 1800, .. }, .. })
        ));
    }
}
