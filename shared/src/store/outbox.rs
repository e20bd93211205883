//! The outbox's rules that do not depend on the backend, written once: a new message (due at
//! once), which message each change writes and with what facts, what a cancel that gave money
//! back tells its buyer, and what a sender's settlement writes on the message it claimed. Each
//! backend decides *whether* a write happens (in the change's own transaction, by a conditional
//! write); these only say what is written. The SQL backends go further: a change calls one of the
//! per-change writes below with its transaction's connection, which gives only its statements
//! ([`OutboxWrites`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    MessageFacts, MessageSecret, MessageStatus, OutboxMessage, Payment, Refund, RefundFacts, ResetToken, Settlement,
    User, WebhookEvent, events_for_message,
};
use crate::store::{OutboxDepth, StoreError, StoreResult};

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
        secret: None,
    }
}

/// The reset mail of a password reset (`issue_password_reset`): it holds the plain token as its
/// secret until it is settled, the only place the token is written, and only until then.
pub(crate) fn reset_message(
    user_id: Uuid,
    token: &ResetToken,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> OutboxMessage {
    OutboxMessage {
        secret: Some(MessageSecret::new(token.expose())),
        ..new_message(Some(user_id), MessageFacts::PasswordReset { expires_at }, now)
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

/// The buyer and booking of a refunded payment, as a cancel's refund notice needs them.
pub(crate) struct PaymentOwner {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub user_id: Uuid,
}

/// What a SQL backend's connection, inside a change's transaction, gives the per-change writes
/// below: its insert statement and the two reads some messages need.
#[async_trait]
pub(crate) trait OutboxWrites: Send {
    /// Inserts `messages` (never empty) in one statement.
    async fn insert_messages(&mut self, messages: &[OutboxMessage]) -> StoreResult<()>;
    /// Inserts webhook `events` (never empty) in one statement.
    async fn insert_webhook_events(&mut self, events: &[WebhookEvent]) -> StoreResult<()>;
    /// The buyer and booking of each payment of `payment_ids`.
    async fn payment_owners(&mut self, payment_ids: &[Uuid]) -> StoreResult<Vec<PaymentOwner>>;
    /// The start of event `event_id` as stored, read so that no other change can move it before
    /// this transaction ends (the one the change's UPDATE replaces); `None` for no such event.
    async fn start_before_update(&mut self, event_id: Uuid) -> StoreResult<Option<DateTime<Utc>>>;
    /// `start` as the backend stores it (its precision), so a PATCH that repeats the start
    /// compares equal.
    fn as_stored(start: DateTime<Utc>) -> DateTime<Utc>;
}

/// Writes `messages` and the webhook events their changes report (`events_for_message`), in the
/// caller's transaction.
async fn write<W: OutboxWrites>(conn: &mut W, messages: &[OutboxMessage]) -> StoreResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    conn.insert_messages(messages).await?;
    let events: Vec<WebhookEvent> = messages
        .iter()
        .flat_map(|message| events_for_message(message.user_id, &message.facts, message.created_at))
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    conn.insert_webhook_events(&events).await
}

/// `cancel_event`: the `event.canceled` webhook event, in the transaction that closes the event
/// (written whether or not any seat was paid).
pub(crate) async fn event_canceled<W: OutboxWrites>(
    conn: &mut W,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    conn.insert_webhook_events(&[WebhookEvent::event_canceled(event_id, now)]).await
}

/// `create_user`: the new account's welcome.
pub(crate) async fn account_created<W: OutboxWrites>(conn: &mut W, user: &User) -> StoreResult<()> {
    write(conn, &[new_message(Some(user.id), MessageFacts::AccountCreated, user.created_at)]).await
}

/// `issue_password_reset`: the reset mail, with the token as its secret.
pub(crate) async fn password_reset<W: OutboxWrites>(
    conn: &mut W,
    user_id: Uuid,
    token: &ResetToken,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    write(conn, &[reset_message(user_id, token, expires_at, now)]).await
}

/// `confirm_payment`: the confirmation, with the tickets the same transaction issued.
pub(crate) async fn booking_confirmed<W: OutboxWrites>(
    conn: &mut W,
    payment: &Payment,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let facts = MessageFacts::BookingConfirmed { booking_id: payment.booking_id, payment_id: payment.id };
    write(conn, &[new_message(Some(payment.user_id), facts, now)]).await
}

/// `fail_payment`: the refund notice, when the failed payment records money given back.
pub(crate) async fn payment_refunded<W: OutboxWrites>(
    conn: &mut W,
    payment: &Payment,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let notice = refunded_notice(payment.booking_id, payment.id, payment.refunded_cents);
    let messages: Vec<_> = notice.map(|facts| new_message(Some(payment.user_id), facts, now)).into_iter().collect();
    write(conn, &messages).await
}

/// A cancel's refunds: one notice per refund, to the payment's buyer, about its booking. Called
/// after the cancel recorded the refunds, under its locks, so the payments read are as written.
pub(crate) async fn refund_notices<W: OutboxWrites>(
    conn: &mut W,
    refunds: &[Refund],
    canceled: CanceledSeats,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if refunds.is_empty() {
        return Ok(());
    }
    let payment_ids: Vec<Uuid> = refunds.iter().map(|refund| refund.payment_id).collect();
    let owners = conn.payment_owners(&payment_ids).await?;
    let mut messages = Vec::with_capacity(refunds.len());
    for refund in refunds {
        let owner = owners
            .iter()
            .find(|owner| owner.payment_id == refund.payment_id)
            .ok_or_else(|| StoreError::Internal("a refunded payment is missing".into()))?;
        messages.push(new_message(Some(owner.user_id), canceled.notice(owner.booking_id, refund), now));
    }
    write(conn, &messages).await
}

/// A waiting list's offer: the mail to its buyer, written with the offer.
pub(crate) async fn waitlist_offered<W: OutboxWrites>(
    conn: &mut W,
    user_id: Uuid,
    booking_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    write(conn, &[new_message(Some(user_id), MessageFacts::WaitlistOffered { booking_id }, now)]).await
}

/// `update_event`, before its UPDATE: the notice of a start moved to another instant, with the
/// start as it was (the one the UPDATE replaces).
pub(crate) async fn reschedule_notice<W: OutboxWrites>(
    conn: &mut W,
    event_id: Uuid,
    start: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    let Some(start) = start else { return Ok(()) };
    let Some(previous) = conn.start_before_update(event_id).await? else { return Ok(()) };
    let notice = rescheduled_notice(event_id, previous, Some(W::as_stored(start)));
    let messages: Vec<_> = notice.map(|facts| new_message(None, facts, Utc::now())).into_iter().collect();
    write(conn, &messages).await
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
    /// Whether the message's secret (a reset mail's token) is erased: once it is sent or failed,
    /// nothing needs it any more. A retry keeps it for the next attempt.
    pub erase_secret: bool,
}

pub(crate) fn settled(settlement: &Settlement, now: DateTime<Utc>) -> Settled<'_> {
    match settlement {
        Settlement::Sent => Settled {
            status: MessageStatus::Sent,
            next_attempt_at: None,
            last_error: None,
            sent_at: Some(now),
            erase_secret: true,
        },
        Settlement::RetryAt { at, reason } => Settled {
            status: MessageStatus::Pending,
            next_attempt_at: Some(*at),
            last_error: Some(reason),
            sent_at: None,
            erase_secret: false,
        },
        Settlement::Failed { reason } => Settled {
            status: MessageStatus::Failed,
            next_attempt_at: None,
            last_error: Some(reason),
            sent_at: None,
            erase_secret: true,
        },
    }
}

/// The depth from a backend's counts by stored status (`pending`, `failed`; a status counted
/// nowhere is 0). A status other than those two is a statement that counts what it should not.
pub(crate) fn depth_from_counts(counts: impl IntoIterator<Item = (String, i64)>) -> StoreResult<OutboxDepth> {
    let mut depth = OutboxDepth::default();
    for (status, count) in counts {
        let count = u64::try_from(count).map_err(|_| StoreError::Internal(format!("{count} {status} messages")))?;
        match status.parse::<MessageStatus>() {
            Ok(MessageStatus::Pending) => depth.pending += count,
            Ok(MessageStatus::Failed) => depth.failed += count,
            _ => return Err(StoreError::Internal(format!("the outbox depth counted `{status}` messages"))),
        }
    }
    Ok(depth)
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

    #[test]
    fn the_depth_adds_up_pending_and_failed_and_refuses_another_status() {
        let counts = [("pending".to_owned(), 3), ("failed".to_owned(), 2)];
        assert_eq!(depth_from_counts(counts).unwrap(), OutboxDepth { pending: 3, failed: 2 });
        assert_eq!(depth_from_counts([]).unwrap(), OutboxDepth::default());
        assert!(depth_from_counts([("sent".to_owned(), 1)]).is_err());
    }
}
