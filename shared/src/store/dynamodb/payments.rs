//! Payments on DynamoDB. A booking has at most one open payment: its booking item names it
//! (`open_payment`, set only where absent). Checkout, confirm and fail are each one transaction
//! conditioned on the state they were decided from: confirm turns the payment `succeeded` and every
//! seat of the booking `confirmed` at once, issuing each seat's ticket in the same transaction, and
//! a seat someone else holds or bought now refuses it whole (`HoldExpired`). A declined card is counted by an `UpdateItem ADD` conditioned on the
//! payment being pending; the last one is a transaction that fails the payment and frees its seats.

use async_trait::async_trait;

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use std::collections::HashMap;

use super::codes::code_use_writes;
use super::hold_extension::held_expiry_writes;
use super::holds::{kept_conflicting, seat_partitions, status_values};
use super::items::*;
use super::messages::message_put;
use super::tickets::{holder_name, issued_ticket};
use super::users::paged;
use super::webhooks::event_puts;
use super::{
    Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, Returned, TxItem, Updated, is_condition_failure, sdk_error,
};
use crate::domain::{
    EventStatus, MessageFacts, NewPayment, Page, Payment, PaymentStatus, PricedSeat, ReservationStatus, discount_shares,
};
use crate::store::Entity;
use crate::store::outbox::refunded_notice;
use crate::store::{Decline, MAX_DECLINES_PER_PAYMENT, PaymentStore, StoreError, StoreResult, code_applies_to_no_seat};

fn user_payments_pk(user_id: Uuid) -> String {
    format!("USER#{user_id}#PAY")
}

/// Where every payment is listed, for admins.
const PAYMENTS_INDEX: &str = "PAYMENTS";

fn already(payment: &Payment) -> StoreError {
    StoreError::payment_already(payment.status)
}

/// The condition under which a confirm may take a seat: it is free (as for a new hold), or it is
/// still this reservation's own hold, lapsed or not.
const SEAT_IS_FREE_OR_MINE: &str =
    "attribute_not_exists(#pk) OR #st IN (:canceled, :expired) OR (#st = :held AND (#exp <= :now OR #rid = :rid))";

impl DynamoStore {
    async fn stored_payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        self.get(payment_key(id)).await?.as_ref().map(payment_from).transpose()
    }

    /// Counts a decline that is not the payment's last: one `UpdateItem ADD`, conditioned on the
    /// payment being pending with fewer declines than the last, so concurrent declines are each
    /// counted without a read. `None` when the condition refused it (no such payment, not
    /// pending, or this one would be the last).
    async fn count_decline(&self, id: Uuid, now: DateTime<Utc>, budget: &mut Budget) -> StoreResult<Option<Decline>> {
        // Declines counted before the last one; a payment that has none has no attribute yet.
        let before_last = i64::from(MAX_DECLINES_PER_PAYMENT) - 1;
        let condition = if before_last > 0 {
            "#st = :pending AND (attribute_not_exists(#declines) OR #declines < :before_last)"
        } else {
            "#st = :pending AND #declines < :before_last"
        };
        let update = "ADD #declines :one SET #updated = :now";
        loop {
            let values = vec![
                (":one", n(1)),
                (":now", n(ms(now))),
                (":pending", s(PaymentStatus::Pending.as_str())),
                (":before_last", n(before_last)),
            ];
            match self.update_if(payment_key(id), update, condition, values, Returned::New).await? {
                Updated::Written(item) => {
                    let item = item.ok_or_else(|| StoreError::Internal("a decline returned no payment".into()))?;
                    let declines = get_n(&item, "declines")?;
                    return Ok(Some(Decline {
                        payment: payment_from(&item)?,
                        declines: u32::try_from(declines).map_err(|_| corrupt("declines", &declines.to_string()))?,
                    }));
                }
                Updated::Refused(_) => return Ok(None),
                // The last decline's transaction (or a confirm's) is in flight on the payment.
                Updated::InTransaction(_) => budget.pause("recording the decline").await?,
            }
        }
    }

    /// The last decline, in one transaction: the payment (still pending with `seen` declines)
    /// turns `failed`, the booking's open payment is cleared as `fail_payment` does, and each seat
    /// held until later is written down `expired` now (free at once; a lapsed one already is).
    /// `None` when a condition found the state changed since it was read.
    async fn fail_at_last_decline(
        &self,
        payment: &Payment,
        seen: i64,
        now: DateTime<Utc>,
        budget: &mut Budget,
    ) -> StoreResult<Option<Decline>> {
        let now_ms = ms(now);
        let Some((_, reservations)) = self.booking_with_seats(payment.booking_id, now).await? else {
            return Err(StoreError::Internal("a payment's booking is missing".into()));
        };
        let spks = seat_partitions(&reservations);
        let counted = if seen == 0 { "attribute_not_exists(#declines)" } else { "#declines = :seen" };
        let mut values = vec![
            (":failed", s(PaymentStatus::Failed.as_str())),
            (":pending", s(PaymentStatus::Pending.as_str())),
            (":max", n(i64::from(MAX_DECLINES_PER_PAYMENT))),
            (":now", n(now_ms)),
        ];
        if seen > 0 {
            values.push((":seen", n(seen)));
        }
        let mut writes = vec![
            TxItem::update(
                &self.table,
                payment_key(payment.id),
                "SET #st = :failed, #declines = :max, #updated = :now",
                Some(&format!("#st = :pending AND {counted}")),
                values,
            )?,
            TxItem::update(
                &self.table,
                booking_key(payment.booking_id),
                "REMOVE #open_payment",
                Some("#open_payment = :pid"),
                vec![(":pid", s(payment.id.to_string()))],
            )?,
        ];
        for r in reservations.iter().filter(|r| r.reservation.status == ReservationStatus::Held) {
            let spk = spks.get(&r.reservation.id).ok_or_else(|| corrupt("reservation", "no seat partition"))?;
            let values = vec![
                (":expired", s(ReservationStatus::Expired.as_str())),
                (":held", s(ReservationStatus::Held.as_str())),
                (":exp", n(r.expires_ms)),
                (":now", n(now_ms)),
            ];
            writes.push(TxItem::update(
                &self.table,
                reservation_key(r.reservation.id),
                "SET #st = :expired, #exp = :now",
                Some("#st = :held AND #exp = :exp"),
                values.clone(),
            )?);
            let mut seat_values = values;
            seat_values.push((":rid", s(r.reservation.id.to_string())));
            writes.push(TxItem::update(
                &self.table,
                Self::seat_state_of(r, spk),
                "SET #st = :expired, #exp = :now REMOVE #gsi1pk, #gsi1sk",
                Some("#rid = :rid AND #st = :held AND #exp = :exp"),
                seat_values,
            )?);
        }
        // 2 + 2n items, 22 for the largest booking: well within `TRANSACT_MAX_ITEMS` (100).
        match self.transact(budget, writes).await? {
            Ok(()) => Ok(Some(Decline {
                payment: Payment { status: PaymentStatus::Failed, updated_at: from_ms(now_ms)?, ..payment.clone() },
                declines: MAX_DECLINES_PER_PAYMENT,
            })),
            // A concurrent decline, confirm, cancel or sweep got there first.
            Err(canceled) if canceled.any_condition_failed() => Ok(None),
            Err(_) => Err(kept_conflicting("recording the decline")),
        }
    }
}

#[async_trait]
impl PaymentStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_payment(&self, new: NewPayment, now: DateTime<Utc>) -> StoreResult<Payment> {
        let now_ms = ms(now);
        let hold_until_ms = ms(new.hold_until);
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some((booking, reservations)) = self.booking_with_seats(new.booking_id, now).await? else {
                return Err(StoreError::NotFound(Entity::Booking));
            };
            // A hold placed just before the start may still run after it; the show is not for sale
            // then. Read, not conditioned: the confirm's gate check is what keeps a started show
            // from being charged, and a check here would take one more item of the transaction.
            let event =
                self.stored_event(get_uuid(&booking, "eid")?).await?.ok_or(StoreError::NotFound(Entity::Event))?;
            if event.event.start_time <= now {
                return Err(StoreError::checkout_after_start());
            }
            let held: Vec<&StoredReservation> = reservations
                .iter()
                .filter(|r| r.stored_status == ReservationStatus::Held && r.expires_ms > now_ms)
                .collect();
            if held.is_empty() {
                let lapsed = reservations.iter().any(|r| r.reservation.status == ReservationStatus::Expired);
                let confirmed = reservations.iter().any(|r| r.stored_status == ReservationStatus::Confirmed);
                // The buyer may pick seats again; a paid or canceled booking is another matter.
                return Err(if lapsed && !confirmed {
                    StoreError::HoldExpired
                } else {
                    StoreError::no_held_seats_to_pay_for()
                });
            }
            let gross: i64 = held.iter().map(|r| r.reservation.price_cents).sum();
            // The code's discount, spread over the held seats (in seat order) it applies to; each
            // seat keeps its share, which a cancel of it does not refund (0 without a code).
            let shares: HashMap<Uuid, i64> = match &new.code {
                Some(code) => {
                    let mut ordered = held.clone();
                    ordered.sort_by_key(|r| (r.row_index, r.reservation.seat.seat_number, r.reservation.id));
                    let priced: Vec<PricedSeat<'_>> = ordered
                        .iter()
                        .map(|r| PricedSeat {
                            tier: &r.reservation.seat.tier,
                            ticket_type: Some(&r.reservation.ticket_type),
                            price_cents: r.reservation.price_cents,
                        })
                        .collect();
                    let shares = discount_shares(code, &priced).ok_or_else(code_applies_to_no_seat)?;
                    ordered.iter().map(|r| r.reservation.id).zip(shares).collect()
                }
                None => HashMap::new(),
            };
            let discount: i64 = shares.values().sum();
            let amount = gross - discount;
            let currency = held.iter().map(|r| r.reservation.currency.clone()).min().unwrap_or_default();
            let mut item = payment_key(new.id);
            item.extend([
                ("id".to_owned(), s(new.id.to_string())),
                ("bid".to_owned(), s(new.booking_id.to_string())),
                ("uid".to_owned(), s(new.user_id.to_string())),
                ("amount".to_owned(), n(amount)),
                ("currency".to_owned(), s(currency)),
                ("st".to_owned(), s(PaymentStatus::Pending.as_str())),
                ("provider".to_owned(), s(&new.provider)),
                ("refunded".to_owned(), n(0)),
                ("created".to_owned(), n(now_ms)),
                ("updated".to_owned(), n(now_ms)),
                ("gsi1pk".to_owned(), s(user_payments_pk(new.user_id))),
                ("gsi1sk".to_owned(), s(time_key(now_ms, &new.id.to_string()))),
                ("gsi2pk".to_owned(), s(PAYMENTS_INDEX)),
                ("gsi2sk".to_owned(), s(time_key(now_ms, &new.id.to_string()))),
                ("discount".to_owned(), n(discount)),
            ]);
            if let Some(code) = &new.code {
                item.insert("code_id".to_owned(), s(code.id.to_string()));
                item.insert("code".to_owned(), s(&code.code));
            }
            let payment = payment_from(&item)?;
            // 2 + 2n items and the hold slots, 23 for the largest booking: well within `TRANSACT_MAX_ITEMS` (100).
            let mut writes: Vec<TransactWriteItem> = vec![
                TxItem::update(
                    &self.table,
                    booking_key(new.booking_id),
                    "SET #open_payment = :pid",
                    Some("attribute_exists(#pk) AND attribute_not_exists(#open_payment)"),
                    vec![(":pid", s(new.id.to_string()))],
                )?,
                TxItem::put(&self.table, item, Some("attribute_not_exists(pk)"), vec![])?,
            ];
            // Extended, never shortened; the held seats' hold slots move with their holds.
            let (moves, moves_slots_index) = held_expiry_writes(
                &self.table,
                &reservations,
                &held,
                |r| r.expires_ms.max(hold_until_ms),
                |r| Some(shares.get(&r.reservation.id).copied().unwrap_or(0)),
            )?;
            let slots_index = writes.len() + moves_slots_index;
            writes.extend(moves);
            match self.transact(&mut budget, writes).await? {
                Ok(()) => return Ok(payment),
                Err(canceled) if canceled.condition_failed(0) => {
                    return Err(StoreError::payment_already_open());
                }
                // A newer hold of the user took a slot of this one: by that hold's clock this one
                // had lapsed (a checkout and a hold racing across the instant it ended).
                Err(canceled) if canceled.condition_failed(slots_index) => return Err(StoreError::HoldExpired),
                // A seat changed since it was read (canceled, swept): decide again.
                Err(canceled) if canceled.any_condition_failed() => {}
                Err(_) => return Err(kept_conflicting("checkout")),
            }
        }
        Err(kept_conflicting("checkout"))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        self.stored_payment(id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_payments(&self, user_id: Option<Uuid>, page: Page) -> StoreResult<Vec<Payment>> {
        let items = match user_id {
            Some(user_id) => self.query_all(Query::gsi1(&user_payments_pk(user_id))).await?,
            None => self.query_all(Query::gsi2(PAYMENTS_INDEX)).await?,
        };
        let mut payments = items.iter().map(payment_from).collect::<StoreResult<Vec<_>>>()?;
        payments.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(paged(payments, page))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn confirm_payment(
        &self,
        id: Uuid,
        provider_ref: &str,
        card_last4: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        let now_ms = ms(now);
        let mut budget = Budget::new();
        // The name on the tickets, read once: it decides nothing, so it needs no condition.
        let mut holder = None;
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(payment) = self.stored_payment(id).await? else {
                return Err(StoreError::NotFound(Entity::Payment));
            };
            if payment.status != PaymentStatus::Pending {
                return Err(already(&payment));
            }
            let holder = match &holder {
                Some(name) => name,
                None => {
                    let user = self
                        .get(user_key(payment.user_id))
                        .await?
                        .ok_or_else(|| StoreError::Internal("a payment's user is missing".into()))?;
                    holder.insert(holder_name(&user_from(&user)?))
                }
            };
            let Some((booking, reservations)) = self.booking_with_seats(payment.booking_id, now).await? else {
                return Err(StoreError::Internal("a payment's booking is missing".into()));
            };
            let event_id = get_uuid(&booking, "eid")?;
            let event = self.stored_event(event_id).await?.ok_or(StoreError::NotFound(Entity::Event))?;
            // A seat canceled since checkout was priced in and would be paid for and never sold: the
            // seats still to confirm must add up to the amount. Prices, not clocks, tell them apart.
            let to_confirm: Vec<&StoredReservation> = reservations
                .iter()
                .filter(|r| matches!(r.stored_status, ReservationStatus::Held | ReservationStatus::Expired))
                .collect();
            let cents: i64 = to_confirm.iter().map(|r| r.paid_cents()).sum();
            if cents != payment.amount_cents {
                return Err(StoreError::seat_canceled_since_checkout());
            }
            if event.event.status == EventStatus::Canceled {
                return Err(StoreError::paid_event_canceled());
            }
            if event.event.start_time <= now {
                return Err(StoreError::confirm_after_start());
            }
            if to_confirm.is_empty() {
                return Err(StoreError::no_held_seats_to_pay_for());
            }
            let spks = seat_partitions(&reservations);
            // Empty text is left out of items (DynamoDB Local refuses empty strings): an empty
            // reference or card ending is removed rather than written.
            let mut sets = vec!["#st = :succeeded", "#updated = :now"];
            let mut removes = Vec::new();
            let mut values = vec![
                (":succeeded", s(PaymentStatus::Succeeded.as_str())),
                (":pending", s(PaymentStatus::Pending.as_str())),
                (":now", n(now_ms)),
            ];
            for (attribute, set, placeholder, value) in [
                ("#provider_ref", "#provider_ref = :ref", ":ref", provider_ref),
                ("#last4", "#last4 = :last4", ":last4", card_last4),
            ] {
                if value.is_empty() {
                    removes.push(attribute);
                } else {
                    sets.push(set);
                    values.push((placeholder, s(value)));
                }
            }
            let mut update = format!("SET {}", sets.join(", "));
            if !removes.is_empty() {
                update.push_str(&format!(" REMOVE {}", removes.join(", ")));
            }
            // 1 + 3n + 2 items (the outbox message last), 33 for the largest booking: well within
            // `TRANSACT_MAX_ITEMS` (100).
            let mut writes =
                vec![TxItem::update(&self.table, payment_key(id), &update, Some("#st = :pending"), values)?];
            // Each confirmed seat gets a ticket in this transaction: no money without a ticket, no
            // ticket without money. Its id goes on the reservation, where a cancel finds it.
            let ticket_ids: Vec<Uuid> = to_confirm.iter().map(|_| Uuid::new_v4()).collect();
            for (r, ticket_id) in to_confirm.iter().zip(&ticket_ids) {
                writes.push(TxItem::update(
                    &self.table,
                    reservation_key(r.reservation.id),
                    "SET #st = :confirmed, #tid = :tid",
                    Some("#st = :st AND #exp = :exp"),
                    vec![
                        (":confirmed", s(ReservationStatus::Confirmed.as_str())),
                        (":tid", s(ticket_id.to_string())),
                        (":st", s(r.stored_status.as_str())),
                        (":exp", n(r.expires_ms)),
                    ],
                )?);
            }
            let mut gate = None;
            for r in &to_confirm {
                let spk = spks.get(&r.reservation.id).ok_or_else(|| corrupt("reservation", "no seat partition"))?;
                gate.get_or_insert_with(|| spk.clone());
                // Lapsed holds are confirmed too when their seat is still free; the condition alone
                // decides whether someone else has it now.
                let mut values = status_values(now_ms);
                values.extend([
                    (":confirmed", s(ReservationStatus::Confirmed.as_str())),
                    (":rid", s(r.reservation.id.to_string())),
                    (":bid", s(r.reservation.booking_id.to_string())),
                    (":seat", s(r.reservation.seat_id.to_string())),
                    (":exp", n(r.expires_ms)),
                ]);
                writes.push(TxItem::update(
                    &self.table,
                    Self::seat_state_of(r, spk),
                    "SET #st = :confirmed, #rid = :rid, #bid = :bid, #seat_id = :seat, #exp = :exp \
                     REMOVE #gsi1pk, #gsi1sk",
                    Some(SEAT_IS_FREE_OR_MINE),
                    values,
                )?);
            }
            let seats = 1 + to_confirm.len()..writes.len();
            for (r, ticket_id) in to_confirm.iter().zip(&ticket_ids) {
                let ticket = issued_ticket(r, *ticket_id, holder, now_ms);
                writes.push(TxItem::put(&self.table, ticket, Some("attribute_not_exists(pk)"), vec![])?);
            }
            let tickets = seats.end..writes.len();
            // One gate of the event is enough: a cancel or a reschedule of the event moves them all
            // in one step. It also keeps a show that began from being sold.
            let gate_index = writes.len();
            if let Some(spk) = gate {
                writes.push(TxItem::check(
                    &self.table,
                    key(spk, "GATE"),
                    "#st = :on_sale AND #start > :now",
                    vec![(":on_sale", s(EventStatus::OnSale.as_str())), (":now", n(now_ms))],
                )?);
            }
            // The code's use, counted in this transaction or not at all.
            let code_index = writes.len();
            if let Some(code_id) = payment.code_id {
                let code = self.code_item(code_id).await?.ok_or(StoreError::CodeExhausted)?;
                writes.extend(code_use_writes(&self.table, &code, payment.user_id)?);
            }
            let confirmed = MessageFacts::BookingConfirmed { booking_id: payment.booking_id, payment_id: id };
            writes.extend(event_puts(&self.table, Some(payment.user_id), &confirmed, now)?);
            writes.push(message_put(&self.table, Some(payment.user_id), confirmed, now)?);
            match self.transact(&mut budget, writes).await? {
                Ok(()) => {
                    let updated_at = from_ms(now_ms)?;
                    return Ok(Payment {
                        status: PaymentStatus::Succeeded,
                        card_last4: Some(card_last4.to_owned()).filter(|last4| !last4.is_empty()),
                        updated_at,
                        ..payment
                    });
                }
                // The payment or a seat's record changed since it was read: decide again.
                Err(canceled) if (0..=to_confirm.len()).any(|i| canceled.condition_failed(i)) => {}
                // The event was canceled or moved since it was read: read it again and decide again.
                Err(canceled) if canceled.condition_failed(gate_index) => {}
                // The account has used the code up; nothing stays.
                Err(canceled) if payment.code_id.is_some() && canceled.condition_failed(code_index + 1) => {
                    return Err(StoreError::CodeExhausted);
                }
                // The code is used up, or its limits changed since it was read: decide again.
                Err(canceled) if payment.code_id.is_some() && canceled.condition_failed(code_index) => {
                    if let Some(code_id) = payment.code_id
                        && self.code_used_up(code_id).await?
                    {
                        return Err(StoreError::CodeExhausted);
                    }
                }
                // Nothing stays: the payment remains pending and the other buyer's seat untouched.
                Err(canceled) if seats.clone().any(|i| canceled.condition_failed(i)) => {
                    return Err(StoreError::HoldExpired);
                }
                // A fresh random id already taken: a bug or a broken random source, never a race.
                Err(canceled) if tickets.clone().any(|i| canceled.condition_failed(i)) => {
                    return Err(StoreError::Internal("a new ticket's id was already used".into()));
                }
                Err(_) => return Err(kept_conflicting("confirming the payment")),
            }
        }
        Err(kept_conflicting("confirming the payment"))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn record_decline(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Decline> {
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            if let Some(counted) = self.count_decline(id, now, &mut budget).await? {
                return Ok(counted);
            }
            // Refused: no such payment, one that is not pending, or this decline is its last.
            let Some(item) = self.get(payment_key(id)).await? else {
                return Err(StoreError::NotFound(Entity::Payment));
            };
            let payment = payment_from(&item)?;
            if payment.status != PaymentStatus::Pending {
                return Err(already(&payment));
            }
            let seen = opt_n(&item, "declines")?.unwrap_or(0);
            if seen + 1 >= i64::from(MAX_DECLINES_PER_PAYMENT)
                && let Some(failed) = self.fail_at_last_decline(&payment, seen, now, &mut budget).await?
            {
                return Ok(failed);
            }
            // Something changed since it was read: decide again.
        }
        Err(kept_conflicting("recording the decline"))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn fail_payment(&self, id: Uuid, refunded_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(payment) = self.stored_payment(id).await? else {
                return Err(StoreError::NotFound(Entity::Payment));
            };
            if payment.status != PaymentStatus::Pending {
                return Err(already(&payment));
            }
            // Capped at the amount: more cannot have been given back than was taken.
            let refunded = refunded_cents.clamp(0, payment.amount_cents);
            let now_ms = ms(now);
            let mut writes = vec![
                TxItem::update(
                    &self.table,
                    payment_key(id),
                    "SET #st = :failed, #refunded = :refunded, #updated = :now",
                    Some("#st = :pending"),
                    vec![
                        (":failed", s(PaymentStatus::Failed.as_str())),
                        (":pending", s(PaymentStatus::Pending.as_str())),
                        (":refunded", n(refunded)),
                        (":now", n(now_ms)),
                    ],
                )?,
                // A failed payment is not open: the booking, if still held, may be checked out again.
                TxItem::update(
                    &self.table,
                    booking_key(payment.booking_id),
                    "REMOVE #open_payment",
                    Some("#open_payment = :pid"),
                    vec![(":pid", s(id.to_string()))],
                )?,
            ];
            if let Some(refunded) = refunded_notice(payment.booking_id, id, refunded) {
                writes.extend(event_puts(&self.table, Some(payment.user_id), &refunded, now)?);
                writes.push(message_put(&self.table, Some(payment.user_id), refunded, now)?);
            }
            match self.transact(&mut budget, writes).await? {
                Ok(()) => {
                    return Ok(Payment {
                        status: PaymentStatus::Failed,
                        refunded_cents: refunded,
                        updated_at: from_ms(now_ms)?,
                        ..payment
                    });
                }
                Err(canceled) if canceled.any_condition_failed() => {}
                Err(_) => return Err(kept_conflicting("failing the payment")),
            }
        }
        Err(kept_conflicting("failing the payment"))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn record_refund(&self, id: Uuid, amount_cents: i64, now: DateTime<Utc>) -> StoreResult<Payment> {
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(payment) = self.stored_payment(id).await? else {
                return Err(StoreError::NotFound(Entity::Payment));
            };
            if !matches!(payment.status, PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded) {
                return Err(already(&payment));
            }
            let refunded = payment.amount_cents.min(payment.refunded_cents + amount_cents.max(0));
            let status = if refunded == payment.amount_cents {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::PartiallyRefunded
            };
            let update = "SET #refunded = :refunded, #st = :new_st, #updated = :now";
            let condition = "#st = :st AND #refunded = :old";
            let values = vec![
                (":refunded", n(refunded)),
                (":new_st", s(status.as_str())),
                (":now", n(ms(now))),
                (":st", s(payment.status.as_str())),
                (":old", n(payment.refunded_cents)),
            ];
            let updated = self.update_if(payment_key(id), update, condition, values, Returned::New).await?;
            // `None`: another refund or a cancellation changed it meanwhile; decide again.
            if let Some(item) = updated.written_item("a refund")? {
                return payment_from(&item);
            }
        }
        Err(kept_conflicting("recording the refund"))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn record_webhook_event(&self, event_id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut item = webhook_key(event_id);
        item.insert("received".to_owned(), n(ms(now)));
        // The key decides which of two deliveries is the first.
        let _slot = self.slots.take().await?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(sdk_error(err)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn forget_webhook_event(&self, event_id: &str) -> StoreResult<()> {
        let _slot = self.slots.take().await?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(webhook_key(event_id)))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
