//! Payments, refunds, webhook events and idempotency records on SQLite. Each write is one
//! `BEGIN IMMEDIATE` transaction (or one statement) on the writer. Unique indexes, not checks made
//! before a write, refuse a second open payment of a booking and a second delivery of a webhook
//! event; a conditional update that matched no row is explained afterwards (`payment_not_updated`).
//! A declined card is counted by a conditional increment that fails the payment at the last one.
//! The confirm issues the tickets of the seats it sells in its own transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::codes::count_code_use;
use super::rows::{PAYMENT_COLUMNS, enum_col, id_text, millis, payment_from_row, uuid_col};
use super::tickets::issue_tickets;
use crate::domain::{NewPayment, Page, Payment, PaymentStatus, PricedSeat, RecordedRefund, Refund, discount_shares};
use crate::store::outbox;
use crate::store::{
    Decline, Entity, IdempotencyClaim, IdempotencyStore, MAX_DECLINES_PER_PAYMENT, PaymentStore, StoreError,
    StoreResult, StoredIdempotency, cancel_refund, claim_answer, code_applies_to_no_seat, idempotency_cutoff,
};

#[async_trait]
impl PaymentStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_payment(&self, new: NewPayment, now: DateTime<Utc>) -> StoreResult<Payment> {
        let now_ms = millis(now);
        let booking_id = id_text(new.booking_id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;

        let start = sqlx::query(CHECKOUT_START_SQL).bind(&booking_id).fetch_optional(&mut *tx).await?;
        let Some(start) = start else {
            return Err(StoreError::NotFound(Entity::Booking));
        };
        // A hold placed just before the start may still run after it; the show is not for sale then.
        let start_ms: i64 = start.try_get("start_time")?;
        if start_ms <= now_ms {
            return Err(StoreError::checkout_after_start());
        }

        // Extend the hold first: only a hold still running may be extended, so a lapsed one is
        // not revived here. The `status IN (...)` term repeats the partial index's condition.
        let extended = sqlx::query(CHECKOUT_EXTEND_SQL)
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
            let row = sqlx::query(CHECKOUT_REFUSAL_SQL).bind(now_ms).bind(&booking_id).fetch_one(&mut *tx).await?;
            let (lapsed, confirmed): (i64, i64) = (row.try_get("lapsed")?, row.try_get("confirmed")?);
            return Err(if lapsed > 0 && confirmed == 0 {
                StoreError::HoldExpired
            } else {
                StoreError::no_held_seats_to_pay_for()
            });
        }

        // The amount comes from the prices the seats were held at, never from the caller.
        let row = sqlx::query(CHECKOUT_AMOUNT_SQL).bind(&booking_id).bind(now_ms).fetch_one(&mut *tx).await?;
        let gross_cents: i64 = row.try_get("amount_cents")?;
        let currency: Option<String> = row.try_get("currency")?;
        let currency = currency.ok_or_else(|| StoreError::Internal("an extended hold without seats".into()))?;
        // The code's discount, spread over the held seats it applies to; each seat keeps its share
        // (what a cancel of it will not refund). Without a code, shares of an earlier checkout
        // with one are cleared.
        let discount_cents: i64 = match &new.code {
            Some(code) => {
                let rows = sqlx::query(CHECKOUT_SEATS_SQL).bind(&booking_id).bind(now_ms).fetch_all(&mut *tx).await?;
                let seats: Vec<(String, String, String, i64)> = rows
                    .iter()
                    .map(|row| {
                        Ok((
                            row.try_get("id")?,
                            row.try_get("tier")?,
                            row.try_get("ticket_type")?,
                            row.try_get("price_cents")?,
                        ))
                    })
                    .collect::<StoreResult<_>>()?;
                let priced: Vec<PricedSeat<'_>> = seats
                    .iter()
                    .map(|(_, tier, ticket_type, price_cents)| PricedSeat {
                        tier,
                        ticket_type: Some(ticket_type),
                        price_cents: *price_cents,
                    })
                    .collect();
                let shares = discount_shares(code, &priced).ok_or_else(code_applies_to_no_seat)?;
                for ((id, _, _, _), share) in seats.iter().zip(&shares) {
                    sqlx::query(SET_DISCOUNT_SQL).bind(share).bind(id).execute(&mut *tx).await?;
                }
                shares.iter().sum()
            }
            None => {
                sqlx::query(CLEAR_DISCOUNTS_SQL).bind(&booking_id).execute(&mut *tx).await?;
                0
            }
        };
        let amount_cents = gross_cents - discount_cents;

        // No check for an open payment before this: the unique index alone decides, and its
        // refusal rolls the extension back with the transaction.
        let sql = format!(
            "INSERT INTO payments (id, booking_id, user_id, amount_cents, currency, status, provider, \
             refunded_cents, code_id, code, discount_cents, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?) RETURNING {PAYMENT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(id_text(new.id))
            .bind(&booking_id)
            .bind(id_text(new.user_id))
            .bind(amount_cents)
            .bind(&currency)
            .bind(&new.provider)
            .bind(new.code.as_ref().map(|code| id_text(code.id)))
            .bind(new.code.as_ref().map(|code| code.code.clone()))
            .bind(discount_cents)
            .bind(now_ms)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
        let payment = payment_from_row(&row)?;
        tx.commit().await?;
        Ok(payment)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = ?");
        let row = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&self.reader).await?;
        row.as_ref().map(payment_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_payments(&self, user_id: Option<Uuid>, page: Page) -> StoreResult<Vec<Payment>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {PAYMENT_COLUMNS} FROM payments"));
        if let Some(user_id) = user_id {
            qb.push(" WHERE user_id = ").push_bind(id_text(user_id));
        }
        qb.push(" ORDER BY created_at DESC, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(payment_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

        let row = sqlx::query(&confirm_payment_sql())
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
        // lapsed left its expired seats as they were, and they must not be sold; nor may the
        // seats of a show that has begun.
        let row =
            sqlx::query(CONFIRM_CHECK_SQL).bind(&booking_id).bind(now_ms).bind(&booking_id).fetch_one(&mut *tx).await?;
        let to_confirm_cents: i64 = row.try_get("to_confirm_cents")?;
        let event_canceled: bool = row.try_get("event_canceled")?;
        let event_started: bool = row.try_get("event_started")?;
        let refusal = if to_confirm_cents != payment.amount_cents {
            Some(StoreError::seat_canceled_since_checkout())
        } else if event_canceled {
            Some(StoreError::paid_event_canceled())
        } else if event_started {
            Some(StoreError::confirm_after_start())
        } else {
            None
        };
        if let Some(refusal) = refusal {
            tx.rollback().await?;
            return Err(refusal);
        }
        // The code's use, counted here or nowhere: exhausted, the whole confirm rolls back.
        if let Some(code_id) = payment.code_id
            && let Err(exhausted) = count_code_use(&mut tx, code_id, payment.user_id).await
        {
            tx.rollback().await?;
            return Err(exhausted);
        }

        // Someone else's lapsed hold on one of these seats must not block, as in `hold`: write
        // it down as expired so the index judges only holds that still run.
        sqlx::query(EXPIRE_OTHERS_LAPSED_SQL)
            .bind(now_ms)
            .bind(&booking_id)
            .bind(&booking_id)
            .bind(&booking_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;

        // Lapsed holds are confirmed too when their seat is still free. No availability check
        // before this: the partial unique index alone decides whether someone else has a seat.
        let confirmed = sqlx::query(CONFIRM_SEATS_SQL).bind(now_ms).bind(&booking_id).fetch_all(&mut *tx).await;
        let refusal = match confirmed {
            Ok(rows) if !rows.is_empty() => {
                // A ticket for each seat just sold, in this transaction: no money without a ticket.
                let reservation_ids = rows.iter().map(|row| row.try_get("id")).collect::<Result<Vec<String>, _>>()?;
                issue_tickets(&mut tx, &reservation_ids, now).await?;
                None
            }
            Ok(_) => Some(StoreError::no_held_seats_to_pay_for()),
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
        outbox::booking_confirmed(&mut *tx, &payment, now).await?;
        tx.commit().await?;
        Ok(payment)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn record_decline(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Decline> {
        let now_ms = millis(now);
        let payment_id = id_text(id);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // One conditional increment: only a pending payment counts a decline, and the last one
        // fails it in the same statement, so nothing can count past it.
        let row = sqlx::query(&decline_sql())
            .bind(i64::from(MAX_DECLINES_PER_PAYMENT))
            .bind(now_ms)
            .bind(&payment_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            let refusal = payment_not_updated(&mut tx, &payment_id).await;
            return Err(refusal);
        };
        let payment = payment_from_row(&row)?;
        let declines: i64 = row.try_get("declines")?;
        if payment.status == PaymentStatus::Failed {
            // The hold ends with the payment: the seats are free at once, as a lapsed hold's are.
            sqlx::query(FREE_FAILED_SEATS_SQL)
                .bind(now_ms)
                .bind(now_ms)
                .bind(id_text(payment.booking_id))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let declines = u32::try_from(declines).map_err(|_| StoreError::Internal(format!("{declines} declines")))?;
        Ok(Decline { payment, declines })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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
        outbox::payment_refunded(&mut *tx, &payment, now).await?;
        tx.commit().await?;
        Ok(payment)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn forget_webhook_event(&self, event_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_events WHERE id = ?").bind(event_id).execute(&self.writer).await?;
        Ok(())
    }
}

/// The error for a payment update that matched no row: no such payment, or the wrong status.
async fn payment_not_updated(conn: &mut SqliteConnection, id: &str) -> StoreError {
    match payment_status(conn, id).await {
        Ok(None) => StoreError::NotFound(Entity::Payment),
        Ok(Some(status)) => StoreError::payment_already(status),
        Err(err) => err,
    }
}

/// A payment's status, to explain why a conditional update of it changed nothing.
async fn payment_status(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<PaymentStatus>> {
    let row = sqlx::query("SELECT status FROM payments WHERE id = ?").bind(id).fetch_optional(&mut *conn).await?;
    row.map(|row| enum_col(&row, "status")).transpose()
}

// The statements of checkout, confirm and a declined card, by name so that `tests.rs` explains
// exactly what runs: each finds a booking's seats through `reservations_booking_idx`, another
// buyer's hold on a seat through `reservations_active_seat_uq`, a row of another table by its key.

/// The start of a booking's (`?`) event.
pub(super) const CHECKOUT_START_SQL: &str =
    "SELECT e.start_time FROM bookings b JOIN events e ON e.id = b.event_id WHERE b.id = ?";

/// Extends a booking's running holds to `?` (binds: until, now, booking, now). The booking's index
/// is named: a file analyzed while small had SQLite read every running hold through
/// `reservations_lapsing_idx` instead (`expires_at > ?`).
pub(super) const CHECKOUT_EXTEND_SQL: &str = "UPDATE reservations INDEXED BY reservations_booking_idx \
     SET expires_at = MAX(expires_at, ?), updated_at = ? \
     WHERE booking_id = ? AND status IN ('held', 'confirmed') AND status = 'held' AND expires_at > ?";

/// A booking's lapsed and paid seats, counted (binds: now, booking).
pub(super) const CHECKOUT_REFUSAL_SQL: &str = "SELECT COALESCE(SUM(status = 'expired' OR (status = 'held' AND expires_at <= ?)), 0) AS lapsed, \
     COALESCE(SUM(status = 'confirmed'), 0) AS confirmed FROM reservations WHERE booking_id = ?";

/// A booking's running holds, in seat order, to spread a code's discount over (binds: booking,
/// now), through the booking's index.
pub(super) const CHECKOUT_SEATS_SQL: &str = "SELECT r.id, s.tier, r.ticket_type, r.price_cents FROM reservations r \
     INDEXED BY reservations_booking_idx JOIN seats s ON s.id = r.seat_id \
     WHERE r.booking_id = ? AND r.status = 'held' AND r.expires_at > ? ORDER BY s.row_index, s.seat_number, r.id";

/// A seat's share of its payment's discount (binds: share, reservation).
pub(super) const SET_DISCOUNT_SQL: &str = "UPDATE reservations SET discount_cents = ? WHERE id = ?";

/// A booking's seats' shares of an earlier checkout's discount cleared (bind: booking).
pub(super) const CLEAR_DISCOUNTS_SQL: &str = "UPDATE reservations INDEXED BY reservations_booking_idx \
     SET discount_cents = 0 WHERE booking_id = ? AND discount_cents <> 0";

/// What a booking's running holds cost (binds: booking, now), through the booking's index.
pub(super) const CHECKOUT_AMOUNT_SQL: &str = "SELECT COALESCE(SUM(price_cents), 0) AS amount_cents, \
     MIN(currency) AS currency FROM reservations INDEXED BY reservations_booking_idx \
     WHERE booking_id = ? AND status = 'held' AND expires_at > ?";

/// A pending payment paid (binds: provider reference, last four digits, now, payment).
pub(super) fn confirm_payment_sql() -> String {
    format!(
        "UPDATE payments SET status = 'succeeded', provider_ref = ?, card_last4 = ?, updated_at = ? \
         WHERE id = ? AND status = 'pending' RETURNING {PAYMENT_COLUMNS}"
    )
}

/// What a confirm checks: the price of the seats it would sell, whether the event is canceled or
/// started (binds: booking, now, booking).
pub(super) const CONFIRM_CHECK_SQL: &str = "SELECT (SELECT COALESCE(SUM(price_cents - discount_cents), 0) FROM reservations \
     WHERE booking_id = ? AND status IN ('held', 'expired')) AS to_confirm_cents, \
     e.status = 'canceled' AS event_canceled, e.start_time <= ? AS event_started \
     FROM bookings b JOIN events e ON e.id = b.event_id WHERE b.id = ?";

/// Someone else's lapsed holds on a booking's seats written down as expired (binds: now, booking
/// three times, now): one probe of the seat index per seat (named: a file analyzed while empty
/// had SQLite read every lapsed hold through `reservations_lapsing_idx` instead).
pub(super) const EXPIRE_OTHERS_LAPSED_SQL: &str = "UPDATE reservations INDEXED BY reservations_active_seat_uq \
     SET status = 'expired', updated_at = ? \
     WHERE event_id = (SELECT event_id FROM bookings WHERE id = ?) \
       AND seat_id IN (SELECT seat_id FROM reservations INDEXED BY reservations_booking_idx WHERE booking_id = ?) \
       AND booking_id <> ? AND status IN ('held', 'confirmed') AND status = 'held' AND expires_at <= ?";

/// A booking's held and lapsed seats sold (binds: now, booking).
pub(super) const CONFIRM_SEATS_SQL: &str = "UPDATE reservations SET status = 'confirmed', updated_at = ? \
     WHERE booking_id = ? AND status IN ('held', 'expired') RETURNING id";

/// One declined card on a pending payment (binds: the last decline, now, payment).
pub(super) fn decline_sql() -> String {
    format!(
        "UPDATE payments SET declines = declines + 1, \
         status = CASE WHEN declines + 1 >= ? THEN 'failed' ELSE status END, updated_at = ? \
         WHERE id = ? AND status = 'pending' RETURNING declines, {PAYMENT_COLUMNS}"
    )
}

/// A failed payment's held seats freed (binds: now, now, booking).
pub(super) const FREE_FAILED_SEATS_SQL: &str = "UPDATE reservations SET status = 'expired', expires_at = MIN(expires_at, ?), updated_at = ? \
     WHERE booking_id = ? AND status IN ('held', 'confirmed') AND status = 'held'";

/// A booking's (`?`) paid payment: one probe of `payments_booking_open_uq`, whose condition
/// (`<> 'failed'`) is repeated so that SQLite may use it; without it, every payment was scanned.
pub(super) const PAID_PAYMENT_SQL: &str = "SELECT id, provider_ref, amount_cents, refunded_cents FROM payments \
     INDEXED BY payments_booking_open_uq \
     WHERE booking_id = ? AND status <> 'failed' AND status IN ('succeeded', 'partially_refunded')";

/// Records `price_cents` as refunded on the booking's paid payment, capped at what is left of
/// it; the refund to pay out, if there is money to send back through the provider, and the refund
/// recorded (with no seats yet), if any, for the audit log.
pub(super) async fn refund_on_payment(
    conn: &mut SqliteConnection,
    booking_id: &str,
    price_cents: i64,
    now: DateTime<Utc>,
) -> StoreResult<(Option<Refund>, Option<RecordedRefund>)> {
    let row = sqlx::query(PAID_PAYMENT_SQL).bind(booking_id).fetch_optional(&mut *conn).await?;
    // Confirmed seats without a paid payment (none in normal operation): nothing to give back.
    let Some(row) = row else { return Ok((None, None)) };
    let payment_id = uuid_col(&row, "id")?;
    let provider_ref: Option<String> = row.try_get("provider_ref")?;
    let amount: i64 = row.try_get("amount_cents")?;
    let refunded: i64 = row.try_get("refunded_cents")?;
    // Earlier refunds (a provider's webhook) may have given part of it back already.
    let refund = cancel_refund(price_cents, amount, refunded);
    let total = refunded + refund;
    let status = if total == amount { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
    sqlx::query("UPDATE payments SET refunded_cents = ?, status = ?, updated_at = ? WHERE id = ?")
        .bind(total)
        .bind(status.as_str())
        .bind(millis(now))
        .bind(id_text(payment_id))
        .execute(&mut *conn)
        .await?;
    let booking_id = Uuid::parse_str(booking_id)
        .map_err(|_| StoreError::Internal(format!("a stored booking id `{booking_id}` is not a uuid")))?;
    let recorded = (refund > 0).then(|| RecordedRefund {
        payment_id,
        booking_id,
        refunded_before: refunded,
        refund_cents: refund,
        seats: Vec::new(),
    });
    // Without a provider reference there is no charge to refund against; the books are still right.
    let payout = provider_ref.filter(|_| refund > 0).map(|provider_ref| Refund {
        payment_id,
        provider_ref,
        amount_cents: refund,
    });
    Ok((payout, recorded))
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn claim_idempotency_key(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim> {
        let user_id = id_text(user_id);
        let expired_before = millis(idempotency_cutoff(now));
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND created_at < ?")
            .bind(&user_id)
            .bind(key)
            .bind(expired_before)
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
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let record = match row {
            None => None,
            Some(row) => Some(StoredIdempotency {
                request_hash: row.try_get("request_hash")?,
                status: row.try_get("status_code")?,
                body: row.try_get("response_body")?,
            }),
        };
        claim_answer(record, request_hash)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
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

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn release_idempotency_key(&self, user_id: Uuid, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = ? AND key = ?")
            .bind(id_text(user_id))
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
