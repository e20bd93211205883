//! Payments, webhook events and idempotency keys on PostgreSQL. Checkout is one statement
//! (`CREATE_PAYMENT_SQL`) whose unique index `payments_booking_open_uq` allows one open payment per
//! booking; a confirm is one transaction that takes its locks in the common order (see `mod.rs`)
//! and is retried when it loses a deadlock; the refunds of canceled paid seats are recorded inside
//! the cancel's own transaction (`record_refunds`). A declined card is counted by a conditional
//! increment that fails the payment, and frees its seats, at the last one. The confirm issues the
//! tickets of the seats it sells in its own transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgExecutor};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::codes::count_code_use;
use super::rows::{PaymentRow, parse_stored, payment_columns};
use super::tickets::issue_tickets;
use super::{PostgresStore, TxError, is_deadlock, kept_deadlocking, retry_deadlocks, settle};
use crate::domain::{
    EventStatus, NewPayment, Page, Payment, PaymentStatus, PricedSeat, RecordedRefund, Refund, ReservationStatus,
    discount_shares,
};
use crate::store::outbox;
use crate::store::{
    Decline, Entity, IdempotencyClaim, IdempotencyStore, MAX_DECLINES_PER_PAYMENT, PaymentStore, StoreError,
    StoreResult, StoredIdempotency, cancel_refund, claim_answer, code_applies_to_no_seat, idempotency_cutoff,
};

#[async_trait]
impl PaymentStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_payment(&self, new: NewPayment, now: DateTime<Utc>) -> StoreResult<Payment> {
        let mut tx = self.pool.begin().await?;
        let row: Option<PaymentRow> = sqlx::query_as(CREATE_PAYMENT_SQL)
            .bind(new.booking_id)
            .bind(new.id)
            .bind(new.user_id)
            .bind(&new.provider)
            .bind(new.hold_until)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(self.checkout_refusal(new.booking_id, now).await?);
        };
        let payment = match &new.code {
            // Shares of an earlier checkout with a code are cleared.
            None => {
                sqlx::query(CLEAR_DISCOUNTS_SQL).bind(new.booking_id).execute(&mut *tx).await?;
                row.into_payment()?
            }
            // The code's discount, spread over the held seats (locked by the checkout above) it
            // applies to; each keeps its share, which a cancel of it does not refund.
            Some(code) => {
                let seats: Vec<(Uuid, String, String, i64)> =
                    sqlx::query_as(CHECKOUT_SEATS_SQL).bind(new.booking_id).bind(now).fetch_all(&mut *tx).await?;
                let priced: Vec<PricedSeat<'_>> = seats
                    .iter()
                    .map(|(_, tier, ticket_type, price_cents)| PricedSeat {
                        tier,
                        ticket_type: Some(ticket_type),
                        price_cents: *price_cents,
                    })
                    .collect();
                // Refused: the transaction rolls back, extension and payment with it.
                let shares = discount_shares(code, &priced).ok_or_else(code_applies_to_no_seat)?;
                let ids: Vec<Uuid> = seats.iter().map(|(id, ..)| *id).collect();
                sqlx::query(SET_DISCOUNTS_SQL).bind(&ids).bind(&shares).execute(&mut *tx).await?;
                let row: PaymentRow = sqlx::query_as(APPLY_CODE_SQL)
                    .bind(new.id)
                    .bind(shares.iter().sum::<i64>())
                    .bind(code.id)
                    .bind(&code.code)
                    .fetch_one(&mut *tx)
                    .await?;
                row.into_payment()?
            }
        };
        tx.commit().await?;
        Ok(payment)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        let row: Option<PaymentRow> =
            sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(PaymentRow::into_payment).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn record_decline(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Decline> {
        settle(retry_deadlocks(|| Box::pin(self.record_decline_once(id, now))).await, "recording the decline")
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn fail_payment(&self, id: Uuid, refunded_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        let mut tx = self.pool.begin().await?;
        // Capped at the amount: more cannot have been given back than was taken.
        let row: Option<PaymentRow> = sqlx::query_as(concat!(
            "UPDATE payments SET status = 'failed', refunded_cents = LEAST(amount_cents, $2), updated_at = $3
             WHERE id = $1 AND (status = 'pending') IS TRUE RETURNING ",
            payment_columns!()
        ))
        .bind(id)
        .bind(refunded_cents)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(Self::payment_refusal(&mut *tx, id).await);
        };
        let payment = row.into_payment()?;
        outbox::payment_refunded(&mut *tx, &payment, now).await?;
        tx.commit().await?;
        Ok(payment)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn record_refund(&self, id: Uuid, amount_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        // One conditional write; both SET expressions read the row as it was before it.
        let row: Option<PaymentRow> = sqlx::query_as(concat!(
            "UPDATE payments SET
                 refunded_cents = LEAST(amount_cents, refunded_cents + $2),
                 status = CASE WHEN LEAST(amount_cents, refunded_cents + $2) = amount_cents
                               THEN 'refunded' ELSE 'partially_refunded' END,
                 updated_at = $3
             WHERE id = $1 AND (status IN ('succeeded', 'partially_refunded')) IS TRUE RETURNING ",
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn forget_webhook_event(&self, event_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_events WHERE id = $1").bind(event_id).execute(&self.pool).await?;
        Ok(())
    }
}

// The statements of payments read every table through an index whatever the statistics say (see
// the hold's statement in `holds.rs` for how, and `plan_tests.rs` for the proof): a booking's
// rows are found through `reservations_booking_idx` and then locked through the primary key by id
// (an `ORDER BY id` over the booking's rows let the planner read the primary key whole, in order),
// a row of another table is read by its key inside a `LATERAL` or scalar subquery rather than
// joined, and a status that is only re-checked is written `(…) IS TRUE`, so that it does not let
// a partial index (`payments_booking_open_uq`, `reservations_lapsing_idx`,
// `reservations_active_seat_uq`) be read whole in place of the key.

/// Checkout in one statement, so the hold's extension and the payment stand or fall together: when
/// the unique index `payments_booking_open_uq` refuses a second open payment, the extension is
/// undone with it. The held seats are locked in id order (as every writer takes a booking's seats)
/// and re-checked after the lock; the amount and currency are those the seats were held at, never
/// the caller's. No row comes back when nothing was held, or when the event has started (a hold
/// placed just before the start may still run after it).
pub(super) const CREATE_PAYMENT_SQL: &str = concat!(
    "WITH held AS (
         SELECT id FROM reservations
         WHERE id = ANY (ARRAY(
                 SELECT id FROM reservations WHERE booking_id = $1 AND (status = 'held' AND expires_at > $6) IS TRUE
               ))
           AND (status = 'held' AND expires_at > $6) IS TRUE
           AND (SELECT e.start_time FROM events e WHERE e.id = (SELECT b.event_id FROM bookings b WHERE b.id = $1)) > $6
         ORDER BY id
         FOR UPDATE
     ), extended AS (
         UPDATE reservations r SET expires_at = GREATEST(r.expires_at, $5), updated_at = $6
         WHERE r.id = ANY (ARRAY(SELECT id FROM held))
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

/// A booking's (`$1`) running holds at `$2` with their seats' tiers, in seat order, to spread a
/// code's discount over: the booking's index, then one primary-key probe per seat.
pub(super) const CHECKOUT_SEATS_SQL: &str = "
SELECT r.id, s.tier, r.ticket_type, r.price_cents
FROM reservations r
CROSS JOIN LATERAL (SELECT x.tier, x.row_index, x.seat_number FROM seats x WHERE x.id = r.seat_id LIMIT 1) s
WHERE r.booking_id = $1 AND (r.status = 'held' AND r.expires_at > $2) IS TRUE
ORDER BY s.row_index, s.seat_number, r.id";

/// Each seat's (`$1`) share (`$2`) of its payment's discount.
pub(super) const SET_DISCOUNTS_SQL: &str = "
UPDATE reservations r SET discount_cents = u.share
FROM unnest($1::uuid[], $2::int8[]) AS u (id, share)
WHERE r.id = u.id AND r.id = ANY ($1)";

/// A booking's (`$1`) seats' shares of an earlier checkout's discount cleared.
pub(super) const CLEAR_DISCOUNTS_SQL: &str =
    "UPDATE reservations SET discount_cents = 0 WHERE booking_id = $1 AND discount_cents <> 0";

/// A new payment (`$1`) takes code `$3` (`$4`) and its discount `$2` off its amount.
pub(super) const APPLY_CODE_SQL: &str = concat!(
    "UPDATE payments SET amount_cents = amount_cents - $2, discount_cents = $2, code_id = $3, code = $4
     WHERE id = $1 RETURNING ",
    payment_columns!()
);

/// Someone else's lapsed hold on a seat of booking `$1` (event `$2`) is written down as expired,
/// one probe of the unique index per seat as in the hold (the seat's active row, checked after the
/// probe), so that the index judges only holds that still run; those rows are then updated by id.
/// The booking's own lapsed holds are left for the confirm to take back.
pub(super) const EXPIRE_OTHERS_LAPSED_SQL: &str = "
UPDATE reservations r SET status = 'expired', updated_at = $3
WHERE r.id = ANY (ARRAY(
    SELECT other.id
    FROM reservations mine
    CROSS JOIN LATERAL (
        SELECT x.id, x.booking_id, x.status, x.expires_at FROM reservations x
        WHERE x.event_id = $2 AND x.seat_id = mine.seat_id AND x.status IN ('held', 'confirmed')
        LIMIT 1
    ) other
    WHERE mine.booking_id = $1 AND other.booking_id <> $1 AND other.status = 'held' AND other.expires_at <= $3
))
  AND (r.status = 'held' AND r.expires_at <= $3) IS TRUE";

/// Why a checkout of booking `$1` at `$2` found nothing to pay for: whether the booking exists,
/// whether its event has started, and how many of its seats lapsed or are paid.
pub(super) const CHECKOUT_REFUSAL_SQL: &str = "
SELECT EXISTS (SELECT 1 FROM bookings WHERE id = $1),
       COALESCE((SELECT e.start_time FROM events e WHERE e.id = (SELECT b.event_id FROM bookings b WHERE b.id = $1))
                <= $2, false),
       count(*) FILTER (WHERE status = 'expired' OR (status = 'held' AND expires_at <= $2)),
       count(*) FILTER (WHERE status = 'confirmed')
FROM reservations WHERE booking_id = $1";

/// The booking and event a payment (`$1`) is for: two primary-key reads.
pub(super) const PAYMENT_TARGET_SQL: &str = "SELECT p.booking_id, (SELECT b.event_id FROM bookings b WHERE b.id = p.booking_id) FROM payments p WHERE p.id = $1";

/// An event's (`$1`) status and start, share-locked as a hold locks it.
pub(super) const EVENT_FOR_SHARE_SQL: &str = "SELECT status, start_time FROM events WHERE id = $1 FOR SHARE";

/// Locks a booking's (`$1`) seats in id order, the common lock order (see `mod.rs`), and reads them
/// as locked: found through the booking's index, then locked through the primary key.
pub(super) const LOCK_BOOKING_SEATS_SQL: &str = "
SELECT status, price_cents - discount_cents FROM reservations
WHERE id = ANY (ARRAY(SELECT id FROM reservations WHERE booking_id = $1))
ORDER BY id
FOR UPDATE";

/// A pending payment (`$1`) paid: its provider's reference `$2`, the card's last four digits `$3`, at `$4`.
pub(super) const CONFIRM_PAYMENT_SQL: &str = concat!(
    "UPDATE payments SET status = 'succeeded', provider_ref = $2, card_last4 = $3, updated_at = $4
     WHERE id = $1 AND (status = 'pending') IS TRUE RETURNING ",
    payment_columns!()
);

/// A booking's (`$1`) held and lapsed seats sold at `$2`; the partial unique index refuses a seat
/// someone else has now.
pub(super) const CONFIRM_SEATS_SQL: &str = "UPDATE reservations SET status = 'confirmed', updated_at = $2
WHERE booking_id = $1 AND status IN ('held', 'expired') RETURNING id";

/// One declined card on a pending payment (`$1`), failing it at the `$2`-th, at `$3`.
pub(super) const DECLINE_SQL: &str = concat!(
    "UPDATE payments SET declines = declines + 1,
         status = CASE WHEN declines + 1 >= $2 THEN 'failed' ELSE status END, updated_at = $3
     WHERE id = $1 AND (status = 'pending') IS TRUE RETURNING declines, ",
    payment_columns!()
);

/// A failed payment's held seats (booking `$1`) freed at `$2`.
pub(super) const FREE_FAILED_SEATS_SQL: &str = "
UPDATE reservations SET status = 'expired', expires_at = LEAST(expires_at, $2), updated_at = $2
WHERE booking_id = $1 AND (status = 'held') IS TRUE";

impl PostgresStore {
    /// Why a conditional update of a payment matched nothing: no such payment, or its status.
    async fn payment_refusal<'e>(executor: impl PgExecutor<'e>, id: Uuid) -> StoreError {
        let status: Result<Option<String>, sqlx::Error> =
            sqlx::query_scalar("SELECT status FROM payments WHERE id = $1").bind(id).fetch_optional(executor).await;
        match status {
            Err(err) => err.into(),
            Ok(None) => StoreError::NotFound(Entity::Payment),
            Ok(Some(status)) => match parse_stored::<PaymentStatus>(&status) {
                Ok(status) => StoreError::payment_already(status),
                Err(err) => err,
            },
        }
    }

    /// Why a checkout found nothing to pay for, read after its statement wrote nothing.
    async fn checkout_refusal(&self, booking_id: Uuid, now: DateTime<Utc>) -> StoreResult<StoreError> {
        let (found, started, lapsed, confirmed): (bool, bool, i64, i64) =
            sqlx::query_as(CHECKOUT_REFUSAL_SQL).bind(booking_id).bind(now).fetch_one(&self.pool).await?;
        Ok(if !found {
            StoreError::NotFound(Entity::Booking)
        } else if started {
            StoreError::checkout_after_start()
        } else if lapsed > 0 && confirmed == 0 {
            // The buyer may pick seats again; a paid or canceled booking is another matter.
            StoreError::HoldExpired
        } else {
            StoreError::no_held_seats_to_pay_for()
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
        let target: Option<(Uuid, Uuid)> = sqlx::query_as(PAYMENT_TARGET_SQL).bind(id).fetch_optional(&mut *tx).await?;
        let Some((booking_id, event_id)) = target else {
            return Err(StoreError::NotFound(Entity::Payment).into());
        };
        // Share-locked as a hold does: a cancel of the event either waits for this confirm (and
        // then refunds what it confirmed) or makes it wait and then refuse.
        let (event_status, start_time): (String, DateTime<Utc>) =
            sqlx::query_as(EVENT_FOR_SHARE_SQL).bind(event_id).fetch_one(&mut *tx).await?;
        // The booking's seats, locked before the payment (the common lock order): a cancel of
        // them either finishes first and is seen here, or waits and then sees them confirmed.
        let seats: Vec<(String, i64)> =
            sqlx::query_as(LOCK_BOOKING_SEATS_SQL).bind(booking_id).fetch_all(&mut *tx).await?;

        let row: Option<PaymentRow> = sqlx::query_as(CONFIRM_PAYMENT_SQL)
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
        // lapsed left its lapsed seats as they were, and they must not be sold; nor may the
        // seats of a show that has begun.
        let to_confirm_cents: i64 = seats
            .iter()
            .filter(|(status, _)| {
                status == ReservationStatus::Held.as_str() || status == ReservationStatus::Expired.as_str()
            })
            .map(|(_, price)| price)
            .sum();
        let canceled_since_checkout = to_confirm_cents != payment.amount_cents;
        let refusal = if canceled_since_checkout {
            Some(StoreError::seat_canceled_since_checkout())
        } else if parse_stored::<EventStatus>(&event_status)? == EventStatus::Canceled {
            Some(StoreError::paid_event_canceled())
        } else if start_time <= now {
            Some(StoreError::confirm_after_start())
        } else {
            None
        };
        if let Some(refusal) = refusal {
            tx.rollback().await?;
            return Err(refusal.into());
        }
        // The code's use, counted here or nowhere: exhausted, the whole confirm rolls back.
        if let Some(code_id) = payment.code_id
            && let Err(err) = count_code_use(&mut tx, code_id, payment.user_id).await
        {
            tx.rollback().await?;
            return Err(err);
        }

        sqlx::query(EXPIRE_OTHERS_LAPSED_SQL).bind(booking_id).bind(event_id).bind(now).execute(&mut *tx).await?;
        // Lapsed holds are confirmed too when their seat is still free. Nothing is checked first:
        // the partial unique index alone decides whether someone else now has a seat.
        let confirmed: Result<Vec<Uuid>, sqlx::Error> =
            sqlx::query_scalar(CONFIRM_SEATS_SQL).bind(booking_id).bind(now).fetch_all(&mut *tx).await;
        let refusal = match confirmed {
            Ok(reservation_ids) if !reservation_ids.is_empty() => {
                // A ticket for each seat just sold, in this transaction: no money without a ticket.
                issue_tickets(&mut tx, &reservation_ids, now).await?;
                None
            }
            Ok(_) => Some(StoreError::no_held_seats_to_pay_for()),
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
        outbox::booking_confirmed(&mut *tx, &payment, now).await?;
        tx.commit().await?;
        Ok(payment)
    }

    /// One decline, in one transaction that takes its locks in the common order: the booking's
    /// seats, then the payment, counted by one conditional increment that fails it at the last
    /// decline; the seats of a failed payment are then written down as `expired`.
    async fn record_decline_once(&self, id: Uuid, now: DateTime<Utc>) -> Result<Decline, TxError> {
        let mut tx = self.pool.begin().await?;
        // A payment's booking never changes, so it is read without a lock.
        let booking_id: Option<Uuid> = sqlx::query_scalar("SELECT booking_id FROM payments WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(booking_id) = booking_id else {
            return Err(StoreError::NotFound(Entity::Payment).into());
        };
        sqlx::query(LOCK_BOOKING_SEATS_SQL).bind(booking_id).execute(&mut *tx).await?;
        // Every SET expression reads the row as it was: both see the old count.
        let row: Option<DeclineRow> = sqlx::query_as(DECLINE_SQL)
            .bind(id)
            .bind(i64::from(MAX_DECLINES_PER_PAYMENT))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(DeclineRow { declines, payment }) = row else {
            return Err(Self::payment_refusal(&mut *tx, id).await.into());
        };
        let payment = payment.into_payment()?;
        if payment.status == PaymentStatus::Failed {
            // The hold ends with the payment: the seats are free at once, as a lapsed hold's are.
            sqlx::query(FREE_FAILED_SEATS_SQL).bind(booking_id).bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let declines =
            u32::try_from(declines).map_err(|_| StoreError::Internal(format!("{declines} declines on a payment")))?;
        Ok(Decline { payment, declines })
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

/// A payment with its count of declined cards, as `record_decline` returns it.
#[derive(sqlx::FromRow)]
struct DeclineRow {
    declines: i32,
    #[sqlx(flatten)]
    payment: PaymentRow,
}

/// The paid payments of bookings `$1`, locked in booking order: one probe per booking of its
/// payments (`payments_booking_idx`, or the partial unique index, whose condition `<> 'failed'`
/// is named), fenced by `LIMIT` (a booking has one open payment at most) so that no plan joins
/// `payments` by reading an index whole.
pub(super) const PAID_PAYMENTS_SQL: &str = "
SELECT p.id, p.booking_id, p.provider_ref, p.amount_cents, p.refunded_cents
FROM (SELECT b FROM unnest($1::uuid[]) AS b ORDER BY b) AS paid (booking_id)
CROSS JOIN LATERAL (
    SELECT x.* FROM payments x
    WHERE x.booking_id = paid.booking_id AND x.status <> 'failed' AND x.status IN ('succeeded', 'partially_refunded')
    LIMIT 1
    FOR UPDATE
) p";

/// Adds refunds (`$2`, in cents) to payments `$1` at `$3`. `p.id = ANY ($1)` repeats the join's
/// key as a condition of `payments` alone, so each payment is one probe of the primary key.
pub(super) const RECORD_REFUNDS_SQL: &str = "
UPDATE payments p
SET refunded_cents = p.refunded_cents + u.refund_cents,
    status = CASE WHEN p.refunded_cents + u.refund_cents = p.amount_cents THEN 'refunded' ELSE 'partially_refunded' END,
    updated_at = $3
FROM unnest($1::uuid[], $2::int8[]) AS u (id, refund_cents)
WHERE p.id = u.id AND p.id = ANY ($1)";

/// Records each booking's amount as refunded on its paid payment, capped at what is left of it,
/// inside the caller's transaction; the refunds to pay out, in booking order, and every refund
/// recorded (with or without a charge to pay it out against), for the audit log.
pub(super) async fn record_refunds(
    conn: &mut PgConnection,
    paid: &BTreeMap<Uuid, i64>,
    now: DateTime<Utc>,
) -> Result<(Vec<Refund>, Vec<RecordedRefund>), TxError> {
    if paid.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let booking_ids: Vec<Uuid> = paid.keys().copied().collect();
    // Locked first so the amounts computed below are the ones written. Confirmed seats without a
    // paid payment (none in normal operation) have nothing to give back.
    let payments: Vec<(Uuid, Uuid, Option<String>, i64, i64)> =
        sqlx::query_as(PAID_PAYMENTS_SQL).bind(&booking_ids).fetch_all(&mut *conn).await?;
    if payments.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }

    let mut payment_ids = Vec::with_capacity(payments.len());
    let mut amounts = Vec::with_capacity(payments.len());
    let mut refunds = Vec::new();
    let mut recorded = Vec::new();
    for (payment_id, booking_id, provider_ref, amount_cents, refunded_cents) in payments {
        let price_cents = paid.get(&booking_id).copied().unwrap_or(0);
        // An earlier refund (a provider's webhook) may have given part of it back already.
        let refund_cents = cancel_refund(price_cents, amount_cents, refunded_cents);
        payment_ids.push(payment_id);
        amounts.push(refund_cents);
        if refund_cents > 0 {
            let seats = Vec::new();
            recorded.push(RecordedRefund {
                payment_id,
                booking_id,
                refunded_before: refunded_cents,
                refund_cents,
                seats,
            });
        }
        // Without a provider reference there is no charge to refund against; the books are still right.
        if let Some(provider_ref) = provider_ref.filter(|_| refund_cents > 0) {
            refunds.push(Refund { payment_id, provider_ref, amount_cents: refund_cents });
        }
    }
    sqlx::query(RECORD_REFUNDS_SQL).bind(&payment_ids).bind(&amounts).bind(now).execute(&mut *conn).await?;
    Ok((refunds, recorded))
}

#[async_trait]
impl IdempotencyStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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
            .bind(idempotency_cutoff(now))
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
        let record = record.map(|(request_hash, status, body)| StoredIdempotency {
            request_hash,
            status: status.map(i64::from),
            body,
        });
        claim_answer(record, request_hash)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn release_idempotency_key(&self, user_id: Uuid, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
