//! Seat holds, reservations and bookings on DynamoDB. A hold is one `TransactWriteItems`: per seat
//! a seat-state put that only a free, canceled, expired or lapsed seat admits, per seat a
//! reservation record, the booking, a check of each touched partition's gate (event on sale,
//! not started), and an update of the user's hold slots for the event that only free slots admit
//! (the per-user limit, see `HoldSlots`). DynamoDB's cancellation reasons say which seats were
//! lost; a seat the hold's own consistent read already shows taken, or a limit it shows reached,
//! is refused without a write. Cancels, expiry and refunds are transactions conditioned on the
//! state they were decided from; when it changed meanwhile, they read again and decide again. A
//! cancel revokes the tickets of the paid seats it cancels in its own transaction, and offers the
//! seats it frees to the event's waiting list in it (`waitlist.rs`); the sweep is `sweep.rs`.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::audit_put;
use super::catalog::{SeatStateItem, event_from};
use super::hold_slots::{HoldSlots, claim_slots};
use super::items::*;
use super::messages::message_put;
use super::tickets::revoke_ticket;
use super::users::paged;
use super::waitlist::{OfferedSeat, Offers};
use super::webhooks::event_puts;
use super::{Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, Returned, Tx, TxItem, Values};
use crate::domain::{
    Actor, AuditRecord, Booking, EventStatus, HoldExtension, HoldRequest, Payment, PaymentStatus, RecordedRefund,
    Refund, Reservation, ReservationFilter, ReservationStatus, SeatAttribute, SeatLabel, held_back_refusal,
    may_hold_held_back,
};
use crate::store::outbox::CanceledSeats;
use crate::store::rules::typed_price;
use crate::store::{Cancellation, HoldStore, StoreError, StoreResult};
use crate::store::{Entity, cancel_refund};

/// The condition that admits a new hold on a seat: nobody ever held it, its last hold was
/// canceled or expired, or that hold has lapsed (decided here, at write time, not by a sweeper).
pub(super) const SEAT_IS_FREE: &str =
    "attribute_not_exists(#pk) OR #st IN (:canceled, :expired) OR (#st = :held AND #exp <= :now)";

pub(super) fn status_values(now_ms: i64) -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":canceled", s(ReservationStatus::Canceled.as_str())),
        (":expired", s(ReservationStatus::Expired.as_str())),
        (":held", s(ReservationStatus::Held.as_str())),
        (":now", n(now_ms)),
    ]
}

fn user_reservations_pk(user_id: Uuid) -> String {
    format!("USER#{user_id}#RES")
}

fn event_reservations_pk(event_id: Uuid) -> String {
    format!("EVENT#{event_id}#RES")
}

/// What a cancellation found to cancel and did.
pub(super) struct Canceled {
    pub reservations: Vec<StoredReservation>,
    pub canceled_ids: BTreeSet<Uuid>,
    pub booking: Item,
    pub refunds: Vec<Refund>,
}

/// A hold's condition on its event's gate: on sale, not started, open (`opens` reached or none).
const GATE_OPEN: &str = "#st = :on_sale AND #start > :now AND (attribute_not_exists(#opens) OR #opens <= :now)";
/// The same for a hold with no admission of a waiting room: the event must have none enabled.
const GATE_OPEN_WITHOUT_QUEUE: &str = "#st = :on_sale AND #start > :now AND (attribute_not_exists(#opens) OR #opens <= :now) AND attribute_not_exists(#queued)";
/// `GATE_OPEN` for a hold whose access code unlocks the presale: the opening is not waited for.
const GATE_PRESALE: &str = "#st = :on_sale AND #start > :now";
/// `GATE_OPEN_WITHOUT_QUEUE` for a presale hold.
const GATE_PRESALE_WITHOUT_QUEUE: &str = "#st = :on_sale AND #start > :now AND attribute_not_exists(#queued)";
/// Added to the gate's condition for a hold naming wheelchair spaces or companion seats that it may
/// not take while they are held back (not an accessible hold of an accessible party): the event's
/// accessible release (`release`, epoch ms: the start less `accessible_release_hours`) is past, or
/// it holds nothing back.
const GATE_RELEASED: &str = " AND (attribute_not_exists(#release) OR #release <= :now)";

impl DynamoStore {
    /// A booking item and its reservations, read strongly consistently.
    pub(super) async fn booking_with_seats(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Item, Vec<StoredReservation>)>> {
        let Some(item) = self.get(booking_key(id)).await? else {
            return Ok(None);
        };
        let keys = reservation_ids(&item)?.into_iter().map(reservation_key).collect();
        let seats = self.batch_get(keys).await?.iter().map(|r| reservation_from(r, now)).collect::<StoreResult<_>>()?;
        Ok(Some((item, seats)))
    }

    /// The key of a reservation's seat-state item (stored on the reservation).
    pub(super) fn seat_state_of(r: &StoredReservation, item_spk: &str) -> Item {
        key(item_spk.to_owned(), &format!("SEAT#{}", r.reservation.seat_id))
    }

    /// Cancels the active seats of a booking (all of them, or `only` one) in one transaction that
    /// also records the refund of the paid ones on the booking's payment, and writes its notice
    /// (what `canceled` says was canceled). `Ok(None)` when there is nothing active to cancel;
    /// `NotFound` when there is no such booking.
    pub(super) async fn cancel_seats(
        &self,
        booking_id: Uuid,
        only: Option<Uuid>,
        canceled: CanceledSeats,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Option<Canceled>> {
        let now_ms = ms(now);
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some((booking, reservations)) = self.booking_with_seats(booking_id, now).await? else {
                return Err(StoreError::NotFound(Entity::Booking));
            };
            let spks = seat_partitions(&reservations);
            let active: Vec<&StoredReservation> = reservations
                .iter()
                .filter(|r| only.is_none_or(|id| r.reservation.id == id) && r.reservation.status.is_active())
                .collect();
            if active.is_empty() {
                return Ok(None);
            }
            // What was paid for the confirmed seats: their price less their share of a code's discount.
            let paid: i64 = active
                .iter()
                .filter(|r| r.reservation.status == ReservationStatus::Confirmed)
                .map(|r| r.paid_cents())
                .sum();
            let payment = match (paid > 0, opt_s(&booking, "open_payment")) {
                (true, Some(payment_id)) => {
                    let id = Uuid::parse_str(&payment_id).map_err(|_| corrupt("payment id", &payment_id))?;
                    self.get(payment_key(id)).await?.map(|item| stored_payment_from(&item)).transpose()?
                }
                _ => None,
            };
            // The freed seats go to the event's waiting list first (not when the event itself is
            // canceled): an offered seat's state passes straight to the offer's booking.
            let offers = match canceled {
                CanceledSeats::Event(_) => Offers::default(),
                _ => self.offers(active[0].reservation.event_id, &active, now).await?,
            };
            // 2n items, a ticket per paid seat, the refund, its notice and an admin's audit row of
            // it: 33 for the largest booking; the offers add at most 50 (10 seats, and for each of at most 10 offers its
            // booking and mail; the updates of at most `WAITLIST_LOOKAHEAD` entries): within
            // `TRANSACT_MAX_ITEMS` (100).
            let mut writes: Vec<TransactWriteItem> = Vec::new();
            for r in &active {
                let read_status = s(r.stored_status.as_str());
                writes.push(TxItem::update(
                    &self.table,
                    reservation_key(r.reservation.id),
                    "SET #st = :canceled",
                    Some("#st = :st AND #exp = :exp"),
                    vec![
                        (":canceled", s(ReservationStatus::Canceled.as_str())),
                        (":st", read_status.clone()),
                        (":exp", n(r.expires_ms)),
                    ],
                )?);
                let spk = spks.get(&r.reservation.id).ok_or_else(|| corrupt("reservation", "no seat partition"))?;
                let freed_to = offers.seats.get(&r.reservation.seat_id);
                let read = vec![(":rid", s(r.reservation.id.to_string())), (":st", read_status)];
                let state = Self::seat_state_of(r, spk);
                let condition = "#rid = :rid AND #st = :st";
                writes.push(seat_freed(&self.table, state, ReservationStatus::Canceled, condition, read, freed_to)?);
            }
            writes.extend(offers.writes);
            // A paid seat's ticket is revoked with it (found on the reservation, not read): a
            // gate that scans it from now on is told so. Seats paid before tickets have none.
            for ticket_id in
                active.iter().filter(|r| r.stored_status == ReservationStatus::Confirmed).filter_map(|r| r.ticket_id)
            {
                writes.push(revoke_ticket(&self.table, ticket_id, now_ms)?);
            }
            let mut refunds = Vec::new();
            if let Some(payment) =
                payment.filter(|p| matches!(p.status, PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded))
            {
                // An earlier refund (a provider's webhook) may have given part of it back already.
                let refund_cents = cancel_refund(paid, payment.amount_cents, payment.refunded_cents);
                if refund_cents > 0 {
                    let (write, refund) = self.refund_write(&payment, refund_cents, now_ms)?;
                    writes.push(write);
                    // An admin's cancel: the refund's audit row is one more Put of the same transaction.
                    if let Some(actor) = actor {
                        let recorded = RecordedRefund {
                            payment_id: payment.id,
                            booking_id,
                            refunded_before: payment.refunded_cents,
                            refund_cents,
                            seats: active
                                .iter()
                                .filter(|r| r.reservation.status == ReservationStatus::Confirmed)
                                .map(|r| r.reservation.seat_id)
                                .collect(),
                        };
                        writes.push(audit_put(&self.table, &AuditRecord::payment_refunded(actor, &recorded, now))?);
                    }
                    if let Some(refund) = &refund {
                        let notice = canceled.notice(booking_id, refund);
                        writes.extend(event_puts(&self.table, Some(payment.user_id), &notice, now)?);
                        writes.push(message_put(&self.table, Some(payment.user_id), notice, now)?);
                    }
                    refunds.extend(refund);
                }
            }
            match self.transact(&mut budget, writes).await? {
                Ok(()) => {
                    let canceled_ids = active.iter().map(|r| r.reservation.id).collect();
                    return Ok(Some(Canceled { reservations, canceled_ids, booking, refunds }));
                }
                // A confirm, a checkout, the sweeper or another cancel got there first: decide again.
                Err(canceled) if canceled.any_condition_failed() => {}
                Err(_) => return Err(kept_conflicting("canceling")),
            }
        }
        Err(kept_conflicting("canceling"))
    }

    /// The write recording `refund_cents` more as refunded on `payment`, conditioned on the amount
    /// read, and the refund to pay out (none without a provider reference to refund against).
    pub(super) fn refund_write(
        &self,
        payment: &StoredPayment,
        refund_cents: i64,
        now_ms: i64,
    ) -> StoreResult<(TransactWriteItem, Option<Refund>)> {
        let refunded = payment.refunded_cents + refund_cents;
        let status =
            if refunded >= payment.amount_cents { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
        let write = TxItem::update(
            &self.table,
            payment_key(payment.id),
            "SET #refunded = :refunded, #st = :new_st, #updated = :now",
            Some("#st = :st AND #refunded = :old"),
            vec![
                (":refunded", n(refunded)),
                (":new_st", s(status.as_str())),
                (":now", n(now_ms)),
                (":st", s(payment.status.as_str())),
                (":old", n(payment.refunded_cents)),
            ],
        )?;
        let refund = payment.provider_ref.clone().map(|provider_ref| Refund {
            payment_id: payment.id,
            provider_ref,
            amount_cents: refund_cents,
        });
        Ok((write, refund))
    }

    /// Cancels every active seat of a canceled event, booking by booking (each booking's refund
    /// and an admin's audit row of it in that booking's transaction); the refunds owed.
    pub(super) async fn cancel_event_seats(
        &self,
        event_id: Uuid,
        shards: u32,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Vec<Refund>> {
        let bookings: BTreeSet<Uuid> = self
            .seat_states(event_id, shards)
            .await?
            .into_iter()
            .filter(|state| state.is_active(now))
            .map(|state| state.booking_id)
            .collect();
        let mut refunds = Vec::new();
        for booking_id in bookings {
            if let Some(done) = self.cancel_seats(booking_id, None, CanceledSeats::Event(event_id), now, actor).await? {
                refunds.extend(done.refunds);
            }
        }
        Ok(refunds)
    }
}

/// One held seat as its reservation item stores it: a hold's, or a waiting-list offer's (which
/// takes no hold slot: offers are outside the per-user limit).
pub(super) struct HeldSeat<'a> {
    pub rid: Uuid,
    pub booking_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub seat_id: Uuid,
    pub section: Option<&'a str>,
    pub row: &'a str,
    pub seat_number: i32,
    pub tier: &'a str,
    pub row_index: i64,
    /// The partition of the seat's state item.
    pub spk: String,
    /// The seat's ticket type.
    pub ticket_type: &'a str,
    pub price_cents: i64,
    pub currency: &'a str,
    pub expires_ms: i64,
    pub slot: Option<u32>,
    pub now_ms: i64,
}

impl HeldSeat<'_> {
    pub(super) fn reservation_item(&self) -> Item {
        let order =
            time_key(self.now_ms, &format!("{}#{:05}#{:05}", self.booking_id, self.row_index, self.seat_number));
        let mut item = reservation_key(self.rid);
        item.extend([
            ("id".to_owned(), s(self.rid.to_string())),
            ("bid".to_owned(), s(self.booking_id.to_string())),
            ("uid".to_owned(), s(self.user_id.to_string())),
            ("eid".to_owned(), s(self.event_id.to_string())),
            ("seat_id".to_owned(), s(self.seat_id.to_string())),
            ("spk".to_owned(), s(&self.spk)),
            ("row".to_owned(), s(self.row)),
            ("num".to_owned(), n(i64::from(self.seat_number))),
            ("ridx".to_owned(), n(self.row_index)),
            ("tier".to_owned(), s(self.tier)),
            ("ttype".to_owned(), s(self.ticket_type)),
            ("price".to_owned(), n(self.price_cents)),
            ("currency".to_owned(), s(self.currency)),
            ("st".to_owned(), s(ReservationStatus::Held.as_str())),
            ("exp".to_owned(), n(self.expires_ms)),
            ("created".to_owned(), n(self.now_ms)),
            ("gsi1pk".to_owned(), s(user_reservations_pk(self.user_id))),
            ("gsi1sk".to_owned(), s(order.clone())),
            ("gsi2pk".to_owned(), s(event_reservations_pk(self.event_id))),
            ("gsi2sk".to_owned(), s(order)),
        ]);
        if let Some(slot) = self.slot {
            item.insert("slot".to_owned(), n(i64::from(slot)));
        }
        if let Some(section) = self.section {
            item.insert("sect".to_owned(), s(section));
        }
        item
    }
}

/// A seat-state item's attributes while `rid` of `booking_id` holds it until `expires_ms`, with
/// its entry in the sweeper's index of held seats.
pub(super) fn held_state(rid: Uuid, booking_id: Uuid, expires_ms: i64) -> [(String, AttributeValue); 6] {
    [
        ("rid".to_owned(), s(rid.to_string())),
        ("bid".to_owned(), s(booking_id.to_string())),
        ("st".to_owned(), s(ReservationStatus::Held.as_str())),
        ("exp".to_owned(), n(expires_ms)),
        ("gsi1pk".to_owned(), s(held_index_pk(rid))),
        ("gsi1sk".to_owned(), s(time_key(expires_ms, &rid.to_string()))),
    ]
}

/// The write of a seat state when its reservation ends (`end`: canceled or expired), conditioned on
/// that reservation still having it as read (`condition` over the `read` values): the seat goes
/// to its waiting-list offer (`freed_to`), or is free.
pub(super) fn seat_freed(
    table: &str,
    state: Item,
    end: ReservationStatus,
    condition: &str,
    read: Values,
    freed_to: Option<&OfferedSeat>,
) -> StoreResult<TransactWriteItem> {
    let mut values = read;
    match freed_to {
        None => {
            values.push((":end", s(end.as_str())));
            TxItem::update(table, state, "SET #st = :end REMOVE #gsi1pk, #gsi1sk", Some(condition), values)
        }
        Some(offer) => {
            let [rid, bid, held, exp, hpk, hsk] = held_state(offer.rid, offer.booking_id, offer.expires_ms);
            values.extend([(":nrid", rid.1), (":nbid", bid.1), (":held", held.1), (":nexp", exp.1)]);
            values.extend([(":hpk", hpk.1), (":hsk", hsk.1)]);
            TxItem::update(
                table,
                state,
                "SET #st = :held, #rid = :nrid, #bid = :nbid, #exp = :nexp, #gsi1pk = :hpk, #gsi1sk = :hsk",
                Some(condition),
                values,
            )
        }
    }
}

/// A booking item naming its reservations.
pub(super) fn booking_item(booking_id: Uuid, user_id: Uuid, event_id: Uuid, now_ms: i64, rids: &[Uuid]) -> Item {
    let mut booking = booking_key(booking_id);
    booking.extend([
        ("id".to_owned(), s(booking_id.to_string())),
        ("uid".to_owned(), s(user_id.to_string())),
        ("eid".to_owned(), s(event_id.to_string())),
        ("created".to_owned(), n(now_ms)),
        ("rids".to_owned(), AttributeValue::L(rids.iter().map(|rid| s(rid.to_string())).collect())),
    ]);
    booking
}

/// A payment as stored, with what a refund needs.
pub(super) struct StoredPayment {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: PaymentStatus,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub provider_ref: Option<String>,
}

pub(super) fn stored_payment_from(item: &Item) -> StoreResult<StoredPayment> {
    let payment: Payment = super::items::payment_from(item)?;
    Ok(StoredPayment {
        id: payment.id,
        user_id: payment.user_id,
        status: payment.status,
        amount_cents: payment.amount_cents,
        refunded_cents: payment.refunded_cents,
        provider_ref: opt_s(item, "provider_ref"),
    })
}

/// Each reservation's seat-state partition, stored on the reservation.
pub(super) fn seat_partitions(reservations: &[StoredReservation]) -> HashMap<Uuid, String> {
    reservations.iter().filter_map(|r| r.spk.clone().map(|spk| (r.reservation.id, spk))).collect()
}

pub(super) fn kept_conflicting(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what} kept meeting concurrent writes; try again"))
}

/// `SeatsUnavailable` naming `lost`, row by row.
fn seats_unavailable(mut lost: Vec<&Wanted>) -> StoreError {
    lost.sort_by_key(|w| (w.seat.row_index, w.seat.seat.seat_number));
    StoreError::SeatsUnavailable(
        lost.into_iter()
            .map(|w| SeatLabel {
                section: w.seat.seat.section.clone(),
                row: w.seat.seat.row.clone(),
                seat_number: w.seat.seat.seat_number,
                tier: w.seat.seat.tier.clone(),
            })
            .collect(),
    )
}

/// A seat that a hold asks for, as its venue lists it.
struct Wanted {
    seat: VenueSeat,
    price_cents: i64,
    ticket_type: String,
    shard: u32,
}

#[async_trait]
impl HoldStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Booking> {
        let now_ms = ms(now);
        let expires_ms = now_ms + request.ttl.duration().num_milliseconds();
        let (event_id, booking_id) = (request.event_id, request.booking_id);
        let _turn = self.holder_turns.take(event_id, request.user_id).await;
        // Bounds the retries below (a gate that changed, a transaction met in flight) in time.
        let mut budget = Budget::new();
        loop {
            // One read for the event, the seats by id and their current states (under the shard
            // count new events get; an older event's states are only used for tidying anyway),
            // and the user's hold slots for the event.
            let ids = request.seats.ids();
            let mut keys = vec![event_key(event_id), hold_slots_key(event_id, request.user_id)];
            keys.extend(ids.iter().map(|id| seat_key(*id)));
            keys.extend(ids.iter().map(|id| seat_state_key(event_id, *id, SEAT_SHARDS)));
            let found = self.batch_get(keys).await?;
            let mut stored = None;
            let mut slots = HoldSlots::default();
            let mut seats: HashMap<Uuid, VenueSeat> = HashMap::new();
            let mut states: HashMap<Uuid, SeatStateItem> = HashMap::new();
            for item in &found {
                if is_sk(item, "EVENT") {
                    stored = Some(event_from(item)?);
                } else if is_sk(item, "SLOTS") {
                    slots = HoldSlots::from_item(item)?;
                } else if is_sk(item, "SEAT") {
                    let seat = venue_seat_from(item)?;
                    seats.insert(seat.seat.id, seat);
                } else {
                    let state = SeatStateItem::from_item(item)?;
                    states.insert(state.seat_id, state);
                }
            }
            let Some(stored) = stored else {
                return Err(StoreError::NotFound(Entity::Event));
            };
            let event = &stored.event;
            if event.status == EventStatus::Canceled {
                return Err(StoreError::event_canceled());
            }
            if event.start_time <= now {
                return Err(StoreError::event_started());
            }
            // Seen in this read, the refusal needs no write; the gate's condition below decides
            // it all the same when the opening moved later since.
            if let Some(on_sale_at) = event.on_sale_at.filter(|opens| *opens > now && !request.presale) {
                return Err(StoreError::NotOnSale { on_sale_at });
            }
            if event.queue.is_some_and(|queue| queue.enabled) && !request.admitted {
                return Err(StoreError::QueueRequired);
            }
            let mut wanted = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(seat) = seats.remove(id).filter(|seat| seat.venue_id == event.venue_id) else {
                    return Err(StoreError::seat_not_in_venue(*id));
                };
                // The seat's ticket type and that type's price for its tier (`rules::typed_price`).
                let (ticket_type, price_cents, _) = typed_price(
                    &event.ticket_types,
                    request.seats.ticket_type(*id),
                    &request.unlocked_types,
                    *id,
                    &seat.seat.tier,
                )?;
                wanted.push(Wanted { seat, price_cents, ticket_type, shard: seat_shard(*id, stored.shards) });
            }
            // Accessible seating: a hold that may not take held-back seats is refused when this read
            // shows them held back, and otherwise conditioned on the gate's release instant below
            // (a PATCH of the hours or the start moves it on every gate in one step).
            let attributes: Vec<&[SeatAttribute]> = wanted.iter().map(|w| w.seat.seat.attributes.as_slice()).collect();
            let guarded = !may_hold_held_back(&attributes, request.accessible);
            if guarded {
                let labels: Vec<SeatLabel> = wanted.iter().map(|w| seat_label_of(&w.seat.seat)).collect();
                let kinds: Vec<(&SeatLabel, &[SeatAttribute])> =
                    labels.iter().zip(&attributes).map(|(label, a)| (label, *a)).collect();
                if let Some(refusal) =
                    held_back_refusal(&kinds, request.accessible, event.start_time, event.accessible_release_hours, now)
                {
                    return Err(StoreError::HeldBack(refusal));
                }
            }

            // A limit seen reached in this strongly consistent read is refused without a write,
            // before any seat is judged (as on every backend): the conditions below would refuse
            // the slots the same way. Only the conditional write ever grants a slot.
            let Some(claims) = self.free_slots(&slots, request, now).await? else {
                return Err(StoreError::HoldLimitReached { limit: request.limit.seats() });
            };
            // A quota seen reached in the same kind of read is refused without a write too; only the
            // conditional puts of the type slots below ever grant one (`type_slots.rs`).
            let seat_types: Vec<String> = wanted.iter().map(|w| w.ticket_type.clone()).collect();
            let type_claims = self.free_type_slots(event_id, &event.ticket_types, &seat_types, now).await?;

            // A seat seen taken in this strongly consistent read (held and not lapsed, or sold) is
            // lost already: the condition below would refuse it the same way, so the buyer hears
            // it without a write. Only the conditional write ever grants a seat. (States are read
            // under today's shard count; an older event's are not trusted for this.)
            if stored.shards == SEAT_SHARDS {
                let taken: Vec<&Wanted> = wanted
                    .iter()
                    .filter(|w| states.get(&w.seat.seat.id).is_some_and(|state| state.is_active(now)))
                    .collect();
                if !taken.is_empty() {
                    return Err(seats_unavailable(taken));
                }
            }

            let mut reservations = Vec::with_capacity(wanted.len());
            let mut seat_writes = Vec::with_capacity(wanted.len());
            let mut reservation_writes = Vec::with_capacity(wanted.len());
            for (w, (slot, _)) in wanted.iter().zip(&claims) {
                let rid = Uuid::new_v4();
                let spk = seat_state_pk(event_id, w.shard);
                let mut state = key(spk.clone(), &format!("SEAT#{}", w.seat.seat.id));
                state.extend([("seat_id".to_owned(), s(w.seat.seat.id.to_string()))]);
                state.extend(held_state(rid, booking_id, expires_ms));
                seat_writes.push(TxItem::put(&self.table, state, Some(SEAT_IS_FREE), status_values(now_ms))?);

                let item = HeldSeat {
                    rid,
                    booking_id,
                    user_id: request.user_id,
                    event_id,
                    seat_id: w.seat.seat.id,
                    section: w.seat.seat.section.as_deref(),
                    row: &w.seat.seat.row,
                    seat_number: w.seat.seat.seat_number,
                    tier: &w.seat.seat.tier,
                    row_index: w.seat.row_index,
                    spk,
                    ticket_type: &w.ticket_type,
                    price_cents: w.price_cents,
                    currency: &event.currency,
                    expires_ms,
                    slot: Some(*slot),
                    now_ms,
                }
                .reservation_item();
                reservations.push(reservation_from(&item, now)?);
                reservation_writes.push(TxItem::put(&self.table, item, Some("attribute_not_exists(pk)"), vec![])?);
            }
            let rids: Vec<Uuid> = reservations.iter().map(|r| r.reservation.id).collect();
            let booking = booking_item(booking_id, request.user_id, event_id, now_ms, &rids);
            // One gate is enough (a cancel or a reschedule moves them all in one step); the first
            // seat's spreads the checks over the event's partitions like the seats themselves.
            let gate = wanted.first().map_or(0, |w| w.shard);
            let (gate_index, slots_index) = (2 * wanted.len() + 1, 2 * wanted.len() + 2);
            // 2n + 3 items, 23 for the largest booking: well within `TRANSACT_MAX_ITEMS` (100).
            let mut writes = seat_writes;
            writes.extend(reservation_writes);
            writes.push(TxItem::put(&self.table, booking.clone(), Some("attribute_not_exists(pk)"), vec![])?);
            let mut gate_open = match (request.admitted, request.presale) {
                (true, false) => GATE_OPEN,
                (false, false) => GATE_OPEN_WITHOUT_QUEUE,
                (true, true) => GATE_PRESALE,
                (false, true) => GATE_PRESALE_WITHOUT_QUEUE,
            }
            .to_owned();
            if guarded {
                gate_open.push_str(GATE_RELEASED);
            }
            writes.push(TxItem::check(
                &self.table,
                gate_key(event_id, gate),
                &gate_open,
                vec![(":on_sale", s(EventStatus::OnSale.as_str())), (":now", n(now_ms))],
            )?);
            let holders: Vec<Uuid> = reservations.iter().map(|r| r.reservation.id).collect();
            writes.push(claim_slots(
                &self.table,
                hold_slots_key(event_id, request.user_id),
                &claims,
                &holders,
                expires_ms,
                now_ms,
            )?);
            // The type slots, one per seat of a quota'd type, after every other write.
            for (claim, rid) in type_claims.iter().zip(&holders) {
                if let Some(claim) = claim {
                    writes.push(claim.write(&self.table, event_id, *rid)?);
                }
            }
            let type_slots_from = slots_index + 1;

            match self.transact_once(&writes).await? {
                Tx::Committed => {
                    self.expire_superseded(&states, now_ms).await;
                    return booking_from(&booking, reservations)?
                        .ok_or_else(|| StoreError::Internal("a hold placed no reservations".into()));
                }
                // The event closed, moved or opened later since it was read, or another hold of the user took one
                // of the slots read free: read again and decide again (the limit, then the seats).
                // Or another hold took a type slot read free: read again (the quota, then the seats).
                Tx::Refused(canceled)
                    if canceled.condition_failed(gate_index)
                        || canceled.condition_failed(slots_index)
                        || (type_slots_from..writes.len()).any(|i| canceled.condition_failed(i)) =>
                {
                    budget.pause("the hold").await?
                }
                Tx::Refused(canceled) => {
                    let lost: Vec<&Wanted> = wanted
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| canceled.condition_failed(*i))
                        .map(|(_, w)| w)
                        .collect();
                    if !lost.is_empty() {
                        return Err(seats_unavailable(lost));
                    }
                    if canceled.condition_failed(2 * wanted.len()) {
                        return Err(StoreError::Internal(format!("booking id {booking_id} is already used")));
                    }
                    return Err(StoreError::Internal(format!("a hold was refused: {canceled:?}")));
                }
                // Another transaction was in flight on one of these items (another buyer's hold of
                // the same seat, most likely), or throttling: nothing was written. After a short
                // random pause the read above runs again: a seat the other buyer got is lost (409),
                // a seat still free is tried again; past the budget, `Unavailable` (503).
                Tx::Busy(why) => budget.pause(&format!("the hold ({why})")).await?,
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>> {
        let item = self.get(reservation_key(id)).await?;
        item.map(|item| reservation_from(&item, now).map(|r| r.reservation)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
        match self.booking_with_seats(id, now).await? {
            Some((item, seats)) => booking_from(&item, seats),
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_reservations(&self, filter: &ReservationFilter, now: DateTime<Utc>) -> StoreResult<Vec<Reservation>> {
        let items = if let Some(user_id) = filter.user_id {
            self.query_all(Query::gsi1(&user_reservations_pk(user_id))).await?
        } else if let Some(event_id) = filter.event_id {
            self.query_all(Query::gsi2(&event_reservations_pk(event_id))).await?
        } else {
            // Oversight of everything: event by event (the events index lists every one).
            let mut all = Vec::new();
            for event in self.query_all(Query::gsi1("EVENTS")).await? {
                let event_id = get_uuid(&event, "id")?;
                all.extend(self.query_all(Query::gsi2(&event_reservations_pk(event_id))).await?);
            }
            all
        };
        let mut rows = items.iter().map(|item| reservation_from(item, now)).collect::<StoreResult<Vec<_>>>()?;
        rows.retain(|r| {
            let r = &r.reservation;
            filter.event_id.is_none_or(|e| r.event_id == e) && filter.status.is_none_or(|s| r.status == s)
        });
        sort_reservations(&mut rows);
        Ok(paged(rows, filter.page).into_iter().map(|r| r.reservation).collect())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_reservation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Reservation>> {
        let Some(item) = self.get(reservation_key(id)).await? else {
            return Err(StoreError::NotFound(Entity::Reservation));
        };
        let booking_id = get_uuid(&item, "bid")?;
        match self.cancel_seats(booking_id, Some(id), CanceledSeats::Seat(id), now, actor).await? {
            Some(done) => {
                let mut reservation = done
                    .reservations
                    .into_iter()
                    .find(|r| r.reservation.id == id)
                    .map(|r| r.reservation)
                    .ok_or(StoreError::NotFound(Entity::Reservation))?;
                reservation.status = ReservationStatus::Canceled;
                Ok(Cancellation { canceled: reservation, refunds: done.refunds })
            }
            None => {
                let current = reservation_from(
                    &self.get(reservation_key(id)).await?.ok_or(StoreError::NotFound(Entity::Reservation))?,
                    now,
                )?;
                Err(StoreError::reservation_not_active(current.reservation.status))
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_booking(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Booking>> {
        let Some(mut done) = self.cancel_seats(id, None, CanceledSeats::Booking, now, actor).await? else {
            return Err(StoreError::no_active_seats_left());
        };
        for r in &mut done.reservations {
            if done.canceled_ids.contains(&r.reservation.id) {
                r.reservation.status = ReservationStatus::Canceled;
            }
        }
        let booking = booking_from(&done.booking, done.reservations)?.ok_or(StoreError::NotFound(Entity::Booking))?;
        Ok(Cancellation { canceled: booking, refunds: done.refunds })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn extend_hold(&self, id: Uuid, extension: HoldExtension, now: DateTime<Utc>) -> StoreResult<Booking> {
        self.extend_booking_hold(id, extension, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.sweep_lapsed_holds(now).await
    }
}

impl DynamoStore {
    /// After a hold took over seats whose earlier holds had lapsed, writes those earlier
    /// reservations down as `expired` (they already read so). Best effort and conditional: it can
    /// only turn a lapsed `held` record `expired`, which no reader can tell apart.
    async fn expire_superseded(&self, states: &HashMap<Uuid, SeatStateItem>, now_ms: i64) {
        for state in states.values() {
            if state.status != ReservationStatus::Held || state.expires_ms > now_ms {
                continue;
            }
            let update = "SET #st = :expired";
            let condition = "#st = :held AND #exp <= :now";
            let values = vec![
                (":expired", s(ReservationStatus::Expired.as_str())),
                (":held", s(ReservationStatus::Held.as_str())),
                (":now", n(now_ms)),
            ];
            let key = reservation_key(state.reservation_id);
            // Best effort: what is not written now (no turn to send it, a transaction in flight)
            // is left to the sweeper.
            if let Err(err) = self.update_if(key, update, condition, values, Returned::Nothing).await {
                tracing::warn!(error = %err, "could not write down a superseded hold as expired");
                return;
            }
        }
    }
}

/// A venue seat's label, as a refusal names it.
fn seat_label_of(seat: &crate::domain::Seat) -> SeatLabel {
    SeatLabel {
        section: seat.section.clone(),
        row: seat.row.clone(),
        seat_number: seat.seat_number,
        tier: seat.tier.clone(),
    }
}
