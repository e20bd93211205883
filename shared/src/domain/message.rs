//! Messages to people (e-mails), kept in the store's outbox. Each is written in the same
//! transaction as the change it reports (a failed change writes none; a committed one always has
//! one), and delivered at least once by a sender (`crate::mail`). Its id is stable, and the mail's
//! `Message-ID` is derived from it, so a rare second delivery is recognisable as the same mail.
//!
//! The rules of delivery that do not depend on the backend live here: what a message says
//! happened (`MessageFacts`), how an attempt ends (`Settlement`), and when a failed attempt is
//! tried again (`retry_delay`, `MAX_ATTEMPTS`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{MessageSecret, wire_enum};

wire_enum! {
    /// What kind of change a message reports (its `facts` say the details).
    MessageKind {
        AccountCreated => "account_created",
        BookingConfirmed => "booking_confirmed",
        SeatCanceled => "seat_canceled",
        BookingCanceled => "booking_canceled",
        PaymentRefunded => "payment_refunded",
        EventCanceled => "event_canceled",
        EventRescheduled => "event_rescheduled",
        PasswordReset => "password_reset",
        WaitlistOffered => "waitlist_offered",
    }
}

wire_enum! {
    /// `pending → sent`, or `pending → failed` after `MAX_ATTEMPTS` (or at once when the
    /// provider refuses the address for good); an admin's resend takes `failed → pending`.
    MessageStatus { Pending => "pending", Sent => "sent", Failed => "failed" }
}

/// Money given back with a cancel: the payment it goes back to and how much of it this change
/// refunded (the payment's `refunded_cents` is the running total of every refund).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefundFacts {
    pub payment_id: Uuid,
    pub amount_cents: i64,
}

/// What happened, with what the mail needs that the store may no longer hold as it was then.
/// Everything else (the buyer's address and name, the event, the seats, the tickets, the card's
/// last four digits) is read at delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageFacts {
    /// A new account (written by `create_user`).
    AccountCreated,
    /// A payment confirmed and its tickets issued (written by `confirm_payment`): the mail
    /// carries each ticket's PDF and one `.ics`.
    BookingConfirmed { booking_id: Uuid, payment_id: Uuid },
    /// Some paid seats of a booking canceled and refunded (written by `cancel_reservation`).
    /// A canceled hold (nothing paid) writes no message: the buyer did it and no money moved.
    SeatCanceled { booking_id: Uuid, reservation_ids: Vec<Uuid>, refund: RefundFacts },
    /// Every paid seat of a booking canceled and refunded (written by `cancel_booking`).
    BookingCanceled { booking_id: Uuid, refund: RefundFacts },
    /// A charge given back because its confirm could not keep the seats (written by
    /// `fail_payment` when it records money given back): no tickets, the money returned.
    PaymentRefunded { booking_id: Uuid, refund: RefundFacts },
    /// The event canceled: one message per paid booking, with its refund (written by
    /// `cancel_event`, per refund it records).
    EventCanceled { event_id: Uuid, booking_id: Uuid, refund: RefundFacts },
    /// The event moved (written by `update_event` when `start_time` changes): one message for the
    /// event, fanned out at delivery into one mail per booking holding valid tickets then.
    EventRescheduled { event_id: Uuid, previous_start: DateTime<Utc>, start: DateTime<Utc> },
    /// A password reset asked for (written by `issue_password_reset`): the mail carries the link
    /// with the token, which the message holds as its `secret` until it is settled, never here.
    PasswordReset { expires_at: DateTime<Utc> },
    /// Seats freed for a waiting list's entry and held for its buyer as `booking_id` (written by
    /// the cancel or sweep that made the offer): the mail says until when, with the way to pay.
    WaitlistOffered { booking_id: Uuid },
}

impl MessageFacts {
    pub fn kind(&self) -> MessageKind {
        match self {
            MessageFacts::AccountCreated => MessageKind::AccountCreated,
            MessageFacts::BookingConfirmed { .. } => MessageKind::BookingConfirmed,
            MessageFacts::SeatCanceled { .. } => MessageKind::SeatCanceled,
            MessageFacts::BookingCanceled { .. } => MessageKind::BookingCanceled,
            MessageFacts::PaymentRefunded { .. } => MessageKind::PaymentRefunded,
            MessageFacts::EventCanceled { .. } => MessageKind::EventCanceled,
            MessageFacts::EventRescheduled { .. } => MessageKind::EventRescheduled,
            MessageFacts::PasswordReset { .. } => MessageKind::PasswordReset,
            MessageFacts::WaitlistOffered { .. } => MessageKind::WaitlistOffered,
        }
    }
}

/// One message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutboxMessage {
    pub id: Uuid,
    /// The account it is for (its address is read at delivery); `None` for a message about an
    /// event that is fanned out to its ticket holders (`EventRescheduled`).
    pub user_id: Option<Uuid>,
    pub facts: MessageFacts,
    pub status: MessageStatus,
    /// Attempts made so far (claims); a claim counts one before it sends.
    pub attempts: u32,
    /// When a sender may next claim it: at once when written, `retry_delay` after a failed
    /// attempt, a lease's end while a sender holds it.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed, in the transport's words (never card or password material).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// A reset mail's plain token, kept only while the message waits to be sent: the store erases
    /// it when the message is settled sent or failed. Never serialized (not in an admin's list).
    #[serde(skip)]
    pub secret: Option<MessageSecret>,
}

/// How a claimed attempt ended, as the sender reports it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Handed to the transport: `sent`.
    Sent,
    /// A failure worth retrying (server unreachable, throttled): `pending` again at `at`.
    RetryAt { at: DateTime<Utc>, reason: String },
    /// Given up (a permanent refusal, or the last attempt failed): `failed`, visible to admins.
    Failed { reason: String },
}

/// Attempts before a message that keeps failing is `failed`.
pub const MAX_ATTEMPTS: u32 = 8;

/// How long a sender holds a claimed message before another may claim it again (a sender that
/// died mid-send leaves its messages to be claimed after this).
pub const CLAIM_LEASE: Duration = Duration::seconds(120);

/// The wait after failed attempt number `attempts` (1-based): 30 s, doubling, at most an hour.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(7);
    (Duration::seconds(30) * 2i32.pow(doublings)).min(Duration::hours(1))
}

/// What to record when attempt `attempts` failed transiently at `now`: a retry, or `Failed`
/// once `MAX_ATTEMPTS` are spent.
pub fn after_transient_failure(attempts: u32, reason: String, now: DateTime<Utc>) -> Settlement {
    if attempts >= MAX_ATTEMPTS {
        Settlement::Failed { reason: format!("gave up after {attempts} attempts: {reason}") }
    } else {
        Settlement::RetryAt { at: now + retry_delay(attempts), reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_from_thirty_seconds_to_an_hour() {
        let delays: Vec<i64> = (1..=9).map(|n| retry_delay(n).num_seconds()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }

    #[test]
    fn the_last_attempt_fails_the_message_and_earlier_ones_retry() {
        let now = Utc::now();
        assert_eq!(
            after_transient_failure(1, "refused".into(), now),
            Settlement::RetryAt { at: now + Duration::seconds(30), reason: "refused".into() }
        );
        assert!(matches!(after_transient_failure(MAX_ATTEMPTS, "refused".into(), now), Settlement::Failed { .. }));
    }

    #[test]
    fn facts_are_stored_with_their_kind() {
        let facts = MessageFacts::BookingCanceled {
            booking_id: Uuid::nil(),
            refund: RefundFacts { payment_id: Uuid::nil(), amount_cents: 1800 },
        };
        let json = serde_json::to_value(&facts).expect("facts serialize");
        assert_eq!(json["kind"], MessageKind::BookingCanceled.as_str());
        assert_eq!(serde_json::from_value::<MessageFacts>(json).expect("facts read back"), facts);
    }
}
